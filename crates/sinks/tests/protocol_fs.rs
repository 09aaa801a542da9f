//! The commit protocol on the local filesystem (the embedded default).

mod common;

use sync_sinks::{OutputFormat, ParquetOptions, SinkConfig, Step, StoreSink};

fn csv_sink() -> StoreSink {
    StoreSink::new(SinkConfig::default())
}

fn parquet_sink() -> StoreSink {
    StoreSink::new(SinkConfig {
        format: OutputFormat::Parquet(ParquetOptions::default()),
        ..SinkConfig::default()
    })
}

fn base() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().display().to_string();
    (dir, base)
}

#[tokio::test]
async fn stage_commit_replay() {
    let (_d, base) = base();
    common::suite::stage_commit_replay(&csv_sink, &format!("{base}/out")).await;
}

#[tokio::test]
async fn stage_commit_replay_file_url() {
    let (_d, base) = base();
    common::suite::stage_commit_replay(&csv_sink, &format!("file://{base}/out")).await;
}

#[tokio::test]
async fn crash_after_stage_temp_written() {
    let (_d, base) = base();
    common::suite::crash_after(&csv_sink, &format!("{base}/out"), Step::StageWritten).await;
}

#[tokio::test]
async fn crash_after_staged() {
    let (_d, base) = base();
    common::suite::crash_after(&csv_sink, &format!("{base}/out"), Step::Staged).await;
}

#[tokio::test]
async fn crash_after_record_written() {
    let (_d, base) = base();
    common::suite::crash_after(&csv_sink, &format!("{base}/out"), Step::RecordWritten).await;
}

#[tokio::test]
async fn crash_after_published() {
    let (_d, base) = base();
    common::suite::crash_after(&csv_sink, &format!("{base}/out"), Step::Published).await;
}

#[tokio::test]
async fn crash_before_reply() {
    let (_d, base) = base();
    common::suite::crash_after(&csv_sink, &format!("{base}/out"), Step::Committed).await;
}

#[tokio::test]
async fn start_conflict_and_staging_checks() {
    let (_d, base) = base();
    common::suite::checks(&csv_sink, &format!("{base}/out")).await;
}

#[tokio::test]
async fn empty_segment_commits_by_record() {
    let (_d, base) = base();
    common::suite::empty_segment(&csv_sink, &format!("{base}/out")).await;
}

#[tokio::test]
async fn clear_staging_keeps_committed() {
    let (_d, base) = base();
    common::suite::clear_staging(&csv_sink, &format!("{base}/out")).await;
}

#[tokio::test]
async fn parquet_protocol() {
    let (_d, base) = base();
    common::suite::parquet_protocol(&parquet_sink, &format!("{base}/out")).await;
}

#[tokio::test]
async fn exclusive_record_conflict() {
    let (_d, base) = base();
    common::suite::exclusive_record_conflict(&csv_sink, &format!("{base}/out")).await;
}

#[tokio::test]
async fn exclusive_record_same_commit() {
    let (_d, base) = base();
    common::suite::exclusive_record_same_commit(&csv_sink, &format!("{base}/out")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_commits() {
    let (_d, base) = base();
    for i in 0..5 {
        common::suite::racing_commits(&csv_sink, &format!("{base}/out{i}")).await;
    }
}

#[tokio::test]
async fn publish_never_replaces() {
    let (_d, base) = base();
    common::suite::publish_never_replaces(&csv_sink, &format!("{base}/out")).await;
}

#[tokio::test]
async fn staged_names_hidden() {
    let (_d, base) = base();
    common::suite::staged_names_hidden(&csv_sink, &format!("{base}/out"), true).await;
    common::suite::staged_names_hidden(&parquet_sink, &format!("{base}/pq"), true).await;
}

#[tokio::test]
async fn bad_destination_is_an_error() {
    use sync_sinks::Sink;
    let sink = csv_sink();
    let err = sink
        .committed("relative/path", None)
        .await
        .expect_err("relative");
    assert!(
        matches!(err, sync_sinks::SinkError::BadDestination { .. }),
        "{err}"
    );
}
