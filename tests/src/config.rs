//! The daemons' configuration files as a test writes them: SyncTool's
//! `synctool.properties` ([`SyncToolConf`]) and the DataCollector's gflags
//! file ([`CollectorConf`]), with short periods and timeouts so that tests and
//! the quickstart do not wait for OpenMLDB's production defaults.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::output::{CsvSpec, Format};

/// S3 settings (`s3.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Conf {
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// `synctool.properties`.
#[derive(Debug, Clone)]
pub struct SyncToolConf {
    /// `server.host` (listened on; advertised unless `advertised_host`).
    pub host: String,
    /// The host of `server.advertised_endpoint`, when not `host`.
    pub advertised_host: Option<String>,
    pub port: u16,
    pub progress_path: PathBuf,
    /// `zookeeper.cluster` and `zookeeper.root_path`; `None`: standalone.
    pub zookeeper: Option<(String, String)>,
    /// `standalone.collectors`.
    pub standalone_collectors: Vec<String>,
    /// `standalone.metadata_dir`.
    pub metadata_dir: Option<PathBuf>,
    /// `sync_task.check_period` (seconds).
    pub check_period_s: u64,
    /// `sync_task.timeout` (ms).
    pub timeout_ms: u64,
    /// `request.timeout` (seconds).
    pub request_timeout_s: u64,
    /// `sync_task.allowed_dest_roots`.
    pub allowed_dest_roots: Vec<String>,
    pub format: Format,
    pub csv: CsvSpec,
    pub roll_max_rows: u64,
    pub roll_max_bytes: u64,
    pub roll_max_age_ms: u64,
    /// `hadoop.conf.dir` (empty: none).
    pub hadoop_conf_dir: Option<PathBuf>,
    pub s3: Option<S3Conf>,
    pub worker_threads: usize,
    /// More `key=value` lines, written last (a later key wins).
    pub extra: Vec<(String, String)>,
}

impl SyncToolConf {
    /// Test defaults: standalone, Parquet, 1 s check period, 3 s timeout.
    pub fn new(port: u16, progress_path: &Path) -> Self {
        SyncToolConf {
            host: "127.0.0.1".into(),
            advertised_host: None,
            port,
            progress_path: progress_path.to_path_buf(),
            zookeeper: None,
            standalone_collectors: Vec::new(),
            metadata_dir: None,
            check_period_s: 1,
            // SyncTool requires timeout > request.timeout: an assignment may
            // take request.timeout to be answered (slow under CI load).
            timeout_ms: 6000,
            request_timeout_s: 5,
            allowed_dest_roots: Vec::new(),
            format: Format::Parquet,
            csv: CsvSpec::default(),
            roll_max_rows: 50_000,
            roll_max_bytes: 64 << 20,
            roll_max_age_ms: 1000,
            hadoop_conf_dir: None,
            s3: None,
            worker_threads: 4,
            extra: Vec::new(),
        }
    }

    /// Where this host reaches the daemon (loopback when it listens on
    /// every address).
    pub fn endpoint(&self) -> String {
        match self.host.as_str() {
            "0.0.0.0" => format!("127.0.0.1:{}", self.port),
            host => format!("{host}:{}", self.port),
        }
    }

    /// `server.advertised_endpoint`: where collectors send packs.
    pub fn advertised_endpoint(&self) -> String {
        match &self.advertised_host {
            Some(host) => format!("{host}:{}", self.port),
            None => self.endpoint(),
        }
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut lines = vec![
            "# written by the e2e harness".to_string(),
            format!("server.host={}", self.host),
            format!("server.port={}", self.port),
            format!("server.advertised_endpoint={}", self.advertised_endpoint()),
            format!("server.worker_threads={}", self.worker_threads),
        ];
        match &self.zookeeper {
            Some((cluster, root)) => {
                lines.push(format!("zookeeper.cluster={cluster}"));
                lines.push(format!("zookeeper.root_path={root}"));
            }
            None => lines.push("zookeeper.cluster=".into()),
        }
        if !self.standalone_collectors.is_empty() {
            lines.push(format!(
                "standalone.collectors={}",
                self.standalone_collectors.join(",")
            ));
        }
        if let Some(dir) = &self.metadata_dir {
            lines.push(format!("standalone.metadata_dir={}", dir.display()));
        }
        lines.extend([
            format!("sync_task.progress_path={}", self.progress_path.display()),
            format!("sync_task.check_period={}", self.check_period_s),
            format!("sync_task.timeout={}", self.timeout_ms),
            format!("request.timeout={}", self.request_timeout_s),
            format!(
                "sync_task.allowed_dest_roots={}",
                self.allowed_dest_roots.join(",")
            ),
            format!(
                "hadoop.conf.dir={}",
                self.hadoop_conf_dir
                    .as_ref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default()
            ),
            format!("sink.format={}", self.format),
            format!("sink.csv.header={}", self.csv.header),
            format!("sink.csv.null={}", self.csv.null),
            format!("sink.roll.max_rows={}", self.roll_max_rows),
            format!("sink.roll.max_bytes={}", self.roll_max_bytes),
            format!("sink.roll.max_age_ms={}", self.roll_max_age_ms),
        ]);
        if let Some(s3) = &self.s3 {
            lines.extend([
                format!("s3.endpoint={}", s3.endpoint),
                format!("s3.region={}", s3.region),
                format!("s3.access_key_id={}", s3.access_key_id),
                format!("s3.secret_access_key={}", s3.secret_access_key),
            ]);
        }
        lines.extend(self.extra.iter().map(|(k, v)| format!("{k}={v}")));
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }

    /// Writes the file.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, self.to_text())
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// `data_collector.flags`.
#[derive(Debug, Clone)]
pub struct CollectorConf {
    /// `--endpoint`.
    pub endpoint: String,
    /// `--collector_datadir` (on the tablet data's filesystem).
    pub datadir: PathBuf,
    /// `--zk_cluster` and `--zk_root_path`; `None`: standalone.
    pub zookeeper: Option<(String, String)>,
    pub max_pack_size: u64,
    pub long_interval_ms: u64,
    pub short_interval_ms: u64,
    pub request_timeout_ms: u64,
    /// More `--name=value` flags, written last.
    pub extra: Vec<(String, String)>,
}

impl CollectorConf {
    /// Test defaults: standalone, 256 KiB packs, no pause between packs,
    /// 200 ms wait at the end of the data.
    pub fn new(endpoint: &str, datadir: &Path) -> Self {
        CollectorConf {
            endpoint: endpoint.to_string(),
            datadir: datadir.to_path_buf(),
            zookeeper: None,
            max_pack_size: 256 * 1024,
            long_interval_ms: 200,
            short_interval_ms: 0,
            request_timeout_ms: 5000,
            extra: Vec::new(),
        }
    }

    /// The flags file's text.
    pub fn to_text(&self) -> String {
        let (cluster, root) = self
            .zookeeper
            .clone()
            .unwrap_or_else(|| (String::new(), "/openmldb".into()));
        let mut lines = vec![
            "# written by the e2e harness".to_string(),
            format!("--endpoint={}", self.endpoint),
            format!("--zk_cluster={cluster}"),
            format!("--zk_root_path={root}"),
            format!("--collector_datadir={}", self.datadir.display()),
            format!("--max_pack_size={}", self.max_pack_size),
            format!("--sync_task_long_interval_ms={}", self.long_interval_ms),
            format!("--sync_task_short_interval_ms={}", self.short_interval_ms),
            format!("--request_timeout_ms={}", self.request_timeout_ms),
        ];
        lines.extend(self.extra.iter().map(|(k, v)| format!("--{k}={v}")));
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }

    /// Writes the file.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, self.to_text())
            .with_context(|| format!("cannot write {}", path.display()))
    }
}
