#!/usr/bin/env bash
# Builds the web UI into frontend/dist, which the release binary embeds: `npm ci`
# when frontend/node_modules does not match package-lock.json (npm's registry only),
# then the type check, the Vite build and the bundle-size check.
set -euo pipefail
cd "$(dirname "$0")/../frontend"
export NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
stamp=node_modules/.errand-lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi
npm run --silent build
