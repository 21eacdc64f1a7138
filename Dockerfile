# syntax=docker/dockerfile:1.7
# Errand's container image: one image for every role, chosen by the arguments
#   docker run IMAGE                       errand serve (the default command)
#   docker run IMAGE consumer audit        an event consumer (Dapr runtime)
#   docker run IMAGE engine --host 0.0.0.0 the workflow engine alone
# Build: docker build -t errand .   (BuildKit; the stages below cache npm's and cargo's
# dependencies in layers of their own, so a change to the code rebuilds only Errand).
# Run on one machine (SQLite in the volume):
#   docker run -p 8080:8080 --read-only -v errand-data:/var/lib/errand errand

ARG RUST_VERSION=1.95
ARG NODE_VERSION=22
ARG DEBIAN_RELEASE=trixie

# --- the web UI: frontend/dist, which the release binary embeds at compile time -----
FROM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim AS ui
WORKDIR /src/frontend
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
# The lock file alone first: this layer (npm ci) is rebuilt only when it changes.
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY frontend/ ./
# tsc, the Vite build and the first-load size budget (scripts/build-ui.sh does the same).
RUN npm run --silent build

# --- cargo-chef: the dependency graph as a recipe, so dependencies get their own layer -
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
# Every dependency of the binary, compiled from the recipe alone: this layer is reused
# until Cargo.lock or a manifest changes.
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json --bin errand
COPY . .
# The UI must be in place before cargo runs: rust-embed reads frontend/dist at compile
# time (api/src/ui.rs), and an empty directory would serve the "not built" page.
COPY --from=ui /src/frontend/dist frontend/dist
RUN test -f frontend/dist/index.html \
 && cargo build --release --locked --bin errand \
 && install -D -m 0755 target/release/errand /out/errand \
 && /out/errand --version

# --- runtime: Debian slim, no compiler, no package manager run, a non-root user ---------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
ARG VERSION=dev
LABEL org.opencontainers.image.title="errand" \
      org.opencontainers.image.description="Errand: a self-hostable task platform (API, web UI, workflow engine, event consumers)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
# CA certificates for HTTPS to a model API (rustls reads the system bundle); copied
# from the builder, so the runtime stage installs no packages.
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# A fixed, high uid/gid (Kubernetes' runAsNonRoot needs a numeric user) that owns only
# the data directory; the rest of the filesystem can be mounted read-only.
RUN groupadd --system --gid 10001 errand \
 && useradd --system --uid 10001 --gid errand --home-dir /var/lib/errand --no-create-home \
      --shell /usr/sbin/nologin errand \
 && install -d -o errand -g errand -m 0750 /var/lib/errand
COPY --from=builder /out/errand /usr/local/bin/errand
# ERRAND_LISTEN: every interface inside the container (Errand's default outside one is
# loopback). Logs as JSON lines. The data directory holds SQLite, the search index and
# the generated token secret; in Kubernetes it is a volume of its own.
ENV ERRAND_DATA_DIR=/var/lib/errand \
    ERRAND_LISTEN=0.0.0.0:8080 \
    ERRAND_LOG_FORMAT=json \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
VOLUME ["/var/lib/errand"]
WORKDIR /var/lib/errand
USER 10001:10001
EXPOSE 8080
# /healthz over bash's /dev/tcp (the image carries no curl): the HTTP status line must
# say 200. Roles that serve no HTTP on 8080 (engine) run with --no-healthcheck.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && read -r _ status _ <&3 && [ \"$status\" = 200 ]"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/errand"]
CMD ["serve"]
