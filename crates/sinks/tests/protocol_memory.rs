//! The commit protocol over the in-memory backend (`memory://<area>/…`), the
//! store of the simulation: the whole suite, areas shared by name between
//! sinks (a restarted SyncTool), and `forget_memory_area`.

mod common;

use sync_sinks::layout::unique_token;
use sync_sinks::{OutputFormat, ParquetOptions, Sink, SinkConfig, StoreSink, forget_memory_area};

fn csv_sink() -> StoreSink {
    StoreSink::new(SinkConfig::default())
}

fn parquet_sink() -> StoreSink {
    StoreSink::new(SinkConfig {
        format: OutputFormat::Parquet(ParquetOptions::default()),
        ..SinkConfig::default()
    })
}

fn area() -> String {
    format!("test-{}", unique_token())
}

#[tokio::test]
async fn memory_protocol() {
    let area = area();
    common::suite::all(
        &csv_sink,
        &parquet_sink,
        &format!("memory://{area}/base"),
        true,
    )
    .await;
    assert!(forget_memory_area(&area));
}

#[tokio::test]
async fn areas_are_shared_by_name_and_forgotten() {
    let area = area();
    let dest = format!("memory://{area}/t1");
    common::suite::stage_commit_replay(&csv_sink, &dest).await;
    // Another sink (a restarted SyncTool) sees the committed segments.
    let restarted = csv_sink();
    assert_eq!(
        restarted
            .committed(&dest, None)
            .await
            .expect("committed")
            .len(),
        1
    );
    assert_eq!(restarted.visible_files(&dest).await.expect("list").len(), 2);
    // Another area is another store.
    let other = format!("memory://{}/t1", self::area());
    assert!(
        restarted
            .committed(&other, None)
            .await
            .expect("other")
            .is_empty()
    );
    assert!(forget_memory_area(&area));
    assert!(
        restarted
            .committed(&dest, None)
            .await
            .expect("after")
            .is_empty()
    );
    assert!(
        restarted
            .visible_files(&dest)
            .await
            .expect("list")
            .is_empty()
    );
    forget_memory_area(&area);
}

#[tokio::test]
async fn memory_destination_check() {
    let area = area();
    let sink = csv_sink();
    sink.check_destination(&format!("memory://{area}/x"))
        .await
        .expect("memory is usable");
    assert!(
        sink.all_files(&format!("memory://{area}/x"))
            .await
            .expect("list")
            .is_empty(),
        "the probe is removed"
    );
    assert!(sink.check_destination("memory:///x").await.is_err());
    forget_memory_area(&area);
}
