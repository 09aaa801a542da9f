//! Many partition tasks on one SyncTool and one collector: a table of
//! `parts` partitions (a few rows each, binlog only), one mode-2 task over
//! it, both daemons with the product's defaults.
//!
//! * **recovery** ([`recovery`]): SIGKILL SyncTool, put one row into every
//!   partition, start SyncTool again, and the time from that start until
//!   every part is streaming again (RUNNING, its accepted point past the row
//!   put while it was down); the same for the collector;
//! * **scale** ([`scale`]): the time from create to every part streaming,
//!   then, idle: both daemons' RSS, their CPU over 10 s (a fraction of one
//!   core), and how long SyncTool's `/status` page takes.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use e2e::Cluster;
use e2e::status::SyncToolStatus;
use tablet_emu::TableEmulator;

use crate::product_defaults;

/// How long every part may take to be streaming.
const STREAMING_TIMEOUT: Duration = Duration::from_secs(600);
/// How long the idle CPU is measured.
const IDLE_WINDOW: Duration = Duration::from_secs(10);

/// What the recovery runs measured.
#[derive(Debug, Clone)]
pub struct Recovery {
    pub parts: u32,
    /// Create → every part streaming (the first start).
    pub first_start_s: f64,
    /// SyncTool SIGKILLed, started again → every part streaming again.
    pub synctool_restart_s: f64,
    /// The collector SIGKILLed, started again → every part streaming again.
    pub collector_restart_s: f64,
}

/// What the scale run measured.
#[derive(Debug, Clone)]
pub struct Scale {
    pub parts: u32,
    /// Create → every part streaming.
    pub start_s: f64,
    pub synctool_rss: u64,
    pub collector_rss: u64,
    pub synctool_peak_rss: u64,
    pub collector_peak_rss: u64,
    /// CPU used while idle, in cores (1.0 = one core busy).
    pub synctool_idle_cpu: f64,
    pub collector_idle_cpu: f64,
    /// `/status?format=json`: median and slowest of 10 calls (ms).
    pub status_p50_ms: f64,
    pub status_max_ms: f64,
}

/// Each part's accepted point, as SyncTool's status shows it.
type Points = BTreeMap<u32, String>;

/// The accepted point of a part that has taken nothing yet.
const FRESH: &str = "snapshot@start";

/// A field of `/proc/<pid>/status` in bytes (`VmRSS:`, `VmHWM:`).
pub fn proc_memory(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .with_context(|| format!("no {field} in /proc/{pid}/status"))?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("cannot parse `{line}`"))?;
    Ok(kib * 1024)
}

/// CPU seconds a process used so far (user + system).
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces: count from its ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .with_context(|| format!("cannot parse /proc/{pid}/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after ')'.
    let ticks = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("cannot parse /proc/{pid}/stat"))
    };
    // SAFETY: sysconf only reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok((ticks(11)? + ticks(12)?) as f64 / hz)
}

/// The binlog offset of an accepted point `binlog@N`.
fn binlog_offset(point: &str) -> Option<u64> {
    point.strip_prefix("binlog@")?.parse().ok()
}

/// Whether a part that had accepted `before` has taken a row more (or, with
/// nothing before, any row): the accepted point a recovered SyncTool shows
/// first is the committed one, behind `before`, so only an offset past it
/// counts.
fn moved_past(accepted: &str, before: Option<&String>) -> bool {
    match before.and_then(|b| binlog_offset(b)) {
        Some(offset) => binlog_offset(accepted).is_some_and(|now| now > offset),
        None => accepted != FRESH,
    }
}

/// Parts of `tid` not yet streaming past `before` (RUNNING, accepted point
/// moved on), and a sample of why.
fn not_streaming(
    status: &SyncToolStatus,
    tid: u32,
    parts: u32,
    before: &Points,
) -> (usize, String) {
    let Some(table) = status.table(tid) else {
        return (parts as usize, "no task yet".into());
    };
    if !table.failed.is_empty() {
        return (usize::MAX, format!("FAILED parts: {:?}", table.failed));
    }
    let lagging: Vec<_> = table
        .parts
        .iter()
        .filter(|p| p.status != "RUNNING" || !moved_past(&p.accepted, before.get(&p.pid)))
        .collect();
    let missing = (parts as usize).saturating_sub(table.parts.len());
    let sample = lagging
        .first()
        .map(|p| {
            format!(
                "p{} {} {:?}",
                p.pid,
                p.status,
                p.error.as_ref().map(|e| &e.kind)
            )
        })
        .unwrap_or_default();
    (lagging.len() + missing, sample)
}

/// Waits until every part is RUNNING with its accepted point past
/// `before`; returns the seconds from `started`.
fn wait_streaming(
    cluster: &Cluster,
    parts: u32,
    before: &Points,
    started: Instant,
) -> anyhow::Result<f64> {
    let tid = cluster.table().tid;
    let endpoint = cluster.synctool_endpoint();
    let mut last = String::new();
    while started.elapsed() < STREAMING_TIMEOUT {
        match e2e::status::synctool_status(&endpoint) {
            Ok(status) => {
                let (left, sample) = not_streaming(&status, tid, parts, before);
                if left == usize::MAX {
                    bail!("{sample}");
                }
                if left == 0 {
                    return Ok(started.elapsed().as_secs_f64());
                }
                last = format!("{left} parts not streaming, e.g. {sample}");
            }
            Err(e) => last = format!("status: {e:#}"),
        }
        // A status of thousands of parts is large: poll it less often.
        std::thread::sleep(Duration::from_millis((u64::from(parts) / 20).max(50)));
    }
    bail!("not every part streaming after {STREAMING_TIMEOUT:?}: {last}")
}

/// A table of `parts` partitions under `dir`, the daemons not started.
fn many_parts_cluster(dir: &Path, parts: u32) -> anyhow::Result<Cluster> {
    product_defaults(Cluster::builder().dir(dir), None)
        .partitions(parts)
        .rows_per_partition(5)
        .without_collector()
        .without_synctool()
        .build()
}

/// Starts both daemons, creates the mode-2 task and waits until every part
/// streams; returns the seconds that took.
fn start_and_stream(cluster: &mut Cluster, parts: u32) -> anyhow::Result<f64> {
    cluster.start_collector()?;
    cluster.start_synctool()?;
    let dest = cluster.local_dest("parts");
    let started = Instant::now();
    cluster.create_task(2, None, &dest)?;
    wait_streaming(cluster, parts, &Points::new(), started)
}

fn accepted_points(cluster: &Cluster) -> anyhow::Result<Points> {
    let status = cluster.synctool_status()?;
    let table = status
        .table(cluster.table().tid)
        .context("the task is gone")?;
    Ok(table
        .parts
        .iter()
        .map(|p| (p.pid, p.accepted.clone()))
        .collect())
}

/// SIGKILLs one daemon (`kill`), puts a row into every partition, starts
/// it again (`start`) and returns the seconds from that start until every
/// part streams past the new row.
fn restart_and_stream(
    cluster: &mut Cluster,
    parts: u32,
    kill: fn(&mut Cluster) -> anyhow::Result<()>,
    start: fn(&mut Cluster) -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    let before = accepted_points(cluster)?;
    if let Some((pid, point)) = before.iter().find(|(_, p)| binlog_offset(p).is_none()) {
        bail!("part {pid} accepted {point}, not a binlog offset");
    }
    kill(cluster)?;
    let tid = cluster.table().tid;
    TableEmulator::open(cluster.tablet_root(), tid)
        .and_then(|mut t| t.append_all(1))
        .with_context(|| format!("appending to table {tid}"))?;
    let started = Instant::now();
    start(cluster)?;
    wait_streaming(cluster, parts, &before, started)
}

/// The recovery runs with `parts` partition tasks.
pub fn recovery(out: &Path, parts: u32) -> anyhow::Result<Recovery> {
    eprintln!("bench: recovery with {parts} partition tasks: generating …");
    let mut cluster = many_parts_cluster(&out.join("recovery"), parts)?;
    let first_start_s = start_and_stream(&mut cluster, parts)?;
    eprintln!("bench: recovery: SIGKILL synctool …");
    let synctool_restart_s = restart_and_stream(
        &mut cluster,
        parts,
        Cluster::kill_synctool,
        Cluster::start_synctool,
    )?;
    eprintln!("bench: recovery: SIGKILL data_collector …");
    let collector_restart_s = restart_and_stream(
        &mut cluster,
        parts,
        Cluster::kill_collector,
        Cluster::start_collector,
    )?;
    cluster.stop_synctool()?;
    cluster.stop_collector()?;
    Ok(Recovery {
        parts,
        first_start_s,
        synctool_restart_s,
        collector_restart_s,
    })
}

/// The scale run with `parts` partition tasks.
pub fn scale(out: &Path, parts: u32) -> anyhow::Result<Scale> {
    eprintln!("bench: scale with {parts} partition tasks: generating …");
    let mut cluster = many_parts_cluster(&out.join("scale"), parts)?;
    let start_s = start_and_stream(&mut cluster, parts)?;
    let pid = |p: Option<&mut e2e::process::Proc>| p.map(|p| p.pid()).context("not running");
    let synctool = pid(cluster.synctool_proc())?;
    let collector = pid(cluster.collector_proc())?;
    eprintln!("bench: scale: idle for {IDLE_WINDOW:?} …");
    let (s0, c0) = (cpu_seconds(synctool)?, cpu_seconds(collector)?);
    let window = Instant::now();
    std::thread::sleep(IDLE_WINDOW);
    let seconds = window.elapsed().as_secs_f64();
    let (s1, c1) = (cpu_seconds(synctool)?, cpu_seconds(collector)?);
    let endpoint = cluster.synctool_endpoint();
    let mut calls = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        e2e::http::get_json(&endpoint, "/status?format=json")?;
        calls.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    calls.sort_by(f64::total_cmp);
    let scale = Scale {
        parts,
        start_s,
        synctool_rss: proc_memory(synctool, "VmRSS:")?,
        collector_rss: proc_memory(collector, "VmRSS:")?,
        synctool_peak_rss: proc_memory(synctool, "VmHWM:")?,
        collector_peak_rss: proc_memory(collector, "VmHWM:")?,
        synctool_idle_cpu: (s1 - s0) / seconds,
        collector_idle_cpu: (c1 - c0) / seconds,
        status_p50_ms: calls[calls.len() / 2],
        status_max_ms: calls[calls.len() - 1],
    };
    cluster.stop_synctool()?;
    cluster.stop_collector()?;
    Ok(scale)
}
