//! A whole single-host deployment as real processes: an emulated disk table
//! served by `tablet_emulator serve`, one `data_collector` and one `synctool`,
//! standalone (a metadata dir and a static collector list) or with ZooKeeper.
//!
//! [`Cluster::builder`] creates the table in-process with the tablet
//! emulator's library (so the rows are known exactly), then starts the
//! processes and waits until each answers over HTTP. Everything lives in one
//! directory (a temporary one unless [`ClusterBuilder::dir`] is given):
//!
//! ```text
//! tablet/      the tablet's data root (<tid>_<pid>/…)
//! metadata/    standalone table metadata (<tid>.tableinfo)
//! collector/   the collector's work dir (hard links: same filesystem as tablet/)
//! progress/    SyncTool's sync_task.progress_path
//! conf/        data_collector.flags, synctool.properties
//! logs/        tablet.log, collector.log, synctool.log
//! offline/     destinations made by Cluster::local_dest
//! ```
//!
//! Dropping the cluster kills every process (SIGKILL); the temporary
//! directory is removed unless the thread is panicking or `SYNC_E2E_KEEP=1`,
//! when its path is printed so the logs can be read.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sync_core::row::Column;
use sync_infra::coordinator::standalone::StandaloneCoordinator;
use tablet_emu::state::TableState;
use tablet_emu::{EmulatedTable, GeneratedRow, TableEmulator, partition_dir, read_manifest};
use tempfile::TempDir;

use crate::bins::workspace_bin;
use crate::config::{CollectorConf, SyncToolConf};
use crate::http;
use crate::netns::Placement;
use crate::output::{CsvSpec, Output as DestOutput, check_output, read_local_output};
use crate::ports::free_port;
use crate::process::{Proc, Signal, log_tail};
use crate::rows::{RowSet, source_rows};
use crate::status::{CollectorStatus, SyncToolStatus, collector_status, synctool_status};
use crate::wait::{Check, wait_every, wait_until};

/// How long a daemon may take to answer its first request.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

type Tweak<T> = Box<dyn Fn(&mut T)>;

/// Builds a [`Cluster`].
pub struct ClusterBuilder {
    dir: Option<PathBuf>,
    table: EmulatedTable,
    rows: u64,
    snapshot_after: Option<u64>,
    gc_binlog: bool,
    zookeeper: Option<String>,
    zk_root: String,
    collector: bool,
    synctool: bool,
    verbose: bool,
    placement: Placement,
    synctool_tweaks: Vec<Tweak<SyncToolConf>>,
    collector_tweaks: Vec<Tweak<CollectorConf>>,
}

impl ClusterBuilder {
    /// The table's description (`tid`, schema, …).
    pub fn table(mut self, f: impl FnOnce(&mut EmulatedTable)) -> Self {
        f(&mut self.table);
        self
    }

    /// Partitions of the table.
    pub fn partitions(mut self, n: u32) -> Self {
        self.table.partitions = n;
        self
    }

    /// Rows put into each partition before the daemons start.
    pub fn rows_per_partition(mut self, n: u64) -> Self {
        self.rows = n;
        self
    }

    /// Take a snapshot after this many rows per partition (the rest are only
    /// in the binlog).
    pub fn snapshot_after(mut self, n: u64) -> Self {
        self.snapshot_after = Some(n);
        self
    }

    /// Delete binlog files the snapshot covers (as a tablet does).
    pub fn gc_binlog(mut self) -> Self {
        self.gc_binlog = true;
        self
    }

    /// Start a new binlog file past this size.
    pub fn binlog_max_bytes(mut self, n: u64) -> Self {
        self.table.binlog_max_bytes = n;
        self
    }

    /// Put everything under `dir` (kept afterwards) instead of a temp dir.
    pub fn dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_path_buf());
        self
    }

    /// Use ZooKeeper at `cluster` (a root path of the cluster's own).
    pub fn zookeeper(mut self, cluster: &str) -> Self {
        self.zookeeper = Some(cluster.to_string());
        self
    }

    /// Do not start a data_collector.
    pub fn without_collector(mut self) -> Self {
        self.collector = false;
        self
    }

    /// Do not start SyncTool.
    pub fn without_synctool(mut self) -> Self {
        self.synctool = false;
        self
    }

    /// Where the processes listen and run (default: all on loopback).
    pub fn placement(mut self, placement: Placement) -> Self {
        self.placement = placement;
        self
    }

    /// Print each step with its duration to stderr.
    pub fn verbose(mut self) -> Self {
        self.verbose = true;
        self
    }

    /// Changes SyncTool's configuration.
    pub fn synctool(mut self, f: impl Fn(&mut SyncToolConf) + 'static) -> Self {
        self.synctool_tweaks.push(Box::new(f));
        self
    }

    /// Changes the collector's configuration.
    pub fn collector(mut self, f: impl Fn(&mut CollectorConf) + 'static) -> Self {
        self.collector_tweaks.push(Box::new(f));
        self
    }

    fn step<T>(&self, what: &str, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
        let start = Instant::now();
        if self.verbose {
            eprintln!("  {what} …");
        }
        let value = f().with_context(|| what.to_string())?;
        if self.verbose {
            eprintln!("  {what}: done in {:.1}s", start.elapsed().as_secs_f64());
        }
        Ok(value)
    }

    /// Creates the table and starts the processes.
    pub fn build(self) -> anyhow::Result<Cluster> {
        let (temp, dir) = match &self.dir {
            Some(d) => {
                std::fs::create_dir_all(d)
                    .with_context(|| format!("cannot create {}", d.display()))?;
                (None, d.clone())
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("sync-e2e-")
                    .tempdir()
                    .context("cannot create a temp dir")?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        for sub in [
            "tablet",
            "metadata",
            "collector",
            "progress",
            "conf",
            "logs",
            "offline",
        ] {
            let p = dir.join(sub);
            std::fs::create_dir_all(&p)
                .with_context(|| format!("cannot create {}", p.display()))?;
        }
        let tablet_root = dir.join("tablet");
        let total = self.rows * u64::from(self.table.partitions);
        self.step(
            &format!(
                "creating table {}.{} (tid {}): {} partitions x {} rows = {total} rows",
                self.table.db, self.table.name, self.table.tid, self.table.partitions, self.rows
            ),
            || {
                let mut emu = TableEmulator::create(&tablet_root, self.table.clone())?;
                let first = self.snapshot_after.unwrap_or(self.rows).min(self.rows);
                emu.append_all(first)?;
                if self.snapshot_after.is_some() {
                    emu.snapshot_all(None)?;
                    if self.gc_binlog {
                        emu.gc_binlog_all()?;
                    }
                }
                emu.append_all(self.rows - first)?;
                Ok(())
            },
        )?;

        let place = &self.placement;
        let tablet_endpoint = format!("{}:{}", place.tablet_host_ip, free_port()?);
        let zk = self
            .zookeeper
            .as_ref()
            .map(|c| (c.clone(), self.zk_root.clone()));
        let mut collector_conf = CollectorConf::new(
            &format!("{}:{}", place.tablet_host_ip, free_port()?),
            &dir.join("collector"),
        );
        collector_conf.zookeeper = zk
            .as_ref()
            .map(|(cluster, root)| (place.collector_zookeeper(cluster), root.clone()));
        for t in &self.collector_tweaks {
            t(&mut collector_conf);
        }
        let mut synctool_conf = SyncToolConf::new(free_port()?, &dir.join("progress"));
        if let Some(ip) = &place.synctool_advertised_ip {
            synctool_conf.host = "0.0.0.0".into();
            synctool_conf.advertised_host = Some(ip.clone());
        }
        synctool_conf.zookeeper = zk.clone();
        if zk.is_none() {
            synctool_conf.standalone_collectors = vec![collector_conf.endpoint.clone()];
            synctool_conf.metadata_dir = Some(dir.join("metadata"));
        }
        for t in &self.synctool_tweaks {
            t(&mut synctool_conf);
        }

        let mut cluster = Cluster {
            synctool: None,
            collector: None,
            tablet: None,
            synctool_conf,
            collector_conf,
            table: self.table.clone(),
            tablet_root,
            tablet_endpoint,
            placement: self.placement.clone(),
            dir,
            temp,
        };
        self.step("starting the tablet emulator", || cluster.start_tablet())?;
        self.step("registering the table", || cluster.register())?;
        if self.collector {
            self.step("starting data_collector", || cluster.start_collector())?;
        }
        if self.synctool {
            self.step("starting synctool", || cluster.start_synctool())?;
        }
        Ok(cluster)
    }
}

/// Source data of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionSource {
    pub pid: u32,
    /// Rows put.
    pub rows: u64,
    /// Rows in the snapshot (its MANIFEST offset; 0 without a snapshot).
    pub snapshot_rows: u64,
    /// Binlog files on disk and their total size.
    pub binlog_files: usize,
    pub binlog_bytes: u64,
}

/// A running deployment; see the module docs.
pub struct Cluster {
    synctool: Option<Proc>,
    collector: Option<Proc>,
    tablet: Option<Proc>,
    /// SyncTool's configuration (written again at each start).
    pub synctool_conf: SyncToolConf,
    /// The collector's configuration (written again at each start).
    pub collector_conf: CollectorConf,
    table: EmulatedTable,
    tablet_root: PathBuf,
    tablet_endpoint: String,
    placement: Placement,
    dir: PathBuf,
    temp: Option<TempDir>,
}

fn daemon_command(bin: &str) -> anyhow::Result<Command> {
    let mut cmd = Command::new(workspace_bin(bin)?);
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "info");
    }
    cmd.env_remove("HADOOP_CONF_DIR");
    Ok(cmd)
}

impl Cluster {
    /// A builder: one demo table (tid 1, 2 partitions, 1000 rows each),
    /// standalone, Parquet.
    pub fn builder() -> ClusterBuilder {
        let mut table = EmulatedTable::demo(1, 2);
        table.name = "t1".into();
        ClusterBuilder {
            dir: None,
            table,
            rows: 1000,
            snapshot_after: None,
            gc_binlog: false,
            zookeeper: None,
            zk_root: crate::services::unique("/sync-e2e"),
            collector: true,
            synctool: true,
            verbose: false,
            placement: Placement::default(),
            synctool_tweaks: Vec::new(),
            collector_tweaks: Vec::new(),
        }
    }

    /// The cluster's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The tablet's data root.
    pub fn tablet_root(&self) -> &Path {
        &self.tablet_root
    }

    /// The table.
    pub fn table(&self) -> &EmulatedTable {
        &self.table
    }

    /// `db.table`.
    pub fn table_name(&self) -> String {
        format!("{}.{}", self.table.db, self.table.name)
    }

    /// The table's columns (the output files' columns).
    pub fn columns(&self) -> anyhow::Result<Vec<Column>> {
        Ok(self.table.schema()?)
    }

    /// The tablet emulator's endpoint (every partition's leader).
    pub fn tablet_endpoint(&self) -> &str {
        &self.tablet_endpoint
    }

    /// SyncTool's endpoint.
    pub fn synctool_endpoint(&self) -> String {
        self.synctool_conf.endpoint()
    }

    /// The collector's endpoint.
    pub fn collector_endpoint(&self) -> &str {
        &self.collector_conf.endpoint
    }

    /// The path of a config or log file in the cluster dir.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// `file://<dir>/offline/<name>`, a local destination.
    pub fn local_dest(&self, name: &str) -> String {
        format!("file://{}", self.dir.join("offline").join(name).display())
    }

    /// The directory of a local destination made by [`Cluster::local_dest`].
    pub fn local_dest_dir(&self, name: &str) -> PathBuf {
        self.dir.join("offline").join(name)
    }

    /// SyncTool's process, if running.
    pub fn synctool_proc(&mut self) -> Option<&mut Proc> {
        self.synctool.as_mut()
    }

    /// The collector's process, if running.
    pub fn collector_proc(&mut self) -> Option<&mut Proc> {
        self.collector.as_mut()
    }

    fn start_tablet(&mut self) -> anyhow::Result<()> {
        let mut cmd = daemon_command("tablet_emulator")?;
        cmd.arg("serve")
            .arg("--root")
            .arg(&self.tablet_root)
            .arg("--listen")
            .arg(&self.tablet_endpoint);
        let cmd = self.placement.on_tablet_host(cmd);
        let mut proc = Proc::spawn("tablet_emulator", cmd, &self.dir.join("logs/tablet.log"))?;
        let ep = self.tablet_endpoint.clone();
        wait_until("the tablet emulator to answer", START_TIMEOUT, || {
            proc.ensure_running()?;
            Ok(
                match http::post_json(&ep, "/openmldb.api.TabletServer/GetTableStatus", "{}") {
                    Ok(r) if r.status == 200 => Check::Done(()),
                    Ok(r) => Check::NotYet(format!("HTTP {}", r.status)),
                    Err(e) => Check::NotYet(format!("{e:#}")),
                },
            )
        })?;
        self.tablet = Some(proc);
        Ok(())
    }

    fn register(&self) -> anyhow::Result<()> {
        match &self.synctool_conf.zookeeper {
            None => {
                let dir = self
                    .synctool_conf
                    .metadata_dir
                    .clone()
                    .unwrap_or_else(|| self.dir.join("metadata"));
                // What TableEmulator::register_standalone writes, without
                // opening every partition's RocksDB.
                let info = self.table.table_info(&self.tablet_endpoint)?;
                StandaloneCoordinator::put_table_info(&dir, &info)
                    .with_context(|| format!("cannot write table metadata in {}", dir.display()))?;
            }
            Some((cluster, root)) => {
                let out = Command::new(workspace_bin("tablet_emulator")?)
                    .arg("register")
                    .arg("--root")
                    .arg(&self.tablet_root)
                    .args(["--tid", &self.table.tid.to_string()])
                    .args(["--endpoint", &self.tablet_endpoint])
                    .args(["--zk-cluster", cluster, "--zk-root", root])
                    .output()
                    .context("cannot run tablet_emulator register")?;
                if !out.status.success() {
                    bail!(
                        "tablet_emulator register failed: {}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
        }
        Ok(())
    }

    /// Writes the collector's flags file and starts it (waits until its
    /// status page answers).
    pub fn start_collector(&mut self) -> anyhow::Result<()> {
        if self.collector.is_some() {
            bail!("data_collector is already running");
        }
        std::fs::create_dir_all(&self.collector_conf.datadir)
            .with_context(|| format!("cannot create {}", self.collector_conf.datadir.display()))?;
        let flags = self.dir.join("conf/data_collector.flags");
        self.collector_conf.write(&flags)?;
        let mut cmd = daemon_command("data_collector")?;
        cmd.arg(format!("--flagfile={}", flags.display()));
        let cmd = self.placement.on_tablet_host(cmd);
        let mut proc = Proc::spawn("data_collector", cmd, &self.dir.join("logs/collector.log"))?;
        let ep = self.collector_conf.endpoint.clone();
        wait_until("data_collector to answer", START_TIMEOUT, || {
            proc.ensure_running()?;
            Ok(match collector_status(&ep) {
                Ok(_) => Check::Done(()),
                Err(e) => Check::NotYet(format!("{e:#}")),
            })
        })?;
        self.collector = Some(proc);
        Ok(())
    }

    /// Writes `synctool.properties` and starts SyncTool (waits until its
    /// status page answers).
    pub fn start_synctool(&mut self) -> anyhow::Result<()> {
        if self.synctool.is_some() {
            bail!("synctool is already running");
        }
        let proc = self.spawn_synctool("synctool", &self.synctool_conf)?;
        self.synctool = Some(proc);
        Ok(())
    }

    /// Another SyncTool next to the cluster's own, sharing its ZooKeeper
    /// root (several SyncTools): its own port and progress dir under
    /// `<dir>/<name>/`; started and answering. The caller owns the process.
    pub fn start_another_synctool(&self, name: &str) -> anyhow::Result<(Proc, SyncToolConf)> {
        let mut conf = self.synctool_conf.clone();
        conf.port = free_port()?;
        conf.progress_path = self.dir.join(name).join("progress");
        let proc = self.spawn_synctool(name, &conf)?;
        Ok((proc, conf))
    }

    /// Writes `conf/<name>.properties`, starts a SyncTool with it (log
    /// `logs/<name>.log`) and waits until its status page answers.
    fn spawn_synctool(&self, name: &str, conf: &SyncToolConf) -> anyhow::Result<Proc> {
        let props = self.dir.join(format!("conf/{name}.properties"));
        conf.write(&props)?;
        let mut cmd = daemon_command("synctool")?;
        cmd.arg("-f").arg(&props);
        let mut proc = Proc::spawn(name, cmd, &self.dir.join(format!("logs/{name}.log")))?;
        let ep = conf.endpoint();
        wait_until("synctool to answer", START_TIMEOUT, || {
            proc.ensure_running()?;
            Ok(match synctool_status(&ep) {
                Ok(_) => Check::Done(()),
                Err(e) => Check::NotYet(format!("{e:#}")),
            })
        })?;
        Ok(proc)
    }

    /// SIGKILLs SyncTool.
    pub fn kill_synctool(&mut self) -> anyhow::Result<()> {
        let mut p = self.synctool.take().context("synctool is not running")?;
        p.kill9()?;
        Ok(())
    }

    /// SIGKILLs the collector.
    pub fn kill_collector(&mut self) -> anyhow::Result<()> {
        let mut p = self
            .collector
            .take()
            .context("data_collector is not running")?;
        p.kill9()?;
        Ok(())
    }

    /// Stops SyncTool with SIGINT (as Ctrl-C) and waits for it.
    pub fn stop_synctool(&mut self) -> anyhow::Result<()> {
        let mut p = self.synctool.take().context("synctool is not running")?;
        p.stop(Signal::Int, Duration::from_secs(15))?;
        Ok(())
    }

    /// Stops the collector with SIGTERM and waits for it.
    pub fn stop_collector(&mut self) -> anyhow::Result<()> {
        let mut p = self
            .collector
            .take()
            .context("data_collector is not running")?;
        p.stop(Signal::Term, Duration::from_secs(15))?;
        Ok(())
    }

    /// An error if a started daemon has exited.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        for p in [&mut self.tablet, &mut self.collector, &mut self.synctool]
            .into_iter()
            .flatten()
        {
            p.ensure_running()?;
        }
        Ok(())
    }

    /// SyncTool's status.
    pub fn synctool_status(&self) -> anyhow::Result<SyncToolStatus> {
        synctool_status(&self.synctool_conf.endpoint())
    }

    /// The collector's status.
    pub fn collector_status(&self) -> anyhow::Result<CollectorStatus> {
        collector_status(&self.collector_conf.endpoint)
    }

    /// Runs `synctool_helper ARGS`.
    pub fn helper(&self, args: &[&str]) -> anyhow::Result<Output> {
        Command::new(workspace_bin("synctool_helper")?)
            .args(args)
            .output()
            .context("cannot run synctool_helper")
    }

    /// `synctool_helper create -t db.table -m MODE [-ts TS] -d DEST -s SYNCTOOL`,
    /// which must succeed.
    pub fn create_task(&self, mode: u8, start_ts: Option<u64>, dest: &str) -> anyhow::Result<()> {
        self.create_task_reply(mode, start_ts, dest).map(|_| ())
    }

    /// [`Cluster::create_task`], returning what the helper printed (the
    /// server's reply: `{"code":0,"msg":"ok: resumed …"}`).
    pub fn create_task_reply(
        &self,
        mode: u8,
        start_ts: Option<u64>,
        dest: &str,
    ) -> anyhow::Result<String> {
        let table = self.table_name();
        let mode = mode.to_string();
        let server = self.synctool_endpoint();
        let ts = start_ts.map(|t| t.to_string());
        let mut args = vec!["create", "-t", &table, "-m", &mode];
        if let Some(ts) = &ts {
            args.extend(["-ts", ts]);
        }
        args.extend(["-d", dest, "-s", &server]);
        let out = self.helper(&args)?;
        if !out.status.success() {
            bail!(
                "synctool_helper {} failed: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `synctool_helper delete -t db.table -s SYNCTOOL`, which must succeed.
    pub fn delete_task(&self) -> anyhow::Result<()> {
        let table = self.table_name();
        let server = self.synctool_endpoint();
        let out = self.helper(&["delete", "-t", &table, "-s", &server])?;
        if !out.status.success() {
            bail!(
                "synctool_helper delete -t {table} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// Puts `rows` more rows into every partition (while everything runs).
    pub fn append(&self, rows: u64) -> anyhow::Result<()> {
        TableEmulator::open(&self.tablet_root, self.table.tid)?.append_all(rows)?;
        Ok(())
    }

    /// Rows put into each partition so far.
    pub fn puts(&self) -> anyhow::Result<Vec<u64>> {
        Ok(TableState::load(&self.tablet_root, self.table.tid)?
            .partitions
            .iter()
            .map(|p| p.next_seq)
            .collect())
    }

    /// Rows in the table now.
    pub fn source_total(&self) -> anyhow::Result<u64> {
        Ok(self.puts()?.iter().sum())
    }

    /// The table's rows (those `keep` accepts) as a multiset.
    pub fn source_rows(
        &self,
        keep: impl Fn(&GeneratedRow) -> bool,
        into: RowSet,
    ) -> anyhow::Result<RowSet> {
        let mut set = into;
        source_rows(&self.table, &self.puts()?, keep, &mut set)?;
        Ok(set)
    }

    /// Per partition: rows, snapshot rows, binlog files.
    pub fn source_summary(&self) -> anyhow::Result<Vec<PartitionSource>> {
        let puts = self.puts()?;
        let mut out = Vec::new();
        for (pid, rows) in puts.into_iter().enumerate() {
            let pdir = partition_dir(&self.tablet_root, self.table.tid, pid as u32);
            let snapshot_rows = read_manifest(&pdir.join("snapshot/MANIFEST"))?
                .and_then(|m| m.offset)
                .unwrap_or(0);
            let (mut files, mut bytes) = (0, 0);
            let binlog = pdir.join("binlog");
            for e in std::fs::read_dir(&binlog)
                .with_context(|| format!("cannot list {}", binlog.display()))?
            {
                let e = e.with_context(|| format!("cannot list {}", binlog.display()))?;
                if e.file_name().to_string_lossy().ends_with(".log") {
                    files += 1;
                    bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
                }
            }
            out.push(PartitionSource {
                pid: pid as u32,
                rows,
                snapshot_rows,
                binlog_files: files,
                binlog_bytes: bytes,
            });
        }
        Ok(out)
    }

    /// Reads a local destination back (format from SyncTool's config).
    pub fn read_local(&self, dest: &str, rows: RowSet) -> anyhow::Result<DestOutput> {
        let csv: CsvSpec = self.synctool_conf.csv.clone();
        read_local_output(
            dest,
            &self.columns()?,
            self.synctool_conf.format,
            &csv,
            rows,
        )
    }

    /// Reads a local destination and checks it holds exactly the source rows
    /// `keep` accepts (see [`check_output`]); returns what it read.
    pub fn verify_local(
        &self,
        dest: &str,
        keep: impl Fn(&GeneratedRow) -> bool,
        finished: bool,
    ) -> anyhow::Result<DestOutput> {
        let expected = self.source_rows(keep, RowSet::new())?;
        let output = self.read_local(dest, RowSet::new())?;
        check_output(&expected, &output, finished).with_context(|| format!("checking {dest}"))?;
        Ok(output)
    }

    /// Polls SyncTool's status every `every` until `f` says done; checks
    /// that the daemons are alive at each poll.
    pub fn watch<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        every: Duration,
        mut f: impl FnMut(&SyncToolStatus) -> anyhow::Result<Check<T>>,
    ) -> anyhow::Result<T> {
        let result = wait_every(what, timeout, every, || {
            self.ensure_running()?;
            let status = match self.synctool_status() {
                Ok(s) => s,
                Err(e) => return Ok(Check::NotYet(format!("status: {e:#}"))),
            };
            f(&status)
        });
        result.map_err(|e| e.context(self.diagnostics()))
    }

    /// Waits until the task of the table is gone (a mode-0 task that
    /// finished); fails at once if a partition is FAILED.
    pub fn wait_task_done(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let tid = self.table.tid;
        self.watch(
            "the sync task to finish",
            timeout,
            Duration::from_millis(100),
            |s| match s.table(tid) {
                None => Ok(Check::Done(())),
                Some(t) if !t.failed.is_empty() => bail!("task FAILED: {}", s.brief(tid)),
                Some(_) => Ok(Check::NotYet(s.brief(tid))),
            },
        )
    }

    /// Waits until at least `rows` rows of the table are committed.
    pub fn wait_committed(&mut self, rows: u64, timeout: Duration) -> anyhow::Result<u64> {
        let tid = self.table.tid;
        self.watch(
            &format!("{rows} committed rows"),
            timeout,
            Duration::from_millis(50),
            |s| match s.table(tid) {
                Some(t) if !t.failed.is_empty() => bail!("task FAILED: {}", s.brief(tid)),
                Some(t) if t.rows >= rows => Ok(Check::Done(t.rows)),
                _ => Ok(Check::NotYet(s.brief(tid))),
            },
        )
    }

    /// Waits until every row put so far is committed (a mode-1 or mode-2
    /// task that keeps running, once nothing more is put); fails at once if
    /// a partition is FAILED. Returns the rows.
    pub fn wait_all_committed(&mut self, timeout: Duration) -> anyhow::Result<u64> {
        let total = self.source_total()?;
        self.wait_committed(total, timeout)
    }

    /// The directory and the last lines of every log, for error messages.
    pub fn diagnostics(&self) -> String {
        let mut s = format!("cluster dir {}", self.dir.display());
        for name in ["tablet", "collector", "synctool"] {
            let path = self.dir.join(format!("logs/{name}.log"));
            let tail = log_tail(&path, 25);
            if !tail.is_empty() {
                s.push_str(&format!(
                    "\n--- {} (last lines) ---\n{tail}",
                    path.display()
                ));
            }
        }
        s
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Processes first (their Drop sends SIGKILL), then the directory.
        self.synctool = None;
        self.collector = None;
        self.tablet = None;
        if let Some(temp) = self.temp.take() {
            let keep =
                std::thread::panicking() || std::env::var("SYNC_E2E_KEEP").as_deref() == Ok("1");
            if keep {
                let path = temp.keep();
                eprintln!("e2e: kept cluster dir {}", path.display());
            }
        }
    }
}
