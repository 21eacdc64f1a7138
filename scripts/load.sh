#!/usr/bin/env bash
# Load figures for the HTTP API with wrk (installed from Debian packages when missing),
# against a release `errand serve` on a free port with a throwaway data dir:
#
# - the mixed multi-user scenario of DESIGN §7: 50 users with 40 tasks each;
#   20% POST /tasks, 20% GET /tasks?q=<word>, 60% GET /tasks?sort=-priority,due&limit=50,
#   each request as a random one of the users; at 50 and at 500 connections;
# - POST /tasks alone and GET /tasks alone (one user, 50 connections);
# - POST /tasks alone, untraced and traced to a local Jaeger in turn, and the cost of
#   tracing (when Jaeger is built: `make load` runs scripts/observability-tools.sh).
#
# On SQLite, and on PostgreSQL too when ERRAND_TEST_POSTGRES_URL is set (`make load`
# runs this under scripts/with-postgres.sh). LOAD_SECONDS sets each run's length
# (default 10); LOAD_BACKENDS=sqlite limits the backends.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
bin="${ERRAND_BIN:-${CARGO_TARGET_DIR:-target}/release/errand}"
[ -x "$bin" ] || cargo build --release --locked --bin errand
duration="${LOAD_SECONDS:-10}"
work=$(mktemp -d /tmp/errand-load.XXXXXX)
pid=""
stop_server() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi
}
trap 'stop_server; rm -rf "$work"' EXIT

# CPU seconds (user + system) process $1 has used so far.
cpu_seconds() {
  python3 -c "import os,sys; f=open('/proc/$1/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# Starts errand serve on database $1 with data dir $2 (and the environment in the
# array `server_env`); sets $base.
server_env=()
start_server() {
  local port
  port=$(free_port)
  # The load signs up 51 accounts from one address in a second: lift the sign-up throttle.
  env "${server_env[@]}" ERRAND_AUTH_ATTEMPTS_PER_MINUTE=100000 RUST_LOG=warn "$bin" serve --listen "127.0.0.1:$port" \
    --data-dir "$2" --database-url "$1" >"$2/out.log" 2>"$2/err.log" &
  pid=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "load: errand did not become ready" >&2; cat "$2/err.log" >&2; exit 1; }
  base="http://127.0.0.1:$port"
}

# Signs up $2 users (each with $3 tasks) on $base and writes their tokens to $1.
seed() {
  python3 - "$base" "$1" "$2" "$3" <<'PY'
import http.client, json, sys, urllib.parse
base, out, users, tasks = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
url = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(url.hostname, url.port)
words = ["invoice", "report", "groceries", "dentist", "budget", "review", "garden", "travel"]
def post(path, body, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = "Bearer " + token
    conn.request("POST", path, json.dumps(body), headers)
    res = conn.getresponse()
    data = res.read()
    if res.status >= 300:
        sys.exit(f"seed: {path} answered {res.status}: {data[:200]!r}")
    return json.loads(data)
tokens = []
for u in range(users):
    token = post("/api/v1/auth/signup", {"email": f"load{u}@example.com", "password": "load test password"})["token"]
    tokens.append(token)
    for t in range(tasks):
        post("/api/v1/tasks", {
            "title": f"{words[t % len(words)]} {words[(t * 3 + u) % len(words)]} {t}",
            "priority": ["none", "low", "medium", "high", "urgent"][t % 5],
            "tags": [words[t % 3]],
            "due_at": f"2030-01-{t % 28 + 1:02d}T10:00:00Z",
        }, token)
open(out, "w").write("\n".join(tokens) + "\n")
PY
}

cat >"$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("  requests/s %.0f  p50 %.2f ms  p99 %.2f ms  max %.2f ms  errors %d  non-2xx %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status))
end
LUA

cat >"$work/mixed.lua" <<'LUA'
-- Each request as a random user: 20% create, 20% search, 60% the sorted first page.
local tokens = {}
local words = {"invoice", "report", "groceries", "dentist", "budget", "review", "garden", "travel"}
local counter = 0
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
init = function(args)
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  math.randomseed(os.time() * 100 + thread_number)
end
request = function()
  counter = counter + 1
  local headers = { ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)] }
  local roll = math.random(100)
  if roll <= 20 then
    headers["Content-Type"] = "application/json"
    local body = string.format('{"title":"mixed %s %d","priority":"high","tags":["load"],"due_at":"2030-02-%02dT10:00:00Z"}',
      words[math.random(#words)], counter, counter % 28 + 1)
    return wrk.format("POST", "/api/v1/tasks", headers, body)
  elseif roll <= 40 then
    return wrk.format("GET", "/api/v1/tasks?q=" .. words[math.random(#words)], headers)
  else
    return wrk.format("GET", "/api/v1/tasks?sort=-priority,due&limit=50", headers)
  end
end
LUA
cat "$work/report.lua" >>"$work/mixed.lua"

# One backend: $1 is its name, $2 its database URL.
run_backend() {
  local name=$1 url=$2 dir="$work/$1"
  mkdir -p "$dir"
  start_server "$url" "$dir"
  seed "$dir/tokens" 50 40
  echo "$name: mixed load, 50 users x 40 tasks (20% POST, 20% search, 60% sorted page), ${duration}s each:"
  for connections in 50 500; do
    echo " $connections connections:"
    wrk -t2 -c"$connections" -d"${duration}s" --timeout 10s -s "$work/mixed.lua" "$base" -- "$dir/tokens" | tail -1
  done
  local token
  token=$(head -1 "$dir/tokens")
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
  printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$token" >"$dir/get.lua"
  for f in post get; do cat "$work/report.lua" >>"$dir/$f.lua"; done
  echo "$name: POST /api/v1/tasks alone (one user, 50 connections, ${duration}s):"
  wrk -t2 -c50 -d"${duration}s" -s "$dir/post.lua" "$base/api/v1/tasks" | tail -1
  echo "$name: GET /api/v1/tasks?limit=50&sort=due alone (the same user, 50 connections, ${duration}s):"
  wrk -t2 -c50 -d"${duration}s" -s "$dir/get.lua" "$base/api/v1/tasks?limit=50&sort=due" | tail -1
  stop_server
  traced_posts "$name" "$url" "$dir"
}

# The cost of tracing: POST /api/v1/tasks alone, untraced and then with every request
# traced (OTEL_TRACES_SAMPLER=always_on) to a local Jaeger, alternately three times
# each on the same database and data directory (the same user and token), so that a
# machine that slows down or speeds up weighs on both alike; the medians are compared.
# Skipped when Jaeger is not built (scripts/observability-tools.sh builds it).
traced_posts() {
  local name=$1 url=$2 dir="$work/$1-traced" jaeger_pid
  if [ -z "${JAEGER_BIN:-}" ]; then
    echo "$name: traced POST runs skipped (no Jaeger: JAEGER_BIN from scripts/observability-tools.sh)"
    return
  fi
  mkdir -p "$dir"
  local otlp query grpc round jaeger_cpu
  otlp=$(free_port); query=$(free_port); grpc=$(free_port)
  JAEGER_OTLP_PORT=$otlp JAEGER_QUERY_PORT=$query JAEGER_GRPC_PORT=$grpc \
    "$JAEGER_BIN" --config scripts/jaeger.yaml >/dev/null 2>"$dir/jaeger.log" &
  jaeger_pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$query/api/services" >/dev/null && break; sleep 0.1; done
  echo "$name: POST /api/v1/tasks alone, untraced and traced to Jaeger in turn (50 connections, ${duration}s each):"
  jaeger_cpu=$(cpu_seconds "$jaeger_pid")
  for round in 1 2 3; do
    for mode in untraced traced; do
      [ "$mode" = traced ] && server_env=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$otlp" OTEL_TRACES_SAMPLER=always_on)
      start_server "$url" "$work/$1"
      server_env=()
      printf '  %-8s' "$mode"
      wrk -t2 -c50 -d"${duration}s" -s "$work/$1/post.lua" "$base/api/v1/tasks" | tail -1 | tee -a "$dir/$mode"
      stop_server
    done
  done
  echo "  Jaeger, on the same cores, used $(python3 -c "print(f'{$(cpu_seconds "$jaeger_pid") - $jaeger_cpu:.1f}')") CPU seconds over the traced runs"
  kill "$jaeger_pid" 2>/dev/null || true; wait "$jaeger_pid" 2>/dev/null || true
  python3 - "$dir/untraced" "$dir/traced" "$name" <<'PY'
import re, statistics, sys
rates = lambda path: [float(r) for r in re.findall(r"requests/s (\d+)", open(path).read())]
untraced, traced = statistics.median(rates(sys.argv[1])), statistics.median(rates(sys.argv[2]))
print(f"{sys.argv[3]}: tracing at 100% costs {100 * (1 - traced / untraced):.1f}% of POST throughput "
      f"(medians {untraced:.0f} -> {traced:.0f} requests/s; target at most 10%)")
PY
}

backends="${LOAD_BACKENDS:-sqlite postgres}"
for backend in $backends; do
  case $backend in
    sqlite) run_backend sqlite "sqlite://$work/sqlite/errand.db" ;;
    postgres)
      if [ -z "${ERRAND_TEST_POSTGRES_URL:-}" ]; then
        echo "postgres: skipped (run under scripts/with-postgres.sh, as make load does)"
        continue
      fi
      db="errand_load_$$"
      psql "$ERRAND_TEST_POSTGRES_URL" -qc "CREATE DATABASE $db" >/dev/null
      run_backend postgres "${ERRAND_TEST_POSTGRES_URL%/*}/$db"
      ;;
    *) echo "load: unknown backend $backend" >&2; exit 2 ;;
  esac
done
