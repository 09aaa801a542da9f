//! The invariant, checked after healing: per partition, the committed output
//! read back from the durable store through the sink, as a multiset of rows,
//! equals the source rows exactly once — every row up to the cut-off for
//! modes 1 and 2 (mode 1 without the rows older than `start_ts`), a gap-free
//! prefix of the put order, at least as long as the table was at create time,
//! for mode 0; only a part FAILED for a data-destroying fault may stop short,
//! with an exact prefix. Staged data must be gone and nothing but committed
//! segments visible.
//!
//! Rows are compared as CSV records: the generated row encoded by the sink's
//! own CSV encoder.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use sync_sinks::TableSchema;
use sync_sinks::format::csv;
use sync_sinks::layout::{STAGING_DIR, is_visible, parse_staging_name, record_path};

use crate::store::Durable;
use crate::tables::SourceTable;

/// Committed rows by (tid, pid).
pub type Committed = BTreeMap<(u32, u32), Vec<Vec<u8>>>;

/// Reads every committed row of `tables` back from the store, with what the
/// store shows that it should not (staged leftovers, visible files that are
/// no committed segment); `Err` when it cannot be read.
pub fn committed(durable: &Durable, tids: &[u32]) -> Result<(Committed, Vec<String>), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| format!("a runtime to read the store: {e}"))?;
    let sink = durable.sink();
    let mut out = Committed::new();
    let mut problems = Vec::new();
    for &tid in tids {
        let dest = durable.dest(tid);
        let files = runtime
            .block_on(sink.all_files(&dest))
            .map_err(|e| format!("{dest}: {e}"))?;
        let all: HashSet<&str> = files.iter().map(String::as_str).collect();
        for file in &files {
            if file.starts_with(STAGING_DIR) {
                // A temporary of an interrupted write is invisible and removed
                // by the next recovery that finds it; in the simulation a
                // blocking writer thread can even outlive its host's crash and
                // land after that recovery. Any other staged file is a leftover.
                if !file.ends_with(sync_sinks::layout::TMP_SUFFIX) {
                    problems.push(format!("{dest}: staged file `{file}` left behind"));
                }
                continue;
            }
            if !is_visible(file) {
                continue;
            }
            // A partitioned task's files lie in `<key>=<value>/` directories.
            let (dir, name) = file.rsplit_once('/').unwrap_or(("", file));
            if !dir.is_empty() && !dir.split('/').all(|d| d.contains('=')) {
                problems.push(format!("{dest}: `{file}` is not in a partition directory"));
            }
            let id = name
                .strip_prefix("part-")
                .and_then(|rest| rest.strip_suffix(".csv"))
                .and_then(|stem| parse_staging_name(&format!("{stem}.csv")));
            let Some(id) = id else {
                problems.push(format!(
                    "{dest}: `{file}` is visible to readers but is not a committed segment"
                ));
                continue;
            };
            if !all.contains(record_path(&id).as_str()) {
                problems.push(format!(
                    "{dest}: `{file}` is visible but has no commit record"
                ));
            }
            let bytes = runtime
                .block_on(sink.read_file(&dest, file))
                .map_err(|e| format!("{dest}/{file}: {e}"))?
                .ok_or_else(|| format!("{dest}/{file}: listed but gone"))?;
            let text = String::from_utf8(bytes).map_err(|e| format!("{dest}/{file}: {e}"))?;
            let rows = out.entry((id.tid, id.pid)).or_default();
            // The first record is the header.
            for line in text.lines().skip(1) {
                rows.push(line.as_bytes().to_vec());
            }
        }
    }
    Ok((out, problems))
}

/// How the rows of one partition compare.
#[derive(Debug, Default)]
pub struct PartDiff {
    /// Seqs of expected rows not committed.
    pub lost: Vec<u64>,
    /// Seqs committed more than once, with their count.
    pub duplicated: Vec<(u64, usize)>,
    /// Committed rows that are no source row.
    pub unknown: usize,
    /// Rows committed.
    pub committed: usize,
}

impl PartDiff {
    /// Whether the partition is exactly right.
    pub fn is_ok(&self) -> bool {
        self.lost.is_empty() && self.duplicated.is_empty() && self.unknown == 0
    }
}

fn seqs(list: &[u64]) -> String {
    let mut s = String::new();
    for (i, seq) in list.iter().take(12).enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{seq}");
    }
    if list.len() > 12 {
        s.push_str(",…");
    }
    s
}

impl std::fmt::Display for PartDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} committed; {} LOST (seq {}), {} DUPLICATED (seq {}), {} unknown",
            self.committed,
            self.lost.len(),
            seqs(&self.lost),
            self.duplicated.len(),
            seqs(&self.duplicated.iter().map(|d| d.0).collect::<Vec<_>>()),
            self.unknown
        )
    }
}

/// The expected rows of a partition as the store shows them (CSV records), by seq.
fn expected_forms(
    table: &SourceTable,
    pid: u32,
    count: u64,
) -> Result<Vec<(u64, Vec<u8>)>, String> {
    let rows = table.expected(pid, count)?;
    let info = table.table_info()?;
    let schema = TableSchema::from_table_info(&info).map_err(|e| e.to_string())?;
    let opts = csv::CsvOptions {
        header: false,
        ..Durable::csv()
    };
    rows.into_iter()
        .map(|(seq, row)| {
            let mut line = csv::encode(&opts, &schema, &row, 1)
                .map_err(|e| format!("cannot encode row {seq} as CSV: {e}"))?;
            while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                line.pop();
            }
            Ok((seq, line))
        })
        .collect()
}

/// What a partition's output must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Every source row (continuous modes).
    All,
    /// A gap-free prefix of the put order of at least `min` puts (mode 0).
    Prefix {
        /// Puts the prefix covers at least.
        min: u64,
    },
    /// A part FAILED for good: exactly the rows before its committed point
    /// `end` (every put before a binlog point; within a snapshot, whose
    /// order is the key order, no row twice and none foreign).
    UpTo {
        /// The part's committed point in the sink.
        end: sync_core::point::Point,
    },
}

/// Compares one partition's committed rows with its source rows (`count` puts).
pub fn compare(
    table: &SourceTable,
    pid: u32,
    count: u64,
    committed: &[Vec<u8>],
    expect: Expect,
) -> Result<PartDiff, String> {
    let expected = expected_forms(table, pid, count)?;
    let index: HashMap<&[u8], u64> = expected.iter().map(|(s, r)| (r.as_slice(), *s)).collect();
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    let mut diff = PartDiff {
        committed: committed.len(),
        ..PartDiff::default()
    };
    for row in committed {
        match index.get(row.as_slice()) {
            Some(seq) => *seen.entry(*seq).or_default() += 1,
            None => diff.unknown += 1,
        }
    }
    diff.duplicated = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(s, n)| (*s, *n))
        .collect();
    let must_have: Vec<u64> = match expect {
        Expect::UpTo {
            end: sync_core::point::Point::Binlog { offset },
        } => {
            // One log entry per put: put `seq` has log index `seq + 1`.
            let end = offset.saturating_sub(1);
            diff.unknown += seen.range(end..).map(|(_, n)| *n).sum::<usize>();
            expected
                .iter()
                .map(|(s, _)| *s)
                .filter(|s| *s < end)
                .collect()
        }
        Expect::UpTo { .. } => Vec::new(),
        Expect::Prefix { min } => {
            let end = seen.keys().next_back().map_or(0, |last| last + 1).max(min);
            expected
                .iter()
                .map(|(s, _)| *s)
                .filter(|s| *s < end)
                .collect()
        }
        Expect::All => expected.iter().map(|(s, _)| *s).collect(),
    };
    diff.lost = must_have
        .into_iter()
        .filter(|s| !seen.contains_key(s))
        .collect();
    Ok(diff)
}
