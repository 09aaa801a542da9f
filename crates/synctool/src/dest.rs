//! Destination checks: a sync task may only write under one of the configured
//! `sync_task.allowed_dest_roots` (an empty list allows any destination).
//!
//! A destination is compared textually after removing trailing `/`: it must
//! equal a root or continue it with `/`, and it may not contain `..` or `.`
//! path segments (which could climb out of a root).

/// Why a destination is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestError {
    /// Empty destination.
    #[error("destination is empty: pass -d with a path such as /user/openmldb/offline/t1")]
    Empty,
    /// A `.` or `..` segment.
    #[error("destination `{0}` contains a `.` or `..` path segment")]
    DotSegment(String),
    /// Not under an allowed root.
    #[error(
        "destination `{dest}` is outside the allowed roots ({roots}) set by sync_task.allowed_dest_roots"
    )]
    OutsideRoots {
        /// The destination.
        dest: String,
        /// The allowed roots, comma-separated.
        roots: String,
    },
}

/// Checks `dest` against `roots`.
pub fn check_dest(dest: &str, roots: &[String]) -> Result<(), DestError> {
    let dest = dest.trim();
    if dest.is_empty() {
        return Err(DestError::Empty);
    }
    let path = strip_scheme(dest);
    if path.split('/').any(|seg| seg == ".." || seg == ".") {
        return Err(DestError::DotSegment(dest.to_string()));
    }
    if roots.is_empty() {
        return Ok(());
    }
    let dest_trimmed = dest.trim_end_matches('/');
    let allowed = roots.iter().any(|root| {
        let root = root.trim().trim_end_matches('/');
        if root.is_empty() {
            return true;
        }
        dest_trimmed == root
            || dest_trimmed
                .strip_prefix(root)
                .is_some_and(|rest| rest.starts_with('/'))
    });
    if allowed {
        Ok(())
    } else {
        Err(DestError::OutsideRoots {
            dest: dest.to_string(),
            roots: roots.join(", "),
        })
    }
}

/// The path part of `scheme://authority/path`, or the whole text.
fn strip_scheme(dest: &str) -> &str {
    match dest.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => dest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots() -> Vec<String> {
        vec!["/data/offline/".into(), "hdfs://nn:9000/warehouse".into()]
    }

    #[test]
    fn accepts_the_root_and_paths_below_it() {
        assert_eq!(check_dest("/data/offline", &roots()), Ok(()));
        assert_eq!(check_dest("/data/offline/t1", &roots()), Ok(()));
        assert_eq!(check_dest("hdfs://nn:9000/warehouse/a/b", &roots()), Ok(()));
    }

    #[test]
    fn refuses_siblings_prefixes_and_dot_segments() {
        assert!(matches!(
            check_dest("/data/offline2/t1", &roots()),
            Err(DestError::OutsideRoots { .. })
        ));
        assert!(matches!(
            check_dest("/tmp/x", &roots()),
            Err(DestError::OutsideRoots { .. })
        ));
        assert!(matches!(
            check_dest("/data/offline/../etc", &roots()),
            Err(DestError::DotSegment(_))
        ));
        assert_eq!(check_dest("  ", &roots()), Err(DestError::Empty));
    }

    #[test]
    fn no_roots_allows_any_path_but_not_dot_segments() {
        assert_eq!(check_dest("/anywhere", &[]), Ok(()));
        assert!(check_dest("/a/../b", &[]).is_err());
    }

    #[test]
    fn error_names_the_roots() {
        let err = check_dest("/tmp/x", &roots()).unwrap_err().to_string();
        assert!(
            err.contains("/data/offline/") && err.contains("allowed_dest_roots"),
            "{err}"
        );
    }
}
