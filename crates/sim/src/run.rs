//! One run: builds the simulated cluster for a [`Scenario`], drives it step
//! by step (appends, faults and their healing from the schedule), waits
//! until every task has reached its mode's end state, and checks the output.
//!
//! Phases, in simulated time:
//! 1. start: SyncTool, the collectors (primary and optional standby per
//!    tablet host) and the admin start; the tables already hold their initial rows;
//! 2. create: the admin creates one sync task per table (t0 = all acknowledged);
//! 3. faults: appends until the cut-off, faults as scheduled (times after t0);
//! 4. heal: every crashed host restarts (except collectors lost for good),
//!    partitions are repaired, held messages released, sessions restored;
//! 5. converge: FAILED parts are retried like an operator would, until every
//!    mode-0 task is gone (SUCCESS, removed) and every continuous part is
//!    RUNNING with all rows committed; then a while longer, and the check.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use sync_core::task::Mode;
use sync_proto::datasync::CreateSyncTaskRequest;
use tablet_emu::EmulatedTable;

use crate::admin::{self, Admin, Command};
use crate::check::{self, Expect, PartDiff};
use crate::clock::EPOCH_MS;
use crate::cluster::SimCluster;
use crate::collector::{self, CollectorSpec};
use crate::scenario::{Fault, Scenario, Who};
use crate::store::{Durable, StoreControl};
use crate::synctool_host::{self, SyncToolSpec};
use crate::tables::{SourceTable, tablet_endpoint};
use crate::tablet::TabletRoots;

/// Simulated time per step.
pub const TICK: Duration = Duration::from_millis(10);
/// How long after healing every task must have reached its end state.
pub const CONVERGE_MS: u64 = 60_000;
/// How long the run goes on after convergence before the final check.
const SETTLE_MS: u64 = 1_500;
/// Table ids start here.
const FIRST_TID: u32 = 10;

/// A run that passed.
#[derive(Debug)]
pub struct Outcome {
    /// The seed.
    pub seed: u64,
    /// Simulated time at the end (ms).
    pub sim_ms: u64,
    /// What happened, in order.
    pub trace: Vec<String>,
    /// Rows committed, all partitions.
    pub rows: usize,
}

/// A run that failed: why, and how to run it again.
#[derive(Debug)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// What went wrong.
    pub reason: String,
    /// The test to replay it with.
    pub name: String,
    /// The scenario, printed.
    pub scenario: String,
    /// What happened, in order.
    pub trace: Vec<String>,
}

impl Failure {
    /// The one-line replay command.
    pub fn replay(&self) -> String {
        if self.name == "replay" {
            format!(
                "SIM_SEED={} cargo test -p sim --test sim replay -- --nocapture",
                self.seed
            )
        } else {
            format!("cargo test -p sim --test sim {} -- --nocapture", self.name)
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "simulation seed {} FAILED: {}", self.seed, self.reason)?;
        writeln!(f, "  replay: {}", self.replay())?;
        writeln!(f, "  scenario: {}", self.scenario)?;
        writeln!(f, "  trace:")?;
        let skip = self.trace.len().saturating_sub(60);
        if skip > 0 {
            writeln!(f, "    … {skip} earlier lines")?;
        }
        for line in &self.trace[skip..] {
            writeln!(f, "    {line}")?;
        }
        Ok(())
    }
}

enum Act {
    Fault(Fault),
    Bounce { host: String, generation: u64 },
    Expire { who: Who, generation: u64 },
    Register { who: Who },
    Repair { host: String },
    Release { host: String },
}

struct World<'a> {
    scn: &'a Scenario,
    sim: turmoil::Sim<'a>,
    _tmp: tempfile::TempDir,
    cluster: Arc<SimCluster>,
    tablet_dirs: Vec<PathBuf>,
    durable: Arc<Durable>,
    control: Arc<StoreControl>,
    admin: Admin,
    tables: Vec<SourceTable>,
    collectors: Vec<Who>,
    /// The running collectors (for diagnostics).
    board: collector::Board,
    /// Crashed hosts and the generation of their crash.
    down: BTreeMap<String, u64>,
    /// Collectors crashed for good.
    lost: BTreeSet<String>,
    partitioned: BTreeSet<String>,
    held: BTreeSet<String>,
    generation: u64,
    queue: Vec<(u64, u64, Act)>,
    queued: u64,
    trace: Vec<String>,
    healed: bool,
    heal_at: u64,
    /// How long SyncTool stays down once it reaches the armed crash point.
    armed_down_ms: Option<u64>,
    /// Convergence is checked from here on (healed, appends done).
    check_from: u64,
    /// When the operator last retried FAILED parts.
    last_retry: Option<u64>,
    /// Parts FAILED for good because the data they need is gone.
    gone: BTreeSet<(u32, u32)>,
    /// Crash SyncTool when a part shows this status (and how long it stays down).
    crash_when: Option<(String, u64)>,
    /// Expected row counts by (tid, pid, puts).
    expected_counts: BTreeMap<(u32, u32, u64), u64>,
}

/// Where runs keep their files: `$SIM_TMPDIR`, else `/dev/shm` (tmpfs: the
/// daemons fsync every state write, which a disk makes slow), else the temp dir.
pub fn temp_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("SIM_TMPDIR") {
        return PathBuf::from(dir);
    }
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() && tempfile::tempdir_in(&shm).is_ok() {
        return shm;
    }
    std::env::temp_dir()
}

/// A FAILED reason saying the data the part needs is gone from its host (a
/// hand-off error): retrying cannot help, and the output must stop short
/// without a gap or a duplicate.
fn is_data_gone(reason: &str) -> bool {
    reason.contains("is needed but the oldest available is")
        || reason.contains("the host has no snapshot")
        || reason.contains("cannot be continued exactly")
        || reason.contains("are missing: the next entry")
}

fn now_ms(sim: &turmoil::Sim<'_>) -> u64 {
    u64::try_from(sim.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Runs `scn`; `Err` explains what was lost, duplicated or stuck.
pub fn run(scn: &Scenario) -> Result<Outcome, Failure> {
    let mut world = World::build(scn).map_err(|reason| Failure {
        seed: scn.seed,
        reason: format!("setting up: {reason}"),
        name: scn.name.clone(),
        scenario: scn.to_string(),
        trace: Vec::new(),
    })?;
    match world.drive() {
        Ok(rows) => Ok(Outcome {
            seed: scn.seed,
            sim_ms: now_ms(&world.sim),
            trace: std::mem::take(&mut world.trace),
            rows,
        }),
        Err(reason) => Err(Failure {
            seed: scn.seed,
            reason,
            name: scn.name.clone(),
            scenario: scn.to_string(),
            trace: std::mem::take(&mut world.trace),
        }),
    }
}

impl<'a> World<'a> {
    fn build(scn: &'a Scenario) -> Result<Self, String> {
        let tmp = tempfile::Builder::new()
            .prefix("sim-")
            .tempdir_in(temp_root())
            .map_err(|e| e.to_string())?;
        let dir = |name: String| -> Result<PathBuf, String> {
            let p = tmp.path().join(name);
            std::fs::create_dir_all(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            Ok(p)
        };
        let cluster = Arc::new(SimCluster::new());
        let roots: TabletRoots = Arc::new(Mutex::new(Default::default()));
        let mut tablet_dirs = Vec::new();
        for i in 0..scn.tablets {
            let d = dir(format!("tablet{i}"))?;
            roots
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(tablet_endpoint(i), d.clone());
            tablet_dirs.push(d);
        }
        let mut tables = Vec::new();
        for (k, setup) in scn.tables.iter().enumerate() {
            let tid = FIRST_TID + k as u32;
            let mut spec = EmulatedTable::demo(tid, setup.partitions);
            spec.db = "simdb".into();
            spec.seed = scn.seed.wrapping_mul(31).wrapping_add(k as u64);
            spec.binlog_max_bytes = setup.binlog_max_bytes;
            spec.snappy = setup.snappy;
            spec.key_cardinality = setup.key_cardinality;
            let start_ts = (setup.mode == Mode::IncrementalByTimestamp)
                .then(|| spec.base_time_ms + setup.start_row * 1000);
            let leader = k % scn.tablets;
            let table = SourceTable::create(
                &tablet_dirs[leader],
                spec,
                setup.mode,
                start_ts,
                leader,
                setup.initial_rows,
                setup.snapshot_at,
            )?;
            cluster.put_table(table.table_info()?);
            tables.push(table);
        }
        let durable = Arc::new(Durable::new(scn.store, &dir("offline".into())?));
        let control = Arc::new(StoreControl::new(scn.breakage));
        let admin = Admin::default();
        let mut sim = turmoil::Builder::new()
            .tick_duration(TICK)
            .simulation_duration(Duration::from_secs(3_600))
            .epoch(UNIX_EPOCH + Duration::from_millis(EPOCH_MS))
            .min_message_latency(Duration::ZERO)
            .max_message_latency(Duration::from_millis(scn.max_latency_ms))
            .rng_seed(scn.seed)
            .build();
        let sync_spec = SyncToolSpec {
            progress_dir: dir("synctool".into())?,
            timeout_ms: scn.timeout_ms,
            roll: scn.roll,
            seed: scn.seed,
            dest_root: durable.root(),
        };
        {
            let (cluster, durable, control) = (cluster.clone(), durable.clone(), control.clone());
            sim.host(synctool_host::HOST, move || {
                synctool_host::run(
                    sync_spec.clone(),
                    cluster.clone(),
                    durable.clone(),
                    control.clone(),
                )
            });
        }
        let board = collector::Board::default();
        let mut collectors = Vec::new();
        for tablet in 0..scn.tablets {
            for standby in [false, true] {
                if standby && !scn.standby.get(tablet).copied().unwrap_or(false) {
                    continue;
                }
                let who = Who { tablet, standby };
                let spec = CollectorSpec {
                    host: who.host(),
                    endpoint: who.endpoint(),
                    port: who.port(),
                    work_dir: dir(format!("work-{}", who.host()))?,
                    settings: collector::settings(scn.pack_size, scn.window),
                };
                cluster.add_route(&spec.endpoint, &format!("{}:{}", spec.host, spec.port));
                let (cluster, roots, board) = (cluster.clone(), roots.clone(), board.clone());
                sim.host(who.host(), move || {
                    collector::run(spec.clone(), cluster.clone(), roots.clone(), board.clone())
                });
                collectors.push(who);
            }
        }
        sim.client(admin::HOST, admin::run(admin.clone()));
        Ok(World {
            scn,
            sim,
            _tmp: tmp,
            cluster,
            tablet_dirs,
            durable,
            control,
            admin,
            tables,
            collectors,
            board,
            down: BTreeMap::new(),
            lost: BTreeSet::new(),
            partitioned: BTreeSet::new(),
            held: BTreeSet::new(),
            generation: 0,
            queue: Vec::new(),
            queued: 0,
            trace: Vec::new(),
            healed: false,
            heal_at: u64::MAX,
            armed_down_ms: None,
            crash_when: None,
            check_from: u64::MAX,
            last_retry: None,
            gone: BTreeSet::new(),
            expected_counts: BTreeMap::new(),
        })
    }

    fn now(&self) -> u64 {
        now_ms(&self.sim)
    }

    fn log(&mut self, line: impl AsRef<str>) {
        let line = format!("[{:>6}ms] {}", self.now(), line.as_ref());
        if std::env::var_os("SIM_TRACE").is_some() {
            eprintln!("{line}");
        }
        self.trace.push(line);
    }

    fn step(&mut self) -> Result<(), String> {
        self.sim
            .step()
            .map(|_| ())
            .map_err(|e| format!("a simulated host failed: {e}"))
    }

    fn schedule(&mut self, at: u64, act: Act) {
        self.queued += 1;
        self.queue.push((at, self.queued, act));
    }

    fn tids(&self) -> Vec<u32> {
        self.tables.iter().map(|t| t.spec.tid).collect()
    }

    fn drive(&mut self) -> Result<usize, String> {
        self.log(format!("scenario: {}", self.scn));
        self.create_tasks()?;
        let t0 = self.now();
        let faults: Vec<_> = self.scn.faults.clone();
        for (at, fault) in faults {
            self.schedule(t0 + at, Act::Fault(fault));
        }
        let heal_at = t0 + self.scn.heal_ms;
        self.heal_at = heal_at;
        let cutoff = t0 + self.scn.cutoff_ms;
        let mut next_append = t0 + self.scn.append_every_ms;
        self.check_from = heal_at.max(cutoff);
        let mut next_check = self.check_from;
        let mut next_retry = self.check_from;
        let mut converged_at: Option<u64> = None;
        loop {
            let now = self.now();
            if self.scn.append_rows > 0 && now >= next_append && next_append <= cutoff {
                next_append += self.scn.append_every_ms;
                let rows = self.scn.append_rows;
                for t in &mut self.tables {
                    t.append(rows)?;
                }
            }
            self.run_due(now)?;
            if !self.healed && now >= heal_at {
                self.heal();
            }
            self.step()?;
            if let Some(point) = self.control.take_request() {
                self.log(format!("SyncTool reached {point:?}"));
                let down_ms = self.armed_down_ms.take().unwrap_or(500);
                self.crash_synctool(down_ms);
            }
            self.crash_on_status();
            if now < next_check {
                continue;
            }
            next_check = now + 250;
            match converged_at {
                Some(at) if now >= at + SETTLE_MS => break,
                Some(_) => {}
                None => {
                    if self.converged(&mut next_retry)? {
                        self.log("converged");
                        converged_at = Some(now);
                    } else if now > self.check_from + CONVERGE_MS {
                        let check = match self.final_check() {
                            Ok(rows) => format!("the {rows} rows committed so far are right"),
                            Err(e) => e,
                        };
                        return Err(format!(
                            "not converged {}s after healing: {check}; {}",
                            CONVERGE_MS / 1000,
                            self.progress_report()
                        ));
                    }
                }
            }
        }
        self.final_check()
    }
}

impl World<'_> {
    fn create_tasks(&mut self) -> Result<(), String> {
        // Let the collectors start and register.
        while self.now() < 300 {
            self.step()?;
        }
        for i in 0..self.tables.len() {
            let counts = self.tables[i].counts()?;
            self.tables[i].rows_at_create = counts;
            let t = &self.tables[i];
            let req = CreateSyncTaskRequest {
                db: Some(t.spec.db.clone()),
                name: Some(t.spec.name.clone()),
                mode: Some(t.mode.to_proto() as i32),
                start_ts: t.start_ts,
                dest: Some(self.durable.dest(t.spec.tid)),
            };
            self.admin.send(Command::Create(req));
        }
        let deadline = self.now() + 20_000;
        loop {
            self.step()?;
            let created = self.admin.lock().created.clone();
            if let Some((name, Err(e))) = created.iter().find(|(_, r)| r.is_err()) {
                return Err(format!("CreateSyncTask of {name} refused: {e}"));
            }
            if created.len() == self.tables.len() {
                let names: Vec<_> = created.iter().map(|(n, _)| n.clone()).collect();
                self.log(format!("created sync tasks of {names:?}"));
                return Ok(());
            }
            if self.now() > deadline {
                return Err("CreateSyncTask did not answer".into());
            }
        }
    }

    fn run_due(&mut self, now: u64) -> Result<(), String> {
        loop {
            let Some(i) = self
                .queue
                .iter()
                .enumerate()
                .filter(|(_, (at, _, _))| *at <= now)
                .min_by_key(|(_, (at, seq, _))| (*at, *seq))
                .map(|(i, _)| i)
            else {
                return Ok(());
            };
            let (_, _, act) = self.queue.swap_remove(i);
            self.act(act)?;
        }
    }

    fn act(&mut self, act: Act) -> Result<(), String> {
        match act {
            Act::Fault(_) if self.healed => {}
            Act::Fault(fault) => self.fault(fault)?,
            Act::Bounce { host, generation } => {
                if self.down.get(&host) == Some(&generation) && !self.lost.contains(&host) {
                    self.down.remove(&host);
                    self.sim.bounce(host.clone());
                    self.log(format!("restart {host}"));
                }
            }
            Act::Expire { who, generation } => {
                if self.down.get(&who.host()) == Some(&generation) {
                    self.cluster.unregister(&who.endpoint());
                    self.log(format!("session of {} expired", who.endpoint()));
                }
            }
            Act::Register { who } => {
                let host = who.host();
                if !self.down.contains_key(&host) && !self.lost.contains(&host) {
                    self.cluster.register(&who.endpoint());
                    self.log(format!("{} registered again", who.endpoint()));
                }
            }
            Act::Repair { host } => {
                if self.partitioned.remove(&host) {
                    self.sim.repair(host.clone(), synctool_host::HOST);
                    self.log(format!("repair {host} <-> synctool"));
                }
            }
            Act::Release { host } => {
                if self.held.remove(&host) {
                    self.sim.release(host.clone(), synctool_host::HOST);
                    self.log(format!("release {host} <-> synctool"));
                }
            }
        }
        Ok(())
    }

    fn fault(&mut self, fault: Fault) -> Result<(), String> {
        let now = self.now();
        match fault {
            Fault::CrashCollector { who, down_ms } => {
                let host = who.host();
                if !self.collectors.contains(&who)
                    || self.down.contains_key(&host)
                    || self.lost.contains(&host)
                {
                    return Ok(());
                }
                self.sim.crash(host.clone());
                self.generation += 1;
                let generation = self.generation;
                self.down.insert(host.clone(), generation);
                self.log(format!("crash {host} for {down_ms}ms"));
                self.schedule(now + down_ms, Act::Bounce { host, generation });
                self.schedule(now + self.scn.session_ms, Act::Expire { who, generation });
            }
            Fault::LoseCollector { tablet } => {
                let who = Who::primary(tablet);
                let standby = Who {
                    tablet,
                    standby: true,
                };
                let host = who.host();
                if !self.collectors.contains(&standby) || self.lost.contains(&host) {
                    return Ok(());
                }
                self.sim.crash(host.clone());
                self.generation += 1;
                let generation = self.generation;
                self.down.insert(host.clone(), generation);
                self.lost.insert(host.clone());
                self.log(format!("lose {host} for good"));
                self.schedule(now + self.scn.session_ms, Act::Expire { who, generation });
            }
            Fault::CrashSyncTool { down_ms } => self.crash_synctool(down_ms),
            Fault::CrashSyncToolAt { point, down_ms } => {
                if !self.down.contains_key(synctool_host::HOST) && self.control.armed().is_none() {
                    self.control.arm(point);
                    self.armed_down_ms = Some(down_ms);
                    self.log(format!("arm SyncTool crash at {point:?}"));
                }
            }
            Fault::CrashSyncToolWhen { status, down_ms } => {
                self.log(format!("SyncTool will crash when a part is {status}"));
                self.crash_when = Some((status, down_ms));
            }
            Fault::Partition { who, ms } => {
                let host = who.host();
                if self.collectors.contains(&who) && self.partitioned.insert(host.clone()) {
                    self.sim.partition(host.clone(), synctool_host::HOST);
                    self.log(format!("partition {host} <-> synctool for {ms}ms"));
                    self.schedule(now + ms, Act::Repair { host });
                }
            }
            Fault::Hold { who, ms } => {
                let host = who.host();
                if self.collectors.contains(&who) && self.held.insert(host.clone()) {
                    self.sim.hold(host.clone(), synctool_host::HOST);
                    self.log(format!("hold {host} <-> synctool for {ms}ms"));
                    self.schedule(now + ms, Act::Release { host });
                }
            }
            Fault::SessionExpiry { who, ms } => {
                let host = who.host();
                if self.collectors.contains(&who)
                    && !self.down.contains_key(&host)
                    && !self.lost.contains(&host)
                {
                    self.cluster.unregister(&who.endpoint());
                    self.log(format!("session of {} expires for {ms}ms", who.endpoint()));
                    self.schedule(now + ms, Act::Register { who });
                }
            }
            Fault::Snapshot { table } => {
                if let Some(t) = self.tables.get_mut(table) {
                    t.snapshot()?;
                    let tid = t.spec.tid;
                    self.log(format!("new snapshot of table {tid}"));
                }
            }
            Fault::GcBinlog { table } => {
                if let Some(t) = self.tables.get_mut(table) {
                    t.snapshot()?;
                    let n = t.gc_binlog()?;
                    let tid = t.spec.tid;
                    self.log(format!(
                        "new snapshot of table {tid}, {n} old binlog file(s) deleted"
                    ));
                }
            }
            Fault::MoveLeader { table } => {
                if self.scn.tablets < 2 || table >= self.tables.len() {
                    return Ok(());
                }
                let from = self.tables[table].leader;
                let to = (from + 1) % self.scn.tablets;
                let (from_dir, to_dir) =
                    (self.tablet_dirs[from].clone(), self.tablet_dirs[to].clone());
                let t = &mut self.tables[table];
                t.move_leader(&from_dir, to, &to_dir)?;
                let info = t.table_info()?;
                let tid = t.spec.tid;
                self.cluster.put_table(info);
                self.log(format!(
                    "table {tid}: leader moves to {}",
                    tablet_endpoint(to)
                ));
            }
        }
        Ok(())
    }

    fn crash_synctool(&mut self, down_ms: u64) {
        let host = synctool_host::HOST.to_string();
        if self.down.contains_key(&host) {
            return;
        }
        self.sim.crash(host.clone());
        self.generation += 1;
        let generation = self.generation;
        self.down.insert(host.clone(), generation);
        self.log(format!("crash synctool for {down_ms}ms"));
        let now = self.now();
        self.schedule(now + down_ms, Act::Bounce { host, generation });
    }

    fn crash_on_status(&mut self) {
        let Some((want, down_ms)) = self.crash_when.clone() else {
            return;
        };
        if self.down.contains_key(synctool_host::HOST) {
            return;
        }
        let hit = self.admin.lock().status.as_ref().and_then(|(_, status)| {
            status
                .task
                .iter()
                .find(|t| t.status() == want)
                .and_then(|t| t.progress.as_ref())
                .map(|p| (p.tid(), p.pid()))
        });
        if let Some((tid, pid)) = hit {
            self.crash_when = None;
            // The status is old: a fresh one is needed after the restart.
            self.admin.lock().status = None;
            self.log(format!("t{tid}/p{pid} is {want}"));
            self.crash_synctool(down_ms);
        }
    }

    fn heal(&mut self) {
        self.healed = true;
        self.crash_when = None;
        self.control.disarm();
        self.armed_down_ms = None;
        let down: Vec<String> = self.down.keys().cloned().collect();
        for host in down {
            if !self.lost.contains(&host) {
                self.sim.bounce(host.clone());
                self.down.remove(&host);
            }
        }
        for host in std::mem::take(&mut self.partitioned) {
            self.sim.repair(host, synctool_host::HOST);
        }
        for host in std::mem::take(&mut self.held) {
            self.sim.release(host, synctool_host::HOST);
        }
        for who in self.collectors.clone() {
            if self.lost.contains(&who.host()) {
                self.cluster.unregister(&who.endpoint());
            } else {
                self.cluster.register(&who.endpoint());
            }
        }
        self.log("heal: hosts restarted, links repaired, sessions restored");
    }

    fn expected_count(&mut self, table: usize, pid: u32, puts: u64) -> Result<u64, String> {
        let t = &self.tables[table];
        let key = (t.spec.tid, pid, puts);
        if let Some(n) = self.expected_counts.get(&key) {
            return Ok(*n);
        }
        let n = t.expected(pid, puts)?.len() as u64;
        self.expected_counts.insert(key, n);
        Ok(n)
    }

    fn converged(&mut self, next_retry: &mut u64) -> Result<bool, String> {
        let now = self.now();
        let status = self.admin.lock().status.clone();
        let Some((at, status)) = status else {
            return Ok(false);
        };
        if at < self.check_from {
            return Ok(false);
        }
        let failed: Vec<(u32, u32, String)> = status
            .task
            .iter()
            .filter(|t| t.status() == "FAILED")
            .filter_map(|t| {
                let p = t.progress.as_ref()?;
                Some((p.tid(), p.pid(), t.failure_reason().to_string()))
            })
            .collect();
        for (tid, pid, reason) in &failed {
            let after_retry = self.last_retry.is_some_and(|r| at > r + 1_000);
            if is_data_gone(reason) && after_retry && self.gone.insert((*tid, *pid)) {
                self.log(format!("t{tid}/p{pid} FAILED for good: {reason}"));
            }
        }
        let retry: BTreeSet<u32> = failed
            .iter()
            .filter(|(tid, pid, _)| !self.gone.contains(&(*tid, *pid)))
            .map(|(tid, _, _)| *tid)
            .collect();
        if !retry.is_empty() && now >= *next_retry {
            *next_retry = now + 2_000;
            self.last_retry = Some(now);
            for tid in retry {
                let Some(k) = self.tables.iter().position(|t| t.spec.tid == tid) else {
                    continue;
                };
                let reasons: Vec<&str> = failed
                    .iter()
                    .filter(|(t, _, _)| *t == tid)
                    .map(|(_, _, r)| r.as_str())
                    .collect();
                if reasons
                    .iter()
                    .any(|r| r.contains("a newer snapshot is needed"))
                {
                    // What the error tells the operator to do.
                    self.tables[k].snapshot()?;
                    self.log(format!(
                        "new snapshot of table {tid} (asked for by a FAILED part)"
                    ));
                }
                let (db, table) = (
                    self.tables[k].spec.db.clone(),
                    self.tables[k].spec.name.clone(),
                );
                self.log(format!("retry FAILED parts of {table}: {reasons:?}"));
                self.admin.send(Command::Retry { db, table });
            }
        }
        for k in 0..self.tables.len() {
            let tid = self.tables[k].spec.tid;
            let parts: Vec<_> = status
                .task
                .iter()
                .filter(|t| t.progress.as_ref().and_then(|p| p.tid) == Some(tid))
                .collect();
            let gone = |pid: u32| self.gone.contains(&(tid, pid));
            if self.tables[k].mode == Mode::Full {
                // Gone from the status once every part is SUCCESS, unless a
                // part is FAILED for good.
                let any_gone = parts
                    .iter()
                    .any(|t| gone(t.progress.as_ref().map_or(0, |p| p.pid())));
                let settled = parts.iter().all(|t| {
                    let pid = t.progress.as_ref().map_or(0, |p| p.pid());
                    gone(pid) || t.status() == "SUCCESS"
                });
                let done = parts.is_empty() || (any_gone && settled);
                if !done {
                    return Ok(false);
                }
                continue;
            }
            let counts = self.tables[k].counts()?;
            for (pid, puts) in counts.into_iter().enumerate() {
                let pid = pid as u32;
                if self.gone.contains(&(tid, pid)) {
                    continue;
                }
                let want = self.expected_count(k, pid, puts)?;
                let done = parts.iter().any(|t| {
                    t.progress.as_ref().and_then(|p| p.pid) == Some(pid)
                        && t.status() == "RUNNING"
                        && t.count() == want
                });
                if !done {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    fn progress_report(&mut self) -> String {
        let mut out = Vec::new();
        match self.admin.lock().status.clone() {
            None => out.push("no TaskStatus answer yet".to_string()),
            Some((at, status)) => {
                out.push(format!("status at {}ms:", at.saturating_sub(EPOCH_MS)));
                for t in &status.task {
                    let p = t.progress.clone().unwrap_or_default();
                    let committed = p
                        .sync_point
                        .as_ref()
                        .and_then(|sp| sync_core::point::Point::from_proto(sp).ok())
                        .map_or_else(|| "?".to_string(), |pt| pt.to_string());
                    out.push(format!(
                        "t{}/p{} {} rows {} committed at {committed} token {} on {} {}",
                        p.tid(),
                        p.pid(),
                        t.status(),
                        t.count(),
                        p.token(),
                        t.data_collector(),
                        t.failure_reason()
                    ));
                }
            }
        }
        for k in 0..self.tables.len() {
            let tid = self.tables[k].spec.tid;
            if let Ok(counts) = self.tables[k].counts() {
                let mut want = Vec::new();
                for (pid, puts) in counts.into_iter().enumerate() {
                    want.push(self.expected_count(k, pid as u32, puts).unwrap_or(0));
                }
                out.push(format!("table {tid} expects {want:?} rows"));
            }
        }
        if !self.lost.is_empty() {
            out.push(format!("lost: {:?}", self.lost));
        }
        out.extend(collector::describe(&self.board));
        out.join("; ")
    }

    fn final_check(&mut self) -> Result<usize, String> {
        let (committed, mut problems) = check::committed(&self.durable, &self.tids())?;
        let kind = self.durable.kind();
        let mut total = 0;
        for t in &mut self.tables {
            let counts = t.counts()?;
            for (pid, puts) in counts.into_iter().enumerate() {
                let pid = pid as u32;
                let rows = committed
                    .get(&(t.spec.tid, pid))
                    .map_or(&[][..], Vec::as_slice);
                let expect = if self.gone.contains(&(t.spec.tid, pid)) {
                    Expect::Prefix { min: 0 }
                } else if t.mode == Mode::Full {
                    Expect::Prefix {
                        min: t.rows_at_create.get(pid as usize).copied().unwrap_or(0),
                    }
                } else {
                    Expect::All
                };
                let diff: PartDiff = check::compare(t, kind, pid, puts, rows, expect)?;
                total += diff.committed;
                if !diff.is_ok() {
                    problems.push(format!(
                        "table {} pid {} (mode {}): {diff}",
                        t.spec.tid,
                        pid,
                        t.mode.to_proto() as i32
                    ));
                }
            }
        }
        if problems.is_empty() {
            self.log(format!("check passed: {total} rows exactly once"));
            Ok(total)
        } else {
            Err(problems.join("; "))
        }
    }
}
