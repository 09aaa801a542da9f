//! The commit protocol against real services: HDFS (`SYNC_TEST_HDFS`,
//! `hdfs://127.0.0.1:<port>`, started by `scripts/lib/hdfs.sh`) and S3 (moto,
//! `SYNC_TEST_S3_ENDPOINT`, started by `scripts/lib/s3.sh`). Without the
//! variable a test prints "skipped: …" and passes, unless
//! `SYNC_REQUIRE_SERVICES=1`, when it fails.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use sync_sinks::{OutputFormat, ParquetOptions, S3Options, Sink, SinkConfig, StoreSink};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn service(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var("SYNC_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "{var} is not set but SYNC_REQUIRE_SERVICES=1"
            );
            println!("skipped: {var} is not set");
            None
        }
    }
}

/// A name no other run uses.
fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos}", std::process::id())
}

fn with_format(config: SinkConfig, parquet: bool) -> SinkConfig {
    if parquet {
        SinkConfig {
            format: OutputFormat::Parquet(ParquetOptions::default()),
            ..config
        }
    } else {
        config
    }
}

#[tokio::test]
async fn hdfs_protocol() {
    let Some(nn) = service("SYNC_TEST_HDFS") else {
        return;
    };
    let base = format!("{}/{}", nn.trim_end_matches('/'), unique("sinks-test"));
    let csv = || StoreSink::new(SinkConfig::default());
    let parquet = || StoreSink::new(with_format(SinkConfig::default(), true));
    common::suite::all(&csv, &parquet, &base, true).await;
}

#[tokio::test]
async fn hdfs_bare_path_uses_core_site() {
    let Some(_) = service("SYNC_TEST_HDFS") else {
        return;
    };
    let Some(conf) = service("SYNC_TEST_HDFS_CONF") else {
        return;
    };
    let config = SinkConfig {
        hadoop_conf_dir: Some(conf.into()),
        ..SinkConfig::default()
    };
    let new_sink = || StoreSink::new(config.clone());
    let dest = format!("/{}", unique("sinks-bare"));
    common::suite::stage_commit_replay(&new_sink, &dest).await;
    // The files are on HDFS, not on the local disk.
    assert!(!std::path::Path::new(&dest).exists());
    let nn = std::env::var("SYNC_TEST_HDFS").unwrap_or_default();
    let via_url = StoreSink::new(SinkConfig::default());
    let files = via_url
        .visible_files(&format!("{nn}{dest}"))
        .await
        .expect("list");
    assert_eq!(files.len(), 2, "{files:?}");
}

/// Creates `bucket` on the S3 endpoint (moto needs no signature).
async fn create_bucket(endpoint: &str, bucket: &str) {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = tokio::net::TcpStream::connect(host)
        .await
        .expect("connect to S3");
    let req = format!(
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(req.as_bytes()).await.expect("send");
    let mut resp = String::new();
    conn.read_to_string(&mut resp).await.expect("read");
    assert!(resp.starts_with("HTTP/1.1 200"), "create bucket: {resp}");
}

fn s3_config(endpoint: &str) -> SinkConfig {
    SinkConfig {
        s3: S3Options {
            endpoint: Some(endpoint.to_owned()),
            access_key_id: Some("test".to_owned()),
            secret_access_key: Some("test".to_owned()),
            ..S3Options::default()
        },
        ..SinkConfig::default()
    }
}

#[tokio::test]
async fn s3_protocol() {
    let Some(endpoint) = service("SYNC_TEST_S3_ENDPOINT") else {
        return;
    };
    let bucket = unique("sinks").to_lowercase();
    create_bucket(&endpoint, &bucket).await;
    let config = s3_config(&endpoint);
    let csv = || StoreSink::new(config.clone());
    let parquet = || StoreSink::new(with_format(config.clone(), true));
    common::suite::all(&csv, &parquet, &format!("s3://{bucket}/out"), false).await;
}
