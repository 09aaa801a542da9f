# DuckDB's Python package in a venv, for the test that reads partitioned
# output back with read_parquet(..., hive_partitioning=true). The venv is kept
# outside the clone, in $DUCKDB_VENV (default ~/.cache/openmldb-sync/duckdb-venv);
# the test (crates/sinks/tests/duckdb_read.rs) makes the same venv itself when
# it is missing. Sourced after env.sh and services.sh.

DUCKDB_VENV="${DUCKDB_VENV:-$HOME/.cache/openmldb-sync/duckdb-venv}"

# ensure_duckdb: creates the venv with duckdb unless it is there, and exports
# SYNC_TEST_DUCKDB_PYTHON (its python).
ensure_duckdb() {
    if ! "$DUCKDB_VENV/bin/python" -c 'import duckdb' >/dev/null 2>&1; then
        python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || ensure_debian_packages python3-venv
        log "installing duckdb into $DUCKDB_VENV"
        rm -rf "$DUCKDB_VENV"
        python3 -m venv "$DUCKDB_VENV" &&
            "$DUCKDB_VENV/bin/pip" install -q duckdb || {
            rm -rf "$DUCKDB_VENV"
            echo "could not install duckdb" >&2
            return 1
        }
    fi
    export SYNC_TEST_DUCKDB_PYTHON="$DUCKDB_VENV/bin/python"
}
