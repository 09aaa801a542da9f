//! Crashes in the middle of a mode-0 sync of 200,000 rows (4 partitions,
//! snapshot + binlog): SyncTool, then in a second task the DataCollector, is
//! killed with SIGKILL once part of the rows are committed and started again
//! (same progress path, same work dir). Each output must hold every source row
//! exactly once: nothing lost, nothing twice, nothing half-written visible.
//!
//! One test, two tasks over one generated table: generating 200,000 rows
//! takes most of the time in a debug build.

use std::time::{Duration, Instant};

use e2e::output::check_output;
use e2e::{Cluster, RowSet};

const TIMEOUT: Duration = Duration::from_secs(120);

enum Victim {
    SyncTool,
    Collector,
}

/// Starts a mode-0 task to `name`, kills `victim` once a fifth of the rows
/// are committed, restarts it and waits for the task to finish.
fn sync_through_a_crash(cluster: &mut Cluster, name: &str, victim: Victim, expected: &RowSet) {
    let total = expected.len();
    let dest = cluster.local_dest(name);
    let start = Instant::now();
    cluster.create_task(0, None, &dest).expect("create task");
    let at = cluster
        .wait_committed(total / 5, TIMEOUT)
        .expect("some rows committed");
    assert!(at < total, "the sync finished before the kill ({at} rows)");
    match victim {
        Victim::SyncTool => {
            cluster.kill_synctool().expect("kill -9 synctool");
            eprintln!("{name}: killed synctool at {at} committed rows");
            cluster.start_synctool().expect("restart synctool");
        }
        Victim::Collector => {
            cluster.kill_collector().expect("kill -9 data_collector");
            eprintln!("{name}: killed data_collector at {at} committed rows");
            std::thread::sleep(Duration::from_millis(500));
            cluster.start_collector().expect("restart data_collector");
        }
    }
    cluster
        .wait_task_done(TIMEOUT)
        .expect("sync finishes after the restart");
    eprintln!("{name}: done in {:.1}s", start.elapsed().as_secs_f64());
    let read = Instant::now();
    let output = cluster
        .read_local(&dest, RowSet::new())
        .expect("read output");
    check_output(expected, &output, true).expect("every row exactly once");
    eprintln!(
        "{name}: output checked in {:.1}s",
        read.elapsed().as_secs_f64()
    );
    assert_eq!(output.rows.len(), 200_000);
}

#[test]
fn synctool_then_collector_killed_mid_sync() {
    let start = Instant::now();
    let mut cluster = Cluster::builder()
        .partitions(4)
        .rows_per_partition(50_000)
        .snapshot_after(30_000)
        .gc_binlog()
        .binlog_max_bytes(1 << 20)
        .synctool(|c| {
            c.roll_max_rows = 5000;
            // Longer than request.timeout (SyncTool requires it): an
            // assignment unanswered this long counts as refused, and a
            // host's only collector refusing fails the part.
            c.timeout_ms = 8000;
        })
        .collector(|c| c.max_pack_size = 64 * 1024)
        .verbose()
        .build()
        .expect("cluster");
    let expected = cluster
        .source_rows(|_| true, RowSet::new())
        .expect("source rows");
    assert_eq!(expected.len(), 200_000);
    eprintln!(
        "table generated and daemons started in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    sync_through_a_crash(&mut cluster, "synctool-crash", Victim::SyncTool, &expected);
    sync_through_a_crash(
        &mut cluster,
        "collector-crash",
        Victim::Collector,
        &expected,
    );
}
