#!/usr/bin/env bash
# The web UI benchmark (DESIGN §7): the first load's size, and how long after
# navigation a view's first page of tasks is on screen with 10,000 tasks
# (BENCH_UI_TASKS), measured in Chromium with the Performance API.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/build-ui.sh"
# The release binary, as users run it (it embeds the UI just built).
if [[ -z "${ERRAND_BIN:-}" ]]; then
  (cd "$ROOT" && cargo build --release --locked --bin errand)
  export ERRAND_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/errand"
fi
cd "$ROOT/frontend"
node e2e/bench.mjs
