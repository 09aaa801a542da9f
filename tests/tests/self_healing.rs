//! Self-healing from the faults of `FAULTS.md` §1–§3, with real processes
//! (tablet emulator, data_collector, synctool, synctool_helper) and the
//! output compared row by row with the generator's rows:
//!
//! * the host's only collector frozen (SIGSTOP) for three `sync_task.timeout`
//!   while rows keep arriving: a transient error in the status, never FAILED,
//!   every row exactly once after SIGCONT;
//! * the collector killed, then the tablet makes a snapshot and deletes the
//!   binlog files the collector had linked but whose rows were not committed:
//!   the restarted collector reads them through its hard links;
//! * bad destinations refused at create, with a message naming the problem,
//!   nothing created and nothing written;
//! * a reader globbing `dest/**/*.parquet` (then `*.csv`) during a live sync
//!   only ever matches committed files, whole;
//! * the local destination unwritable (`chattr +i`) for about a minute: a
//!   `sink_unavailable` transient error with its since-time while it lasts,
//!   never FAILED, then every row exactly once;
//! * a mode-2 task deleted mid-sync and created again to the same destination
//!   resumes the committed output: every row exactly once.
//!
//! A status recorder polls SyncTool's status page for the whole of each test,
//! so a part that was FAILED even for one poll fails the test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use e2e::config::CollectorConf;
use e2e::faults::{Appender, ImmutableDirs, Paused, StatusRecorder, glob_data_files};
use e2e::output::{CsvSpec, decode_csv, decode_parquet, parse_part_name};
use e2e::wait::Check;
use e2e::{Cluster, Format};
use sync_core::row::Column;
use tablet_emu::state::TableState;

const TIMEOUT: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(100);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// Packs of about ten rows, one in flight: the collector streams slowly
/// enough that a test can act in the middle of a sync of a few thousand rows.
fn slow_collector(c: &mut CollectorConf) {
    c.max_pack_size = 1024;
    c.extra
        .push(("socket_max_unwritten_bytes".into(), "1024".into()));
}

/// No poll of the whole test showed a FAILED part.
fn assert_never_failed(recorder: &StatusRecorder) {
    let failures = recorder.failures();
    assert!(
        failures.is_empty(),
        "a part was FAILED for a transient cause: {failures:#?}"
    );
    assert!(recorder.polls() > 10, "the status was hardly ever read");
}

/// Waits until no part shows an error any more (the cause is healed).
fn wait_no_error(cluster: &mut Cluster) {
    let tid = cluster.table().tid;
    cluster
        .watch("the errors to clear", TIMEOUT, POLL, |s| {
            let t = s.table(tid).expect("the task stays");
            Ok(if t.parts.iter().all(|p| p.error.is_none()) {
                Check::Done(())
            } else {
                Check::NotYet(s.brief(tid))
            })
        })
        .expect("the status clears the error once healed");
}

// ------------------------------------------------------------- 1: SIGSTOP

#[test]
fn only_collector_paused_past_the_timeout() {
    const TIMEOUT_MS: u64 = 3000;
    let mut cluster = Cluster::builder()
        .partitions(2)
        .rows_per_partition(3000)
        .snapshot_after(2000)
        .binlog_max_bytes(64 * 1024)
        .synctool(|c| {
            c.timeout_ms = TIMEOUT_MS;
            c.request_timeout_s = 2;
            c.roll_max_rows = 1000;
            c.roll_max_age_ms = 500;
        })
        .build()
        .expect("cluster");
    let tid = cluster.table().tid;
    let dest = cluster.local_dest("paused");
    let recorder = StatusRecorder::start(&cluster.synctool_endpoint(), POLL);
    cluster.create_task(2, None, &dest).expect("create task");
    cluster
        .wait_committed(6000, TIMEOUT)
        .expect("the initial rows");

    let appender = Appender::start(cluster.tablet_root(), tid, 20, Duration::from_millis(250));
    std::thread::sleep(Duration::from_secs(1));
    let pid = cluster.collector_proc().expect("collector running").pid();
    let paused_ms = now_ms();
    let mut paused = Paused::new(pid).expect("SIGSTOP the collector");
    std::thread::sleep(Duration::from_millis(3 * TIMEOUT_MS));
    // While frozen: the parts wait with a transient error, none is FAILED.
    let status = cluster.synctool_status().expect("status");
    assert!(
        status.table(tid).is_some_and(|t| t.failed.is_empty()),
        "{}",
        status.brief(tid)
    );
    paused.resume().expect("SIGCONT the collector");
    let resumed_ms = now_ms();
    std::thread::sleep(Duration::from_secs(2));
    let rounds = appender.stop().expect("appends");
    assert!(rounds > 20, "only {rounds} rounds of appends");

    let rows = cluster
        .wait_all_committed(TIMEOUT)
        .expect("every row committed after SIGCONT");
    cluster
        .verify_local(&dest, |_| true, false)
        .expect("every row exactly once");
    wait_no_error(&mut cluster);
    assert_never_failed(&recorder);
    let errors = recorder.errors();
    let during: Vec<_> = errors
        .iter()
        .filter(|e| {
            e.error.class == "transient"
                && e.error.since_ms + 500 >= paused_ms
                && e.error.since_ms <= resumed_ms + 500
        })
        .collect();
    assert!(
        !during.is_empty(),
        "no transient error was shown while the collector was stopped \
         ({paused_ms}..{resumed_ms}); errors seen: {errors:#?}"
    );
    for e in &during {
        assert!(
            [
                "collector_silent",
                "collector_unreachable",
                "no_collector",
                "read_unavailable"
            ]
            .contains(&e.error.kind.as_str()),
            "unexpected error kind while the collector was stopped: {e:#?}"
        );
    }
    eprintln!(
        "paused {}: {rows} rows exactly once; errors while paused: {:?}",
        secs(Duration::from_millis(resumed_ms - paused_ms)),
        during
            .iter()
            .map(|e| format!("{}:{} x{}", e.pid, e.error.kind, e.error.attempts))
            .collect::<Vec<_>>()
    );
}

// --------------------------------------------------- 2: SIGKILL, then GC

fn binlog_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".log"))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

#[test]
fn collector_killed_then_its_linked_binlogs_are_gced() {
    let mut cluster = Cluster::builder()
        .partitions(2)
        .rows_per_partition(15_000)
        .binlog_max_bytes(64 * 1024)
        .synctool(|c| {
            c.timeout_ms = 3000;
            c.request_timeout_s = 2;
            c.roll_max_rows = 1000;
            c.roll_max_age_ms = 500;
        })
        .collector(slow_collector)
        .build()
        .expect("cluster");
    let tid = cluster.table().tid;
    let total = cluster.source_total().expect("rows");
    let dest = cluster.local_dest("gc");
    let recorder = StatusRecorder::start(&cluster.synctool_endpoint(), POLL);
    cluster.create_task(2, None, &dest).expect("create task");
    cluster
        .wait_committed(total / 5, TIMEOUT)
        .expect("some rows committed");
    cluster.kill_collector().expect("kill -9 data_collector");
    let status = cluster.synctool_status().expect("status");
    let committed: BTreeMap<u32, u64> = status
        .table(tid)
        .expect("task")
        .parts
        .iter()
        .map(|p| (p.pid, p.rows))
        .collect();
    eprintln!("killed data_collector at {}", status.brief(tid));
    let workdir = |pid: u32| {
        cluster
            .collector_conf
            .datadir
            .join(format!("{tid}-{pid}"))
            .join("binlog")
    };
    let tablet_binlog =
        |pid: u32| tablet_emu::partition_dir(cluster.tablet_root(), tid, pid).join("binlog");

    // The tablet snapshots everything and deletes the binlog files it covers.
    let mut emu = tablet_emu::TableEmulator::open(cluster.tablet_root(), tid).expect("open table");
    emu.snapshot_all(None).expect("snapshot");
    let deleted = emu.gc_binlog_all().expect("binlog gc");
    drop(emu);
    assert!(deleted > 0, "the GC deleted no binlog file");
    let state = TableState::load(cluster.tablet_root(), tid).expect("table state");
    let mut needs_gone_data = false;
    for (pid, part) in state.partitions.iter().enumerate() {
        let pid = pid as u32;
        let first_kept = part.files.first().map_or(0, |f| f.1);
        // Rows 1..=N are log indexes 1..=N (nothing deleted): the rows after
        // the committed ones start in a file the tablet no longer has.
        if committed[&pid] + 1 < first_kept {
            needs_gone_data = true;
            let linked = binlog_names(&workdir(pid));
            let on_tablet = binlog_names(&tablet_binlog(pid));
            let kept: Vec<&String> = linked.iter().filter(|n| !on_tablet.contains(n)).collect();
            assert!(
                !kept.is_empty(),
                "pid {pid}: the collector's work dir holds no link of a deleted binlog file \
                 (linked {linked:?}, tablet {on_tablet:?})"
            );
            eprintln!(
                "pid {pid}: {} rows committed, the tablet keeps log {first_kept}..; \
                 {} deleted files only in the work dir",
                committed[&pid],
                kept.len()
            );
        }
    }
    assert!(
        needs_gone_data,
        "the sync was too far ({committed:?}) for the GC to delete unread data"
    );

    cluster.append(2000).expect("append after the GC");
    // SyncTool notices: every part waits for a collector (it will be given
    // again with a new token, from its committed point).
    cluster
        .watch(
            "SyncTool to notice the dead collector",
            TIMEOUT,
            POLL,
            |s| {
                let t = s.table(tid).expect("task");
                Ok(
                    if t.parts.iter().all(|p| {
                        p.error.as_ref().is_some_and(|e| {
                            e.class == "transient" && e.kind.starts_with("collector")
                        })
                    }) {
                        Check::Done(())
                    } else {
                        Check::NotYet(s.brief(tid))
                    },
                )
            },
        )
        .expect("a transient collector error on every part");
    cluster.start_collector().expect("restart data_collector");
    let rows = cluster
        .wait_all_committed(TIMEOUT)
        .expect("every row committed after the restart");
    cluster
        .verify_local(&dest, |_| true, false)
        .expect("every row exactly once");
    assert_never_failed(&recorder);
    eprintln!("{rows} rows exactly once after the GC of linked files");
}

// ------------------------------------------------ 3: refused destinations

fn helper_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|e| {
            e.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn bad_destinations_are_refused_at_create() {
    let mut cluster = Cluster::builder()
        .rows_per_partition(10)
        .without_collector()
        .synctool(|c| {
            let dir = c.progress_path.parent().expect("cluster dir").to_path_buf();
            c.allowed_dest_roots = vec![
                format!("file://{}", dir.join("offline").display()),
                "hdfs://127.0.0.1:1/".into(),
            ];
        })
        .build()
        .expect("cluster");
    let root = cluster.dir().join("offline");
    let outside = cluster.dir().join("outside");
    std::fs::create_dir_all(&outside).expect("outside dir");
    let plain = root.join("plain-file");
    std::fs::write(&plain, b"not a directory\n").expect("regular file");
    let link = root.join("escape");
    std::os::unix::fs::symlink(&outside, &link).expect("symlink");
    let relative = e2e::services::unique("relative-dest");
    let cwd = std::env::current_dir().expect("cwd");

    let server = cluster.synctool_endpoint();
    let table = cluster.table_name();
    let under_file = format!("file://{}/sub", plain.display());
    let via_link = format!("file://{}/t1", link.display());
    let relative_dest = format!("{relative}/t1");
    let cases: [(&str, &str, &[&str]); 5] = [
        ("ftp://host/x", "a bad scheme", &["ftp"]),
        (
            "hdfs://127.0.0.1:1/x",
            "an unreachable NameNode",
            &["cannot be written", "127.0.0.1:1"],
        ),
        (&relative_dest, "a relative path", &["absolute"]),
        (
            &under_file,
            "a path under a regular file",
            &["plain-file/sub", "Not a directory"],
        ),
        (
            &via_link,
            "a symlink out of the allowed root",
            &["outside the allowed roots", "resolves to", "outside"],
        ),
    ];
    for (dest, what, wants) in cases {
        let start = Instant::now();
        let out = cluster
            .helper(&["create", "-t", &table, "-m", "0", "-d", dest, "-s", &server])
            .expect("run synctool_helper");
        let text = helper_text(&out);
        eprintln!(
            "{what}: `{dest}` refused in {}: {}",
            secs(start.elapsed()),
            text.trim()
        );
        assert!(
            !out.status.success(),
            "{what}: `{dest}` was accepted: {text}"
        );
        for want in wants {
            assert!(
                text.contains(want),
                "{what}: `{dest}`: expected `{want}` in the message: {text}"
            );
        }
        assert!(!text.contains("panicked"), "{text}");
        let status = cluster.synctool_status().expect("status");
        assert!(
            status.tables.is_empty(),
            "{what}: a task was created: {status:?}"
        );
    }
    // Nothing was created or written, inside the root or out of it.
    assert_eq!(entries(&root), vec!["escape", "plain-file"]);
    assert!(entries(&outside).is_empty(), "{:?}", entries(&outside));
    assert_eq!(
        std::fs::read(&plain).expect("read the file"),
        b"not a directory\n"
    );
    assert!(!cwd.join(&relative).exists());
    assert!(!cluster.dir().join(&relative).exists());
    cluster.ensure_running().expect("SyncTool survived");
}

// ------------------------------------------------- 4: staged data unseen

struct GlobReport {
    polls: u64,
    matches: u64,
    /// Every file a glob matched, with its bytes when first read.
    seen: BTreeMap<String, Vec<u8>>,
}

/// Globs `dest/**/*.<ext>` until `stop`; every match must be a committed
/// segment at the top level that reads back whole.
fn glob_until(
    dir: &Path,
    format: Format,
    columns: &[Column],
    csv: &CsvSpec,
    stop: &AtomicBool,
) -> anyhow::Result<GlobReport> {
    let mut report = GlobReport {
        polls: 0,
        matches: 0,
        seen: BTreeMap::new(),
    };
    while !stop.load(Ordering::Relaxed) {
        for path in glob_data_files(dir, format.as_str())? {
            report.matches += 1;
            anyhow::ensure!(
                !path.contains('/') && parse_part_name(&path, format.as_str()).is_some(),
                "the glob matched `{path}`, which is not a committed segment"
            );
            if report.seen.contains_key(&path) {
                continue;
            }
            let bytes = std::fs::read(dir.join(&path))
                .map_err(|e| anyhow::anyhow!("`{path}` matched but cannot be read: {e}"))?;
            let rows = match format {
                Format::Parquet => decode_parquet(bytes.clone(), columns),
                Format::Csv => {
                    anyhow::ensure!(
                        bytes.last() == Some(&b'\n'),
                        "`{path}` does not end with a whole record"
                    );
                    decode_csv(&bytes, columns, csv)
                }
            }
            .map_err(|e| anyhow::anyhow!("`{path}` matched but does not read back: {e:#}"))?;
            anyhow::ensure!(!rows.is_empty(), "`{path}` matched but holds no row");
            report.seen.insert(path, bytes);
        }
        report.polls += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(report)
}

fn reader_sees_only_committed_files(format: Format) {
    let mut cluster = Cluster::builder()
        .partitions(2)
        .rows_per_partition(2000)
        .snapshot_after(1000)
        .binlog_max_bytes(64 * 1024)
        .synctool(move |c| {
            c.format = format;
            c.roll_max_rows = 300;
            c.roll_max_age_ms = 200;
        })
        .build()
        .expect("cluster");
    let tid = cluster.table().tid;
    let name = format!("glob-{format}");
    let dest = cluster.local_dest(&name);
    let dir = cluster.local_dest_dir(&name);
    let columns = cluster.columns().expect("columns");
    let csv = cluster.synctool_conf.csv.clone();
    let recorder = StatusRecorder::start(&cluster.synctool_endpoint(), POLL);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (dir, stop) = (dir.clone(), stop.clone());
        std::thread::spawn(move || glob_until(&dir, format, &columns, &csv, &stop))
    };
    let appender = Appender::start(cluster.tablet_root(), tid, 30, Duration::from_millis(100));
    cluster.create_task(2, None, &dest).expect("create task");
    std::thread::sleep(Duration::from_secs(8));
    appender.stop().expect("appends");
    let rows = cluster
        .wait_all_committed(TIMEOUT)
        .expect("every row committed");
    stop.store(true, Ordering::Relaxed);
    let report = reader
        .join()
        .expect("the reader thread")
        .expect("a reader only ever sees whole committed files");
    // Committed files never change: each still has the bytes first read.
    for (path, bytes) in &report.seen {
        let now = std::fs::read(dir.join(path)).expect("a committed file stays");
        assert!(&now == bytes, "{path} changed after it was first seen");
    }
    let output = cluster
        .verify_local(&dest, |_| true, false)
        .expect("every row exactly once");
    assert_never_failed(&recorder);
    assert!(report.polls > 100, "only {} globs", report.polls);
    assert!(
        report.seen.len() > 10 && report.seen.len() <= output.files.len(),
        "{} files seen while the sync ran, {} at the end",
        report.seen.len(),
        output.files.len()
    );
    eprintln!(
        "{format}: {} globs, {} matches, {} distinct committed files seen, {rows} rows",
        report.polls,
        report.matches,
        report.seen.len()
    );
}

#[test]
fn reader_never_sees_staged_parquet() {
    reader_sees_only_committed_files(Format::Parquet);
}

#[test]
fn reader_never_sees_staged_csv() {
    reader_sees_only_committed_files(Format::Csv);
}

// ----------------------------------------------------- 5: sink outage

#[test]
fn sink_outage_of_a_minute() {
    const OUTAGE: Duration = Duration::from_secs(58);
    let mut cluster = Cluster::builder()
        .partitions(2)
        .rows_per_partition(2000)
        .snapshot_after(1000)
        .synctool(|c| {
            c.roll_max_rows = 500;
            c.roll_max_age_ms = 500;
        })
        .build()
        .expect("cluster");
    let tid = cluster.table().tid;
    let dest = cluster.local_dest("outage");
    let dir: PathBuf = cluster.local_dest_dir("outage");
    let recorder = StatusRecorder::start(&cluster.synctool_endpoint(), POLL);
    cluster.create_task(2, None, &dest).expect("create task");
    cluster
        .wait_committed(4000, TIMEOUT)
        .expect("the initial rows");
    let appender = Appender::start(cluster.tablet_root(), tid, 20, Duration::from_millis(500));
    std::thread::sleep(Duration::from_secs(2));

    let outage_ms = now_ms();
    let started = Instant::now();
    let mut immutable = ImmutableDirs::new(&dir).expect("chattr +i the destination");
    immutable
        .verify()
        .expect("the destination really refuses new files");
    assert!(
        immutable.dirs().iter().any(|d| d.ends_with("_staging"))
            && immutable.dirs().iter().any(|d| d.ends_with("_sync")),
        "{:?}",
        immutable.dirs()
    );
    let server = cluster.synctool_endpoint();
    let mut helper_line = None;
    let since = cluster
        .watch("a sink_unavailable error", TIMEOUT, POLL, |s| {
            let t = s.table(tid).expect("task");
            anyhow::ensure!(t.failed.is_empty(), "FAILED: {}", s.brief(tid));
            Ok(
                match t.parts.iter().find_map(|p| {
                    p.error
                        .as_ref()
                        .filter(|e| e.kind == "sink_unavailable")
                        .map(|e| (p.pid, e.clone()))
                }) {
                    Some(found) => Check::Done(found),
                    None => Check::NotYet(s.brief(tid)),
                },
            )
        })
        .expect("the outage shows in the status");
    assert_eq!(since.1.class, "transient", "{since:?}");
    assert!(
        since.1.since_ms + 1000 >= outage_ms,
        "since {} but the outage began at {outage_ms}",
        since.1.since_ms
    );
    while started.elapsed() < OUTAGE {
        if helper_line.is_none() && started.elapsed() > Duration::from_secs(30) {
            let out = cluster
                .helper(&["status", "-s", &server])
                .expect("helper status");
            helper_line = Some(helper_text(&out));
        }
        cluster.ensure_running().expect("the daemons live");
        std::thread::sleep(Duration::from_millis(500));
    }
    immutable.restore().expect("chattr -i the destination");
    let restored = started.elapsed();
    let restored_ms = now_ms();

    std::thread::sleep(Duration::from_secs(1));
    appender.stop().expect("appends");
    let rows = cluster
        .wait_all_committed(TIMEOUT)
        .expect("every row committed after the outage");
    let healed = started.elapsed();
    cluster
        .verify_local(&dest, |_| true, false)
        .expect("every row exactly once");
    wait_no_error(&mut cluster);
    assert_never_failed(&recorder);

    let helper_line = helper_line.expect("helper status ran");
    assert!(
        helper_line.contains("error=[sink_unavailable transient]"),
        "{helper_line}"
    );
    // The error was shown the whole time, with the same since-time.
    let errors = recorder.errors();
    let long = errors.iter().find(|e| {
        e.error.kind == "sink_unavailable"
            && e.error.class == "transient"
            && e.error.since_ms + 1000 >= outage_ms
            && e.last_now_ms + 10_000 >= restored_ms
            && e.last_now_ms.saturating_sub(e.first_now_ms) >= 40_000
    });
    assert!(
        long.is_some(),
        "no sink_unavailable error lasting the outage ({outage_ms}..{restored_ms}): {errors:#?}"
    );
    eprintln!(
        "outage {}, healed {} after it began: {rows} rows exactly once; {:?}",
        secs(restored),
        secs(healed),
        long
    );
}

// ------------------------------------------------ 6: delete, create again

#[test]
fn delete_then_create_again_resumes() {
    let mut cluster = Cluster::builder()
        .partitions(2)
        .rows_per_partition(8000)
        .snapshot_after(3000)
        .binlog_max_bytes(64 * 1024)
        .synctool(|c| {
            c.roll_max_rows = 1000;
            c.roll_max_age_ms = 500;
        })
        .collector(slow_collector)
        .build()
        .expect("cluster");
    let tid = cluster.table().tid;
    let total = cluster.source_total().expect("rows");
    let dest = cluster.local_dest("again");
    let recorder = StatusRecorder::start(&cluster.synctool_endpoint(), POLL);
    let reply = cluster
        .create_task_reply(2, None, &dest)
        .expect("create task");
    assert!(!reply.contains("resumed"), "{reply}");
    let appender = Appender::start(cluster.tablet_root(), tid, 20, Duration::from_millis(300));
    let at = cluster
        .wait_committed(total / 5, TIMEOUT)
        .expect("some rows committed");
    cluster.delete_task().expect("delete");
    let status = cluster.synctool_status().expect("status");
    assert!(status.tables.is_empty(), "{status:?}");
    let before = cluster
        .read_local(&dest, e2e::RowSet::new())
        .expect("read the output");
    assert!(
        before.rows.len() >= at && before.rows.len() < cluster.source_total().expect("rows"),
        "deleted at {at} committed rows; the output holds {}",
        before.rows.len()
    );
    std::thread::sleep(Duration::from_millis(500));

    let reply = cluster
        .create_task_reply(2, None, &dest)
        .expect("create again");
    assert!(
        reply.contains("resumed from the committed output"),
        "the create did not resume: {reply}"
    );
    let status = cluster.synctool_status().expect("status");
    let t = status.table(tid).expect("task");
    assert!(t.origin.starts_with("resumed"), "origin {}", t.origin);
    std::thread::sleep(Duration::from_secs(1));
    appender.stop().expect("appends");
    let rows = cluster
        .wait_all_committed(TIMEOUT)
        .expect("every row committed after the new create");
    let output = cluster
        .verify_local(&dest, |_| true, false)
        .expect("every row exactly once");
    let tasks: std::collections::BTreeSet<u64> = output.files.iter().map(|f| f.task_id).collect();
    assert_eq!(tasks.len(), 1, "the output of one task: {tasks:?}");
    assert_never_failed(&recorder);
    eprintln!(
        "deleted at {at} rows ({} in the output), created again: `{}`; {rows} rows exactly once",
        before.rows.len(),
        reply.trim()
    );
}
