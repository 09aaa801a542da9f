//! How the daemons (`data_collector`, `synctool`) and `synctool_helper` log:
//! one place that turns OpenMLDB's `log_level` values into a `tracing`
//! filter and decides whether the output may carry colour codes.
//!
//! * **Levels.** OpenMLDB's DataCollector takes glog-style names in
//!   `--log_level`: `debug`, `info`, `warning`, `error` ([`LogLevel`]; `warn`
//!   is accepted for `warning`, case does not matter). Any other value is an
//!   error ([`UnknownLogLevel`]) that the caller reports at start-up with the
//!   flag's name, never a silent fallback.
//! * **Whose logs.** The level applies to this project's crates only
//!   ([`OUR_TARGETS`]); every dependency (h2, hyper, tonic, opendal, the
//!   ZooKeeper client, …) stays at `warn`, so `debug` shows our decisions and
//!   not HTTP/2 frames ([`directives`]).
//! * **`RUST_LOG` wins.** When `RUST_LOG` is set (and not empty) it is the
//!   whole filter, in `tracing_subscriber::EnvFilter` syntax (for example
//!   `RUST_LOG=info,h2=debug`); a value it cannot parse is a start-up error
//!   too ([`LogSetupError::BadRustLog`]).
//! * **Colour.** ANSI colour codes only when the output is a terminal (and
//!   `NO_COLOR` is not set): a log appended to a file (`bin/start.sh` writes
//!   `logs/<name>.log`) or read through a pipe is plain text ([`use_ansi`]).

use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::EnvFilter;

/// The `tracing` targets of this project's crates (a target matches when it
/// starts with one of these: `synctool` also covers `synctool_helper`,
/// `tablet_emu` the `tablet_emulator` binary).
pub const OUR_TARGETS: &[&str] = &[
    "data_collector",
    "synctool",
    "sync_core",
    "sync_infra",
    "sync_proto",
    "sync_sinks",
    "tablet_emu",
];

/// The level every dependency logs at unless `RUST_LOG` says otherwise.
pub const DEPENDENCY_LEVEL: &str = "warn";

/// What an unknown level is told, after the flag's name: the accepted values.
pub const ACCEPTED_LEVELS: &str = "needs one of debug, info, warning (or warn), error";

/// A `log_level` value, as OpenMLDB spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warning,
    Error,
}

/// A `log_level` value that is none of [`LogLevel`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log level `{value}`: {ACCEPTED_LEVELS}")]
pub struct UnknownLogLevel {
    /// The value as given.
    pub value: String,
}

impl FromStr for LogLevel {
    type Err = UnknownLogLevel;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "debug" => Ok(LogLevel::Debug),
            "info" => Ok(LogLevel::Info),
            "warning" | "warn" => Ok(LogLevel::Warning),
            "error" => Ok(LogLevel::Error),
            _ => Err(UnknownLogLevel {
                value: text.to_string(),
            }),
        }
    }
}

impl LogLevel {
    /// The level's name in a `tracing` filter directive.
    pub fn tracing_name(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warn",
            LogLevel::Error => "error",
        }
    }
}

impl std::fmt::Display for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
        })
    }
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LogSetupError {
    /// `RUST_LOG` is set to something `EnvFilter` cannot parse.
    #[error("RUST_LOG `{value}` is not a valid filter: {reason}")]
    BadRustLog { value: String, reason: String },
}

/// The filter directives for `level` without `RUST_LOG`: dependencies at
/// [`DEPENDENCY_LEVEL`], this project's crates at `level`.
pub fn directives(level: LogLevel) -> String {
    let mut text = String::from(DEPENDENCY_LEVEL);
    for target in OUR_TARGETS {
        text.push(',');
        text.push_str(target);
        text.push('=');
        text.push_str(level.tracing_name());
    }
    text
}

/// The filter: `rust_log` when it is set and not blank, else
/// [`directives`]`(level)`.
pub fn filter(level: LogLevel, rust_log: Option<&str>) -> Result<EnvFilter, LogSetupError> {
    match rust_log.map(str::trim).filter(|v| !v.is_empty()) {
        Some(value) => EnvFilter::try_new(value).map_err(|e| LogSetupError::BadRustLog {
            value: value.to_string(),
            reason: e.to_string(),
        }),
        // Our own directives always parse; the error arm keeps it typed.
        None => {
            let text = directives(level);
            EnvFilter::try_new(&text).map_err(|e| LogSetupError::BadRustLog {
                value: text.clone(),
                reason: e.to_string(),
            })
        }
    }
}

/// Whether to write colour codes: only to a terminal, and not when
/// `NO_COLOR` is set (to anything but the empty string; no-color.org).
pub fn use_ansi(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutput {
    /// Standard output (the daemons: `bin/start.sh` appends it to the log file).
    Stdout,
    /// Standard error (the helper, whose standard output is its answer).
    Stderr,
}

/// Installs the global subscriber: [`filter`] with `$RUST_LOG`, colour per
/// [`use_ansi`] for `output`. A second call in the same process keeps the
/// first subscriber.
pub fn init(level: LogLevel, output: LogOutput) -> Result<(), LogSetupError> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = filter(level, rust_log.as_deref())?;
    let no_color = std::env::var_os("NO_COLOR");
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // `try_init` fails only when a subscriber is already installed: keep it.
    let _ = match output {
        LogOutput::Stdout => builder
            .with_ansi(use_ansi(
                std::io::stdout().is_terminal(),
                no_color.as_deref(),
            ))
            .with_writer(std::io::stdout)
            .try_init(),
        LogOutput::Stderr => builder
            .with_ansi(use_ansi(
                std::io::stderr().is_terminal(),
                no_color.as_deref(),
            ))
            .with_writer(std::io::stderr)
            .try_init(),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn openmldb_levels_parse_and_others_are_refused() {
        let cases = [
            ("debug", LogLevel::Debug),
            ("info", LogLevel::Info),
            ("INFO", LogLevel::Info),
            ("warning", LogLevel::Warning),
            ("warn", LogLevel::Warning),
            ("error", LogLevel::Error),
        ];
        for (text, level) in cases {
            assert_eq!(text.parse::<LogLevel>(), Ok(level), "{text}");
        }
        for bad in ["verbose", "", "trace", "off", "2"] {
            let err = bad.parse::<LogLevel>().expect_err(bad);
            let text = err.to_string();
            assert!(text.contains(&format!("`{bad}`")), "{text}");
            for accepted in ["debug", "info", "warning", "error"] {
                assert!(text.contains(accepted), "{text}");
            }
        }
    }

    #[test]
    fn the_level_applies_to_our_crates_and_dependencies_stay_at_warn() {
        assert_eq!(
            directives(LogLevel::Debug),
            "warn,data_collector=debug,synctool=debug,sync_core=debug,sync_infra=debug,\
             sync_proto=debug,sync_sinks=debug,tablet_emu=debug"
        );
        let lines = logged(filter(LogLevel::Debug, None).expect("valid"));
        assert_eq!(
            lines,
            [
                "DEBUG data_collector::task: ours debug",
                "DEBUG synctool_helper: helper debug",
                "DEBUG sync_sinks::store: sinks debug",
                " WARN h2::codec: dependency warn",
            ]
        );
        let lines = logged(filter(LogLevel::Warning, None).expect("valid"));
        assert_eq!(lines, [" WARN h2::codec: dependency warn"]);
    }

    #[test]
    fn rust_log_wins_and_a_bad_one_is_an_error() {
        let lines = logged(filter(LogLevel::Error, Some("h2=debug")).expect("valid"));
        assert_eq!(
            lines,
            [
                "DEBUG h2::codec: dependency debug",
                " WARN h2::codec: dependency warn"
            ]
        );
        let blank = logged(filter(LogLevel::Warning, Some("  ")).expect("valid"));
        assert_eq!(blank, [" WARN h2::codec: dependency warn"], "blank = unset");
        let err = filter(LogLevel::Info, Some("data_collector=loud")).expect_err("bad");
        assert!(
            err.to_string().contains("RUST_LOG `data_collector=loud`"),
            "{err}"
        );
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_ansi(true, None));
        assert!(!use_ansi(false, None));
        assert!(!use_ansi(true, Some(OsStr::new("1"))));
        assert!(use_ansi(true, Some(OsStr::new(""))));
    }

    /// The lines a fixed set of events produce through `filter` (no time, no colour).
    fn logged(filter: EnvFilter) -> Vec<String> {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .without_time()
            .with_writer(buffer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "data_collector::task", "ours debug");
            tracing::debug!(target: "synctool_helper", "helper debug");
            tracing::debug!(target: "sync_sinks::store", "sinks debug");
            tracing::debug!(target: "h2::codec", "dependency debug");
            tracing::warn!(target: "h2::codec", "dependency warn");
        });
        let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
        text.lines().map(str::to_string).collect()
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }
}
