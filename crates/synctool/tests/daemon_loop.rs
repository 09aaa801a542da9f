//! The drive loop end to end with an in-memory segment store and a fake
//! collector client: create → assign → packs → stage/commit → status;
//! restart from the same progress dir and store; persist before reply; bad
//! requests.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use sync_core::point::Point;
use sync_core::task::{PersistedState, Status};
use sync_infra::coordinator::standalone::StandaloneCoordinator;
use sync_proto::datasync::{DeleteSyncTaskRequest, SyncType, TaskStatusRequest};

#[tokio::test]
async fn create_assign_pack_commit_and_status() {
    let env = Env::new();
    let daemon = env.start().await;
    let h = daemon.handle();
    let reply = h
        .create(create_request("db1", "t1", 2, &env.dest("t1")))
        .await;
    assert_eq!((reply.code, reply.msg.as_deref()), (Some(0), Some("ok")));

    let assign = env.collectors.wait_for(1).await;
    assert_eq!(env.collectors.calls()[0].0, COLLECTOR);
    assert_eq!((assign.tid, assign.pid), (Some(7), Some(0)));
    assert_eq!(assign.tablet_endpoint.as_deref(), Some(TABLET));
    assert_eq!(assign.des_endpoint.as_deref(), Some("127.0.0.1:8848"));
    assert_eq!(assign.dest, Some(env.dest("t1")));
    let sp = assign.sync_point.clone().unwrap();
    assert_eq!(Point::from_proto(&sp).unwrap(), Point::start());
    let token = assign.token.clone().unwrap();

    for i in 0..4 {
        let r = h.send_data(pack(7, 0, &token, i)).await;
        assert_eq!(r.response.code, Some(0), "pack {i}: {:?}", r.response.msg);
        assert_eq!(r.delete_task, Some(false));
    }
    // max_rows = 3: the first three rows form segment 0, the fourth stays open.
    wait_committed(&h, 7, 0, 3).await;
    assert_eq!(
        env.sink.committed_text(&env.dest("t1")).await,
        "row0;row1;row2;"
    );
    assert_eq!(env.sink.visible_count(&env.dest("t1")).await, 1);

    // The next reply carries the committed point.
    let r = h.send_data(pack(7, 0, &token, 4)).await;
    assert_eq!(r.response.code, Some(0));
    let committed = Point::from_proto(&r.committed_point.unwrap()).unwrap();
    assert_eq!(committed, Point::Binlog { offset: 3 });

    let status = h.task_status(TaskStatusRequest { clear_all: None }).await;
    assert_eq!(status.response.as_ref().unwrap().code, Some(0));
    assert_eq!(status.task.len(), 1);
    let task = &status.task[0];
    assert_eq!(task.status.as_deref(), Some("RUNNING"));
    assert_eq!(task.count, Some(3));
    assert_eq!(task.data_collector.as_deref(), Some(COLLECTOR));
    let progress = task.progress.as_ref().unwrap();
    let point = progress.sync_point.as_ref().unwrap();
    assert_eq!(
        (point.r#type, point.offset),
        (SyncType::KBinlog as i32, Some(3))
    );
    let info = &status.readable_info[0];
    assert!(
        info.starts_with("lastUpdateTime=1700000000000;progressPath="),
        "{info}"
    );
    assert!(info.contains("state.pb"), "{info}");
    assert!(env.progress_path().join("state.pb").exists());
}

#[tokio::test]
async fn restart_resumes_from_the_committed_point_without_duplicates() {
    let env = Env::new();
    let daemon = env.start().await;
    let h = daemon.handle();
    assert_eq!(
        h.create(create_request("db1", "t1", 2, &env.dest("t1")))
            .await
            .code,
        Some(0)
    );
    let old_token = env.collectors.wait_for(1).await.token.unwrap();
    send_accepted(&h, &old_token, 0..5).await;
    wait_committed(&h, 7, 0, 3).await;
    // Rows 3 and 4 are accepted but not committed when SyncTool dies.
    daemon.shutdown().await;
    drop(h);

    env.clock.advance(5_000);
    let daemon = env.start().await;
    let h = daemon.handle();
    let assign = env.collectors.wait_for(2).await;
    let new_token = assign.token.clone().unwrap();
    assert_ne!(new_token, old_token);
    let resume = Point::from_proto(assign.sync_point.as_ref().unwrap()).unwrap();
    assert_eq!(resume, Point::Binlog { offset: 3 });

    // The old assignment is fenced off.
    let stale = h.send_data(pack(7, 0, &old_token, 5)).await;
    assert_eq!(stale.response.code, Some(-1));
    assert_eq!(stale.delete_task, Some(true));

    for i in 3..6 {
        let r = h.send_data(pack(7, 0, &new_token, i)).await;
        assert_eq!(r.response.code, Some(0), "pack {i}: {:?}", r.response.msg);
    }
    wait_committed(&h, 7, 0, 6).await;
    assert_eq!(
        env.sink.committed_text(&env.dest("t1")).await,
        "row0;row1;row2;row3;row4;row5;"
    );
    let report = h.status_report().await.unwrap();
    assert_eq!(report.tables[0].partitions[0].status, Status::Running);
}

#[tokio::test]
async fn replies_wait_for_the_persisted_state() {
    let env = Env::new();
    let daemon = env.start().await;
    let h = daemon.handle();

    // A create persists the new task before it answers.
    env.local.set_hold(true);
    let create = tokio::spawn({
        let h = h.clone();
        let dest = env.dest("t1");
        async move { h.create(create_request("db1", "t1", 2, &dest)).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !create.is_finished(),
        "create answered before its state was persisted"
    );
    env.local.set_hold(false);
    assert_eq!(create.await.unwrap().code, Some(0));
    let token = env.collectors.wait_for(1).await.token.unwrap();
    let writes = env.local.write_count();
    assert!(writes >= 1);

    // A commit's progress (which the sink's record holds) is persisted
    // within `persist_delay_ms`, in one write, without holding replies back.
    send_accepted(&h, &token, 0..3).await;
    wait_committed(&h, 7, 0, 3).await;
    let state = wait_state(&env, &h, |s| s.tables[0].partitions[0].rows_committed == 3).await;
    assert_eq!(state.tables[0].partitions[0].rows_committed, 3);
    assert_eq!(
        env.local.write_count(),
        writes + 1,
        "one write for the commit"
    );
}

/// The persisted state once `done` holds for it, after the clock passed
/// the persist delay (panics after 5 s).
async fn wait_state(
    env: &Env,
    h: &SyncToolHandle,
    done: impl Fn(&PersistedState) -> bool,
) -> PersistedState {
    env.clock
        .advance(sync_core::task::Config::default().persist_delay_ms);
    h.tick().await.unwrap();
    for _ in 0..500 {
        if let Some(state) = env.persisted_state().filter(|s| done(s)) {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the persisted state never got there");
}

#[tokio::test]
async fn a_stopping_daemon_writes_the_delayed_state() {
    let env = Env::new();
    let daemon = env.start().await;
    let h = daemon.handle();
    let token = create_t1(&h, &env).await;
    send_accepted(&h, &token, 0..3).await;
    wait_committed(&h, 7, 0, 3).await;
    daemon.shutdown().await;
    let state = env.persisted_state().expect("written at shutdown");
    assert_eq!(state.tables[0].partitions[0].rows_committed, 3);
}

#[tokio::test]
async fn a_failed_persist_turns_the_reply_into_an_error() {
    let env = Env::new();
    let daemon = env.start().await;
    let h = daemon.handle();
    env.local.fail.store(true, Ordering::SeqCst);
    let r = h
        .create(create_request("db1", "t1", 2, &env.dest("t1")))
        .await;
    assert_eq!(r.code, Some(-1));
    let msg = r.msg.unwrap();
    assert!(
        msg.contains("cannot persist") && msg.contains("injected disk failure"),
        "{msg}"
    );
    assert!(!env.progress_path().join("state.pb").exists());

    // The next persist writes the whole state, the task included.
    env.local.fail.store(false, Ordering::SeqCst);
    let token = env.collectors.wait_for(1).await.token.unwrap();
    send_accepted(&h, &token, 0..3).await;
    wait_committed(&h, 7, 0, 3).await;
    let state = wait_state(&env, &h, |s| !s.tables.is_empty()).await;
    assert_eq!(state.tables.len(), 1);
}

#[tokio::test]
async fn a_failed_commit_is_retried_on_tick_without_duplicates() {
    let env = Env::new();
    let daemon = env.start().await;
    let h = daemon.handle();
    let token = create_t1(&h, &env).await;
    env.sink.fail_next_commits(1);
    send_accepted(&h, &token, 0..3).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(env.sink.visible_count(&env.dest("t1")).await, 0);
    env.clock.advance(1_000);
    h.tick().await.unwrap();
    wait_committed(&h, 7, 0, 3).await;
    assert_eq!(
        env.sink.committed_text(&env.dest("t1")).await,
        "row0;row1;row2;"
    );
}

#[tokio::test]
async fn bad_create_requests_get_clear_errors() {
    let env = Env::new();
    let daemon = env.start().await;
    let h = daemon.handle();
    let cases = [
        (
            create_request("db1", "nope", 0, &env.dest("t1")),
            "table db1.nope does not exist",
        ),
        (
            create_request("db1", "mem", 0, &env.dest("t1")),
            "only SSD and HDD are supported",
        ),
        (
            create_request("db1", "t1", 5, &env.dest("t1")),
            "mode 5 is not a sync mode",
        ),
        (
            create_request("db1", "t1", 1, &env.dest("t1")),
            "needs start_ts",
        ),
        (
            create_request("db1", "t1", 0, "/tmp/elsewhere"),
            "outside the allowed roots",
        ),
        (create_request("db1", "t1", 0, ""), "destination is empty"),
        (
            create_request("", "t1", 0, &env.dest("t1")),
            "db and name are required",
        ),
    ];
    for (req, want) in cases {
        let r = h.create(req.clone()).await;
        let msg = r.msg.unwrap_or_default();
        assert_eq!(r.code, Some(-1), "{req:?}");
        assert!(msg.contains(want), "{req:?}: `{msg}` lacks `{want}`");
    }
    assert!(env.collectors.calls().is_empty());

    let mut with_ts = create_request("db1", "t1", 1, &env.dest("t1"));
    with_ts.start_ts = Some(1_000);
    assert_eq!(h.create(with_ts.clone()).await.code, Some(0));
    let again = h.create(with_ts).await;
    assert!(again.msg.unwrap().contains("already exists"));
    let assign = env.collectors.wait_for(1).await;
    assert_eq!(assign.start_ts, Some(1_000));

    let bad_pack = {
        let mut p = pack(7, 0, "x", 0);
        p.token = None;
        p
    };
    let r = h.send_data(bad_pack).await;
    assert_eq!(r.response.code, Some(-1));
    assert!(r.response.msg.unwrap().contains("bad SendDataRequest"));
    let r = h.send_data(pack(99, 0, "x", 0)).await;
    assert_eq!((r.response.code, r.delete_task), (Some(-1), Some(true)));
}

#[tokio::test]
async fn delete_and_status_of_unknown_tables() {
    let env = Env::new();
    let daemon = env.start().await;
    let h = daemon.handle();
    let del = |db: &str, t: &str| DeleteSyncTaskRequest {
        db: Some(db.into()),
        name: Some(t.into()),
    };
    let r = h.delete(del("db1", "t1")).await;
    assert_eq!(r.code, Some(-1));
    assert!(r.msg.unwrap().contains("no sync task for db1.t1"));
    assert_eq!(
        h.create(create_request("db1", "t2", 0, &env.dest("t2")))
            .await
            .code,
        Some(0)
    );
    let status = h.task_status(TaskStatusRequest::default()).await;
    assert_eq!(status.task.len(), 2);
    assert_eq!(h.delete(del("db1", "t2")).await.code, Some(0));
    let status = h.task_status(TaskStatusRequest::default()).await;
    assert!(status.task.is_empty());
    let r = h.retry(del("db1", "t2")).await;
    assert_eq!(r.code, Some(-1));
}

#[tokio::test]
async fn a_table_gone_at_restart_fails_its_task_without_stopping_start_up() {
    let env = Env::new();
    let daemon = env.start().await;
    let h = daemon.handle();
    assert_eq!(
        h.create(create_request("db1", "t1", 2, &env.dest("t1")))
            .await
            .code,
        Some(0)
    );
    env.collectors.wait_for(1).await;
    daemon.shutdown().await;
    std::fs::remove_file(StandaloneCoordinator::table_info_path(
        &env.metadata_dir(),
        7,
    ))
    .unwrap();

    let daemon = env.start().await;
    let report = daemon.handle().status_report().await.unwrap();
    let part = &report.tables[0].partitions[0];
    assert_eq!(part.status, Status::Failed);
    assert_eq!(part.failure.as_ref().unwrap().kind, "table_gone");
    assert!(
        report.summary().contains("failed part: pid 0"),
        "{}",
        report.summary()
    );
    // FAILED is persisted with its reason.
    daemon.shutdown().await;
    let daemon = env.start().await;
    let report = daemon.handle().status_report().await.unwrap();
    assert_eq!(report.tables[0].partitions[0].status, Status::Failed);
}

#[tokio::test]
async fn a_corrupt_state_file_stops_start_up_with_its_path() {
    let env = Env::new();
    std::fs::create_dir_all(env.progress_path()).unwrap();
    std::fs::write(
        env.progress_path().join("state.pb"),
        b"\xff\xff\xff garbage",
    )
    .unwrap();
    let err = match synctool::daemon::Daemon::start(env.options(), env.parts()).await {
        Ok(_) => panic!("started on a corrupt state file"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("state.pb"), "{err}");
}

#[tokio::test]
async fn a_moved_leader_without_a_collector_waits_and_goes_on_when_it_moves_back() {
    use sync_proto::common::StorageMode;
    let env = Env::new();
    let daemon = env.start().await;
    let h = daemon.handle();
    assert_eq!(
        h.create(create_request("db1", "t1", 2, &env.dest("t1")))
            .await
            .code,
        Some(0)
    );
    env.collectors.wait_for(1).await;

    // The leader moves to a host without a collector: a transient cause.
    let mut moved = table_info(7, "db1", "t1", 1, StorageMode::KHdd);
    moved.table_partition[0].partition_meta[0].endpoint = "127.0.0.2:9527".into();
    StandaloneCoordinator::put_table_info(&env.metadata_dir(), &moved).unwrap();
    synctool::daemon::poll_once(&h).await.unwrap();
    let report = h.status_report().await.unwrap();
    let part = &report.tables[0].partitions[0];
    assert_eq!(part.tablet_endpoint, "127.0.0.2:9527");
    assert_eq!(part.status, Status::Reassigning, "{}", report.summary());
    let error = part.last_error.clone().expect("the reason is shown");
    assert_eq!(error.kind, "no_collector");
    assert!(error.message.contains("127.0.0.2"), "{error:?}");
    assert!(
        report.summary().contains("parts with errors"),
        "{}",
        report.summary()
    );

    // It moves back: assigned again by itself, no retry needed.
    StandaloneCoordinator::put_table_info(
        &env.metadata_dir(),
        &table_info(7, "db1", "t1", 1, StorageMode::KHdd),
    )
    .unwrap();
    synctool::daemon::poll_once(&h).await.unwrap();
    let assign = env.collectors.wait_for(2).await;
    assert_eq!(assign.tablet_endpoint.as_deref(), Some(TABLET));
    let token = assign.token.unwrap();
    let r = h.send_data(pack(7, 0, &token, 0)).await;
    assert_eq!(r.response.code, Some(0), "{:?}", r.response.msg);
    let report = h.status_report().await.unwrap();
    assert!(report.tables[0].partitions[0].last_error.is_none());
}

#[tokio::test]
async fn task_status_clear_all_deletes_every_task() {
    let env = Env::new();
    let daemon = env.start().await;
    let h = daemon.handle();
    assert_eq!(
        h.create(create_request("db1", "t1", 2, &env.dest("t1")))
            .await
            .code,
        Some(0)
    );
    assert_eq!(
        h.create(create_request("db1", "t2", 0, &env.dest("t2")))
            .await
            .code,
        Some(0)
    );
    assert_eq!(
        h.task_status(TaskStatusRequest::default()).await.task.len(),
        3
    );
    let cleared = h
        .task_status(TaskStatusRequest {
            clear_all: Some(true),
        })
        .await;
    assert_eq!(cleared.response.unwrap().code, Some(0));
    assert!(cleared.task.is_empty());
    // Deleted for good: a restart brings nothing back.
    daemon.shutdown().await;
    let daemon = env.start().await;
    assert!(
        daemon
            .handle()
            .status_report()
            .await
            .unwrap()
            .tables
            .is_empty()
    );
}

#[tokio::test]
async fn the_loop_wakes_at_its_deadlines_and_the_poller_follows_leaders() {
    use sync_proto::common::StorageMode;
    let env = Env::new();
    let mut options = env.options();
    // No ticker: the loop sleeps until the supervisor's next deadline.
    options.wake_on_deadlines = true;
    options.poll_period = Some(Duration::from_millis(50));
    options.supervisor.defaults.roll.max_age_ms = 300;
    // Longer than the age roll, so the silent part is not reassigned first.
    options.supervisor.timeout_ms = 120_000;
    let mut parts = env.parts();
    parts.clock = Arc::new(synctool::daemon::clock::SystemClock);
    let daemon = synctool::daemon::Daemon::start(options, parts)
        .await
        .unwrap();
    let h = daemon.handle();
    let token = create_t1(&h, &env).await;
    assert_eq!(
        h.send_data(pack(7, 0, &token, 0)).await.response.code,
        Some(0)
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        env.sink.visible_count(&env.dest("t1")).await,
        0,
        "rolled before max_age"
    );
    // One row, far below max_rows: only its age rolls it, with nobody ticking.
    wait_committed(&h, 7, 0, 1).await;
    assert_eq!(env.sink.committed_text(&env.dest("t1")).await, "row0;");

    let mut moved = table_info(7, "db1", "t1", 1, StorageMode::KHdd);
    moved.table_partition[0].partition_meta[0].endpoint = "127.0.0.1:9528".into();
    StandaloneCoordinator::put_table_info(&env.metadata_dir(), &moved).unwrap();
    // Same host, so the part is reassigned to the collector there with a new token.
    let assign = env.collectors.wait_for(2).await;
    assert_eq!(assign.tablet_endpoint.as_deref(), Some("127.0.0.1:9528"));
    assert_ne!(assign.token.as_deref(), Some(token.as_str()));
    let resume = Point::from_proto(assign.sync_point.as_ref().unwrap()).unwrap();
    assert_eq!(resume, Point::Binlog { offset: 1 });
}

#[tokio::test]
async fn mode_0_finishes_commits_everything_and_removes_the_task() {
    let env = Env::new();
    let daemon = env.start().await;
    let h = daemon.handle();
    assert_eq!(
        h.create(create_request("db1", "t1", 0, &env.dest("t1")))
            .await
            .code,
        Some(0)
    );
    let token = env.collectors.wait_for(1).await.token.unwrap();
    for i in 0..4 {
        let mut p = pack(7, 0, &token, i);
        p.finished = Some(i == 3);
        let r = h.send_data(p).await;
        assert_eq!(r.response.code, Some(0), "{:?}", r.response.msg);
    }
    // Rows 0..2 roll by count; row 3 is sealed by the finish.
    for _ in 0..500 {
        if h.status_report().await.unwrap().tables.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(h.status_report().await.unwrap().tables.is_empty());
    assert_eq!(
        env.sink.committed_text(&env.dest("t1")).await,
        "row0;row1;row2;row3;"
    );
    // The collector's next pack learns that the task is gone.
    let r = h.send_data(pack(7, 0, &token, 4)).await;
    assert_eq!(r.delete_task, Some(true));
    // And it stays gone after a restart.
    daemon.shutdown().await;
    let daemon = env.start().await;
    assert!(
        daemon
            .handle()
            .status_report()
            .await
            .unwrap()
            .tables
            .is_empty()
    );
}

#[tokio::test]
async fn a_restart_between_stage_and_commit_clears_staging_and_replays_once() {
    let env = Env::new();
    let daemon = env.start().await;
    let h = daemon.handle();
    assert_eq!(
        h.create(create_request("db1", "t1", 2, &env.dest("t1")))
            .await
            .code,
        Some(0)
    );
    let old = env.collectors.wait_for(1).await.token.unwrap();
    env.sink.fail_next_commits(100);
    send_accepted(&h, &old, 0..3).await;
    for _ in 0..500 {
        if env.sink.staged_count(&env.dest("t1")).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(env.sink.staged_count(&env.dest("t1")).await, 1);
    daemon.shutdown().await;

    env.sink.fail_next_commits(0);
    let daemon = env.start().await;
    let h = daemon.handle();
    let assign = env.collectors.wait_for(2).await;
    assert_eq!(
        Point::from_proto(assign.sync_point.as_ref().unwrap()).unwrap(),
        Point::start()
    );
    for _ in 0..500 {
        if env.sink.staged_count(&env.dest("t1")).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        env.sink.staged_count(&env.dest("t1")).await,
        0,
        "recovery clears the leftover staging"
    );
    let token = assign.token.unwrap();
    send_accepted(&h, &token, 0..3).await;
    wait_committed(&h, 7, 0, 3).await;
    assert_eq!(
        env.sink.committed_text(&env.dest("t1")).await,
        "row0;row1;row2;"
    );
}

#[tokio::test]
async fn delete_clears_the_staged_segments_and_keeps_the_committed_ones() {
    let env = Env::new();
    let daemon = env.start().await;
    let h = daemon.handle();
    let token = create_t1(&h, &env).await;
    send_accepted(&h, &token, 0..3).await;
    wait_committed(&h, 7, 0, 3).await;
    env.sink.fail_next_commits(100);
    for i in 3..6 {
        assert_eq!(
            h.send_data(pack(7, 0, &token, i)).await.response.code,
            Some(0)
        );
    }
    for _ in 0..500 {
        if env.sink.staged_count(&env.dest("t1")).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(env.sink.staged_count(&env.dest("t1")).await, 1);
    let r = h
        .delete(DeleteSyncTaskRequest {
            db: Some("db1".into()),
            name: Some("t1".into()),
        })
        .await;
    assert_eq!(r.code, Some(0));
    for _ in 0..500 {
        if env.sink.staged_count(&env.dest("t1")).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(env.sink.staged_count(&env.dest("t1")).await, 0);
    assert_eq!(
        env.sink.committed_text(&env.dest("t1")).await,
        "row0;row1;row2;"
    );
    // Its store clients are released after the clean-up.
    for _ in 0..500 {
        if !env.sink.released.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*env.sink.released.lock().unwrap(), vec![env.dest("t1")]);
    let r = h.send_data(pack(7, 0, &token, 6)).await;
    assert_eq!(r.delete_task, Some(true));
    assert_eq!(
        r.drop_reason,
        Some(sync_proto::datasync::DropReason::KDropDeleted as i32),
        "a deleted task: the collector removes everything"
    );
}

#[tokio::test]
async fn unusable_destinations_are_refused_at_create_with_the_reason() {
    let env = Env::new();
    let file = env.dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let outside = env.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let root = env.dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("escape")).unwrap();
    let mut options = env.options();
    options.allowed_dest_roots = vec![];
    let daemon = synctool::daemon::Daemon::start(options, env.parts())
        .await
        .unwrap();
    let h = daemon.handle();
    let long = format!("/data/{}", "x".repeat(5000));
    let cases = [
        ("ftp://host/x".to_string(), "unknown scheme ftp://"),
        ("relative/x".to_string(), "expected file:///path"),
        (format!("file://{}/x", file.display()), "cannot be written"),
        ("hdfs://127.0.0.1:1/x".to_string(), "cannot be written"),
        (long, "at most 4096"),
    ];
    for (dest, want) in cases {
        let r = h.create(create_request("db1", "t1", 2, &dest)).await;
        let msg = r.msg.unwrap_or_default();
        assert_eq!(r.code, Some(-1), "{dest}");
        assert!(msg.contains(want), "{dest}: `{msg}` lacks `{want}`");
        assert!(msg.len() < 6000, "the error does not echo a huge request");
    }
    let long_name = "t".repeat(5000);
    let r = h
        .create(create_request("db1", &long_name, 2, &env.dest("t1")))
        .await;
    assert!(r.msg.unwrap().contains("at most 4096"));
    daemon.shutdown().await;

    // A symlink inside the allowed root that points outside it.
    let mut options = env.options();
    options.allowed_dest_roots = vec![root.display().to_string()];
    let daemon = synctool::daemon::Daemon::start(options, env.parts())
        .await
        .unwrap();
    let h = daemon.handle();
    let r = h
        .create(create_request(
            "db1",
            "t1",
            2,
            &format!("file://{}/escape/t1", root.display()),
        ))
        .await;
    let msg = r.msg.unwrap_or_default();
    assert!(
        msg.contains("outside the allowed roots") && msg.contains("resolves to"),
        "{msg}"
    );
    // `file://` and a bare path are the same place.
    let r = h
        .create(create_request(
            "db1",
            "t1",
            2,
            &format!("file://{}/t1", root.display()),
        ))
        .await;
    assert_eq!(r.code, Some(0), "{:?}", r.msg);
    assert!(
        std::fs::read_dir(&outside).unwrap().next().is_none(),
        "nothing written outside"
    );
    assert!(env.collectors.calls().len() == 1);
}

#[tokio::test]
async fn a_create_over_committed_output_resumes_it_and_says_so() {
    let env = Env::new();
    let daemon = env.start().await;
    let h = daemon.handle();
    let token = create_t1(&h, &env).await;
    send_accepted(&h, &token, 0..4).await;
    wait_committed(&h, 7, 0, 3).await;
    let del = DeleteSyncTaskRequest {
        db: Some("db1".into()),
        name: Some("t1".into()),
    };
    assert_eq!(h.delete(del).await.code, Some(0));

    // Mode 0 over it is refused unless told what to do.
    let r = h
        .create(create_request("db1", "t1", 0, &env.dest("t1")))
        .await;
    let msg = r.msg.unwrap_or_default();
    assert!(
        msg.contains("already holds 3 committed rows") && msg.contains("--if-exists"),
        "{msg}"
    );
    // Mode 2 resumes from what is committed there.
    let r = h
        .create(create_request("db1", "t1", 2, &env.dest("t1")))
        .await;
    assert_eq!(r.code, Some(0));
    assert!(r.msg.unwrap().contains("resumed from the committed output"));
    let assign = env.collectors.wait_for(2).await;
    assert_eq!(
        Point::from_proto(assign.sync_point.as_ref().unwrap()).unwrap(),
        Point::Binlog { offset: 3 }
    );
    let token = assign.token.unwrap();
    for i in 3..6 {
        assert_eq!(
            h.send_data(pack(7, 0, &token, i)).await.response.code,
            Some(0)
        );
    }
    wait_committed(&h, 7, 0, 6).await;
    assert_eq!(
        env.sink.committed_text(&env.dest("t1")).await,
        "row0;row1;row2;row3;row4;row5;",
        "every row exactly once across the delete and the create"
    );
    let report = h.status_report().await.unwrap();
    assert!(report.tables[0].origin.to_string().starts_with("resumed"));
}

#[tokio::test]
async fn packs_wait_while_the_memory_limit_is_near_and_flow_again_after_a_commit() {
    let mut env = Env::new();
    env.max_rows = 1_000;
    let row_bytes = row(0).len() as u64;
    let mut options = env.options();
    // Four rows in all: two are sealed early, three hold packs back.
    options.supervisor.memory_limit = 4 * row_bytes;
    let daemon = synctool::daemon::Daemon::start(options, env.parts())
        .await
        .unwrap();
    let h = daemon.handle();
    let token = create_t1(&h, &env).await;
    env.sink.hold_commits(true);
    send_accepted(&h, &token, 0..3).await;
    let memory = h.status_report().await.unwrap().memory;
    assert_eq!(
        (memory.held_bytes, memory.full),
        (3 * row_bytes, true),
        "rows 0 and 1 sealed (their commit waits), row 2 open"
    );
    // The next pack is not taken in while the memory is full...
    let waiting = tokio::spawn({
        let h = h.clone();
        let token = token.clone();
        async move { h.send_data(pack(7, 0, &token, 3)).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the pack waits for memory");
    // ...and is once the commit frees memory.
    env.sink.hold_commits(false);
    let reply = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the pack is taken in after the commit")
        .unwrap();
    assert_eq!(reply.response.code, Some(0));
    // Rows 2 and 3 are half the limit again: sealed early and committed.
    wait_committed(&h, 7, 0, 4).await;
    assert_eq!(
        env.sink.committed_text(&env.dest("t1")).await,
        "row0;row1;row2;row3;"
    );
    assert_eq!(env.sink.visible_count(&env.dest("t1")).await, 2);
    let memory = h.status_report().await.unwrap().memory;
    assert_eq!((memory.held_bytes, memory.full), (0, false));
}
