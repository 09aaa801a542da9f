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
//!    partitions are repaired, held messages released, sessions restored,
//!    the store is back;
//! 5. converge: nobody retries anything; every mode-0 task must be gone
//!    (SUCCESS, removed, its collectors' links with it) and every continuous
//!    part RUNNING with all rows committed — except a part whose data a fault
//!    really destroyed ([`links`]), which may end FAILED with `data_gone`. A
//!    part FAILED for any other reason fails the run at once. Then a while
//!    longer, and the check.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use sync_core::task::Mode;
use sync_proto::datasync::CreateSyncTaskRequest;
use tablet_emu::EmulatedTable;

use crate::admin::{self, Admin, Command};
use crate::clock::EPOCH_MS;
use crate::cluster::SimCluster;
use crate::collector::{self, CollectorSpec};
use crate::scenario::{Fault, Scenario, Who};
use crate::store::{Durable, StoreControl};
use crate::synctool_host::{self, SyncToolSpec};
use crate::tables::{SourceTable, TABLET_PORT, tablet_host};

mod converge;
mod faults;
pub mod links;

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
    /// A hash of the committed rows in commit order (equal runs, equal digests).
    pub digest: u64,
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
    EndOutage,
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
    /// The second SyncTool's operator, once it runs.
    second: Option<Admin>,
    sync_spec: SyncToolSpec,
    tables: Vec<SourceTable>,
    collectors: Vec<Who>,
    /// Each collector's host and work dir.
    work_dirs: Vec<(String, PathBuf)>,
    /// Who links which tablet file, which files the tablets had.
    links: links::LinkWatch,
    /// Parts whose collector let binlog go before its rows were committed.
    released_early: BTreeMap<(u32, u32), String>,
    /// Parts seen FAILED for a reason the run's faults justify.
    failed_for_good: BTreeSet<(u32, u32)>,
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
    /// Crash SyncTool when a part shows this status (and how long it stays down).
    crash_when: std::collections::VecDeque<(String, u64)>,
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
        Ok((rows, digest)) => Ok(Outcome {
            seed: scn.seed,
            sim_ms: now_ms(&world.sim),
            trace: std::mem::take(&mut world.trace),
            rows,
            digest,
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
        let cluster = Arc::new(SimCluster::new(scn.fencing));
        let mut tablet_dirs = Vec::new();
        for i in 0..scn.tablets {
            tablet_dirs.push(dir(format!("tablet{i}"))?);
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
            let mut table = SourceTable::create(
                &tablet_dirs[leader],
                spec,
                setup.mode,
                start_ts,
                leader,
                setup.initial_rows,
                setup.snapshot_at,
            )?;
            table.append_to(0, setup.skew_rows)?;
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
            memory_limit: scn.memory_limit,
            seed: scn.seed,
            dest_root: durable.root(),
            host: synctool_host::HOST.into(),
        };
        start_synctool(&mut sim, &sync_spec, &cluster, &durable, &control);
        for (i, root) in tablet_dirs.iter().enumerate() {
            let root = root.clone();
            sim.host(tablet_host(i), move || {
                crate::tablet::serve(root.clone(), TABLET_PORT)
            });
        }
        let board = collector::Board::default();
        let mut collectors = Vec::new();
        let mut work_dirs = Vec::new();
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
                work_dirs.push((spec.host.clone(), spec.work_dir.clone()));
                let (cluster, board) = (cluster.clone(), board.clone());
                sim.host(who.host(), move || {
                    collector::run(spec.clone(), cluster.clone(), board.clone())
                });
                collectors.push(who);
            }
        }
        sim.client(
            admin::HOST,
            admin::run(admin.clone(), synctool_host::HOST.into()),
        );
        Ok(World {
            scn,
            sim,
            _tmp: tmp,
            cluster,
            tablet_dirs,
            durable,
            control,
            admin,
            second: None,
            sync_spec,
            tables,
            collectors,
            work_dirs,
            links: links::LinkWatch::default(),
            released_early: BTreeMap::new(),
            failed_for_good: BTreeSet::new(),
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
            crash_when: std::collections::VecDeque::new(),
            check_from: u64::MAX,
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

    fn drive(&mut self) -> Result<(usize, u64), String> {
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
            let now = self.now();
            if self.links.due(now) {
                let places = self.places()?;
                self.links.sample(now, &places);
            }
            if let Some(point) = self.control.take_request() {
                self.log(format!("SyncTool reached {point:?}"));
                let down_ms = self.armed_down_ms.take().unwrap_or(500);
                self.crash_synctool(down_ms);
            }
            self.crash_on_status();
            // Convergence counts only once everything is healed.
            if now < next_check || !self.healed {
                continue;
            }
            next_check = now + 250;
            match converged_at {
                Some(at) if now >= at + SETTLE_MS => break,
                Some(_) => {}
                None => {
                    if self.converged()? {
                        let parts = self.status_lines();
                        self.log(format!("converged: {}", parts.join("; ")));
                        converged_at = Some(now);
                    } else if now > self.check_from + CONVERGE_MS {
                        let check = match self.final_check() {
                            Ok((rows, _)) => format!("the {rows} rows committed so far are right"),
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
    /// Where every collector and tablet keeps its binlog files now.
    fn places(&mut self) -> Result<links::Places, String> {
        let mut tablet_files = Vec::new();
        for t in &mut self.tables {
            let (tid, leader) = (t.spec.tid, t.leader);
            for (pid, path, _, last) in t.binlog_files(&self.tablet_dirs[leader])? {
                tablet_files.push((leader, tid, pid, path, last));
            }
        }
        Ok(links::Places {
            work_dirs: self.work_dirs.clone(),
            tablet_files,
        })
    }
}

/// Starts (or, on a bounce, restarts) the SyncTool host of `spec`.
fn start_synctool(
    sim: &mut turmoil::Sim<'_>,
    spec: &SyncToolSpec,
    cluster: &Arc<SimCluster>,
    durable: &Arc<Durable>,
    control: &Arc<StoreControl>,
) {
    let (spec, cluster, durable, control) = (
        spec.clone(),
        cluster.clone(),
        durable.clone(),
        control.clone(),
    );
    let host = spec.host.clone();
    sim.host(host, move || {
        synctool_host::run(
            spec.clone(),
            cluster.clone(),
            durable.clone(),
            control.clone(),
        )
    });
}

impl World<'_> {
    /// The create request of table `i`.
    fn create_request(&self, i: usize) -> CreateSyncTaskRequest {
        let t = &self.tables[i];
        CreateSyncTaskRequest {
            db: Some(t.spec.db.clone()),
            name: Some(t.spec.name.clone()),
            mode: Some(t.mode.to_proto() as i32),
            start_ts: t.start_ts,
            dest: Some(self.durable.dest(t.spec.tid)),
            if_exists: None,
            partition_by: self
                .scn
                .partitioned
                .then(|| crate::scenario::PARTITION_BY.to_owned()),
            partition_time_zone: self
                .scn
                .partitioned
                .then(|| crate::scenario::PARTITION_TIME_ZONE.to_owned()),
            ..Default::default()
        }
    }

    /// Starts the second SyncTool and creates every continuous table's task
    /// on it too (same destinations: they resume the committed output).
    pub(super) fn start_second_synctool(&mut self) -> Result<(), String> {
        if self.second.is_some() {
            return Ok(());
        }
        let mut spec = self.sync_spec.clone();
        spec.host = synctool_host::SECOND_HOST.into();
        spec.seed = spec.seed.wrapping_add(1);
        spec.progress_dir = self._tmp.path().join("synctool2");
        std::fs::create_dir_all(&spec.progress_dir)
            .map_err(|e| format!("{}: {e}", spec.progress_dir.display()))?;
        start_synctool(
            &mut self.sim,
            &spec,
            &self.cluster,
            &self.durable,
            &self.control,
        );
        let admin = Admin::default();
        self.sim.client(
            "admin2",
            admin::run(admin.clone(), synctool_host::SECOND_HOST.into()),
        );
        for i in 0..self.tables.len() {
            if !self.tables[i].mode.finishes() {
                admin.send(Command::Create(Box::new(self.create_request(i))));
            }
        }
        self.second = Some(admin);
        self.log("a second SyncTool starts, with the same continuous tasks and destinations");
        Ok(())
    }

    fn create_tasks(&mut self) -> Result<(), String> {
        // Let the collectors start and register.
        while self.now() < 300 {
            self.step()?;
        }
        for i in 0..self.tables.len() {
            let counts = self.tables[i].counts()?;
            self.tables[i].rows_at_create = counts;
            let req = self.create_request(i);
            self.admin.send(Command::Create(Box::new(req)));
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
}
