#!/usr/bin/env bash
# Load figures for the task API on SQLite: starts a release `errand serve` on a free
# port with a throwaway data dir, signs up a user, then runs wrk (installed from
# Debian packages when missing) with 50 connections against POST and GET /api/v1/tasks.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
bin="${CARGO_TARGET_DIR:-target}/release/errand"
[ -x "$bin" ] || cargo build --release --locked --bin errand

dir=$(mktemp -d /tmp/errand-load.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
RUST_LOG=warn "$bin" serve --listen "127.0.0.1:$port" --data-dir "$dir" >"$dir/out.log" 2>"$dir/err.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done

base="http://127.0.0.1:$port/api/v1"
token=$(curl -sf -X POST "$base/auth/signup" -H 'content-type: application/json' \
  -d '{"email":"load@example.com","password":"load test password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

cat >"$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"title":"load task %d","priority":"high","tags":["load","t%d"],"due_at":"2030-01-%02dT10:00:00Z"}', counter, counter % 20, counter % 28 + 1)
  return wrk.format(nil, nil, nil, body)
end
LUA
cat >"$dir/get.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
LUA
cat >"$dir/report.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("requests/s %.0f  p50 %.2f ms  p99 %.2f ms  errors %d  non-2xx %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status))
end
LUA
for f in post get; do cat "$dir/report.lua" >>"$dir/$f.lua"; done

duration="${LOAD_SECONDS:-10}"
echo "POST /api/v1/tasks (50 connections, ${duration}s):"
wrk -t2 -c50 -d"${duration}s" -s "$dir/post.lua" "$base/tasks" | tail -1
echo "GET /api/v1/tasks?limit=50&sort=due (50 connections, ${duration}s, $(curl -s -H "Authorization: Bearer $token" "$base/tasks?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])') tasks):"
wrk -t2 -c50 -d"${duration}s" -s "$dir/get.lua" "$base/tasks?limit=50&sort=due" | tail -1
