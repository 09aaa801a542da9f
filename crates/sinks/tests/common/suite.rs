//! The commit-protocol suite. Each function takes a factory for the sink (a
//! new sink = a restarted SyncTool, nothing kept in memory) and a fresh,
//! empty destination.

use sync_core::task::SinkProgress;
use sync_sinks::layout::{has_data_extension, is_visible, record_path, visible_path};
use sync_sinks::record::CommitRecord;
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
    assert_globs_see_only_committed(sink, dest).await;
}

/// Asserts that a reader's glob `dest/**/*.csv` (or `*.parquet`) matches
/// committed files only: no staged file, temporary or record has a data
/// extension, and every file with one is visible.
pub async fn assert_globs_see_only_committed(sink: &StoreSink, dest: &str) {
    for file in sink.all_files(dest).await.expect("list all") {
        assert_eq!(
            has_data_extension(&file),
            is_visible(&file),
            "{file}: a data glob would match it"
        );
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
        CommitOutcome::Committed { files: 1 }
    );
    let before = sink.visible_files(dest).await.expect("list");
    assert_eq!(before.len(), 1);
    // The record names the writer's epoch.
    let bytes = sink
        .read_file(dest, &record_path(&s0.commit.id))
        .await
        .expect("read record")
        .expect("record");
    let (record, _, _) = CommitRecord::decode(&bytes).expect("decode record");
    assert_eq!(record.epoch, s0.commit.epoch);
    // Replays: commit again, stage again, commit again.
    assert_eq!(
        sink.commit(&s0.commit).await.expect("re-commit"),
        CommitOutcome::AlreadyCommitted { files: 1 }
    );
    sink.stage(&s0.stage, &schema).await.expect("re-stage");
    assert_eq!(
        sink.commit(&s0.commit).await.expect("re-commit"),
        CommitOutcome::AlreadyCommitted { files: 1 }
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
    // Whatever the crash left, no data glob matches it.
    assert_globs_see_only_committed(&sink, dest).await;
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
            CommitOutcome::AlreadyCommitted { files: 1 }
        );
    } else {
        // The rebuilt segment 1 may differ from the lost one (other roll point).
        let s1 = seg(dest, 0, 1, 10, 7);
        sink.stage(&s1.stage, &schema).await.expect("stage 1");
        assert_eq!(
            sink.commit(&s1.commit).await.expect("commit 1"),
            CommitOutcome::Committed { files: 1 }
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
        Ok(CommitOutcome::Committed { .. })
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
        CommitOutcome::Committed { files: 0 }
    );
    assert_eq!(
        sink.commit(&e1.commit).await.expect("again"),
        CommitOutcome::AlreadyCommitted { files: 0 }
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

/// Segment 1 of two writers (sinks) with the same rows: `a` creates its
/// record and stops there (a crash after the record, or a slow writer), `b`
/// commits with the end `b_end` while `a`'s record is there.
async fn second_writer_after_record(
    new_sink: &dyn Fn() -> StoreSink,
    dest: &str,
    b_end: u64,
) -> (StoreSink, super::Seg, Result<CommitOutcome, SinkError>) {
    let schema = table();
    let a = new_sink();
    let s0 = seg(dest, 0, 0, 0, 10);
    a.stage(&s0.stage, &schema).await.expect("stage 0");
    a.commit(&s0.commit).await.expect("commit 0");
    let s1 = seg(dest, 0, 1, 10, 10);
    a.stage(&s1.stage, &schema).await.expect("a stages 1");
    a.crash_after(Step::RecordWritten);
    match a.commit(&s1.commit).await {
        Err(SinkError::InjectedCrash { .. }) => {}
        other => panic!("expected a stop after the record, got {other:?}"),
    }
    let b = new_sink();
    let mut b1 = seg(dest, 0, 1, 10, 10);
    b1.commit.end = point(b_end);
    b1.commit.epoch = 2;
    b.stage(&b1.stage, &schema).await.expect("b stages 1");
    let result = b.commit(&b1.commit).await;
    (a, s1, result)
}

/// Exclusive records: a second writer whose record of the same seq differs
/// finds the first one's record and gets `CommitConflict`; it publishes
/// nothing and changes no record; the first writer then completes its
/// commit and the rows are there exactly once.
pub async fn exclusive_record_conflict(new_sink: &dyn Fn() -> StoreSink, dest: &str) {
    let (a, s1, result) = second_writer_after_record(new_sink, dest, 21).await;
    match result {
        Err(SinkError::CommitConflict { what: "end", .. }) => {}
        other => panic!("the second writer must lose with a conflict on the end, got {other:?}"),
    }
    let record = a
        .read_file(dest, &record_path(&s1.commit.id))
        .await
        .expect("read")
        .expect("record kept");
    let (record, _, end) = CommitRecord::decode(&record).expect("decode");
    assert_eq!(
        (end, record.epoch),
        (point(20), 1),
        "the first record is intact"
    );
    assert_exactly(&a, dest, 10).await;
    // The first writer (restarted, as after its crash) carries on.
    let a = new_sink();
    assert_eq!(
        a.commit(&s1.commit)
            .await
            .expect("the first writer commits"),
        CommitOutcome::Committed { files: 1 }
    );
    assert_exactly(&a, dest, 20).await;
    assert_eq!(
        a.committed(dest, None).await.expect("committed"),
        vec![progress(1, 20, 0)]
    );
}

/// The same commit by a second writer (same points and counts, another
/// epoch) while the first writer's record is there: both succeed, once.
pub async fn exclusive_record_same_commit(new_sink: &dyn Fn() -> StoreSink, dest: &str) {
    let (a, s1, result) = second_writer_after_record(new_sink, dest, 20).await;
    assert_eq!(
        result.expect("the same commit carries on"),
        CommitOutcome::Committed { files: 1 }
    );
    assert_eq!(
        a.commit(&s1.commit).await.expect("the first writer again"),
        CommitOutcome::AlreadyCommitted { files: 1 }
    );
    assert_exactly(&a, dest, 20).await;
    let record = a
        .read_file(dest, &record_path(&s1.commit.id))
        .await
        .expect("read")
        .expect("record");
    let (record, _, _) = CommitRecord::decode(&record).expect("decode");
    assert_eq!(record.epoch, 1, "the record is the first writer's");
}

/// Several writers commit the same seq at once with different ends (same
/// rows): exactly one wins, every other one gets `CommitConflict`, and the
/// winner's end is what the store reports.
pub async fn racing_commits(new_sink: &dyn Fn() -> StoreSink, dest: &str) {
    const WRITERS: u64 = 4;
    let schema = table();
    let sinks: Vec<StoreSink> = (0..WRITERS).map(|_| new_sink()).collect();
    let segs: Vec<super::Seg> = (0..WRITERS)
        .map(|w| {
            let mut s = seg(dest, 0, 0, 0, 10);
            s.commit.end = point(10 + w);
            s.commit.epoch = w + 1;
            s
        })
        .collect();
    for (sink, s) in sinks.iter().zip(&segs) {
        sink.stage(&s.stage, &schema).await.expect("stage");
    }
    let commits = sinks
        .iter()
        .zip(&segs)
        .map(|(sink, s)| sink.commit(&s.commit));
    let results = futures_join_all(commits).await;
    let mut winners = Vec::new();
    for (w, result) in results.into_iter().enumerate() {
        let result = match result {
            // The winner published (and so removed) the staged file between
            // this writer's checks: the core stages again and retries.
            Err(SinkError::NotStaged { .. }) => {
                sinks[w]
                    .stage(&segs[w].stage, &schema)
                    .await
                    .expect("re-stage");
                sinks[w].commit(&segs[w].commit).await
            }
            other => other,
        };
        match result {
            Ok(CommitOutcome::Committed { .. }) => winners.push(w as u64),
            Err(SinkError::CommitConflict { .. }) => {}
            other => panic!("writer {w}: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner: {winners:?}");
    let sink = new_sink();
    let got = sink.committed(dest, None).await.expect("committed");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].end, point(10 + winners[0]), "the winner's end");
    sink.clear_staging(7, 0, 3, dest, 1).await.expect("clear");
    assert_exactly(&sink, dest, 10).await;
}

/// Polls all futures together on this task (no spawning, so they borrow).
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut futures: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futures.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// Publishing never replaces a visible file: a file already under the
/// visible name of the segment (not put there by its commit) stays as it
/// is, and the commit stops with `CommitConflict`.
pub async fn publish_never_replaces(new_sink: &dyn Fn() -> StoreSink, dest: &str) {
    let schema = table();
    let sink = new_sink();
    let s0 = seg(dest, 0, 0, 0, 5);
    sink.stage(&s0.stage, &schema).await.expect("stage");
    let ext = sink.config().format.extension();
    let visible = visible_path(&s0.commit.id, ext);
    sink.write_file(dest, &visible, b"put there by hand\n".to_vec())
        .await
        .expect("write by hand");
    match sink.commit(&s0.commit).await {
        Err(SinkError::CommitConflict {
            what: "visible file",
            ..
        }) => {}
        other => panic!("expected a conflict on the visible file, got {other:?}"),
    }
    assert_eq!(
        sink.read_file(dest, &visible).await.expect("read"),
        Some(b"put there by hand\n".to_vec()),
        "the visible file was replaced"
    );
}

/// Staged files and their temporaries never match a data glob, at any
/// point of staging (checked after a stop after each staging step).
pub async fn staged_names_hidden(new_sink: &dyn Fn() -> StoreSink, dest: &str, renames: bool) {
    let schema = table();
    let sink = new_sink();
    let s0 = seg(dest, 0, 0, 0, 5);
    if renames {
        sink.crash_after(Step::StageWritten);
        assert!(sink.stage(&s0.stage, &schema).await.is_err());
        let files = sink.all_files(dest).await.expect("list");
        assert!(files.iter().any(|f| f.ends_with(".tmp")), "{files:?}");
        assert_globs_see_only_committed(&sink, dest).await;
    }
    sink.stage(&s0.stage, &schema).await.expect("stage");
    let files = sink.all_files(dest).await.expect("list");
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("_staging/") && f.ends_with(".inprogress")),
        "{files:?}"
    );
    assert_globs_see_only_committed(&sink, dest).await;
    sink.commit(&s0.commit).await.expect("commit");
    sink.clear_staging(7, 0, 3, dest, 1).await.expect("clear");
    assert_exactly(&sink, dest, 5).await;
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
    exclusive_record_conflict(new_sink, &format!("{base}/conflict")).await;
    exclusive_record_same_commit(new_sink, &format!("{base}/same")).await;
    racing_commits(new_sink, &format!("{base}/race")).await;
    publish_never_replaces(new_sink, &format!("{base}/noreplace")).await;
    staged_names_hidden(new_sink, &format!("{base}/hidden"), renames).await;
    empty_segment(new_sink, &format!("{base}/empty")).await;
    clear_staging(new_sink, &format!("{base}/clear")).await;
    parquet_protocol(new_parquet_sink, &format!("{base}/parquet")).await;
}
