# A standalone ZooKeeper (Debian's `zookeeper` package) on a free port, for
# the tests. It listens on every address: the chaos test's collector reaches it
# from a network namespace of its own. Sourced after env.sh and services.sh.

# start_zookeeper DIR: starts ZooKeeper with its data in DIR and exports
# SYNC_TEST_ZK=127.0.0.1:<port> for the tests.
start_zookeeper() {
    local dir=$1 port pid
    ensure_debian_packages zookeeper
    port=$(free_port)
    rm -rf "$dir" && mkdir -p "$dir/data"
    cat > "$dir/zoo.cfg" <<CFG
tickTime=500
initLimit=10
syncLimit=5
dataDir=$dir/data
clientPort=$port
clientPortAddress=0.0.0.0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
minSessionTimeout=1000
maxSessionTimeout=60000
CFG
    java -Xmx256m -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar \
        org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" > "$dir/zookeeper.log" 2>&1 &
    pid=$!
    track_pid zookeeper "$pid"
    if ! wait_until 60 "ZooKeeper on port $port" zookeeper_ok "$port"; then
        tail -20 "$dir/zookeeper.log" >&2
        return 1
    fi
    export SYNC_TEST_ZK="127.0.0.1:$port"
    log "ZooKeeper up at $SYNC_TEST_ZK (pid $pid)"
}

# zookeeper_ok PORT: true when the server answers `ruok` with `imok`.
zookeeper_ok() {
    local answer
    answer=$(exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'ruok' >&3 && timeout 2 cat <&3)
    [ "$answer" = imok ]
}
