//! What the work dir keeps (`FAULTS.md` §2), end to end: the real daemon
//! service, the tablet emulator, and the SyncTool stand-in with a commit rule
//! per test.
//!
//! * a stale token keeps the links, and a later assignment from the
//!   committed point is served from them after the tablet made a new snapshot
//!   and garbage-collected the binlog: exactly the rows from that point;
//! * binlog files the tablet writes during a long snapshot read are linked
//!   before the reader gets there, so their GC loses nothing;
//! * per drop reason: reassigned releases the files wholly before the
//!   committed point and keeps the rest; deleted removes the dir; mode 0
//!   keeps it until the final point is committed;
//! * a restart resumes active tasks and keeps dormant ones dormant.

mod common;

use std::time::Duration;

use data_collector::status::TaskState;
use sync_core::point::Point;
use sync_core::proto::datasync::*;

use common::collector::{
    Commit, TID, assert_exact, fixture, fixture_gated, multiset, start_collector,
    start_collector_with, test_settings, wait_for,
};

#[tokio::test]
async fn a_stale_token_keeps_the_links_and_a_retry_from_the_committed_point_survives_gc() {
    let mut f = fixture(None, 1, 300, 200).await;
    let collector = start_collector(&f.datadir(), true).await;
    let first = f.task(0, SyncMode::KFullAndContinuous, "a");
    // SyncTool commits the first three packs only: the committed point stays
    // inside the snapshot while the collector streams on.
    f.synctool.expect_with(&first, Commit::FirstPacks(3));
    assert_eq!(collector.add(&first).await.code, Some(0));
    wait_for("every row accepted", || f.synctool.rows(0).len() == 500).await;
    let committed = f.synctool.committed(0).expect("a committed point");
    let committed_point = Point::from_proto(&committed).expect("point");
    assert!(
        matches!(committed_point, Point::Snapshot(_)),
        "committed inside the snapshot: {committed_point}"
    );

    // Another assignment takes the part: this one's token is stale.
    f.synctool.reassign(0, "b");
    wait_for("the task to go dormant", || {
        collector.is(0, TaskState::Dormant)
    })
    .await;
    let status = collector.status(0).expect("status");
    assert!(
        status
            .dormant
            .as_deref()
            .is_some_and(|d| d.contains("another assignment")),
        "{status:?}"
    );
    assert!(
        f.task_dir(0).join("task.progress").exists(),
        "the work dir stays"
    );
    assert!(
        f.task_dir(0).join("snapshot/MANIFEST").exists(),
        "the snapshot is still needed"
    );
    let linked = f.linked_files(0);
    assert!(!linked.is_empty());

    // The tablet moves on: more rows, a new snapshot (the old checkpoint is
    // deleted), binlog GC (the files the work dir linked are deleted).
    f.emu.append_all(300).expect("append");
    // (the dormant task links the new files on its timer)
    tokio::time::sleep(Duration::from_millis(500)).await;
    f.emu
        .snapshot_all(Some("202611251200".into()))
        .expect("snapshot");
    f.emu.gc_binlog_all().expect("gc");
    let tablet = f.tablet_files(0);
    assert!(
        linked.iter().any(|i| !tablet.contains(i)),
        "the tablet deleted files the work dir holds: linked {linked:?}, tablet {tablet:?}"
    );
    assert!(!partition_has_checkpoint(&f, "202611250000"));

    // `retry`: a new assignment from the committed point.
    let retry = AddSyncTaskRequest {
        token: Some("c".into()),
        sync_point: Some(committed),
        ..first
    };
    f.synctool.expect(&retry);
    assert_eq!(collector.add(&retry).await.code, Some(0));
    wait_for("every row after the retry", || {
        f.synctool.rows(0).len() >= 800 || f.synctool.failed(0).is_some()
    })
    .await;
    assert_eq!(f.synctool.failed(0), None, "the data is there: no failure");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_exact(&mut f, 0);
    assert!(collector.is(0, TaskState::Streaming));
    collector.stop().await;
}

fn partition_has_checkpoint(f: &common::collector::Fixture, name: &str) -> bool {
    tablet_emu::partition_dir(&f.root, TID, 0)
        .join("snapshot")
        .join(name)
        .exists()
}

#[tokio::test]
async fn binlog_files_written_during_a_long_snapshot_read_are_linked_before_their_gc() {
    let (open, gate) = tokio::sync::watch::channel(false);
    let mut f = fixture_gated(None, 1, 400, 0, Some(gate)).await;
    // One pack in flight: while SyncTool holds its answers, the reader stays
    // inside the snapshot.
    let settings = data_collector::task_run::CollectorSettings {
        window: 1,
        ..test_settings(true)
    };
    let tablet = data_collector::tablet_client::HttpTabletClient::new(settings.request_timeout);
    let collector = start_collector_with(&f.datadir(), settings, tablet).await;
    let task = f.task(0, SyncMode::KFullAndContinuous, "t");
    f.synctool.expect(&task);
    assert_eq!(collector.add(&task).await.code, Some(0));
    wait_for("the reader inside the snapshot", || {
        collector.is(0, TaskState::Streaming)
    })
    .await;
    let before = f.tablet_files(0);

    // The tablet writes new binlog files meanwhile...
    f.emu.append_all(400).expect("append");
    let written: Vec<u64> = f
        .tablet_files(0)
        .into_iter()
        .filter(|i| !before.contains(i))
        .collect();
    assert!(written.len() >= 3, "new files: {written:?}");
    // ...and, after a few link ticks, snapshots and deletes them.
    tokio::time::sleep(Duration::from_millis(500)).await;
    f.emu
        .snapshot_all(Some("202611251200".into()))
        .expect("snapshot");
    f.emu.gc_binlog_all().expect("gc");
    let after = f.tablet_files(0);
    assert!(
        written.iter().filter(|i| !after.contains(i)).count() >= 2,
        "the tablet deleted files written during the read: {written:?} → {after:?}"
    );
    assert!(
        f.synctool.rows(0).len() < 400,
        "the reader was still in the snapshot"
    );

    open.send_replace(true);
    wait_for("every row", || {
        f.synctool.rows(0).len() >= 800 || f.synctool.failed(0).is_some()
    })
    .await;
    assert_eq!(f.synctool.failed(0), None, "no data was lost to the GC");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_exact(&mut f, 0);
    collector.stop().await;
}

#[tokio::test]
async fn reassigned_releases_the_files_wholly_before_the_committed_point_and_keeps_the_rest() {
    let mut f = fixture(None, 1, 0, 600).await;
    let collector = start_collector(&f.datadir(), false).await;
    let task = f.task(0, SyncMode::KFullAndContinuous, "a");
    f.synctool.expect_with(&task, Commit::Frozen);
    assert_eq!(collector.add(&task).await.code, Some(0));
    wait_for("every row", || f.synctool.rows(0).len() == 600).await;
    let linked = f.linked_files(0);
    assert!(linked.len() >= 4, "several files: {linked:?}");

    // Another collector owns the part and has committed up to entry 350.
    let committed = Point::Binlog { offset: 351 };
    let holding = file_holding(&f, 351);
    f.synctool
        .commit_at(0, committed.to_proto().expect("proto"));
    f.synctool.reassign(0, "b");
    wait_for("the task to go dormant", || {
        collector.is(0, TaskState::Dormant)
    })
    .await;
    wait_for("the release", || {
        f.linked_files(0).first() == Some(&holding)
    })
    .await;
    let kept = f.linked_files(0);
    assert_eq!(
        kept,
        linked
            .iter()
            .copied()
            .filter(|i| *i >= holding)
            .collect::<Vec<_>>(),
        "files wholly before the committed point go, the rest stay"
    );
    assert!(f.task_dir(0).join("task.progress").exists());

    // The dormant task keeps linking what the tablet writes.
    f.emu.append_all(200).expect("append");
    let newest = *f.tablet_files(0).last().expect("files");
    wait_for("the new files linked", || {
        f.linked_files(0).last() == Some(&newest)
    })
    .await;
    let sent_with_old_token = f
        .synctool
        .seen(0)
        .iter()
        .filter(|p| p.token == "a" && p.count > 0)
        .count();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        f.synctool
            .seen(0)
            .iter()
            .filter(|p| p.token == "a" && p.count > 0)
            .count(),
        sent_with_old_token,
        "a dormant task sends no rows"
    );
    assert!(
        f.synctool
            .seen(0)
            .iter()
            .filter(|p| p.token == "a" && p.count == 0)
            .count()
            >= 2,
        "it probes"
    );
    collector.stop().await;
}

/// The binlog file of `pid` 0 that holds log index `index`.
fn file_holding(f: &common::collector::Fixture, index: u64) -> u64 {
    let work = data_collector::workdir::WorkDir::new(sync_infra::store::FsStore, f.datadir());
    let mut tailer = data_collector::tailer::BinlogTailer::new(work.binlog_dir(TID, 0), 1, false);
    tailer.refresh(work.store()).expect("index");
    tailer.parts().file_for(index).expect("a file")
}

#[tokio::test]
async fn deleted_removes_the_work_dir() {
    let f = fixture(None, 1, 100, 100).await;
    let collector = start_collector(&f.datadir(), false).await;
    let task = f.task(0, SyncMode::KFullAndContinuous, "a");
    f.synctool.expect(&task);
    assert_eq!(collector.add(&task).await.code, Some(0));
    wait_for("every row", || f.synctool.rows(0).len() == 200).await;
    assert!(f.task_dir(0).exists());
    f.synctool.delete(0);
    wait_for("the task to end", || collector.is(0, TaskState::Deleted)).await;
    assert!(
        !f.task_dir(0).exists(),
        "a deleted task's links are removed"
    );
    collector.stop().await;
}

#[tokio::test]
async fn mode_0_keeps_the_work_dir_until_the_final_point_is_committed() {
    let mut f = fixture(None, 1, 150, 150).await;
    let collector = start_collector(&f.datadir(), false).await;
    let task = f.task(0, SyncMode::KFull, "a");
    f.synctool.expect_with(&task, Commit::FirstPacks(1));
    assert_eq!(collector.add(&task).await.code, Some(0));
    wait_for("the last pack accepted", || f.synctool.finished(0)).await;
    wait_for("finishing", || collector.is(0, TaskState::Finishing)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(collector.is(0, TaskState::Finishing));
    assert!(
        f.task_dir(0).join("task.progress").exists() && !f.linked_files(0).is_empty(),
        "accepted is not committed: the links stay"
    );
    assert_exact(&mut f, 0);

    f.synctool.commit_now(0);
    wait_for("the task to finish", || {
        collector.is(0, TaskState::Finished)
    })
    .await;
    assert!(
        !f.task_dir(0).exists(),
        "every row committed: the work dir goes"
    );
    collector.stop().await;
}

#[tokio::test]
async fn a_restart_resumes_active_tasks_and_keeps_dormant_ones_dormant() {
    let mut f = fixture(None, 2, 100, 200).await;
    let collector = start_collector(&f.datadir(), false).await;
    for pid in 0..2 {
        let task = f.task(pid, SyncMode::KFullAndContinuous, "a");
        f.synctool.expect_with(&task, Commit::AtOnce);
        assert_eq!(collector.add(&task).await.code, Some(0));
    }
    wait_for("every row", || {
        (0..2).all(|pid| f.synctool.rows(pid).len() == 300)
    })
    .await;
    f.synctool.reassign(1, "b");
    wait_for("pid 1 dormant", || collector.is(1, TaskState::Dormant)).await;
    let linked_1 = f.linked_files(1);

    collector.stop().await;
    f.emu.append_all(150).expect("append");
    let seen_before = f.synctool.seen(1).len();
    let collector = start_collector(&f.datadir(), false).await;
    assert!(
        collector.is(1, TaskState::Dormant),
        "a dormant task stays dormant across a restart: {:?}",
        collector.status(1)
    );
    wait_for("pid 0 resumed", || f.synctool.rows(0).len() == 450).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_exact(&mut f, 0);
    assert!(collector.is(0, TaskState::Streaming));
    assert!(collector.is(1, TaskState::Dormant));
    let after: Vec<_> = f.synctool.seen(1).split_off(seen_before);
    assert!(!after.is_empty(), "the dormant task probes");
    assert!(
        after.iter().all(|p| p.count == 0 && !p.preparing),
        "the dormant task sent no rows and did not prepare"
    );
    assert_eq!(f.synctool.rows(1).len(), 300);
    for pid in 0..2 {
        assert!(
            f.task_dir(pid).join("task.progress").exists(),
            "nothing removed"
        );
    }
    let linked_after = f.linked_files(1);
    assert!(
        linked_1.iter().all(|i| linked_after.contains(i)),
        "the dormant task's links stay: {linked_1:?} → {linked_after:?}"
    );
    assert!(
        linked_after.len() > linked_1.len(),
        "and it links the new files"
    );
    let status = collector.status_json().await;
    let dormant = &status["tasks"][1];
    assert_eq!(dormant["state"], "Dormant", "{status}");
    assert!(
        dormant["phase"]
            .as_str()
            .is_some_and(|p| p.starts_with("dormant: another assignment")),
        "{status}"
    );
    assert!(
        dormant["links"]["binlog_files"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{status}"
    );
    let multiset_1 = multiset(&f.synctool.rows(1));
    assert_eq!(multiset_1.len(), 300);
    collector.stop().await;
}
