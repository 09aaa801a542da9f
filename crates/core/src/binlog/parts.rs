//! Binlog file names and the log-part index: which file holds a given
//! `log_index`.
//!
//! A partition's binlog is a sequence of files `00000000.log`,
//! `00000001.log`, ... Each file is indexed by the `log_index` of its first
//! record; OpenMLDB stores that value minus one (the file's "start value").
//! The caller lists the directory, reads each file's first record and inserts
//! the pair; a file whose first record is not readable yet (empty, or still
//! being written) is left out until a later rescan.

use std::collections::{BTreeMap, BTreeSet};

/// Width of the zero-padded index in a file name.
const NAME_DIGITS: usize = 8;
const NAME_SUFFIX: &str = ".log";

/// `index` as a binlog file name: `%08d.log`.
///
/// OpenMLDB formats only the low 8 decimal digits (its index is a `u32`
/// printed into a fixed 8-character field), so its file 100000000 would
/// collide with file 0; here larger indexes simply get more digits.
pub fn binlog_file_name(index: u64) -> String {
    format!("{index:0width$}{NAME_SUFFIX}", width = NAME_DIGITS)
}

/// The index of a binlog file name, accepting exactly the names
/// [`binlog_file_name`] produces (so `1.log`, `000000001.log` or
/// `00000001.log.tmp` are not binlog files).
pub fn parse_binlog_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(NAME_SUFFIX)?;
    if digits.len() < NAME_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let index: u64 = digits.parse().ok()?;
    // Reject non-canonical zero padding of long names.
    (digits.len() == NAME_DIGITS || !digits.starts_with('0')).then_some(index)
}

/// One binlog file of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LogPart {
    /// The file's index (its name, see [`binlog_file_name`]).
    pub file_index: u64,
    /// `log_index` of the file's first record.
    pub first_log_index: u64,
}

impl LogPart {
    /// OpenMLDB's "start value" of the file: `first_log_index - 1`.
    pub fn start_value(&self) -> u64 {
        self.first_log_index.saturating_sub(1)
    }

    /// The file's name.
    pub fn file_name(&self) -> String {
        binlog_file_name(self.file_index)
    }
}

/// The log-part index of one partition's binlog directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogParts {
    /// file index → first log_index.
    by_file: BTreeMap<u64, u64>,
    /// (first log_index, file index), for lookups by log_index.
    by_first: BTreeSet<(u64, u64)>,
}

impl LogParts {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record that file `file_index` starts with `first_log_index`,
    /// replacing (and returning) a previous value for that file.
    pub fn insert(&mut self, file_index: u64, first_log_index: u64) -> Option<u64> {
        let previous = self.by_file.insert(file_index, first_log_index);
        if let Some(old) = previous {
            self.by_first.remove(&(old, file_index));
        }
        self.by_first.insert((first_log_index, file_index));
        previous
    }

    /// Forget a file (deleted by the tablet's binlog GC); returns its first
    /// log_index.
    pub fn remove(&mut self, file_index: u64) -> Option<u64> {
        let first = self.by_file.remove(&file_index)?;
        self.by_first.remove(&(first, file_index));
        Some(first)
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.by_file.len()
    }

    /// Whether no file is indexed.
    pub fn is_empty(&self) -> bool {
        self.by_file.is_empty()
    }

    /// First log_index of a file.
    pub fn first_log_index(&self, file_index: u64) -> Option<u64> {
        self.by_file.get(&file_index).copied()
    }

    /// The file to read for `log_index`: the one with the largest first
    /// log_index `<= log_index` (the newest such file on a tie). `None` if
    /// every file starts after `log_index` (it was deleted, or never existed).
    /// Whether the file really reaches `log_index` is only known by reading
    /// it.
    pub fn file_for(&self, log_index: u64) -> Option<u64> {
        self.by_first
            .range(..=(log_index, u64::MAX))
            .next_back()
            .map(|&(_, file_index)| file_index)
    }

    /// OpenMLDB's `min_offset`: the start value (first log_index − 1) of the
    /// oldest file; `None` when there is no file (OpenMLDB: `u64::MAX`).
    pub fn min_offset(&self) -> Option<u64> {
        self.oldest().map(|part| part.start_value())
    }

    /// The file with the smallest index.
    pub fn oldest(&self) -> Option<LogPart> {
        self.by_file.first_key_value().map(Self::part)
    }

    /// The file with the largest index.
    pub fn newest(&self) -> Option<LogPart> {
        self.by_file.last_key_value().map(Self::part)
    }

    /// The next file after `file_index` (the one to roll over to), skipping
    /// missing indexes.
    pub fn next_after(&self, file_index: u64) -> Option<LogPart> {
        let next = file_index.checked_add(1)?;
        self.by_file.range(next..).next().map(Self::part)
    }

    /// All files, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = LogPart> + ExactSizeIterator + '_ {
        self.by_file.iter().map(Self::part)
    }

    fn part((&file_index, &first_log_index): (&u64, &u64)) -> LogPart {
        LogPart {
            file_index,
            first_log_index,
        }
    }
}

impl FromIterator<(u64, u64)> for LogParts {
    /// Build from `(file_index, first_log_index)` pairs.
    fn from_iter<I: IntoIterator<Item = (u64, u64)>>(iter: I) -> Self {
        let mut parts = Self::new();
        parts.extend(iter);
        parts
    }
}

impl Extend<(u64, u64)> for LogParts {
    fn extend<I: IntoIterator<Item = (u64, u64)>>(&mut self, iter: I) {
        for (file_index, first_log_index) in iter {
            self.insert(file_index, first_log_index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(binlog_file_name(0), "00000000.log");
        assert_eq!(binlog_file_name(42), "00000042.log");
        assert_eq!(binlog_file_name(99_999_999), "99999999.log");
        assert_eq!(binlog_file_name(100_000_000), "100000000.log");
        for index in [0, 1, 42, 99_999_999, 100_000_000, u64::MAX] {
            assert_eq!(
                parse_binlog_file_name(&binlog_file_name(index)),
                Some(index)
            );
        }
        for bad in [
            "",
            ".log",
            "1.log",
            "0000001.log",
            "000000001.log",
            "0000000a.log",
            "00000001",
            "00000001.log.tmp",
            "00000001.LOG",
            "+0000001.log",
            " 0000001.log",
            "99999999999999999999.log", // overflows u64
            "0100000000.log",           // non-canonical padding
        ] {
            assert_eq!(parse_binlog_file_name(bad), None, "{bad:?}");
        }
    }

    fn sample() -> LogParts {
        // file 0: 1..=100, file 1: 101..=250, (file 2 missing), file 3: 400..
        [(0, 1), (1, 101), (3, 400)].into_iter().collect()
    }

    #[test]
    fn lookup_exact_first_index() {
        let parts = sample();
        assert_eq!(parts.file_for(1), Some(0));
        assert_eq!(parts.file_for(101), Some(1));
        assert_eq!(parts.file_for(400), Some(3));
    }

    #[test]
    fn lookup_last_index_of_a_file_stays_in_that_file() {
        // OpenMLDB's reader picks the newest file whose start value
        // (first - 1) is <= the offset; with "next index to read" semantics
        // that jumps to file 1 for 100. The exact rule keeps file 0.
        let parts = sample();
        assert_eq!(parts.file_for(100), Some(0));
        assert_eq!(parts.file_for(399), Some(1));
    }

    #[test]
    fn lookup_between_and_after() {
        let parts = sample();
        assert_eq!(parts.file_for(50), Some(0));
        assert_eq!(parts.file_for(250), Some(1));
        // The gap (file 2 missing): the best candidate is file 1.
        assert_eq!(parts.file_for(300), Some(1));
        assert_eq!(parts.file_for(10_000), Some(3));
        assert_eq!(parts.file_for(u64::MAX), Some(3));
    }

    #[test]
    fn lookup_before_min() {
        let parts: LogParts = [(5, 1000), (6, 2000)].into_iter().collect();
        assert_eq!(parts.file_for(0), None);
        assert_eq!(parts.file_for(999), None);
        assert_eq!(parts.file_for(1000), Some(5));
        assert_eq!(parts.min_offset(), Some(999));
        assert_eq!(LogParts::new().file_for(1), None);
        assert_eq!(LogParts::new().min_offset(), None);
    }

    #[test]
    fn tie_on_first_index_takes_newest_file() {
        let parts: LogParts = [(0, 1), (1, 10), (2, 10)].into_iter().collect();
        assert_eq!(parts.file_for(10), Some(2));
        assert_eq!(parts.file_for(9), Some(0));
    }

    #[test]
    fn insert_replaces_and_remove_forgets() {
        let mut parts = sample();
        assert_eq!(parts.insert(1, 120), Some(101));
        assert_eq!(parts.file_for(110), Some(0));
        assert_eq!(parts.file_for(120), Some(1));
        assert_eq!(parts.remove(0), Some(1));
        assert_eq!(parts.remove(0), None);
        assert_eq!(parts.file_for(110), None);
        assert_eq!(parts.min_offset(), Some(119));
        assert_eq!(parts.len(), 2);
    }

    #[test]
    fn order_and_neighbours() {
        let parts: LogParts = [(3, 400), (0, 1), (1, 101)].into_iter().collect();
        let files: Vec<u64> = parts.iter().map(|p| p.file_index).collect();
        assert_eq!(files, [0, 1, 3]);
        assert_eq!(parts.iter().next_back().map(|p| p.file_index), Some(3));
        assert_eq!(parts.iter().len(), 3);
        assert_eq!(parts.oldest().map(|p| p.start_value()), Some(0));
        assert_eq!(
            parts.newest().map(|p| p.file_name()),
            Some("00000003.log".into())
        );
        assert_eq!(parts.next_after(0).map(|p| p.file_index), Some(1));
        assert_eq!(parts.next_after(1).map(|p| p.file_index), Some(3));
        assert_eq!(parts.next_after(2).map(|p| p.file_index), Some(3));
        assert_eq!(parts.next_after(3), None);
        assert_eq!(parts.next_after(u64::MAX), None);
        assert!(!parts.is_empty());
        assert_eq!(parts.first_log_index(1), Some(101));
        assert_eq!(parts.first_log_index(2), None);
    }
}
