#!/usr/bin/env bash
# The core (crates/core) must stay pure: no I/O, no clock, no threads. This
# fails if its sources name an I/O or time API, or if its normal dependency
# tree pulls in an async runtime or network stack.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
forbidden='tokio|async_std|std::fs|std::net|std::thread|std::process|SystemTime::now|Instant::now|std::env::var'
if grep -rnE "$forbidden" crates/core/src; then
    echo "crates/core/src uses I/O, clock or thread APIs (listed above)" >&2
    status=1
fi
io_crates='^(tokio|mio|socket2|hyper|h2|tonic|async-io|async-net|reqwest|opendal|hdfs-native|rocksdb|zookeeper-client) '
if cargo tree -p sync-core -e normal --prefix none 2>/dev/null | grep -E "$io_crates"; then
    echo "sync-core depends on I/O crates (listed above)" >&2
    status=1
fi
[ "$status" = 0 ] && echo "core purity: ok"
exit "$status"
