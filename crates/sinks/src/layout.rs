//! Where things live under a destination `<dest>` (see the crate docs):
//!
//! | path | what |
//! |---|---|
//! | `<dest>/part-<name>.<ext>` | a committed segment, visible to readers |
//! | `<dest>/_staging/<name>.<ext>` | a staged segment (hidden: `_` prefix) |
//! | `<dest>/_staging/<name>.<ext>.tmp` | a staged segment being written (not on S3) |
//! | `<dest>/_sync/<tid>-<pid>-<task>/<seq>.commit` | the commit record of a segment |
//! | `<dest>/_sync/<tid>-<pid>-<task>/<seq>.commit.tmp` | a record being written (not on S3) |
//!
//! `<name>` is [`SegmentId::name`] (`tid-pid-task-seq`, zero-padded, so names
//! sort by seq within a partition task); `<tid>`, `<pid>`, `<task>` and
//! `<seq>` in `_sync` are padded the same way (10, 5, 10 and 12 digits).
//! Paths here are relative to `<dest>`.

use sync_core::task::SegmentId;

/// The hidden staging directory.
pub const STAGING_DIR: &str = "_staging/";
/// The hidden directory of commit records.
pub const SYNC_DIR: &str = "_sync/";
/// Suffix of files being written before their rename.
pub const TMP_SUFFIX: &str = ".tmp";

/// The visible file of a segment.
pub fn visible_path(id: &SegmentId, ext: &str) -> String {
    format!("part-{}.{ext}", id.name())
}

/// The staged file of a segment.
pub fn staging_path(id: &SegmentId, ext: &str) -> String {
    format!("{STAGING_DIR}{}.{ext}", id.name())
}

/// The directory of a partition task's commit records.
pub fn record_dir(tid: u32, pid: u32, task_id: u64) -> String {
    format!("{SYNC_DIR}{tid:010}-{pid:05}-{task_id:010}/")
}

/// The commit record of a segment.
pub fn record_path(id: &SegmentId) -> String {
    format!(
        "{}{:012}.commit",
        record_dir(id.tid, id.pid, id.task_id),
        id.seq
    )
}

/// Parses a staging file name (`<name>.<ext>[.tmp]`, without the directory)
/// back into its segment id.
pub fn parse_staging_name(file: &str) -> Option<SegmentId> {
    let stem = file.split('.').next()?;
    let mut parts = stem.split('-');
    let id = SegmentId {
        tid: parts.next()?.parse().ok()?,
        pid: parts.next()?.parse().ok()?,
        task_id: parts.next()?.parse().ok()?,
        seq: parts.next()?.parse().ok()?,
    };
    parts.next().is_none().then_some(id)
}

/// Parses a record directory name (`<tid>-<pid>-<task>`, no slash).
pub fn parse_record_dir(dir: &str) -> Option<(u32, u32, u64)> {
    let mut parts = dir.trim_end_matches('/').split('-');
    let key = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    parts.next().is_none().then_some(key)
}

/// Parses a record file name (`<seq>.commit` → `Some(seq)`; a `.tmp` → `None`).
pub fn parse_record_name(file: &str) -> Option<u64> {
    file.strip_suffix(".commit")?.parse().ok()
}

/// The last path component (without a trailing slash).
pub fn file_name(path: &str) -> &str {
    let path = path.trim_end_matches('/');
    path.rsplit('/').next().unwrap_or(path)
}

/// Whether a path relative to `<dest>` is visible to readers: no component
/// starts with `_` or `.` (what Spark, Hive and pyarrow datasets skip).
pub fn is_visible(path: &str) -> bool {
    path.split('/')
        .filter(|c| !c.is_empty())
        .all(|c| !c.starts_with('_') && !c.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        let id = SegmentId {
            tid: 7,
            pid: 3,
            task_id: 42,
            seq: 9,
        };
        let staged = staging_path(&id, "csv");
        assert_eq!(
            staged,
            "_staging/0000000007-00003-0000000042-000000000009.csv"
        );
        assert_eq!(parse_staging_name(file_name(&staged)), Some(id));
        assert_eq!(
            parse_staging_name("0000000007-00003-0000000042-000000000009.parquet.tmp"),
            Some(id)
        );
        assert_eq!(parse_staging_name("junk.csv"), None);
        assert_eq!(parse_staging_name("1-2-3-4-5.csv"), None);
        let record = record_path(&id);
        assert_eq!(
            record,
            "_sync/0000000007-00003-0000000042/000000000009.commit"
        );
        assert_eq!(parse_record_name(file_name(&record)), Some(9));
        assert_eq!(parse_record_name("000000000009.commit.tmp"), None);
        assert_eq!(
            parse_record_dir("0000000007-00003-0000000042/"),
            Some((7, 3, 42))
        );
        assert!(is_visible(&visible_path(&id, "csv")));
        assert!(!is_visible(&staged));
        assert!(!is_visible(&record));
        assert!(!is_visible("a/.hidden"));
    }
}
