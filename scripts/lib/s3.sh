# An S3-compatible server (moto's `moto_server`, from PyPI) on a free loopback
# port, for the sink tests. moto accepts any access key and secret. The venv is
# kept outside the clone, in $S3_VENV (default ~/.cache/openmldb-sync/moto-venv);
# installing it takes about a minute the first time.
# Sourced after env.sh and services.sh.

S3_VENV="${S3_VENV:-$HOME/.cache/openmldb-sync/moto-venv}"

# ensure_moto: creates the venv with moto[server] unless it is there.
ensure_moto() {
    if [ -x "$S3_VENV/bin/moto_server" ]; then
        return 0
    fi
    make_venv "$S3_VENV" 'moto[server]'
}

# start_s3 DIR: starts moto_server with its log in DIR (wiped first) and
# exports SYNC_TEST_S3_ENDPOINT=http://127.0.0.1:<port>. Buckets are created
# by the tests (moto keeps everything in memory).
start_s3() {
    local dir=$1 port pid
    ensure_moto || return 1
    port=$(free_port)
    rm -rf "$dir" && mkdir -p "$dir"
    "$S3_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" > "$dir/moto.log" 2>&1 &
    pid=$!
    track_pid moto-s3 "$pid"
    if ! wait_until 60 "moto on port $port" s3_ok "$port" "$pid"; then
        tail -20 "$dir/moto.log" >&2
        return 1
    fi
    export SYNC_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
    log "S3 (moto) up at $SYNC_TEST_S3_ENDPOINT (pid $pid)"
}

# s3_ok PORT PID: true when the process lives and answers HTTP on /.
s3_ok() {
    kill -0 "$2" &&
        python3 -c 'import sys, urllib.request; urllib.request.urlopen("http://127.0.0.1:%s/" % sys.argv[1], timeout=2)' "$1"
}
