//! Standalone deployments (tablet emulator + data_collector + synctool as
//! processes, no ZooKeeper) syncing to a local directory, in each mode:
//!
//! * mode 0 (full): the output is exactly the source rows, the parts go
//!   INIT → RUNNING → SUCCESS and the finished task leaves the status page;
//! * mode 1 (incremental by timestamp): exactly the rows at or after the
//!   start ts, also rows put while the task runs;
//! * mode 2 (full and continuous): rows put while it runs arrive, also after
//!   the tablet makes a new snapshot, without duplicates.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use e2e::wait::Check;
use e2e::{Cluster, Format};

const TIMEOUT: Duration = Duration::from_secs(90);

/// Order of the happy path.
fn rank(status: &str) -> Option<u8> {
    match status {
        "INIT" => Some(0),
        "RUNNING" => Some(1),
        "SUCCESS" => Some(2),
        _ => None,
    }
}

#[test]
fn full_sync_parquet_snapshot_and_binlog() {
    let mut cluster = Cluster::builder()
        .partitions(2)
        .rows_per_partition(20_000)
        .snapshot_after(12_000)
        .gc_binlog()
        .binlog_max_bytes(256 * 1024)
        .synctool(|c| c.roll_max_rows = 4000)
        .build()
        .expect("cluster");
    let summary = cluster.source_summary().expect("source");
    assert!(
        summary
            .iter()
            .all(|p| p.snapshot_rows == 12_000 && p.binlog_files >= 2),
        "{summary:?}"
    );
    let dest = cluster.local_dest("full");
    let tid = cluster.table().tid;
    cluster.create_task(0, None, &dest).expect("create task");

    // Watch every status change until the task leaves the page.
    let mut seen: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    let start = Instant::now();
    cluster
        .watch(
            "the mode-0 task to finish",
            TIMEOUT,
            Duration::from_millis(20),
            |s| {
                let Some(t) = s.table(tid) else {
                    return Ok(Check::Done(()));
                };
                assert_eq!(t.mode, "kFull");
                for p in &t.parts {
                    let seq = seen.entry(p.pid).or_default();
                    if seq.last() != Some(&p.status) {
                        seq.push(p.status.clone());
                    }
                }
                Ok(Check::NotYet(s.brief(tid)))
            },
        )
        .expect("mode 0 finishes");
    eprintln!(
        "mode 0: 40000 rows in {:.1}s; statuses {seen:?}",
        start.elapsed().as_secs_f64()
    );
    for (pid, seq) in &seen {
        let ranks: Vec<Option<u8>> = seq.iter().map(|s| rank(s)).collect();
        assert!(
            ranks.iter().all(Option::is_some) && ranks.windows(2).all(|w| w[0] < w[1]),
            "pid {pid}: statuses {seq:?} are not in the order INIT → RUNNING → SUCCESS"
        );
    }
    assert!(
        seen.values().flatten().any(|s| s == "RUNNING"),
        "RUNNING never seen: {seen:?}"
    );

    let output = cluster
        .verify_local(&dest, |_| true, true)
        .expect("output == source");
    assert_eq!(output.rows.len(), 40_000);
    // Files roll at about 4000 rows (a threshold, not a cap: the open segment
    // keeps growing while the previous one commits), so more than one per part.
    assert!(
        output.files.len() > 2,
        "rolled segments expected: {:?}",
        output.files
    );
    assert_eq!(output.rows_per_partition(), vec![(0, 20_000), (1, 20_000)]);
    let out = cluster
        .helper(&["status", "-s", &cluster.synctool_endpoint()])
        .expect("status");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no task"),
        "{out:?}"
    );
}

#[test]
fn full_sync_csv_binlog_only() {
    let mut cluster = Cluster::builder()
        .partitions(3)
        .rows_per_partition(3000)
        .binlog_max_bytes(128 * 1024)
        .synctool(|c| {
            c.format = Format::Csv;
            c.csv.null = "NULL".into();
        })
        .build()
        .expect("cluster");
    let dest = cluster.local_dest("csv");
    cluster.create_task(0, None, &dest).expect("create task");
    cluster.wait_task_done(TIMEOUT).expect("mode 0 finishes");
    let output = cluster
        .verify_local(&dest, |_| true, true)
        .expect("output == source");
    assert_eq!(output.rows.len(), 9000);
    assert!(output.files.iter().all(|f| f.path.ends_with(".csv")));
}

#[test]
fn incremental_by_timestamp() {
    let mut cluster = Cluster::builder()
        .partitions(2)
        .rows_per_partition(10_000)
        .snapshot_after(6000)
        .synctool(|c| c.format = Format::Csv)
        .build()
        .expect("cluster");
    // Row seq of partition pid has ts base + seq * 1000 + pid: rows 5000.. pass.
    let start_ts = cluster.table().base_time_ms + 5000 * 1000;
    let keep = move |r: &tablet_emu::GeneratedRow| r.key.ts >= start_ts;
    let dest = cluster.local_dest("incr");
    let tid = cluster.table().tid;
    cluster
        .create_task(1, Some(start_ts), &dest)
        .expect("create task");
    cluster
        .wait_committed(10_000, TIMEOUT)
        .expect("rows since start_ts");
    // Mode 1 keeps running; nothing more may arrive.
    std::thread::sleep(Duration::from_millis(1500));
    let status = cluster.synctool_status().expect("status");
    let t = status.table(tid).expect("mode-1 task stays");
    assert_eq!(t.mode, "kIncrementalByTimestamp");
    assert_eq!(t.rows, 10_000, "{}", status.brief(tid));
    assert!(
        t.parts.iter().all(|p| p.status == "RUNNING"),
        "{}",
        status.brief(tid)
    );
    cluster
        .verify_local(&dest, keep, false)
        .expect("output == rows since start_ts");

    // Rows put now are newer than start_ts: they all arrive.
    cluster.append(1500).expect("append");
    cluster
        .wait_committed(13_000, TIMEOUT)
        .expect("appended rows");
    cluster
        .verify_local(&dest, keep, false)
        .expect("output after append");

    let out = cluster
        .helper(&[
            "delete",
            "-t",
            &cluster.table_name(),
            "-s",
            &cluster.synctool_endpoint(),
        ])
        .expect("delete");
    assert!(out.status.success(), "{out:?}");
    assert!(cluster.synctool_status().expect("status").tables.is_empty());
}

#[test]
fn continuous_sync_follows_appends_and_snapshots() {
    let mut cluster = Cluster::builder()
        .partitions(2)
        .rows_per_partition(5000)
        .snapshot_after(3000)
        .binlog_max_bytes(128 * 1024)
        .build()
        .expect("cluster");
    let dest = cluster.local_dest("cont");
    let tid = cluster.table().tid;
    cluster.create_task(2, None, &dest).expect("create task");
    cluster
        .wait_committed(10_000, TIMEOUT)
        .expect("initial rows");

    cluster.append(2000).expect("append");
    cluster
        .wait_committed(14_000, TIMEOUT)
        .expect("appended rows");
    cluster
        .verify_local(&dest, |_| true, false)
        .expect("output after append");

    // The tablet makes a new snapshot while the task runs, then puts more.
    let emu = tablet_emu::TableEmulator::open(cluster.tablet_root(), tid);
    emu.expect("open table")
        .snapshot_all(None)
        .expect("snapshot");
    cluster.append(1000).expect("append");
    cluster
        .wait_committed(16_000, TIMEOUT)
        .expect("rows after the new snapshot");
    std::thread::sleep(Duration::from_millis(1500));
    let status = cluster.synctool_status().expect("status");
    let t = status.table(tid).expect("mode-2 task stays");
    assert_eq!(t.mode, "kFullAndContinuous");
    assert_eq!(t.rows, 16_000, "{}", status.brief(tid));
    assert!(
        t.parts.iter().all(|p| p.status == "RUNNING"),
        "{}",
        status.brief(tid)
    );
    cluster
        .verify_local(&dest, |_| true, false)
        .expect("output after snapshot + append");

    let collector = cluster.collector_status().expect("collector status");
    let mine: Vec<_> = collector.tasks.iter().filter(|t| t.tid == tid).collect();
    assert_eq!(mine.len(), 2, "{collector:?}");
    assert!(collector.rows_sent() >= 16_000, "{collector:?}");
}
