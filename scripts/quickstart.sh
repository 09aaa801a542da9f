#!/usr/bin/env bash
# The quickstart: builds the release binaries and runs the `quickstart`
# driver (tests/src/bin/quickstart.rs), which generates a demo disk table
# (4 partitions, 1,000,000 rows), syncs it with one DataCollector and one
# SyncTool in standalone mode to local Parquet and then CSV files, shows
# progress, verifies the output against the source and stops everything.
#
#   scripts/quickstart.sh                       # output in /tmp/openmldb-sync-quickstart
#   scripts/quickstart.sh --out DIR --rows N --formats parquet,csv
#
# Arguments are passed to the driver (`--help` lists them). On a fresh
# machine the first build takes a while (Debian's librocksdb-dev and
# libclang-dev are installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/env.sh

ensure_debian_packages librocksdb-dev libclang-dev
log "building the release binaries (target dir $CARGO_TARGET_DIR)"
cargo build --release --locked -p synctool -p data-collector -p tablet-emu -p e2e
export SYNC_BIN_DIR="$CARGO_TARGET_DIR/release"
exec "$SYNC_BIN_DIR/quickstart" "$@"
