//! Continuous latency: a mode-2 task over a table that receives a steady
//! stream of puts; for each batch of puts, the time from the put to the
//! moment SyncTool's status reports those rows committed (polled every
//! 20 ms). The collector runs with its default flags, so both its idle poll
//! interval (`--sync_task_long_interval_ms`, 5 s) and SyncTool's roll age
//! (`sink.roll.max_age_ms`) show in the figure.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use e2e::Cluster;
use tablet_emu::TableEmulator;

/// What one latency run measured.
#[derive(Debug, Clone)]
pub struct Latency {
    pub roll_age_ms: u64,
    /// The put rate achieved (the emulator may not keep up with the asked one).
    pub rows_per_s: u64,
    pub seconds: u64,
    pub batches: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The `q`-quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Commit latencies of puts made at `puts` (time, rows put so far) given
/// the polls `commits` (time, rows committed), both in time order; rows
/// before the first put count as `base`. Batches never seen committed are
/// left out (the caller checks that everything committed in the end).
pub fn latencies(base: u64, puts: &[(Instant, u64)], commits: &[(Instant, u64)]) -> Vec<f64> {
    let mut out = Vec::new();
    let mut c = 0;
    for &(at, put) in puts {
        while c < commits.len() && (commits[c].1 < base + put || commits[c].0 < at) {
            c += 1;
        }
        if let Some(&(seen, _)) = commits.get(c) {
            out.push(seen.duration_since(at).as_secs_f64() * 1000.0);
        }
    }
    out
}

/// Runs one latency measurement on `cluster`'s table (collector and
/// SyncTool started here, stopped at the end).
pub fn run(
    cluster: &mut Cluster,
    roll_age_ms: u64,
    rows_per_s: u64,
    seconds: u64,
) -> anyhow::Result<Latency> {
    let dir = cluster.dir().to_path_buf();
    cluster.synctool_conf.roll_max_age_ms = roll_age_ms;
    cluster.synctool_conf.progress_path = dir.join(format!("progress/latency-{roll_age_ms}"));
    cluster.collector_conf.datadir = dir.join(format!("collector/latency-{roll_age_ms}"));
    cluster.start_collector()?;
    cluster.start_synctool()?;
    let dest = cluster.local_dest(&format!("latency-{roll_age_ms}"));
    let tid = cluster.table().tid;
    eprintln!("bench: latency with sink.roll.max_age_ms={roll_age_ms}: catching up …");
    cluster.create_task(2, None, &dest)?;
    let settle = Duration::from_millis(roll_age_ms * 3) + Duration::from_secs(60);
    let base = cluster.wait_all_committed(settle)?;
    let endpoint = cluster.synctool_endpoint();

    let partitions = u64::from(cluster.table().partitions);
    let tick = Duration::from_millis(50);
    let per_tick = (rows_per_s * tick.as_millis() as u64 / 1000 / partitions).max(1);
    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(Mutex::new(Vec::<(Instant, u64)>::new()));
    let poller = {
        let (stop, commits, endpoint) = (stop.clone(), commits.clone(), endpoint.clone());
        std::thread::spawn(move || {
            loop {
                // One more look after the stop: `wait_all_committed` saw
                // the last commit, this list must too.
                let last = stop.load(Ordering::Relaxed);
                if let Ok(s) = e2e::status::synctool_status(&endpoint)
                    && let Some(t) = s.table(tid)
                {
                    let at = Instant::now();
                    commits
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((at, t.rows));
                }
                if last {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    eprintln!(
        "bench: latency: putting {} rows/s for {seconds} s …",
        per_tick * partitions * 1000 / tick.as_millis() as u64
    );
    let root = cluster.tablet_root().to_path_buf();
    let mut puts = Vec::new();
    let started = Instant::now();
    let mut put = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        let next = Instant::now() + tick;
        TableEmulator::open(&root, tid)
            .and_then(|mut t| t.append_all(per_tick))
            .with_context(|| format!("appending to table {tid}"))?;
        put += per_tick * partitions;
        puts.push((Instant::now(), put));
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let achieved = (put as f64 / started.elapsed().as_secs_f64().max(1e-9)) as u64;
    let done = cluster.wait_all_committed(settle);
    stop.store(true, Ordering::Relaxed);
    let _ = poller.join();
    cluster.stop_synctool()?;
    cluster.stop_collector()?;
    let total = done?;
    if total != base + put {
        bail!("committed {total} rows, expected {}", base + put);
    }
    let commits = commits.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut lat = latencies(base, &puts, &commits);
    if lat.len() != puts.len() {
        bail!(
            "{} of {} put batches were never seen committed",
            puts.len() - lat.len(),
            puts.len()
        );
    }
    lat.sort_by(f64::total_cmp);
    Ok(Latency {
        roll_age_ms,
        rows_per_s: achieved,
        seconds,
        batches: lat.len(),
        p50_ms: quantile(&lat, 0.5),
        p99_ms: quantile(&lat, 0.99),
        max_ms: lat.last().copied().unwrap_or(f64::NAN),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_batch_waits_for_the_first_poll_that_covers_it() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let puts = [(at(0), 10), (at(50), 20), (at(100), 30)];
        let commits = [(at(20), 100), (at(400), 115), (at(900), 130)];
        let lat = latencies(100, &puts, &commits);
        assert_eq!(lat.len(), 3);
        assert!((lat[0] - 400.0).abs() < 1e-6, "{lat:?}");
        assert!((lat[1] - 850.0).abs() < 1e-6, "{lat:?}");
        assert!((lat[2] - 800.0).abs() < 1e-6, "{lat:?}");
        assert_eq!(quantile(&[1.0, 2.0, 3.0], 0.5), 2.0);
    }
}
