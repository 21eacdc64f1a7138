#!/usr/bin/env bash
# `make fuzz`: runs every fuzz target of fuzz/ under libFuzzer (cargo-fuzz, on the
# nightly toolchain) for FUZZ_SECONDS each (default 60), or only those named as
# arguments. Corpora are kept in ~/.cache/errand/fuzz-corpus/<target> between runs
# and seeded from fuzz/regressions/<target>; a crash is left in fuzz/artifacts/ and
# must become a regression input (copy it to fuzz/regressions/<target>/).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.1
cache="${XDG_CACHE_HOME:-$HOME/.cache}/errand"
tool="$cache/cargo-fuzz-$CARGO_FUZZ_VERSION"
if [ ! -x "$tool/bin/cargo-fuzz" ]; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION into $tool" >&2
  cargo install --quiet --locked --version "$CARGO_FUZZ_VERSION" --root "$tool" cargo-fuzz
fi
export PATH="$tool/bin:$PATH"
# libFuzzer's instrumentation needs nightly rustc flags (-Zsanitizer).
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz: the nightly toolchain is needed (rustup toolchain install nightly)" >&2
  exit 1
fi

seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^errand-fuzz$')
summary=()
status=0
for target in "${targets[@]}"; do
  corpus="$cache/fuzz-corpus/$target"
  mkdir -p "$corpus" "fuzz/artifacts/$target"
  [ -d "fuzz/regressions/$target" ] && cp -n fuzz/regressions/"$target"/* "$corpus"/ 2>/dev/null || true
  log=$(mktemp)
  echo "fuzz: $target for ${seconds}s" >&2
  if cargo +nightly fuzz run --fuzz-dir fuzz --target-dir "$cache/fuzz-target" --features libfuzzer "$target" \
      "$corpus" -- -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=4096 \
      -artifact_prefix="fuzz/artifacts/$target/" 2>"$log"; then
    result="no crash"
  else
    result="CRASH: see fuzz/artifacts/$target/"
    status=1
  fi
  runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1 | awk '{print $2}' || true)
  summary+=("$(printf '%-16s %12s executions  %s' "$target" "${runs:-?}" "$result")")
  if [ "$result" = "no crash" ]; then tail -2 "$log" >&2; else tail -40 "$log" >&2; fi
  rm -f "$log"
done
printf '%s\n' "${summary[@]}"
exit $status
