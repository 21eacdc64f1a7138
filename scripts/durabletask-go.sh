#!/usr/bin/env bash
# Prints the path of the durabletask-go sidecar (the workflow engine Dapr's runtime
# embeds), building it with Go when it is not cached yet. The workflow tests run the
# same suite against it as against Errand's own engine.
#
# Version: the issue asks for v0.12.4, but the Go module proxy reachable here serves
# v0.12.1 as the newest 0.12 release (v0.12.2-v0.12.4 are refused), so that is pinned.
# `go install module@version` also asks the proxy for the module's version list (for
# deprecation notices), which is refused, so the binary is built from a throwaway
# module that requires the pinned version.
set -euo pipefail

VERSION=v0.12.1
CACHE="${ERRAND_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/errand}"
BIN="$CACHE/durabletask-go-$VERSION"

if [ ! -x "$BIN" ]; then
  command -v go >/dev/null 2>&1 || { echo "durabletask-go: Go is required to build the sidecar" >&2; exit 1; }
  echo "durabletask-go: building github.com/dapr/durabletask-go@$VERSION" >&2
  mkdir -p "$CACHE"
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
  (
    cd "$WORK"
    go mod init errand.local/durabletask-go >/dev/null 2>&1
    go get "github.com/dapr/durabletask-go@$VERSION" >&2
    go build -o "$BIN.tmp" github.com/dapr/durabletask-go
  )
  mv "$BIN.tmp" "$BIN"
fi
echo "$BIN"
