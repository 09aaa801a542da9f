//! Every `synctool.properties` key in one table ([`KEYS`]): its name, how its
//! value is read ([`Kind`]: bounds, choices), its default, whose key it is
//! (OpenMLDB's or added here) and one line for people. The parser in
//! `config.rs` reads values and defaults through it, `synctool --help`
//! prints it ([`help_text`]), and a test checks `conf/synctool.properties`
//! against it; nowhere else spells a key or its default.

/// How a value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any text (trimmed; empty is unset).
    Text,
    /// A whole number in `min..=max`.
    Number { min: u64, max: u64 },
    /// `true` or `false` (any case).
    Bool,
    /// Comma-separated, blanks dropped.
    List,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// Accepted and ignored (OpenMLDB's keys this implementation has no use for).
    Ignored,
}

/// The value a key has when the file does not set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// This text, read as the file's would be.
    Value(&'static str),
    /// Unset (what that means is in the key's doc).
    Unset,
    /// Computed from other keys, as the doc says.
    Derived(&'static str),
    /// The file must set it.
    Required,
}

/// Who defined the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// OpenMLDB's SyncTool has it, with this meaning and default.
    OpenMldb,
    /// Added by this implementation.
    Added,
}

/// One key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub name: &'static str,
    pub kind: Kind,
    pub default: DefaultValue,
    pub origin: Origin,
    pub doc: &'static str,
}

const fn key(
    name: &'static str,
    kind: Kind,
    default: DefaultValue,
    origin: Origin,
    doc: &'static str,
) -> Key {
    Key {
        name,
        kind,
        default,
        origin,
        doc,
    }
}

const fn number(min: u64, max: u64) -> Kind {
    Kind::Number { min, max }
}

use DefaultValue::{Derived, Required, Unset, Value};
use Kind::{Bool, Choice, Ignored, List, Text};
use Origin::{Added, OpenMldb};

pub const SERVER_HOST: Key = key(
    "server.host",
    Text,
    Value(""),
    OpenMldb,
    "address to listen on (empty: every address)",
);
pub const SERVER_PORT: Key = key(
    "server.port",
    number(1, 65535),
    Required,
    OpenMldb,
    "port of gRPC, the HTTP+JSON admin, /status and /metrics",
);
pub const ADVERTISED_ENDPOINT: Key = key(
    "server.advertised_endpoint",
    Text,
    Derived("server.host:server.port; required when server.host is a wildcard"),
    Added,
    "ip:port collectors stream to",
);
pub const WORKER_THREADS: Key = key(
    "server.worker_threads",
    number(1, 1024),
    Value("16"),
    OpenMldb,
    "worker threads of the async runtime",
);
pub const ZK_CLUSTER: Key = key(
    "zookeeper.cluster",
    Text,
    Value(""),
    OpenMldb,
    "ZooKeeper servers (empty: standalone mode, see standalone.*)",
);
pub const ZK_ROOT_PATH: Key = key(
    "zookeeper.root_path",
    Text,
    Value("/openmldb"),
    OpenMldb,
    "the cluster's root path in ZooKeeper (starts with /)",
);
pub const ZK_CERT: Key = key(
    "zookeeper.cert",
    Text,
    Value(""),
    OpenMldb,
    "ZooKeeper digest credentials user:password",
);
pub const STANDALONE_COLLECTORS: Key = key(
    "standalone.collectors",
    List,
    Unset,
    Added,
    "standalone mode: the DataCollectors (ip:port, comma-separated)",
);
pub const STANDALONE_METADATA_DIR: Key = key(
    "standalone.metadata_dir",
    Text,
    Unset,
    Added,
    "standalone mode: the directory of <tid>.tableinfo files",
);
pub const PROGRESS_PATH: Key = key(
    "sync_task.progress_path",
    Text,
    Required,
    OpenMldb,
    "directory of SyncTool's persisted task state",
);
pub const CHECK_PERIOD: Key = key(
    "sync_task.check_period",
    number(1, 86_400),
    Value("10"),
    OpenMldb,
    "seconds between checks of collectors and tablet leaders",
);
pub const TASK_TIMEOUT: Key = key(
    "sync_task.timeout",
    number(1, 86_400_000),
    Derived("2 × sync_task.check_period"),
    Added,
    "ms a part may stay silent before it is reassigned",
);
pub const FAIL_AFTER_MS: Key = key(
    "sync_task.fail_after_ms",
    number(1, u64::MAX),
    Unset,
    Added,
    "ms a part may wait for a collector before it is FAILED (unset: never)",
);
pub const HISTORY_MS: Key = key(
    "sync_task.history_ms",
    number(0, u64::MAX),
    Value("86400000"),
    Added,
    "ms ended tasks stay in the history",
);
pub const ALLOWED_DEST_ROOTS: Key = key(
    "sync_task.allowed_dest_roots",
    List,
    Unset,
    Added,
    "destinations must lie under one of these (unset: any)",
);
pub const REQUEST_TIMEOUT: Key = key(
    "request.timeout",
    number(1, 3600),
    Value("5"),
    OpenMldb,
    "seconds a call to a collector or tablet may take",
);
pub const HADOOP_CONF_DIR: Key = key(
    "hadoop.conf.dir",
    Text,
    Derived("$HADOOP_CONF_DIR"),
    OpenMldb,
    "directory of core-site.xml / hdfs-site.xml",
);
pub const SINK_FORMAT: Key = key(
    "sink.format",
    Choice(&["parquet", "csv"]),
    Value("parquet"),
    Added,
    "format of the offline files",
);
pub const CSV_HEADER: Key = key(
    "sink.csv.header",
    Bool,
    Value("true"),
    Added,
    "CSV files start with a header line",
);
pub const CSV_NULL: Key = key(
    "sink.csv.null",
    Text,
    Value(""),
    Added,
    "how CSV writes NULL",
);
pub const BAD_ROWS: Key = key(
    "sink.bad_rows",
    Choice(&["fail", "skip", "dead_letter"]),
    Value("fail"),
    Added,
    "a row that cannot be written stops its part, is skipped, or goes to _rejected/",
);
pub const ROLL_MAX_ROWS: Key = key(
    "sink.roll.max_rows",
    number(1, u64::MAX),
    Value("1000000"),
    Added,
    "a segment is committed at this many rows",
);
pub const ROLL_MAX_BYTES: Key = key(
    "sink.roll.max_bytes",
    number(1, u64::MAX),
    Value("134217728"),
    Added,
    "… or at this many bytes of rows",
);
pub const MEMORY_LIMIT: Key = key(
    "sink.memory_limit",
    number(1 << 20, u64::MAX),
    Value("268435456"),
    Added,
    "bytes of rows all partitions together hold before their commit",
);
pub const ROLL_MAX_AGE_MS: Key = key(
    "sink.roll.max_age_ms",
    number(1, u64::MAX),
    Value("60000"),
    Added,
    "… or when its oldest row is this many ms old",
);
pub const PARQUET_COMPRESSION: Key = key(
    "sink.parquet.compression",
    Choice(&["none", "snappy", "zstd"]),
    Value("snappy"),
    Added,
    "Parquet column compression",
);
pub const PARTITION_BY: Key = key(
    "sink.partition_by",
    Text,
    Unset,
    Added,
    "Hive-style directories: day(<col>), hour(<col>) or <col> (unset: one directory)",
);
pub const PARTITION_TIME_ZONE: Key = key(
    "sink.partition.time_zone",
    Text,
    Value("UTC"),
    Added,
    "time zone of day/hour partitions: UTC, +08:00 or an IANA name",
);
pub const S3_ENDPOINT: Key = key(
    "s3.endpoint",
    Text,
    Unset,
    Added,
    "S3 endpoint URL (unset: AWS)",
);
pub const S3_REGION: Key = key("s3.region", Text, Value("us-east-1"), Added, "S3 region");
pub const S3_ACCESS_KEY_ID: Key = key(
    "s3.access_key_id",
    Text,
    Unset,
    Added,
    "S3 access key (unset: the AWS environment)",
);
pub const S3_SECRET_ACCESS_KEY: Key =
    key("s3.secret_access_key", Text, Unset, Added, "S3 secret key");

const fn ignored(name: &'static str, doc: &'static str) -> Key {
    key(name, Ignored, Unset, OpenMldb, doc)
}

/// Every key, in the template's order.
pub const KEYS: &[Key] = &[
    SERVER_HOST,
    SERVER_PORT,
    ADVERTISED_ENDPOINT,
    WORKER_THREADS,
    ignored("server.io_threads", "accepted and ignored (brpc-java only)"),
    ignored("user", "accepted and ignored (brpc-java only)"),
    ignored("password", "accepted and ignored (brpc-java only)"),
    ignored(
        "data.cache_path",
        "accepted and ignored (OpenMLDB's Flink cache; its synctool_helper.py reads it)",
    ),
    ignored(
        "flink.slots",
        "accepted and ignored (OpenMLDB's Flink tunnel)",
    ),
    ZK_CLUSTER,
    ZK_ROOT_PATH,
    ZK_CERT,
    STANDALONE_COLLECTORS,
    STANDALONE_METADATA_DIR,
    PROGRESS_PATH,
    CHECK_PERIOD,
    TASK_TIMEOUT,
    FAIL_AFTER_MS,
    HISTORY_MS,
    ALLOWED_DEST_ROOTS,
    REQUEST_TIMEOUT,
    HADOOP_CONF_DIR,
    SINK_FORMAT,
    CSV_HEADER,
    CSV_NULL,
    BAD_ROWS,
    ROLL_MAX_ROWS,
    ROLL_MAX_BYTES,
    ROLL_MAX_AGE_MS,
    MEMORY_LIMIT,
    PARQUET_COMPRESSION,
    PARTITION_BY,
    PARTITION_TIME_ZONE,
    S3_ENDPOINT,
    S3_REGION,
    S3_ACCESS_KEY_ID,
    S3_SECRET_ACCESS_KEY,
];

/// The key called `name`.
pub fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

impl Key {
    /// How the default reads in `--help`.
    fn default_text(&self) -> String {
        match self.default {
            Value("") | Unset => "unset".into(),
            Value(v) => v.into(),
            Derived(how) => how.into(),
            Required => "required".into(),
        }
    }

    /// How the value is read, for `--help`.
    fn kind_text(&self) -> String {
        match self.kind {
            Text => "text".into(),
            Kind::Number { min, max } if max == u64::MAX => format!("integer ≥ {min}"),
            Kind::Number { min, max } => format!("integer {min}..={max}"),
            Bool => "true|false".into(),
            List => "comma-separated".into(),
            Choice(words) => words.join("|"),
            Ignored => "ignored".into(),
        }
    }
}

/// The table as `synctool --help` prints it.
pub fn help_text() -> String {
    let mut out = String::from(
        "synctool.properties keys (OpenMLDB's unless marked [added]; an unknown key is an \
         error; see conf/synctool.properties):\n",
    );
    for k in KEYS {
        let added = if k.origin == Added { " [added]" } else { "" };
        out.push_str(&format!(
            "  {}{added}\n      {} ({}; default: {})\n",
            k.name,
            k.doc,
            k.kind_text(),
            k.default_text()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_default_value_is_valid_for_its_kind() {
        for (i, k) in KEYS.iter().enumerate() {
            assert!(
                KEYS[..i].iter().all(|other| other.name != k.name),
                "{} twice",
                k.name
            );
            let Value(v) = k.default else { continue };
            let ok = match k.kind {
                Text | List | Ignored => true,
                Kind::Number { min, max } => {
                    v.parse::<u64>().is_ok_and(|n| (min..=max).contains(&n))
                }
                Bool => v == "true" || v == "false",
                Choice(words) => words.contains(&v),
            };
            assert!(ok, "{}: default `{v}` does not fit {:?}", k.name, k.kind);
        }
    }

    #[test]
    fn the_help_lists_every_key_with_its_default() {
        let help = help_text();
        for k in KEYS {
            assert!(help.contains(&format!("  {}", k.name)), "{}", k.name);
        }
        assert!(help.contains("sync_task.check_period\n"), "{help}");
        assert!(help.contains("integer 1..=86400; default: 10"), "{help}");
        assert!(help.contains("sink.format [added]"), "{help}");
        assert!(help.contains("parquet|csv; default: parquet"), "{help}");
    }
}
