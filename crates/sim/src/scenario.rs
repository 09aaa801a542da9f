//! What one run does, drawn from its seed: the tables (partitions, rows,
//! snapshot, mode), the cluster (standby collectors), the knobs (pack size,
//! window, segment roll, timeouts, latency), the appends up to the cut-off,
//! and the fault schedule. Named tests build scenarios by hand with the same
//! types.

use std::fmt;

use sync_core::task::{Mode, RollPolicy};

use crate::rng::Rng;
use crate::store::{Breakage, CrashPoint, StoreKind};

/// Which collector process: the primary (`a`) or the standby (`b`) of a tablet host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Who {
    /// Tablet host index.
    pub tablet: usize,
    /// The standby rather than the primary.
    pub standby: bool,
}

impl Who {
    /// The primary collector of tablet `tablet`.
    pub fn primary(tablet: usize) -> Self {
        Who {
            tablet,
            standby: false,
        }
    }

    /// The turmoil host name (`c0a`, `c0b`).
    pub fn host(self) -> String {
        format!("c{}{}", self.tablet, if self.standby { 'b' } else { 'a' })
    }

    /// The port it listens on.
    pub fn port(self) -> u16 {
        if self.standby { 7002 } else { 7001 }
    }

    /// The endpoint it advertises, on its tablet's host.
    pub fn endpoint(self) -> String {
        format!("tab{}:{}", self.tablet, self.port())
    }
}

/// One fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// A collector crashes and comes back after `down_ms`.
    CrashCollector {
        /// Which.
        who: Who,
        /// How long it is down.
        down_ms: u64,
    },
    /// A tablet's primary collector crashes for good; its standby takes over.
    LoseCollector {
        /// Tablet host index.
        tablet: usize,
    },
    /// SyncTool crashes (wherever it is) and restarts after `down_ms`.
    CrashSyncTool {
        /// How long it is down.
        down_ms: u64,
    },
    /// SyncTool crashes at the next `point` of a segment write, and restarts after `down_ms`.
    CrashSyncToolAt {
        /// Where.
        point: CrashPoint,
        /// How long it is down.
        down_ms: u64,
    },
    /// SyncTool crashes as soon as the admin's status shows a part in
    /// `status` (INIT, RUNNING, REASSIGNING, SUCCESS, FAILED), and restarts
    /// after `down_ms`.
    CrashSyncToolWhen {
        /// The part status to wait for.
        status: String,
        /// How long it is down.
        down_ms: u64,
    },
    /// No messages between a collector and SyncTool for `ms` (dropped).
    Partition {
        /// Which collector.
        who: Who,
        /// How long.
        ms: u64,
    },
    /// Messages between a collector and SyncTool held for `ms`, then delivered.
    Hold {
        /// Which collector.
        who: Who,
        /// How long.
        ms: u64,
    },
    /// A collector's coordinator session expires; it registers again after `ms`.
    SessionExpiry {
        /// Which collector.
        who: Who,
        /// How long it is missing from the live set.
        ms: u64,
    },
    /// The tablet makes a new snapshot of a table.
    Snapshot {
        /// Table index.
        table: usize,
    },
    /// A new snapshot, then the tablet deletes the binlog files it covers.
    GcBinlog {
        /// Table index.
        table: usize,
    },
    /// Every partition of a table moves to the other tablet host.
    MoveLeader {
        /// Table index.
        table: usize,
    },
    /// The offline store is unreachable for `ms` (every sink call fails).
    SinkOutage {
        /// How long.
        ms: u64,
    },
    /// A second SyncTool starts and creates the same tasks (modes 1 and 2)
    /// to the same destinations: it claims every part at a newer epoch, so
    /// the first one's writes are refused from then on; without fencing the
    /// exclusive commit records keep committed data intact and the loser of
    /// a commit stops.
    SecondSyncTool,
}

/// One source table.
#[derive(Debug, Clone)]
pub struct TableSetup {
    /// Partitions.
    pub partitions: u32,
    /// Rows per partition before the task is created.
    pub initial_rows: u64,
    /// Extra rows in partition 0 only (its parts finish at other times).
    pub skew_rows: u64,
    /// Snapshot after this many of the initial rows.
    pub snapshot_at: Option<u64>,
    /// Sync mode.
    pub mode: Mode,
    /// Mode 1: sync rows from the `n`-th row's ts on.
    pub start_row: u64,
    /// Binlog files roll past this size.
    pub binlog_max_bytes: u64,
    /// Rows stored snappy-compressed.
    pub snappy: bool,
    /// Distinct key values.
    pub key_cardinality: u64,
}

/// Everything one run does.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The test that runs it (`replay` for seeded random runs).
    pub name: String,
    /// The seed (also seeds turmoil's network and SyncTool's tokens).
    pub seed: u64,
    /// The durable store.
    pub store: StoreKind,
    /// The tables.
    pub tables: Vec<TableSetup>,
    /// Tablet hosts (each has a primary collector).
    pub tablets: usize,
    /// Tablet hosts that also run a standby collector.
    pub standby: Vec<bool>,
    /// Bytes of rows per pack.
    pub pack_size: usize,
    /// Unanswered packs per stream.
    pub window: usize,
    /// When SyncTool seals segments.
    pub roll: RollPolicy,
    /// SyncTool's silence timeout (ms).
    pub timeout_ms: u64,
    /// Coordinator session timeout: a crashed collector leaves the live set after it (ms).
    pub session_ms: u64,
    /// Largest network latency (ms).
    pub max_latency_ms: u64,
    /// Appends every this many ms...
    pub append_every_ms: u64,
    /// ... of up to this many rows per partition...
    pub append_rows: u64,
    /// ... until this time after the tasks are created (the cut-off).
    pub cutoff_ms: u64,
    /// Faults, at ms after the tasks are created.
    pub faults: Vec<(u64, Fault)>,
    /// Everything heals at this time after the tasks are created.
    pub heal_ms: u64,
    /// A deliberate bug, to prove the checker fails.
    pub breakage: Option<Breakage>,
    /// Tasks write Hive-partitioned output ([`PARTITION_BY`] in
    /// [`PARTITION_TIME_ZONE`]), so segments span several files.
    pub partitioned: bool,
    /// SyncTool's `sink.memory_limit` (small ones make early seals, held
    /// back packs and `Busy` answers common).
    pub memory_limit: u64,
    /// Partition epochs fence the SyncTools' writes (as with ZooKeeper):
    /// every part is claimed before it is assigned, every stage and commit
    /// checks its epoch. Off: a SyncTool writes at epoch 1 unchecked.
    pub fencing: bool,
}

/// The partitioning of partitioned scenarios: the demo table's ts is
/// `base + seq·1000 + pid` from 2023-11-14T22:13:20Z, which at +05:45 is
/// 03:58:20, so an hour ends after 100 puts and snapshot segments (in key
/// order) mix both hours.
pub const PARTITION_BY: &str = "hour(ts)";
/// See [`PARTITION_BY`].
pub const PARTITION_TIME_ZONE: &str = "+05:45";

const CRASH_POINTS: [CrashPoint; 4] = [
    CrashPoint::AfterStage,
    CrashPoint::BeforeCommit,
    CrashPoint::AfterCommit,
    CrashPoint::AfterPersist,
];

const SINK_STEPS: [sync_sinks::Step; 5] = [
    sync_sinks::Step::StageWritten,
    sync_sinks::Step::Staged,
    sync_sinks::Step::RecordWritten,
    sync_sinks::Step::Published,
    sync_sinks::Step::Committed,
];

impl Scenario {
    /// A quiet scenario: one table, no faults (named tests add to it).
    pub fn base(seed: u64) -> Self {
        Scenario {
            name: "replay".into(),
            seed,
            store: StoreKind::Memory,
            tables: vec![TableSetup {
                partitions: 2,
                initial_rows: 120,
                skew_rows: 0,
                snapshot_at: Some(60),
                mode: Mode::FullAndContinuous,
                start_row: 0,
                binlog_max_bytes: 4096,
                snappy: false,
                key_cardinality: 20,
            }],
            tablets: 2,
            standby: vec![false, false],
            pack_size: 1024,
            window: 4,
            roll: RollPolicy {
                max_rows: 40,
                max_bytes: 16 << 10,
                max_age_ms: 600,
            },
            timeout_ms: 3_000,
            session_ms: 1_000,
            max_latency_ms: 5,
            append_every_ms: 300,
            append_rows: 5,
            cutoff_ms: 6_000,
            faults: Vec::new(),
            heal_ms: 8_000,
            breakage: None,
            partitioned: false,
            memory_limit: sync_core::task::Config::default().memory_limit,
            fencing: true,
        }
    }

    /// Names the test that runs it (for the replay command).
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// Adds a fault at `at_ms`.
    pub fn with(mut self, at_ms: u64, fault: Fault) -> Self {
        self.faults.push((at_ms, fault));
        self
    }

    /// Sets the mode of every table.
    pub fn mode(mut self, mode: Mode) -> Self {
        for t in &mut self.tables {
            t.mode = mode;
        }
        self
    }

    /// The scenario of a random run: [`Scenario::random_classic`] plus, drawn
    /// after it, the faults added with the self-healing contract (sink
    /// outages, faults that outlast every timeout, more binlog GC).
    pub fn random(seed: u64) -> Self {
        let (mut s, mut rng) = Self::classic(seed);
        // Every third seed writes partitioned output (no draw: the other
        // knobs of a seed stay as they were).
        s.partitioned = seed % 3 == 1;
        // Every fourth seed has a few packs' worth of memory for all parts.
        if seed % 4 == 2 {
            s.memory_limit = 4 * s.pack_size as u64;
        }
        let extra = rng.range(0, 3);
        for _ in 0..extra {
            let at = rng.range(0, s.heal_ms);
            let tablet = rng.range(0, s.tablets as u64 - 1) as usize;
            let who = Who {
                tablet,
                standby: s.standby[tablet] && rng.chance(30),
            };
            // Past the silence timeout and the session: the part is reassigned,
            // its only collector may be unreachable for several rounds.
            let long = rng.range(s.timeout_ms + s.session_ms, 3 * s.timeout_ms + s.session_ms);
            let table = rng.range(0, s.tables.len() as u64 - 1) as usize;
            let fault = match rng.range(0, 5) {
                0 => Fault::SinkOutage {
                    ms: rng.range(500, 8_000),
                },
                1 => Fault::Partition { who, ms: long },
                2 => Fault::Hold { who, ms: long },
                3 => Fault::SessionExpiry { who, ms: long },
                _ => Fault::GcBinlog { table },
            };
            s.faults.push((at, fault));
        }
        s.faults.sort_by_key(|(at, _)| *at);
        s
    }

    /// The scenario generator as it was before the self-healing contract
    /// (seeds keep their tables, knobs and faults; regression tests replay them).
    pub fn random_classic(seed: u64) -> Self {
        Self::classic(seed).0
    }

    fn classic(seed: u64) -> (Self, Rng) {
        let mut rng = Rng::new(seed);
        let mut s = Scenario::base(seed);
        s.store = if rng.chance(20) {
            StoreKind::Files
        } else {
            StoreKind::Memory
        };
        let tables = if rng.chance(30) { 2 } else { 1 };
        s.tables = (0..tables)
            .map(|_| {
                let initial_rows = rng.range(0, 250);
                TableSetup {
                    partitions: rng.range(1, 3) as u32,
                    initial_rows,
                    skew_rows: if rng.chance(20) { rng.range(1, 200) } else { 0 },
                    snapshot_at: rng.chance(50).then(|| rng.range(0, initial_rows)),
                    mode: match rng.range(0, 2) {
                        0 => Mode::Full,
                        1 => Mode::IncrementalByTimestamp,
                        _ => Mode::FullAndContinuous,
                    },
                    start_row: rng.range(0, initial_rows + 20),
                    binlog_max_bytes: rng.range(1_500, 8_000),
                    snappy: rng.chance(30),
                    key_cardinality: rng.range(1, 40),
                }
            })
            .collect();
        s.standby = (0..s.tablets).map(|_| rng.chance(50)).collect();
        s.pack_size = rng.range(200, 3_000) as usize;
        s.window = rng.range(1, 8) as usize;
        s.roll = RollPolicy {
            max_rows: rng.range(5, 80),
            max_bytes: rng.range(2_000, 30_000),
            max_age_ms: rng.range(200, 1_500),
        };
        s.timeout_ms = rng.range(1_500, 5_000);
        s.session_ms = rng.range(300, 3_000);
        s.max_latency_ms = rng.range(0, 30);
        s.append_every_ms = rng.range(150, 800);
        s.append_rows = rng.range(0, 12);
        s.cutoff_ms = rng.range(1_000, 9_000);
        s.heal_ms = rng.range(4_000, 12_000);
        let faults = rng.range(0, 7);
        let mut lost = vec![false; s.tablets];
        for _ in 0..faults {
            let at = rng.range(0, s.heal_ms);
            let tablet = rng.range(0, s.tablets as u64 - 1) as usize;
            let who = Who {
                tablet,
                standby: s.standby[tablet] && rng.chance(30),
            };
            let ms = rng.range(100, 4_000);
            let table = rng.range(0, s.tables.len() as u64 - 1) as usize;
            let fault = match rng.range(0, 12) {
                0 | 1 => Fault::CrashCollector { who, down_ms: ms },
                2 if s.standby[tablet] && !lost[tablet] => {
                    lost[tablet] = true;
                    Fault::LoseCollector { tablet }
                }
                2 | 3 => Fault::CrashSyncTool { down_ms: ms },
                4 => Fault::CrashSyncToolAt {
                    point: if s.store == StoreKind::Files && rng.chance(60) {
                        CrashPoint::Sink(*rng.pick(&SINK_STEPS))
                    } else {
                        *rng.pick(&CRASH_POINTS)
                    },
                    down_ms: ms,
                },
                5 => Fault::Partition { who, ms },
                6 => Fault::Hold { who, ms },
                7 => Fault::SessionExpiry { who, ms },
                8 => Fault::Snapshot { table },
                9 => Fault::GcBinlog { table },
                10 => Fault::MoveLeader { table },
                _ => Fault::CrashSyncToolWhen {
                    status: rng
                        .pick(&["INIT", "RUNNING", "REASSIGNING", "SUCCESS", "FAILED"])
                        .to_string(),
                    down_ms: ms,
                },
            };
            s.faults.push((at, fault));
        }
        s.faults.sort_by_key(|(at, _)| *at);
        (s, rng)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store {:?}, tables [", self.store)?;
        for (i, t) in self.tables.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(
                f,
                "mode {} x{} rows {} snap {:?}",
                t.mode.to_proto() as i32,
                t.partitions,
                t.initial_rows,
                t.snapshot_at
            )?;
        }
        write!(
            f,
            "], standby {:?}, pack {} window {}, roll {}/{}B/{}ms, timeout {}ms, session {}ms, \
             appends {}x/{}ms until {}ms, heal {}ms, partitioned {}, memory {}B, faults {:?}",
            self.standby,
            self.pack_size,
            self.window,
            self.roll.max_rows,
            self.roll.max_bytes,
            self.roll.max_age_ms,
            self.timeout_ms,
            self.session_ms,
            self.append_rows,
            self.append_every_ms,
            self.cutoff_ms,
            self.heal_ms,
            self.partitioned,
            self.memory_limit,
            self.faults
        )
    }
}
