#!/usr/bin/env bash
# The web UI benchmark (DESIGN §7): the first load's size, and how long after
# navigation a view's first page of tasks is on screen with 10,000 tasks
# (BENCH_UI_TASKS), measured in Chromium with the Performance API.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT/frontend"
export ERRAND_BIN="${ERRAND_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/errand}"
[[ -x "$ERRAND_BIN" ]] || (cd "$ROOT" && cargo build --locked --bin errand)
[[ -d node_modules ]] || npm ci --no-audit --no-fund
npm run build
node e2e/bench.mjs
