#!/usr/bin/env bash
# A local Dapr environment on loopback for tests and developers:
#   scripts/dapr-env.sh up [SERVICE...]     start what is not running (all by default)
#   scripts/dapr-env.sh down [SERVICE...]   stop what this script started
#   scripts/dapr-env.sh status              what runs, where
# SERVICEs: kafka redis placement scheduler. The parts come from scripts/dapr-tools.sh.
# PostgreSQL is not here: scripts/with-postgres.sh provides it.
#
# Everything lives in one state directory ($DAPR_ENV_DIR, default
# ~/.cache/errand/dapr-env): data, logs, pid files, the dapr/ files rendered with the
# real addresses, and `env`, which tests and developers source
# (`set -a; . "$DAPR_ENV_DIR/env"; set +a`) to find the ports, the binaries and the
# rendered resources, and DAPRD_ARGS, the flags a daprd needs to join this environment
# and stay on loopback.
#
# Every server binds 127.0.0.1 only. Ports are chosen free on the first `up` and kept
# in the state directory, so a service restarted alone (fault tests: `down kafka`,
# `up kafka`) comes back where its clients expect it; the scheduler's embedded etcd
# also keeps its peer address in its data. They are taken below the kernel's ephemeral
# range, so an outgoing connection cannot hold one when a service restarts.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE="${DAPR_ENV_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/errand/dapr-env}"
SERVICES=(kafka redis placement scheduler)
PORT_NAMES=(KAFKA_PORT KAFKA_CONTROLLER_PORT REDIS_PORT PLACEMENT_PORT PLACEMENT_HEALTHZ_PORT
  PLACEMENT_RAFT_PORT SCHEDULER_PORT SCHEDULER_HEALTHZ_PORT SCHEDULER_ETCD_CLIENT_PORT
  SCHEDULER_ETCD_PEER_PORT)

say() { echo "dapr-env: $*" >&2; }
die() { say "$*"; exit 1; }

# --- processes ---------------------------------------------------------------------
# A pid file holds the pid and the process's start time: a pid reused by another
# process after a crash is not taken for ours (and never signalled).
start_time() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }
pid_of() {
  local file="$STATE/run/$1.pid" pid started
  [ -f "$file" ] || return 1
  read -r pid started <"$file" || return 1
  [ -n "$pid" ] && [ "$(start_time "$pid")" = "$started" ] || return 1
  echo "$pid"
}
running() { pid_of "$1" >/dev/null; }

# Starts a server in its own session (setsid), so it outlives the shell that ran `up`
# and a Ctrl-C there does not reach it; its output goes to logs/NAME.log. It must not
# inherit the lock (fd 9), or it would hold it as long as it runs.
spawn() {
  local name=$1; shift
  # The previous run's log is kept as NAME.log.1; readiness checks read only this one.
  [ -f "$STATE/logs/$name.log" ] && mv "$STATE/logs/$name.log" "$STATE/logs/$name.log.1"
  setsid "$@" >>"$STATE/logs/$name.log" 2>&1 </dev/null 9>&- &
  local pid=$!
  echo "$pid $(start_time "$pid")" >"$STATE/run/$name.pid"
}

stop() {
  local name=$1 pid i
  pid=$(pid_of "$name") || { rm -f "$STATE/run/$name.pid"; return 0; }
  say "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  # Kafka's controlled shutdown takes a few seconds; past 30 s it is killed.
  for ((i = 0; i < 300; i++)); do
    [ "$(start_time "$pid")" = "" ] && break
    sleep 0.1
  done
  if [ -n "$(start_time "$pid")" ]; then
    say "$name did not stop in 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$STATE/run/$name.pid"
}

# Waits until a check succeeds, or fails naming the log to read.
wait_for() {
  local name=$1 secs=$2 i; shift 2
  for ((i = 0; i < secs * 10; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    running "$name" || die "$name exited; see $STATE/logs/$name.log"
    sleep 0.1
  done
  die "$name was not ready after ${secs}s; see $STATE/logs/$name.log"
}
tcp_open() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
http_ok() { curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$1$2"; }
kafka_started() { tcp_open "$KAFKA_PORT" && grep -q 'Kafka Server started' "$STATE/logs/kafka.log"; }

# --- ports -------------------------------------------------------------------------
listening() { [ -n "$(ss -Htln "sport = :$1")" ]; }
pick_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    listening "$p" && continue
    [[ " ${PICKED:-} " == *" $p "* ]] && continue
    PICKED="${PICKED:-} $p"
    echo "$p"
    return
  done
}
load_ports() {
  PICKED=""
  # shellcheck disable=SC1091
  [ -f "$STATE/ports" ] && . "$STATE/ports"
  local name
  for name in "${PORT_NAMES[@]}"; do
    if [ -z "${!name:-}" ]; then
      printf -v "$name" '%s' "$(pick_port)"
    fi
    PICKED="$PICKED ${!name}"
  done
  : >"$STATE/ports.tmp"
  for name in "${PORT_NAMES[@]}"; do echo "$name=${!name}" >>"$STATE/ports.tmp"; done
  mv "$STATE/ports.tmp" "$STATE/ports"
}
# A service about to start needs its ports free; one that is taken is named.
need_free() {
  local name=$1 port; shift
  for port in "$@"; do
    listening "$port" && die "port $port for $name is taken by another process (see ss -ltnp); \
free it, or remove $STATE/ports to choose new ports"
  done
  return 0
}

# --- services ----------------------------------------------------------------------
start_kafka() {
  local dir="$STATE/kafka"
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
# Written by scripts/dapr-env.sh: a single-node KRaft broker on loopback.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
EOF
  cat >"$dir/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.kafka.name = org.apache.kafka
logger.kafka.level = WARN
EOF
  # IPv4 sockets: the listeners show as 127.0.0.1, not as IPv4-mapped IPv6 addresses.
  local java=(java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true
    "-Dlog4j2.configurationFile=$dir/log4j2.properties" -cp "$KAFKA_LIBS/*")
  # KRaft storage is formatted once; later starts keep the topics and offsets.
  if [ ! -f "$dir/data/meta.properties" ]; then
    say "formatting Kafka's storage"
    local id
    id=$("${java[@]}" kafka.tools.StorageTool random-uuid)
    "${java[@]}" kafka.tools.StorageTool format --cluster-id "$id" --config "$dir/server.properties" \
      >"$STATE/logs/kafka-format.log" 2>&1 || die "formatting Kafka's storage failed; see $STATE/logs/kafka-format.log"
  fi
  need_free kafka "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"
  spawn kafka "${java[@]}" kafka.Kafka "$dir/server.properties"
  wait_for kafka 90 kafka_started
}

start_redis() {
  mkdir -p "$STATE/redis"
  need_free redis "$REDIS_PORT"
  # Persistent (append-only file): Redis holds the workflow actors' state, which a
  # restart must not lose; a cache-only Redis would drop every waiting workflow.
  spawn redis "$REDIS_SERVER" --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes \
    --save "" --appendonly yes --appendfsync everysec --dir "$STATE/redis" --daemonize no
  wait_for redis 20 tcp_open "$REDIS_PORT"
}

start_placement() {
  need_free placement "$PLACEMENT_PORT" "$PLACEMENT_HEALTHZ_PORT" "$PLACEMENT_RAFT_PORT"
  spawn placement "$DAPR_PLACEMENT" --id dapr-placement-0 \
    --listen-address 127.0.0.1 --port "$PLACEMENT_PORT" \
    --healthz-listen-address 127.0.0.1 --healthz-port "$PLACEMENT_HEALTHZ_PORT" \
    --initial-cluster "dapr-placement-0=127.0.0.1:$PLACEMENT_RAFT_PORT" \
    --enable-metrics=false --metrics-listen-address 127.0.0.1
  wait_for placement 30 http_ok "$PLACEMENT_HEALTHZ_PORT" /healthz
}

start_scheduler() {
  mkdir -p "$STATE/scheduler"
  need_free scheduler "$SCHEDULER_PORT" "$SCHEDULER_HEALTHZ_PORT" "$SCHEDULER_ETCD_CLIENT_PORT" \
    "$SCHEDULER_ETCD_PEER_PORT"
  # --override-broadcast-host-port: else it tells the sidecars to call it on the
  # machine's external address.
  spawn scheduler "$DAPR_SCHEDULER" --id dapr-scheduler-server-0 \
    --listen-address 127.0.0.1 --port "$SCHEDULER_PORT" \
    --healthz-listen-address 127.0.0.1 --healthz-port "$SCHEDULER_HEALTHZ_PORT" \
    --override-broadcast-host-port "127.0.0.1:$SCHEDULER_PORT" \
    --etcd-data-dir "$STATE/scheduler" --etcd-client-port "$SCHEDULER_ETCD_CLIENT_PORT" \
    --etcd-initial-cluster "dapr-scheduler-server-0=http://127.0.0.1:$SCHEDULER_ETCD_PEER_PORT" \
    --enable-metrics=false --metrics-listen-address 127.0.0.1
  wait_for scheduler 60 http_ok "$SCHEDULER_HEALTHZ_PORT" /healthz
}

# --- rendering ---------------------------------------------------------------------
# dapr/ holds Errand's components and configuration with {{NAME}} placeholders for
# addresses and paths; they are copied here with the real values, nothing else changed.
render() {
  local out="$STATE/dapr" f rel
  rm -rf "$out.tmp"
  mkdir -p "$out.tmp"
  [ -f "$STATE/secrets.json" ] || {
    # Errand's secret (api/src/secrets.rs): the token secret every app of this
    # environment shares. Tests write their own; add "database-url" or "openai-api-key".
    printf '{"errand": {"jwt-secret": "%s"}}\n' "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" \
      >"$STATE/secrets.json"
    chmod 600 "$STATE/secrets.json"
  }
  while IFS= read -r -d '' f; do
    rel=${f#"$ROOT/dapr/"}
    mkdir -p "$(dirname "$out.tmp/$rel")"
    sed -e "s|{{KAFKA_BROKERS}}|127.0.0.1:$KAFKA_PORT|g" \
      -e "s|{{REDIS_ADDRESS}}|127.0.0.1:$REDIS_PORT|g" \
      -e "s|{{SECRETS_FILE}}|$STATE/secrets.json|g" \
      -e "s|{{NAMERESOLUTION_DB}}|$STATE/nameresolution.db|g" \
      "$f" >"$out.tmp/$rel"
    if grep -n '{{' "$out.tmp/$rel" >&2; then die "unknown placeholder in dapr/$rel"; fi
  done < <(find "$ROOT/dapr" -name '*.yaml' -print0)
  rm -rf "$out"
  mv "$out.tmp" "$out"
}

write_env() {
  local daprd_args="--placement-host-address 127.0.0.1:$PLACEMENT_PORT"
  daprd_args+=" --scheduler-host-address 127.0.0.1:$SCHEDULER_PORT"
  daprd_args+=" --resources-path $STATE/dapr/components --config $STATE/dapr/config.yaml"
  # Loopback only: the API ports, the internal gRPC port (default: every interface),
  # the health/metadata port if a test opens one, and the app channel; no metrics
  # server (and were it enabled, on loopback). A short graceful shutdown (a connected
  # workflow worker holds daprd's shutdown regardless, until its app stops).
  daprd_args+=" --dapr-listen-addresses 127.0.0.1 --dapr-internal-grpc-listen-address 127.0.0.1"
  daprd_args+=" --dapr-public-listen-address 127.0.0.1 --app-channel-address 127.0.0.1"
  daprd_args+=" --enable-metrics=false --metrics-listen-address 127.0.0.1"
  daprd_args+=" --dapr-graceful-shutdown-seconds 3"
  {
    echo "# Written by scripts/dapr-env.sh up; source with: set -a; . THIS_FILE; set +a"
    echo "DAPR_ENV_DIR='$STATE'"
    echo "DAPR_DAPRD='$DAPR_DAPRD'"
    echo "DAPR_PLACEMENT='$DAPR_PLACEMENT'"
    echo "DAPR_SCHEDULER='$DAPR_SCHEDULER'"
    echo "DAPR_RESOURCES_DIR='$STATE/dapr/components'"
    echo "DAPR_CONFIG='$STATE/dapr/config.yaml'"
    echo "DAPR_PLACEMENT_ADDRESS='127.0.0.1:$PLACEMENT_PORT'"
    echo "DAPR_SCHEDULER_ADDRESS='127.0.0.1:$SCHEDULER_PORT'"
    echo "DAPR_SECRETS_FILE='$STATE/secrets.json'"
    echo "DAPR_NAMERESOLUTION_DB='$STATE/nameresolution.db'"
    echo "DAPRD_ARGS='$daprd_args'"
    echo "KAFKA_BROKERS='127.0.0.1:$KAFKA_PORT'"
    echo "KAFKA_LIBS='$KAFKA_LIBS'"
    echo "REDIS_ADDRESS='127.0.0.1:$REDIS_PORT'"
    local name
    for name in "${PORT_NAMES[@]}"; do echo "$name='${!name}'"; done
  } >"$STATE/env.tmp"
  mv "$STATE/env.tmp" "$STATE/env"
}

# --- commands ----------------------------------------------------------------------
pick_services() {
  if [ $# -eq 0 ]; then CHOSEN=("${SERVICES[@]}"); return; fi
  local s
  for s in "$@"; do
    [[ " ${SERVICES[*]} " == *" $s "* ]] || die "unknown service '$s' (one of: ${SERVICES[*]})"
  done
  CHOSEN=("$@")
}

up() {
  pick_services "$@"
  [[ "$STATE" != *"'"* && "$STATE" != *" "* ]] || die "the state directory's path must have no spaces or quotes: $STATE"
  local tools
  tools=$("$ROOT/scripts/dapr-tools.sh")
  eval "$tools"
  mkdir -p "$STATE/run" "$STATE/logs"
  exec 9>"$STATE/.lock"
  flock 9
  load_ports
  local s
  for s in "${SERVICES[@]}"; do
    [[ " ${CHOSEN[*]} " == *" $s "* ]] || continue
    if running "$s"; then continue; fi
    say "starting $s"
    "start_$s"
  done
  render
  write_env
  say "up; environment in $STATE/env"
  echo "$STATE/env"
}

down() {
  pick_services "$@"
  [ -d "$STATE/run" ] || return 0
  exec 9>"$STATE/.lock"
  flock 9
  local i
  # Reverse order: the control plane before the stores its clients use.
  for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
    [[ " ${CHOSEN[*]} " == *" ${SERVICES[i]} "* ]] && stop "${SERVICES[i]}"
  done
  # With nothing left running, the environment file would only point at dead ports.
  local s
  for s in "${SERVICES[@]}"; do running "$s" && return 0; done
  rm -f "$STATE/env"
}

status() {
  local s pid all=0
  # shellcheck disable=SC1091
  [ -f "$STATE/ports" ] && . "$STATE/ports"
  for s in "${SERVICES[@]}"; do
    local port_var="${s^^}_PORT"
    if pid=$(pid_of "$s"); then
      echo "$s: running, pid $pid, 127.0.0.1:${!port_var:-?}"
    else
      echo "$s: stopped"
      all=3
    fi
  done
  [ -f "$STATE/env" ] && echo "env: $STATE/env"
  return "$all"
}

case "${1:-}" in
  up | down) cmd=$1; shift; "$cmd" "$@" ;;
  status) status ;;
  *) echo "usage: $0 up|down [kafka|redis|placement|scheduler...] | status" >&2; exit 2 ;;
esac
