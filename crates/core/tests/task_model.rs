//! Model-based test of the SyncTool core: random fault schedules in a small
//! simulated world, checked against a reference model of the source.
//!
//! The world: one table (tid 1, two partitions) over three tablet hosts, four
//! collectors (`h0` has a standby). Each partition has a log of puts with
//! unique values over a small key space (so keys are overwritten), snapshots per
//! host made at chosen moments (their MANIFEST offset lags by an overlap window,
//! as OpenMLDB's does), binlog GC per host, and a leader host. Collectors read
//! with the rules of `sync_core::point` (effective offset, `plan_read`,
//! catch-up). A fake daemon executes the supervisor's actions one at a time
//! against a fake sink (staging, atomic commit records, idempotent commits),
//! with failures; SyncTool crashes drop the supervisor and its pending actions
//! and rebuild it from the persisted bytes and the sink. Packs are delayed,
//! reordered, duplicated and lost; replies are lost; collectors die and come
//! back; leaders move; snapshots are replaced; binlog is deleted; the table is
//! deleted and created again.
//!
//! After the schedule, a heal phase (all collectors up, no faults, fresh
//! snapshots and one retry of FAILED parts) runs to quiescence. Invariant:
//!
//! * every committed row is a put of the source up to the cut-off, at most
//!   once (no duplicate, no phantom), for every task ever created;
//! * for the live task, per key, the committed puts are exactly a suffix of
//!   that key's puts up to the cut-off that includes its latest put (the
//!   per-key guarantee of `point`); with no overwrites this is "every put
//!   exactly once";
//! * mode 0 ends with the table removed and every part's last commit at the
//!   binlog end it reported; modes 1/2 end with every part committed up to the
//!   end of the log; a part may end FAILED only because binlog it needed was
//!   deleted (then its output is still duplicate-free);
//! * commits are contiguous and a segment name never gets two contents;
//! * nothing is stuck: quiescence is reached within a bounded number of rounds.
//!
//! `SYNC_MODEL_CASES` sets the number of cases (default 10 000).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;
use sync_core::point::{Available, Point, ReadPlan, RowKey, effective_offset, plan_read};
use sync_core::proto::datasync::{DropReason, ReadFailureKind};
use sync_core::task::{
    Action, AssignFailure, Backoff, Config, IfExists, Input, Mode, Pack, PackReply,
    PartitionLeader, PersistedState, ReadFailure, RecoveryInput, RollPolicy, SegmentId,
    SinkFailure, SinkProgress, Status, Supervisor, TableTaskSpec, TaskOptions,
};

const TID: u32 = 1;
const PIDS: [u32; 2] = [0, 1];
const HOSTS: [&str; 3] = ["h0", "h1", "h2"];
const COLLECTORS: [&str; 4] = ["h0:1", "h0:2", "h1:1", "h2:1"];
const PKS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
const TIMEOUT: u64 = 1_000;
const START_TS: u64 = 2;
const OVERLAP_SCAN: u64 = 8;

#[derive(Clone, Debug)]
struct Entry {
    index: u64,
    key: RowKey,
    value: Vec<u8>,
}

#[derive(Clone, Debug)]
struct Snap {
    manifest: u64,
    rows: BTreeMap<RowKey, Vec<u8>>,
}

#[derive(Clone, Debug)]
struct Source {
    log: Vec<Entry>,
    snapshots: BTreeMap<usize, Snap>,
    binlog_first: BTreeMap<usize, u64>,
    leader: usize,
}

impl Source {
    fn state(&self) -> BTreeMap<RowKey, Vec<u8>> {
        let mut s = BTreeMap::new();
        for e in &self.log {
            s.insert(e.key.clone(), e.value.clone());
        }
        s
    }
    fn end(&self) -> u64 {
        self.log.len() as u64
    }
    fn effective(&self, snap: &Snap) -> u64 {
        let window = self
            .log
            .iter()
            .filter(|e| e.index > snap.manifest && e.index <= snap.manifest + OVERLAP_SCAN)
            .map(|e| (e.index, &e.key, e.value.as_slice()));
        effective_offset(snap.manifest, window, |k| {
            snap.rows.get(k).map(Vec::as_slice)
        })
    }
}

/// A collector's task: its pinned data and its place.
#[derive(Clone, Debug)]
struct CTask {
    token: String,
    point: Point,
    snap: Option<Snap>,
    effective: Option<u64>,
    binlog_first: u64,
    mode: Mode,
    outstanding: Option<Pack>,
    /// Reading cannot go on: the data the point needs is gone (the message).
    gone: Option<String>,
    /// Told to stop (another assignment owns the part, or it is FAILED):
    /// sends nothing, keeps its pinned data.
    dormant: bool,
}

#[derive(Default, Debug)]
struct Collector {
    alive: bool,
    tasks: BTreeMap<u32, CTask>,
}

#[derive(Clone, Debug)]
struct CommitRecord {
    start: Point,
    end: Point,
    rows_total: u64,
    rows: Vec<Vec<u8>>,
}

#[derive(Default, Debug)]
struct Sink {
    staging: BTreeMap<SegmentId, (Vec<u8>, u64)>,
    commits: BTreeMap<(u64, u32), BTreeMap<u64, CommitRecord>>,
}

fn encode_rows(values: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        out.push(v.len() as u8);
        out.extend_from_slice(v);
    }
    out
}

fn decode_rows(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut rows = Vec::new();
    while let Some((&len, rest)) = bytes.split_first() {
        rows.push(rest[..len as usize].to_vec());
        bytes = &rest[len as usize..];
    }
    rows
}

/// A deliberate break, to show the model catches it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Break {
    None,
    /// The collector reads the binlog from the MANIFEST offset + 1 instead of
    /// the effective offset + 1 (OpenMLDB's overlap duplicates).
    ManifestSwitch,
    /// The collector resumes a snapshot point on a newer snapshot at (pk, ts)
    /// without the catch-up (OpenMLDB's hand-off).
    NoCatchUp,
}

struct World {
    now: u64,
    mode: Mode,
    sources: BTreeMap<u32, Source>,
    collectors: BTreeMap<&'static str, Collector>,
    sup: Option<Supervisor>,
    seed: u64,
    pending: VecDeque<Action>,
    persisted: Option<Vec<u8>>,
    sink: Sink,
    net: Vec<(String, Pack)>,
    table_exists: bool,
    failures: Vec<String>,
    brk: Break,
    retried: bool,
    last_created: Option<u64>,
    completed: BTreeSet<u64>,
    /// Claims answered so far (the epochs they give).
    claims: u64,
}

#[derive(Clone, Debug)]
enum Ev {
    Write { pid: u32, key: u8 },
    Snapshot { pid: u32, host: u8, window: u8 },
    GcBinlog { pid: u32, host: u8 },
    MoveLeader { pid: u32, host: u8 },
    CollectorStep { c: u8, pid: u32 },
    Deliver { idx: u8, lose_reply: bool },
    Duplicate { idx: u8 },
    DropMsg { idx: u8 },
    Kill { c: u8 },
    Revive { c: u8 },
    Tick { dt: u16 },
    Daemon { n: u8, fail: bool },
    Crash,
    DeleteAndRecreate,
}

fn ev() -> impl Strategy<Value = Ev> {
    let pid = 0u32..2;
    prop_oneof![
        6 => (pid.clone(), 0u8..18).prop_map(|(pid, key)| Ev::Write { pid, key }),
        3 => (pid.clone(), 0u8..3, 0u8..3).prop_map(|(pid, host, window)| Ev::Snapshot { pid, host, window }),
        1 => (pid.clone(), 0u8..3).prop_map(|(pid, host)| Ev::GcBinlog { pid, host }),
        2 => (pid.clone(), 0u8..3).prop_map(|(pid, host)| Ev::MoveLeader { pid, host }),
        8 => (0u8..4, pid).prop_map(|(c, pid)| Ev::CollectorStep { c, pid }),
        8 => (any::<u8>(), prop::bool::weighted(0.15)).prop_map(|(idx, lose_reply)| Ev::Deliver { idx, lose_reply }),
        1 => any::<u8>().prop_map(|idx| Ev::Duplicate { idx }),
        1 => any::<u8>().prop_map(|idx| Ev::DropMsg { idx }),
        1 => (0u8..4).prop_map(|c| Ev::Kill { c }),
        2 => (0u8..4).prop_map(|c| Ev::Revive { c }),
        3 => (0u16..1500).prop_map(|dt| Ev::Tick { dt }),
        8 => (1u8..6, prop::bool::weighted(0.1)).prop_map(|(n, fail)| Ev::Daemon { n, fail }),
        1 => Just(Ev::Crash),
        1 => Just(Ev::DeleteAndRecreate),
    ]
}

fn config() -> Config {
    Config {
        timeout_ms: TIMEOUT,
        des_endpoint: "synctool:1".into(),
        defaults: TaskOptions {
            roll: RollPolicy {
                max_rows: 2,
                max_bytes: 1 << 20,
                max_age_ms: 200,
            },
            ..TaskOptions::default()
        },
        max_held_bytes: 1 << 20,
        // Small, so that early seals, flow control and `Busy` happen.
        memory_limit: 24,
        backoff: Backoff {
            base_ms: 100,
            cap_ms: 2_000,
        },
        fail_after_ms: None,
        history_ms: 3_600_000,
        // Crashes then often find the state lagging the sink.
        persist_delay_ms: 300,
        // Parts are claimed before they are assigned, as with ZooKeeper.
        fencing: true,
    }
}

fn spec(mode: Mode) -> TableTaskSpec {
    TableTaskSpec {
        db: "db".into(),
        table: "t".into(),
        tid: TID,
        mode,
        start_ts: (mode == Mode::IncrementalByTimestamp).then_some(START_TS),
        dest: "/offline/t".into(),
        if_exists: IfExists::Default,
        options: config().defaults,
    }
}

impl World {
    fn new(mode: Mode, seed: u64, initial: &[(u32, u8)], brk: Break) -> Self {
        let mut sources = BTreeMap::new();
        for pid in PIDS {
            sources.insert(
                pid,
                Source {
                    log: Vec::new(),
                    snapshots: BTreeMap::new(),
                    binlog_first: HOSTS.iter().enumerate().map(|(h, _)| (h, 1)).collect(),
                    leader: pid as usize,
                },
            );
        }
        let collectors = COLLECTORS
            .iter()
            .map(|c| {
                (
                    *c,
                    Collector {
                        alive: true,
                        tasks: BTreeMap::new(),
                    },
                )
            })
            .collect();
        let mut w = World {
            now: 0,
            mode,
            sources,
            collectors,
            sup: Some(Supervisor::new(config(), seed)),
            seed,
            pending: VecDeque::new(),
            claims: 0,
            persisted: None,
            sink: Sink::default(),
            net: Vec::new(),
            table_exists: false,
            failures: Vec::new(),
            brk,
            retried: false,
            last_created: None,
            completed: BTreeSet::new(),
        };
        for &(pid, key) in initial {
            w.write(pid, key);
        }
        for pid in PIDS {
            for h in 0..HOSTS.len() {
                w.snapshot(pid, h, 1);
            }
        }
        w.announce_collectors();
        w.create();
        w
    }

    fn write(&mut self, pid: u32, key: u8) {
        let src = self.sources.get_mut(&pid).unwrap();
        let index = src.end() + 1;
        src.log.push(Entry {
            index,
            key: RowKey::new(PKS[(key % 6) as usize], 1 + (key / 6) as u64),
            value: format!("p{pid}i{index}").into_bytes(),
        });
    }

    fn snapshot(&mut self, pid: u32, host: usize, window: u8) {
        let src = self.sources.get_mut(&pid).unwrap();
        let snap = Snap {
            manifest: src.end().saturating_sub(window as u64),
            rows: src.state(),
        };
        src.snapshots.insert(host, snap);
    }

    fn leaders(&self) -> Vec<PartitionLeader> {
        PIDS.iter()
            .map(|pid| PartitionLeader {
                pid: *pid,
                tablet_endpoint: format!("{}:9", HOSTS[self.sources[pid].leader]),
            })
            .collect()
    }

    fn live(&self) -> Vec<String> {
        self.collectors
            .iter()
            .filter(|(_, c)| c.alive)
            .map(|(n, _)| n.to_string())
            .collect()
    }

    fn input(&mut self, input: Input) {
        let Some(sup) = self.sup.as_mut() else {
            return;
        };
        let actions = sup.handle(self.now, input);
        self.pending.extend(actions);
    }

    fn announce_collectors(&mut self) {
        let live = self.live();
        self.input(Input::Collectors { live });
    }

    fn create(&mut self) {
        let partitions = self.leaders();
        // The destination's output of earlier tasks (as the daemon reads it);
        // a recreate after a delete continues it (modes 1, 2) or writes anew
        // (mode 0, whose default refuses: the model asks to append).
        let existing = self.sink_progress();
        let mut spec = spec(self.mode);
        if self.mode == Mode::Full {
            spec.if_exists = IfExists::Append;
        }
        self.input(Input::Create {
            spec,
            partitions,
            existing,
        });
    }

    /// Executes one pending action; `fail` makes a sink step or an assignment reply fail.
    fn daemon_step(&mut self, fail: bool) {
        let Some(action) = self.pending.pop_front() else {
            return;
        };
        match action {
            Action::Persist(state) => self.persisted = Some(state.to_bytes()),
            Action::CreateReply(r) => {
                if let Ok(created) = r {
                    self.table_exists = true;
                    self.last_created = Some(created.task_id);
                }
            }
            Action::DeleteReply(_)
            | Action::RetryReply(_)
            | Action::PartFailed { .. }
            | Action::SegmentCommitted { .. }
            | Action::ReleaseDestination { .. } => {}
            Action::TableCompleted { task_id, .. } => {
                self.table_exists = false;
                self.completed.insert(task_id);
            }
            Action::PackReply(_) => {
                unreachable!("pack replies are routed when the pack is handled")
            }
            Action::ClaimPart { tid, pid } => {
                // The only SyncTool: every claim succeeds, at a newer epoch.
                self.claims += 1;
                let result = if fail {
                    Err("ZooKeeper unreachable".to_string())
                } else {
                    Ok(self.claims)
                };
                self.input(Input::PartClaimed { tid, pid, result });
                if fail {
                    self.pending.push_back(Action::ClaimPart { tid, pid });
                }
            }
            Action::Assign(a) => {
                let result = self.collector_assign(
                    &a.collector,
                    a.pid,
                    a.token.clone(),
                    a.point.clone(),
                    a.mode,
                );
                if !fail {
                    self.input(Input::AssignResult {
                        tid: a.tid,
                        pid: a.pid,
                        token: a.token,
                        result: result.map_err(|message| AssignFailure::Unreachable {
                            collector: a.collector.clone(),
                            message,
                        }),
                    });
                }
            }
            Action::Stage(s) => {
                let result = if fail {
                    Err(SinkFailure::Unavailable("sink unavailable".into()))
                } else {
                    self.sink
                        .staging
                        .insert(s.id, (s.rows.to_vec(), s.row_count));
                    Ok(())
                };
                self.input(Input::Staged { id: s.id, result });
            }
            Action::Commit(c) => {
                let result = if fail {
                    Err(SinkFailure::Unavailable("sink unavailable".into()))
                } else {
                    self.sink_commit(&c)
                        .map(|()| u64::from(c.row_count > 0))
                        .map_err(SinkFailure::Unavailable)
                };
                self.input(Input::Committed { id: c.id, result });
            }
            Action::ClearStaging {
                tid,
                pid,
                task_id,
                from_seq,
                ..
            } => self.sink.staging.retain(|id, _| {
                !(id.tid == tid && id.pid == pid && id.task_id == task_id && id.seq >= from_seq)
            }),
        }
    }

    fn sink_commit(&mut self, c: &sync_core::task::CommitSegment) -> Result<(), String> {
        let records = self
            .sink
            .commits
            .entry((c.id.task_id, c.id.pid))
            .or_default();
        if let Some(existing) = records.get(&c.id.seq) {
            if existing.start != c.start
                || existing.end != c.end
                || existing.rows_total != c.rows_total
            {
                self.failures.push(format!(
                    "segment {} committed twice with different content: {:?} vs {:?}",
                    c.id.name(),
                    (&existing.start, &existing.end),
                    (&c.start, &c.end)
                ));
            }
            return Ok(());
        }
        let Some((rows, count)) = self.sink.staging.remove(&c.id) else {
            return Err(format!("segment {} is not staged", c.id.name()));
        };
        let expected_start = match records.iter().next_back() {
            Some((seq, r)) => {
                if *seq + 1 != c.id.seq {
                    self.failures
                        .push(format!("commit of seq {} after seq {seq}", c.id.seq));
                }
                r.end.clone()
            }
            None => {
                if c.id.seq != 0 {
                    self.failures
                        .push(format!("first commit has seq {}", c.id.seq));
                }
                Point::start()
            }
        };
        if expected_start != c.start {
            self.failures.push(format!(
                "commit {} starts at {} but the previous ends at {}",
                c.id.name(),
                c.start,
                expected_start
            ));
        }
        let rows = decode_rows(&rows);
        if rows.len() as u64 != count {
            self.failures.push("staged row count mismatch".into());
        }
        records.insert(
            c.id.seq,
            CommitRecord {
                start: c.start.clone(),
                end: c.end.clone(),
                rows_total: c.rows_total,
                rows,
            },
        );
        Ok(())
    }

    /// The collector takes an assignment if it can read from `point` exactly.
    fn collector_assign(
        &mut self,
        name: &str,
        pid: u32,
        token: String,
        point: Point,
        mode: Mode,
    ) -> Result<(), String> {
        let host = HOSTS.iter().position(|h| name.starts_with(h)).unwrap();
        let src = &self.sources[&pid];
        let col = self.collectors.get_mut(name).unwrap();
        if !col.alive {
            return Err("unreachable".into());
        }
        // Keep the pinned data of an earlier assignment of the same part.
        let old = col.tasks.remove(&pid);
        let mut binlog_first = src.binlog_first[&host];
        // Like OpenMLDB, prefer the newest snapshot of the host; fall back to
        // the one pinned by an earlier assignment.
        let mut options: Vec<Option<Snap>> = vec![src.snapshots.get(&host).cloned()];
        if let Some(old) = &old {
            binlog_first = binlog_first.min(old.binlog_first);
            if old.snap.is_some() {
                options.push(old.snap.clone());
            }
        }
        let mut last_err = String::new();
        let mut first_snap = None;
        for snap in options {
            if first_snap.is_none() {
                first_snap = Some(snap.clone());
            }
            let effective = snap.as_ref().map(|s| src.effective(s));
            let avail = Available {
                snapshot_offset: effective,
                binlog_first,
            };
            match plan_read(&point, &avail) {
                Ok(_) => {
                    col.tasks.insert(
                        pid,
                        CTask {
                            token,
                            point,
                            snap,
                            effective,
                            binlog_first,
                            mode,
                            outstanding: None,
                            gone: None,
                            dormant: false,
                        },
                    );
                    return Ok(());
                }
                Err(e) => last_err = e.to_string(),
            }
        }
        // Like the real collector: the assignment is taken at once, and the
        // preparation's failure travels in a failure pack.
        let snap = first_snap.flatten();
        let effective = snap.as_ref().map(|s| src.effective(s));
        col.tasks.insert(
            pid,
            CTask {
                token,
                point,
                snap,
                effective,
                binlog_first,
                mode,
                outstanding: None,
                gone: Some(last_err),
                dormant: false,
            },
        );
        Ok(())
    }

    /// The collector sends its next pack for `pid` (or resends the outstanding one).
    fn collector_step(&mut self, name: &'static str, pid: u32, max_rows: usize) {
        let src = &self.sources[&pid];
        let brk = self.brk;
        let col = self.collectors.get_mut(name).unwrap();
        if !col.alive {
            return;
        }
        let Some(task) = col.tasks.get_mut(&pid) else {
            return;
        };
        if let Some(p) = &task.outstanding {
            self.net.push((name.to_string(), p.clone()));
            return;
        }
        if task.dormant {
            return;
        }
        if let Some(message) = task.gone.clone() {
            let pack = Pack {
                tid: TID,
                pid,
                token: task.token.clone(),
                start: task.point.clone(),
                next: task.point.clone(),
                row_count: 0,
                rows: Vec::new(),
                finished: false,
                preparing: false,
                failure: Some(ReadFailure {
                    kind: ReadFailureKind::KDataGone,
                    message,
                }),
            };
            task.outstanding = Some(pack.clone());
            self.net.push((name.to_string(), pack));
            return;
        }
        let start = task.point.clone();
        let mut point = start.clone();
        let mut rows = Vec::new();
        let mut at_end = false;
        let avail = Available {
            snapshot_offset: task.effective,
            binlog_first: task.binlog_first,
        };
        let keep = |key: &RowKey| task.mode != Mode::IncrementalByTimestamp || key.ts >= START_TS;
        for _ in 0..max_rows * 4 {
            if rows.len() >= max_rows {
                break;
            }
            let plan = match plan_read(&point, &avail) {
                Ok(plan) => plan,
                Err(e) => {
                    // Reported from the point reached, after what was read so far.
                    if rows.is_empty() && point == start {
                        task.gone = Some(e.to_string());
                        return;
                    }
                    break;
                }
            };
            match plan {
                ReadPlan::Snapshot {
                    snapshot_offset,
                    from,
                } => {
                    let snap = task.snap.as_ref().unwrap();
                    let mut it = match &from {
                        Some(k) => snap.rows.range(k.clone()..),
                        None => snap.rows.range(..),
                    };
                    match it.next() {
                        Some((k, v)) => {
                            if keep(k) {
                                rows.push(v.clone());
                            }
                            point = match it.next() {
                                Some((next, _)) => {
                                    Point::in_snapshot(snapshot_offset, Some(next.clone()))
                                }
                                None => switch(snap, snapshot_offset, brk),
                            };
                        }
                        None => point = switch(snap, snapshot_offset, brk),
                    }
                }
                ReadPlan::CatchUp {
                    snapshot_offset,
                    below,
                    from,
                } => {
                    STATS_CATCHUP.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let hit = src
                        .log
                        .iter()
                        .find(|e| e.index >= from && e.index <= snapshot_offset && e.key < below);
                    point = match hit {
                        Some(e) => {
                            if keep(&e.key) {
                                rows.push(e.value.clone());
                            }
                            Point::catching_up(snapshot_offset, below, e.index + 1)
                        }
                        None => Point::in_snapshot(snapshot_offset, Some(below)),
                    };
                    if brk == Break::NoCatchUp {
                        rows.clear();
                        point = Point::in_snapshot(
                            snapshot_offset,
                            match point {
                                Point::Snapshot(s) => s.key,
                                _ => None,
                            },
                        );
                    }
                }
                ReadPlan::Binlog { from } => match src.log.get(from as usize - 1) {
                    Some(e) => {
                        if keep(&e.key) {
                            rows.push(e.value.clone());
                        }
                        point = Point::Binlog { offset: from + 1 };
                    }
                    None => {
                        at_end = true;
                        break;
                    }
                },
            }
        }
        let pack = Pack {
            tid: TID,
            pid,
            token: task.token.clone(),
            start,
            next: point,
            row_count: rows.len() as u64,
            rows: encode_rows(&rows),
            finished: at_end && task.mode == Mode::Full,
            preparing: false,
            failure: None,
        };
        task.outstanding = Some(pack.clone());
        self.net.push((name.to_string(), pack));
    }

    fn deliver(&mut self, idx: usize, lose_reply: bool) {
        if self.net.is_empty() {
            return;
        }
        let (from, pack) = self.net.remove(idx % self.net.len());
        let Some(sup) = self.sup.as_mut() else {
            return;
        };
        let mut actions = sup.handle(self.now, Input::Pack(pack.clone()));
        let reply = match actions.pop() {
            Some(Action::PackReply(r)) => r,
            other => panic!("a pack must be answered last, got {other:?}"),
        };
        self.pending.extend(actions);
        if reply.outcome == sync_core::task::PackOutcome::Busy {
            STATS_BUSY.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if !lose_reply {
            self.collector_reply(&from, &pack, reply);
        }
    }

    fn collector_reply(&mut self, name: &str, pack: &Pack, reply: PackReply) {
        let truth = self.sink_end(pack.pid);
        let live = self.current_task();
        let col = self.collectors.get_mut(name).unwrap();
        if !col.alive {
            return;
        }
        let Some(task) = col.tasks.get_mut(&pack.pid) else {
            return;
        };
        if task.token != pack.token || task.outstanding.as_ref() != Some(pack) {
            return; // a reply to an old request
        }
        task.outstanding = None;
        if reply.is_ok() {
            task.point = pack.next.clone();
        }
        // The collector releases its data before the committed point SyncTool
        // reports: that point must really be committed in the sink.
        if let Some(committed) = &reply.committed {
            if committed.progress_cmp(&truth) == Some(std::cmp::Ordering::Greater) {
                self.failures.push(format!(
                    "pid {}: a reply says {committed} is committed, the sink holds {truth} ({reply:?}, task {:?})",
                    pack.pid, live
                ));
            }
            if let Point::Binlog { offset } = committed {
                task.binlog_first = task.binlog_first.max(*offset);
            }
        }
        match reply.drop {
            None => {}
            Some(
                DropReason::KDropReassigned | DropReason::KDropFailed | DropReason::KDropMalformed,
            ) => {
                task.dormant = true;
            }
            Some(_) => {
                col.tasks.remove(&pack.pid);
            }
        }
    }

    /// The newest task's committed end of `pid` in the sink (the task may
    /// have just completed and left the supervisor).
    fn sink_end(&self, pid: u32) -> Point {
        self.current_task()
            .map(|(task_id, _)| task_id)
            .or(self.last_created)
            .and_then(|task_id| self.sink.commits.get(&(task_id, pid)))
            .and_then(|records| records.values().next_back())
            .map_or_else(Point::start, |r| r.end.clone())
    }

    /// Every partition task's last commit in the sink.
    fn sink_progress(&self) -> Vec<SinkProgress> {
        let mut sink = Vec::new();
        for ((task_id, pid), records) in &self.sink.commits {
            if let Some((seq, r)) = records.iter().next_back() {
                sink.push(SinkProgress {
                    tid: TID,
                    pid: *pid,
                    task_id: *task_id,
                    last_seq: *seq,
                    end: r.end.clone(),
                    rows_total: r.rows_total,
                });
            }
        }
        sink
    }

    fn crash(&mut self) {
        self.sup = None;
        self.pending.clear();
        self.recover();
    }

    fn recover(&mut self) {
        let state = match &self.persisted {
            Some(bytes) => PersistedState::from_bytes(bytes).expect("persisted state decodes"),
            None => PersistedState::default(),
        };
        let sink = self.sink_progress();
        let mut leaders = BTreeMap::new();
        leaders.insert(TID, self.leaders());
        let input = RecoveryInput {
            state,
            sink,
            live_collectors: self.live(),
            leaders,
        };
        self.seed = self.seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let (sup, actions) =
            Supervisor::recover(config(), self.seed, self.now, input).expect("recovers");
        if let Some(t) = sup.table(TID) {
            // The create was persisted even if its reply was lost.
            self.last_created = Some(t.task_id);
        }
        self.sup = Some(sup);
        self.pending.extend(actions);
    }

    fn apply(&mut self, ev: &Ev) {
        match *ev {
            Ev::Write { pid, key } => self.write(pid, key),
            Ev::Snapshot { pid, host, window } => self.snapshot(pid, host as usize, window),
            Ev::GcBinlog { pid, host } => {
                let src = self.sources.get_mut(&pid).unwrap();
                if let Some(s) = src.snapshots.get(&(host as usize)) {
                    let first = src.binlog_first.get_mut(&(host as usize)).unwrap();
                    *first = (*first).max(s.manifest + 1);
                }
            }
            Ev::MoveLeader { pid, host } => {
                self.sources.get_mut(&pid).unwrap().leader = host as usize;
                let partitions = self.leaders();
                self.input(Input::TableMetadata {
                    tid: TID,
                    partitions,
                });
            }
            Ev::CollectorStep { c, pid } => {
                // Every collector holding the part moves (c varies the pack size).
                for name in COLLECTORS {
                    self.collector_step(name, pid, 1 + (c as usize % 2));
                }
            }
            Ev::Deliver { idx, lose_reply } => self.deliver(idx as usize, lose_reply),
            Ev::Duplicate { idx } => {
                if !self.net.is_empty() {
                    let m = self.net[idx as usize % self.net.len()].clone();
                    self.net.push(m);
                }
            }
            Ev::DropMsg { idx } => {
                if !self.net.is_empty() {
                    let n = self.net.len();
                    self.net.remove(idx as usize % n);
                }
            }
            Ev::Kill { c } => {
                let col = self.collectors.get_mut(COLLECTORS[c as usize]).unwrap();
                col.alive = false;
                col.tasks.clear();
                self.announce_collectors();
            }
            Ev::Revive { c } => {
                self.collectors
                    .get_mut(COLLECTORS[c as usize])
                    .unwrap()
                    .alive = true;
                self.announce_collectors();
            }
            Ev::Tick { dt } => {
                self.now += dt as u64;
                self.input(Input::Tick);
            }
            Ev::Daemon { n, fail } => {
                for i in 0..n {
                    self.daemon_step(fail && i == 0);
                }
            }
            Ev::Crash => self.crash(),
            Ev::DeleteAndRecreate => {
                self.input(Input::Delete {
                    db: "db".into(),
                    table: "t".into(),
                });
                self.drain();
                self.table_exists = false;
                self.create();
            }
        }
    }

    fn drain(&mut self) {
        let mut guard = 0;
        while !self.pending.is_empty() {
            self.daemon_step(false);
            guard += 1;
            assert!(guard < 100_000, "the daemon queue never empties");
        }
    }

    fn current_task(&self) -> Option<(u64, PartStates)> {
        let t = self.sup.as_ref()?.table(TID)?;
        Some((
            t.task_id,
            t.partitions
                .iter()
                .map(|(pid, p)| {
                    (
                        *pid,
                        (
                            p.status,
                            p.failure.as_ref().map(|f| f.kind.clone()),
                            p.plan.committed().clone(),
                        ),
                    )
                })
                .collect(),
        ))
    }

    fn quiescent(&self) -> bool {
        if !self.pending.is_empty() || !self.net.is_empty() {
            return false;
        }
        match self.current_task() {
            None => self
                .last_created
                .is_some_and(|id| self.completed.contains(&id)),
            Some((_, parts)) => {
                let failed = parts.values().any(|p| p.0 == Status::Failed);
                (self.mode != Mode::Full || failed)
                    && parts.iter().all(|(pid, (status, _, committed))| {
                        *status == Status::Failed
                            || (self.mode == Mode::Full && *status == Status::Success)
                            || self.mode != Mode::Full
                                && *committed
                                    == (Point::Binlog {
                                        offset: self.sources[pid].end() + 1,
                                    })
                    })
            }
        }
    }

    /// Heal: everything up, no faults, run until quiescent.
    fn heal(&mut self) -> Result<(), String> {
        for c in self.collectors.values_mut() {
            c.alive = true;
        }
        self.announce_collectors();
        if self.sup.is_none() {
            self.recover();
        }
        let done = self
            .last_created
            .is_some_and(|id| self.completed.contains(&id));
        if self.current_task().is_none() && !done {
            self.create();
            self.drain();
        }
        for round in 0..400 {
            while !self.net.is_empty() {
                self.deliver(0, false);
            }
            self.drain();
            if self.quiescent() {
                let failed = self
                    .current_task()
                    .is_some_and(|(_, parts)| parts.values().any(|p| p.0 == Status::Failed));
                if !failed || self.retried {
                    return Ok(());
                }
                // Fresh snapshots everywhere, then one retry of FAILED parts.
                self.retried = true;
                for pid in PIDS {
                    for h in 0..HOSTS.len() {
                        self.snapshot(pid, h, 1);
                    }
                }
                self.input(Input::RetryFailed {
                    db: "db".into(),
                    table: "t".into(),
                });
                continue;
            }
            for name in COLLECTORS {
                for pid in PIDS {
                    self.collector_step(name, pid, 3);
                }
            }
            if round % 4 == 3 {
                self.now += TIMEOUT / 3;
                self.input(Input::Tick);
            }
        }
        Err(format!(
            "not quiescent after healing: task {:?}, pending {}, net {}",
            self.current_task(),
            self.pending.len(),
            self.net.len()
        ))
    }

    /// The invariant (module doc).
    fn check(&self) -> Result<(), String> {
        if let Some(f) = self.failures.first() {
            return Err(f.clone());
        }
        let live_task = self.current_task();
        for ((task_id, pid), records) in &self.sink.commits {
            let src = &self.sources[pid];
            let by_value: BTreeMap<&[u8], &Entry> =
                src.log.iter().map(|e| (e.value.as_slice(), e)).collect();
            let mut seen = BTreeSet::new();
            let end = records.values().next_back().map(|r| r.end.clone());
            for r in records.values() {
                for row in &r.rows {
                    let Some(e) = by_value.get(row.as_slice()) else {
                        return Err(format!("phantom row {:?}", String::from_utf8_lossy(row)));
                    };
                    if !seen.insert(e.index) {
                        return Err(format!(
                            "task {task_id} pid {pid}: row {} committed twice",
                            String::from_utf8_lossy(row)
                        ));
                    }
                }
            }
            let is_live = live_task.as_ref().is_some_and(|(id, _)| id == task_id);
            let exact = if is_live {
                let (_, parts) = live_task.as_ref().unwrap();
                let (status, reason, committed) = &parts[pid];
                if *status == Status::Failed {
                    let reason = reason.clone().unwrap_or_default();
                    if reason != "data_gone" {
                        return Err(format!(
                            "pid {pid} FAILED for an unexpected reason: {reason}"
                        ));
                    }
                    None
                } else {
                    Some(committed.clone())
                }
            } else if self.completed.contains(task_id) {
                end.clone()
            } else {
                None
            };
            let Some(cut_point) = exact else {
                continue;
            };
            let Point::Binlog { offset } = cut_point else {
                return Err(format!("pid {pid} ended at {cut_point}, not in the binlog"));
            };
            let cut = offset - 1;
            if self.mode != Mode::Full && cut != src.end() {
                return Err(format!(
                    "pid {pid} committed up to {cut}, the log ends at {}",
                    src.end()
                ));
            }
            // Per key: the committed puts are a suffix of the key's puts up to the cut,
            // including the latest.
            let mut per_key: BTreeMap<&RowKey, Vec<&Entry>> = BTreeMap::new();
            for e in src.log.iter().filter(|e| e.index <= cut) {
                if self.mode == Mode::IncrementalByTimestamp && e.key.ts < START_TS {
                    continue;
                }
                per_key.entry(&e.key).or_default().push(e);
            }
            if seen.iter().any(|i| *i > cut) {
                return Err(format!(
                    "pid {pid}: a row after the cut-off {cut} was committed"
                ));
            }
            for (key, puts) in per_key {
                let present: Vec<bool> = puts.iter().map(|e| seen.contains(&e.index)).collect();
                let first = present.iter().position(|p| *p);
                let ok = match first {
                    Some(f) => present[f..].iter().all(|p| *p),
                    None => false,
                };
                if !ok {
                    let shown: Vec<String> = puts
                        .iter()
                        .zip(&present)
                        .map(|(e, p)| format!("{}{}", e.index, if *p { "+" } else { "-" }))
                        .collect();
                    return Err(format!(
                        "pid {pid} key {}/{}: committed puts are not a suffix ending at the latest: {}",
                        String::from_utf8_lossy(&key.pk),
                        key.ts,
                        shown.join(" ")
                    ));
                }
            }
        }
        // A completed mode-0 task must have committed every partition.
        for task_id in &self.completed {
            for pid in PIDS {
                if !self.sink.commits.contains_key(&(*task_id, pid)) {
                    return Err(format!(
                        "task {task_id} completed without a commit for pid {pid}"
                    ));
                }
            }
        }
        // The only way to stay unfinished: a part FAILED because binlog it needed is gone.
        if let Some((_, parts)) = &live_task {
            for (pid, (status, reason, _)) in parts {
                let legit = *status == Status::Failed && reason.as_deref() == Some("data_gone");
                if self.mode == Mode::Full && *status != Status::Success && !legit {
                    return Err(format!(
                        "mode 0 part {pid} not completed after healing: {live_task:?}"
                    ));
                }
                if *status == Status::Failed && !legit {
                    return Err(format!(
                        "part {pid} FAILED for an unexpected reason: {reason:?}"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Per pid: status, failure kind, committed point.
type PartStates = BTreeMap<u32, (Status, Option<String>, Point)>;

static STATS_CATCHUP: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// Packs answered `Busy` (the memory limit), for `SYNC_MODEL_STATS`.
static STATS_BUSY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn switch(snap: &Snap, effective: u64, brk: Break) -> Point {
    if brk == Break::ManifestSwitch {
        Point::after_snapshot(snap.manifest)
    } else {
        Point::after_snapshot(effective)
    }
}

fn run_case(
    mode: u8,
    seed: u64,
    initial: &[(u32, u8)],
    events: &[Ev],
    brk: Break,
) -> Result<(), String> {
    let mode = Mode::from_i32(mode as i32).unwrap();
    let mut w = World::new(mode, seed, initial, brk);
    for e in events {
        w.apply(e);
        if let Some(f) = w.failures.first() {
            return Err(f.clone());
        }
    }
    w.heal()?;
    if std::env::var("SYNC_MODEL_STATS").is_ok() {
        eprintln!(
            "catchup {} busy {}",
            STATS_CATCHUP.load(std::sync::atomic::Ordering::Relaxed),
            STATS_BUSY.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
    w.check()
}

fn cases() -> u32 {
    std::env::var("SYNC_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

fn initial() -> impl Strategy<Value = Vec<(u32, u8)>> {
    prop::collection::vec((0u32..2, 0u8..18), 0..40)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 20_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn committed_output_is_the_source_exactly_once(
        mode in 0u8..3,
        seed in any::<u64>(),
        initial in initial(),
        events in prop::collection::vec(ev(), 0..120),
    ) {
        if let Err(e) = run_case(mode, seed, &initial, &events, Break::None) {
            return Err(TestCaseError::fail(e));
        }
    }
}

/// The model must be able to fail: each deliberate break is caught.
fn break_is_caught(brk: Break) -> String {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 2_000,
        max_shrink_iters: 20_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy = (
        0u8..3,
        any::<u64>(),
        initial(),
        prop::collection::vec(ev(), 0..120),
    );
    match runner.run(&strategy, |(mode, seed, initial, events)| {
        run_case(mode, seed, &initial, &events, brk).map_err(TestCaseError::fail)
    }) {
        Ok(()) => panic!("the model did not catch {brk:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_model_catches_switching_to_the_binlog_at_the_manifest_offset() {
    let shrunk = break_is_caught(Break::ManifestSwitch);
    eprintln!("{shrunk}");
}

#[test]
fn the_model_catches_a_hand_off_without_catch_up() {
    let shrunk = break_is_caught(Break::NoCatchUp);
    eprintln!("{shrunk}");
}
