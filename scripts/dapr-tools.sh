#!/usr/bin/env bash
# Provides the real Dapr parts for tests and developers, cached, and prints where they
# are as KEY=VALUE lines (sourceable: `eval "$(scripts/dapr-tools.sh)"`):
#   DAPR_DAPRD, DAPR_PLACEMENT, DAPR_SCHEDULER  daprd, placement, scheduler v1.16.0
#   KAFKA_LIBS                                  Apache Kafka 4.4.0's jars (run with java -cp)
#   REDIS_SERVER                                redis-server, from Debian's package
# The first run builds/fetches (5-7 minutes and ~2 GB of Go modules for Dapr); later
# runs only check that the files are there. Progress goes to stderr, the paths to stdout.
# PostgreSQL is not here: scripts/with-postgres.sh provides it.
#
# Dapr: v1.16.0 is the newest release whose whole module graph the Go module proxy
# reachable here serves (1.16.1-1.16.4 and 1.17.0 each need a version it refuses).
# `go install github.com/dapr/dapr/cmd/daprd@v1.16.0` is refused because dapr's go.mod
# has replace directives, so the module's source is downloaded, copied to a writable
# directory and built there with its own go.mod/go.sum.
#
# Kafka: the broker's jars come from Maven Central (org.apache.kafka:kafka_2.13 and its
# dependencies) through a throwaway pom; it runs as a single-node KRaft broker.
set -euo pipefail

DAPR_VERSION=1.16.0
KAFKA_VERSION=4.4.0
LOG4J_VERSION=2.25.5 # the log4j-core that kafka_2.13 4.4.0 depends on
CACHE="${ERRAND_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/errand}"
DAPR_DIR="$CACHE/dapr-$DAPR_VERSION"
KAFKA_LIBS="$CACHE/kafka-$KAFKA_VERSION/libs"

say() { echo "dapr-tools: $*" >&2; }
die() { say "$*"; exit 1; }

# Each part is complete only when its marker exists: the marker is written last, so an
# interrupted build or download is redone instead of being taken for a finished one.
# The Dapr marker names the build recipe (the changes to dapr's source below): binaries
# built by another recipe are rebuilt.
DAPR_RECIPE="tags=stablecomponents+nameresolution-sqlite;patch=healthz-listen-address;ldflags=version+logger"
dapr_ready() { [ "$(cat "$DAPR_DIR/.complete" 2>/dev/null)" = "$DAPR_RECIPE" ]; }
kafka_ready() { [ -f "$KAFKA_LIBS/../.complete" ]; }
redis_ready() { command -v redis-server >/dev/null 2>&1; }

build_dapr() {
  command -v go >/dev/null 2>&1 || die "Go is required to build daprd"
  say "building daprd, placement, scheduler v$DAPR_VERSION (first run only, 5-7 min)"
  rm -f "$DAPR_DIR/.complete"
  local work src
  work=$(mktemp -d)
  # shellcheck disable=SC2064 # expand $work now: it is local to this function
  trap "chmod -R u+w '$work' 2>/dev/null; rm -rf '$work'" EXIT
  # GOWORK=off: a go.work above the copy must not take part. GOTOOLCHAIN=local: build
  # with the installed Go instead of fetching the toolchain named in dapr's go.mod.
  export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0
  src=$(cd "$work" && go mod download -json "github.com/dapr/dapr@v$DAPR_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  if [ -z "$src" ] || [ ! -d "$src" ]; then
    die "go mod download gave no source directory for dapr v$DAPR_VERSION"
  fi
  # The module cache is read-only: copy it so the build may write and the tag edit below
  # stays out of the cache.
  cp -r "$src" "$work/dapr"
  chmod -R u+w "$work/dapr"
  # Name resolution: self-hosted daprd resolves apps with mDNS by default, which
  # multicasts on the machine's network. The sqlite resolver keeps it on this machine
  # (Configuration spec.nameResolution.component: sqlite, see dapr/), but dapr builds it
  # only with `allcomponents`, whose extra components need far more modules. So it is
  # added to the `stablecomponents` set here.
  local nr="$work/dapr/cmd/daprd/components/nameresolution_sqlite.go"
  sed -i '1s#^//go:build allcomponents$#//go:build allcomponents || stablecomponents#' "$nr"
  grep -q '^//go:build allcomponents || stablecomponents$' "$nr" \
    || die "could not enable the sqlite name resolver in $nr (its build tag changed?)"
  # Healthz: placement and scheduler accept --healthz-listen-address but v1.16.0 never
  # passes it to their health server, which binds every interface. This wires it
  # through (as dapr did later upstream), so the health ports stay on loopback too.
  (cd "$work/dapr" && git apply) <<'PATCH' || die "could not apply the healthz listen-address change"
diff -ruN a/cmd/placement/app/app.go b/cmd/placement/app/app.go
--- a/cmd/placement/app/app.go
+++ b/cmd/placement/app/app.go
@@ -125,10 +125,11 @@
 	}
 
 	healthSrv := healthzserver.New(healthzserver.Options{
-		Log:      log,
-		Port:     opts.HealthzPort,
-		Healthz:  healthz,
-		Handlers: healthzHandlers,
+		Log:           log,
+		Port:          opts.HealthzPort,
+		ListenAddress: opts.HealthzListenAddress,
+		Healthz:       healthz,
+		Handlers:      healthzHandlers,
 	})
 
 	err = concurrency.NewRunnerManager(
diff -ruN a/cmd/scheduler/app/app.go b/cmd/scheduler/app/app.go
--- a/cmd/scheduler/app/app.go
+++ b/cmd/scheduler/app/app.go
@@ -81,9 +81,10 @@
 
 	err = concurrency.NewRunnerManager(
 		healthzserver.New(healthzserver.Options{
-			Log:     log,
-			Port:    opts.HealthzPort,
-			Healthz: healthz,
+			Log:           log,
+			Port:          opts.HealthzPort,
+			ListenAddress: opts.HealthzListenAddress,
+			Healthz:       healthz,
 		}).Start,
 		metricsExporter.Start,
 		secProvider.Run,
diff -ruN a/pkg/healthz/server/server.go b/pkg/healthz/server/server.go
--- a/pkg/healthz/server/server.go
+++ b/pkg/healthz/server/server.go
@@ -31,10 +31,12 @@
 }
 
 type Options struct {
-	Healthz  healthz.Healthz
-	Port     int
-	Log      logger.Logger
-	Handlers []Handler
+	Healthz healthz.Healthz
+	Port    int
+	// ListenAddress is the address to bind; empty binds every interface.
+	ListenAddress string
+	Log           logger.Logger
+	Handlers      []Handler
 }
 
 // Server is a healthz server.
@@ -42,6 +44,7 @@
 	log     logger.Logger
 	mux     http.Handler
 	port    int
+	address string
 	htarget healthz.Target
 }
 
@@ -80,6 +83,7 @@
 	return &Server{
 		log:     opts.Log,
 		port:    opts.Port,
+		address: opts.ListenAddress,
 		mux:     mux,
 		htarget: opts.Healthz.AddTarget("healthz-server"),
 	}
@@ -87,7 +91,7 @@
 
 // Start starts a net/http server with a healthz endpoint.
 func (s *Server) Start(ctx context.Context) error {
-	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", s.port))
+	ln, err := net.Listen("tcp", net.JoinHostPort(s.address, fmt.Sprint(s.port)))
 	if err != nil {
 		return err
 	}
PATCH
  mkdir -p "$DAPR_DIR"
  (
    cd "$work/dapr"
    # Without a components tag daprd registers no components and panics at start.
    # The version stamps dapr's own build sets: otherwise the binaries call themselves
    # "edge" and every log line says ver=unknown.
    local ldflags="-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$DAPR_VERSION"
    ldflags+=" -X github.com/dapr/kit/logger.DaprVersion=$DAPR_VERSION"
    for cmd in daprd placement scheduler; do
      say "go build ./cmd/$cmd"
      go build -tags stablecomponents -ldflags "$ldflags" -o "$DAPR_DIR/$cmd.tmp" "./cmd/$cmd"
      mv "$DAPR_DIR/$cmd.tmp" "$DAPR_DIR/$cmd"
    done
  )
  echo "$DAPR_RECIPE" >"$DAPR_DIR/.complete"
}

fetch_kafka() {
  command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is required to fetch Kafka"
  command -v java >/dev/null 2>&1 || die "Java 17+ is required to run Kafka"
  say "fetching Apache Kafka $KAFKA_VERSION and its dependencies from Maven Central"
  local work
  work=$(mktemp -d)
  # shellcheck disable=SC2064 # expand $work now: it is local to this function
  trap "rm -rf '$work'" EXIT
  cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>errand.local</groupId>
  <artifactId>kafka-libs</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <!-- Kafka logs through SLF4J 1.x, whose binding to log4j2 is not among kafka_2.13's
         dependencies (Kafka's own distribution adds it): without it the broker says
         nothing at all. -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  rm -rf "$KAFKA_LIBS"
  mkdir -p "$KAFKA_LIBS"
  mvn -B -q -f "$work/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS" >&2
  ls "$KAFKA_LIBS"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null || die "kafka_2.13-$KAFKA_VERSION.jar is missing"
  touch "$KAFKA_LIBS/../.complete"
}

install_redis() {
  say "installing redis-server from Debian's packages"
  [ "$(id -u)" = 0 ] || die "redis-server is missing; install it (apt-get install redis-server)"
  # The package list may be missing or stale on a fresh machine: update once, then retry.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >&2; }
  # The package may start a system service (where services start); dapr-env.sh runs its
  # own redis-server with its own settings and does not use it.
  redis_ready || die "redis-server is still not on PATH"
}

if ! dapr_ready || ! kafka_ready || ! redis_ready; then
  mkdir -p "$CACHE"
  # One builder at a time: a second caller waits and then finds everything done.
  exec 9>"$CACHE/.dapr-tools.lock"
  flock 9
  dapr_ready || (build_dapr)
  kafka_ready || (fetch_kafka)
  redis_ready || install_redis
fi

printf 'DAPR_VERSION=%q\n' "$DAPR_VERSION"
printf 'DAPR_DAPRD=%q\n' "$DAPR_DIR/daprd"
printf 'DAPR_PLACEMENT=%q\n' "$DAPR_DIR/placement"
printf 'DAPR_SCHEDULER=%q\n' "$DAPR_DIR/scheduler"
printf 'KAFKA_VERSION=%q\n' "$KAFKA_VERSION"
printf 'KAFKA_LIBS=%q\n' "$KAFKA_LIBS"
printf 'REDIS_SERVER=%q\n' "$(command -v redis-server)"
