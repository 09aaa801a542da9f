#!/usr/bin/env bash
# The project's one test command: installs what a fresh machine lacks, starts
# the services the tests need, checks formatting, core purity and clippy, runs
# every test, and stops what it started. Exits non-zero on any failure.
#
#   scripts/test.sh            everything
#   SKIP_LINT=1 scripts/test.sh  tests only
#   SKIP_FUZZ=1 scripts/test.sh  without the fuzz targets (scripts/fuzz.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/env.sh
source scripts/lib/services.sh
source scripts/lib/zookeeper.sh
source scripts/lib/hdfs.sh
source scripts/lib/s3.sh
source scripts/lib/duckdb.sh

ensure_rust_components
# System RocksDB (linked, see .cargo/config.toml) and libclang for its bindings.
ensure_debian_packages librocksdb-dev libclang-dev
# `ip` makes the chaos test's network namespace (tests/tests/chaos.rs).
command -v ip >/dev/null 2>&1 || ensure_debian_packages iproute2
services_begin

if [ "${SKIP_LINT:-0}" != 1 ]; then
    log "cargo fmt --check"
    cargo fmt --all -- --check
    log "core purity"
    scripts/check-core-purity.sh
    log "cargo clippy"
    cargo clippy --workspace --all-targets --locked -- -D warnings
fi

log "build binaries (the end-to-end tests run them as processes)"
cargo build --workspace --bins --locked

log "services for the tests"
export SYNC_REQUIRE_SERVICES=1
test_dir="${SYNC_TEST_DIR:-/tmp/openmldb-sync-test}"
start_zookeeper "$test_dir/zookeeper"
start_hdfs "$test_dir/hdfs"
start_s3 "$test_dir/s3"
ensure_duckdb

log "cargo test"
cargo test --workspace --locked --no-fail-fast

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
    log "fuzz targets, a few seconds each (scripts/fuzz.sh)"
    scripts/fuzz.sh
fi
