//! One test per transition of the supervisor, including the odd ones
//! (those that read best as a table of inputs and answers are scripts in
//! `testdata/transitions/`, run by `transitions_data.rs`).

mod common;

use sync_core::point::{Point, RowKey};
use sync_core::proto::datasync::{DropReason, ReadFailureKind};
use sync_core::task::{
    Action, AssignFailure, Assignment, CreateError, ErrorClass, Holder, IfExists, Input, Mode,
    Pack, PackOutcome, PackReply, PartitionLeader, PersistedState, ReadFailure, RecoveryInput,
    SegmentId, SinkFailure, SinkProgress, Status, Supervisor, TableTaskSpec, TaskOrigin,
};

use common::{TIMEOUT, config};

fn spec(mode: Mode) -> TableTaskSpec {
    TableTaskSpec {
        db: "db".into(),
        table: "t".into(),
        tid: 7,
        mode,
        start_ts: None,
        dest: "/out".into(),
        if_exists: IfExists::Default,
        options: config().defaults,
    }
}

fn leaders(hosts: &[&str]) -> Vec<PartitionLeader> {
    hosts
        .iter()
        .enumerate()
        .map(|(pid, h)| PartitionLeader {
            pid: pid as u32,
            tablet_endpoint: format!("{h}:9"),
        })
        .collect()
}

fn assigns(actions: &[Action]) -> Vec<Assignment> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Assign(a) => Some(a.clone()),
            _ => None,
        })
        .collect()
}

fn reply(actions: &[Action]) -> PackReply {
    match actions.last() {
        Some(Action::PackReply(r)) => r.clone(),
        other => panic!("expected a pack reply last, got {other:?}"),
    }
}

fn persisted(actions: &[Action]) -> Option<PersistedState> {
    actions.iter().rev().find_map(|a| match a {
        Action::Persist(s) => Some(s.clone()),
        _ => None,
    })
}

/// A supervisor with collectors `live` and table 7 (one partition per host in `hosts`).
fn setup(mode: Mode, live: &[&str], hosts: &[&str]) -> (Supervisor, Vec<Assignment>) {
    setup_with(config(), mode, live, hosts)
}

/// [`setup`] with another configuration.
fn setup_with(
    config: sync_core::task::Config,
    mode: Mode,
    live: &[&str],
    hosts: &[&str],
) -> (Supervisor, Vec<Assignment>) {
    let mut spec = spec(mode);
    spec.options = config.defaults.clone();
    let mut sup = Supervisor::new(config, 42);
    sup.handle(
        0,
        Input::Collectors {
            live: live.iter().map(|s| s.to_string()).collect(),
        },
    );
    let actions = sup.handle(
        0,
        Input::Create {
            spec,
            partitions: leaders(hosts),
            existing: vec![],
        },
    );
    assert!(matches!(actions.last(), Some(Action::CreateReply(Ok(_)))));
    (sup, assigns(&actions))
}

fn pack(a: &Assignment, start: Point, next: Point, rows: &[u8]) -> Pack {
    Pack {
        tid: a.tid,
        pid: a.pid,
        token: a.token.clone(),
        start,
        next,
        row_count: rows.len() as u64,
        rows: rows.to_vec(),
        finished: false,
        preparing: false,
        failure: None,
    }
}

fn snap(pk: &str) -> Point {
    Point::in_snapshot(5, Some(RowKey::new(pk, 1)))
}

fn status(sup: &Supervisor, pid: u32) -> Status {
    sup.table(7).unwrap().partitions[&pid].status
}

fn part(sup: &Supervisor, pid: u32) -> &sync_core::task::PartitionTask {
    &sup.table(7).unwrap().partitions[&pid]
}

fn unreachable(collector: &str) -> AssignFailure {
    AssignFailure::Unreachable {
        collector: collector.into(),
        message: "connection refused".into(),
    }
}

/// Runs stage → commit for every segment action in `actions`, returning the later actions.
fn complete_segments(sup: &mut Supervisor, now: u64, actions: &[Action]) -> Vec<Action> {
    complete_segments_seeing(sup, now, actions, |_| {})
}

/// [`complete_segments`], showing each commit to `seen` before it is made.
fn complete_segments_seeing(
    sup: &mut Supervisor,
    now: u64,
    actions: &[Action],
    mut seen: impl FnMut(&sync_core::task::CommitSegment),
) -> Vec<Action> {
    let mut queue: Vec<Action> = actions.to_vec();
    let mut rest = Vec::new();
    while let Some(a) = (!queue.is_empty()).then(|| queue.remove(0)) {
        match a {
            Action::Stage(s) => queue.extend(sup.handle(
                now,
                Input::Staged {
                    id: s.id,
                    result: Ok(()),
                },
            )),
            Action::Commit(c) => {
                seen(&c);
                queue.extend(sup.handle(
                    now,
                    Input::Committed {
                        id: c.id,
                        result: Ok(1),
                    },
                ))
            }
            other => rest.push(other),
        }
    }
    rest
}

#[test]
fn create_assigns_the_primary_collector_of_each_leader_host_and_starts_init() {
    let (sup, a) = setup(
        Mode::FullAndContinuous,
        &["h1:2", "h1:1", "h2:1"],
        &["h1", "h2"],
    );
    assert_eq!(a.len(), 2);
    assert_eq!(
        a[0].collector, "h1:1",
        "sorted by endpoint; h1:2 is the standby"
    );
    assert_eq!(a[1].collector, "h2:1");
    assert_eq!(a[0].point, Point::start());
    assert_ne!(a[0].token, a[1].token);
    assert_eq!(
        a[0].to_proto().unwrap().des_endpoint.as_deref(),
        Some("st:1")
    );
    assert_eq!(status(&sup, 0), Status::Init);
}

#[test]
fn the_first_accepted_pack_turns_init_into_running() {
    let (mut sup, a) = setup(Mode::FullAndContinuous, &["h1:1"], &["h1"]);
    sup.handle(
        1,
        Input::AssignResult {
            tid: 7,
            pid: 0,
            token: a[0].token.clone(),
            result: Ok(()),
        },
    );
    assert_eq!(
        status(&sup, 0),
        Status::Init,
        "a confirmed assignment is still INIT"
    );
    let r = reply(&sup.handle(2, Input::Pack(pack(&a[0], Point::start(), snap("b"), b"x"))));
    assert_eq!(r.outcome, PackOutcome::Accepted);
    assert_eq!(r.committed, Some(Point::start()));
    assert_eq!(r.to_proto().response.code, Some(0));
    assert_eq!(status(&sup, 0), Status::Running);
    assert_eq!(sup.table(7).unwrap().partitions[&0].accepted, snap("b"));
}

#[test]
fn a_pack_with_a_stale_token_tells_that_collector_to_drop_the_task() {
    let (mut sup, a) = setup(Mode::FullAndContinuous, &["h1:1"], &["h1"]);
    let mut stale = pack(&a[0], Point::start(), snap("b"), b"x");
    stale.token = "old".into();
    let r = reply(&sup.handle(1, Input::Pack(stale)));
    assert_eq!(r.outcome, PackOutcome::StaleToken);
    assert_eq!(
        r.drop,
        Some(DropReason::KDropReassigned),
        "stop, but keep the links from the committed point"
    );
    assert_eq!(r.committed, Some(Point::start()));
    let wire = r.to_proto();
    assert_eq!(wire.response.code, Some(-1));
    assert_eq!(wire.delete_task, Some(true));
    assert_eq!(wire.drop_reason, Some(DropReason::KDropReassigned as i32));
    // The current assignee continues.
    let r = reply(&sup.handle(1, Input::Pack(pack(&a[0], Point::start(), snap("b"), b"x"))));
    assert_eq!(r.outcome, PackOutcome::Accepted);
}

#[test]
fn a_stale_start_point_is_rejected_and_the_last_pack_duplicate_is_acknowledged_once() {
    let (mut sup, a) = setup(Mode::FullAndContinuous, &["h1:1"], &["h1"]);
    let p1 = pack(&a[0], Point::start(), snap("b"), b"x");
    let first = sup.handle(1, Input::Pack(p1.clone()));
    assert_eq!(reply(&first).outcome, PackOutcome::Accepted);
    // The reply was lost; the same pack again: acknowledged, rows not taken twice.
    let dup = sup.handle(2, Input::Pack(p1.clone()));
    assert_eq!(reply(&dup).outcome, PackOutcome::Duplicate);
    assert!(reply(&dup).is_ok() && reply(&dup).drop.is_none());
    assert_eq!(
        sup.table(7).unwrap().partitions[&0].last_heard_ms,
        1,
        "a duplicate is not a sign of life"
    );
    assert_eq!(sup.table(7).unwrap().partitions[&0].plan.held_bytes(), 1);
    // A pack from another point with the current token: rejected, not dropped.
    let p2 = pack(&a[0], snap("b"), snap("c"), b"y");
    sup.handle(3, Input::Pack(p2));
    let stale = pack(&a[0], Point::start(), snap("c"), b"xy");
    let r = reply(&sup.handle(4, Input::Pack(stale)));
    assert_eq!(r.outcome, PackOutcome::OutOfSequence);
    assert!(r.drop.is_none());
    assert_eq!(
        r.resume_from,
        Some(snap("c")),
        "the collector is told where its stream continues"
    );
    assert_eq!(
        r.to_proto().resume_point,
        snap("c").to_proto().ok(),
        "on the wire too"
    );
    assert_eq!(
        sup.table(7).unwrap().partitions[&0].last_heard_ms,
        3,
        "not a sign of life"
    );
}

#[test]
fn a_pack_for_a_deleted_table_is_told_to_drop_and_delete_clears_staging() {
    let (mut sup, a) = setup(Mode::FullAndContinuous, &["h1:1"], &["h1"]);
    let actions = sup.handle(
        1,
        Input::Delete {
            db: "db".into(),
            table: "t".into(),
        },
    );
    assert!(matches!(
        actions[0],
        Action::ClearStaging {
            tid: 7,
            pid: 0,
            from_seq: 0,
            ..
        }
    ));
    assert!(
        matches!(&actions[1], Action::ReleaseDestination { dest } if dest == "/out"),
        "the destination's clients are released after its staging is cleared: {actions:?}"
    );
    assert!(persisted(&actions).unwrap().tables.is_empty());
    assert!(matches!(actions.last(), Some(Action::DeleteReply(Ok(())))));
    let r = reply(&sup.handle(2, Input::Pack(pack(&a[0], Point::start(), snap("b"), b"x"))));
    assert_eq!(r.outcome, PackOutcome::UnknownTask);
    assert_eq!(r.drop, Some(DropReason::KDropDeleted));
    let again = sup.handle(
        3,
        Input::Delete {
            db: "db".into(),
            table: "t".into(),
        },
    );
    assert!(matches!(again.as_slice(), [Action::DeleteReply(Err(_))]));
}

#[test]
fn the_finished_flag_is_ignored_in_mode_1() {
    let (mut sup, a) = setup(Mode::IncrementalByTimestamp, &["h1:1"], &["h1"]);
    let mut p = pack(&a[0], Point::start(), Point::Binlog { offset: 3 }, b"x");
    p.finished = true;
    let actions = sup.handle(1, Input::Pack(p));
    assert_eq!(reply(&actions).outcome, PackOutcome::Accepted);
    let tick = sup.handle(500, Input::Tick);
    let rest = complete_segments(&mut sup, 1, &tick);
    assert!(
        rest.iter()
            .all(|a| !matches!(a, Action::TableCompleted { .. }))
    );
    assert_eq!(status(&sup, 0), Status::Running);
}

#[test]
fn an_offer_queued_by_the_daemon_is_timed_from_when_its_call_goes_out() {
    let (mut sup, a) = setup(Mode::Full, &["h1:1", "h1:2"], &["h1"]);
    // The call waited in the daemon's queue until just before the timeout.
    sup.handle(
        TIMEOUT - 10,
        Input::AssignSent {
            tid: 7,
            pid: 0,
            token: a[0].token.clone(),
        },
    );
    assert_eq!(sup.next_deadline(), Some(2 * TIMEOUT - 10 + 1));
    assert!(assigns(&sup.handle(TIMEOUT + 1, Input::Tick)).is_empty());
    // A sent notice of an older offer moves nothing.
    sup.handle(
        2 * TIMEOUT - 20,
        Input::AssignSent {
            tid: 7,
            pid: 0,
            token: "old".into(),
        },
    );
    let re = assigns(&sup.handle(2 * TIMEOUT - 9, Input::Tick));
    assert_eq!(re[0].collector, "h1:2", "silent since the call went out");
}

/// The supervisor of [`setup_with`] whose persists wait 500 ms.
fn setup_delayed(mode: Mode) -> (Supervisor, Vec<Assignment>) {
    let mut config = config();
    config.persist_delay_ms = 500;
    setup_with(config, mode, &["h1:1", "h2:1"], &["h1", "h2"])
}

#[test]
fn commits_progress_is_persisted_together_after_the_delay() {
    let (mut sup, a) = setup_delayed(Mode::FullAndContinuous);
    for (i, asg) in a.iter().enumerate() {
        let now = 10 + i as u64;
        // Two rows: the roll seals them at once.
        let actions = sup.handle(
            now,
            Input::Pack(pack(asg, Point::start(), snap("b"), b"rr")),
        );
        assert_eq!(reply(&actions).outcome, PackOutcome::Accepted);
        let rest = complete_segments(&mut sup, now, &actions);
        assert!(persisted(&actions).is_none() && persisted(&rest).is_none());
    }
    // Replies reveal only the committed points, which the sink holds.
    let actions = sup.handle(20, Input::Pack(pack(&a[0], snap("b"), snap("c"), b"rr")));
    assert_eq!(reply(&actions).committed, Some(snap("b")));
    assert!(persisted(&actions).is_none(), "no write for a reply");
    assert!(persisted(&complete_segments(&mut sup, 20, &actions)).is_none());
    assert_eq!(sup.next_deadline(), Some(510), "due 500 ms after the first");
    assert!(persisted(&sup.handle(509, Input::Tick)).is_none());
    let state = persisted(&sup.handle(510, Input::Tick)).expect("persisted at the deadline");
    let committed: Vec<_> = state.tables[0]
        .partitions
        .iter()
        .map(|p| p.next_seq)
        .collect();
    assert_eq!(committed, [2, 1], "the three commits in one write");
    assert!(sup.flush().is_none(), "nothing left");
    // A stopping daemon flushes a delayed change.
    let actions = sup.handle(600, Input::Pack(pack(&a[1], snap("b"), snap("c"), b"rr")));
    assert!(persisted(&complete_segments(&mut sup, 600, &actions)).is_none());
    assert!(
        matches!(sup.flush(), Some(Action::Persist(s)) if s.tables[0].partitions[1].next_seq == 2)
    );
    assert!(sup.flush().is_none());
}

#[test]
fn a_change_a_reply_may_reveal_is_persisted_before_the_next_reply() {
    let (mut sup, a) = setup_delayed(Mode::Full);
    let mut p = pack(&a[0], Point::start(), Point::Binlog { offset: 4 }, b"r");
    p.finished = true;
    let actions = sup.handle(10, Input::Pack(p));
    let rest = complete_segments(&mut sup, 10, &actions);
    assert_eq!(status(&sup, 0), Status::Success);
    assert!(persisted(&rest).is_none(), "no reply waits yet");
    // The next reply (to any part) waits for the SUCCESS to be written: a
    // collector told its part is done may remove its data.
    let actions = sup.handle(
        20,
        Input::Pack(pack(&a[1], Point::start(), snap("b"), b"r")),
    );
    let written = position(&actions, |a| matches!(a, Action::Persist(_))).expect("persisted");
    assert!(written < position(&actions, |a| matches!(a, Action::PackReply(_))).unwrap());
    assert_eq!(
        persisted(&actions).unwrap().tables[0].partitions[0].status,
        "SUCCESS"
    );
    assert!(sup.flush().is_none(), "nothing left to write");
    // A create's reply waits on its own change.
    sup.handle(
        30,
        Input::Delete {
            db: "db".into(),
            table: "t".into(),
        },
    );
    let actions = sup.handle(
        40,
        Input::Create {
            spec: spec(Mode::Full),
            partitions: leaders(&["h1"]),
            existing: vec![],
        },
    );
    let written = position(&actions, |a| matches!(a, Action::Persist(_))).expect("persisted");
    assert!(written < position(&actions, |a| matches!(a, Action::CreateReply(_))).unwrap());
}

fn position(actions: &[Action], f: fn(&Action) -> bool) -> Option<usize> {
    actions.iter().position(f)
}

#[test]
fn mode_0_finishes_after_the_final_commit_then_the_table_is_removed() {
    let (mut sup, a) = setup(Mode::Full, &["h1:1", "h2:1"], &["h1", "h2"]);
    let mut finals = Vec::new();
    for asg in &a {
        let mut p = pack(asg, Point::start(), Point::Binlog { offset: 4 }, b"r");
        p.finished = true;
        let actions = sup.handle(1, Input::Pack(p));
        assert_eq!(reply(&actions).outcome, PackOutcome::Accepted);
        let stage = actions.iter().find(|a| matches!(a, Action::Stage(_)));
        assert!(stage.is_some(), "finish seals the segment at once");
        finals.push(actions);
    }
    assert_eq!(
        status(&sup, 0),
        Status::Running,
        "not SUCCESS before the commit"
    );
    let rest = complete_segments(&mut sup, 2, &finals[0]);
    assert!(rest.iter().any(|a| matches!(a, Action::Persist(_))));
    assert_eq!(status(&sup, 0), Status::Success);
    // A pack for the SUCCESS part: drop it.
    let r = reply(&sup.handle(
        2,
        Input::Pack(pack(
            &a[0],
            Point::Binlog { offset: 4 },
            Point::Binlog { offset: 4 },
            b"",
        )),
    ));
    assert_eq!(r.outcome, PackOutcome::Finished);
    assert!(r.drop == Some(DropReason::KDropFinished) && r.is_ok());
    let rest = complete_segments(&mut sup, 3, &finals[1]);
    assert!(
        rest.iter()
            .any(|a| matches!(a, Action::TableCompleted { tid: 7, .. }))
    );
    assert!(sup.table(7).is_none());
    assert!(persisted(&rest).unwrap().tables.is_empty());
}

#[test]
fn a_silent_running_part_is_reassigned_from_its_committed_point_with_a_new_token() {
    let (mut sup, a) = setup(Mode::FullAndContinuous, &["h1:1"], &["h1"]);
    // Two rows: sealed and committed up to c.
    let actions = sup.handle(
        1,
        Input::Pack(pack(&a[0], Point::start(), snap("c"), b"xy")),
    );
    complete_segments(&mut sup, 1, &actions);
    // One more row accepted but not committed.
    sup.handle(2, Input::Pack(pack(&a[0], snap("c"), snap("d"), b"z")));
    // Silent for longer than the timeout: reassigned before the open row is sealed.
    let actions = sup.handle(3 + TIMEOUT, Input::Tick);
    let re = assigns(&actions);
    assert_eq!(re.len(), 1);
    assert_eq!(
        re[0].point,
        snap("c"),
        "from the committed point, not the accepted one"
    );
    assert_ne!(re[0].token, a[0].token);
    assert_eq!(status(&sup, 0), Status::Reassigning);
    // The old token is now stale.
    let r = reply(&sup.handle(
        4 + TIMEOUT,
        Input::Pack(pack(&a[0], snap("d"), snap("e"), b"w")),
    ));
    assert_eq!(r.outcome, PackOutcome::StaleToken);
    // Confirmation makes it RUNNING.
    sup.handle(
        5 + TIMEOUT,
        Input::AssignResult {
            tid: 7,
            pid: 0,
            token: re[0].token.clone(),
            result: Ok(()),
        },
    );
    assert_eq!(status(&sup, 0), Status::Running);
}

#[test]
fn an_init_part_whose_assignment_is_never_answered_times_out_to_the_standby_then_waits() {
    let (mut sup, a) = setup(Mode::Full, &["h1:1", "h1:2"], &["h1"]);
    assert_eq!(a[0].collector, "h1:1");
    let actions = sup.handle(TIMEOUT + 1, Input::Tick);
    let re = assigns(&actions);
    assert_eq!(re[0].collector, "h1:2");
    // The standby does not answer either: a transient cause, never FAILED.
    let t = 2 * TIMEOUT + 2;
    let actions = sup.handle(t, Input::Tick);
    assert!(assigns(&actions).is_empty());
    assert_eq!(status(&sup, 0), Status::Reassigning);
    assert_eq!(part(&sup, 0).holder, Holder::Backoff { until_ms: t + 100 });
    let err = part(&sup, 0).last_error.clone().unwrap();
    assert_eq!(err.error.class(), ErrorClass::Transient);
    assert_eq!(err.error.kind(), "collector_unreachable");
    let text = err.error.to_string();
    assert!(text.contains("h1:1") && text.contains("h1:2"), "{text}");
    assert_eq!(
        sup.next_deadline(),
        Some(t + 100),
        "it sleeps until the next round"
    );
    // The next round, after the backoff, tries the primary again.
    assert!(assigns(&sup.handle(t + 99, Input::Tick)).is_empty());
    let re = assigns(&sup.handle(t + 100, Input::Tick));
    assert_eq!(re[0].collector, "h1:1");
    // It answers: the error is healed, the part goes on.
    sup.handle(
        t + 101,
        Input::AssignResult {
            tid: 7,
            pid: 0,
            token: re[0].token.clone(),
            result: Ok(()),
        },
    );
    assert!(part(&sup, 0).last_error.is_none());
    assert_eq!(status(&sup, 0), Status::Running);
}

#[test]
fn refused_assignments_back_off_exponentially_and_the_status_shows_why_since_when() {
    let (mut sup, a) = setup(Mode::Full, &["h1:1", "h1:2"], &["h1"]);
    let actions = sup.handle(
        1,
        Input::AssignResult {
            tid: 7,
            pid: 0,
            token: a[0].token.clone(),
            result: Err(AssignFailure::Refused {
                collector: "h1:1".into(),
                message: "bad request".into(),
            }),
        },
    );
    let re = assigns(&actions);
    assert_eq!(re[0].collector, "h1:2");
    // A result for an old token is ignored.
    sup.handle(
        2,
        Input::AssignResult {
            tid: 7,
            pid: 0,
            token: a[0].token.clone(),
            result: Err(unreachable("h1:1")),
        },
    );
    assert_eq!(status(&sup, 0), Status::Init);
    let mut now = 3;
    let mut offer = re[0].clone();
    let mut waits = Vec::new();
    for _ in 0..6 {
        // Whoever is offered the part fails; the standby follows the primary.
        loop {
            let actions = sup.handle(
                now,
                Input::AssignResult {
                    tid: 7,
                    pid: 0,
                    token: offer.token.clone(),
                    result: Err(unreachable(&offer.collector)),
                },
            );
            match assigns(&actions).first() {
                Some(next) => offer = next.clone(),
                None => break,
            }
        }
        let Holder::Backoff { until_ms } = part(&sup, 0).holder else {
            panic!("expected a backoff, got {:?}", part(&sup, 0).holder)
        };
        waits.push(until_ms - now);
        now = until_ms;
        offer = assigns(&sup.handle(now, Input::Tick))[0].clone();
        assert_eq!(
            offer.collector, "h1:1",
            "each round starts with the primary"
        );
    }
    assert_eq!(
        waits,
        vec![100, 200, 400, 800, 1000, 1000],
        "doubling up to the cap"
    );
    assert_eq!(status(&sup, 0), Status::Reassigning, "never FAILED for it");
    let err = part(&sup, 0).last_error.clone().unwrap();
    assert_eq!(err.since_ms, 3, "since the first failure of the kind");
    let report = sup.status(now);
    let summary = report.summary();
    assert!(
        summary.contains("parts with errors") && summary.contains("collector_unreachable"),
        "{summary}"
    );
    let proto = report.to_proto();
    assert_eq!(
        proto.task[0].error_kind.as_deref(),
        Some("collector_unreachable")
    );
    assert_eq!(proto.task[0].error_transient, Some(true));
    assert_eq!(proto.task[0].error_since_ms, Some(3));
    assert!(
        proto.task[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("h1:2")
    );
    assert!(proto.task[0].failure_reason.is_none());
}

fn failure_pack(a: &Assignment, kind: ReadFailureKind, message: &str) -> Pack {
    let mut p = pack(a, Point::start(), Point::start(), b"");
    p.failure = Some(ReadFailure {
        kind,
        message: message.into(),
    });
    p
}

#[test]
fn a_permanent_read_failure_makes_the_part_failed_with_the_typed_reason() {
    let (mut sup, a) = setup(Mode::Full, &["h1:1"], &["h1"]);
    // A transient one is shown and kept alive.
    let r = reply(&sup.handle(
        1,
        Input::Pack(failure_pack(
            &a[0],
            ReadFailureKind::KReadUnavailable,
            "tablet h1:9 unreachable",
        )),
    ));
    assert_eq!(r.outcome, PackOutcome::Accepted);
    assert_eq!(
        part(&sup, 0).last_error.as_ref().unwrap().error.kind(),
        "read_unavailable"
    );
    assert_eq!(part(&sup, 0).last_heard_ms, 1, "a sign of life");
    // A permanent one fails the part.
    let actions = sup.handle(
        2,
        Input::Pack(failure_pack(
            &a[0],
            ReadFailureKind::KDataGone,
            "binlog from log index 4 is needed but the oldest available is 9",
        )),
    );
    let r = reply(&actions);
    assert_eq!(r.outcome, PackOutcome::Failed);
    assert_eq!(
        r.drop,
        Some(DropReason::KDropFailed),
        "stop, keep the links"
    );
    assert_eq!(status(&sup, 0), Status::Failed);
    assert!(actions.iter().any(
        |a| matches!(a, Action::PartFailed { pid: 0, error, .. } if error.kind() == "data_gone")
    ));
    let state = persisted(&actions).unwrap();
    let p = &state.tables[0].partitions[0];
    assert_eq!(p.status, "FAILED");
    assert_eq!(p.failure_kind.as_deref(), Some("data_gone"));
    assert!(
        p.failure_reason
            .as_deref()
            .unwrap()
            .contains("oldest available is 9")
    );
    let report = sup.status(3);
    let summary = report.summary();
    assert!(
        summary.contains("tasks contains failed part: [7]"),
        "{summary}"
    );
    assert!(
        summary.contains("failed part: pid 0: [data_gone] collector h1:1 cannot read"),
        "{summary}"
    );
    let proto = report.to_proto();
    assert_eq!(proto.task[0].status.as_deref(), Some("FAILED"));
    assert_eq!(proto.task[0].failure_kind.as_deref(), Some("data_gone"));
    // Later packs of that collector are told the part is FAILED.
    let r = reply(&sup.handle(
        4,
        Input::Pack(pack(&a[0], Point::start(), Point::start(), b"")),
    ));
    assert_eq!(r.drop, Some(DropReason::KDropFailed));
}

#[test]
fn a_preparing_collector_keeps_its_part_alive_and_shows_it() {
    let (mut sup, a) = setup(Mode::FullAndContinuous, &["h1:1"], &["h1"]);
    let mut now = 0;
    for _ in 0..5 {
        now += TIMEOUT / 2;
        let mut p = pack(&a[0], Point::start(), Point::start(), b"");
        p.preparing = true;
        assert_eq!(
            reply(&sup.handle(now, Input::Pack(p))).outcome,
            PackOutcome::Accepted
        );
        assert!(
            assigns(&sup.handle(now, Input::Tick)).is_empty(),
            "not reassigned"
        );
    }
    assert!(part(&sup, 0).preparing);
    assert_eq!(sup.status(now).to_proto().task[0].preparing, Some(true));
    sup.handle(
        now + 1,
        Input::Pack(pack(&a[0], Point::start(), snap("b"), b"x")),
    );
    assert!(!part(&sup, 0).preparing);
}

#[test]
fn fail_after_ms_turns_a_long_wait_for_a_collector_into_failed() {
    let mut config = config();
    config.fail_after_ms = Some(5_000);
    let mut sup = Supervisor::new(config, 42);
    sup.handle(
        0,
        Input::Collectors {
            live: vec!["h1:1".into()],
        },
    );
    sup.handle(
        0,
        Input::Create {
            spec: spec(Mode::FullAndContinuous),
            partitions: leaders(&["h1"]),
            existing: vec![],
        },
    );
    sup.handle(1, Input::Collectors { live: vec![] });
    assert_eq!(
        part(&sup, 0).last_error.as_ref().unwrap().error.kind(),
        "no_collector"
    );
    let mut now;
    loop {
        now = sup.next_deadline().expect("something to wait for");
        assert!(now <= 5_001, "FAILED by {now}");
        sup.handle(now, Input::Tick);
        if status(&sup, 0) == Status::Failed {
            break;
        }
    }
    assert_eq!(now, 5_001);
    let failure = part(&sup, 0).failure.clone().unwrap();
    assert_eq!(failure.kind, "waited_too_long");
    assert!(
        failure
            .message
            .contains("waiting for a data collector on host h1"),
        "{failure:?}"
    );
}

#[test]
fn reassign_with_no_collector_on_the_host_waits_and_goes_on_when_one_comes_back() {
    let (mut sup, _) = setup(Mode::FullAndContinuous, &["h1:1"], &["h1"]);
    let actions = sup.handle(1, Input::Collectors { live: vec![] });
    assert!(assigns(&actions).is_empty());
    assert_eq!(status(&sup, 0), Status::Reassigning);
    let err = part(&sup, 0).last_error.clone().unwrap();
    assert_eq!(
        err.error.to_string(),
        "waiting for a data collector on host h1 (leader tablet h1:9)"
    );
    assert_eq!(err.since_ms, 1);
    // Rounds go on (with backoff) while nobody is there, and it is never FAILED.
    for t in [200, 1_000, 5_000, 60_000] {
        sup.handle(t, Input::Tick);
        assert_eq!(status(&sup, 0), Status::Reassigning);
    }
    // A collector comes (back) on the host: assigned at once, not after the backoff.
    let actions = sup.handle(
        60_001,
        Input::Collectors {
            live: vec!["h1:5".into()],
        },
    );
    assert_eq!(assigns(&actions)[0].collector, "h1:5");
    // Retry of a table without FAILED parts retries nothing.
    let actions = sup.handle(
        60_002,
        Input::RetryFailed {
            db: "db".into(),
            table: "t".into(),
        },
    );
    assert!(matches!(actions.last(), Some(Action::RetryReply(Ok(0)))));
}

#[test]
fn a_lost_collector_is_replaced_by_the_standby_at_once() {
    let (mut sup, a) = setup(Mode::FullAndContinuous, &["h1:1", "h1:2"], &["h1"]);
    sup.handle(1, Input::Pack(pack(&a[0], Point::start(), snap("b"), b"x")));
    let actions = sup.handle(
        2,
        Input::Collectors {
            live: vec!["h1:2".into()],
        },
    );
    let re = assigns(&actions);
    assert_eq!(re[0].collector, "h1:2");
    assert_eq!(
        re[0].point,
        Point::start(),
        "the accepted row was not committed"
    );
    assert_eq!(sup.table(7).unwrap().partitions[&0].plan.held_bytes(), 0);
}

#[test]
fn a_leader_move_reassigns_to_a_collector_on_the_new_host() {
    let (mut sup, _) = setup(Mode::FullAndContinuous, &["h1:1", "h2:1"], &["h1"]);
    let actions = sup.handle(
        1,
        Input::TableMetadata {
            tid: 7,
            partitions: leaders(&["h2"]),
        },
    );
    let re = assigns(&actions);
    assert_eq!(re[0].collector, "h2:1");
    assert_eq!(re[0].tablet_endpoint, "h2:9");
    // Same metadata again: nothing to do.
    let again = sup.handle(
        2,
        Input::TableMetadata {
            tid: 7,
            partitions: leaders(&["h2"]),
        },
    );
    assert!(assigns(&again).is_empty());
}

#[test]
fn a_reassign_waits_for_the_in_flight_segment_and_starts_from_its_end() {
    let (mut sup, a) = setup(Mode::FullAndContinuous, &["h1:1", "h1:2"], &["h1"]);
    let actions = sup.handle(
        1,
        Input::Pack(pack(&a[0], Point::start(), snap("c"), b"xy")),
    );
    let Some(Action::Stage(stage)) = actions
        .iter()
        .find(|a| matches!(a, Action::Stage(_)))
        .cloned()
    else {
        panic!("two rows seal a segment")
    };
    let actions = sup.handle(
        2,
        Input::Collectors {
            live: vec!["h1:2".into()],
        },
    );
    assert!(
        assigns(&actions).is_empty(),
        "waits for the in-flight segment"
    );
    assert_eq!(status(&sup, 0), Status::Reassigning);
    let commit = sup.handle(
        3,
        Input::Staged {
            id: stage.id,
            result: Ok(()),
        },
    );
    let actions = complete_segments(&mut sup, 4, &commit);
    let re = assigns(&actions);
    assert_eq!(re[0].point, snap("c"));
    assert_eq!(re[0].collector, "h1:2");
}

#[test]
fn failed_sink_steps_are_retried_on_tick_with_the_same_segment() {
    let (mut sup, a) = setup(Mode::FullAndContinuous, &["h1:1"], &["h1"]);
    let actions = sup.handle(
        1,
        Input::Pack(pack(&a[0], Point::start(), snap("c"), b"xy")),
    );
    let Some(Action::Stage(stage)) = actions
        .iter()
        .find(|a| matches!(a, Action::Stage(_)))
        .cloned()
    else {
        panic!("expected a stage")
    };
    sup.handle(
        2,
        Input::Staged {
            id: stage.id,
            result: Err(SinkFailure::Unavailable("NameNode down".into())),
        },
    );
    assert_eq!(
        part(&sup, 0).last_error.as_ref().unwrap().error.kind(),
        "sink_unavailable"
    );
    assert!(
        sup.handle(101, Input::Tick)
            .iter()
            .all(|a| !matches!(a, Action::Stage(_))),
        "not before the backoff"
    );
    let retry = sup.handle(102, Input::Tick);
    assert!(
        retry
            .iter()
            .any(|a| matches!(a, Action::Stage(s) if *s == stage))
    );
    let commit = sup.handle(
        4,
        Input::Staged {
            id: stage.id,
            result: Ok(()),
        },
    );
    let Some(Action::Commit(c)) = commit.first().cloned() else {
        panic!("expected a commit")
    };
    assert!(
        part(&sup, 0).last_error.is_none(),
        "healed by the successful stage"
    );
    sup.handle(
        5,
        Input::Committed {
            id: c.id,
            result: Err(SinkFailure::Unavailable("S3 503".into())),
        },
    );
    // A failed commit restages, then commits the same seq.
    let retry = sup.handle(106, Input::Tick);
    assert!(
        retry
            .iter()
            .any(|a| matches!(a, Action::Stage(s) if s.id == stage.id))
    );
    let rest = complete_segments(&mut sup, 107, &retry);
    assert!(persisted(&rest).is_some());
    assert!(part(&sup, 0).last_error.is_none());
    assert_eq!(
        sup.table(7).unwrap().partitions[&0].plan.committed(),
        &snap("c")
    );
    // Results for unknown segments are ignored.
    let other = SegmentId {
        seq: 99,
        ..stage.id
    };
    assert!(
        sup.handle(
            8,
            Input::Committed {
                id: other,
                result: Ok(1)
            }
        )
        .is_empty()
    );
}

#[test]
fn recovery_trusts_the_sink_keeps_failed_parts_and_reassigns_the_rest_with_new_tokens() {
    let (mut sup, a) = setup(Mode::FullAndContinuous, &["h1:1", "h2:1"], &["h1", "h2"]);
    let actions = sup.handle(
        1,
        Input::Pack(failure_pack(
            &a[1],
            ReadFailureKind::KCorrupt,
            "bad CRC at 00000001.log:77",
        )),
    );
    assert_eq!(status(&sup, 1), Status::Failed);
    let state = persisted(&actions).unwrap();
    let task_id = sup.table(7).unwrap().task_id;
    // The sink committed more than the persisted state knows.
    let sink = vec![SinkProgress {
        tid: 7,
        pid: 0,
        task_id,
        last_seq: 3,
        end: Point::Binlog { offset: 40 },
        rows_total: 17,
    }];
    let input = RecoveryInput {
        state: PersistedState::from_bytes(&state.to_bytes()).unwrap(),
        sink,
        live_collectors: vec!["h1:1".into(), "h2:1".into()],
        leaders: [(7, leaders(&["h1", "h2"]))].into_iter().collect(),
    };
    let (mut rec, actions) = Supervisor::recover(config(), 43, 100, input).unwrap();
    assert!(matches!(actions[0], Action::Persist(ref s) if s.epoch == 1));
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::ClearStaging {
            pid: 0,
            from_seq: 4,
            ..
        }
    )));
    let re = assigns(&actions);
    assert_eq!(re.len(), 1);
    assert_eq!(re[0].point, Point::Binlog { offset: 40 });
    assert_ne!(re[0].token, a[0].token);
    assert_eq!(rec.table(7).unwrap().partitions[&0].status, Status::Running);
    assert_eq!(
        rec.table(7).unwrap().partitions[&0].plan.rows_committed(),
        17
    );
    assert_eq!(rec.table(7).unwrap().partitions[&1].status, Status::Failed);
    assert_eq!(
        rec.table(7).unwrap().partitions[&1]
            .failure
            .as_ref()
            .unwrap()
            .kind,
        "corrupt",
        "the typed reason survives the restart"
    );
    // The old collector still streaming with its old token is told to drop.
    let r = reply(&rec.handle(
        101,
        Input::Pack(pack(&a[0], Point::start(), snap("b"), b"x")),
    ));
    assert_eq!(r.outcome, PackOutcome::StaleToken);
    // The next segment continues the sequence.
    let p = pack(
        &re[0],
        Point::Binlog { offset: 40 },
        Point::Binlog { offset: 42 },
        b"xy",
    );
    let actions = rec.handle(102, Input::Pack(p));
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Stage(s) if s.id.seq == 4))
    );
}

#[test]
fn recovery_fails_parts_of_tables_gone_from_the_cluster_and_removes_finished_tables() {
    let (mut sup, a) = setup(Mode::Full, &["h1:1"], &["h1"]);
    let state = sup.persisted();
    let input = RecoveryInput {
        state: state.clone(),
        live_collectors: vec!["h1:1".into()],
        ..Default::default()
    };
    let (rec, _) = Supervisor::recover(config(), 1, 0, input).unwrap();
    let part = &rec.table(7).unwrap().partitions[&0];
    assert_eq!(part.status, Status::Failed);
    let failure = part.failure.clone().unwrap();
    assert_eq!(failure.kind, "table_gone");
    assert!(failure.message.contains("no longer exists"));
    // A table whose parts are all SUCCESS is removed on recovery.
    let mut p = pack(&a[0], Point::start(), Point::Binlog { offset: 2 }, b"r");
    p.finished = true;
    let actions = sup.handle(1, Input::Pack(p));
    let rest = complete_segments(&mut sup, 1, &actions);
    assert!(
        rest.iter()
            .any(|a| matches!(a, Action::TableCompleted { .. }))
    );
    let mut done = state;
    done.tables[0].partitions[0].status = "SUCCESS".into();
    let (rec, actions) = Supervisor::recover(
        config(),
        1,
        0,
        RecoveryInput {
            state: done,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(rec.table(7).is_none());
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::TableCompleted { tid: 7, .. }))
    );
}

#[test]
fn recovery_fails_a_part_whose_sink_is_behind_the_recorded_progress() {
    let (mut sup, a) = setup(Mode::FullAndContinuous, &["h1:1", "h2:1"], &["h1", "h2"]);
    for asg in &a {
        let actions = sup.handle(1, Input::Pack(pack(asg, Point::start(), snap("c"), b"xy")));
        complete_segments(&mut sup, 1, &actions);
    }
    let state = sup.persisted();
    let task_id = sup.table(7).unwrap().task_id;
    // Part 0's commit is in the sink; part 1's files were removed by hand.
    let input = RecoveryInput {
        state,
        sink: vec![SinkProgress {
            tid: 7,
            pid: 0,
            task_id,
            last_seq: 0,
            end: snap("c"),
            rows_total: 2,
        }],
        live_collectors: vec!["h1:1".into(), "h2:1".into()],
        leaders: [(7, leaders(&["h1", "h2"]))].into_iter().collect(),
    };
    let (rec, actions) = Supervisor::recover(config(), 9, 5, input).unwrap();
    assert_eq!(rec.table(7).unwrap().partitions[&0].status, Status::Running);
    let p1 = &rec.table(7).unwrap().partitions[&1];
    assert_eq!(p1.status, Status::Failed, "never replayed silently");
    let failure = p1.failure.clone().unwrap();
    assert_eq!(failure.kind, "sink_behind");
    assert!(
        failure.message.contains("holds 0 committed segment(s)"),
        "{failure:?}"
    );
    assert_eq!(assigns(&actions).len(), 1);
}

#[test]
fn task_ids_are_never_reused_across_the_state_and_the_sink() {
    let mut sup = Supervisor::new(config(), 1);
    sup.handle(
        0,
        Input::Collectors {
            live: vec!["h1:1".into()],
        },
    );
    // Another table's task 41 was seen in the sink at recovery time.
    let (mut sup, _) = Supervisor::recover(
        config(),
        1,
        0,
        RecoveryInput {
            state: sup.persisted(),
            sink: vec![SinkProgress {
                tid: 99,
                pid: 0,
                task_id: 41,
                last_seq: 0,
                end: Point::Binlog { offset: 2 },
                rows_total: 1,
            }],
            live_collectors: vec!["h1:1".into()],
            ..Default::default()
        },
    )
    .unwrap();
    let actions = sup.handle(
        1,
        Input::Create {
            spec: spec(Mode::FullAndContinuous),
            partitions: leaders(&["h1"]),
            existing: vec![],
        },
    );
    let Some(Action::CreateReply(Ok(created))) = actions.last() else {
        panic!("{actions:?}")
    };
    assert_eq!(created.task_id, 42);
}

fn chain(pid: u32, task_id: u64, last_seq: u64, offset: u64, rows_total: u64) -> SinkProgress {
    SinkProgress {
        tid: 7,
        pid,
        task_id,
        last_seq,
        end: Point::Binlog { offset },
        rows_total,
    }
}

fn create_over(
    mode: Mode,
    if_exists: IfExists,
    existing: Vec<SinkProgress>,
) -> (Supervisor, Vec<Action>) {
    let mut sup = Supervisor::new(config(), 3);
    sup.handle(
        0,
        Input::Collectors {
            live: vec!["h1:1".into(), "h2:1".into()],
        },
    );
    let mut spec = spec(mode);
    spec.if_exists = if_exists;
    let actions = sup.handle(
        1,
        Input::Create {
            spec,
            partitions: leaders(&["h1", "h2"]),
            existing,
        },
    );
    (sup, actions)
}

#[test]
fn a_create_over_committed_output_resumes_each_partition_from_it_in_modes_1_and_2() {
    // Task 3 wrote both partitions; an older task 1 wrote pid 0 too.
    let existing = vec![
        chain(0, 1, 9, 500, 900),
        chain(0, 3, 4, 40, 17),
        chain(1, 3, 0, 6, 5),
    ];
    let (sup, actions) = create_over(Mode::FullAndContinuous, IfExists::Default, existing);
    let Some(Action::CreateReply(Ok(created))) = actions.last() else {
        panic!("{actions:?}")
    };
    assert_eq!(created.task_id, 3, "continues task 3's segments");
    assert_eq!(
        created.origin,
        TaskOrigin::Resumed {
            partitions: 2,
            rows: 22
        }
    );
    let a = assigns(&actions);
    assert_eq!(a[0].point, Point::Binlog { offset: 40 });
    assert_eq!(a[1].point, Point::Binlog { offset: 6 });
    assert_eq!(part(&sup, 0).plan.next_seq(), 5);
    assert_eq!(part(&sup, 0).plan.rows_committed(), 17);
    assert_eq!(sup.status(1).tables[0].origin, created.origin);
    assert_eq!(
        sup.persisted().next_task_id,
        4,
        "a later fresh task gets a new id"
    );
}

#[test]
fn a_mode_0_create_over_committed_output_is_refused_unless_told_what_to_do() {
    let existing = vec![chain(0, 3, 4, 40, 17)];
    let (sup, actions) = create_over(Mode::Full, IfExists::Default, existing.clone());
    assert!(
        matches!(
            actions.as_slice(),
            [Action::CreateReply(Err(CreateError::OutputExists {
                task_id: 3,
                rows: 17,
                ..
            }))]
        ),
        "{actions:?}"
    );
    assert!(sup.table(7).is_none());
    let (_, actions) = create_over(Mode::FullAndContinuous, IfExists::Refuse, existing.clone());
    assert!(matches!(
        actions.as_slice(),
        [Action::CreateReply(Err(CreateError::OutputExists { .. }))]
    ));
    let (sup, actions) = create_over(Mode::Full, IfExists::Resume, existing.clone());
    let Some(Action::CreateReply(Ok(created))) = actions.last() else {
        panic!("{actions:?}")
    };
    assert_eq!((created.task_id, part(&sup, 0).plan.next_seq()), (3, 5));
    let (sup, actions) = create_over(Mode::Full, IfExists::Append, existing);
    let Some(Action::CreateReply(Ok(created))) = actions.last() else {
        panic!("{actions:?}")
    };
    assert_eq!(created.task_id, 4, "a new task after the old one");
    assert_eq!(created.origin, TaskOrigin::Appended { rows: 17 });
    assert_eq!(assigns(&actions)[0].point, Point::start());
    assert_eq!(part(&sup, 0).plan.next_seq(), 0);
}

#[test]
fn a_permanent_sink_failure_fails_the_part_and_clears_its_leftovers() {
    let (mut sup, a) = setup(Mode::FullAndContinuous, &["h1:1"], &["h1"]);
    let actions = sup.handle(
        1,
        Input::Pack(pack(&a[0], Point::start(), snap("c"), b"xy")),
    );
    let Some(Action::Stage(stage)) = actions
        .iter()
        .find(|a| matches!(a, Action::Stage(_)))
        .cloned()
    else {
        panic!("expected a stage")
    };
    let commit = sup.handle(
        2,
        Input::Staged {
            id: stage.id,
            result: Ok(()),
        },
    );
    let Some(Action::Commit(c)) = commit.first().cloned() else {
        panic!("expected a commit")
    };
    let actions = sup.handle(
        3,
        Input::Committed {
            id: c.id,
            result: Err(SinkFailure::Conflict(
                "another writer committed seq 0".into(),
            )),
        },
    );
    assert_eq!(status(&sup, 0), Status::Failed);
    assert_eq!(
        part(&sup, 0).failure.as_ref().unwrap().kind,
        "commit_conflict"
    );
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::ClearStaging { from_seq: 0, .. }))
    );
    assert!(
        sup.handle(10_000, Input::Tick)
            .iter()
            .all(|a| !matches!(a, Action::Stage(_) | Action::Commit(_))),
        "given up"
    );
    assert_eq!(
        part(&sup, 0).plan.next_seq(),
        0,
        "the seq is taken again after a retry"
    );
}

#[test]
fn a_collector_that_cannot_read_for_good_hands_the_part_to_another_on_the_host_first() {
    let (mut sup, a) = setup(Mode::FullAndContinuous, &["h1:1", "h1:2"], &["h1"]);
    let gone = |a: &Assignment| {
        failure_pack(
            a,
            ReadFailureKind::KDataGone,
            "binlog from log index 4 is needed but the oldest available is 9",
        )
    };
    // h1:1 lacks the data: the part goes to h1:2 (its own links may reach).
    let actions = sup.handle(1, Input::Pack(gone(&a[0])));
    let r = reply(&actions);
    assert_eq!(
        r.drop,
        Some(DropReason::KDropReassigned),
        "h1:1 keeps its links"
    );
    let re = assigns(&actions);
    assert_eq!(re[0].collector, "h1:2");
    assert_eq!(status(&sup, 0), Status::Reassigning);
    // h1:2 lacks it too: no one left on the host, FAILED with the reason.
    let actions = sup.handle(2, Input::Pack(gone(&re[0])));
    assert_eq!(reply(&actions).drop, Some(DropReason::KDropFailed));
    assert_eq!(status(&sup, 0), Status::Failed);
    let failure = part(&sup, 0).failure.clone().unwrap();
    assert_eq!(
        (failure.kind.as_str(), failure.collector.as_deref()),
        ("data_gone", Some("h1:2"))
    );
    assert_eq!(
        sup.status(3).tables[0].partitions[0].collector.as_deref(),
        Some("h1:2"),
        "the status names the collector holding its links"
    );
}

#[test]
fn ended_tasks_stay_in_the_history_for_a_while_and_survive_a_restart() {
    let mut config = config();
    config.history_ms = 10_000;
    let mut sup = Supervisor::new(config.clone(), 5);
    sup.handle(
        0,
        Input::Collectors {
            live: vec!["h1:1".into()],
        },
    );
    let actions = sup.handle(
        100,
        Input::Create {
            spec: spec(Mode::Full),
            partitions: leaders(&["h1"]),
            existing: vec![],
        },
    );
    let a = assigns(&actions);
    let mut p = pack(&a[0], Point::start(), Point::Binlog { offset: 3 }, b"ab");
    p.finished = true;
    let actions = sup.handle(200, Input::Pack(p));
    complete_segments(&mut sup, 300, &actions);
    assert!(sup.table(7).is_none(), "mode 0 done: gone from the tasks");
    let h = sup.history().to_vec();
    assert_eq!(h.len(), 1);
    assert_eq!(
        (
            h[0].ending.as_str(),
            h[0].rows,
            h[0].files,
            h[0].bytes,
            h[0].created_ms,
            h[0].ended_ms
        ),
        ("completed", 2, 1, 2, 100, 300)
    );
    assert_eq!(sup.status(300).history, h);
    assert!(
        sup.status(300).to_proto().task.is_empty(),
        "OpenMLDB's TaskStatus keeps its meaning"
    );
    // A deleted task too.
    let mut spec2 = spec(Mode::FullAndContinuous);
    spec2.tid = 8;
    spec2.table = "t2".into();
    sup.handle(
        400,
        Input::Create {
            spec: spec2,
            partitions: leaders(&["h1"]),
            existing: vec![],
        },
    );
    sup.handle(
        500,
        Input::Delete {
            db: "db".into(),
            table: "t2".into(),
        },
    );
    assert_eq!(sup.history().len(), 2);
    assert_eq!(sup.history()[1].ending.as_str(), "deleted");
    // Both survive a restart.
    let (rec, _) = Supervisor::recover(
        config,
        6,
        600,
        RecoveryInput {
            state: PersistedState::from_bytes(&sup.persisted().to_bytes()).unwrap(),
            live_collectors: vec!["h1:1".into()],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(rec.history(), sup.history());
    // And are forgotten after history_ms.
    let actions = sup.handle(10_301, Input::Tick);
    assert_eq!(
        sup.history().len(),
        1,
        "the completed one is older than 10 s"
    );
    assert!(persisted(&actions).is_some());
}

/// The segments `actions` start staging, by pid.
fn staged_pids(actions: &[Action]) -> Vec<u32> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Stage(s) => Some(s.id.pid),
            _ => None,
        })
        .collect()
}

#[test]
fn the_memory_limit_seals_the_largest_segments_early_then_holds_packs_back_then_is_busy() {
    // 40 bytes for all parts; nothing rolls by rows, bytes or age here.
    let mut config = config();
    config.memory_limit = 40;
    config.max_held_bytes = 1_000;
    config.defaults.roll.max_rows = 1_000;
    config.defaults.roll.max_bytes = 1_000;
    config.defaults.roll.max_age_ms = 3_600_000;
    let (mut sup, a) = setup_with(
        config,
        Mode::FullAndContinuous,
        &["h1:1"],
        &["h1", "h1", "h1", "h1"],
    );
    let mut at = [0u64; 4];
    let mut send = |sup: &mut Supervisor, pid: usize, bytes: usize| {
        let start = if at[pid] == 0 {
            Point::start()
        } else {
            Point::Binlog { offset: at[pid] }
        };
        let next = Point::Binlog {
            offset: at[pid] + bytes as u64,
        };
        let actions = sup.handle(
            1,
            Input::Pack(pack(&a[pid], start, next, &vec![b'r'; bytes])),
        );
        if reply(&actions).outcome == PackOutcome::Accepted {
            at[pid] += bytes as u64;
        }
        actions
    };
    // Under half the limit: nothing is sealed.
    assert!(staged_pids(&send(&mut sup, 0, 10)).is_empty());
    assert!(staged_pids(&send(&mut sup, 1, 8)).is_empty());
    assert_eq!(sup.held_bytes(), 18);
    // Half the limit held: the largest open segments are sealed until the
    // open ones hold less than a quarter (p0, then p1; p2's 2 bytes stay).
    assert_eq!(staged_pids(&send(&mut sup, 2, 2)), vec![0, 1]);
    assert_eq!(sup.held_bytes(), 20, "sealed rows are held until committed");
    assert!(!sup.memory_full());
    // Three quarters held: the daemon holds packs back; p2 (nothing in
    // flight) is sealed, p0 with a segment in flight is not.
    assert_eq!(staged_pids(&send(&mut sup, 2, 10)), vec![2]);
    assert_eq!(sup.held_bytes(), 30);
    assert!(sup.memory_full());
    // Up to the limit packs are taken; past it they are Busy.
    assert_eq!(staged_pids(&send(&mut sup, 3, 10)), vec![3]);
    assert_eq!(sup.held_bytes(), 40);
    let busy = send(&mut sup, 0, 1);
    assert_eq!(reply(&busy).outcome, PackOutcome::Busy);
    assert_eq!(sup.held_bytes(), 40);
    // Committing frees the memory: packs flow again.
    let mut open = Vec::new();
    for pid in 0..4u32 {
        let p = part(&sup, pid);
        assert!(p.plan.in_flight(), "pid {pid}");
        open.push(p.plan.first_uncommitted_seq());
    }
    let stages: Vec<Action> = (0..4u32)
        .map(|pid| {
            Action::Stage(sync_core::task::StageSegment {
                id: SegmentId {
                    tid: 7,
                    pid,
                    task_id: part(&sup, pid).plan.task_id(),
                    seq: open[pid as usize],
                },
                dest: "/out".into(),
                rows: Default::default(),
                row_count: 0,
                epoch: 1,
                options: None,
            })
        })
        .collect();
    complete_segments(&mut sup, 2, &stages);
    assert_eq!(sup.held_bytes(), 0);
    assert!(!sup.memory_full());
    assert_eq!(reply(&send(&mut sup, 0, 1)).outcome, PackOutcome::Accepted);
    assert_eq!(sup.held_bytes(), 1);
}

#[test]
fn a_part_whose_destination_is_failing_takes_no_more_rows_until_it_heals() {
    let (mut sup, a) = setup(Mode::FullAndContinuous, &["h1:1"], &["h1"]);
    // Two rows roll a segment (the tests' max_rows); its stage fails.
    let actions = sup.handle(
        1,
        Input::Pack(pack(&a[0], Point::start(), snap("b"), b"rr")),
    );
    let Some(Action::Stage(stage)) = actions.iter().find(|a| matches!(a, Action::Stage(_))) else {
        panic!("expected a stage: {actions:?}");
    };
    let id = stage.id;
    sup.handle(
        2,
        Input::Staged {
            id,
            result: Err(SinkFailure::Unavailable("NameNode down".into())),
        },
    );
    let busy = sup.handle(3, Input::Pack(pack(&a[0], snap("b"), snap("c"), b"r")));
    assert_eq!(reply(&busy).outcome, PackOutcome::Busy);
    assert_eq!(part(&sup, 0).plan.open_bytes(), 0, "nothing taken");
    // The retry succeeds: rows are taken again.
    // (After the backoff, within the silence timeout.)
    let retried = sup.handle(500, Input::Tick);
    assert!(
        retried
            .iter()
            .any(|a| matches!(a, Action::Stage(s) if s.id == id)),
        "{retried:?}"
    );
    complete_segments(&mut sup, 501, &retried);
    let taken = sup.handle(502, Input::Pack(pack(&a[0], snap("b"), snap("c"), b"r")));
    assert_eq!(reply(&taken).outcome, PackOutcome::Accepted);
}

fn claims(actions: &[Action]) -> Vec<(u32, u32)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::ClaimPart { tid, pid } => Some((*tid, *pid)),
            _ => None,
        })
        .collect()
}

#[test]
fn with_fencing_a_part_is_claimed_before_it_is_assigned_and_commits_with_its_epoch() {
    let fenced = sync_core::task::Config {
        fencing: true,
        ..config()
    };
    let mut spec = spec(Mode::FullAndContinuous);
    spec.options = fenced.defaults.clone();
    let mut sup = Supervisor::new(fenced, 42);
    sup.handle(
        0,
        Input::Collectors {
            live: vec!["h1:1".into()],
        },
    );
    let created = sup.handle(
        0,
        Input::Create {
            spec,
            partitions: leaders(&["h1"]),
            existing: vec![],
        },
    );
    assert_eq!(claims(&created), vec![(7, 0)], "claimed first");
    assert!(
        assigns(&created).is_empty(),
        "not assigned before it is owned"
    );
    assert_eq!(
        sup.next_deadline(),
        None,
        "nothing waits on time while the claim is out"
    );

    let refused = sup.handle(
        5,
        Input::PartClaimed {
            tid: 7,
            pid: 0,
            result: Err("ZooKeeper unreachable".into()),
        },
    );
    assert!(assigns(&refused).is_empty());
    let shown = part(&sup, 0)
        .last_error
        .as_ref()
        .expect("the claim trouble is shown");
    assert!(shown.error.to_string().contains("ZooKeeper unreachable"));

    let owned = sup.handle(
        10,
        Input::PartClaimed {
            tid: 7,
            pid: 0,
            result: Ok(4),
        },
    );
    let a = assigns(&owned);
    assert_eq!(a.len(), 1, "owned: assigned");
    assert_eq!(a[0].part_epoch, Some(4), "the assignment names the epoch");
    assert_eq!(a[0].to_proto().expect("proto").part_epoch, Some(4));
    assert!(
        part(&sup, 0).last_error.is_none(),
        "the claim trouble healed"
    );

    let rows = sup.handle(
        20,
        Input::Pack(pack(&a[0], Point::start(), snap("a"), b"\x01\x02")),
    );
    let commit = complete_segments_collect(&mut sup, 20, &rows);
    assert_eq!(
        commit,
        vec![4],
        "the commit record carries the claimed epoch"
    );

    // Another SyncTool took the part (a newer epoch): nothing more here.
    let lost = sup.handle(
        30,
        Input::PartLost {
            tid: 7,
            pid: 0,
            why: "epoch 5 belongs to st:2".into(),
        },
    );
    assert!(assigns(&lost).is_empty() && claims(&lost).is_empty());
    let after = sup.handle(
        40,
        Input::Pack(pack(&a[0], snap("a"), snap("b"), b"\x03\x04")),
    );
    let r = reply(&after);
    assert_eq!(
        r.drop,
        Some(DropReason::KDropReassigned),
        "its packs are dropped"
    );
    assert!(
        part(&sup, 0)
            .last_error
            .as_ref()
            .is_some_and(|e| e.error.to_string().contains("owned by another SyncTool")),
        "the loss is shown"
    );
    let later = sup.handle(40 + 10 * TIMEOUT, Input::Tick);
    assert!(
        assigns(&later).is_empty() && claims(&later).is_empty(),
        "a lost part is never reassigned or claimed again by this SyncTool"
    );
    assert!(
        !later
            .iter()
            .any(|a| matches!(a, Action::Commit(_) | Action::Stage(_))),
        "and never committed"
    );
}

#[test]
fn without_fencing_parts_are_assigned_at_once_with_epoch_1_and_no_epoch_in_the_assignment() {
    let (mut sup, a) = setup(Mode::FullAndContinuous, &["h1:1"], &["h1"]);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].part_epoch, None);
    let rows = sup.handle(
        20,
        Input::Pack(pack(&a[0], Point::start(), snap("a"), b"\x01\x02")),
    );
    assert_eq!(complete_segments_collect(&mut sup, 20, &rows), vec![1]);
}

/// Stages and commits every segment of `actions`; returns the epochs the
/// commits carried.
fn complete_segments_collect(sup: &mut Supervisor, now: u64, actions: &[Action]) -> Vec<u64> {
    let mut epochs = Vec::new();
    complete_segments_seeing(sup, now, actions, |c| epochs.push(c.epoch));
    epochs
}
