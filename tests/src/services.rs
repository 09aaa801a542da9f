//! The services `scripts/test.sh` starts, found through the environment:
//! `SYNC_TEST_ZK` (ZooKeeper `host:port`), `SYNC_TEST_HDFS`
//! (`hdfs://127.0.0.1:port`), `SYNC_TEST_HDFS_CONF` (a Hadoop conf dir),
//! `SYNC_TEST_S3_ENDPOINT` (moto, `http://127.0.0.1:port`).
//!
//! A test that needs a missing service prints `skipped: …` and passes, unless
//! `SYNC_REQUIRE_SERVICES=1` (the test command sets it), when it fails.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::bail;

use crate::http;

/// The value of `var`, or `None` after printing "skipped" (a panic if
/// services are required).
pub fn service(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var("SYNC_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "{var} is not set but SYNC_REQUIRE_SERVICES=1"
            );
            println!("skipped: {var} is not set (run scripts/test.sh)");
            None
        }
    }
}

/// A name no other run or call uses (lowercase, for S3 buckets).
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}-{nanos}", std::process::id()).to_lowercase()
}

/// Creates a bucket on an S3 endpoint that needs no signature (moto).
pub fn create_bucket(endpoint: &str, bucket: &str) -> anyhow::Result<()> {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let reply = http::request(host, "PUT", &format!("/{bucket}"), None, http::TIMEOUT)?;
    if reply.status != 200 {
        bail!(
            "create bucket {bucket}: HTTP {}: {}",
            reply.status,
            reply.body
        );
    }
    Ok(())
}
