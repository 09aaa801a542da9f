//! Where things live under a destination `<dest>` (see the crate docs):
//!
//! | path | what |
//! |---|---|
//! | `<dest>/part-<name>.<ext>` | a committed segment, visible to readers |
//! | `<dest>/<key>=<value>/part-<name>.<ext>` | a partitioned segment's rows of one partition (one file per partition it holds rows of) |
//! | `<dest>/_staging/<name>.<writer>.<k>.<ext>.inprogress` | staged file `k` of a partitioned segment |
//! | `<dest>/_staging/<name>.<writer>.files.inprogress` | the visible names of a partitioned segment's staged files, written after them |
//! | `<dest>/_staging/<name>.<writer>.<ext>.inprogress` | a staged segment (hidden: `_` prefix, and no data extension) |
//! | `<dest>/_staging/<name>.<writer>.<ext>.inprogress.<token>.tmp` | a staged segment being written (stores that rename) |
//! | `<dest>/_staging/.probe-<token>…` | probes of [`crate::Sink::check_destination`] |
//! | `<dest>/_sync/<tid>-<pid>-<task>/<seq>.commit` | the commit record of a segment |
//! | `<dest>/_sync/<tid>-<pid>-<task>/<seq>.commit.<token>.tmp` | a record being written (stores that rename) |
//!
//! `<name>` is [`SegmentId::name`] (`tid-pid-task-seq`, zero-padded, so names
//! sort by seq within a partition task); `<tid>`, `<pid>`, `<task>` and
//! `<seq>` in `_sync` are padded the same way (10, 5, 10 and 12 digits).
//! `<token>` is unique per write ([`unique_token`]), so two writers never
//! write the same temporary. `<writer>` names the SyncTool that staged the
//! file ([`crate::SinkConfig::writer`], stable across its restarts): each
//! writer publishes and cleans up only its own staged files, so a second
//! SyncTool writing to the same destination can never publish (or remove)
//! the other's rows. Nothing but a committed file ends in `.csv` or
//! `.parquet`: a glob `dest/**/*.parquet` matches committed files only.
//! Paths here are relative to `<dest>`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sync_core::task::SegmentId;

/// The hidden staging directory.
pub const STAGING_DIR: &str = "_staging/";
/// The hidden directory of commit records.
pub const SYNC_DIR: &str = "_sync/";
/// Suffix of a staged file (after its data extension, so that data globs do
/// not match it).
pub const STAGED_SUFFIX: &str = ".inprogress";
/// Suffix of files being written before their rename.
pub const TMP_SUFFIX: &str = ".tmp";
/// Suffix of commit records.
pub const RECORD_SUFFIX: &str = ".commit";
/// The hidden directory of rows set aside by [`crate::BadRows::DeadLetter`].
pub const REJECTED_DIR: &str = "_rejected/";

/// The staged rows a segment set aside, as `writer` stages them.
pub fn staged_rejected_path(id: &SegmentId, writer: &str) -> String {
    format!(
        "{STAGING_DIR}{}.{writer}.rejected.jsonl{STAGED_SUFFIX}",
        id.name()
    )
}

/// The rows a committed segment set aside (JSON lines: `segment`, `row`,
/// `reason`, `raw_hex`).
pub fn rejected_path(id: &SegmentId) -> String {
    format!("{REJECTED_DIR}{}.jsonl", id.name())
}

/// Prefix of the probe files of a destination check (in [`STAGING_DIR`]).
pub const PROBE_PREFIX: &str = ".probe-";

/// The visible file of a segment.
pub fn visible_path(id: &SegmentId, ext: &str) -> String {
    format!("part-{}.{ext}", id.name())
}

/// The visible file of a segment's rows in the partition directory `dir`
/// (`<key>=<value>/`, see [`crate::partition`]).
pub fn visible_part_path(id: &SegmentId, dir: &str, ext: &str) -> String {
    format!("{dir}part-{}.{ext}", id.name())
}

/// The staged file `k` of a partitioned segment, as `writer` stages it.
pub fn staging_part_path(id: &SegmentId, k: usize, ext: &str, writer: &str) -> String {
    format!(
        "{STAGING_DIR}{}.{writer}.{k}.{ext}{STAGED_SUFFIX}",
        id.name()
    )
}

/// The staged list of a partitioned segment's visible files (one per line,
/// in the order of its staged files `0, 1, …`), as `writer` stages it.
pub fn staged_files_path(id: &SegmentId, writer: &str) -> String {
    format!("{STAGING_DIR}{}.{writer}.files{STAGED_SUFFIX}", id.name())
}

/// The staged file of a segment, as `writer` stages it.
pub fn staging_path(id: &SegmentId, ext: &str, writer: &str) -> String {
    format!("{STAGING_DIR}{}.{writer}.{ext}{STAGED_SUFFIX}", id.name())
}

/// The writer named in a staging file name (`None`: a name of an earlier
/// version, which named none).
pub fn staged_writer(file: &str) -> Option<&str> {
    let mut parts = file.split('.');
    parts.next()?;
    let writer = parts.next()?;
    // `<name>.<writer>.<ext>.inprogress…` has an extension after the writer;
    // `<name>.<ext>.inprogress…` of earlier versions has the marker there.
    let after = parts.next()?;
    (after != STAGED_SUFFIX.trim_start_matches('.') && after != "tmp").then_some(writer)
}

/// A writer name usable in file names: `[a-z0-9-]` only.
pub fn writer_name(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "w".into()
    } else {
        cleaned
    }
}

/// A temporary name for writing `path` (unique per call).
pub fn temp_path(path: &str) -> String {
    format!("{path}.{}{TMP_SUFFIX}", unique_token())
}

/// A probe file of a destination check (unique per call).
pub fn probe_path() -> String {
    format!("{STAGING_DIR}{PROBE_PREFIX}{}", unique_token())
}

/// The directory of a partition task's commit records.
pub fn record_dir(tid: u32, pid: u32, task_id: u64) -> String {
    format!("{SYNC_DIR}{tid:010}-{pid:05}-{task_id:010}/")
}

/// The commit record of a segment.
pub fn record_path(id: &SegmentId) -> String {
    format!(
        "{}{:012}{RECORD_SUFFIX}",
        record_dir(id.tid, id.pid, id.task_id),
        id.seq
    )
}

/// A token no other call in any process returns (process id, time, counter).
pub fn unique_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}-{nanos:x}-{n:x}", std::process::id())
}

/// Parses the segment id at the start of a staging file name (without the
/// directory): `<name>.<ext>.inprogress`, its temporaries
/// `<name>.<ext>.inprogress.<token>.tmp`, and the names of earlier versions
/// (`<name>.<ext>`, `<name>.<ext>.tmp`), so that their leftovers are cleaned
/// up too. Probe files (`.probe-…`) and anything else give `None`.
pub fn parse_staging_name(file: &str) -> Option<SegmentId> {
    let (stem, _) = file.split_once('.')?;
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

/// Parses a record file name (`<seq>.commit` → `Some(seq)`; a temporary → `None`).
pub fn parse_record_name(file: &str) -> Option<u64> {
    file.strip_suffix(RECORD_SUFFIX)?.parse().ok()
}

/// Parses the name of a record's temporary (`<seq>.commit.<token>.tmp`, or
/// `<seq>.commit.tmp` of earlier versions) into its seq.
pub fn parse_record_temp_name(file: &str) -> Option<u64> {
    let rest = file.strip_suffix(TMP_SUFFIX)?;
    let (seq, after) = rest.split_once('.')?;
    let after = format!(".{after}");
    (after == RECORD_SUFFIX || after.starts_with(&format!("{RECORD_SUFFIX}.")))
        .then(|| seq.parse().ok())
        .flatten()
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

/// Whether a path has a data extension (`.csv`, `.parquet`) that reader
/// globs match.
pub fn has_data_extension(path: &str) -> bool {
    path.ends_with(".csv") || path.ends_with(".parquet")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: SegmentId = SegmentId {
        tid: 7,
        pid: 3,
        task_id: 42,
        seq: 9,
    };

    #[test]
    fn names_parse_back() {
        let staged = staging_path(&ID, "csv", "w1");
        assert_eq!(
            staged,
            "_staging/0000000007-00003-0000000042-000000000009.w1.csv.inprogress"
        );
        assert_eq!(parse_staging_name(file_name(&staged)), Some(ID));
        assert_eq!(staged_writer(file_name(&staged)), Some("w1"));
        assert_eq!(
            staged_writer("0000000007-00003-0000000042-000000000009.csv.inprogress"),
            None,
            "an earlier version's name names no writer"
        );
        assert_eq!(
            staged_writer("0000000007-00003-0000000042-000000000009.csv.tmp"),
            None
        );
        assert_eq!(
            writer_name("SyncTool 10.0.0.1:8848"),
            "synctool-10-0-0-1-8848"
        );
        let tmp = temp_path(&staged);
        assert!(tmp.starts_with(&format!("{staged}.")) && tmp.ends_with(".tmp"));
        assert_eq!(parse_staging_name(file_name(&tmp)), Some(ID));
        // Leftovers of earlier versions.
        assert_eq!(
            parse_staging_name("0000000007-00003-0000000042-000000000009.parquet.tmp"),
            Some(ID)
        );
        assert_eq!(
            parse_staging_name("0000000007-00003-0000000042-000000000009.csv"),
            Some(ID)
        );
        assert_eq!(parse_staging_name("junk.csv"), None);
        assert_eq!(parse_staging_name("1-2-3-4-5.csv"), None);
        assert_eq!(parse_staging_name(file_name(&probe_path())), None);
        let record = record_path(&ID);
        assert_eq!(
            record,
            "_sync/0000000007-00003-0000000042/000000000009.commit"
        );
        assert_eq!(parse_record_name(file_name(&record)), Some(9));
        assert_eq!(parse_record_name("000000000009.commit.tmp"), None);
        let record_tmp = temp_path(&record);
        assert_eq!(parse_record_name(file_name(&record_tmp)), None);
        assert_eq!(parse_record_temp_name(file_name(&record_tmp)), Some(9));
        assert_eq!(parse_record_temp_name("000000000009.commit.tmp"), Some(9));
        assert_eq!(parse_record_temp_name("000000000009.commit"), None);
        assert_eq!(parse_record_temp_name("000000000009.other.tmp"), None);
        assert_eq!(
            parse_record_dir("0000000007-00003-0000000042/"),
            Some((7, 3, 42))
        );
    }

    #[test]
    fn only_committed_files_are_visible_or_match_data_globs() {
        let visible = visible_path(&ID, "parquet");
        assert!(is_visible(&visible) && has_data_extension(&visible));
        for ext in ["csv", "parquet"] {
            let staged = staging_path(&ID, ext, "w1");
            for hidden in [staged.clone(), temp_path(&staged)] {
                assert!(!is_visible(&hidden), "{hidden}");
                assert!(!has_data_extension(&hidden), "{hidden}");
            }
        }
        let record = record_path(&ID);
        assert!(!is_visible(&record) && !has_data_extension(&record));
        assert!(!is_visible(&probe_path()));
        assert!(!is_visible("a/.hidden"));
    }

    #[test]
    fn partitioned_names_are_hidden_until_published() {
        let staged = staging_part_path(&ID, 2, "parquet", "w1");
        assert_eq!(
            staged,
            "_staging/0000000007-00003-0000000042-000000000009.w1.2.parquet.inprogress"
        );
        let files = staged_files_path(&ID, "w1");
        for hidden in [staged.clone(), temp_path(&staged), files.clone()] {
            assert!(
                !is_visible(&hidden) && !has_data_extension(&hidden),
                "{hidden}"
            );
            assert_eq!(parse_staging_name(file_name(&hidden)), Some(ID), "{hidden}");
            assert_eq!(staged_writer(file_name(&hidden)), Some("w1"), "{hidden}");
        }
        let visible = visible_part_path(&ID, "day=2026-12-01/", "parquet");
        assert_eq!(
            visible,
            "day=2026-12-01/part-0000000007-00003-0000000042-000000000009.parquet"
        );
        assert!(is_visible(&visible) && has_data_extension(&visible));
    }

    #[test]
    fn tokens_are_unique() {
        let a = unique_token();
        let b = unique_token();
        assert_ne!(a, b);
    }
}
