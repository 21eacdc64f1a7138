# Errand. `make run` starts it; `make test` proves it works.
CARGO ?= cargo

.PHONY: run build ui test lint fmt load bench fuzz dapr-up dapr-down

## Build everything (the web UI, then the release binary that embeds it) and start
## Errand on http://localhost:8080 (SQLite + embedded defaults).
run: ui
	$(CARGO) run --release --locked --bin errand -- serve

build: ui
	$(CARGO) build --release --locked --bin errand

## The web UI alone, into frontend/dist (npm ci when its lock file changed).
ui:
	scripts/build-ui.sh

## Install what the tests need (PostgreSQL, the durabletask-go sidecar, Chromium, npm
## packages) and run every test: Rust, schemathesis, the UI's unit and browser tests.
test:
	scripts/test.sh
	scripts/deploy-check.sh

## Static checks: formatting and clippy with warnings as errors.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

## Load figures with wrk: the mixed multi-user scenario at 50 and 500 connections, and
## POST and GET /api/v1/tasks alone; POST again with every request traced to Jaeger (the
## cost of tracing); on SQLite and PostgreSQL.
load: build
	set -a; eval "$$(scripts/observability-tools.sh)"; set +a; scripts/with-postgres.sh scripts/load.sh

## Benchmarks against the targets of DESIGN §7 (figures with baselines from the same run):
## event latency; search over 1M tasks against SQLite FTS5 and PostgreSQL full-text; the
## workflow engine against the durabletask-go sidecar and daprd 1.16's engine, reminder
## lateness on each; task reads during a login flood; Errand on real Dapr (event latency
## through Kafka, search across two replicas); the web UI (first load size, first page
## of 10,000 tasks on screen).
bench:
	$(CARGO) bench --locked -p errand-consumers --bench latency
	scripts/with-postgres.sh $(CARGO) bench --locked -p errand-api --bench search
	set -a; eval "$$(scripts/dapr-tools.sh)"; set +a; \
	  DURABLETASK_GO_BIN=$$(scripts/durabletask-go.sh) scripts/with-postgres.sh $(CARGO) bench --locked -p errand-api --bench workflows && \
	  scripts/with-postgres.sh $(CARGO) bench --locked -p errand-api --bench dapr
	$(CARGO) bench --locked -p errand-api --bench login_flood
	$(CARGO) bench --locked -p errand-api --bench ops
	scripts/ui-bench.sh

## Every fuzz target under libFuzzer for FUZZ_SECONDS each (default 60; cargo-fuzz and
## nightly Rust). `make test` runs a bounded property pass of the same targets.
fuzz:
	scripts/fuzz.sh

## Errand on a local Dapr environment: Kafka, Redis, placement and scheduler on
## loopback, the API on http://localhost:8080 and the three consumers, each with its
## own daprd 1.16 (built once into ~/.cache/errand). `make dapr-down` stops it all.
dapr-up: build
	scripts/dapr-tools.sh >/dev/null
	scripts/dapr-run.sh up

dapr-down:
	scripts/dapr-run.sh down
