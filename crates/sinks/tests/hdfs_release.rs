//! `Sink::release` really lets go of an HDFS destination: after a commit
//! (which starts hdfs-native's lease renewal, a task that keeps the client's
//! NameNode connection for good) and `release`, this process has no
//! connection to the NameNode left; a later call opens the store again.
//! Alone in its test binary, so no other test's connections are counted.
//! Needs `SYNC_TEST_HDFS` (skipped without it unless `SYNC_REQUIRE_SERVICES=1`).

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sync_sinks::{Sink, SinkConfig, StoreSink};

/// Inodes of this process's sockets.
fn own_sockets() -> HashSet<u64> {
    let mut inodes = HashSet::new();
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return inodes;
    };
    for fd in fds.flatten() {
        if let Ok(target) = std::fs::read_link(fd.path()) {
            let target = target.to_string_lossy().into_owned();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse().ok())
            {
                inodes.insert(inode);
            }
        }
    }
    inodes
}

/// This process's established TCP connections to `port`.
fn connections_to(port: u16) -> usize {
    let own = own_sockets();
    let mut n = 0;
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(remote), Some(state), Some(inode)) = (cols.get(2), cols.get(3), cols.get(9))
            else {
                continue;
            };
            let remote_port = remote
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            let inode: Option<u64> = inode.parse().ok();
            if remote_port == Some(port)
                && *state == "01"
                && inode.is_some_and(|i| own.contains(&i))
            {
                n += 1;
            }
        }
    }
    n
}

/// Polls `f` until it holds or `limit` passes.
async fn eventually(limit: Duration, f: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    f()
}

#[tokio::test]
async fn release_closes_the_name_node_connection() {
    let nn = match std::env::var("SYNC_TEST_HDFS") {
        Ok(v) if !v.is_empty() => v,
        _ => {
            assert!(
                std::env::var("SYNC_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "SYNC_TEST_HDFS is not set but SYNC_REQUIRE_SERVICES=1"
            );
            println!("skipped: SYNC_TEST_HDFS is not set");
            return;
        }
    };
    let port: u16 = nn
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .expect("port in SYNC_TEST_HDFS");
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dest = format!("{nn}/sinks-release-{}-{nanos}", std::process::id());
    assert_eq!(connections_to(port), 0, "no connection before");

    let sink = StoreSink::new(SinkConfig::default());
    let s0 = common::seg(&dest, 0, 0, 0, 5);
    sink.stage(&s0.stage, &common::table())
        .await
        .expect("stage");
    sink.commit(&s0.commit).await.expect("commit");
    assert!(connections_to(port) >= 1, "connected while in use");
    // Dropping the client alone is not enough (the lease renewal holds the
    // connection); release shuts its runtime down.
    sink.release(&dest);
    assert!(
        eventually(Duration::from_secs(5), || connections_to(port) == 0).await,
        "{} connection(s) to the NameNode left after release",
        connections_to(port)
    );
    // The destination opens again.
    assert_eq!(
        sink.committed(&dest, None).await.expect("committed").len(),
        1
    );
    assert!(connections_to(port) >= 1);
    sink.release(&dest);
    assert!(eventually(Duration::from_secs(5), || connections_to(port) == 0).await);
}
