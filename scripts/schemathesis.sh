#!/usr/bin/env bash
# The whole HTTP API under schemathesis (PyPI), driven by the served OpenAPI
# document: every operation, with valid and invalid data, authenticated as a real
# user (the instance's admin), every check. Starts the debug `errand serve` that
# `cargo test` built on a free port with a fresh data dir; schemathesis lives in a
# virtualenv under ~/.cache/errand. SCHEMATHESIS_EXAMPLES sets the cases per
# operation (default 100).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=4.32.5
venv="${XDG_CACHE_HOME:-$HOME/.cache}/errand/schemathesis-$VERSION"
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "schemathesis: installing $VERSION into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$VERSION"
fi
bin="${CARGO_TARGET_DIR:-target}/debug/errand"
[ -x "$bin" ] || cargo build --locked --bin errand

dir=$(mktemp -d /tmp/errand-schemathesis.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
# Generous limits: schemathesis signs up and logs in far more often than a person.
ERRAND_AUTH_ATTEMPTS_PER_MINUTE=1000000 ERRAND_ACCOUNT_ATTEMPTS_PER_MINUTE=1000000 ERRAND_CHAT_PER_MINUTE=1000000 \
  RUST_LOG=warn ERRAND_LOG_FORMAT=json "$bin" serve --listen "127.0.0.1:$port" --data-dir "$dir" >"$dir/out.log" 2>"$dir/err.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done
token=$(curl -sf -X POST "$base/api/v1/auth/signup" -H 'content-type: application/json' \
  -d '{"email":"schemathesis@example.com","password":"schemathesis password"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
# Something for the id paths to find.
curl -sf -X POST "$base/api/v1/tasks" -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"title":"a task","due":"tomorrow 9am","recurrence":{"text":"every monday"},"reminders":[{"before_due_minutes":30}]}' >/dev/null
curl -sf -X POST "$base/api/v1/filters" -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"name":"Work today","query":"(today | overdue) & @work"}' >/dev/null

# Left out: logout (it would end the session every other case uses) and the live
# streams of notifications and of workflow changes (they never end, so each case would
# wait out the request timeout; their behaviour has tests of their own).
# From the scratch directory: schemathesis keeps a cache of what it found there.
config="$PWD/scripts/schemathesis.toml"
cd "$dir"
"$venv/bin/schemathesis" --config-file "$config" run "$base/api/v1/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks all \
  --exclude-path /api/v1/auth/logout \
  --exclude-path /api/v1/notifications/stream \
  --exclude-path /api/v1/ops/workflows/stream \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-100}" \
  --workers 1 --seed 20261201 --generation-database none \
  --request-timeout 20 --no-color \
  --report junit --report-dir "$dir/report" "$@"
