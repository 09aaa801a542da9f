//! The commit-protocol suite. Each function takes a factory for the sink (a
//! new sink = a restarted SyncTool, nothing kept in memory) and a fresh,
//! empty destination.

use sync_core::task::SinkProgress;
use sync_sinks::layout::is_visible;
use sync_sinks::{CommitOutcome, OutputFormat, Sink, SinkError, Step, StoreSink};

use super::{point, seg, table};

/// The row numbers in the visible CSV files of `dest`, sorted (column `l`
/// holds `n * 1_000_003`).
pub async fn visible_rows(sink: &StoreSink, dest: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for file in sink.visible_files(dest).await.expect("list") {
        let bytes = sink
            .read_file(dest, &file)
            .await
            .expect("read")
            .expect("exists");
        if file.ends_with(".parquet") {
            use arrow_array::cast::AsArray;
            use arrow_array::types::Int64Type;
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                bytes::Bytes::from(bytes),
            )
            .expect("parquet")
            .build()
            .expect("reader");
            for batch in reader {
                let batch = batch.expect("batch");
                let l = batch.column(3).as_primitive::<Int64Type>();
                for i in 0..l.len() {
                    out.push((l.value(i) / 1_000_003) as u64);
                }
            }
            continue;
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(bytes.as_slice());
        for record in reader.records() {
            let record = record.expect("csv record");
            let l: i64 = record[3].parse().expect("bigint");
            out.push((l / 1_000_003) as u64);
        }
    }
    out.sort_unstable();
    out
}

/// Asserts that the visible rows are exactly `0..n`, once each, and that no
/// hidden or temporary file is visible.
pub async fn assert_exactly(sink: &StoreSink, dest: &str, n: u64) {
    let rows = visible_rows(sink, dest).await;
    assert_eq!(rows, (0..n).collect::<Vec<_>>(), "visible rows of {dest}");
    let ext = sink.config().format.extension();
    for file in sink.all_files(dest).await.expect("list all") {
        if is_visible(&file) {
            assert!(
                file.starts_with("part-")
                    && file.ends_with(&format!(".{ext}"))
                    && !file.contains(".tmp"),
                "unexpected visible file {file}"
            );
        }
    }
}

fn progress(last_seq: u64, rows: u64, pid: u32) -> SinkProgress {
    SinkProgress {
        tid: 7,
        pid,
        task_id: 3,
        last_seq,
        end: point(rows),
        rows_total: rows,
    }
}

/// Stage + commit, then every replay is a no-op and leaves one copy.
pub async fn stage_commit_replay(new_sink: &dyn Fn() -> StoreSink, dest: &str) {
    let sink = new_sink();
    let schema = table();
    assert_eq!(sink.committed(dest, None).await.expect("committed"), vec![]);
    let s0 = seg(dest, 0, 0, 0, 10);
    sink.stage(&s0.stage, &schema).await.expect("stage");
    assert!(
        sink.visible_files(dest).await.expect("list").is_empty(),
        "staged rows are hidden"
    );
    assert_eq!(
        sink.commit(&s0.commit).await.expect("commit"),
        CommitOutcome::Committed
    );
    let before = sink.visible_files(dest).await.expect("list");
    assert_eq!(before.len(), 1);
    // Replays: commit again, stage again, commit again.
    assert_eq!(
        sink.commit(&s0.commit).await.expect("re-commit"),
        CommitOutcome::AlreadyCommitted
    );
    sink.stage(&s0.stage, &schema).await.expect("re-stage");
    assert_eq!(
        sink.commit(&s0.commit).await.expect("re-commit"),
        CommitOutcome::AlreadyCommitted
    );
    assert_eq!(sink.visible_files(dest).await.expect("list"), before);
    // The second segment.
    let s1 = seg(dest, 0, 1, 10, 15);
    sink.stage(&s1.stage, &schema).await.expect("stage 1");
    sink.commit(&s1.commit).await.expect("commit 1");
    assert_exactly(&sink, dest, 25).await;
    // Nothing staged remains; a restarted sink reads the progress back.
    let files = sink.all_files(dest).await.expect("all");
    assert!(
        !files.iter().any(|f| f.starts_with("_staging/")),
        "{files:?}"
    );
    let sink = new_sink();
    assert_eq!(
        sink.committed(dest, Some(7)).await.expect("committed"),
        vec![progress(1, 25, 0)]
    );
    assert_eq!(
        sink.committed(dest, Some(8)).await.expect("committed"),
        vec![]
    );
}

/// A crash right after `step` of segment 1, a restart, recovery as the core
/// does it (clear staging from the next seq, then stage and commit the
/// rebuilt segment), and exactly one copy of every row at the end.
pub async fn crash_after(new_sink: &dyn Fn() -> StoreSink, dest: &str, step: Step) {
    let schema = table();
    let sink = new_sink();
    let s0 = seg(dest, 0, 0, 0, 10);
    sink.stage(&s0.stage, &schema).await.expect("stage 0");
    sink.commit(&s0.commit).await.expect("commit 0");

    let s1 = seg(dest, 0, 1, 10, 10);
    sink.crash_after(step);
    let staged = sink.stage(&s1.stage, &schema).await;
    let result = match staged {
        Ok(()) => sink.commit(&s1.commit).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Err(SinkError::InjectedCrash { step: s, .. }) => assert_eq!(s, step),
        other => panic!("expected a crash after {step:?}, got {other:?}"),
    }
    drop(sink);

    // Restart: the sink alone says what is committed.
    let sink = new_sink();
    let committed = sink.committed(dest, Some(7)).await.expect("committed");
    let seg1_done = matches!(step, Step::Published | Step::Committed);
    let expect = if seg1_done {
        progress(1, 20, 0)
    } else {
        progress(0, 10, 0)
    };
    assert_eq!(
        committed,
        vec![expect.clone()],
        "after a crash after {step:?}"
    );
    if !seg1_done {
        assert_exactly(&sink, dest, 10).await;
    }
    sink.clear_staging(7, 0, 3, dest, expect.last_seq + 1)
        .await
        .expect("clear");
    let hidden: Vec<String> = sink
        .all_files(dest)
        .await
        .expect("all")
        .into_iter()
        .filter(|f| f.starts_with("_staging/") || f.ends_with(".tmp"))
        .collect();
    assert!(hidden.is_empty(), "left after clear_staging: {hidden:?}");

    if seg1_done {
        // The daemon may still retry the unanswered commit, and a stale stage.
        sink.stage(&s1.stage, &schema).await.expect("re-stage");
        assert_eq!(
            sink.commit(&s1.commit).await.expect("re-commit"),
            CommitOutcome::AlreadyCommitted
        );
    } else {
        // The rebuilt segment 1 may differ from the lost one (other roll point).
        let s1 = seg(dest, 0, 1, 10, 7);
        sink.stage(&s1.stage, &schema).await.expect("stage 1");
        assert_eq!(
            sink.commit(&s1.commit).await.expect("commit 1"),
            CommitOutcome::Committed
        );
        let s2 = seg(dest, 0, 2, 17, 3);
        sink.stage(&s2.stage, &schema).await.expect("stage 2");
        sink.commit(&s2.commit).await.expect("commit 2");
    }
    assert_exactly(&sink, dest, 20).await;
    let last = if seg1_done { 1 } else { 2 };
    assert_eq!(
        sink.committed(dest, None).await.expect("committed"),
        vec![progress(last, 20, 0)]
    );
    let files = sink.all_files(dest).await.expect("all");
    assert!(
        !files.iter().any(|f| f.starts_with("_staging/")),
        "{files:?}"
    );
}

/// `start` must be the end of the previous segment; a different re-commit of
/// a committed segment is a conflict; an unstaged segment cannot commit.
pub async fn checks(new_sink: &dyn Fn() -> StoreSink, dest: &str) {
    let schema = table();
    let sink = new_sink();
    let s0 = seg(dest, 0, 0, 0, 5);
    let s1 = seg(dest, 0, 1, 5, 5);
    // Segment 1 before segment 0 is committed.
    sink.stage(&s1.stage, &schema).await.expect("stage 1");
    match sink.commit(&s1.commit).await {
        Err(SinkError::StartMismatch {
            previous_end: None, ..
        }) => {}
        other => panic!("expected StartMismatch without previous, got {other:?}"),
    }
    // Not staged.
    match sink.commit(&s0.commit).await {
        Err(SinkError::NotStaged { .. }) => {}
        other => panic!("expected NotStaged, got {other:?}"),
    }
    sink.stage(&s0.stage, &schema).await.expect("stage 0");
    sink.commit(&s0.commit).await.expect("commit 0");
    // Wrong start.
    let mut bad = s1.commit.clone();
    bad.start = point(4);
    match sink.commit(&bad).await {
        Err(SinkError::StartMismatch {
            previous_end: Some(end),
            ..
        }) => assert_eq!(*end, point(5)),
        other => panic!("expected StartMismatch, got {other:?}"),
    }
    // A different commit of the committed segment 0.
    let mut other = s0.commit.clone();
    other.end = point(6);
    match sink.commit(&other).await {
        Err(SinkError::CommitConflict { what: "end", .. }) => {}
        other => panic!("expected CommitConflict, got {other:?}"),
    }
    assert!(matches!(
        sink.commit(&s1.commit).await,
        Ok(CommitOutcome::Committed)
    ));
    assert_exactly(&sink, dest, 10).await;
}

/// A segment without rows commits by its record alone, and the next segment
/// starts from its end.
pub async fn empty_segment(new_sink: &dyn Fn() -> StoreSink, dest: &str) {
    let schema = table();
    let sink = new_sink();
    let s0 = seg(dest, 1, 0, 0, 4);
    sink.stage(&s0.stage, &schema).await.expect("stage 0");
    sink.commit(&s0.commit).await.expect("commit 0");
    let mut e1 = seg(dest, 1, 1, 4, 0);
    e1.commit.end = sync_core::point::Point::Binlog { offset: 100 };
    sink.stage(&e1.stage, &schema).await.expect("stage empty");
    assert_eq!(
        sink.commit(&e1.commit).await.expect("commit empty"),
        CommitOutcome::Committed
    );
    assert_eq!(
        sink.commit(&e1.commit).await.expect("again"),
        CommitOutcome::AlreadyCommitted
    );
    let restarted = new_sink();
    let got = restarted.committed(dest, None).await.expect("committed");
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].last_seq, got[0].rows_total), (1, 4));
    assert_eq!(got[0].end, sync_core::point::Point::Binlog { offset: 100 });
    let mut s2 = seg(dest, 1, 2, 4, 3);
    s2.commit.start = sync_core::point::Point::Binlog { offset: 100 };
    restarted.stage(&s2.stage, &schema).await.expect("stage 2");
    restarted.commit(&s2.commit).await.expect("commit 2");
    assert_eq!(restarted.visible_files(dest).await.expect("list").len(), 2);
    assert_exactly(&restarted, dest, 7).await;
}

/// clear_staging removes only the given partition task's staged files and
/// uncommitted records from `from_seq` on.
pub async fn clear_staging(new_sink: &dyn Fn() -> StoreSink, dest: &str) {
    let schema = table();
    let sink = new_sink();
    let a0 = seg(dest, 0, 0, 0, 3);
    sink.stage(&a0.stage, &schema).await.expect("stage");
    sink.commit(&a0.commit).await.expect("commit");
    let a1 = seg(dest, 0, 1, 3, 3);
    let a2 = seg(dest, 0, 2, 6, 3);
    let b1 = seg(dest, 1, 1, 3, 3);
    for s in [&a1, &a2, &b1] {
        sink.stage(&s.stage, &schema).await.expect("stage");
    }
    // A record written, its file not published (a crash after RecordWritten).
    sink.crash_after(Step::RecordWritten);
    assert!(sink.commit(&a1.commit).await.is_err());
    let staged = |files: Vec<String>| -> Vec<String> {
        files.into_iter().filter(|f| !is_visible(f)).collect()
    };
    sink.clear_staging(7, 0, 3, dest, 2)
        .await
        .expect("clear from 2");
    let left = staged(sink.all_files(dest).await.expect("all"));
    assert!(
        left.iter()
            .any(|f| f.contains("-00000-0000000003-000000000001.")),
        "a1 kept: {left:?}"
    );
    assert!(
        !left
            .iter()
            .any(|f| f.contains("-00000-0000000003-000000000002.")),
        "a2 gone: {left:?}"
    );
    assert!(
        left.iter()
            .any(|f| f.contains("-00001-0000000003-000000000001.")),
        "b1 kept: {left:?}"
    );
    sink.clear_staging(7, 0, 3, dest, 0)
        .await
        .expect("clear from 0");
    let left = staged(sink.all_files(dest).await.expect("all"));
    let want_record = "_sync/0000000007-00000-0000000003/000000000000.commit";
    assert!(
        left.contains(&want_record.to_owned()),
        "committed record kept: {left:?}"
    );
    assert!(
        !left
            .iter()
            .any(|f| f.contains("_sync/0000000007-00000-0000000003/000000000001")),
        "uncommitted record gone: {left:?}"
    );
    assert!(
        !left
            .iter()
            .any(|f| f.contains("-00000-0000000003-") && f.starts_with("_staging/")),
        "{left:?}"
    );
    assert_exactly(&sink, dest, 3).await;
    assert_eq!(
        sink.committed(dest, None).await.expect("committed"),
        vec![progress(0, 3, 0)]
    );
}

/// Parquet through the same protocol.
pub async fn parquet_protocol(new_sink: &dyn Fn() -> StoreSink, dest: &str) {
    let sink = new_sink();
    assert!(matches!(sink.config().format, OutputFormat::Parquet(_)));
    let schema = table();
    for (seq, first, count) in [(0, 0, 100), (1, 100, 50)] {
        let s = seg(dest, 2, seq, first, count);
        sink.stage(&s.stage, &schema).await.expect("stage");
        sink.commit(&s.commit).await.expect("commit");
    }
    assert_exactly(&sink, dest, 150).await;
}

/// Every protocol test, one destination each under `base` (no trailing slash).
/// `renames`: the store renames (local fs, HDFS), so staging has a
/// temporary step; S3 writes staged objects whole in one PUT.
pub async fn all(
    new_sink: &dyn Fn() -> StoreSink,
    new_parquet_sink: &dyn Fn() -> StoreSink,
    base: &str,
    renames: bool,
) {
    stage_commit_replay(new_sink, &format!("{base}/replay")).await;
    let steps = [
        Step::StageWritten,
        Step::Staged,
        Step::RecordWritten,
        Step::Published,
        Step::Committed,
    ];
    for (i, step) in steps.into_iter().enumerate() {
        if step == Step::StageWritten && !renames {
            continue;
        }
        crash_after(new_sink, &format!("{base}/crash{i}"), step).await;
    }
    checks(new_sink, &format!("{base}/checks")).await;
    empty_segment(new_sink, &format!("{base}/empty")).await;
    clear_staging(new_sink, &format!("{base}/clear")).await;
    parquet_protocol(new_parquet_sink, &format!("{base}/parquet")).await;
}
