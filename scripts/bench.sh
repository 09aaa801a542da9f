#!/usr/bin/env bash
# The benchmark: builds the release binaries, installs DuckDB's Python
# package into a cached venv ($DUCKDB_VENV, default
# ~/.cache/openmldb-sync/duckdb-venv, outside the clone) and runs the `bench`
# driver (tests/src/bin/bench.rs): a generated table (8 partitions,
# 3,200,000 rows, about 1 GB) synced in mode 0 to local Parquet and CSV, each
# figure printed next to `cp -r` of the source files and DuckDB converting the
# same rows, measured in the same run; the figures also go to bench.json.
#
#   scripts/bench.sh                 # about 1 GB
#   scripts/bench.sh --quick         # 400,000 rows (CI-sized)
#   scripts/bench.sh --rows N --partitions P --formats parquet,csv --out DIR
#
# Arguments are passed to the driver (`--help` lists them). Without DuckDB
# (the venv cannot be made) the DuckDB baselines are left out, with a note.
# It also starts an HDFS NameNode + DataNode (scripts/lib/hdfs.sh, stopped at
# the end) for the HDFS rows and their `hdfs dfs -put` baseline; BENCH_HDFS=0
# leaves them out.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/env.sh
source scripts/lib/services.sh
source scripts/lib/duckdb.sh
source scripts/lib/hdfs.sh

ensure_debian_packages librocksdb-dev libclang-dev
duckdb_args=()
if ensure_duckdb; then
    duckdb_args=(--duckdb-python "$DUCKDB_VENV/bin/python")
else
    echo "bench: DuckDB could not be installed; its baselines are left out" >&2
fi
log "building the release binaries (target dir $CARGO_TARGET_DIR)"
cargo build --release --locked -p synctool -p data-collector -p tablet-emu -p e2e
export SYNC_BIN_DIR="$CARGO_TARGET_DIR/release"
hdfs_args=()
if [ "${BENCH_HDFS:-1}" != 0 ]; then
    services_begin
    start_hdfs "${BENCH_HDFS_DIR:-/tmp/openmldb-sync-bench-hdfs}"
    hdfs_args=(--hdfs "$SYNC_TEST_HDFS" --hadoop-classpath "$SYNC_TEST_HDFS_CLASSPATH")
fi
"$SYNC_BIN_DIR/bench" "${duckdb_args[@]}" "${hdfs_args[@]}" "$@"
