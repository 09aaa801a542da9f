//! Row codec throughput on a realistic 10-column schema (bigint id, three
//! ints, a timestamp, two doubles and three strings of 10–40 bytes, ~5 %
//! NULLs), about one million rows.
//!
//! Measures encoding (into a reused buffer and allocating), decoding to owned
//! values, the borrowing views (ad-hoc `RowView::new` and a prepared
//! `RowLayout`), and splitting a pack. Prints rows/s and MB/s (MB = 10^6 bytes
//! of encoded rows); each figure is the best of five runs.
//!
//! Run with `cargo bench -p sync-core --bench row`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sync_core::row::{
    Column, ColumnType, RowLayout, RowView, Value, ValueRef, decode_row, encode_row,
    encode_row_into, split_rows,
};

const ROWS: usize = 1_000_000;
/// Distinct value rows generated up front and cycled through when encoding.
const DISTINCT: usize = 1 << 16;
const RUNS: usize = 5;

fn schema() -> Vec<Column> {
    [
        ("id", ColumnType::BigInt),
        ("user_id", ColumnType::Int),
        ("item_id", ColumnType::Int),
        ("event_time", ColumnType::Timestamp),
        ("price", ColumnType::Double),
        ("quantity", ColumnType::Int),
        ("name", ColumnType::String),
        ("category", ColumnType::Varchar),
        ("city", ColumnType::String),
        ("score", ColumnType::Double),
    ]
    .iter()
    .map(|(n, t)| Column::new(*n, *t))
    .collect()
}

/// A small deterministic generator (no external crates, same data every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn text(&mut self) -> Vec<u8> {
        let len = 10 + self.below(31) as usize;
        (0..len).map(|_| b'a' + self.below(26) as u8).collect()
    }
}

fn gen_values(rng: &mut Lcg, i: usize) -> Vec<Value> {
    let maybe = |v: Value, rng: &mut Lcg| if rng.below(20) == 0 { Value::Null } else { v };
    vec![
        Value::BigInt(i as i64),
        maybe(Value::Int(rng.below(1_000_000) as i32), rng),
        maybe(Value::Int(rng.below(50_000) as i32), rng),
        Value::Timestamp(1_700_000_000_000 + i as i64 * 7),
        maybe(Value::Double(rng.below(100_000) as f64 / 100.0), rng),
        maybe(Value::Int(1 + rng.below(10) as i32), rng),
        maybe(Value::String(rng.text()), rng),
        maybe(Value::String(rng.text()), rng),
        maybe(Value::String(rng.text()), rng),
        maybe(Value::Double(rng.below(1000) as f64 / 7.0), rng),
    ]
}

fn best_of<F: FnMut() -> u64>(mut f: F) -> (Duration, u64) {
    let mut best = Duration::MAX;
    let mut check = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        check = black_box(f());
        best = best.min(start.elapsed());
    }
    (best, check)
}

fn report(name: &str, rows: usize, bytes: usize, took: Duration) {
    let secs = took.as_secs_f64();
    println!(
        "{name:<34} {:>8.1} ms {:>12.0} rows/s {:>9.1} MB/s",
        secs * 1e3,
        rows as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}

/// Touches a value so the optimizer cannot skip decoding it.
fn weigh(v: ValueRef<'_>) -> u64 {
    match v {
        ValueRef::Null => 1,
        ValueRef::String(s) => s.len() as u64,
        ValueRef::Int(x) => x as u64,
        ValueRef::BigInt(x) | ValueRef::Timestamp(x) => x as u64,
        ValueRef::Double(x) => x.to_bits(),
        other => other.is_null() as u64,
    }
}

fn main() {
    let columns = schema();
    let layout = RowLayout::new(columns.clone()).expect("schema");
    let mut rng = Lcg(42);
    let pool: Vec<Vec<Value>> = (0..DISTINCT).map(|i| gen_values(&mut rng, i)).collect();

    // Build the pack once (also the input of the decoders).
    let mut pack = Vec::new();
    let mut bounds = Vec::with_capacity(ROWS + 1);
    bounds.push(0usize);
    let mut buf = Vec::new();
    for i in 0..ROWS {
        encode_row_into(&columns, 1, &pool[i % DISTINCT], &mut buf).expect("encode");
        pack.extend_from_slice(&buf);
        bounds.push(pack.len());
    }
    let bytes = pack.len();
    println!(
        "row codec: {ROWS} rows, {bytes} bytes ({:.1} bytes/row), 10 columns, best of {RUNS}",
        bytes as f64 / ROWS as f64
    );
    let rows = || bounds.windows(2).map(|w| &pack[w[0]..w[1]]);

    let (t, _) = best_of(|| {
        let mut buf = Vec::new();
        let mut n = 0u64;
        for i in 0..ROWS {
            encode_row_into(&columns, 1, &pool[i % DISTINCT], &mut buf).unwrap();
            n += buf.len() as u64;
        }
        n
    });
    report("encode_row_into (reused buffer)", ROWS, bytes, t);

    let (t, _) = best_of(|| {
        let mut n = 0u64;
        for i in 0..ROWS {
            n += encode_row(&columns, 1, &pool[i % DISTINCT]).unwrap().len() as u64;
        }
        n
    });
    report("encode_row (allocating)", ROWS, bytes, t);

    let (t, _) = best_of(|| {
        let mut n = 0u64;
        for row in rows() {
            n += decode_row(&columns, row).unwrap().len() as u64;
        }
        n
    });
    report("decode_row (owned values)", ROWS, bytes, t);

    let (t, _) = best_of(|| {
        let mut n = 0u64;
        for row in rows() {
            n += layout.decode(row).unwrap().len() as u64;
        }
        n
    });
    report("RowLayout::decode (owned values)", ROWS, bytes, t);

    let (t, _) = best_of(|| {
        let mut n = 0u64;
        for row in rows() {
            let view = RowView::new(&columns, row).unwrap();
            for v in view.iter() {
                n = n.wrapping_add(weigh(v.unwrap()));
            }
        }
        n
    });
    report("RowView::new + iter (borrowed)", ROWS, bytes, t);

    let (t, _) = best_of(|| {
        let mut n = 0u64;
        for row in rows() {
            let view = layout.view(row).unwrap();
            for i in 0..view.len() {
                n = n.wrapping_add(weigh(view.get(i).unwrap()));
            }
        }
        n
    });
    report("RowLayout::view + get(i) (borrowed)", ROWS, bytes, t);

    let (t, _) = best_of(|| {
        let mut n = 0u64;
        for row in rows() {
            // Checks the whole row, reads one column.
            n = n.wrapping_add(weigh(layout.view(row).unwrap().get(7).unwrap()));
        }
        n
    });
    report("RowLayout::view + one column", ROWS, bytes, t);

    let (t, total) = best_of(|| split_rows(&pack).map(|r| r.unwrap().len() as u64).sum());
    assert_eq!(total, bytes as u64);
    report("split_rows (pack framing only)", ROWS, bytes, t);
}
