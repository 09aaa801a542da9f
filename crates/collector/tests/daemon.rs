//! The collector daemon's service end to end in one process: real gRPC
//! `AddSyncTask`, a tablet emulator serving real-format data over HTTP+JSON,
//! and a SyncTool stand-in that answers packs as the supervisor does (in
//! order, by token, with drop reasons). Checks the rows (as multisets of row
//! bytes), the idempotent repeat of an assignment, a newer token replacing a
//! loop, a restart resuming (from the persisted point, or from SyncTool's
//! accepted point when packs were in flight), `AddSyncTask` answering before
//! a slow preparation (preparing packs meanwhile), a bad request refused with
//! the field, a corrupt binlog reported as such with file and offset after
//! the rows before it, and a cross-device work dir reported as a transient
//! failure with the clear error.

mod common;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use data_collector::status::TaskState;
use data_collector::tablet_client::{HttpTabletClient, TabletApi, TabletError};
use data_collector::validate::MAX_FIELD_BYTES;
use sync_core::proto::api::{TableMeta, TableStatus};
use sync_core::proto::datasync::data_collector_client::DataCollectorClient;
use sync_core::proto::datasync::*;
use tablet_emu::partition::partition_dir;

use common::collector::{
    Fixture, TID, assert_exact, fixture, multiset, start_collector, start_collector_with,
    test_settings, wait_for,
};

#[tokio::test]
async fn mode_0_sends_every_row_once_and_a_repeated_assignment_is_idempotent() {
    let mut f = fixture(None, 2, 300, 200).await;
    let collector = start_collector(&f.datadir(), true).await;
    for pid in 0..2 {
        let task = f.task(pid, SyncMode::KFull, "token-1");
        f.synctool.expect(&task);
        assert_eq!(collector.add(&task).await.code, Some(0));
    }
    // The repeat lands while the loop runs or after it finished: either way
    // it is acknowledged and starts nothing.
    let again = collector.add(&f.task(0, SyncMode::KFull, "token-1")).await;
    assert_eq!(again.code, Some(0), "the same assignment again is fine");
    wait_for("both partitions finished", || {
        f.synctool.finished(0) && f.synctool.finished(1)
    })
    .await;
    let late = collector.add(&f.task(1, SyncMode::KFull, "token-1")).await;
    assert_eq!(
        late.code,
        Some(0),
        "a late repeat of a finished assignment is fine"
    );
    for pid in 0..2 {
        assert_exact(&mut f, pid);
    }
    assert_eq!(
        f.synctool.row_streams.load(Ordering::SeqCst),
        2,
        "one stream of rows per partition: the repeat started no second loop"
    );
    wait_for("the tasks to end", || {
        (0..2).all(|pid| collector.is(pid, TaskState::Finished))
    })
    .await;
    for pid in 0..2 {
        assert!(
            !f.task_dir(pid).exists(),
            "a finished task's work dir (its hard links) is removed once committed"
        );
    }
    collector.stop().await;
}

#[tokio::test]
async fn a_new_token_replaces_the_loop_and_a_restart_resumes_without_duplicates() {
    let mut f = fixture(None, 1, 200, 100).await;
    let collector = start_collector(&f.datadir(), false).await;
    // Mode 2 (continuous) never finishes: it follows the tablet.
    let first = f.task(0, SyncMode::KFullAndContinuous, "a");
    f.synctool.expect(&first);
    assert_eq!(collector.add(&first).await.code, Some(0));
    wait_for("the first rows", || f.synctool.rows(0).len() >= 300).await;

    // SyncTool reassigns with a new token from its accepted point.
    let second = AddSyncTaskRequest {
        token: Some("b".into()),
        sync_point: f.synctool.accepted(0),
        ..first.clone()
    };
    f.synctool.expect(&second);
    assert_eq!(collector.add(&second).await.code, Some(0));
    f.emu.append_all(150).expect("append");
    wait_for("the appended rows", || f.synctool.rows(0).len() >= 450).await;
    assert_exact(&mut f, 0);

    // Stop and start the collector: the task resumes from task.progress.
    collector.stop().await;
    f.emu.append_all(120).expect("append");
    let collector = start_collector(&f.datadir(), false).await;
    wait_for("rows appended while the collector was down", || {
        f.synctool.rows(0).len() >= 570
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_exact(&mut f, 0);
    assert_eq!(
        collector.state(0).map(|(s, _)| s),
        Some(TaskState::Streaming),
        "the recovered task keeps following the tablet"
    );
    collector.stop().await;
}

#[tokio::test]
async fn an_assignment_older_than_the_partitions_newest_epoch_is_refused_also_after_a_restart() {
    let mut f = fixture(None, 1, 100, 50).await;
    let collector = start_collector(&f.datadir(), false).await;
    let base = f.task(0, SyncMode::KFullAndContinuous, "");
    let epoch = |token: &str, epoch: Option<u64>| AddSyncTaskRequest {
        part_epoch: epoch,
        token: Some(token.into()),
        ..base.clone()
    };
    let newer = epoch("b", Some(3));
    f.synctool.expect(&newer);
    assert_eq!(collector.add(&newer).await.code, Some(0));
    wait_for("the rows of epoch 3", || f.synctool.rows(0).len() >= 150).await;

    // The SyncTool that owned the partition before (epoch 2) wakes up and
    // assigns it again: refused, the loop of epoch 3 goes on.
    let stale = collector.add(&epoch("a", Some(2))).await;
    assert_eq!(stale.code, Some(-1), "a stale epoch is refused");
    assert!(
        stale
            .msg()
            .contains("partition epoch 2 is older than epoch 3"),
        "{stale:?}"
    );
    assert_eq!(
        collector.state(0).map(|(s, _)| s),
        Some(TaskState::Streaming)
    );
    f.emu.append_all(30).expect("append");
    wait_for("rows appended under epoch 3", || {
        f.synctool.rows(0).len() >= 180
    })
    .await;

    // The newest epoch is remembered across a restart (the persisted task).
    collector.stop().await;
    let collector = start_collector(&f.datadir(), false).await;
    let again = collector.add(&epoch("c", Some(2))).await;
    assert_eq!(
        again.code,
        Some(-1),
        "still stale after a restart: {again:?}"
    );
    // The same epoch with a new token is the owner reassigning: accepted.
    let same = AddSyncTaskRequest {
        sync_point: f.synctool.accepted(0),
        ..epoch("d", Some(3))
    };
    f.synctool.expect(&same);
    assert_eq!(collector.add(&same).await.code, Some(0));
    f.emu.append_all(20).expect("append");
    wait_for("rows after the reassignment", || {
        f.synctool.rows(0).len() >= 200
    })
    .await;
    assert_exact(&mut f, 0);
    collector.stop().await;
}

/// A tablet that answers `GetTableStatus` only after `delay`.
struct SlowTablet {
    inner: HttpTabletClient,
    delay: Duration,
}

impl TabletApi for SlowTablet {
    async fn get_table_status(
        &self,
        endpoint: &str,
        tid: u32,
        pid: u32,
    ) -> Result<TableStatus, TabletError> {
        tokio::time::sleep(self.delay).await;
        self.inner.get_table_status(endpoint, tid, pid).await
    }

    async fn get_table_schema(
        &self,
        endpoint: &str,
        tid: u32,
        pid: u32,
    ) -> Result<TableMeta, TabletError> {
        self.inner.get_table_schema(endpoint, tid, pid).await
    }
}

#[tokio::test]
async fn add_sync_task_answers_before_a_slow_preparation_and_preparing_packs_keep_the_part_alive() {
    let mut f = fixture(None, 1, 300, 100).await;
    let settings = test_settings(false);
    let slow = SlowTablet {
        inner: HttpTabletClient::new(settings.request_timeout),
        delay: Duration::from_millis(2500),
    };
    let collector = start_collector_with(&f.datadir(), settings, slow).await;
    let task = f.task(0, SyncMode::KFull, "t");
    f.synctool.expect(&task);

    // The caller gives up after a second, well before the tablet answers.
    let mut client = DataCollectorClient::connect(format!("http://{}", collector.endpoint))
        .await
        .expect("connect");
    let mut request = tonic::Request::new(task.clone());
    request.set_timeout(Duration::from_secs(1));
    let asked = Instant::now();
    let reply = client
        .add_sync_task(request)
        .await
        .expect("answered within the caller's timeout")
        .into_inner();
    assert_eq!(reply.code, Some(0), "{}", reply.msg());
    assert!(asked.elapsed() < Duration::from_secs(1));
    assert_eq!(
        collector.state(0).map(|(s, _)| s),
        Some(TaskState::Preparing)
    );
    assert!(
        task_progress_exists(&f, 0),
        "the assignment is persisted before the answer"
    );

    wait_for("preparing packs while the tablet is slow", || {
        let preparing = f
            .synctool
            .seen(0)
            .into_iter()
            .filter(|p| p.preparing)
            .count();
        preparing >= 3
    })
    .await;
    assert!(
        asked.elapsed() < Duration::from_millis(2500),
        "the preparing packs came before the tablet answered"
    );
    let assigned = task.sync_point.clone().or_else(|| {
        data_collector::prepare::assigned_point(&task)
            .ok()
            .and_then(|p| p.to_proto().ok())
    });
    for pack in f.synctool.seen(0).iter().filter(|p| p.preparing) {
        assert_eq!(pack.token, "t");
        assert_eq!(pack.count, 0, "a preparing pack carries no rows");
        assert_eq!(pack.start, assigned, "it starts at the assigned point");
        assert_eq!(pack.next, assigned, "and does not move it");
    }
    wait_for("every row", || f.synctool.finished(0)).await;
    assert_exact(&mut f, 0);
    collector.stop().await;
}

/// The binlog records of `file` that end at or before byte `until`.
fn entries_in(file: &[u8], until: u64) -> usize {
    let mut reader = sync_core::binlog::LogReader::new(0, Default::default());
    reader.feed(file);
    let mut n = 0;
    while let Ok(Some(sync_core::binlog::EntryEvent::Entry { end, .. })) = reader.next_entry() {
        if end > until {
            break;
        }
        n += 1;
    }
    n
}

fn task_progress_exists(f: &Fixture, pid: u32) -> bool {
    f.task_dir(pid).join("task.progress").exists()
}

#[tokio::test]
async fn a_bad_request_is_refused_with_the_field() {
    let f = fixture(None, 1, 0, 10).await;
    let collector = start_collector(&f.datadir(), false).await;
    let task = AddSyncTaskRequest {
        token: Some("x".repeat(MAX_FIELD_BYTES + 1)),
        ..f.task(0, SyncMode::KFull, "t")
    };
    let reply = collector.add(&task).await;
    assert_ne!(reply.code, Some(0));
    assert!(
        reply.msg().contains("`token` is 4097 bytes long"),
        "{}",
        reply.msg()
    );
    let task = AddSyncTaskRequest {
        tablet_endpoint: None,
        ..f.task(0, SyncMode::KFull, "t")
    };
    assert!(collector.add(&task).await.msg().contains("tablet_endpoint"));
    assert!(
        !f.task_dir(0).exists(),
        "nothing is written for a bad request"
    );
    collector.stop().await;
}

#[tokio::test]
async fn a_corrupt_binlog_is_reported_with_file_and_offset_after_the_rows_before_it() {
    let mut f = fixture(None, 1, 0, 300).await;
    // Damage a record in the middle of the second binlog file.
    let binlog = partition_dir(&f.root, TID, 0).join("binlog");
    let victim = binlog.join(sync_core::binlog::binlog_file_name(1));
    let mut bytes = std::fs::read(&victim).expect("read binlog");
    assert!(bytes.len() > 2000, "the file is large enough to damage");
    // The rows before the damaged record: file 0's, and file 1's up to it.
    let file_0 =
        std::fs::read(binlog.join(sync_core::binlog::binlog_file_name(0))).expect("file 0");
    let before = entries_in(&file_0, u64::MAX) + entries_in(&bytes, 1500);
    bytes[1500] ^= 0x5a;
    std::fs::write(&victim, bytes).expect("write binlog");

    let collector = start_collector(&f.datadir(), true).await;
    let task = f.task(0, SyncMode::KFull, "t");
    f.synctool.expect(&task);
    assert_eq!(collector.add(&task).await.code, Some(0));
    wait_for("the failure to reach SyncTool", || {
        f.synctool.failed(0).is_some()
    })
    .await;
    let failure = f.synctool.failed(0).expect("a failure pack");
    assert_eq!(failure.kind(), ReadFailureKind::KCorrupt, "{failure:?}");
    let message = failure.message();
    assert!(
        message.contains("00000001.log"),
        "names the file: {message}"
    );
    assert!(message.contains("byte"), "names the offset: {message}");

    wait_for("the task to go dormant", || {
        collector.is(0, TaskState::Dormant)
    })
    .await;
    let status = collector.status(0).expect("status");
    assert!(
        status
            .dormant
            .as_deref()
            .is_some_and(|d| d.contains("00000001.log")),
        "the status says why: {status:?}"
    );
    let sent = f.synctool.rows(0);
    assert_eq!(
        sent.len(),
        before,
        "every row before the damaged record was sent, none after"
    );
    let source = f.source_rows(0);
    assert!(
        multiset(&sent) == multiset(&source[..sent.len()]),
        "what was sent is the undamaged prefix, once"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(f.synctool.rows(0).len(), sent.len(), "nothing more is sent");
    assert!(
        task_progress_exists(&f, 0) && !f.linked_files(0).is_empty(),
        "the work dir and its links stay for a retry"
    );

    // A retry (a new token) is taken at once and fails the same way.
    let retry = AddSyncTaskRequest {
        token: Some("t2".into()),
        sync_point: f.synctool.committed(0),
        ..task
    };
    f.synctool.expect(&retry);
    assert_eq!(collector.add(&retry).await.code, Some(0));
    wait_for("the retry to report the same failure", || {
        f.synctool.failed(0).is_some()
    })
    .await;
    collector.stop().await;
}

#[tokio::test]
async fn a_work_dir_on_another_filesystem_is_a_transient_failure_with_the_cross_device_error() {
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        eprintln!("skipped: no /dev/shm");
        return;
    }
    let f = fixture(Some(shm), 1, 10, 10).await;
    let collector = start_collector(&f.datadir(), false).await;
    let task = f.task(0, SyncMode::KFull, "t");
    f.synctool.expect(&task);
    assert_eq!(collector.add(&task).await.code, Some(0), "answered at once");
    let cross_device = |text: &str| text.contains("Invalid cross-device link");
    for _ in 0..100 {
        if f.synctool.finished(0) {
            eprintln!("skipped: /dev/shm and the temp dir share a filesystem");
            collector.stop().await;
            return;
        }
        if f.synctool.seen(0).iter().any(|p| {
            p.failure
                .as_ref()
                .is_some_and(|x| cross_device(x.message()))
        }) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failure = f
        .synctool
        .seen(0)
        .into_iter()
        .find_map(|p| p.failure)
        .expect("a failure pack");
    assert_eq!(
        failure.kind(),
        ReadFailureKind::KReadUnavailable,
        "{failure:?}"
    );
    assert!(
        cross_device(failure.message()),
        "the seed's error text: {failure:?}"
    );
    let (state, error) = collector.state(0).expect("status");
    assert!(
        matches!(state, TaskState::Retrying | TaskState::Preparing),
        "retried, the operator can fix it: {state:?}"
    );
    assert!(error.is_some_and(|e| cross_device(&e)));
    assert!(
        f.synctool.failed(0).is_none(),
        "the part is not FAILED for it"
    );
    collector.stop().await;
}

#[tokio::test]
async fn binlog_deletes_are_skipped_and_counted_in_the_status() {
    // 30 rows in a snapshot, 40 in the binlog, then three deletes between
    // more puts: the offline copy is append-only, so every put is sent once
    // (also those of deleted keys) and the deletes are only counted.
    let mut f = fixture(None, 1, 30, 40).await;
    {
        let part = f.emu.partition(0).expect("partition");
        part.delete(0, "no-such-card").expect("delete");
        part.append(5).expect("append");
        part.delete(0, "another-card").expect("delete");
        part.delete(0, "a-third-card").expect("delete");
        part.append(5).expect("append");
    }
    let collector = start_collector(&f.datadir(), true).await;
    let task = f.task(0, SyncMode::KFull, "token-d");
    f.synctool.expect(&task);
    assert_eq!(collector.add(&task).await.code, Some(0));
    wait_for("the part finished", || f.synctool.finished(0)).await;

    let expected: Vec<Vec<u8>> = {
        let part = f.emu.partition(0).expect("partition");
        (0..80)
            .map(|seq| part.generator().row(0, seq).expect("row").row)
            .collect()
    };
    let got = f.synctool.rows(0);
    assert_eq!(got.len(), 80, "every put once, none removed by a delete");
    assert!(multiset(&got) == multiset(&expected), "the rows differ");

    // The stand-in has the rows before the collector has read its replies.
    wait_for("the status to count every row and delete, finished", || {
        collector.status(0).is_some_and(|s| {
            s.state == TaskState::Finished && s.rows_sent == 80 && s.deletes_skipped == 3
        })
    })
    .await;
    let status = collector.status(0).expect("status");
    let json =
        data_collector::status::to_json(&collector.endpoint, 0, std::slice::from_ref(&status));
    assert_eq!(json["tasks"][0]["deletes_skipped"], 3);
    let html = data_collector::status::to_html(&collector.endpoint, 0, &[status]);
    assert!(html.contains("<th>deletes skipped</th>"), "{html}");

    // The same counters on the port's /metrics, as Prometheus text.
    let (content_type, metrics) = collector.http_get("/metrics").await;
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    for line in [
        format!("data_collector_rows_sent_total{{tid=\"{TID}\",pid=\"0\"}} 80"),
        format!("data_collector_deletes_skipped_total{{tid=\"{TID}\",pid=\"0\"}} 3"),
        "data_collector_tasks{state=\"finished\"} 1".to_string(),
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    let json = collector.status_json().await;
    assert!(
        json["tasks"][0]["read_rows_per_s"].as_f64().is_some(),
        "{json}"
    );
    collector.stop().await;
}
