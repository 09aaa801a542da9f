# The readers of the output in a Python venv: DuckDB (the bench's baseline),
# pyarrow and PySpark (the tests that read partitioned output back, Spark on
# the JVM that HDFS uses). The venv is kept outside the clone, in $DUCKDB_VENV
# (default ~/.cache/openmldb-sync/duckdb-venv); the test
# (crates/sinks/tests/read_back.rs) makes the same venv itself when it is
# missing. Sourced after env.sh and services.sh.

DUCKDB_VENV="${DUCKDB_VENV:-$HOME/.cache/openmldb-sync/duckdb-venv}"
# Kept equal to READER_PACKAGES in crates/sinks/tests/read_back.rs.
READER_PACKAGES=(duckdb pyarrow pyspark==3.5.3)

# ensure_duckdb: creates the venv with the readers unless it is there, and
# exports SYNC_TEST_DUCKDB_PYTHON (its python).
ensure_duckdb() {
    if ! "$DUCKDB_VENV/bin/python" -c 'import duckdb, pyarrow, pyspark' >/dev/null 2>&1; then
        make_venv "$DUCKDB_VENV" "${READER_PACKAGES[@]}" || return 1
    fi
    export SYNC_TEST_DUCKDB_PYTHON="$DUCKDB_VENV/bin/python"
}
