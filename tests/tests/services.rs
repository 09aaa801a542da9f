//! Against the real services `scripts/test.sh` starts: collectors register in
//! ZooKeeper (`SYNC_TEST_ZK`) and SyncTool finds them and the table metadata
//! there; the offline copy goes to HDFS (`SYNC_TEST_HDFS`) or to S3 (moto,
//! `SYNC_TEST_S3_ENDPOINT`) and is read back from there. Each test prints
//! "skipped" without its services unless `SYNC_REQUIRE_SERVICES=1`.

use std::time::Duration;

use e2e::config::S3Conf;
use e2e::output::{CsvSpec, RemoteDest, check_output, read_output};
use e2e::services::{create_bucket, service, unique};
use e2e::{Cluster, Format, RowSet};
use sync_sinks::S3Options;

const TIMEOUT: Duration = Duration::from_secs(90);

#[test]
fn zookeeper_and_hdfs() {
    let Some(zk) = service("SYNC_TEST_ZK") else {
        return;
    };
    let Some(hdfs) = service("SYNC_TEST_HDFS") else {
        return;
    };
    let mut cluster = Cluster::builder()
        .zookeeper(&zk)
        .partitions(3)
        .rows_per_partition(4000)
        .snapshot_after(2500)
        .build()
        .expect("cluster");
    // The collector registered itself; SyncTool sees it through ZooKeeper.
    let out = cluster
        .helper(&["collectors", "-s", &cluster.synctool_endpoint()])
        .expect("collectors");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(cluster.collector_endpoint()),
        "{out:?}"
    );
    let dest = format!("{}/{}", hdfs.trim_end_matches('/'), unique("e2e-hdfs"));
    cluster.create_task(0, None, &dest).expect("create task");
    cluster.wait_task_done(TIMEOUT).expect("sync finishes");

    let expected = cluster
        .source_rows(|_| true, RowSet::new())
        .expect("source");
    let store = RemoteDest::new(&dest, None).expect("hdfs reader");
    let output = read_output(
        &store,
        &cluster.columns().expect("columns"),
        Format::Parquet,
        &CsvSpec::default(),
        RowSet::new(),
    )
    .expect("read HDFS");
    check_output(&expected, &output, true).expect("HDFS output == source");
    assert_eq!(output.rows.len(), 12_000);
}

#[test]
fn zookeeper_and_s3() {
    let Some(zk) = service("SYNC_TEST_ZK") else {
        return;
    };
    let Some(endpoint) = service("SYNC_TEST_S3_ENDPOINT") else {
        return;
    };
    let bucket = unique("e2e-s3");
    create_bucket(&endpoint, &bucket).expect("bucket");
    let s3 = S3Conf {
        endpoint: endpoint.clone(),
        region: "us-east-1".into(),
        access_key_id: "test".into(),
        secret_access_key: "test".into(),
    };
    let mut cluster = Cluster::builder()
        .zookeeper(&zk)
        .partitions(2)
        .rows_per_partition(5000)
        .snapshot_after(3000)
        .synctool(move |c| {
            c.format = Format::Csv;
            c.s3 = Some(s3.clone());
        })
        .build()
        .expect("cluster");
    let dest = format!("s3://{bucket}/offline/t1");
    cluster.create_task(0, None, &dest).expect("create task");
    cluster.wait_task_done(TIMEOUT).expect("sync finishes");

    let expected = cluster
        .source_rows(|_| true, RowSet::new())
        .expect("source");
    let store = RemoteDest::new(
        &dest,
        Some(S3Options {
            endpoint: Some(endpoint),
            access_key_id: Some("test".into()),
            secret_access_key: Some("test".into()),
            ..S3Options::default()
        }),
    )
    .expect("s3 reader");
    let output = read_output(
        &store,
        &cluster.columns().expect("columns"),
        Format::Csv,
        &CsvSpec::default(),
        RowSet::new(),
    )
    .expect("read S3");
    check_output(&expected, &output, true).expect("S3 output == source");
    assert_eq!(output.rows.len(), 10_000);
}

/// `synctool_helper workers -s SERVER`'s lines.
fn workers_seen(cluster: &Cluster, server: &str) -> Vec<String> {
    match cluster.helper(&["workers", "-s", server]) {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim_end_matches(" (this)").to_string())
            .collect(),
        Ok(out) => vec![format!("failed: {}", String::from_utf8_lossy(&out.stderr))],
        Err(e) => vec![format!("failed: {e:#}")],
    }
}

fn wait_workers(cluster: &Cluster, server: &str, want: &[String], within: Duration) {
    let start = std::time::Instant::now();
    loop {
        let seen = workers_seen(cluster, server);
        if seen == want {
            return;
        }
        assert!(
            start.elapsed() < within,
            "{server} shows {seen:?}, not {want:?}, after {within:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Several SyncTools on one ZooKeeper root: each registers, one is elected
/// coordinator, and every one of them shows the same membership. A SIGKILLed
/// coordinator is replaced when its session expires; a restarted one joins
/// as a worker; a coordinator stopped cleanly hands over at once.
#[test]
fn synctools_elect_one_coordinator_and_hand_over() {
    let Some(zk) = service("SYNC_TEST_ZK") else {
        return;
    };
    let mut cluster = Cluster::builder()
        .zookeeper(&zk)
        .without_collector()
        .build()
        .expect("cluster");
    let a = cluster.synctool_endpoint();
    let (mut b_proc, b_conf) = cluster
        .start_another_synctool("synctool-b")
        .expect("second synctool");
    let b = b_conf.endpoint();
    let line = |ep: &str, role: &str| format!("{ep} {role}");
    let mut both = vec![line(&a, "coordinator"), line(&b, "worker")];
    both.sort();
    for server in [&a, &b] {
        wait_workers(&cluster, server, &both, Duration::from_secs(20));
    }
    let out = cluster.helper(&["workers", "-s", &b]).expect("workers");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("{b} worker (this)")),
        "{out:?}"
    );
    // The status of any of them names the coordinator too.
    let out = cluster.helper(&["status", "-s", &b]).expect("status");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("no task\n2 SyncTool(s), coordinator {a}\n")
    );
    let page = e2e::http::get_json(&b, "/status?format=json").expect("status page");
    assert_eq!(page["sync_tools"]["coordinator"], a.as_str(), "{page}");

    // SIGKILL: the other is elected once ZooKeeper expires the session.
    cluster.kill_synctool().expect("kill");
    wait_workers(
        &cluster,
        &b,
        &[line(&b, "coordinator")],
        Duration::from_secs(30),
    );
    // Back again: a worker now.
    cluster.start_synctool().expect("restart");
    let mut back = vec![line(&a, "worker"), line(&b, "coordinator")];
    back.sort();
    wait_workers(&cluster, &a, &back, Duration::from_secs(20));

    // A clean stop hands over without waiting for a session timeout.
    b_proc
        .stop(e2e::process::Signal::Int, Duration::from_secs(15))
        .expect("stop b");
    wait_workers(
        &cluster,
        &a,
        &[line(&a, "coordinator")],
        Duration::from_secs(3),
    );
}

/// Copies the files of `from` into `to` (a SyncTool's progress dir).
fn copy_progress(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read progress dir") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("type").is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    }
}

/// Every committed row of table `tid` as SyncTool `server` reports it.
fn committed_at(server: &str, tid: u32) -> anyhow::Result<u64> {
    let status = e2e::status::synctool_status(server)?;
    Ok(status.table(tid).map_or(0, |t| t.rows))
}

/// Fencing (`FAULTS.md` §4) with real processes: SyncTool A is frozen
/// (SIGSTOP) while B takes its tasks over (a copy of A's state: B claims
/// every part at a newer epoch and assigns the collector with it); when A
/// wakes it neither stages, commits nor assigns those parts again, and shows
/// them owned elsewhere. The output holds every row exactly once.
#[test]
fn a_synctool_frozen_while_another_takes_its_tasks_commits_nothing_when_it_wakes() {
    let Some(zk) = service("SYNC_TEST_ZK") else {
        return;
    };
    let mut cluster = Cluster::builder()
        .zookeeper(&zk)
        .partitions(2)
        .rows_per_partition(3000)
        .snapshot_after(2000)
        .synctool(|c| c.roll_max_age_ms = 200)
        .build()
        .expect("cluster");
    let tid = cluster.table().tid;
    let dest = cluster.local_dest("takeover");
    cluster.create_task(2, None, &dest).expect("create task");
    cluster
        .wait_all_committed(TIMEOUT)
        .expect("A commits the first rows");
    let a = cluster.synctool_endpoint();
    // Rows A accepts but has not committed when it freezes.
    cluster.append(300).expect("append");
    std::thread::sleep(Duration::from_millis(100));
    let a_pid = cluster.synctool_proc().expect("A runs").pid();
    e2e::process::signal(a_pid, e2e::process::Signal::Stop).expect("SIGSTOP A");

    let progress = cluster.dir().join("synctool-b/progress");
    copy_progress(&cluster.synctool_conf.progress_path, &progress);
    let (mut b_proc, b_conf) = cluster
        .start_another_synctool("synctool-b")
        .expect("start B");
    let b = b_conf.endpoint();
    cluster.append(500).expect("append");
    let total = cluster.source_total().expect("source");
    let wait_b = |what: &str, total: u64| {
        e2e::wait::wait_until(what, TIMEOUT, || {
            let rows = committed_at(&b, tid)?;
            Ok(if rows >= total {
                e2e::wait::Check::Done(rows)
            } else {
                e2e::wait::Check::NotYet(format!("B committed {rows} of {total}"))
            })
        })
    };
    wait_b("B commits every row", total).expect("B took over");

    // A wakes: whatever it still holds is refused by the epoch check.
    e2e::process::signal(a_pid, e2e::process::Signal::Cont).expect("SIGCONT A");
    cluster.append(400).expect("append");
    let total = cluster.source_total().expect("source");
    e2e::wait::wait_until("A to see both parts owned elsewhere", TIMEOUT, || {
        let status = e2e::status::synctool_status(&a)?;
        let lost = status.table(tid).map_or(0, |t| {
            t.parts
                .iter()
                .filter(|p| {
                    p.error
                        .as_ref()
                        .is_some_and(|e| e.kind == "owned_elsewhere")
                })
                .count()
        });
        Ok(if lost == 2 {
            e2e::wait::Check::Done(())
        } else {
            e2e::wait::Check::NotYet(format!("{lost} part(s) lost: {}", status.brief(tid)))
        })
    })
    .expect("A drops the parts");
    // Any SyncTool shows who owns the parts now.
    let out = cluster.helper(&["workers", "-s", &a]).expect("workers");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("{b} ")) && l.ends_with(", 2 partition task(s)")),
        "{text}"
    );
    wait_b("B commits the rows appended after A woke", total).expect("B goes on");
    std::thread::sleep(Duration::from_millis(500));
    cluster
        .verify_local(&dest, |_| true, true)
        .expect("every row exactly once");
    b_proc
        .stop(e2e::process::Signal::Int, Duration::from_secs(15))
        .expect("stop B");
}
