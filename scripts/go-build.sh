# shellcheck shell=bash
# Sourced by the scripts that build Go tools (deploy-check.sh, observability-tools.sh);
# the caller defines say and die.
#
# Go tools: built in a throwaway module that requires the pinned version (`go install
# module@version` asks the proxy for version lists, which it may refuse), with the
# installed Go and no go.work. The binary is moved into place last, so an interrupted
# build is redone.
go_build() { # DEST MODULE@VERSION PACKAGE [LDFLAGS] [SOURCE_FILE]
  local dest=$1 module=$2 package=$3 ldflags=${4:-} source=${5:-} work
  command -v go >/dev/null 2>&1 || die "Go is required to build $package"
  say "building $(basename "$dest") from $module, first run only"
  work=$(mktemp -d)
  (
    trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
    export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
    cd "$work" || exit
    go mod init errand.local/tool >/dev/null 2>&1
    [ -n "$source" ] && cp "$source" main.go
    go get "$module" >&2
    [ -n "$source" ] && go mod tidy >&2
    ldflags="-s -w $ldflags"
    if [[ "$module" == helm.sh/* ]]; then
      # Kubernetes' version as Helm's own build stamps it (client-go's minor, major + 1),
      # so .Capabilities and lint's deprecation checks know the current API versions.
      local kv major minor
      kv=$(go list -m -f '{{.Version}}' k8s.io/client-go)
      major=$(($(echo "$kv" | cut -d. -f1 | tr -d v) + 1))
      minor=$(echo "$kv" | cut -d. -f2)
      for pkg in pkg/lint/rules pkg/chartutil; do
        ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=$major -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$minor"
      done
    fi
    mkdir -p "$(dirname "$dest")"
    go build -trimpath -ldflags "$ldflags" -o "$dest.tmp" "$package"
    mv "$dest.tmp" "$dest"
  )
}
