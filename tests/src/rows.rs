//! Rows as comparable values, and multisets of them.
//!
//! Every value of the source (the tablet emulator's generated rows) and of the
//! output (Parquet and CSV files) becomes a [`Cell`]: integers of any width
//! as `i64`, floats by their bits, dates as days since 1970-01-01, timestamps
//! as epoch milliseconds, strings as (lossy) UTF-8. A [`RowSet`] counts rows by
//! a 128-bit fingerprint (and keeps the rows themselves unless built with
//! [`RowSet::counting`]), so "the output equals the source" is an exact
//! multiset comparison: every row exactly as often as in the source.

use std::collections::HashMap;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};

use sync_core::row::Value;
use tablet_emu::{EmulatedTable, GeneratedRow, RowGenerator};

/// One value, comparable across formats.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cell {
    Null,
    Bool(bool),
    /// smallint, int, bigint.
    Int(i64),
    /// float, by its bits.
    Float(u32),
    /// double, by its bits.
    Double(u64),
    /// date, days since 1970-01-01.
    Date(i32),
    /// timestamp, milliseconds since the epoch.
    Timestamp(i64),
    Str(String),
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Null => f.write_str("NULL"),
            Cell::Bool(b) => write!(f, "{b}"),
            Cell::Int(i) => write!(f, "{i}"),
            Cell::Float(bits) => write!(f, "{}f", f32::from_bits(*bits)),
            Cell::Double(bits) => write!(f, "{}", f64::from_bits(*bits)),
            Cell::Date(days) => {
                let (y, m, d) = civil_from_days(i64::from(*days));
                write!(f, "{y:04}-{m:02}-{d:02}")
            }
            Cell::Timestamp(ms) => write!(f, "ts:{ms}"),
            Cell::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// A row: cells in schema order.
pub type Row = Vec<Cell>;

/// A row for messages: `(a, b, c)`.
pub fn show(row: &[Cell]) -> String {
    let cells: Vec<String> = row.iter().map(Cell::to_string).collect();
    format!("({})", cells.join(", "))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// The cell of a source value.
pub fn cell_of(value: &Value) -> Cell {
    match value {
        Value::Null => Cell::Null,
        Value::Bool(b) => Cell::Bool(*b),
        Value::SmallInt(i) => Cell::Int(i64::from(*i)),
        Value::Int(i) => Cell::Int(i64::from(*i)),
        Value::BigInt(i) => Cell::Int(*i),
        Value::Float(x) => Cell::Float(x.to_bits()),
        Value::Double(x) => Cell::Double(x.to_bits()),
        Value::Date(d) => {
            Cell::Date(
                days_from_civil(i64::from(d.year), u32::from(d.month), u32::from(d.day)) as i32,
            )
        }
        Value::Timestamp(ms) => Cell::Timestamp(*ms),
        Value::String(bytes) => Cell::Str(String::from_utf8_lossy(bytes).into_owned()),
    }
}

/// The row of a generated source row.
pub fn row_of(row: &GeneratedRow) -> Row {
    row.values.iter().map(cell_of).collect()
}

type Fingerprint = u128;

fn fingerprint(row: &[Cell]) -> Fingerprint {
    let mut a = DefaultHasher::new();
    0xA5u8.hash(&mut a);
    row.hash(&mut a);
    let mut b = DefaultHasher::new();
    0x5Au8.hash(&mut b);
    row.hash(&mut b);
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

/// A multiset of rows.
#[derive(Debug, Clone, Default)]
pub struct RowSet {
    counts: HashMap<Fingerprint, u64>,
    rows: Option<HashMap<Fingerprint, Row>>,
    total: u64,
}

impl RowSet {
    /// An empty set that keeps its rows (for readable differences).
    pub fn new() -> Self {
        RowSet {
            counts: HashMap::new(),
            rows: Some(HashMap::new()),
            total: 0,
        }
    }

    /// An empty set that keeps only fingerprints and counts (large tables).
    pub fn counting() -> Self {
        RowSet::default()
    }

    /// Adds one row.
    pub fn add(&mut self, row: Row) {
        let fp = fingerprint(&row);
        *self.counts.entry(fp).or_default() += 1;
        self.total += 1;
        if let Some(rows) = self.rows.as_mut() {
            rows.entry(fp).or_insert(row);
        }
    }

    /// Rows, counting repeats.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Distinct rows.
    pub fn distinct(&self) -> usize {
        self.counts.len()
    }

    fn example(&self, other: &RowSet, fp: &Fingerprint) -> String {
        self.rows
            .as_ref()
            .and_then(|r| r.get(fp))
            .or_else(|| other.rows.as_ref().and_then(|r| r.get(fp)))
            .map_or_else(|| format!("<row {fp:032x}>"), |r| show(r))
    }

    /// How `actual` differs from this (the expected) set.
    pub fn diff(&self, actual: &RowSet) -> RowDiff {
        let mut diff = RowDiff {
            expected: self.total,
            actual: actual.total,
            ..RowDiff::default()
        };
        for (fp, &want) in &self.counts {
            let got = actual.counts.get(fp).copied().unwrap_or(0);
            if got < want {
                diff.missing += want - got;
                if diff.examples.len() < 5 {
                    diff.examples.push(format!(
                        "missing {}x {}",
                        want - got,
                        self.example(actual, fp)
                    ));
                }
            } else if got > want {
                diff.duplicated += got - want;
                if diff.examples.len() < 10 {
                    diff.examples.push(format!(
                        "{got}x instead of {want}x {}",
                        self.example(actual, fp)
                    ));
                }
            }
        }
        for (fp, &got) in &actual.counts {
            if !self.counts.contains_key(fp) {
                diff.unexpected += got;
                if diff.examples.len() < 15 {
                    diff.examples
                        .push(format!("unexpected {got}x {}", actual.example(self, fp)));
                }
            }
        }
        diff
    }
}

impl Extend<Row> for RowSet {
    fn extend<I: IntoIterator<Item = Row>>(&mut self, iter: I) {
        for row in iter {
            self.add(row);
        }
    }
}

/// The difference between an expected and an actual [`RowSet`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowDiff {
    /// Rows expected.
    pub expected: u64,
    /// Rows found.
    pub actual: u64,
    /// Expected rows not found (counting repeats).
    pub missing: u64,
    /// Extra copies of expected rows.
    pub duplicated: u64,
    /// Rows that should not be there at all.
    pub unexpected: u64,
    /// A few examples.
    pub examples: Vec<String>,
}

impl RowDiff {
    /// Whether the sets are equal.
    pub fn is_empty(&self) -> bool {
        self.missing == 0 && self.duplicated == 0 && self.unexpected == 0
    }
}

impl fmt::Display for RowDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected {} rows, found {}: {} missing, {} duplicated, {} unexpected",
            self.expected, self.actual, self.missing, self.duplicated, self.unexpected
        )?;
        for e in &self.examples {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

/// The rows a table's partitions hold: rows `0..puts[pid]` of each partition
/// `pid` as generated, keeping those `keep` accepts. (Every put is a distinct
/// row: the demo table's index-0 ts is unique within a partition.)
pub fn source_rows(
    table: &EmulatedTable,
    puts: &[u64],
    keep: impl Fn(&GeneratedRow) -> bool,
    into: &mut RowSet,
) -> anyhow::Result<()> {
    let generator = RowGenerator::new(table)?;
    for (pid, &n) in puts.iter().enumerate() {
        for seq in 0..n {
            let row = generator.row(pid as u32, seq)?;
            if keep(&row) {
                into.add(row_of(&row));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for days in [-800_000, -1, 0, 59, 11_016, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn multisets_count_repeats() {
        let mut want = RowSet::new();
        want.extend([vec![Cell::Int(1)], vec![Cell::Int(2)], vec![Cell::Int(2)]]);
        let mut got = RowSet::new();
        got.extend([vec![Cell::Int(2)], vec![Cell::Int(2)], vec![Cell::Int(2)]]);
        got.add(vec![Cell::Null]);
        let diff = want.diff(&got);
        assert_eq!(
            (diff.missing, diff.duplicated, diff.unexpected),
            (1, 1, 1),
            "{diff}"
        );
        assert!(want.diff(&want.clone()).is_empty());
    }
}
