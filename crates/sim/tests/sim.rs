//! `cargo test -p sim`: the named fault tests, many seeded random runs
//! (`SIM_SEEDS=N` for more, `SIM_SEED_BASE` to start elsewhere), the replay
//! of one seed (`SIM_SEED=123 ... replay`), and the proof that the checker
//! catches a broken commit.

use std::time::Instant;

use sim::scenario::TableSetup;
use sim::{Breakage, CrashPoint, Fault, Scenario, StoreKind, Who};
use sync_core::task::Mode;
use sync_sinks::Step;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Runs a scenario; panics with the failure (seed and replay command).
fn pass(scn: Scenario) -> sim::Outcome {
    match sim::run(&scn) {
        Ok(outcome) => outcome,
        Err(failure) => panic!("{failure}"),
    }
}

fn has(outcome: &sim::Outcome, needle: &str) -> bool {
    outcome.trace.iter().any(|l| l.contains(needle))
}

// ---------------------------------------------------------------- seeds

const SHARDS: u64 = 8;

fn seeds(shard: u64) {
    let total = env_u64("SIM_SEEDS").unwrap_or(1000);
    let base = env_u64("SIM_SEED_BASE").unwrap_or(0);
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut runs = 0;
    let mut longest = (0, 0.0f64);
    for seed in (base..base + total).filter(|s| s % SHARDS == shard) {
        let t = Instant::now();
        match sim::run(&Scenario::random(seed)) {
            Ok(_) => {}
            Err(failure) => {
                eprintln!("{failure}");
                failures.push(failure.replay());
            }
        }
        let secs = t.elapsed().as_secs_f64();
        if secs > longest.1 {
            longest = (seed, secs);
        }
        runs += 1;
    }
    eprintln!(
        "shard {shard}: {runs} seeds in {:.1}s (longest: seed {} {:.2}s), {} failed",
        started.elapsed().as_secs_f64(),
        longest.0,
        longest.1,
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "failed seeds:\n{}",
        failures.join("\n")
    );
}

#[test]
fn seeds_0() {
    seeds(0);
}
#[test]
fn seeds_1() {
    seeds(1);
}
#[test]
fn seeds_2() {
    seeds(2);
}
#[test]
fn seeds_3() {
    seeds(3);
}
#[test]
fn seeds_4() {
    seeds(4);
}
#[test]
fn seeds_5() {
    seeds(5);
}
#[test]
fn seeds_6() {
    seeds(6);
}
#[test]
fn seeds_7() {
    seeds(7);
}

/// `SIM_SEED=123 cargo test -p sim --test sim replay -- --nocapture`: one
/// seeded run with its trace (`SIM_TRACE=1` prints it as it happens,
/// `RUST_LOG=info` adds the daemons' logs).
#[test]
fn replay() {
    let Some(seed) = env_u64("SIM_SEED") else {
        eprintln!("replay: set SIM_SEED to replay a seed");
        return;
    };
    if std::env::var_os("RUST_LOG").is_some() {
        sim::clock::init_logs();
    }
    let scn = Scenario::random(seed);
    let outcome = pass(scn);
    for line in &outcome.trace {
        println!("{line}");
    }
}

#[test]
fn same_seed_same_trace() {
    for seed in [4242, 330, 377] {
        let a = pass(Scenario::random(seed));
        let b = pass(Scenario::random(seed));
        assert_eq!(a.trace, b.trace, "seed {seed}");
        assert_eq!((a.rows, a.digest), (b.rows, b.digest), "seed {seed}");
    }
}

// ---------------------------------------------------------------- named faults

#[test]
fn no_faults_every_mode() {
    for (i, mode) in [
        Mode::Full,
        Mode::IncrementalByTimestamp,
        Mode::FullAndContinuous,
    ]
    .into_iter()
    .enumerate()
    {
        let mut scn = Scenario::base(100 + i as u64)
            .named("no_faults_every_mode")
            .mode(mode);
        scn.tables[0].start_row = 50;
        let out = pass(scn);
        assert!(out.rows > 0);
    }
}

#[test]
fn collector_crash_and_restart() {
    let scn = Scenario::base(201)
        .named("collector_crash_and_restart")
        .with(
            300,
            Fault::CrashCollector {
                who: Who::primary(0),
                down_ms: 400,
            },
        )
        .with(
            1_500,
            Fault::CrashCollector {
                who: Who::primary(1),
                down_ms: 2_500,
            },
        )
        .with(
            2_000,
            Fault::CrashCollector {
                who: Who::primary(0),
                down_ms: 200,
            },
        );
    let out = pass(scn);
    assert!(has(&out, "restart c0a") && has(&out, "restart c1a"));
}

#[test]
fn collector_lost_for_good_standby_takes_over() {
    for mode in [Mode::Full, Mode::FullAndContinuous] {
        let mut scn = Scenario::base(202)
            .named("collector_lost_for_good_standby_takes_over")
            .mode(mode)
            .with(500, Fault::LoseCollector { tablet: 0 });
        scn.standby = vec![true, false];
        scn.tables[0].initial_rows = 250;
        scn.pack_size = 300;
        let out = pass(scn);
        assert!(has(&out, "lose c0a for good"));
        if mode == Mode::FullAndContinuous {
            assert!(
                has(&out, "RUNNING 350 rows on tab0:7002"),
                "{:#?}",
                out.trace
            );
        }
    }
}

#[test]
fn synctool_crashes_at_random_times() {
    let mut scn = Scenario::base(203).named("synctool_crashes_at_random_times");
    for (i, at) in [200, 900, 1_700, 2_600, 4_100].into_iter().enumerate() {
        scn = scn.with(
            at,
            Fault::CrashSyncTool {
                down_ms: 150 + 200 * i as u64,
            },
        );
    }
    pass(scn);
}

/// Crashes SyncTool at `point` twice, in every mode.
fn crash_at(name: &str, seed: u64, store: StoreKind, point: CrashPoint) {
    for mode in [
        Mode::Full,
        Mode::IncrementalByTimestamp,
        Mode::FullAndContinuous,
    ] {
        let mut scn = Scenario::base(seed).named(name).mode(mode);
        scn.store = store;
        scn.tables[0].start_row = 30;
        scn = scn
            .with(
                0,
                Fault::CrashSyncToolAt {
                    point,
                    down_ms: 300,
                },
            )
            .with(
                3_000,
                Fault::CrashSyncToolAt {
                    point,
                    down_ms: 900,
                },
            );
        let out = pass(scn);
        assert!(
            has(&out, &format!("SyncTool reached {point:?}")),
            "{name}: SyncTool never reached {point:?}: {:#?}",
            out.trace
        );
    }
}

#[test]
fn synctool_crash_after_stage() {
    crash_at(
        "synctool_crash_after_stage",
        204,
        StoreKind::Memory,
        CrashPoint::AfterStage,
    );
}

#[test]
fn synctool_crash_before_commit() {
    crash_at(
        "synctool_crash_before_commit",
        205,
        StoreKind::Memory,
        CrashPoint::BeforeCommit,
    );
}

#[test]
fn synctool_crash_after_commit_before_reply() {
    crash_at(
        "synctool_crash_after_commit_before_reply",
        206,
        StoreKind::Memory,
        CrashPoint::AfterCommit,
    );
}

#[test]
fn synctool_crash_after_persist() {
    crash_at(
        "synctool_crash_after_persist",
        207,
        StoreKind::Memory,
        CrashPoint::AfterPersist,
    );
}

#[test]
fn synctool_crash_at_every_step_of_the_file_sink_commit() {
    for step in [
        Step::StageWritten,
        Step::Staged,
        Step::RecordWritten,
        Step::Published,
        Step::Committed,
    ] {
        crash_at(
            "synctool_crash_at_every_step_of_the_file_sink_commit",
            208,
            StoreKind::Files,
            CrashPoint::Sink(step),
        );
    }
}

/// SyncTool crashes and recovers while a part is INIT, SUCCESS, RUNNING,
/// REASSIGNING and FAILED (in that order, each as soon as the admin's status
/// shows it): t10 (mode 0) has a big partition 0, so its partition 1 is
/// SUCCESS long before the table is done; t11 (mode 2) sits on a collector
/// whose link to SyncTool is held at the start (its part stays INIT), that
/// later crashes (REASSIGNING while it is down) while the tablet snapshots
/// and deletes binlog files no collector could link (FAILED: data gone).
#[test]
fn synctool_restart_with_tasks_in_every_state() {
    let mut scn = Scenario::base(209).named("synctool_restart_with_tasks_in_every_state");
    scn.tables = vec![
        TableSetup {
            partitions: 2,
            initial_rows: 100,
            skew_rows: 900,
            snapshot_at: Some(50),
            mode: Mode::Full,
            ..scn.tables[0].clone()
        },
        TableSetup {
            partitions: 1,
            initial_rows: 400,
            snapshot_at: None,
            mode: Mode::FullAndContinuous,
            binlog_max_bytes: 1_500,
            ..scn.tables[0].clone()
        },
    ];
    scn.pack_size = 200;
    scn.window = 1;
    scn.append_rows = 8;
    scn.append_every_ms = 150;
    scn.session_ms = 5_000;
    scn.timeout_ms = 2_000;
    scn.cutoff_ms = 14_000;
    scn.heal_ms = 16_000;
    scn = scn
        .with(
            0,
            Fault::Hold {
                who: Who::primary(1),
                ms: 1_500,
            },
        )
        .with(
            4_000,
            Fault::CrashCollector {
                who: Who::primary(1),
                down_ms: 4_000,
            },
        )
        .with(6_500, Fault::GcBinlog { table: 1 });
    let states = ["INIT", "SUCCESS", "RUNNING", "REASSIGNING", "FAILED"];
    for state in states {
        scn = scn.with(
            0,
            Fault::CrashSyncToolWhen {
                status: state.into(),
                down_ms: 300,
            },
        );
    }
    let out = pass(scn);
    for state in states {
        assert!(
            has(&out, &format!(" is {state}: crash SyncTool")),
            "SyncTool never restarted with a part {state}: {:#?}",
            out.trace
        );
    }
}

#[test]
fn partition_between_collector_and_synctool() {
    let scn = Scenario::base(210)
        .named("partition_between_collector_and_synctool")
        .with(
            200,
            Fault::Partition {
                who: Who::primary(0),
                ms: 1_000,
            },
        )
        .with(
            1_500,
            Fault::Partition {
                who: Who::primary(1),
                ms: 5_000,
            },
        )
        .with(
            3_000,
            Fault::Partition {
                who: Who::primary(0),
                ms: 300,
            },
        );
    pass(scn);
}

#[test]
fn held_messages_are_released() {
    let scn = Scenario::base(211)
        .named("held_messages_are_released")
        .with(
            200,
            Fault::Hold {
                who: Who::primary(0),
                ms: 1_500,
            },
        )
        .with(
            2_500,
            Fault::Hold {
                who: Who::primary(1),
                ms: 4_000,
            },
        );
    pass(scn);
}

#[test]
fn coordinator_session_expiry() {
    for standby in [false, true] {
        let mut scn = Scenario::base(212)
            .named("coordinator_session_expiry")
            .with(
                300,
                Fault::SessionExpiry {
                    who: Who::primary(0),
                    ms: 1_500,
                },
            )
            .with(
                3_000,
                Fault::SessionExpiry {
                    who: Who::primary(1),
                    ms: 200,
                },
            );
        scn.standby = vec![standby, standby];
        pass(scn);
    }
}

#[test]
fn new_snapshot_mid_sync() {
    for mode in [Mode::Full, Mode::FullAndContinuous] {
        let mut scn = Scenario::base(213)
            .named("new_snapshot_mid_sync")
            .mode(mode)
            .with(100, Fault::Snapshot { table: 0 })
            .with(
                400,
                Fault::CrashCollector {
                    who: Who::primary(0),
                    down_ms: 300,
                },
            )
            .with(2_000, Fault::Snapshot { table: 0 });
        scn.tables[0].initial_rows = 250;
        scn.pack_size = 250;
        pass(scn);
    }
}

#[test]
fn old_binlog_deleted() {
    let mut scn = Scenario::base(214)
        .named("old_binlog_deleted")
        .with(300, Fault::GcBinlog { table: 0 })
        .with(
            600,
            Fault::CrashCollector {
                who: Who::primary(0),
                down_ms: 300,
            },
        )
        .with(2_500, Fault::GcBinlog { table: 0 })
        .with(2_600, Fault::CrashSyncTool { down_ms: 400 });
    scn.tables[0].binlog_max_bytes = 1_500;
    let out = pass(scn);
    assert!(has(&out, "old binlog file(s) deleted"));
}

#[test]
fn leader_moves_to_another_tablet_host() {
    for mode in [Mode::Full, Mode::FullAndContinuous] {
        let mut scn = Scenario::base(215)
            .named("leader_moves_to_another_tablet_host")
            .mode(mode)
            .with(400, Fault::MoveLeader { table: 0 })
            .with(2_500, Fault::MoveLeader { table: 0 })
            .with(4_500, Fault::MoveLeader { table: 0 });
        scn.tables[0].initial_rows = 200;
        scn.pack_size = 300;
        let out = pass(scn);
        assert!(has(&out, "leader moves to tab1"));
        if mode == Mode::FullAndContinuous {
            assert!(has(&out, "rows on tab1:7001"), "{:#?}", out.trace);
        }
    }
}

#[test]
#[ignore = "needs SyncTool HA (not built)"]
fn two_synctools_believing_they_are_leader() {
    // A second SyncTool and leader election do not exist yet: when they do,
    // run two SyncTool hosts against one durable store, partition the leader
    // from the coordinator, and check that the stale leader cannot commit.
    panic!("SyncTool HA is not built");
}

// ---------------------------------------------------------------- the checker can fail

fn broken(breakage: Breakage, expect: &str) {
    let mut scn = Scenario::base(300)
        .named("broken_commits_are_caught")
        .mode(Mode::FullAndContinuous);
    scn.breakage = Some(breakage);
    let failure = sim::run(&scn).expect_err("a broken commit must fail the check");
    let text = failure.to_string();
    eprintln!("{breakage:?} is caught:\n{text}");
    assert!(text.contains(expect), "{text}");
    assert!(text.contains("seed 300"), "{text}");
    assert!(text.contains("cargo test -p sim"), "{text}");
}

#[test]
fn broken_commits_are_caught() {
    broken(Breakage::CommitTwice, "DUPLICATED");
    // The sink refuses the next segment (its predecessor is missing): the
    // part stops with the typed reason, which is no data-destroying fault.
    broken(Breakage::AckWithoutCommit, "FAILED [sink_behind]");
}

// ---------------------------------------------------------------- bugs found

/// Found by seed 330: the tablet snapshots and deletes old binlog files while
/// a collector is down; the restarted collector links the files that are left
/// and must not read across the hole (before the fix its tailer skipped the
/// missing entries and mode 0 finished SUCCESS without them).
#[test]
fn binlog_deleted_while_collector_down_is_not_skipped() {
    for mode in [Mode::Full, Mode::FullAndContinuous] {
        let mut scn = Scenario::base(216)
            .named("binlog_deleted_while_collector_down_is_not_skipped")
            .mode(mode)
            .with(
                100,
                Fault::CrashCollector {
                    who: Who::primary(0),
                    down_ms: 2_000,
                },
            )
            .with(1_500, Fault::GcBinlog { table: 0 });
        scn.tables[0].partitions = 1;
        scn.tables[0].initial_rows = 400;
        scn.pack_size = 200;
        scn.window = 1;
        scn.tables[0].snapshot_at = None;
        scn.tables[0].binlog_max_bytes = 1_500;
        scn.append_rows = 8;
        scn.append_every_ms = 150;
        scn.session_ms = 5_000;
        scn.timeout_ms = 5_000;
        let out = pass(scn);
        // The rows after the hole cannot be read: the data really is gone,
        // the part stops with the typed reason, and the check accepts only
        // the exact prefix before its committed point.
        assert!(
            has(&out, "t10/p0 FAILED for good [data_gone]: entries from"),
            "{:#?}",
            out.trace
        );
    }
}

/// Found by seed 377: packs sent before a hold are delivered after the
/// collector gave the stream up (its replies never came back), so SyncTool
/// accepted further than the collector knows. The collector resends from its
/// own accepted point: out of sequence, rejected, except the one resent pack
/// that equals SyncTool's last accepted pack, whose "duplicate" answer
/// counted as a sign of life — the part was never reassigned and stalled
/// RUNNING forever.
#[test]
fn a_collector_behind_synctool_after_held_replies_is_reassigned() {
    // Seed 377's schedule without its binlog GC.
    let mut scn = Scenario::random_classic(377)
        .named("a_collector_behind_synctool_after_held_replies_is_reassigned");
    scn.faults
        .retain(|(_, f)| !matches!(f, Fault::GcBinlog { .. }));
    pass(scn);
}

/// Seeds 8105 and 10363 of the earlier generator: a mode-0 part after a
/// collector crash, binlog GC and a new snapshot. The product was right (the
/// data it needed was gone: FAILED with the reason); the checker was wrong,
/// counting the part's output as a prefix of the put order although a
/// snapshot is read in key order. The check now takes the part's committed
/// point from the sink.
#[test]
fn regression_seed_8105() {
    pass(Scenario::random_classic(8105).named("regression_seed_8105"));
}

#[test]
fn regression_seed_10363() {
    pass(Scenario::random_classic(10363).named("regression_seed_10363"));
}

// ---------------------------------------------------------------- self-healing

/// A host's only collector unreachable (held, cut off, or its session gone)
/// for three times SyncTool's timeout during a mode-2 sync with appends: the
/// part waits (transient) and heals by itself, every row exactly once.
#[test]
fn the_only_collector_of_a_host_out_past_every_timeout_heals() {
    for (i, fault) in [
        Fault::Hold {
            who: Who::primary(0),
            ms: 9_000,
        },
        Fault::Partition {
            who: Who::primary(0),
            ms: 9_000,
        },
        Fault::SessionExpiry {
            who: Who::primary(0),
            ms: 9_000,
        },
    ]
    .into_iter()
    .enumerate()
    {
        let mut scn = Scenario::base(400 + i as u64)
            .named("the_only_collector_of_a_host_out_past_every_timeout_heals")
            .with(800, fault);
        scn.standby = vec![false, false];
        scn.cutoff_ms = 12_000;
        scn.heal_ms = 14_000;
        let out = pass(scn);
        assert!(!has(&out, "FAILED"), "{:#?}", out.trace);
    }
}

/// The offline store unreachable for two and a half minutes: stage and
/// commit fail (transient), are retried with backoff, and the sync completes
/// exactly once when the store is back.
#[test]
fn the_sink_unavailable_for_minutes_heals() {
    for mode in [Mode::Full, Mode::FullAndContinuous] {
        let mut scn = Scenario::base(410)
            .named("the_sink_unavailable_for_minutes_heals")
            .mode(mode)
            .with(500, Fault::SinkOutage { ms: 150_000 });
        scn.cutoff_ms = 5_000;
        scn.heal_ms = 151_000;
        let out = pass(scn);
        assert!(has(&out, "the offline store is back"), "{:#?}", out.trace);
    }
}

/// The tablet snapshots and deletes binlog files while the collector is
/// still reading the old snapshot slowly: the collector links new binlog
/// files on a timer during the snapshot read, so nothing it needs is lost.
#[test]
fn binlog_gc_during_a_long_snapshot_read_loses_nothing() {
    let mut scn = Scenario::base(420)
        .named("binlog_gc_during_a_long_snapshot_read_loses_nothing")
        .with(3_000, Fault::GcBinlog { table: 0 })
        .with(5_000, Fault::GcBinlog { table: 0 });
    scn.tables[0].partitions = 1;
    scn.tables[0].initial_rows = 1_200;
    scn.tables[0].snapshot_at = Some(1_000);
    scn.tables[0].binlog_max_bytes = 1_500;
    scn.pack_size = 200;
    scn.window = 1;
    scn.max_latency_ms = 5;
    scn.append_rows = 10;
    scn.append_every_ms = 100;
    scn.cutoff_ms = 1_500;
    scn.heal_ms = 8_000;
    let out = pass(scn);
    assert!(has(&out, "old binlog file(s) deleted"));
    assert!(
        !has(&out, "FAILED for good"),
        "the collector lost links: {:#?}",
        out.trace
    );
}

/// A second SyncTool creates the same continuous task to the same
/// destination (it resumes the committed output) while the first runs: its
/// claims take every part at a newer epoch, so the first one's stages,
/// commits and assignments are refused from then on and it drops the parts;
/// no part is FAILED (the checker refuses a `commit_conflict` with
/// fencing), every row is there exactly once.
#[test]
fn a_second_synctool_on_the_same_destination_takes_the_parts_over_by_epoch() {
    let scn = Scenario::base(430)
        .named("a_second_synctool_on_the_same_destination_takes_the_parts_over_by_epoch")
        .with(1_500, Fault::SecondSyncTool);
    let out = pass(scn);
    assert!(has(&out, "a second SyncTool starts"), "{:#?}", out.trace);
    assert!(!has(&out, "FAILED for good"), "{:#?}", out.trace);
}

/// The same without the epoch check: both SyncTools commit into one chain
/// of segments; the exclusive commit record makes the loser of a segment
/// stop (FAILED, `commit_conflict`): committed data is never overwritten
/// or lost, but the loser's parts need an operator.
#[test]
fn without_fencing_a_second_synctool_makes_the_loser_of_a_commit_fail() {
    let mut scn = Scenario::base(430)
        .named("without_fencing_a_second_synctool_makes_the_loser_of_a_commit_fail")
        .with(1_500, Fault::SecondSyncTool);
    scn.fencing = false;
    let out = pass(scn);
    assert!(has(&out, "a second SyncTool starts"), "{:#?}", out.trace);
    assert!(
        has(&out, "FAILED for good [commit_conflict]"),
        "{:#?}",
        out.trace
    );
}
