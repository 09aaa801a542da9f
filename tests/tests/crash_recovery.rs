//! Crashes in the middle of a mode-0 sync of 200,000 rows: SyncTool or the
//! DataCollector is killed with SIGKILL once part of the rows are committed
//! and started again (same progress path, same work dir). The output must
//! still hold every source row exactly once: nothing lost, nothing twice.

use std::time::{Duration, Instant};

use e2e::Cluster;

const TIMEOUT: Duration = Duration::from_secs(120);

fn cluster(rows_per_partition: u64) -> Cluster {
    Cluster::builder()
        .partitions(4)
        .rows_per_partition(rows_per_partition)
        .snapshot_after(rows_per_partition * 3 / 5)
        .gc_binlog()
        .binlog_max_bytes(1 << 20)
        .synctool(|c| {
            c.roll_max_rows = 5000;
            c.timeout_ms = 2000;
        })
        .collector(|c| c.max_pack_size = 64 * 1024)
        .build()
        .expect("cluster")
}

#[test]
fn synctool_killed_mid_sync() {
    let mut cluster = cluster(50_000);
    let total = cluster.source_total().expect("source");
    assert_eq!(total, 200_000);
    let dest = cluster.local_dest("synctool-crash");
    let start = Instant::now();
    cluster.create_task(0, None, &dest).expect("create task");
    let at = cluster
        .wait_committed(total / 5, TIMEOUT)
        .expect("some rows committed");
    assert!(at < total, "the sync finished before the kill ({at} rows)");
    cluster.kill_synctool().expect("kill -9 synctool");
    eprintln!(
        "killed synctool at {at} committed rows, {:.1}s",
        start.elapsed().as_secs_f64()
    );
    cluster.start_synctool().expect("restart synctool");
    cluster
        .wait_task_done(TIMEOUT)
        .expect("sync finishes after the restart");
    eprintln!("done in {:.1}s", start.elapsed().as_secs_f64());
    let output = cluster
        .verify_local(&dest, |_| true, true)
        .expect("every row exactly once");
    assert_eq!(output.rows.len(), total);
}

#[test]
fn collector_killed_mid_sync() {
    let mut cluster = cluster(50_000);
    let total = cluster.source_total().expect("source");
    let dest = cluster.local_dest("collector-crash");
    let start = Instant::now();
    cluster.create_task(0, None, &dest).expect("create task");
    let at = cluster
        .wait_committed(total / 5, TIMEOUT)
        .expect("some rows committed");
    assert!(at < total, "the sync finished before the kill ({at} rows)");
    cluster.kill_collector().expect("kill -9 data_collector");
    eprintln!(
        "killed data_collector at {at} committed rows, {:.1}s",
        start.elapsed().as_secs_f64()
    );
    std::thread::sleep(Duration::from_millis(500));
    cluster.start_collector().expect("restart data_collector");
    cluster
        .wait_task_done(TIMEOUT)
        .expect("sync finishes after the restart");
    eprintln!("done in {:.1}s", start.elapsed().as_secs_f64());
    let output = cluster
        .verify_local(&dest, |_| true, true)
        .expect("every row exactly once");
    assert_eq!(output.rows.len(), total);
}
