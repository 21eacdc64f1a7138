#!/usr/bin/env bash
# Provides the observability tools the tests use, cached under ~/.cache/errand keyed by
# version, and prints where they are as KEY=VALUE lines (`eval "$(scripts/observability-tools.sh)"`):
#   JAEGER_BIN    Jaeger v2 (v1.76.0), in memory on loopback: OTLP in, the query API out
#   PROMTOOL_BIN  Prometheus' promtool (v0.316.0): checks and unit-tests the alert rules
# Both are built from the Go module proxy in a throwaway module (scripts/go-build.sh).
# A cold first run takes about 10 minutes on two cores (Jaeger's module graph is big);
# later runs only check that the files are there. Progress goes to stderr.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE="${ERRAND_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/errand}"

JAEGER_VERSION=v1.76.0
PROMETHEUS_VERSION=v0.316.0

say() { echo "observability-tools: $*" >&2; }
die() { say "$*"; exit 1; }
# shellcheck source=scripts/go-build.sh
. "$ROOT/scripts/go-build.sh"

JAEGER="$CACHE/jaeger-$JAEGER_VERSION/jaeger"
PROMTOOL="$CACHE/promtool-$PROMETHEUS_VERSION/promtool"

mkdir -p "$CACHE"
# One installer at a time: a second caller waits, then finds everything in place.
exec 9>"$CACHE/.observability-tools.lock"
flock 9
[ -x "$PROMTOOL" ] || go_build "$PROMTOOL" "github.com/prometheus/prometheus@$PROMETHEUS_VERSION" \
  github.com/prometheus/prometheus/cmd/promtool
[ -x "$JAEGER" ] || go_build "$JAEGER" "github.com/jaegertracing/jaeger@$JAEGER_VERSION" \
  github.com/jaegertracing/jaeger/cmd/jaeger
echo "JAEGER_BIN=$JAEGER"
echo "PROMTOOL_BIN=$PROMTOOL"
