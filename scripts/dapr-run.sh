#!/usr/bin/env bash
# Errand on a local Dapr environment (`make dapr-up` / `make dapr-down`):
#   scripts/dapr-run.sh up     Kafka, Redis, placement, scheduler (scripts/dapr-env.sh), then
#                              `errand serve --runtime dapr` on http://localhost:8080 and the
#                              audit, notification and workflow-trigger consumers, each an
#                              app with its own daprd
#   scripts/dapr-run.sh down   stops all of it
# Data (SQLite, shared by the four apps) and logs go to $ERRAND_DAPR_DIR (default
# ./data-dapr); the release binary comes from `make build`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR="${ERRAND_DAPR_DIR:-$ROOT/data-dapr}"
BIN="${ERRAND_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/errand}"
ENV_DIR="${DAPR_ENV_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/errand/dapr-env}"
# app id, app port, daprd HTTP, gRPC and internal gRPC ports
APPS=("errand 8080 3500 50001 50002" "errand-audit 8081 3510 50011 50012"
  "errand-notification 8082 3520 50021 50022" "errand-workflow-trigger 8083 3530 50031 50032")

say() { echo "dapr-run: $*" >&2; }

stop_pid() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

up() {
  [ -x "$BIN" ] || { say "no $BIN: run make build"; exit 1; }
  DAPR_ENV_DIR="$ENV_DIR" "$ROOT/scripts/dapr-env.sh" up
  set -a
  # shellcheck disable=SC1091 # written by dapr-env.sh up
  . "$ENV_DIR/env"
  set +a
  mkdir -p "$DIR/logs" "$DIR/run"
  # Every process signs and checks the same tokens (the trigger calls the API with
  # them): each reads the token secret from the Dapr secret store (the environment's
  # secrets.json, written by dapr-env.sh).
  export ERRAND_DAPR_SECRET_STORE=secretstore
  local app id port http grpc internal
  for app in "${APPS[@]}"; do
    read -r id port http grpc internal <<<"$app"
    [ -f "$DIR/run/$id.pid" ] && kill -0 "$(cat "$DIR/run/$id.pid")" 2>/dev/null && continue
    local role=(serve --runtime dapr)
    [ "$id" != errand ] && role=(consumer "${id#errand-}")
    DAPR_HTTP_PORT=$http DAPR_GRPC_PORT=$grpc "$BIN" "${role[@]}" --listen "127.0.0.1:$port" \
      --data-dir "$DIR" >"$DIR/logs/$id.log" 2>&1 &
    echo $! >"$DIR/run/$id.pid"
    # shellcheck disable=SC2086 # DAPRD_ARGS is a list of flags
    "$DAPR_DAPRD" --app-id "$id" --app-port "$port" --dapr-http-port "$http" --dapr-grpc-port "$grpc" \
      --dapr-internal-grpc-port "$internal" $DAPRD_ARGS >"$DIR/logs/daprd-$id.log" 2>&1 &
    echo $! >"$DIR/run/daprd-$id.pid"
  done
  for _ in $(seq 150); do
    curl -sf http://127.0.0.1:8080/readyz >/dev/null && { say "Errand on Dapr: http://localhost:8080 (logs in $DIR/logs)"; return 0; }
    sleep 0.2
  done
  say "Errand did not become ready; see $DIR/logs"
  exit 1
}

down() {
  local app id
  # The apps first: daprd waits for a connected workflow worker before it exits.
  for app in "${APPS[@]}"; do read -r id _ <<<"$app"; stop_pid "$DIR/run/$id.pid"; done
  for app in "${APPS[@]}"; do read -r id _ <<<"$app"; stop_pid "$DIR/run/daprd-$id.pid"; done
  DAPR_ENV_DIR="$ENV_DIR" "$ROOT/scripts/dapr-env.sh" down
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
