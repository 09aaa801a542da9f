//! Chaos with real processes: the tablet and its collector in a network
//! namespace of their own (a tablet host, [`e2e::netns`]), SyncTool on this
//! host, real ZooKeeper and HDFS from the test set-up. A seeded nemesis
//! applies faults one after another during a mode-2 sync with live appends:
//! SIGKILL and restart of SyncTool and of the collector, SIGSTOP/SIGCONT of
//! either past the timeouts (SyncTool's part timeout, the collector's
//! ZooKeeper session), real link cuts (SyncTool ↔ the tablet host,
//! ZooKeeper ↔ the tablet host, the whole link down) and a restart of the
//! HDFS DataNode. Then the appends stop, everything heals, and the HDFS
//! output must hold every source row exactly once, no part having been
//! FAILED at any poll.
//!
//! `SYNC_CHAOS_SEED` replays a run (the seed is printed), `SYNC_CHAOS_FAULTS`
//! sets how many faults (default 50; e.g. 500 for a long manual run).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use e2e::faults::{Appender, Paused, StatusRecorder};
use e2e::netns::{Cut, Netns};
use e2e::output::{CsvSpec, RemoteDest, check_output, read_output};
use e2e::process::{Signal, pid_alive, signal};
use e2e::services::{service, unique};
use e2e::wait::{Check, wait_until};
use e2e::{Cluster, Format, RowSet};

/// SyncTool's part timeout (`sync_task.timeout`); pauses go past it.
const PART_TIMEOUT_MS: u64 = 2500;
/// How long after the last fault every row must be committed.
const SETTLE: Duration = Duration::from_secs(240);

/// A small deterministic generator (splitmix64), so a seed replays a run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// One fault of the nemesis.
#[derive(Debug, Clone, Copy)]
enum Fault {
    KillSyncTool,
    KillCollector,
    PauseSyncTool,
    PauseCollector,
    Cut(Cut),
    RestartDataNode,
}

impl Fault {
    /// Picks a fault; DataNode restarts are rarer (a JVM start is slow).
    fn pick(rng: &mut Rng) -> Fault {
        match rng.between(0, 14) {
            0 | 1 => Fault::KillSyncTool,
            2 | 3 => Fault::KillCollector,
            4 | 5 => Fault::PauseSyncTool,
            6 | 7 => Fault::PauseCollector,
            8 | 9 => Fault::Cut(Cut::SyncTool),
            10 | 11 => Fault::Cut(Cut::ZooKeeper),
            12 | 13 => Fault::Cut(Cut::Link),
            _ => Fault::RestartDataNode,
        }
    }
}

/// The test set-up's DataNode: `datanode.sh` (re)starts it, `datanode.pid`
/// holds its pid (`scripts/lib/hdfs.sh`).
struct DataNode {
    dir: PathBuf,
}

impl DataNode {
    fn registrations(&self) -> usize {
        std::fs::read_to_string(self.dir.join("datanode.log"))
            .map(|log| log.matches("successfully registered with NN").count())
            .unwrap_or(0)
    }

    fn pid(&self) -> anyhow::Result<u32> {
        let path = self.dir.join("datanode.pid");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        text.trim()
            .parse()
            .with_context(|| format!("{}: not a pid: {text:?}", path.display()))
    }

    fn kill(&self) -> anyhow::Result<()> {
        let pid = self.pid()?;
        signal(pid, Signal::Kill).with_context(|| format!("cannot SIGKILL the DataNode {pid}"))?;
        wait_until("the DataNode to die", Duration::from_secs(20), || {
            Ok(if pid_alive(pid) {
                Check::NotYet(format!("pid {pid} alive"))
            } else {
                Check::Done(())
            })
        })
    }

    /// Starts it again (detached: it outlives the test, `scripts/test.sh`
    /// stops it by its pid file) and waits until it has registered.
    fn start(&self) -> anyhow::Result<()> {
        let before = self.registrations();
        // Through a shell that exits at once: the DataNode is nobody's
        // child here, so once killed it is reaped, not a zombie that
        // `kill -0` still finds.
        let started = Command::new("bash")
            .arg("-c")
            .arg(r#"setsid bash "$0" </dev/null >/dev/null 2>&1 &"#)
            .arg(self.dir.join("datanode.sh"))
            .status()
            .context("cannot start the DataNode")?;
        if !started.success() {
            anyhow::bail!("starting the DataNode: {started}");
        }
        wait_until(
            "the DataNode to register again",
            Duration::from_secs(120),
            || {
                Ok(if self.registrations() > before {
                    Check::Done(())
                } else {
                    Check::NotYet("not registered yet".into())
                })
            },
        )
    }

    fn is_up(&self) -> bool {
        self.pid().is_ok_and(pid_alive)
    }
}

/// Restarts the DataNode if the test ends (or panics) while it is down, so
/// that the tests after this one find HDFS whole.
struct DataNodeGuard<'a>(&'a DataNode);

impl Drop for DataNodeGuard<'_> {
    fn drop(&mut self) {
        if !self.0.is_up()
            && let Err(e) = self.0.start()
        {
            eprintln!("chaos: cannot restart the DataNode: {e:#}");
        }
    }
}

fn seed() -> u64 {
    match std::env::var("SYNC_CHAOS_SEED") {
        Ok(s) => s.parse().expect("SYNC_CHAOS_SEED: a number"),
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    }
}

fn fault_count() -> usize {
    std::env::var("SYNC_CHAOS_FAULTS")
        .ok()
        .map(|s| s.parse().expect("SYNC_CHAOS_FAULTS: a number"))
        .unwrap_or(50)
}

/// Applies `fault` for `hold`, then undoes it.
fn apply(
    fault: Fault,
    hold: Duration,
    cluster: &mut Cluster,
    netns: &mut Netns,
    datanode: &DataNode,
) -> anyhow::Result<()> {
    match fault {
        Fault::KillSyncTool => {
            cluster.kill_synctool()?;
            std::thread::sleep(hold);
            cluster.start_synctool()
        }
        Fault::KillCollector => {
            cluster.kill_collector()?;
            std::thread::sleep(hold);
            cluster.start_collector()
        }
        Fault::PauseSyncTool | Fault::PauseCollector => {
            let proc = match fault {
                Fault::PauseSyncTool => cluster.synctool_proc(),
                _ => cluster.collector_proc(),
            };
            let pid = proc.context("the process is not running")?.pid();
            let mut paused = Paused::new(pid)?;
            std::thread::sleep(hold);
            paused.resume()
        }
        Fault::Cut(cut) => {
            netns.cut(cut)?;
            std::thread::sleep(hold);
            netns.heal()
        }
        Fault::RestartDataNode => {
            datanode.kill()?;
            std::thread::sleep(hold);
            datanode.start()
        }
    }
}

fn hdfs_rows(dest: &str, cluster: &Cluster) -> anyhow::Result<e2e::output::Output> {
    let store = RemoteDest::new(dest, None)?;
    read_output(
        &store,
        &cluster.columns()?,
        Format::Parquet,
        &CsvSpec::default(),
        RowSet::new(),
    )
}

#[test]
fn nemesis_during_a_continuous_sync_to_hdfs() {
    let Some(zk) = service("SYNC_TEST_ZK") else {
        return;
    };
    let Some(hdfs) = service("SYNC_TEST_HDFS") else {
        return;
    };
    let Some(datanode_dir) = service("SYNC_TEST_HDFS_DATANODE") else {
        return;
    };
    let datanode = DataNode {
        dir: Path::new(&datanode_dir).to_path_buf(),
    };
    let _datanode_guard = DataNodeGuard(&datanode);
    let mut netns = match Netns::create("synchaos", 0) {
        Ok(ns) => ns,
        Err(e) => {
            assert!(
                std::env::var("SYNC_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "cannot make a network namespace (root and `ip` are needed): {e:#}"
            );
            println!("skipped: cannot make a network namespace: {e:#}");
            return;
        }
    };
    let seed = seed();
    let faults = fault_count();
    eprintln!(
        "chaos: seed {seed}, {faults} faults \
         (replay: SYNC_CHAOS_SEED={seed} SYNC_CHAOS_FAULTS={faults} cargo test -p e2e --test chaos -- --nocapture)"
    );
    let mut rng = Rng(seed);

    let mut cluster = Cluster::builder()
        .zookeeper(&zk)
        .placement(netns.placement())
        .partitions(4)
        .rows_per_partition(3000)
        .snapshot_after(2000)
        .binlog_max_bytes(64 * 1024)
        .synctool(|c| {
            c.timeout_ms = PART_TIMEOUT_MS;
            c.request_timeout_s = 2;
            c.roll_max_rows = 2000;
            c.roll_max_age_ms = 1000;
        })
        .build()
        .expect("cluster");
    let tid = cluster.table().tid;
    let dest = format!("{}/{}", hdfs.trim_end_matches('/'), unique("chaos"));
    let recorder = StatusRecorder::start(&cluster.synctool_endpoint(), Duration::from_millis(100));
    cluster.create_task(2, None, &dest).expect("create task");
    let appender = Appender::start(cluster.tablet_root(), tid, 10, Duration::from_millis(200));

    let started = Instant::now();
    let mut log = Vec::new();
    for i in 0..faults {
        let fault = Fault::pick(&mut rng);
        let hold = Duration::from_millis(match fault {
            // Past the part timeout and the collector's ZooKeeper session
            // about half the time.
            Fault::PauseSyncTool | Fault::PauseCollector | Fault::Cut(_) => {
                rng.between(300, 2 * PART_TIMEOUT_MS)
            }
            _ => rng.between(100, 2000),
        });
        let gap = Duration::from_millis(rng.between(200, 1500));
        let at = started.elapsed().as_secs_f64();
        log.push(format!("{at:7.1}s #{i} {fault:?} for {hold:?}"));
        if let Err(e) = apply(fault, hold, &mut cluster, &mut netns, &datanode) {
            panic!(
                "chaos seed {seed}: applying fault #{i} {fault:?}: {e:#}\nfaults:\n{}\n{}",
                log.join("\n"),
                cluster.diagnostics()
            );
        }
        std::thread::sleep(gap);
    }
    let fault_secs = started.elapsed().as_secs_f64();
    let rounds = appender.stop().expect("appends");
    netns.heal().expect("heal the links");
    cluster.ensure_running().expect("every process runs");
    let committed = cluster.wait_all_committed(SETTLE).unwrap_or_else(|e| {
        panic!(
            "chaos seed {seed}: not every row committed {}s after the last fault: {e:#}\nfaults:\n{}",
            SETTLE.as_secs(),
            log.join("\n")
        )
    });
    let settled_secs = started.elapsed().as_secs_f64() - fault_secs;
    let failures = recorder.failures();
    assert!(
        failures.is_empty(),
        "chaos seed {seed}: a part was FAILED although no fault destroyed data: {failures:?}\nfaults:\n{}",
        log.join("\n")
    );
    let expected = cluster
        .source_rows(|_| true, RowSet::new())
        .expect("source rows");
    let output = hdfs_rows(&dest, &cluster).expect("read HDFS");
    if let Err(e) = check_output(&expected, &output, false) {
        panic!(
            "chaos seed {seed}: HDFS output: {e:#}\nfaults:\n{}",
            log.join("\n")
        );
    }
    let counts = log
        .iter()
        .fold(std::collections::BTreeMap::new(), |mut m, l| {
            let kind = l.split_whitespace().nth(2).unwrap_or("?").to_owned();
            *m.entry(kind).or_insert(0) += 1;
            m
        });
    eprintln!(
        "chaos: seed {seed}: {faults} faults in {fault_secs:.0}s ({counts:?}), {rounds} rounds of appends; \
         {committed} rows exactly once in HDFS, settled {settled_secs:.1}s after the last fault; \
         {} status polls, no part FAILED",
        recorder.polls()
    );
}
