#!/usr/bin/env bash
# `make test`: installs what the tests need when it is missing, then runs every test.
# Rust tests run once, with a throwaway PostgreSQL cluster so the store behaviour
# suite and the end-to-end tests run on both SQLite and PostgreSQL, and with the
# durabletask-go sidecar so the workflow suite also runs against Dapr's own engine, and
# with daprd 1.16, Kafka and Redis for the Dapr runtime's suite, and with Jaeger and
# promtool for the observability suite;
# then schemathesis over the whole API, the web UI's tests (Vitest and the browser
# suite in Chromium), and every benchmark once on tiny data.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check || { echo "test: run 'make fmt' to format the code" >&2; exit 1; }
cargo clippy --workspace --all-targets --locked -- -D warnings

DURABLETASK_GO_BIN=$(scripts/durabletask-go.sh)
export DURABLETASK_GO_BIN
# The real Dapr parts (daprd, placement, scheduler, Kafka, Redis) for api/tests/dapr.rs,
# which starts an environment of its own for each test with scripts/dapr-env.sh.
set -a
eval "$(scripts/dapr-tools.sh)"
# Jaeger and promtool for api/tests/observability.rs (traces, alert rules).
eval "$(scripts/observability-tools.sh)"
set +a

if cargo nextest --version >/dev/null 2>&1; then
  runner=(cargo nextest run --workspace --locked --no-fail-fast)
else
  runner=(cargo test --workspace --locked --no-fail-fast)
fi
scripts/with-postgres.sh "${runner[@]}"

# The whole HTTP API under schemathesis, from the served OpenAPI document.
scripts/schemathesis.sh

# The web UI: its unit tests, its API types, the browser suite against the debug binary.
scripts/ui-test.sh

# Benchmarks that nothing runs rot: run each once on tiny data, one second per level.
echo "test: every benchmark once, on tiny data (BENCH_SMOKE)" >&2
BENCH_SMOKE=1 scripts/with-postgres.sh cargo test --locked --benches -p errand-api -p errand-consumers
BENCH_UI_TASKS=200 BENCH_UI_RUNS=1 ERRAND_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/errand" scripts/ui-bench.sh
