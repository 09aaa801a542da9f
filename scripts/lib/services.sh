# Starting and stopping the test services (ZooKeeper, HDFS, S3) by PID on free
# loopback ports. A service is a start function that records its PID with
# `track_pid`; `stop_services` (installed as an EXIT trap by `services_begin`)
# kills exactly what was started, never anything else. Sourced, not run.

SERVICE_PIDS=()
SERVICE_PID_FILES=()

# services_begin: from here on, every tracked process is stopped on exit.
services_begin() {
    trap 'services_status=$?; stop_services; exit $services_status' EXIT
}

# track_pid NAME PID: remember a started process so that it is stopped on exit.
track_pid() {
    SERVICE_PIDS+=("$2:$1")
}

# track_pid_file NAME FILE: a started process whose current pid is in FILE
# (a process a test may restart, which writes its new pid there).
track_pid_file() {
    SERVICE_PID_FILES+=("$2:$1")
}

stop_services() {
    local entry pid name
    for entry in "${SERVICE_PID_FILES[@]}"; do
        pid=$(cat "${entry%%:*}" 2>/dev/null) || continue
        SERVICE_PIDS+=("$pid:${entry#*:}")
    done
    SERVICE_PID_FILES=()
    for entry in "${SERVICE_PIDS[@]}"; do
        pid=${entry%%:*}
        name=${entry#*:}
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            printf 'stopped %s (pid %s)\n' "$name" "$pid" >&2
        fi
    done
    SERVICE_PIDS=()
}

# free_port: prints a loopback TCP port that nothing listens on now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.2 s.
wait_until() {
    local deadline=$((SECONDS + $1)) what=$2
    shift 2
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "timed out waiting for $what" >&2
            return 1
        fi
        sleep 0.2
    done
}
