#!/usr/bin/env bash
# Builds the cargo-fuzz targets in fuzz/ with nightly and runs each for a few
# seconds on its seed corpus (fuzz/corpus/<target>/); fails on any crash,
# timeout or out-of-memory. Installs nightly and cargo-fuzz when missing.
# New corpus entries go to a scratch directory, so the clone stays clean;
# findings are kept in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh                 every target, 5 s each
#   scripts/fuzz.sh --seconds 600   every target, 10 minutes each
#   scripts/fuzz.sh row_decoder     one target
#
# Target dir: ${FUZZ_TARGET_DIR:-$HOME/.cache/openmldb-sync/fuzz-target}.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/env.sh

seconds=5
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --seconds=*) seconds="${1#--seconds=}"; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done

fuzz_target_dir="${FUZZ_TARGET_DIR:-$HOME/.cache/openmldb-sync/fuzz-target}"

if ! cargo +nightly --version >/dev/null 2>&1; then
    log "installing the nightly toolchain"
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list --fuzz-dir fuzz)
fi

log "cargo fuzz build (${targets[*]})"
cargo +nightly fuzz build --fuzz-dir fuzz --target-dir "$fuzz_target_dir"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
status=0
# One fuzzing process at a time (libFuzzer's default without -jobs/-workers).
for target in "${targets[@]}"; do
    log "cargo fuzz run $target for ${seconds}s"
    mkdir -p "$scratch/$target" "fuzz/corpus/$target"
    if ! cargo +nightly fuzz run --fuzz-dir fuzz --target-dir "$fuzz_target_dir" \
        "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$scratch/$target.log" 2>&1; then
        tail -n 60 "$scratch/$target.log" >&2
        echo "fuzz target $target found a problem (input in fuzz/artifacts/$target/)" >&2
        status=1
    else
        grep -E '^(stat::number_of_executed_units|Done )' "$scratch/$target.log" >&2 || true
    fi
done
[ "$status" = 0 ] && echo "fuzz: ${#targets[@]} targets ran ${seconds}s each without a finding"
exit "$status"
