//! Per-task options and partitioned output through the real protocol, on
//! the local filesystem and in memory: the format and compression a segment
//! names, Hive directories, the value column left out of the files, a
//! segment spanning partitions published under one record, and recovery
//! after a crash between publishing two of its files.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use sync_core::task::{Compression, FileFormat, TaskOptions};
use sync_sinks::layout::{has_data_extension, is_visible, record_path};
use sync_sinks::record::CommitRecord;
use sync_sinks::{CommitOutcome, Sink, SinkConfig, SinkError, Step, StoreSink};

use common::{Seg, seg, table};

fn sink() -> StoreSink {
    StoreSink::new(SinkConfig::default())
}

fn options(format: FileFormat, partition_by: Option<&str>) -> Arc<TaskOptions> {
    Arc::new(TaskOptions {
        format,
        partition_by: partition_by.map(|p| p.parse().expect("partition_by")),
        ..TaskOptions::default()
    })
}

fn with(mut s: Seg, o: &Arc<TaskOptions>) -> Seg {
    s.stage.options = Some(o.clone());
    s.commit.options = Some(o.clone());
    s
}

/// The visible files, and the `l / 1_000_003` row numbers in them (CSV with
/// a header; `l` is column `l_index`).
async fn csv_rows(sink: &StoreSink, dest: &str, l_index: usize) -> (Vec<String>, Vec<u64>) {
    let files = sink.visible_files(dest).await.expect("list");
    let mut rows = Vec::new();
    for f in &files {
        let bytes = sink.read_file(dest, f).await.expect("read").expect("there");
        let mut r = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
        for rec in r.records() {
            let rec = rec.expect("record");
            let l: i64 = rec[l_index].parse().expect("bigint");
            rows.push((l / 1_000_003) as u64);
        }
    }
    rows.sort_unstable();
    (files, rows)
}

fn hidden_left(files: &[String]) -> Vec<&String> {
    files
        .iter()
        .filter(|f| f.starts_with("_staging/") || f.ends_with(".tmp"))
        .collect()
}

async fn assert_globs_see_only_committed(sink: &StoreSink, dest: &str) {
    for f in sink.all_files(dest).await.expect("all") {
        assert_eq!(has_data_extension(&f), is_visible(&f), "{f}");
    }
}

fn dests() -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let area = sync_sinks::layout::unique_token();
    let dests = vec![
        format!("{}/out", dir.path().display()),
        format!("memory://p-{area}/out"),
    ];
    (dir, dests)
}

#[tokio::test]
async fn a_segment_spanning_partitions_is_one_commit_of_several_files() {
    let (_d, dests) = dests();
    for dest in &dests {
        let sink = sink();
        let schema = table();
        // Column `b` is `n % 2 == 0`: two partitions, the column left out.
        let o = options(FileFormat::Csv, Some("b"));
        let s0 = with(seg(dest, 0, 0, 0, 10), &o);
        sink.stage(&s0.stage, &schema).await.expect("stage");
        assert_globs_see_only_committed(&sink, dest).await;
        assert_eq!(
            sink.commit(&s0.commit).await.expect("commit"),
            CommitOutcome::Committed { files: 2 }
        );
        let (files, rows) = csv_rows(&sink, dest, 2).await;
        assert_eq!(
            files,
            vec![
                "b=false/part-0000000007-00000-0000000003-000000000000.csv",
                "b=true/part-0000000007-00000-0000000003-000000000000.csv",
            ],
            "{dest}"
        );
        assert_eq!(rows, (0..10).collect::<Vec<_>>());
        let header = sink
            .read_file(dest, &files[0])
            .await
            .expect("read")
            .expect("there");
        let header = String::from_utf8(header).expect("utf8");
        assert!(
            header.starts_with("s,i,l,"),
            "the value column is left out: {header}"
        );
        // One record names both files.
        let rec = sink
            .read_file(dest, &record_path(&s0.commit.id))
            .await
            .expect("read")
            .expect("record");
        let (rec, _, _) = CommitRecord::decode(&rec).expect("decode");
        assert_eq!(rec.file.as_deref(), Some(files[0].as_str()));
        assert_eq!(rec.more_files, vec![files[1].clone()]);
        // Replays change nothing.
        sink.stage(&s0.stage, &schema).await.expect("re-stage");
        assert_eq!(
            sink.commit(&s0.commit).await.expect("re-commit"),
            CommitOutcome::AlreadyCommitted { files: 2 }
        );
        let all = sink.all_files(dest).await.expect("all");
        assert!(hidden_left(&all).is_empty(), "{all:?}");
        // The next segment chains as usual.
        let s1 = with(seg(dest, 0, 1, 10, 5), &o);
        sink.stage(&s1.stage, &schema).await.expect("stage 1");
        sink.commit(&s1.commit).await.expect("commit 1");
        assert_eq!(
            csv_rows(&sink, dest, 2).await.1,
            (0..15).collect::<Vec<_>>()
        );
        let committed = sink.committed(dest, None).await.expect("committed");
        assert_eq!((committed[0].last_seq, committed[0].rows_total), (1, 15));
    }
}

#[tokio::test]
async fn day_partitions_keep_their_column_and_name_the_date() {
    let (_d, dests) = dests();
    let dest = &dests[0];
    let sink = sink();
    let schema = table();
    // `dt` of row n is 2000+n%50 - 1+n%12 - 1+n%28.
    let o = options(FileFormat::Csv, Some("day(dt)"));
    let s0 = with(seg(dest, 0, 0, 0, 3), &o);
    sink.stage(&s0.stage, &schema).await.expect("stage");
    sink.commit(&s0.commit).await.expect("commit");
    let (files, rows) = csv_rows(&sink, dest, 3).await;
    let dirs: Vec<&str> = files
        .iter()
        .map(|f| f.split('/').next().unwrap_or(""))
        .collect();
    assert_eq!(
        dirs,
        vec!["day=2000-01-01", "day=2001-02-02", "day=2002-03-03"]
    );
    assert_eq!(rows, vec![0, 1, 2], "dt stays in the files: l is column 3");
}

/// How a half-published segment gets finished after the crash.
#[derive(Clone, Copy, Debug)]
enum Finisher {
    /// The daemon retries the commit it got no answer for.
    CommitRetry,
    /// Recovery clears staging from the next seq on (a part that runs).
    ClearStaging,
    /// Recovery reads the committed points (every part, FAILED ones too).
    CommittedListing,
}

#[tokio::test]
async fn a_crash_between_two_published_files_is_finished_by_recovery() {
    let (_d, dests) = dests();
    for dest in &dests {
        for finisher in [
            Finisher::CommitRetry,
            Finisher::ClearStaging,
            Finisher::CommittedListing,
        ] {
            let dest = format!("{dest}-{finisher:?}");
            let schema = table();
            let o = options(FileFormat::Csv, Some("b"));
            let sink = sink();
            let s0 = with(seg(&dest, 0, 0, 0, 4), &o);
            sink.stage(&s0.stage, &schema).await.expect("stage 0");
            sink.commit(&s0.commit).await.expect("commit 0");
            let s1 = with(seg(&dest, 0, 1, 4, 6), &o);
            sink.stage(&s1.stage, &schema).await.expect("stage 1");
            // Right after the first of its two files is visible.
            sink.crash_after(Step::Published);
            match sink.commit(&s1.commit).await {
                Err(SinkError::InjectedCrash { step, .. }) => assert_eq!(step, Step::Published),
                other => panic!("expected the crash, got {other:?}"),
            }
            drop(sink);
            let sink = self::sink();
            let (files, _) = csv_rows(&sink, &dest, 2).await;
            assert_eq!(
                files.len(),
                3,
                "one file of segment 1 is missing yet: {files:?}"
            );
            match finisher {
                Finisher::CommitRetry => assert_eq!(
                    sink.commit(&s1.commit).await.expect("retry"),
                    CommitOutcome::AlreadyCommitted { files: 2 }
                ),
                Finisher::ClearStaging => {
                    sink.clear_staging(7, 0, 3, &dest, 2).await.expect("clear")
                }
                Finisher::CommittedListing => {
                    sink.committed(&dest, None).await.expect("committed");
                }
            }
            let (files, rows) = csv_rows(&sink, &dest, 2).await;
            assert_eq!(files.len(), 4, "{finisher:?}: {files:?}");
            assert_eq!(rows, (0..10).collect::<Vec<_>>(), "every row once");
            // The first file committed the segment.
            let committed = sink.committed(&dest, None).await.expect("committed");
            assert_eq!((committed[0].last_seq, committed[0].rows_total), (1, 10));
            sink.clear_staging(7, 0, 3, &dest, 2).await.expect("clear");
            let all = sink.all_files(&dest).await.expect("all");
            assert!(hidden_left(&all).is_empty(), "{all:?}");
            assert_globs_see_only_committed(&sink, &dest).await;
        }
    }
}

#[tokio::test]
async fn crashes_before_the_first_publish_leave_nothing_visible() {
    let (_d, dests) = dests();
    for dest in &dests {
        for step in [Step::StageWritten, Step::Staged, Step::RecordWritten] {
            let dest = format!("{dest}-{step:?}");
            let schema = table();
            let o = options(FileFormat::Parquet, Some("b"));
            let sink = sink();
            let s0 = with(seg(&dest, 0, 0, 0, 6), &o);
            sink.crash_after(step);
            let r = match sink.stage(&s0.stage, &schema).await {
                Ok(()) => sink.commit(&s0.commit).await.map(|_| ()),
                Err(e) => Err(e),
            };
            assert!(matches!(r, Err(SinkError::InjectedCrash { .. })), "{r:?}");
            assert_globs_see_only_committed(&sink, &dest).await;
            let sink = self::sink();
            assert!(sink.committed(&dest, None).await.expect("c").is_empty());
            assert!(sink.visible_files(&dest).await.expect("v").is_empty());
            sink.clear_staging(7, 0, 3, &dest, 0).await.expect("clear");
            let all = sink.all_files(&dest).await.expect("all");
            assert!(hidden_left(&all).is_empty(), "{step:?}: {all:?}");
            assert!(
                all.iter()
                    .all(|f| !f.starts_with("_sync/") || f.ends_with('/')),
                "{step:?}: the uncommitted record is removed: {all:?}"
            );
            // And the segment commits afresh.
            sink.stage(&s0.stage, &schema).await.expect("stage");
            sink.commit(&s0.commit).await.expect("commit");
            let files: BTreeSet<String> = sink
                .visible_files(&dest)
                .await
                .expect("v")
                .into_iter()
                .collect();
            assert_eq!(files.len(), 2, "{files:?}");
        }
    }
}

#[tokio::test]
async fn each_segment_uses_its_task_format_and_compression() {
    let (_d, dests) = dests();
    let dest = &dests[0];
    let sink = sink();
    let schema = table();
    let zstd = Arc::new(TaskOptions {
        format: FileFormat::Parquet,
        compression: Compression::Zstd,
        ..TaskOptions::default()
    });
    let s0 = with(seg(dest, 0, 0, 0, 5), &zstd);
    sink.stage(&s0.stage, &schema).await.expect("stage");
    sink.commit(&s0.commit).await.expect("commit");
    let csv = Arc::new(TaskOptions {
        format: FileFormat::Csv,
        csv_header: false,
        csv_null: "NULL".into(),
        ..TaskOptions::default()
    });
    let s1 = with(seg(dest, 1, 0, 0, 5), &csv);
    sink.stage(&s1.stage, &schema).await.expect("stage csv");
    sink.commit(&s1.commit).await.expect("commit csv");
    let files = sink.visible_files(dest).await.expect("list");
    assert_eq!(
        files,
        vec![
            "part-0000000007-00000-0000000003-000000000000.parquet",
            "part-0000000007-00001-0000000003-000000000000.csv",
        ]
    );
    let bytes = sink
        .read_file(dest, &files[0])
        .await
        .expect("r")
        .expect("f");
    let reader =
        parquet::file::serialized_reader::SerializedFileReader::new(bytes::Bytes::from(bytes))
            .expect("parquet");
    use parquet::file::reader::FileReader;
    let codec = reader.metadata().row_group(0).column(0).compression();
    assert_eq!(codec, parquet::basic::Compression::ZSTD(Default::default()));
    let text = sink
        .read_file(dest, &files[1])
        .await
        .expect("r")
        .expect("f");
    let text = String::from_utf8(text).expect("utf8");
    assert!(text.starts_with("true,0,"), "no header: {text}");
    assert!(text.contains(",NULL\n"), "the NULL token: {text}");
}
