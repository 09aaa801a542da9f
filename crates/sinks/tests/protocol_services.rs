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

/// The reason of a refusal, which must be `Unusable`.
async fn unusable(sink: &StoreSink, dest: &str) -> String {
    match sink.check_destination(dest).await {
        Err(sync_sinks::SinkError::Unusable { reason, .. }) => {
            println!("{dest}: refused: {reason}");
            reason
        }
        other => panic!("{dest}: expected Unusable, got {other:?}"),
    }
}

#[tokio::test]
async fn hdfs_destination_check() {
    let Some(nn) = service("SYNC_TEST_HDFS") else {
        return;
    };
    let sink = StoreSink::new(SinkConfig::default());
    let dest = format!("{}/{}/a/b", nn.trim_end_matches('/'), unique("sinks-check"));
    sink.check_destination(&dest).await.expect("usable");
    assert!(
        sink.all_files(&dest).await.expect("list").is_empty(),
        "no probe left"
    );
    // Under a regular file.
    let file_dest = format!("{}/{}", nn.trim_end_matches('/'), unique("sinks-file"));
    sink.write_file(&file_dest, "f", b"x".to_vec())
        .await
        .expect("write");
    let reason = unusable(&sink, &format!("{file_dest}/f/x")).await;
    assert!(reason.contains("cannot create the directory"), "{reason}");
    // Nothing listens: refused at once, naming the NameNode.
    let started = std::time::Instant::now();
    let reason = unusable(&sink, "hdfs://127.0.0.1:1/x").await;
    assert!(
        reason.contains("cannot connect to the NameNode hdfs://127.0.0.1:1: Connection refused"),
        "{reason}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

#[tokio::test]
async fn a_silent_name_node_is_refused_within_the_check_timeout() {
    // A port whose connections are queued but never served: the RPC
    // handshake waits forever, as with a hung NameNode.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let sink = StoreSink::new(SinkConfig {
        check_timeout: std::time::Duration::from_secs(1),
        ..SinkConfig::default()
    });
    let started = std::time::Instant::now();
    let reason = unusable(&sink, &format!("hdfs://127.0.0.1:{port}/x")).await;
    assert!(
        reason.contains(&format!(
            "cannot connect to the NameNode hdfs://127.0.0.1:{port}: no answer within 1s"
        )),
        "{reason}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
}

#[tokio::test]
async fn s3_destination_check() {
    let Some(endpoint) = service("SYNC_TEST_S3_ENDPOINT") else {
        return;
    };
    let bucket = unique("sinks-check").to_lowercase();
    create_bucket(&endpoint, &bucket).await;
    let sink = StoreSink::new(s3_config(&endpoint));
    let dest = format!("s3://{bucket}/out");
    sink.check_destination(&dest).await.expect("usable");
    assert!(
        sink.all_files(&dest).await.expect("list").is_empty(),
        "no probe left"
    );
    let reason = unusable(&sink, "s3://no-such-bucket-here/out").await;
    assert!(reason.contains("no-such-bucket-here"), "{reason}");
    let nowhere = StoreSink::new(s3_config("http://127.0.0.1:1"));
    let reason = unusable(&nowhere, &dest).await;
    assert!(
        reason.contains(&format!("cannot reach the bucket {bucket}")),
        "{reason}"
    );
}
