//! `quickstart`: the whole sync on one machine, in a few seconds.
//!
//! Generates a demo disk table with the tablet emulator (a snapshot part-way,
//! more rows only in the binlog, several binlog files), serves it, then for
//! each output format starts one DataCollector and one SyncTool in standalone
//! mode (no ZooKeeper, no HDFS), creates a mode-0 (full) sync task to a local
//! directory with `synctool_helper`, shows progress from the status pages,
//! reads the committed files back and checks that they hold exactly the
//! source rows. `scripts/quickstart.sh` builds the release binaries and runs
//! this.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Parser;
use e2e::cluster::PartitionSource;
use e2e::output::Output;
use e2e::wait::Check;
use e2e::{Cluster, Format, RowSet};

/// The marker that makes an --out directory ours to wipe.
const MARKER: &str = ".openmldb-sync-quickstart";

#[derive(Parser)]
#[command(
    name = "quickstart",
    about = "Demo: a generated OpenMLDB disk table → DataCollector → SyncTool → local Parquet and CSV files, verified"
)]
struct Cli {
    /// Working and output directory (wiped first if an earlier quickstart made it).
    #[arg(long, default_value = "/tmp/openmldb-sync-quickstart")]
    out: PathBuf,
    /// Partitions of the demo table.
    #[arg(long, default_value_t = 4)]
    partitions: u32,
    /// Rows in the whole table.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Share of each partition's rows in the snapshot (the rest only in the binlog).
    #[arg(long, default_value_t = 0.6)]
    snapshot_fraction: f64,
    /// A binlog file is closed past this many bytes.
    #[arg(long, default_value_t = 4 << 20)]
    binlog_max_bytes: u64,
    /// Output formats, synced one after the other.
    #[arg(long, value_delimiter = ',', default_value = "parquet,csv")]
    formats: Vec<Format>,
    /// Seconds a sync may take before the quickstart gives up.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

/// What one format's sync did.
struct Run {
    format: Format,
    dest: String,
    seconds: f64,
    output: Output,
    verified: Result<(), String>,
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn print_source(parts: &[PartitionSource]) {
    println!("\nsource table demo_db.t1:");
    println!(
        "  {:>4}  {:>10}  {:>14}  {:>12}  {:>12}",
        "pid", "rows", "in snapshot", "binlog files", "binlog size"
    );
    for p in parts {
        println!(
            "  {:>4}  {:>10}  {:>14}  {:>12}  {:>12}",
            p.pid,
            thousands(p.rows),
            thousands(p.snapshot_rows),
            p.binlog_files,
            megabytes(p.binlog_bytes)
        );
    }
}

/// Runs one format's sync with a fresh collector and SyncTool.
fn sync_one(
    cluster: &mut Cluster,
    format: Format,
    expected: &RowSet,
    timeout: Duration,
) -> anyhow::Result<Run> {
    let dir = cluster.dir().to_path_buf();
    cluster.synctool_conf.format = format;
    cluster.synctool_conf.progress_path = dir.join(format!("progress/{format}"));
    cluster.collector_conf.datadir = dir.join(format!("collector/{format}"));
    println!("\n== {format}: starting data_collector and synctool (standalone) ==");
    cluster.start_collector()?;
    cluster.start_synctool()?;
    println!(
        "  data_collector {}  (status: http://{}/status)",
        cluster.collector_endpoint(),
        cluster.collector_endpoint()
    );
    println!(
        "  synctool       {}  (status: http://{}/status)",
        cluster.synctool_endpoint(),
        cluster.synctool_endpoint()
    );
    let dest = cluster.local_dest(format.as_str());
    let total = expected.len();
    println!(
        "  synctool_helper create -t {} -m 0 -d {dest} -s {}",
        cluster.table_name(),
        cluster.synctool_endpoint()
    );
    let start = Instant::now();
    cluster.create_task(0, None, &dest)?;
    let tid = cluster.table().tid;
    let tty = std::io::stderr().is_terminal();
    let mut last_print = Instant::now() - Duration::from_secs(10);
    let mut last_rows = 0u64;
    let collector_ep = cluster.collector_endpoint().to_string();
    let progress = |rows: u64, sent: Option<u64>, note: &str| {
        let secs = start.elapsed().as_secs_f64().max(0.001);
        let pct = if total > 0 {
            rows as f64 * 100.0 / total as f64
        } else {
            100.0
        };
        let sent = sent.map_or(String::new(), |s| format!(", {} sent", thousands(s)));
        format!(
            "  {format}: {} / {} rows committed ({pct:.0}%), {} rows/s{sent}, {:.1}s {note}",
            thousands(rows),
            thousands(total),
            thousands((rows as f64 / secs) as u64),
            secs
        )
    };
    cluster.watch(
        "the sync to finish",
        timeout,
        Duration::from_millis(250),
        |s| {
            let Some(t) = s.table(tid) else {
                return Ok(Check::Done(()));
            };
            if !t.failed.is_empty() {
                bail!("the sync FAILED: {}", s.brief(tid));
            }
            last_rows = last_rows.max(t.rows);
            if tty || last_print.elapsed() >= Duration::from_secs(2) {
                let sent = e2e::status::collector_status(&collector_ep)
                    .ok()
                    .map(|c| c.rows_sent());
                let states: Vec<String> = t
                    .parts
                    .iter()
                    .map(|p| format!("{}:{}", p.pid, p.status))
                    .collect();
                let line = progress(t.rows, sent, &format!("[{}]", states.join(" ")));
                if tty {
                    eprint!("\r{line}\x1b[K");
                } else {
                    eprintln!("{line}");
                }
                let _ = std::io::stderr().flush();
                last_print = Instant::now();
            }
            Ok(Check::NotYet(s.brief(tid)))
        },
    )?;
    let seconds = start.elapsed().as_secs_f64();
    if tty {
        eprintln!();
    }
    println!(
        "  {format}: task finished (SUCCESS; a finished mode-0 task leaves the status page) in {seconds:.1}s"
    );
    cluster.stop_synctool()?;
    cluster.stop_collector()?;
    println!("  reading {dest} back …");
    let output = cluster.read_local(&dest, RowSet::counting())?;
    let diff = expected.diff(&output.rows);
    let mut verified = if diff.is_empty() {
        Ok(())
    } else {
        Err(diff.to_string())
    };
    if verified.is_ok() && !output.stray.is_empty() {
        verified = Err(format!("stray visible files: {:?}", output.stray));
    }
    if verified.is_ok() && !output.leftovers().is_empty() {
        verified = Err(format!("staged leftovers: {:?}", output.leftovers()));
    }
    Ok(Run {
        format,
        dest,
        seconds,
        output,
        verified,
    })
}

fn run(cli: Cli) -> anyhow::Result<bool> {
    if cli.partitions == 0 || cli.rows < u64::from(cli.partitions) {
        bail!("need at least one row per partition");
    }
    if !(0.0..=1.0).contains(&cli.snapshot_fraction) {
        bail!("--snapshot-fraction must be between 0 and 1");
    }
    if cli.formats.is_empty() {
        bail!("give at least one format");
    }
    e2e::workdir::prepare(&cli.out, MARKER, "quickstart")?;
    let per_partition = cli.rows / u64::from(cli.partitions);
    let snapshot_after = (per_partition as f64 * cli.snapshot_fraction) as u64;
    println!("== OpenMLDB online → offline sync quickstart ==");
    println!("working directory {}", cli.out.display());
    let started = Instant::now();
    let mut cluster = Cluster::builder()
        .dir(&cli.out)
        .partitions(cli.partitions)
        .rows_per_partition(per_partition)
        .snapshot_after(snapshot_after)
        .gc_binlog()
        .binlog_max_bytes(cli.binlog_max_bytes)
        .without_collector()
        .without_synctool()
        .verbose()
        .synctool(|c| {
            c.check_period_s = 1;
            c.timeout_ms = 10_000;
            c.roll_max_rows = 100_000;
            c.roll_max_age_ms = 5_000;
        })
        .collector(|c| {
            c.max_pack_size = 1 << 20;
            c.short_interval_ms = 0;
            c.long_interval_ms = 200;
        })
        .build()?;
    let parts = cluster.source_summary()?;
    print_source(&parts);
    println!(
        "  served by tablet_emulator on {} from {}",
        cluster.tablet_endpoint(),
        cluster.tablet_root().display()
    );
    let expected = cluster.source_rows(|_| true, RowSet::counting())?;

    let mut runs = Vec::new();
    for &format in &cli.formats {
        runs.push(sync_one(
            &mut cluster,
            format,
            &expected,
            Duration::from_secs(cli.timeout),
        )?);
    }

    let total = expected.len();
    println!("\n== summary ==");
    println!(
        "source: {} rows in {} partitions ({} in snapshots, {} only in the binlog; {} binlog files)",
        thousands(total),
        parts.len(),
        thousands(parts.iter().map(|p| p.snapshot_rows).sum()),
        thousands(total - parts.iter().map(|p| p.snapshot_rows).sum::<u64>()),
        parts.iter().map(|p| p.binlog_files).sum::<usize>()
    );
    println!(
        "  {:<8} {:<8} {:>11} {:>6} {:>10} {:>8} {:>10}  verified",
        "format", "status", "rows", "files", "size", "time", "rows/s"
    );
    let mut all_ok = true;
    for r in &runs {
        println!(
            "  {:<8} {:<8} {:>11} {:>6} {:>10} {:>7.1}s {:>10}  {}",
            r.format.as_str(),
            "SUCCESS",
            thousands(r.output.rows.len()),
            r.output.files.len(),
            megabytes(r.output.bytes()),
            r.seconds,
            thousands((r.output.rows.len() as f64 / r.seconds.max(0.001)) as u64),
            match &r.verified {
                Ok(()) => "yes: exactly the source rows".to_string(),
                Err(_) => "NO".to_string(),
            }
        );
        all_ok &= r.verified.is_ok();
    }
    print!("  rows per partition: {:>4} {:>10}", "pid", "source");
    for r in &runs {
        print!(" {:>10}", r.format.as_str());
    }
    println!();
    for p in &parts {
        print!(
            "                      {:>4} {:>10}",
            p.pid,
            thousands(p.rows)
        );
        for r in &runs {
            let n = r
                .output
                .rows_per_partition()
                .iter()
                .find(|(pid, _)| *pid == p.pid)
                .map_or(0, |(_, n)| *n);
            print!(" {:>10}", thousands(n));
        }
        println!();
    }
    for r in &runs {
        println!("  {} files: {}", r.format, r.dest);
        for f in r.output.files.iter().take(3) {
            println!(
                "    {} ({} rows, {})",
                f.path,
                thousands(f.rows),
                megabytes(f.bytes)
            );
        }
        if r.output.files.len() > 3 {
            println!("    … {} more", r.output.files.len() - 3);
        }
        if let Err(e) = &r.verified {
            println!("  {} verification FAILED: {e}", r.format);
        }
    }
    println!(
        "  logs: {}/logs; total time {:.1}s",
        cluster.dir().display(),
        started.elapsed().as_secs_f64()
    );
    drop(cluster);
    println!(
        "{}",
        if all_ok {
            "OK: every output holds exactly the source rows; all processes stopped"
        } else {
            "FAILED: see above; all processes stopped"
        }
    );
    Ok(all_ok)
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("\nquickstart failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
