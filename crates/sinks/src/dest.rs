//! Destinations: the `dest` string of a table task, resolved to a store.
//!
//! | form | store |
//! |---|---|
//! | `file:///abs/path` | local filesystem |
//! | `hdfs://host:port/path` | HDFS (hdfs-native) |
//! | `s3://bucket/path` (or `s3a://`) | S3, endpoint/region/keys from [`S3Options`] |
//! | `memory://area/path` | an in-memory area of this process (see [`crate::forget_memory_area`]), for tests and the simulation |
//! | `/abs/path` | `fs.defaultFS` from `core-site.xml` in [`SinkConfig::hadoop_conf_dir`] (or `$HADOOP_CONF_DIR` with [`SinkConfig::with_env`]) if it names `hdfs://…`, as OpenMLDB does; else the local filesystem |
//!
//! Relative paths and `..` / `.` components are rejected; trailing slashes
//! are ignored.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::SinkError;
use crate::format::OutputFormat;

/// S3 connection settings (the bucket comes from the destination).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Options {
    /// Endpoint URL, e.g. `http://127.0.0.1:9000`; `None`: AWS's.
    pub endpoint: Option<String>,
    /// Region.
    pub region: String,
    /// Access key id; `None`: anonymous unless the environment gives one.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
    /// Virtual-host-style addressing (`bucket.host`) instead of path style.
    pub virtual_host_style: bool,
}

impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            endpoint: None,
            region: "us-east-1".to_owned(),
            access_key_id: None,
            secret_access_key: None,
            virtual_host_style: false,
        }
    }
}

/// The default of [`SinkConfig::check_timeout`].
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// How the sink writes and where bare paths go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkConfig {
    /// Format of the visible files.
    pub format: OutputFormat,
    /// Hadoop configuration directory (`core-site.xml`) for bare paths.
    pub hadoop_conf_dir: Option<PathBuf>,
    /// S3 settings.
    pub s3: S3Options,
    /// How long [`crate::Sink::check_destination`] may take before it
    /// refuses the destination as unreachable ([`DEFAULT_CHECK_TIMEOUT`]).
    pub check_timeout: Duration,
    /// Who this sink writes as: part of staged file names and commit
    /// records, so two SyncTools writing one destination never publish or
    /// remove each other's staged files. Stable across the writer's restarts
    /// (so it cleans up its own leftovers); `[a-z0-9-]` only
    /// ([`crate::layout::writer_name`]).
    pub writer: String,
    /// What to do with a row that cannot be written (`sink.bad_rows`).
    pub bad_rows: crate::format::BadRows,
    /// Where blocking work runs (encoding, local-file I/O): tokio's blocking
    /// threads, or inline for the deterministic simulation.
    pub offload: crate::Offload,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            format: OutputFormat::default(),
            hadoop_conf_dir: None,
            s3: S3Options::default(),
            check_timeout: DEFAULT_CHECK_TIMEOUT,
            writer: "w".into(),
            bad_rows: crate::format::BadRows::Fail,
            offload: crate::Offload::Threads,
        }
    }
}

impl SinkConfig {
    /// Fills [`SinkConfig::hadoop_conf_dir`] from `$HADOOP_CONF_DIR` when unset.
    pub fn with_env(mut self) -> Self {
        if self.hadoop_conf_dir.is_none() {
            self.hadoop_conf_dir = std::env::var_os("HADOOP_CONF_DIR").map(PathBuf::from);
        }
        self
    }
}

/// A resolved destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local directory (absolute).
    Local(PathBuf),
    /// An HDFS directory.
    Hdfs {
        /// `hdfs://host:port`.
        name_node: String,
        /// Absolute path, no trailing slash (`/` for the root).
        path: String,
    },
    /// An S3 prefix.
    S3 {
        /// The bucket.
        bucket: String,
        /// The prefix inside it, no leading or trailing slash (may be empty).
        prefix: String,
    },
    /// A prefix in an in-memory area.
    Memory {
        /// The area's name.
        area: String,
        /// The prefix inside it, no leading or trailing slash (may be empty).
        prefix: String,
    },
}

/// The schemes [`resolve`] knows, for messages.
const EXPECTED: &str = "expected file:///path, hdfs://host:port/path, s3://bucket/path, memory://area/path or an absolute path";

/// Resolves `dest` per the module docs.
pub fn resolve(dest: &str, config: &SinkConfig) -> Result<Location, SinkError> {
    let bad = |reason: &str| SinkError::BadDestination {
        dest: dest.to_owned(),
        reason: reason.to_owned(),
    };
    if let Some(rest) = dest.strip_prefix("file://") {
        return Ok(Location::Local(PathBuf::from(clean_abs(rest).ok_or_else(
            || bad("file:// needs an absolute path without . or .."),
        )?)));
    }
    if let Some(rest) = dest.strip_prefix("hdfs://") {
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.is_empty() {
            return Err(bad("hdfs:// needs a name node (hdfs://host:port/path)"));
        }
        let path = clean_abs(if path.is_empty() { "/" } else { path })
            .ok_or_else(|| bad("path with . or .."))?;
        return Ok(Location::Hdfs {
            name_node: format!("hdfs://{authority}"),
            path,
        });
    }
    if let Some(rest) = dest
        .strip_prefix("s3://")
        .or_else(|| dest.strip_prefix("s3a://"))
    {
        let (bucket, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if bucket.is_empty() {
            return Err(bad("s3:// needs a bucket (s3://bucket/prefix)"));
        }
        let prefix = clean_abs(if path.is_empty() { "/" } else { path })
            .ok_or_else(|| bad("path with . or .."))?;
        return Ok(Location::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_start_matches('/').to_owned(),
        });
    }
    if let Some(rest) = dest.strip_prefix("memory://") {
        let (area, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if area.is_empty() {
            return Err(bad("memory:// needs an area (memory://area/path)"));
        }
        let prefix = clean_abs(if path.is_empty() { "/" } else { path })
            .ok_or_else(|| bad("path with . or .."))?;
        return Ok(Location::Memory {
            area: area.to_owned(),
            prefix: prefix.trim_start_matches('/').to_owned(),
        });
    }
    if dest.starts_with('/') {
        let path = clean_abs(dest).ok_or_else(|| bad("path with . or .."))?;
        if let Some(dir) = &config.hadoop_conf_dir
            && let Some(default_fs) = default_fs(dir)?
        {
            if let Some(authority) = default_fs.strip_prefix("hdfs://") {
                let authority = authority.trim_end_matches('/');
                return Ok(Location::Hdfs {
                    name_node: format!("hdfs://{authority}"),
                    path,
                });
            }
            if !default_fs.starts_with("file:") {
                return Err(bad(&format!(
                    "fs.defaultFS {default_fs:?} is neither hdfs:// nor file://"
                )));
            }
        }
        return Ok(Location::Local(PathBuf::from(path)));
    }
    if let Some((scheme, _)) = dest.split_once("://") {
        return Err(bad(&format!("unknown scheme {scheme}://; {EXPECTED}")));
    }
    Err(bad(EXPECTED))
}

/// `path` normalised: absolute, no empty, `.` or `..` components, no
/// trailing slash (except the root).
fn clean_abs(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return None;
    }
    let mut out = String::new();
    for c in path.split('/').filter(|c| !c.is_empty()) {
        if c == "." || c == ".." {
            return None;
        }
        out.push('/');
        out.push_str(c);
    }
    Some(if out.is_empty() { "/".to_owned() } else { out })
}

/// `fs.defaultFS` (or the old `fs.default.name`) from `dir/core-site.xml`;
/// `None` if the file or the property is absent.
pub fn default_fs(dir: &Path) -> Result<Option<String>, SinkError> {
    let path = dir.join("core-site.xml");
    let xml = match std::fs::read_to_string(&path) {
        Ok(xml) => xml,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(SinkError::HadoopConfig {
                path: path.display().to_string(),
                reason: e.to_string(),
            });
        }
    };
    let mut found = None;
    for prop in xml.split("<property>").skip(1) {
        let prop = prop.split("</property>").next().unwrap_or("");
        let name = element(prop, "name");
        if matches!(name, Some("fs.defaultFS") | Some("fs.default.name")) {
            found = element(prop, "value").map(str::to_owned);
            if name == Some("fs.defaultFS") {
                break;
            }
        }
    }
    Ok(found)
}

/// The trimmed text of the first `<tag>…</tag>` in `xml`.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    Some(xml[start..start + len].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let c = SinkConfig::default();
        assert_eq!(
            resolve("file:///tmp/x/", &c).ok(),
            Some(Location::Local("/tmp/x".into()))
        );
        assert_eq!(
            resolve("hdfs://nn:9000/a/b", &c).ok(),
            Some(Location::Hdfs {
                name_node: "hdfs://nn:9000".into(),
                path: "/a/b".into()
            })
        );
        assert_eq!(
            resolve("s3://bkt/p/q/", &c).ok(),
            Some(Location::S3 {
                bucket: "bkt".into(),
                prefix: "p/q".into()
            })
        );
        assert_eq!(
            resolve("s3://bkt", &c).ok(),
            Some(Location::S3 {
                bucket: "bkt".into(),
                prefix: String::new()
            })
        );
        assert_eq!(
            resolve("/data/out", &c).ok(),
            Some(Location::Local("/data/out".into()))
        );
        assert_eq!(
            resolve("memory://sim-1/out/t1", &c).ok(),
            Some(Location::Memory {
                area: "sim-1".into(),
                prefix: "out/t1".into()
            })
        );
        assert_eq!(
            resolve("memory://a", &c).ok(),
            Some(Location::Memory {
                area: "a".into(),
                prefix: String::new()
            })
        );
        match resolve("ftp://x/y", &c) {
            Err(e) => assert!(e.to_string().contains("unknown scheme ftp://"), "{e}"),
            Ok(l) => panic!("ftp resolved to {l:?}"),
        }
        for bad in [
            "relative/x",
            "/a/../b",
            "hdfs:///x",
            "s3:///x",
            "ftp://x/y",
            "memory:///x",
            "memory://a/../b",
            "",
        ] {
            assert!(resolve(bad, &c).is_err(), "{bad}");
        }
    }

    #[test]
    fn bare_path_follows_core_site() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = SinkConfig {
            hadoop_conf_dir: Some(dir.path().to_owned()),
            ..SinkConfig::default()
        };
        // No core-site.xml: local.
        assert_eq!(resolve("/x", &c).ok(), Some(Location::Local("/x".into())));
        std::fs::write(
            dir.path().join("core-site.xml"),
            "<?xml version=\"1.0\"?><configuration>\n<property>\n <name>hadoop.tmp.dir</name><value>/t</value></property>\n<property><name> fs.defaultFS </name>\n<value>hdfs://10.0.0.1:8020/</value></property></configuration>",
        )
        .expect("write");
        assert_eq!(
            resolve("/x/y", &c).ok(),
            Some(Location::Hdfs {
                name_node: "hdfs://10.0.0.1:8020".into(),
                path: "/x/y".into()
            })
        );
        std::fs::write(
            dir.path().join("core-site.xml"),
            "<configuration><property><name>fs.defaultFS</name><value>file:///</value></property></configuration>",
        )
        .expect("write");
        assert_eq!(resolve("/x", &c).ok(), Some(Location::Local("/x".into())));
    }
}
