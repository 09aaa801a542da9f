//! `bench`: the full-sync benchmark, each figure next to baselines measured
//! in the same run on the same machine (`scripts/bench.sh` builds the
//! release binaries, installs DuckDB's Python package in a cached venv and
//! runs this).
//!
//! Generates a disk table with the tablet emulator (by default 8 partitions,
//! 3,200,000 rows, about 1 GB of snapshot + binlog; `--quick`: 400,000 rows),
//! then per output format starts one DataCollector and one SyncTool
//! (standalone), syncs it in mode 0 to the local filesystem and takes:
//!
//! * the wall time from SyncTool's own timestamps (the finished task's
//!   `created_ms` → `ended_ms` in its history), rows/s and source MB/s;
//! * the peak RSS of both daemons (`VmHWM` in `/proc/<pid>/status`);
//! * the output checked against the source rows (exactly once).
//!
//! Baselines, same run: `cp -r` of the source files, and DuckDB converting
//! the same rows (CSV → Parquet from our CSV output, Parquet → CSV from our
//! Parquet output) with as many threads as this machine has cores. Then the
//! continuous latency ([`latency`]): mode 2 with a steady put rate, p50 /
//! p99 / max from a put to its commit, per roll age; the memory curve
//! ([`memory`]): peak RSS for tables of other sizes and partition counts;
//! then recovery and scale ([`parts`]). Both daemons run with
//! the product's defaults. Prints a table and writes `bench.json` in `--out`.

mod hdfs;
mod latency;
mod memory;
mod parts;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use e2e::{Cluster, ClusterBuilder, Format, RowSet};
use serde_json::json;

/// The marker that makes an --out directory ours to wipe.
const MARKER: &str = ".openmldb-sync-bench";

#[derive(Parser)]
#[command(
    name = "bench",
    about = "Full-sync benchmark (mode 0, local fs) with same-run baselines: cp and DuckDB"
)]
struct Cli {
    /// Working and output directory (wiped first if an earlier bench made it).
    #[arg(long, default_value = "/tmp/openmldb-sync-bench")]
    out: PathBuf,
    /// Partitions of the table.
    #[arg(long, default_value_t = 8)]
    partitions: u32,
    /// Rows in the whole table (about 300 bytes of snapshot + binlog each:
    /// every row is in the binlog, the first half also in the snapshot).
    #[arg(long, default_value_t = 3_200_000)]
    rows: u64,
    /// A CI-sized run: 400,000 rows.
    #[arg(long)]
    quick: bool,
    /// Output formats.
    #[arg(long, value_delimiter = ',', default_value = "parquet,csv")]
    formats: Vec<Format>,
    /// A Python with the `duckdb` package (scripts/bench.sh passes its venv's);
    /// without it the DuckDB baselines are left out.
    #[arg(long)]
    duckdb_python: Option<PathBuf>,
    /// Skip reading the output back (saves time on large runs).
    #[arg(long)]
    no_verify: bool,
    /// Seconds a sync may take.
    #[arg(long, default_value_t = 1800)]
    timeout: u64,
    /// Continuous latency: rows put per second (0: no latency runs).
    #[arg(long, default_value_t = 20_000)]
    latency_rate: u64,
    /// Continuous latency: seconds of puts per run (--quick: 10).
    #[arg(long, default_value_t = 30)]
    latency_seconds: u64,
    /// Continuous latency: the `sink.roll.max_age_ms` of each run
    /// (--quick: 1000 only; 60000 is the default).
    #[arg(long, value_delimiter = ',', default_value = "1000,60000")]
    latency_roll_ages: Vec<u64>,
    /// SyncTool's `sink.memory_limit` in bytes (default: the product's,
    /// 256 MiB); a very large one shows the memory without the budget.
    #[arg(long)]
    memory_limit: Option<u64>,
    /// The NameNode of an HDFS to sync to as well (`hdfs://host:port`;
    /// scripts/bench.sh starts one), next to `hdfs dfs -put` of the same files.
    #[arg(long, requires = "hadoop_classpath")]
    hdfs: Option<String>,
    /// The Java class path of Hadoop (jars and conf dir) for the
    /// `hdfs dfs -put` baseline.
    #[arg(long)]
    hadoop_classpath: Option<String>,
    /// Recovery: partition tasks of the table whose SyncTool, then
    /// collector, is SIGKILLed and restarted (--quick: 100; 0: no run).
    #[arg(long, default_value_t = 1000)]
    recovery_parts: u32,
    /// Scale: partition tasks on one SyncTool and one collector, measured
    /// idle (--quick: 1000; 0: no run).
    #[arg(long, default_value_t = 10_000)]
    scale_parts: u32,
    /// Memory: more tables synced to local Parquet for their peak RSS, as
    /// PARTITIONS:ROWS (about 300 bytes a row; --quick: an eighth of the
    /// rows).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "8:320000,64:1600000,512:1600000"
    )]
    memory_runs: Vec<memory::Shape>,
    /// No memory runs.
    #[arg(long)]
    no_memory: bool,
}

/// One measured figure.
#[derive(Debug, Clone)]
struct Figure {
    name: String,
    seconds: f64,
    rows: u64,
    source_bytes: u64,
}

impl Figure {
    fn rows_per_s(&self) -> f64 {
        self.rows as f64 / self.seconds.max(1e-9)
    }

    fn mb_per_s(&self) -> f64 {
        self.source_bytes as f64 / 1e6 / self.seconds.max(1e-9)
    }
}

/// What one format's sync measured.
struct SyncRun {
    format: Format,
    dest_dir: PathBuf,
    figure: Figure,
    files: u64,
    output_bytes: u64,
    synctool_peak_rss: u64,
    collector_peak_rss: u64,
    verified: Option<bool>,
}

impl SyncRun {
    /// What reading the output back found.
    fn verdict(&self) -> &'static str {
        match self.verified {
            Some(true) => "exactly the source rows",
            Some(false) => "DIFFERS from the source",
            None => "not verified",
        }
    }
}

/// Bytes of every file under `dir`.
fn tree_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let meta = entry
            .metadata()
            .with_context(|| format!("cannot stat {}", entry.path().display()))?;
        total += if meta.is_dir() {
            tree_bytes(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

/// `VmHWM` (peak resident set) of a process, in bytes.
fn peak_rss(pid: u32) -> anyhow::Result<u64> {
    parts::proc_memory(pid, "VmHWM:")
}

/// Both daemons with the product's defaults (conf/synctool.properties,
/// conf/data_collector.flags), and SyncTool's `sink.memory_limit` if given.
pub(crate) fn product_defaults(
    builder: ClusterBuilder,
    memory_limit: Option<u64>,
) -> ClusterBuilder {
    builder
        .synctool(move |c| {
            c.check_period_s = 10;
            c.timeout_ms = 20_000;
            c.roll_max_rows = 1_000_000;
            c.roll_max_bytes = 128 << 20;
            c.roll_max_age_ms = 60_000;
            c.worker_threads = 16;
            if let Some(limit) = memory_limit {
                c.extra
                    .push(("sink.memory_limit".into(), limit.to_string()));
            }
        })
        .collector(|c| {
            c.max_pack_size = 1 << 20;
            c.long_interval_ms = 5_000;
        })
}

/// A generated table of `partitions` × `per_partition` rows under `dir`
/// (the first half of each partition also in its snapshot), the daemons
/// configured with the product's defaults but not started.
pub(crate) fn generated_table(
    dir: &Path,
    partitions: u32,
    per_partition: u64,
    memory_limit: Option<u64>,
) -> anyhow::Result<Cluster> {
    product_defaults(Cluster::builder().dir(dir), memory_limit)
        .partitions(partitions)
        .rows_per_partition(per_partition)
        .snapshot_after(per_partition / 2)
        .binlog_max_bytes(64 << 20)
        .without_collector()
        .without_synctool()
        .build()
}

/// The finished task `tid` in SyncTool's history: (duration ms, rows, files, bytes).
fn finished_task(status: &serde_json::Value, tid: u32) -> Option<(u64, u64, u64, u64)> {
    status["history"].as_array()?.iter().find_map(|h| {
        (h["tid"].as_u64() == Some(u64::from(tid)) && h["ending"] == "completed").then(|| {
            (
                h["duration_ms"].as_u64().unwrap_or(0),
                h["rows"].as_u64().unwrap_or(0),
                h["files"].as_u64().unwrap_or(0),
                h["bytes"].as_u64().unwrap_or(0),
            )
        })
    })
}

/// Where a sync writes.
#[derive(Debug, Clone)]
enum Target {
    /// `<out>/offline/sync-<format>`.
    Local,
    /// This destination in the bench's HDFS.
    Hdfs(String),
}

impl Target {
    fn label(&self) -> &'static str {
        match self {
            Target::Local => "local",
            Target::Hdfs(_) => "hdfs",
        }
    }
}

fn sync_one(
    cluster: &mut Cluster,
    format: Format,
    target: &Target,
    source_bytes: u64,
    expected: Option<&RowSet>,
    timeout: Duration,
) -> anyhow::Result<SyncRun> {
    let dir = cluster.dir().to_path_buf();
    let run = format!("{}-{format}", target.label());
    cluster.synctool_conf.format = format;
    cluster.synctool_conf.progress_path = dir.join(format!("progress/{run}"));
    cluster.collector_conf.datadir = dir.join(format!("collector/{run}"));
    cluster.start_collector()?;
    cluster.start_synctool()?;
    let synctool_pid = cluster
        .synctool_proc()
        .map(|p| p.pid())
        .context("no synctool")?;
    let collector_pid = cluster
        .collector_proc()
        .map(|p| p.pid())
        .context("no data_collector")?;
    let dest = match target {
        Target::Local => cluster.local_dest(&format!("sync-{format}")),
        Target::Hdfs(dest) => dest.clone(),
    };
    let tid = cluster.table().tid;
    eprintln!("bench: syncing to {} {format} …", target.label());
    cluster.create_task(0, None, &dest)?;
    let endpoint = cluster.synctool_endpoint();
    let deadline = Instant::now() + timeout;
    let (duration_ms, rows, files, output_bytes) = loop {
        let status = e2e::http::get_json(&endpoint, "/status?format=json")?;
        if let Some(done) = finished_task(&status, tid) {
            break done;
        }
        let failed = status["tables"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["failed"].as_array().is_some_and(|f| !f.is_empty()));
        if failed {
            bail!("the {format} sync FAILED: {status}");
        }
        if Instant::now() > deadline {
            bail!("the {format} sync did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let synctool_peak_rss = peak_rss(synctool_pid)?;
    let collector_peak_rss = peak_rss(collector_pid)?;
    cluster.stop_synctool()?;
    cluster.stop_collector()?;
    let verified = match expected {
        Some(expected) => {
            eprintln!(
                "bench: reading the {} {format} output back …",
                target.label()
            );
            let output = match target {
                Target::Local => cluster.read_local(&dest, RowSet::counting())?,
                Target::Hdfs(_) => e2e::output::read_output(
                    &e2e::output::RemoteDest::new(&dest, None)?,
                    &cluster.columns()?,
                    format,
                    &e2e::output::CsvSpec::default(),
                    RowSet::counting(),
                )?,
            };
            Some(
                expected.diff(&output.rows).is_empty()
                    && output.stray.is_empty()
                    && output.leftovers().is_empty(),
            )
        }
        None => None,
    };
    Ok(SyncRun {
        format,
        dest_dir: cluster.local_dest_dir(&format!("sync-{format}")),
        figure: Figure {
            name: match target {
                Target::Local => format!("sync → {format}"),
                Target::Hdfs(_) => format!("sync → HDFS {format}"),
            },
            seconds: duration_ms as f64 / 1000.0,
            rows,
            source_bytes,
        },
        files,
        output_bytes,
        synctool_peak_rss,
        collector_peak_rss,
        verified,
    })
}

/// `cp -r` of the source files.
fn cp_baseline(source: &Path, out: &Path, rows: u64, source_bytes: u64) -> anyhow::Result<Figure> {
    let target = out.join("cp-copy");
    let started = Instant::now();
    let status = Command::new("cp")
        .arg("-r")
        .arg(source)
        .arg(&target)
        .status()
        .context("cannot run cp")?;
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("cp -r {} failed: {status}", source.display());
    }
    std::fs::remove_dir_all(&target)
        .with_context(|| format!("cannot remove {}", target.display()))?;
    Ok(Figure {
        name: "cp -r of the source files".into(),
        seconds,
        rows,
        source_bytes,
    })
}

/// DuckDB converting the files matching `glob` with `reader` into one file
/// of `to` (`parquet` or `csv`); the conversion's seconds as DuckDB timed them.
fn duckdb_convert(
    python: &Path,
    glob: &Path,
    reader: &str,
    target: &Path,
    to: &str,
    threads: usize,
) -> anyhow::Result<f64> {
    let script = format!(
        "import duckdb, time\n\
         con = duckdb.connect()\n\
         con.execute('SET threads={threads}')\n\
         con.execute('SET enable_progress_bar=false')\n\
         t = time.perf_counter()\n\
         con.execute(\"COPY (SELECT * FROM {reader}('{glob}')) TO '{target}' (FORMAT {to})\")\n\
         print(time.perf_counter() - t)\n",
        glob = glob.display(),
        target = target.display(),
    );
    let out = Command::new(python)
        .arg("-c")
        .arg(&script)
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "DuckDB failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse::<f64>()
        .with_context(|| format!("DuckDB printed `{text}`"))
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
}

fn run(cli: Cli) -> anyhow::Result<bool> {
    let rows = if cli.quick { 400_000 } else { cli.rows };
    if cli.partitions == 0 || rows < u64::from(cli.partitions) {
        bail!("need at least one row per partition");
    }
    e2e::workdir::prepare(&cli.out, MARKER, "bench")?;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let per_partition = rows / u64::from(cli.partitions);
    eprintln!(
        "bench: generating {rows} rows in {} partitions …",
        cli.partitions
    );
    let memory_limit = cli.memory_limit;
    let mut cluster = generated_table(&cli.out, cli.partitions, per_partition, memory_limit)?;
    let source = cluster.tablet_root().to_path_buf();
    let source_bytes = tree_bytes(&source)?;
    let total_rows = per_partition * u64::from(cli.partitions);
    let expected = if cli.no_verify {
        None
    } else {
        Some(cluster.source_rows(|_| true, RowSet::counting())?)
    };

    let mut runs = Vec::new();
    for &format in &cli.formats {
        runs.push(sync_one(
            &mut cluster,
            format,
            &Target::Local,
            source_bytes,
            expected.as_ref(),
            Duration::from_secs(cli.timeout),
        )?);
    }
    let cp = cp_baseline(&source, &cli.out, total_rows, source_bytes)?;
    let mut duckdb = Vec::new();
    if let Some(python) = &cli.duckdb_python {
        for run in &runs {
            let (reader, to, glob) = match run.format {
                Format::Csv => ("read_csv_auto", "parquet", "**/*.csv"),
                Format::Parquet => ("read_parquet", "csv", "**/*.parquet"),
            };
            let target = cli.out.join(format!("duckdb-from-{}.{to}", run.format));
            eprintln!("bench: DuckDB {} → {to} …", run.format);
            let seconds = duckdb_convert(
                python,
                &run.dest_dir.join(glob),
                reader,
                &target,
                to,
                threads,
            )?;
            let _ = std::fs::remove_file(&target);
            duckdb.push((
                run.format,
                Figure {
                    name: format!("DuckDB {} → {to} ({threads} threads)", run.format),
                    seconds,
                    rows: total_rows,
                    source_bytes,
                },
            ));
        }
    }
    let mut hdfs_runs = Vec::new();
    if let (Some(name_node), Some(classpath)) = (&cli.hdfs, &cli.hadoop_classpath) {
        let base = format!(
            "{}/openmldb-sync-bench/{}",
            name_node.trim_end_matches('/'),
            e2e::services::unique("run")
        );
        for local in &runs {
            let format = local.format;
            let run = sync_one(
                &mut cluster,
                format,
                &Target::Hdfs(format!("{base}/sync-{format}")),
                source_bytes,
                expected.as_ref(),
                Duration::from_secs(cli.timeout),
            )?;
            eprintln!("bench: hdfs dfs -put of the local {format} output …");
            let put = hdfs::put(
                classpath,
                name_node,
                &local.dest_dir,
                format.as_str(),
                &format!("{base}/put-{format}"),
            )?;
            hdfs_runs.push((run, put));
        }
    }
    let (latency_seconds, roll_ages) = if cli.quick {
        (10, vec![1_000])
    } else {
        (cli.latency_seconds, cli.latency_roll_ages.clone())
    };
    let mut latencies = Vec::new();
    if cli.latency_rate > 0 {
        for &age in &roll_ages {
            latencies.push(latency::run(
                &mut cluster,
                age,
                cli.latency_rate,
                latency_seconds,
            )?);
        }
    }
    drop(cluster);
    let mut memory_runs = Vec::new();
    let memory_shapes = if cli.no_memory {
        &[][..]
    } else {
        &cli.memory_runs[..]
    };
    for (i, shape) in memory_shapes.iter().enumerate() {
        let shape = if cli.quick {
            memory::Shape {
                partitions: shape.partitions,
                rows: (shape.rows / 8).max(u64::from(shape.partitions)),
            }
        } else {
            *shape
        };
        memory_runs.push(memory::run(
            &cli.out.join(format!("memory-{i}")),
            shape,
            memory_limit,
            Duration::from_secs(cli.timeout),
        )?);
    }
    let (recovery_parts, scale_parts) = if cli.quick {
        (cli.recovery_parts.min(100), cli.scale_parts.min(1000))
    } else {
        (cli.recovery_parts, cli.scale_parts)
    };
    // A run that fails is reported with the others, not instead of them.
    let failed = |what: &str, e: anyhow::Error| {
        let e = format!("{e:#}");
        eprintln!("bench: the {what} run failed: {e}");
        e
    };
    let recovery = (recovery_parts > 0)
        .then(|| parts::recovery(&cli.out, recovery_parts).map_err(|e| failed("recovery", e)));
    let scale = (scale_parts > 0)
        .then(|| parts::scale(&cli.out, scale_parts).map_err(|e| failed("scale", e)));

    println!(
        "\nfull sync, mode 0, local fs: {total_rows} rows, {} partitions, {:.0} MB of snapshot + binlog, {threads} cores",
        cli.partitions,
        source_bytes as f64 / 1e6
    );
    println!(
        "  {:<34} {:>9} {:>12} {:>9} {:>10} {:>11}",
        "what", "seconds", "rows/s", "MB/s", "× cp", "× DuckDB"
    );
    let line = |f: &Figure, vs_duckdb: Option<f64>| {
        println!(
            "  {:<34} {:>9.2} {:>12.0} {:>9.1} {:>10.1} {:>11}",
            f.name,
            f.seconds,
            f.rows_per_s(),
            f.mb_per_s(),
            f.seconds / cp.seconds.max(1e-9),
            vs_duckdb.map_or("-".into(), |d| format!("{:.2}", f.seconds / d.max(1e-9)))
        );
    };
    for run in &runs {
        // DuckDB's conversion that writes this run's format.
        let other = duckdb
            .iter()
            .find(|(from, _)| *from != run.format)
            .map(|(_, f)| f.seconds);
        line(&run.figure, other);
    }
    line(&cp, None);
    for (_, f) in &duckdb {
        line(f, None);
    }
    println!("  (× DuckDB: our time over DuckDB's for the conversion that writes the same format)");
    let mut ok = true;
    for run in &runs {
        println!(
            "  {}: {} files, {:.0} MB; peak RSS synctool {}, data_collector {}; output {}",
            run.format,
            run.files,
            run.output_bytes as f64 / 1e6,
            mib(run.synctool_peak_rss),
            mib(run.collector_peak_rss),
            run.verdict()
        );
        ok &= run.verified != Some(false);
    }
    if !hdfs_runs.is_empty() {
        println!("\nfull sync to HDFS (a NameNode + DataNode on this machine), same rows:");
        println!(
            "  {:<34} {:>9} {:>12} {:>9} {:>10}",
            "what", "seconds", "rows/s", "MB/s", "× put"
        );
        for (run, put) in &hdfs_runs {
            println!(
                "  {:<34} {:>9.2} {:>12.0} {:>9.1} {:>10.2}",
                run.figure.name,
                run.figure.seconds,
                run.figure.rows_per_s(),
                run.figure.mb_per_s(),
                run.figure.seconds / put.seconds.max(1e-9)
            );
            println!(
                "  {:<34} {:>9.2}   ({} files, {:.0} MB; its JVM start alone: {:.2} s)",
                format!("hdfs dfs -put of the {} files", run.format),
                put.seconds,
                put.files,
                run.output_bytes as f64 / 1e6,
                put.jvm_seconds
            );
            println!(
                "  {}: peak RSS synctool {}, data_collector {}; output {}",
                run.figure.name,
                mib(run.synctool_peak_rss),
                mib(run.collector_peak_rss),
                run.verdict()
            );
            ok &= run.verified != Some(false);
        }
    }
    if !latencies.is_empty() {
        println!(
            "\ncontinuous latency, mode 2, put → committed (SyncTool's status, polled every 20 ms):"
        );
        println!(
            "  {:>16} {:>10} {:>8} {:>8} {:>10} {:>10} {:>10}",
            "roll age (ms)", "rows/s", "seconds", "batches", "p50 (ms)", "p99 (ms)", "max (ms)"
        );
        for l in &latencies {
            println!(
                "  {:>16} {:>10} {:>8} {:>8} {:>10.0} {:>10.0} {:>10.0}",
                l.roll_age_ms, l.rows_per_s, l.seconds, l.batches, l.p50_ms, l.p99_ms, l.max_ms
            );
        }
    }
    if !memory_runs.is_empty() {
        let main_parquet = runs
            .iter()
            .find(|r| r.format == Format::Parquet)
            .map(|r| (cli.partitions, r));
        println!(
            "\nmemory, mode 0 → local Parquet, peak RSS{}:",
            if main_parquet.is_some() {
                " (the first line is the Parquet run above)"
            } else {
                ""
            }
        );
        println!(
            "  {:>10} {:>10} {:>8} {:>9} {:>7} {:>10} {:>15}",
            "partitions", "rows", "MB", "seconds", "files", "synctool", "data_collector"
        );
        let curve = memory_runs.iter().map(|m| (m.partitions, &m.run));
        for (partitions, run) in main_parquet.into_iter().chain(curve) {
            println!(
                "  {:>10} {:>10} {:>8.0} {:>9.2} {:>7} {:>10} {:>15}",
                partitions,
                run.figure.rows,
                run.figure.source_bytes as f64 / 1e6,
                run.figure.seconds,
                run.files,
                mib(run.synctool_peak_rss),
                mib(run.collector_peak_rss)
            );
        }
    }
    if let Some(Err(e)) = &recovery {
        println!("\nrecovery, {recovery_parts} partition tasks: FAILED: {e}");
        ok = false;
    }
    if let Some(Err(e)) = &scale {
        println!("\nscale, {scale_parts} partition tasks: FAILED: {e}");
        ok = false;
    }
    if let Some(Ok(r)) = &recovery {
        println!(
            "\nrecovery, {} partition tasks (mode 2): until every part RUNNING has taken the row put while a daemon was down",
            r.parts
        );
        println!(
            "  first start (create → streaming)   {:>8.2} s",
            r.first_start_s
        );
        println!(
            "  synctool SIGKILL, start → streaming again  {:>8.2} s",
            r.synctool_restart_s
        );
        println!(
            "  collector SIGKILL, start → streaming again {:>8.2} s",
            r.collector_restart_s
        );
    }
    if let Some(Ok(s)) = &scale {
        println!(
            "\nscale, {} partition tasks on one SyncTool and one collector (mode 2, idle):",
            s.parts
        );
        println!("  create → every part streaming {:>8.2} s", s.start_s);
        println!(
            "  RSS now (peak): synctool {} ({}), data_collector {} ({})",
            mib(s.synctool_rss),
            mib(s.synctool_peak_rss),
            mib(s.collector_rss),
            mib(s.collector_peak_rss)
        );
        println!(
            "  idle CPU: synctool {:.1}% of a core, data_collector {:.1}%",
            s.synctool_idle_cpu * 100.0,
            s.collector_idle_cpu * 100.0
        );
        println!(
            "  /status?format=json: p50 {:.0} ms, max {:.0} ms (10 calls)",
            s.status_p50_ms, s.status_max_ms
        );
    }
    let figure = |f: &Figure| {
        json!({
            "name": f.name, "seconds": f.seconds, "rows": f.rows,
            "rows_per_s": f.rows_per_s(), "source_mb_per_s": f.mb_per_s(),
            "ratio_to_cp": f.seconds / cp.seconds.max(1e-9),
        })
    };
    let report = json!({
        "rows": total_rows,
        "partitions": cli.partitions,
        "source_bytes": source_bytes,
        "cores": threads,
        "syncs": runs.iter().map(|r| json!({
            "format": r.format.as_str(),
            "figure": figure(&r.figure),
            "files": r.files,
            "output_bytes": r.output_bytes,
            "synctool_peak_rss_bytes": r.synctool_peak_rss,
            "collector_peak_rss_bytes": r.collector_peak_rss,
            "verified": r.verified,
        })).collect::<Vec<_>>(),
        "baselines": std::iter::once(figure(&cp))
            .chain(duckdb.iter().map(|(_, f)| figure(f)))
            .collect::<Vec<_>>(),
        "hdfs": hdfs_runs.iter().map(|(r, put)| json!({
            "format": r.format.as_str(),
            "figure": figure(&r.figure),
            "files": r.files,
            "output_bytes": r.output_bytes,
            "verified": r.verified,
            "put_seconds": put.seconds,
            "put_jvm_seconds": put.jvm_seconds,
            "ratio_to_put": r.figure.seconds / put.seconds.max(1e-9),
        })).collect::<Vec<_>>(),
        "recovery": recovery.as_ref().map(|r| match r {
            Err(e) => json!({ "parts": recovery_parts, "error": e }),
            Ok(r) => json!({
                "parts": r.parts, "first_start_s": r.first_start_s,
                "synctool_restart_s": r.synctool_restart_s,
                "collector_restart_s": r.collector_restart_s,
            }),
        }),
        "scale": scale.as_ref().map(|s| match s {
            Err(e) => json!({ "parts": scale_parts, "error": e }),
            Ok(s) => json!({
            "parts": s.parts, "start_s": s.start_s,
            "synctool_rss_bytes": s.synctool_rss, "collector_rss_bytes": s.collector_rss,
            "synctool_peak_rss_bytes": s.synctool_peak_rss,
            "collector_peak_rss_bytes": s.collector_peak_rss,
            "synctool_idle_cpu_cores": s.synctool_idle_cpu,
            "collector_idle_cpu_cores": s.collector_idle_cpu,
            "status_p50_ms": s.status_p50_ms, "status_max_ms": s.status_max_ms,
            }),
        }),
        "memory": memory_runs.iter().map(|m| json!({
            "partitions": m.partitions, "rows": m.run.figure.rows,
            "source_bytes": m.run.figure.source_bytes, "seconds": m.run.figure.seconds,
            "files": m.run.files,
            "synctool_peak_rss_bytes": m.run.synctool_peak_rss,
            "collector_peak_rss_bytes": m.run.collector_peak_rss,
        })).collect::<Vec<_>>(),
        "latency": latencies.iter().map(|l| json!({
            "roll_age_ms": l.roll_age_ms, "rows_per_s": l.rows_per_s, "seconds": l.seconds,
            "batches": l.batches, "p50_ms": l.p50_ms, "p99_ms": l.p99_ms, "max_ms": l.max_ms,
        })).collect::<Vec<_>>(),
    });
    let path = cli.out.join("bench.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("  written: {}", path.display());
    Ok(ok)
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("\nbench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
