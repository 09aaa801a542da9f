//! SyncTool's configuration, read from `synctool.properties` with OpenMLDB's
//! keys and defaults, plus the keys this implementation adds. Every key is
//! checked: an unknown key, a bad number or a missing required key is an error
//! naming the file and line.
//!
//! The keys, their kinds, defaults and docs are one table, [`keys::KEYS`]
//! (`synctool --help` prints it). OpenMLDB's `data.cache_path`,
//! `flink.slots` (the original's unused Flink tunnel), `server.io_threads`,
//! `user` and `password` are accepted and ignored (the shipped template sets
//! `data.cache_path`, which OpenMLDB's `tools/synctool_helper.py tool-status`
//! reads from the file). There is no log level key: OpenMLDB's SyncTool took
//! it from `log4j.properties`; see `sync_infra::logging`.

pub mod keys;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::properties::{PropertiesError, Property, parse_properties};
use keys::Key;

/// How the offline files are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Parquet,
    Csv,
}

/// Every SyncTool setting.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncToolConfig {
    pub server_host: String,
    pub server_port: u16,
    /// What collectors send data to; defaults to `server.host:server.port`
    /// (which must then not be a wildcard address).
    pub advertised_endpoint: String,
    pub worker_threads: usize,
    /// ZooKeeper servers; empty = standalone mode (no ZooKeeper).
    pub zk_cluster: String,
    pub zk_root_path: String,
    pub zk_cert: String,
    pub progress_path: PathBuf,
    pub check_period: Duration,
    /// A part silent this long is reassigned (OpenMLDB: 2 × check period).
    pub task_timeout: Duration,
    /// A part waiting this long for a collector becomes FAILED; `None`
    /// (the default): never, it heals by itself when one comes back.
    pub fail_after: Option<Duration>,
    /// Ended tasks stay in the history this long.
    pub history: Duration,
    pub request_timeout: Duration,
    pub hadoop_conf_dir: Option<PathBuf>,
    /// Destinations must lie under one of these; empty = any destination.
    pub allowed_dest_roots: Vec<String>,
    pub format: OutputFormat,
    pub csv_header: bool,
    /// What to do with a row that cannot be written (`sink.bad_rows`).
    pub bad_rows: sync_sinks::BadRows,
    pub csv_null: String,
    pub roll_max_rows: u64,
    pub roll_max_bytes: u64,
    pub roll_max_age: Duration,
    /// Bytes of rows all partitions together hold (`sink.memory_limit`).
    pub memory_limit: u64,
    /// Parquet compression (`sink.parquet.compression`).
    pub parquet_compression: sync_core::task::Compression,
    /// Hive-style partitioning of every task that asks for none (`sink.partition_by`).
    pub partition_by: Option<sync_core::task::PartitionBy>,
    /// The time zone of day and hour partitions (`sink.partition.time_zone`).
    pub partition_time_zone: String,
    pub s3_endpoint: Option<String>,
    pub s3_region: String,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<String>,
    /// Standalone mode: the DataCollectors (ip:port, comma-separated).
    pub standalone_collectors: Vec<String>,
    /// Standalone mode: the directory of `<tid>.tableinfo` files.
    pub standalone_metadata_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Syntax {
        path: PathBuf,
        source: PropertiesError,
    },
    #[error("{path}:{line}: unknown key `{key}`")]
    UnknownKey {
        path: PathBuf,
        line: usize,
        key: String,
    },
    #[error("{path}:{line}: `{key}` {problem} (got `{value}`)")]
    BadValue {
        path: PathBuf,
        line: usize,
        key: String,
        value: String,
        problem: String,
    },
    #[error("{path}: `{key}` is required")]
    Missing { path: PathBuf, key: &'static str },
    #[error("{path}: {message}", path = .path.display())]
    Invalid { path: PathBuf, message: String },
}

impl SyncToolConfig {
    /// Reads and validates a properties file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let hadoop_env = std::env::var_os("HADOOP_CONF_DIR").map(PathBuf::from);
        Self::parse(&text, path, hadoop_env)
    }

    /// Parses properties text; `path` names it in errors, `hadoop_conf_env`
    /// is `$HADOOP_CONF_DIR`.
    pub fn parse(
        text: &str,
        path: &Path,
        hadoop_conf_env: Option<PathBuf>,
    ) -> Result<Self, ConfigError> {
        let entries = parse_properties(text).map_err(|source| ConfigError::Syntax {
            path: path.to_path_buf(),
            source,
        })?;
        let reader = Reader { path, entries };
        reader.check_keys()?;

        let server_host = reader.text(&keys::SERVER_HOST).unwrap_or_default();
        let server_port = reader.required_number(&keys::SERVER_PORT)? as u16;
        let advertised_endpoint = match reader.text(&keys::ADVERTISED_ENDPOINT) {
            Some(endpoint) => endpoint,
            None if server_host.is_empty() || server_host == "0.0.0.0" || server_host == "::" => {
                return Err(reader.invalid(format!(
                    "server.host `{server_host}` is not an address collectors can reach; \
                     set server.advertised_endpoint to a routable ip:port (OpenMLDB sent this address to collectors as is)"
                )));
            }
            None => format!("{server_host}:{server_port}"),
        };
        let check_period = Duration::from_secs(reader.required_number(&keys::CHECK_PERIOD)?);
        let task_timeout = match reader.number(&keys::TASK_TIMEOUT)? {
            Some(ms) => Duration::from_millis(ms),
            None => check_period * 2,
        };
        let request_timeout = Duration::from_secs(reader.required_number(&keys::REQUEST_TIMEOUT)?);
        if task_timeout <= request_timeout {
            // An unanswered assignment counts as refused after sync_task.timeout;
            // the call itself may take request.timeout, so a slow but willing
            // collector would make its part FAILED.
            return Err(reader.invalid(format!(
                "sync_task.timeout ({} ms) must be longer than request.timeout ({} s): \
                 an assignment may take that long to be answered",
                task_timeout.as_millis(),
                request_timeout.as_secs()
            )));
        }
        let format = match reader.choice(&keys::SINK_FORMAT)? {
            Some("csv") => OutputFormat::Csv,
            _ => OutputFormat::Parquet,
        };
        let bad_rows = match reader.choice(&keys::BAD_ROWS)? {
            Some(word) => sync_sinks::BadRows::parse(word)
                .ok_or_else(|| reader.bad(&keys::BAD_ROWS, "is no bad-rows policy".into()))?,
            None => sync_sinks::BadRows::Fail,
        };
        let zk_cluster = reader.text(&keys::ZK_CLUSTER).unwrap_or_default();
        let zk_root_path = reader.text(&keys::ZK_ROOT_PATH).unwrap_or_default();
        if !zk_root_path.starts_with('/') {
            return Err(reader.bad(&keys::ZK_ROOT_PATH, "must start with '/'".into()));
        }
        let standalone_collectors = reader.list(&keys::STANDALONE_COLLECTORS);
        let standalone_metadata_dir = reader
            .text(&keys::STANDALONE_METADATA_DIR)
            .map(PathBuf::from);
        if zk_cluster.is_empty() && standalone_metadata_dir.is_none() {
            return Err(reader.invalid(
                "set zookeeper.cluster, or standalone.metadata_dir (and standalone.collectors) to run without ZooKeeper"
                    .into(),
            ));
        }
        Ok(Self {
            server_host,
            server_port,
            advertised_endpoint,
            worker_threads: reader.required_number(&keys::WORKER_THREADS)? as usize,
            zk_cluster,
            zk_root_path,
            zk_cert: reader.text(&keys::ZK_CERT).unwrap_or_default(),
            progress_path: reader
                .text(&keys::PROGRESS_PATH)
                .map(PathBuf::from)
                .ok_or_else(|| reader.missing(&keys::PROGRESS_PATH))?,
            check_period,
            task_timeout,
            fail_after: reader
                .number(&keys::FAIL_AFTER_MS)?
                .map(Duration::from_millis),
            history: Duration::from_millis(reader.required_number(&keys::HISTORY_MS)?),
            request_timeout,
            hadoop_conf_dir: reader
                .text(&keys::HADOOP_CONF_DIR)
                .map(PathBuf::from)
                .or(hadoop_conf_env),
            allowed_dest_roots: reader.list(&keys::ALLOWED_DEST_ROOTS),
            format,
            csv_header: reader.required_boolean(&keys::CSV_HEADER)?,
            bad_rows,
            csv_null: reader.text(&keys::CSV_NULL).unwrap_or_default(),
            roll_max_rows: reader.required_number(&keys::ROLL_MAX_ROWS)?,
            roll_max_bytes: reader.required_number(&keys::ROLL_MAX_BYTES)?,
            roll_max_age: Duration::from_millis(reader.required_number(&keys::ROLL_MAX_AGE_MS)?),
            memory_limit: reader.required_number(&keys::MEMORY_LIMIT)?,
            parquet_compression: match reader.choice(&keys::PARQUET_COMPRESSION)? {
                Some(word) => word.parse().map_err(|_| {
                    reader.bad(&keys::PARQUET_COMPRESSION, "is no compression".into())
                })?,
                None => sync_core::task::Compression::default(),
            },
            partition_by: reader
                .text(&keys::PARTITION_BY)
                .map(|v| v.parse())
                .transpose()
                .map_err(|_| {
                    reader.bad(
                        &keys::PARTITION_BY,
                        "must be day(<column>), hour(<column>) or <column>".into(),
                    )
                })?,
            partition_time_zone: {
                let zone = reader.text(&keys::PARTITION_TIME_ZONE).unwrap_or_default();
                sync_sinks::time_zone::parse_time_zone(&zone).map_err(|_| {
                    reader.bad(
                        &keys::PARTITION_TIME_ZONE,
                        "must be UTC, an offset like +08:00 or an IANA time zone name".into(),
                    )
                })?;
                zone
            },
            s3_endpoint: reader.text(&keys::S3_ENDPOINT),
            s3_region: reader.text(&keys::S3_REGION).unwrap_or_default(),
            s3_access_key_id: reader.text(&keys::S3_ACCESS_KEY_ID),
            s3_secret_access_key: reader.text(&keys::S3_SECRET_ACCESS_KEY),
            standalone_collectors,
            standalone_metadata_dir,
        })
    }

    /// The sink settings: output format, Hadoop conf dir, S3.
    pub fn sink_config(&self) -> sync_sinks::SinkConfig {
        use sync_sinks::{CsvOptions, OutputFormat as Format, ParquetOptions, S3Options};
        let format = match self.format {
            OutputFormat::Csv => Format::Csv(CsvOptions {
                header: self.csv_header,
                null: self.csv_null.clone(),
                ..CsvOptions::default()
            }),
            OutputFormat::Parquet => Format::Parquet(ParquetOptions::default()),
        };
        sync_sinks::SinkConfig {
            format,
            hadoop_conf_dir: self.hadoop_conf_dir.clone(),
            s3: S3Options {
                endpoint: self.s3_endpoint.clone(),
                region: self.s3_region.clone(),
                access_key_id: self.s3_access_key_id.clone(),
                secret_access_key: self.s3_secret_access_key.clone(),
                ..S3Options::default()
            },
            writer: self.writer(),
            bad_rows: self.bad_rows,
            ..sync_sinks::SinkConfig::default()
        }
    }

    /// The output options of a task whose create gives none (the `sink.*` keys).
    pub fn task_defaults(&self) -> sync_core::task::TaskOptions {
        use sync_core::task::{FileFormat, RollPolicy, TaskOptions};
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        TaskOptions {
            format: match self.format {
                OutputFormat::Parquet => FileFormat::Parquet,
                OutputFormat::Csv => FileFormat::Csv,
            },
            csv_header: self.csv_header,
            csv_null: self.csv_null.clone(),
            compression: self.parquet_compression,
            roll: RollPolicy {
                max_rows: self.roll_max_rows,
                max_bytes: self.roll_max_bytes,
                max_age_ms: ms(self.roll_max_age),
            },
            partition_by: self.partition_by.clone(),
            time_zone: self.partition_time_zone.clone(),
        }
    }

    /// Who this SyncTool writes as in its destinations (staged names, commit
    /// records): stable across its restarts, distinct between SyncTools
    /// (a checksum of its advertised endpoint and progress path).
    pub fn writer(&self) -> String {
        let identity = format!(
            "{}\0{}",
            self.advertised_endpoint,
            self.progress_path.display()
        );
        format!("w{:08x}", crc32c::crc32c(identity.as_bytes()))
    }

    /// The address to listen on.
    pub fn listen_address(&self) -> String {
        let host = if self.server_host.is_empty() {
            "0.0.0.0"
        } else {
            &self.server_host
        };
        format!("{host}:{}", self.server_port)
    }
}

struct Reader<'a> {
    path: &'a Path,
    entries: Vec<Property>,
}

impl Reader<'_> {
    fn check_keys(&self) -> Result<(), ConfigError> {
        match self.entries.iter().find(|e| keys::find(&e.key).is_none()) {
            Some(entry) => Err(ConfigError::UnknownKey {
                path: self.path.to_path_buf(),
                line: entry.line,
                key: entry.key.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The last entry for a key (Java's rule), if any.
    fn entry(&self, key: &Key) -> Option<&Property> {
        self.entries.iter().rev().find(|e| e.key == key.name)
    }

    /// The trimmed value the file gives (empty counts as unset), else the
    /// key's default value, if it has one.
    fn raw(&self, key: &Key) -> Option<String> {
        let given = self
            .entry(key)
            .map(|e| e.value.trim().to_string())
            .filter(|v| !v.is_empty());
        match (given, key.default) {
            (Some(v), _) => Some(v),
            (None, keys::DefaultValue::Value(v)) if !v.is_empty() => Some(v.to_string()),
            (None, _) => None,
        }
    }

    fn text(&self, key: &Key) -> Option<String> {
        self.raw(key)
    }

    fn list(&self, key: &Key) -> Vec<String> {
        self.raw(key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn number(&self, key: &Key) -> Result<Option<u64>, ConfigError> {
        let (min, max) = match key.kind {
            keys::Kind::Number { min, max } => (min, max),
            _ => (0, u64::MAX),
        };
        let Some(text) = self.raw(key) else {
            return Ok(None);
        };
        match text.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(self.bad(key, format!("must be a whole number in {min}..={max}"))),
        }
    }

    /// A number the file or the default must give.
    fn required_number(&self, key: &Key) -> Result<u64, ConfigError> {
        self.number(key)?.ok_or_else(|| self.missing(key))
    }

    /// A boolean the file or the default must give.
    fn required_boolean(&self, key: &Key) -> Result<bool, ConfigError> {
        self.boolean(key)?.ok_or_else(|| self.missing(key))
    }

    fn boolean(&self, key: &Key) -> Result<Option<bool>, ConfigError> {
        match self.raw(key).map(|v| v.to_ascii_lowercase()).as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(self.bad(key, "must be true or false".into())),
        }
    }

    /// One of the key's words (any case).
    fn choice(&self, key: &Key) -> Result<Option<&'static str>, ConfigError> {
        let words = match key.kind {
            keys::Kind::Choice(words) => words,
            _ => &[],
        };
        let Some(text) = self.raw(key) else {
            return Ok(None);
        };
        match words.iter().find(|w| w.eq_ignore_ascii_case(&text)) {
            Some(word) => Ok(Some(word)),
            None => Err(self.bad(key, format!("must be one of {}", words.join(", ")))),
        }
    }

    fn bad(&self, key: &Key, problem: String) -> ConfigError {
        let (line, value) = self
            .entry(key)
            .map_or((0, String::new()), |e| (e.line, e.value.clone()));
        ConfigError::BadValue {
            path: self.path.to_path_buf(),
            line,
            key: key.name.to_string(),
            value,
            problem,
        }
    }

    fn missing(&self, key: &Key) -> ConfigError {
        ConfigError::Missing {
            path: self.path.to_path_buf(),
            key: key.name,
        }
    }

    fn invalid(&self, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENMLDB_TEMPLATE: &str = "server.host=127.0.0.1\nserver.port=8848\nzookeeper.cluster=127.0.0.1:2181\n\
        zookeeper.root_path=/openmldb\nsync_task.progress_path=/tmp/sync_task_progress\nhadoop.conf.dir=/etc/hadoop/conf\n";

    fn parse(text: &str) -> Result<SyncToolConfig, ConfigError> {
        SyncToolConfig::parse(text, Path::new("synctool.properties"), None)
    }

    #[test]
    fn a_task_timeout_not_longer_than_the_request_timeout_is_refused() {
        let err = parse(&format!("{OPENMLDB_TEMPLATE}sync_task.timeout=5000\n"))
            .expect_err("5 s is not longer than request.timeout's 5 s");
        assert!(
            err.to_string()
                .contains("must be longer than request.timeout"),
            "{err}"
        );
        let ok = parse(&format!(
            "{OPENMLDB_TEMPLATE}sync_task.timeout=3000\nrequest.timeout=2\n"
        ))
        .expect("3 s > 2 s");
        assert_eq!(ok.task_timeout, Duration::from_millis(3000));
    }

    #[test]
    fn openmldb_template_gets_openmldb_defaults() {
        let config = parse(OPENMLDB_TEMPLATE).expect("valid");
        assert_eq!(config.advertised_endpoint, "127.0.0.1:8848");
        assert_eq!(config.check_period, Duration::from_secs(10));
        assert_eq!(config.task_timeout, Duration::from_secs(20));
        assert_eq!(config.request_timeout, Duration::from_secs(5));
        assert_eq!(
            config.hadoop_conf_dir,
            Some(PathBuf::from("/etc/hadoop/conf"))
        );
        assert_eq!(config.format, OutputFormat::Parquet);
        assert!(config.allowed_dest_roots.is_empty());
        assert_eq!(
            config.fail_after, None,
            "heal by itself unless told otherwise"
        );
        let set = parse(&format!(
            "{OPENMLDB_TEMPLATE}sync_task.fail_after_ms=600000\n"
        ))
        .expect("valid");
        assert_eq!(set.fail_after, Some(Duration::from_secs(600)));
    }

    #[test]
    fn wildcard_host_needs_an_advertised_endpoint() {
        let text = OPENMLDB_TEMPLATE.replace("server.host=127.0.0.1", "server.host=0.0.0.0");
        let err = parse(&text).expect_err("0.0.0.0 is not reachable");
        assert!(
            err.to_string().contains("server.advertised_endpoint"),
            "{err}"
        );
        let config =
            parse(&format!("{text}server.advertised_endpoint=10.0.0.5:8848\n")).expect("valid");
        assert_eq!(config.advertised_endpoint, "10.0.0.5:8848");
        assert_eq!(config.listen_address(), "0.0.0.0:8848");
    }

    #[test]
    fn errors_name_the_line() {
        let err =
            parse(&format!("{OPENMLDB_TEMPLATE}sync_task.chek_period=3\n")).expect_err("typo");
        assert!(
            err.to_string().contains("synctool.properties:7") && err.to_string().contains("chek"),
            "{err}"
        );
        let err = parse(&OPENMLDB_TEMPLATE.replace("8848", "99999")).expect_err("port");
        assert!(
            err.to_string().contains(":2:") && err.to_string().contains("server.port"),
            "{err}"
        );
        let err =
            parse(&OPENMLDB_TEMPLATE.replace("sync_task.progress_path", "#")).expect_err("missing");
        assert!(err.to_string().contains("sync_task.progress_path"), "{err}");
        let err = parse(&format!("{OPENMLDB_TEMPLATE}sink.format=orc\n")).expect_err("format");
        assert!(err.to_string().contains("one of parquet, csv"), "{err}");
    }

    #[test]
    fn task_option_defaults_are_read_and_checked() {
        let c = parse(&format!(
            "{OPENMLDB_TEMPLATE}sink.parquet.compression=zstd\nsink.partition_by=day(ts)\nsink.partition.time_zone=+08:00\n"
        ))
        .expect("valid");
        let d = c.task_defaults();
        assert_eq!(d.compression, sync_core::task::Compression::Zstd);
        assert_eq!(d.partition_by, Some("day(ts)".parse().unwrap()));
        assert_eq!(d.time_zone, "+08:00");
        for (line, key) in [
            ("sink.parquet.compression=lzo", "sink.parquet.compression"),
            ("sink.partition_by=week(ts)", "sink.partition_by"),
            (
                "sink.partition.time_zone=Mars/Base",
                "sink.partition.time_zone",
            ),
        ] {
            let err = parse(&format!("{OPENMLDB_TEMPLATE}{line}\n")).expect_err(line);
            assert!(err.to_string().contains(key), "{err}");
        }
        let plain = parse(OPENMLDB_TEMPLATE).unwrap().task_defaults();
        assert_eq!(plain, sync_core::task::TaskOptions::default());
    }

    #[test]
    fn standalone_mode_and_added_keys() {
        let text = "server.host=127.0.0.1\nserver.port=8848\nsync_task.progress_path=/tmp/p\n\
            standalone.collectors=127.0.0.1:8888, 127.0.0.1:8889\nstandalone.metadata_dir=/tmp/meta\n\
            sync_task.allowed_dest_roots=/data/offline,hdfs://nn:9000/offline\nsink.format=csv\nsink.csv.header=false\n\
            flink.slots=32\n";
        let config = parse(text).expect("valid");
        assert!(config.zk_cluster.is_empty());
        assert_eq!(
            config.standalone_collectors,
            vec!["127.0.0.1:8888", "127.0.0.1:8889"]
        );
        assert_eq!(
            config.allowed_dest_roots,
            vec!["/data/offline", "hdfs://nn:9000/offline"]
        );
        assert_eq!(config.format, OutputFormat::Csv);
        assert!(!config.csv_header);
        let err = parse("server.host=127.0.0.1\nserver.port=1\nsync_task.progress_path=/p\n")
            .expect_err("no cluster");
        assert!(err.to_string().contains("standalone.metadata_dir"), "{err}");
    }
}
