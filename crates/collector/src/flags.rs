//! The DataCollector's configuration, read the way OpenMLDB's gflags binary
//! reads it: a flags file (`--flagfile=conf/data_collector.flags`, one
//! `--key=value` per line, `#` comments) and command-line flags, processed in
//! order so that a later setting wins. Flag names and defaults are OpenMLDB's.
//! Unknown or malformed flags are errors that name the file and line (or the
//! command-line argument); nothing is silently ignored. `--log_level` takes
//! OpenMLDB's glog-style names ([`LogLevel`]: debug, info, warning, error);
//! any other value is such an error, listing the accepted ones.

use std::path::{Path, PathBuf};

use sync_infra::logging::{ACCEPTED_LEVELS, LogLevel};

/// Every setting of the `data_collector` daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorConfig {
    /// `ip:port` to listen on; also the collector's ZooKeeper node name.
    pub endpoint: String,
    /// ZooKeeper servers (`host:port,...`); empty = standalone mode.
    pub zk_cluster: String,
    pub zk_root_path: String,
    pub zk_session_timeout_ms: u64,
    pub zk_keep_alive_check_interval_ms: u64,
    pub zk_auth_schema: String,
    pub zk_cert: String,
    /// Work dir for hard links; must be on the tablet data's filesystem.
    pub collector_datadir: PathBuf,
    /// Bytes of rows per pack sent to SyncTool (a larger single row goes alone).
    pub max_pack_size: u64,
    /// Partition tasks read concurrently.
    pub task_thread_pool_size: u64,
    /// Wait after reaching the end of the data or after a failed send.
    pub sync_task_long_interval_ms: u64,
    /// Wait between packs while data remains (0 = stream without pause).
    pub sync_task_short_interval_ms: u64,
    /// Threads serving RPCs.
    pub thread_pool_size: u64,
    /// Timeout of calls to tablets and to SyncTool.
    pub request_timeout_ms: u64,
    /// Accepted for compatibility: caps the bytes queued for SyncTool per
    /// connection (the in-flight window of packs), where brpc capped its socket buffer.
    pub socket_max_unwritten_bytes: u64,
    pub enable_status_service: bool,
    pub openmldb_log_dir: PathBuf,
    /// The level of this project's own logs (dependencies stay at `warn`;
    /// `RUST_LOG` overrides both). OpenMLDB's default is `debug`.
    pub log_level: LogLevel,
    pub binlog_name_length: u64,
    pub binlog_enable_crc: bool,
    pub max_traverse_cnt: u64,
    /// Added: how often new binlog files are hard-linked, in every phase of
    /// a task (so the tablet's binlog GC cannot take a file not yet read).
    pub link_interval_ms: u64,
    /// Added: when a caught-up task first looks for new binlog entries (the
    /// pause doubles while none come, up to 1 s; they are sent at once; a
    /// heartbeat only every `sync_task_long_interval_ms`).
    pub tail_interval_ms: u64,
    /// Added: how often a dormant task (reassigned, FAILED, a read failure)
    /// asks SyncTool for the committed point, to release what it no longer needs.
    pub probe_interval_ms: u64,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            zk_cluster: String::new(),
            zk_root_path: "/openmldb".into(),
            zk_session_timeout_ms: 2000,
            zk_keep_alive_check_interval_ms: 15000,
            zk_auth_schema: "digest".into(),
            zk_cert: String::new(),
            collector_datadir: "/tmp/openmldb/datacollector".into(),
            max_pack_size: 1024 * 1024,
            task_thread_pool_size: 32,
            sync_task_long_interval_ms: 5000,
            sync_task_short_interval_ms: 1000,
            thread_pool_size: 16,
            request_timeout_ms: 20000,
            socket_max_unwritten_bytes: 64 * 1024 * 1024,
            enable_status_service: false,
            openmldb_log_dir: "./logs".into(),
            log_level: LogLevel::Debug,
            binlog_name_length: 8,
            binlog_enable_crc: false,
            max_traverse_cnt: 0,
            link_interval_ms: 1000,
            tail_interval_ms: 100,
            probe_interval_ms: 10_000,
        }
    }
}

/// Where a flag came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagSource {
    File { path: PathBuf, line: usize },
    CommandLine { position: usize },
}

impl std::fmt::Display for FlagSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlagSource::File { path, line } => write!(f, "{}:{line}", path.display()),
            FlagSource::CommandLine { position } => write!(f, "command-line argument {position}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    #[error("{source_at}: unknown flag `{name}`")]
    Unknown { source_at: FlagSource, name: String },
    #[error("{source_at}: expected `--name=value`, found `{text}`")]
    Malformed { source_at: FlagSource, text: String },
    #[error("{source_at}: flag `{name}` {problem} (got `{value}`)")]
    BadValue {
        source_at: FlagSource,
        name: String,
        value: String,
        problem: &'static str,
    },
    #[error("cannot read flag file {path} ({source_at}): {error}")]
    Read {
        path: PathBuf,
        source_at: FlagSource,
        error: std::io::Error,
    },
    #[error("{source_at}: flag files nest deeper than {MAX_FLAGFILE_DEPTH} (a --flagfile loop?)")]
    TooDeep { source_at: FlagSource },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

const MAX_FLAGFILE_DEPTH: usize = 8;

/// The largest flag file read (a flag file is a few hundred bytes; this keeps
/// `--flagfile=/dev/zero` or a wrong path from filling memory).
const MAX_FLAGFILE_BYTES: u64 = 1024 * 1024;

/// Reads a flag file of at most [`MAX_FLAGFILE_BYTES`].
fn read_flagfile(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_FLAGFILE_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FLAGFILE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_FLAGFILE_BYTES} bytes"
        )));
    }
    Ok(text)
}

impl CollectorConfig {
    /// Reads command-line arguments (without the program name); `--flagfile`
    /// entries are expanded where they stand.
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Result<Self, FlagError> {
        let mut config = CollectorConfig::default();
        for (index, arg) in args.into_iter().enumerate() {
            let source_at = FlagSource::CommandLine {
                position: index + 1,
            };
            config.apply(&arg, source_at, 0)?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Reads one flag file (as `--flagfile=PATH` would).
    pub fn from_flagfile(path: &Path) -> Result<Self, FlagError> {
        Self::from_args([format!("--flagfile={}", path.display())])
    }

    /// Parses a flag file's text, as [`CollectorConfig::from_flagfile`] does
    /// with the file's contents; `path` only names it in errors. A
    /// `--flagfile` line in it still reads that file.
    pub fn from_flagfile_text(text: &str, path: &Path) -> Result<Self, FlagError> {
        let mut config = CollectorConfig::default();
        config.apply_text(text, path, 1)?;
        config.validate()?;
        Ok(config)
    }

    fn apply(&mut self, text: &str, source_at: FlagSource, depth: usize) -> Result<(), FlagError> {
        let (name, value) = split_flag(text).ok_or_else(|| FlagError::Malformed {
            source_at: source_at.clone(),
            text: text.to_string(),
        })?;
        if name == "flagfile" {
            let value = value.unwrap_or_default();
            return self.apply_file(Path::new(value), source_at, depth + 1);
        }
        self.set(name, value).map_err(|problem| match problem {
            SetError::Unknown => FlagError::Unknown {
                source_at,
                name: name.to_string(),
            },
            SetError::Bad(problem) => FlagError::BadValue {
                source_at,
                name: name.to_string(),
                value: value.unwrap_or_default().to_string(),
                problem,
            },
        })
    }

    fn apply_file(
        &mut self,
        path: &Path,
        source_at: FlagSource,
        depth: usize,
    ) -> Result<(), FlagError> {
        if depth > MAX_FLAGFILE_DEPTH {
            return Err(FlagError::TooDeep { source_at });
        }
        let text = read_flagfile(path).map_err(|error| FlagError::Read {
            path: path.to_path_buf(),
            source_at,
            error,
        })?;
        self.apply_text(&text, path, depth)
    }

    /// Applies the lines of a flag file's text (`path` names it in errors).
    fn apply_text(&mut self, text: &str, path: &Path, depth: usize) -> Result<(), FlagError> {
        for (index, line) in text.lines().enumerate() {
            let line_text = line.trim();
            if line_text.is_empty() || line_text.starts_with('#') {
                continue;
            }
            let at = FlagSource::File {
                path: path.to_path_buf(),
                line: index + 1,
            };
            self.apply(line_text, at, depth)?;
        }
        Ok(())
    }

    fn set(&mut self, name: &str, value: Option<&str>) -> Result<(), SetError> {
        match name {
            "endpoint" => self.endpoint = text(value)?,
            "zk_cluster" => self.zk_cluster = text(value)?,
            "zk_root_path" => self.zk_root_path = text(value)?,
            "zk_session_timeout" => self.zk_session_timeout_ms = number(value)?,
            "zk_keep_alive_check_interval" => self.zk_keep_alive_check_interval_ms = number(value)?,
            "zk_auth_schema" => self.zk_auth_schema = text(value)?,
            "zk_cert" => self.zk_cert = text(value)?,
            "collector_datadir" => self.collector_datadir = text(value)?.into(),
            "max_pack_size" => self.max_pack_size = number(value)?,
            "task_thread_pool_size" => self.task_thread_pool_size = number(value)?,
            "sync_task_long_interval_ms" => self.sync_task_long_interval_ms = number(value)?,
            "sync_task_short_interval_ms" => self.sync_task_short_interval_ms = number(value)?,
            "thread_pool_size" => self.thread_pool_size = number(value)?,
            "request_timeout_ms" => self.request_timeout_ms = number(value)?,
            "socket_max_unwritten_bytes" => self.socket_max_unwritten_bytes = number(value)?,
            "enable_status_service" => self.enable_status_service = boolean(value)?,
            "openmldb_log_dir" => self.openmldb_log_dir = text(value)?.into(),
            "log_level" => self.log_level = level(value)?,
            "binlog_name_length" => self.binlog_name_length = number(value)?,
            "binlog_enable_crc" => self.binlog_enable_crc = boolean(value)?,
            "max_traverse_cnt" => self.max_traverse_cnt = number(value)?,
            "link_interval_ms" => self.link_interval_ms = number(value)?,
            "tail_interval_ms" => self.tail_interval_ms = number(value)?,
            "probe_interval_ms" => self.probe_interval_ms = number(value)?,
            // gflags' negated form of a boolean flag: --noname.
            _ => match name.strip_prefix("no") {
                Some(bool_name @ ("enable_status_service" | "binlog_enable_crc"))
                    if value.is_none() =>
                {
                    self.set(bool_name, Some("false"))?
                }
                _ => return Err(SetError::Unknown),
            },
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), FlagError> {
        if self.max_pack_size == 0 {
            return Err(FlagError::Invalid(
                "--max_pack_size must be at least 1".into(),
            ));
        }
        for (name, value) in [
            ("task_thread_pool_size", self.task_thread_pool_size),
            ("link_interval_ms", self.link_interval_ms),
            ("tail_interval_ms", self.tail_interval_ms),
            ("probe_interval_ms", self.probe_interval_ms),
        ] {
            if value == 0 {
                return Err(FlagError::Invalid(format!("--{name} must be at least 1")));
            }
        }
        if !self.zk_root_path.starts_with('/') {
            return Err(FlagError::Invalid(format!(
                "--zk_root_path must start with '/', got `{}`",
                self.zk_root_path
            )));
        }
        Ok(())
    }
}

enum SetError {
    Unknown,
    Bad(&'static str),
}

/// `--name=value`, `-name=value` or a bare `--name`.
fn split_flag(text: &str) -> Option<(&str, Option<&str>)> {
    let body = text.strip_prefix("--").or_else(|| text.strip_prefix('-'))?;
    let (name, value) = match body.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (body, None),
    };
    let valid_name =
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid_name.then_some((name, value))
}

fn text(value: Option<&str>) -> Result<String, SetError> {
    value
        .map(str::to_string)
        .ok_or(SetError::Bad("needs a value"))
}

fn number(value: Option<&str>) -> Result<u64, SetError> {
    value
        .ok_or(SetError::Bad("needs a value"))?
        .trim()
        .parse()
        .map_err(|_| SetError::Bad("needs a non-negative integer"))
}

fn level(value: Option<&str>) -> Result<LogLevel, SetError> {
    value
        .ok_or(SetError::Bad(ACCEPTED_LEVELS))?
        .parse()
        .map_err(|_| SetError::Bad(ACCEPTED_LEVELS))
}

fn boolean(value: Option<&str>) -> Result<bool, SetError> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("true" | "1" | "yes" | "t" | "y") => Ok(true),
        Some("false" | "0" | "no" | "f" | "n") => Ok(false),
        Some(_) => Err(SetError::Bad("needs true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_shipped_template_parses() {
        let template =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conf/data_collector.flags");
        let config = CollectorConfig::from_flagfile(&template).expect("conf template is valid");
        assert_eq!(config.endpoint, "127.0.0.1:8888");
        assert_eq!(config.zk_cluster, "127.0.0.1:2181");
        assert_eq!(config.log_level, LogLevel::Info);
    }

    #[test]
    fn defaults_are_openmldbs() {
        let config = CollectorConfig::from_args(Vec::new()).expect("defaults are valid");
        assert_eq!(config.max_pack_size, 1_048_576);
        assert_eq!(config.request_timeout_ms, 20_000);
        assert_eq!(config.zk_root_path, "/openmldb");
        assert_eq!(
            config.collector_datadir,
            PathBuf::from("/tmp/openmldb/datacollector")
        );
        assert_eq!(config.sync_task_long_interval_ms, 5000);
        assert!(!config.enable_status_service);
        assert_eq!(config.log_level, LogLevel::Debug);
        assert_eq!(config.link_interval_ms, 1000);
        assert_eq!(config.tail_interval_ms, 100);
        assert_eq!(config.probe_interval_ms, 10_000);
    }

    #[test]
    fn flagfile_then_command_line_later_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("data_collector.flags");
        std::fs::write(
            &file,
            "# comment\n--endpoint=127.0.0.1:8888\n\n--enable_status_service=true\n--max_pack_size=2048\n  -zk_cluster=127.0.0.1:2181\n",
        )
        .expect("write");
        let config = CollectorConfig::from_args(args(&[
            &format!("--flagfile={}", file.display()),
            "--max_pack_size=4096",
            "--nobinlog_enable_crc",
        ]))
        .expect("valid");
        assert_eq!(config.endpoint, "127.0.0.1:8888");
        assert_eq!(config.zk_cluster, "127.0.0.1:2181");
        assert!(config.enable_status_service);
        assert_eq!(config.max_pack_size, 4096);
        assert!(!config.binlog_enable_crc);
    }

    #[test]
    fn errors_name_the_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("bad.flags");
        std::fs::write(&file, "--endpoint=127.0.0.1:1\n--max_pakc_size=1\n").expect("write");
        let err = CollectorConfig::from_flagfile(&file).expect_err("unknown flag");
        let text = err.to_string();
        assert!(
            text.contains("bad.flags:2") && text.contains("max_pakc_size"),
            "{text}"
        );

        std::fs::write(&file, "--max_pack_size=big\n").expect("write");
        let text = CollectorConfig::from_flagfile(&file)
            .expect_err("bad value")
            .to_string();
        assert!(
            text.contains("bad.flags:1") && text.contains("non-negative integer"),
            "{text}"
        );

        std::fs::write(&file, "endpoint=1\n").expect("write");
        let text = CollectorConfig::from_flagfile(&file)
            .expect_err("malformed")
            .to_string();
        assert!(
            text.contains("bad.flags:1") && text.contains("--name=value"),
            "{text}"
        );

        let text = CollectorConfig::from_args(args(&["--enable_status_service=maybe"]))
            .expect_err("bad bool")
            .to_string();
        assert!(text.contains("command-line argument 1"), "{text}");
    }

    #[test]
    fn log_levels_are_openmldbs_and_an_unknown_one_is_an_error() {
        for (text, level) in [
            ("debug", LogLevel::Debug),
            ("info", LogLevel::Info),
            ("warning", LogLevel::Warning),
            ("WARN", LogLevel::Warning),
            ("error", LogLevel::Error),
        ] {
            let config = CollectorConfig::from_args(args(&[&format!("--log_level={text}")]))
                .expect("an accepted level");
            assert_eq!(config.log_level, level, "{text}");
        }

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("levels.flags");
        std::fs::write(&file, "--endpoint=127.0.0.1:1\n--log_level=verbose\n").expect("write");
        let err = CollectorConfig::from_flagfile(&file).expect_err("verbose is no level");
        let text = err.to_string();
        assert!(
            text.contains("levels.flags:2")
                && text.contains("`log_level`")
                && text.contains("`verbose`"),
            "{text}"
        );
        for accepted in ["debug", "info", "warning", "error"] {
            assert!(text.contains(accepted), "{text}");
        }
        let err = CollectorConfig::from_args(args(&["--log_level"])).expect_err("no value");
        assert!(err.to_string().contains("command-line argument 1"), "{err}");
    }

    #[test]
    fn missing_and_looping_flagfiles_are_errors() {
        let err = CollectorConfig::from_args(args(&["--flagfile=/nonexistent.flags"]))
            .expect_err("missing");
        assert!(err.to_string().contains("/nonexistent.flags"), "{err}");

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("loop.flags");
        std::fs::write(&file, format!("--flagfile={}\n", file.display())).expect("write");
        let err = CollectorConfig::from_flagfile(&file).expect_err("loop");
        assert!(matches!(err, FlagError::TooDeep { .. }), "{err}");
    }

    #[test]
    fn invalid_combinations_are_rejected() {
        assert!(CollectorConfig::from_args(args(&["--max_pack_size=0"])).is_err());
        assert!(CollectorConfig::from_args(args(&["--zk_root_path=openmldb"])).is_err());
        assert!(CollectorConfig::from_args(args(&["--link_interval_ms=0"])).is_err());
        assert!(CollectorConfig::from_args(args(&["--probe_interval_ms=0"])).is_err());
        assert!(CollectorConfig::from_args(args(&["--tail_interval_ms=0"])).is_err());
    }

    #[test]
    fn flagfile_text_reads_like_the_file() {
        let text = "# comment\n\n  --endpoint=127.0.0.1:1  \n--binlog_enable_crc\n";
        let config =
            CollectorConfig::from_flagfile_text(text, Path::new("x.flags")).expect("valid text");
        assert_eq!(config.endpoint, "127.0.0.1:1");
        assert!(config.binlog_enable_crc);
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("same.flags");
        std::fs::write(&file, text).expect("write");
        assert_eq!(
            CollectorConfig::from_flagfile(&file).expect("valid file"),
            config
        );
        let err = CollectorConfig::from_flagfile_text("--bogus=1\n", Path::new("x.flags"))
            .expect_err("unknown");
        assert!(err.to_string().contains("x.flags:1"), "{err}");
    }

    #[test]
    fn oversized_flagfiles_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("big.flags");
        let line = "# padding padding padding padding padding padding padding padding\n";
        let big = line.repeat((MAX_FLAGFILE_BYTES as usize) / line.len() + 1);
        std::fs::write(&file, big).expect("write");
        let err = CollectorConfig::from_flagfile(&file).expect_err("too large");
        assert!(err.to_string().contains("larger than"), "{err}");
    }
}
