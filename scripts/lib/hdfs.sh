# A real single-node HDFS (Hadoop 2.7.3: NameNode + one DataNode) on free
# loopback ports, for the sink tests. The jars come from the pyspark 2.4.8
# sdist on PyPI (the only Hadoop server jars reachable here) and are cached
# outside the clone, in $HDFS_JAR_CACHE (default
# ~/.cache/openmldb-sync/hdfs-jars). They run on the machine's Java 17 after
# three workarounds: an empty web.xml per web app, the javax.ws.rs jar on the
# class path (the NameNode's RPC server touches it), and IPv4 only.
# Sourced after env.sh and services.sh.

HDFS_JAR_CACHE="${HDFS_JAR_CACHE:-$HOME/.cache/openmldb-sync/hdfs-jars}"

# The jars NameNode and DataNode need (58 of the sdist's ~230).
HDFS_JARS=(
    hadoop-annotations-2.7.3 hadoop-auth-2.7.3 hadoop-common-2.7.3 hadoop-hdfs-2.7.3
    commons-cli-1.2 commons-codec-1.10 commons-collections-3.2.2 commons-configuration-1.6
    commons-io-2.4 commons-lang-2.6 commons-logging-1.1.3 commons-math3-3.4.1 commons-net-3.1
    commons-daemon-1.0.13 guava-14.0.1 protobuf-java-2.5.0 htrace-core-3.1.0-incubating
    jetty-6.1.26 jetty-util-6.1.26 javax.servlet-api-3.1.0 jsp-api-2.1 log4j-1.2.17
    slf4j-api-1.7.16 slf4j-log4j12-1.7.16 netty-3.9.9.Final netty-all-4.1.47.Final xmlenc-0.52
    leveldbjni-all-1.8 xercesImpl-2.9.1 jackson-core-asl-1.9.13 jackson-mapper-asl-1.9.13
    jsr305-1.3.9 avro-1.8.2 paranamer-2.8 httpclient-4.5.6 httpcore-4.4.10 snappy-java-1.1.8.2
    jaxb-api-2.2.2 activation-1.1.1 javax.ws.rs-api-2.0.1
)

# ensure_hdfs_jars: downloads pyspark 2.4.8 once and keeps only the jars in
# $HDFS_JAR_CACHE. About 20 s the first time, nothing afterwards.
ensure_hdfs_jars() {
    if [ -f "$HDFS_JAR_CACHE/hadoop-hdfs-2.7.3.jar" ]; then
        return 0
    fi
    command -v java >/dev/null 2>&1 || ensure_debian_packages default-jre-headless
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || ensure_debian_packages python3-venv
    log "downloading the Hadoop 2.7.3 jars (pyspark 2.4.8 sdist) into $HDFS_JAR_CACHE"
    local work
    work=$(mktemp -d)
    python3 -m venv "$work/venv" &&
        "$work/venv/bin/pip" install -q setuptools wheel &&
        # the sdist's metadata step fails under build isolation (pypandoc)
        "$work/venv/bin/pip" download -q --no-deps --no-build-isolation pyspark==2.4.8 -d "$work/dl" &&
        mkdir -p "$work/jars" &&
        tar xzf "$work/dl/pyspark-2.4.8.tar.gz" -C "$work/jars" --strip-components=3 \
            --wildcards 'pyspark-2.4.8/deps/jars/*.jar' || {
        rm -rf "$work"
        echo "could not fetch the Hadoop jars" >&2
        return 1
    }
    mkdir -p "$HDFS_JAR_CACHE"
    local j
    for j in "${HDFS_JARS[@]}"; do
        [ -f "$work/jars/$j.jar" ] && cp "$work/jars/$j.jar" "$HDFS_JAR_CACHE/"
    done
    rm -rf "$work"
    [ -f "$HDFS_JAR_CACHE/hadoop-hdfs-2.7.3.jar" ]
}

# start_hdfs DIR: starts a NameNode and a DataNode with their data, config and
# logs in DIR (wiped first) and exports SYNC_TEST_HDFS=hdfs://127.0.0.1:<port>
# and SYNC_TEST_HDFS_CONF=DIR/conf (a Hadoop conf dir whose core-site.xml names
# it as fs.defaultFS) and SYNC_TEST_HDFS_DATANODE=DIR (datanode.sh restarts
# the DataNode, datanode.pid holds its pid, datanode.log its log) and
# SYNC_TEST_HDFS_CLASSPATH (Hadoop's jars and conf, e.g. for FsShell).
start_hdfs() {
    local dir=$1 nn_port nn_http dn_port dn_http dn_ipc nn_pid dn_pid
    command -v java >/dev/null 2>&1 || ensure_debian_packages default-jre-headless
    ensure_hdfs_jars || return 1
    local ports=()
    while [ ${#ports[@]} -lt 5 ]; do
        local p
        p=$(free_port)
        [[ " ${ports[*]} " == *" $p "* ]] || ports+=("$p")
    done
    nn_port=${ports[0]} nn_http=${ports[1]} dn_port=${ports[2]} dn_http=${ports[3]} dn_ipc=${ports[4]}

    rm -rf "$dir" && mkdir -p "$dir/cp" "$dir/conf" "$dir/web/webapps/static" "$dir/data"
    local j a
    for j in "$HDFS_JAR_CACHE"/*.jar; do ln -s "$j" "$dir/cp/"; done
    for a in hdfs datanode secondary; do
        mkdir -p "$dir/web/webapps/$a/WEB-INF"
        echo '<web-app xmlns="http://java.sun.com/xml/ns/javaee" version="2.5"></web-app>' \
            > "$dir/web/webapps/$a/WEB-INF/web.xml"
    done
    _hdfs_site "$dir" "$nn_port" "$nn_http" "$dn_port" "$dn_http" "$dn_ipc"

    local cp="$dir/conf:$dir/web:$dir/cp/*"
    local jopts=(-Xmx512m -Djava.net.preferIPv4Stack=true)
    if ! java "${jopts[@]}" -cp "$cp" org.apache.hadoop.hdfs.server.namenode.NameNode \
        -format -nonInteractive > "$dir/format.log" 2>&1; then
        tail -20 "$dir/format.log" >&2
        return 1
    fi
    java "${jopts[@]}" -cp "$cp" org.apache.hadoop.hdfs.server.namenode.NameNode > "$dir/namenode.log" 2>&1 &
    nn_pid=$!
    track_pid hdfs-namenode "$nn_pid"
    # The DataNode starts through a script the chaos test runs again to
    # restart it; the script keeps the current pid in datanode.pid.
    cat > "$dir/datanode.sh" <<SH
#!/usr/bin/env bash
echo \$\$ > "$dir/datanode.pid"
exec java ${jopts[*]} -cp "$cp" org.apache.hadoop.hdfs.server.datanode.DataNode >> "$dir/datanode.log" 2>&1
SH
    : > "$dir/datanode.log"
    bash "$dir/datanode.sh" &
    dn_pid=$!
    track_pid_file hdfs-datanode "$dir/datanode.pid"
    if ! wait_until 120 "HDFS on port $nn_port" hdfs_ok "$dir" "$nn_pid" "$dn_pid"; then
        tail -20 "$dir/namenode.log" "$dir/datanode.log" >&2
        return 1
    fi
    export SYNC_TEST_HDFS="hdfs://127.0.0.1:$nn_port"
    export SYNC_TEST_HDFS_CONF="$dir/conf"
    export SYNC_TEST_HDFS_DATANODE="$dir"
    export SYNC_TEST_HDFS_CLASSPATH="$cp"
    log "HDFS up at $SYNC_TEST_HDFS (namenode pid $nn_pid, datanode pid $dn_pid)"
}

# hdfs_ok DIR NN_PID DN_PID: true when both processes live, the NameNode has
# left safe mode and the DataNode has registered.
hdfs_ok() {
    kill -0 "$2" && kill -0 "$3" &&
        grep -q "Leaving safe mode" "$1/namenode.log" &&
        grep -q "successfully registered with NN" "$1/datanode.log"
}

# _hdfs_site DIR NN_PORT NN_HTTP DN_PORT DN_HTTP DN_IPC: writes core-site.xml,
# hdfs-site.xml and log4j.properties into DIR/conf.
_hdfs_site() {
    local dir=$1 data="$1/data"
    _hdfs_prop() { printf '  <property><name>%s</name><value>%s</value></property>\n' "$1" "$2"; }
    {
        echo '<?xml version="1.0"?><configuration>'
        _hdfs_prop fs.defaultFS "hdfs://127.0.0.1:$2"
        _hdfs_prop hadoop.tmp.dir "$data/tmp"
        echo '</configuration>'
    } > "$dir/conf/core-site.xml"
    {
        echo '<?xml version="1.0"?><configuration>'
        _hdfs_prop dfs.replication 1
        _hdfs_prop dfs.namenode.name.dir "file://$data/name"
        _hdfs_prop dfs.datanode.data.dir "file://$data/data"
        _hdfs_prop dfs.namenode.rpc-address "127.0.0.1:$2"
        _hdfs_prop dfs.namenode.http-address "127.0.0.1:$3"
        _hdfs_prop dfs.namenode.secondary.http-address "127.0.0.1:0"
        _hdfs_prop dfs.datanode.address "127.0.0.1:$4"
        _hdfs_prop dfs.datanode.http.address "127.0.0.1:$5"
        _hdfs_prop dfs.datanode.ipc.address "127.0.0.1:$6"
        _hdfs_prop dfs.permissions.enabled false
        _hdfs_prop dfs.webhdfs.enabled false
        _hdfs_prop dfs.namenode.safemode.extension 0
        _hdfs_prop dfs.namenode.datanode.registration.ip-hostname-check false
        _hdfs_prop dfs.heartbeat.interval 1
        _hdfs_prop dfs.namenode.fs-limits.min-block-size 1024
        echo '</configuration>'
    } > "$dir/conf/hdfs-site.xml"
    cat > "$dir/conf/log4j.properties" <<'LOG4J'
log4j.rootLogger=INFO,console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.target=System.err
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{HH:mm:ss,SSS} %p %c{2}: %m%n
LOG4J
}
