#!/usr/bin/env bash
# The web UI's tests: install and build (scripts/build-ui.sh: type check, Vite, the
# first-load size budget), Vitest, the API types against the served OpenAPI document,
# then the browser suite in Debian's Chromium against the real `errand serve` on a free
# port with a fresh data directory. Screenshots land in frontend/screenshots/.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

export ERRAND_BIN="${ERRAND_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/errand}"
if [[ ! -x "$ERRAND_BIN" ]]; then
  echo "ui-test: building $ERRAND_BIN"
  (cd "$ROOT" && cargo build --locked --bin errand)
fi

echo "ui-test: build"
"$ROOT/scripts/build-ui.sh"
cd "$ROOT/frontend"

echo "ui-test: unit tests"
npm test --silent

echo "ui-test: API types"
npm run --silent api:check

if [[ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]]; then
  echo "ui-test: installing Debian's chromium"
  SUDO=""
  [[ "$(id -u)" -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi

echo "ui-test: browser suite"
node --test --test-reporter=spec e2e/
