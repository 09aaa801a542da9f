//! Destination checks at create time: a sync task may only write under one
//! of the configured `sync_task.allowed_dest_roots` (an empty list allows any
//! destination).
//!
//! The destination and every root are first resolved the way the sink will
//! resolve them ([`sync_sinks::dest::resolve`]: the scheme must be known, the
//! path absolute, without `.` or `..`; a bare path follows `fs.defaultFS`),
//! then compared as locations: same store (local fs, the same HDFS NameNode,
//! the same S3 bucket), and the destination's path equal to the root's or
//! below it, component by component. So `file:///data/x` and `/data/x` are
//! the same place when bare paths are local, and `/data/offline2` is not
//! under `/data/offline`. Local paths are compared **after resolving
//! symlinks** (of the longest part that exists), so a symlink inside a root
//! that points outside it is refused.
//!
//! Whether the destination can really be written (host reachable, directory
//! creatable, a probe written and removed) is the sink's
//! `check_destination`, called by the create after this.

use std::path::{Component, Path, PathBuf};

use sync_sinks::{Location, SinkConfig, dest::resolve};

/// The longest destination, database or table name accepted (bytes), so no
/// request can make a status page or a log line megabytes long.
pub const MAX_FIELD_BYTES: usize = 4096;

/// Why a destination is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestError {
    /// Empty destination.
    #[error("destination is empty: pass -d with a path such as /user/openmldb/offline/t1")]
    Empty,
    /// Longer than [`MAX_FIELD_BYTES`].
    #[error("destination is {len} bytes long; at most {MAX_FIELD_BYTES} are accepted")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Not a destination the sink can write (scheme, form).
    #[error("destination `{dest}` is not usable: {reason}")]
    Form {
        /// The destination.
        dest: String,
        /// What is wrong.
        reason: String,
    },
    /// Not under an allowed root.
    #[error(
        "destination `{dest}` is outside the allowed roots ({roots}) set by sync_task.allowed_dest_roots{resolved}"
    )]
    OutsideRoots {
        /// The destination.
        dest: String,
        /// The allowed roots, comma-separated.
        roots: String,
        /// Where it really points, when symlinks moved it.
        resolved: String,
    },
    /// A local path whose existing part cannot be resolved.
    #[error("destination `{dest}`: cannot resolve {path}: {reason}")]
    Unresolvable {
        /// The destination.
        dest: String,
        /// The path that failed.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Checks `dest` (trimmed) against `roots`; returns its resolved location.
pub fn check_dest(dest: &str, roots: &[String], sink: &SinkConfig) -> Result<Location, DestError> {
    let dest = dest.trim();
    if dest.is_empty() {
        return Err(DestError::Empty);
    }
    if dest.len() > MAX_FIELD_BYTES {
        return Err(DestError::TooLong { len: dest.len() });
    }
    let location = resolve(dest, sink).map_err(|e| DestError::Form {
        dest: dest.to_owned(),
        reason: e.to_string(),
    })?;
    let roots: Vec<&String> = roots.iter().filter(|r| !r.trim().is_empty()).collect();
    if roots.is_empty() {
        return Ok(location);
    }
    let real = real_location(dest, &location)?;
    for root in &roots {
        // A root that does not resolve allows nothing (it is reported at start).
        let Ok(root_location) = resolve(root.trim(), sink) else {
            continue;
        };
        let root_real = real_location(root, &root_location).unwrap_or(root_location);
        if within(&real, &root_real) {
            return Ok(location);
        }
    }
    let resolved = match (&location, &real) {
        (Location::Local(asked), Location::Local(really)) if asked != really => {
            format!("; it resolves to {}", really.display())
        }
        _ => String::new(),
    };
    Err(DestError::OutsideRoots {
        dest: dest.to_owned(),
        roots: roots
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        resolved,
    })
}

/// Checks every configured root resolves; the roots that do not, with why.
pub fn unusable_roots(roots: &[String], sink: &SinkConfig) -> Vec<String> {
    roots
        .iter()
        .filter(|r| !r.trim().is_empty())
        .filter_map(|r| resolve(r.trim(), sink).err().map(|e| format!("{r}: {e}")))
        .collect()
}

/// A local location with its symlinks resolved; others as they are.
fn real_location(dest: &str, location: &Location) -> Result<Location, DestError> {
    match location {
        Location::Local(path) => {
            real_path(path)
                .map(Location::Local)
                .map_err(|(path, e)| DestError::Unresolvable {
                    dest: dest.to_owned(),
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })
        }
        other => Ok(other.clone()),
    }
}

/// `path` with the symlinks of its longest existing prefix resolved.
fn real_path(path: &Path) -> Result<PathBuf, (PathBuf, std::io::Error)> {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        match std::fs::symlink_metadata(&existing) {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let Some(name) = existing.file_name().map(ToOwned::to_owned) else {
                    break;
                };
                rest.push(name);
                if !existing.pop() {
                    break;
                }
            }
            Err(e) => return Err((existing, e)),
        }
    }
    let mut real = std::fs::canonicalize(&existing).map_err(|e| (existing.clone(), e))?;
    for name in rest.into_iter().rev() {
        real.push(name);
    }
    Ok(real)
}

/// Whether `dest` is `root` or below it.
fn within(dest: &Location, root: &Location) -> bool {
    match (dest, root) {
        (Location::Local(d), Location::Local(r)) => below(d, r),
        (
            Location::Hdfs {
                name_node: dn,
                path: dp,
            },
            Location::Hdfs {
                name_node: rn,
                path: rp,
            },
        ) => dn.eq_ignore_ascii_case(rn) && below(Path::new(dp), Path::new(rp)),
        (
            Location::S3 {
                bucket: db,
                prefix: dp,
            },
            Location::S3 {
                bucket: rb,
                prefix: rp,
            },
        )
        | (
            Location::Memory {
                area: db,
                prefix: dp,
            },
            Location::Memory {
                area: rb,
                prefix: rp,
            },
        ) => db == rb && below(&Path::new("/").join(dp), &Path::new("/").join(rp)),
        _ => false,
    }
}

/// Component-wise prefix test (`/a/bc` is not below `/a/b`).
fn below(path: &Path, root: &Path) -> bool {
    let (p, r) = (components(path), components(root));
    p.len() >= r.len() && p[..r.len()] == r[..]
}

fn components(p: &Path) -> Vec<Component<'_>> {
    p.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots() -> Vec<String> {
        vec!["/data/offline/".into(), "hdfs://nn:9000/warehouse".into()]
    }

    fn check(dest: &str, roots: &[String]) -> Result<Location, DestError> {
        check_dest(dest, roots, &SinkConfig::default())
    }

    #[test]
    fn accepts_the_root_and_paths_below_it_in_either_form() {
        assert!(check("/data/offline", &roots()).is_ok());
        assert!(check("/data/offline/t1", &roots()).is_ok());
        assert!(check("file:///data/offline/t1", &roots()).is_ok());
        assert!(check("hdfs://nn:9000/warehouse/a/b", &roots()).is_ok());
        assert!(check("/x", &["file:///x".into()]).is_ok());
    }

    #[test]
    fn refuses_siblings_prefixes_other_stores_and_bad_forms() {
        for dest in [
            "/data/offline2/t1",
            "/tmp/x",
            "hdfs://other:9000/warehouse/a",
            "hdfs://nn:9000/warehouse2",
            "s3://b/data/offline",
        ] {
            assert!(
                matches!(check(dest, &roots()), Err(DestError::OutsideRoots { .. })),
                "{dest}"
            );
        }
        for dest in [
            "/data/offline/../etc",
            "ftp://h/x",
            "relative/x",
            "hdfs:///x",
        ] {
            assert!(
                matches!(check(dest, &roots()), Err(DestError::Form { .. })),
                "{dest}"
            );
        }
        assert_eq!(check("  ", &roots()), Err(DestError::Empty));
        let long = format!("/data/offline/{}", "x".repeat(MAX_FIELD_BYTES));
        assert!(matches!(
            check(&long, &roots()),
            Err(DestError::TooLong { .. })
        ));
    }

    #[test]
    fn no_roots_allows_any_usable_destination() {
        assert!(check("/anywhere", &[]).is_ok());
        assert!(check("/a/../b", &[]).is_err());
        assert!(check("ftp://x/y", &[]).is_err());
    }

    #[test]
    fn a_symlink_inside_a_root_pointing_outside_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&root).expect("mkdir");
        std::fs::create_dir_all(&outside).expect("mkdir");
        std::os::unix::fs::symlink(&outside, root.join("escape")).expect("symlink");
        let roots = vec![root.display().to_string()];
        let err = check(&format!("{}/escape/t1", root.display()), &roots).unwrap_err();
        assert!(
            err.to_string().contains("resolves to") && err.to_string().contains("outside"),
            "{err}"
        );
        // A real directory inside, existing or not yet, is fine.
        assert!(check(&format!("{}/t1/new", root.display()), &roots).is_ok());
        // A root that is itself a symlink allows what lies under its target.
        let link_root = tmp.path().join("linkroot");
        std::os::unix::fs::symlink(&root, &link_root).expect("symlink");
        let roots = vec![link_root.display().to_string()];
        assert!(check(&format!("file://{}/t1", root.display()), &roots).is_ok());
    }

    #[test]
    fn error_names_the_roots() {
        let err = check("/tmp/x", &roots()).unwrap_err().to_string();
        assert!(
            err.contains("/data/offline/") && err.contains("allowed_dest_roots"),
            "{err}"
        );
    }
}
