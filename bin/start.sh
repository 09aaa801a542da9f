#!/usr/bin/env bash
# Starts and stops the sync daemons, as OpenMLDB's package does:
#
#   bin/start.sh start|stop|restart|status data_collector|synctool
#
# data_collector runs with --flagfile=conf/data_collector.flags, synctool with
# -f conf/synctool.properties. Output goes to logs/<name>.log, the process id
# to run/<name>.pid. `start` waits until the daemon accepts connections on
# its port (from the config); `stop` sends SIGTERM, waits, and sends SIGKILL
# after SYNC_STOP_TIMEOUT seconds. Starting a running daemon or stopping a
# stopped one says so and succeeds.
#
# Binaries are looked up in $SYNC_BIN_DIR, next to this script, then in the
# cargo target dirs ($CARGO_TARGET_DIR, ~/.cache/openmldb-sync/target,
# ./target; release before debug).
#
# Environment (all optional):
#   SYNC_HOME          package root (default: the parent of this script's dir)
#   SYNC_CONF_DIR      config dir (default $SYNC_HOME/conf)
#   SYNC_LOG_DIR       log dir (default $SYNC_HOME/logs)
#   SYNC_RUN_DIR       pid file dir (default $SYNC_HOME/run)
#   SYNC_BIN_DIR       dir holding data_collector and synctool
#   SYNC_START_TIMEOUT seconds to wait for the port at start (default 30)
#   SYNC_STOP_TIMEOUT  seconds to wait after SIGTERM before SIGKILL (default 30)
set -uo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SYNC_HOME=${SYNC_HOME:-$(dirname "$script_dir")}
CONF_DIR=${SYNC_CONF_DIR:-$SYNC_HOME/conf}
LOG_DIR=${SYNC_LOG_DIR:-$SYNC_HOME/logs}
RUN_DIR=${SYNC_RUN_DIR:-$SYNC_HOME/run}
START_TIMEOUT=${SYNC_START_TIMEOUT:-30}
STOP_TIMEOUT=${SYNC_STOP_TIMEOUT:-30}

usage() {
    echo "usage: $0 start|stop|restart|status data_collector|synctool" >&2
    exit 2
}

[ $# -eq 2 ] || usage
action=$1
component=$2
case "$component" in
    data_collector) conf="$CONF_DIR/data_collector.flags" ;;
    synctool) conf="$CONF_DIR/synctool.properties" ;;
    *) echo "unknown component '$component' (data_collector or synctool)" >&2; usage ;;
esac
case "$action" in start|stop|restart|status) ;; *) usage ;; esac

pid_file="$RUN_DIR/$component.pid"
log_file="$LOG_DIR/$component.log"

# find_binary: prints the path of the component's binary.
find_binary() {
    local dir
    local dirs=()
    [ -n "${SYNC_BIN_DIR:-}" ] && dirs+=("$SYNC_BIN_DIR")
    dirs+=("$script_dir")
    local target
    for target in "${CARGO_TARGET_DIR:-}" "$HOME/.cache/openmldb-sync/target" "$SYNC_HOME/target"; do
        [ -n "$target" ] && dirs+=("$target/release" "$target/debug")
    done
    for dir in "${dirs[@]}"; do
        if [ -x "$dir/$component" ] && [ -f "$dir/$component" ]; then
            echo "$dir/$component"
            return 0
        fi
    done
    echo "cannot find the $component binary (looked in: ${dirs[*]}); build it with" \
        "'cargo build --release -p data-collector -p synctool' or set SYNC_BIN_DIR" >&2
    return 1
}

# alive PID: true if the process exists and is not a zombie.
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# running_pid: prints the pid from the pid file if that process is alive and
# is our component (not a reused pid); removes a stale pid file.
running_pid() {
    [ -f "$pid_file" ] || return 1
    local pid
    pid=$(tr -d '[:space:]' < "$pid_file")
    # The process's executable must be the component's binary: a command
    # line merely mentioning it (synctool_helper, an editor) does not count.
    local exe
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null)
    exe=${exe% (deleted)}
    if [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" && [ "${exe##*/}" = "$component" ]; then
        echo "$pid"
        return 0
    fi
    echo "removing stale pid file $pid_file (pid '$pid' is not a running $component)" >&2
    rm -f "$pid_file"
    return 1
}

# listen_address: host:port the component listens on, from its config.
listen_address() {
    local value host port
    if [ "$component" = synctool ]; then
        host=$(sed -n 's/^[[:space:]]*server\.host[[:space:]]*[=:][[:space:]]*//p' "$conf" | tail -1 | tr -d '[:space:]')
        port=$(sed -n 's/^[[:space:]]*server\.port[[:space:]]*[=:][[:space:]]*//p' "$conf" | tail -1 | tr -d '[:space:]')
    else
        value=$(sed -n 's/^[[:space:]]*--endpoint=//p' "$conf" | tail -1 | tr -d '[:space:]')
        host=${value%:*}
        port=${value##*:}
    fi
    case "$host" in ""|0.0.0.0|::|"[::]") host=127.0.0.1 ;; esac
    [[ "$port" =~ ^[0-9]+$ ]] || return 1
    echo "$host $port"
}

port_open() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

start() {
    local pid bin addr host port waited
    if pid=$(running_pid); then
        echo "$component is already running (pid $pid)"
        return 0
    fi
    [ -f "$conf" ] || { echo "config file $conf not found" >&2; return 1; }
    bin=$(find_binary) || return 1
    mkdir -p "$LOG_DIR" "$RUN_DIR" || return 1
    local args
    if [ "$component" = synctool ]; then
        args=(-f "$conf")
    else
        args=("--flagfile=$conf")
    fi
    echo "starting $component: $bin ${args[*]} (log $log_file)"
    nohup "$bin" "${args[@]}" >> "$log_file" 2>&1 < /dev/null &
    pid=$!
    echo "$pid" > "$pid_file"
    addr=$(listen_address) || addr=""
    waited=0
    while :; do
        if ! alive "$pid"; then
            rm -f "$pid_file"
            echo "$component failed to start; last lines of $log_file:" >&2
            tail -n 20 "$log_file" >&2
            return 1
        fi
        if [ -n "$addr" ]; then
            read -r host port <<< "$addr"
            if port_open "$host" "$port"; then
                echo "$component started (pid $pid, listening on $host:$port)"
                return 0
            fi
        elif [ "$waited" -ge 10 ]; then
            echo "$component started (pid $pid)"
            return 0
        fi
        if [ "$waited" -ge $((START_TIMEOUT * 5)) ]; then
            echo "$component (pid $pid) does not accept connections on ${addr/ /:} after ${START_TIMEOUT}s;" \
                "it keeps running, see $log_file" >&2
            return 1
        fi
        sleep 0.2
        waited=$((waited + 1))
    done
}

stop() {
    local pid waited
    if ! pid=$(running_pid); then
        echo "$component is not running"
        return 0
    fi
    echo "stopping $component (pid $pid)"
    kill -TERM "$pid" 2>/dev/null
    waited=0
    while alive "$pid"; do
        if [ "$waited" -ge $((STOP_TIMEOUT * 5)) ]; then
            echo "$component (pid $pid) did not exit within ${STOP_TIMEOUT}s; sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null
            sleep 0.2
            break
        fi
        sleep 0.2
        waited=$((waited + 1))
    done
    rm -f "$pid_file"
    echo "$component stopped"
}

status() {
    local pid
    if pid=$(running_pid); then
        echo "$component is running (pid $pid)"
    else
        echo "$component is not running"
        return 3
    fi
}

case "$action" in
    start) start ;;
    stop) stop ;;
    restart) stop && start ;;
    status) status ;;
esac
