//! The deterministic row generator: row `seq` of partition `pid` depends only
//! on the table spec, so tests can recompute exactly what was written.
//!
//! * key columns take one of `key_cardinality` values (strings `k0007`; for
//!   string keys about 1 row in 97 is the empty string and 1 in 89 NULL, to
//!   exercise the SDK's key tokens);
//! * ts columns (index ts) are `base_time_ms + seq * 1000 + pid`, unique and
//!   increasing, so no two rows of a partition share an index-0 key;
//! * other columns are pseudo-random, about 1 in 13 NULL;
//! * the put time is `base_time_ms + seq * 1000 + 500`.

use std::collections::BTreeSet;

use sync_core::point::RowKey;
use sync_core::row::{Column, ColumnType, Date, Value, compress_snappy, encode_row};
use sync_core::snapshot_key::{IndexLayout, compare};

use crate::error::EmuError;
use crate::spec::EmulatedTable;

/// One generated row.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedRow {
    /// Position in the partition's put sequence (0-based).
    pub seq: u64,
    /// Column values in schema order.
    pub values: Vec<Value>,
    /// The put time (LogEntry.ts, and the ts of indexes without ts column).
    pub put_time: u64,
    /// The index-0 position.
    pub key: RowKey,
    /// The encoded row, uncompressed.
    pub row: Vec<u8>,
}

impl GeneratedRow {
    /// The value as stored (snappy-compressed when the table is).
    pub fn stored_value(&self, snappy: bool) -> Vec<u8> {
        if snappy {
            compress_snappy(&self.row)
        } else {
            self.row.clone()
        }
    }
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A prepared generator for one table.
#[derive(Debug, Clone)]
pub struct RowGenerator {
    table: EmulatedTable,
    schema: Vec<Column>,
    layout: IndexLayout,
    key_cols: BTreeSet<usize>,
    ts_cols: BTreeSet<usize>,
}

impl RowGenerator {
    /// Prepares the generator.
    pub fn new(table: &EmulatedTable) -> Result<Self, EmuError> {
        let schema = table.schema()?;
        let layout = table.layout()?;
        let key_cols = layout
            .indexes()
            .iter()
            .flat_map(|i| i.key_cols.iter().copied())
            .collect();
        let ts_cols = layout.indexes().iter().filter_map(|i| i.ts_col).collect();
        Ok(RowGenerator {
            table: table.clone(),
            schema,
            layout,
            key_cols,
            ts_cols,
        })
    }

    /// The schema.
    pub fn schema(&self) -> &[Column] {
        &self.schema
    }

    /// The index layout.
    pub fn layout(&self) -> &IndexLayout {
        &self.layout
    }

    fn value(&self, pid: u32, seq: u64, col: usize, ty: ColumnType) -> Value {
        let t = &self.table;
        let h = mix(t.seed
            ^ (u64::from(pid) << 40)
            ^ seq.wrapping_mul(0x1000_0001)
            ^ (col as u64) << 20);
        let card = t.key_cardinality.max(1);
        let time = t.base_time_ms + seq * 1000 + u64::from(pid);
        if self.ts_cols.contains(&col) {
            let ts = time as i64;
            return match ty {
                ColumnType::Timestamp => Value::Timestamp(ts),
                _ => Value::BigInt(ts),
            };
        }
        if self.key_cols.contains(&col) {
            let k = h % card;
            return match ty {
                ColumnType::String | ColumnType::Varchar => {
                    if h % 97 == 1 {
                        Value::string("")
                    } else if h % 89 == 2 {
                        Value::Null
                    } else {
                        Value::string(format!("k{k:04}"))
                    }
                }
                ColumnType::Bool => Value::Bool(k.is_multiple_of(2)),
                ColumnType::SmallInt => Value::SmallInt((k % 30000) as i16),
                ColumnType::Int => Value::Int(k as i32),
                ColumnType::BigInt => Value::BigInt(k as i64),
                ColumnType::Timestamp => Value::Timestamp(t.base_time_ms as i64 + k as i64),
                ColumnType::Date => Value::Date(Date {
                    year: 2000 + (k % 100) as i32,
                    month: 1 + (k % 12) as u8,
                    day: 1 + (k % 28) as u8,
                }),
                ColumnType::Float => Value::Float(k as f32),
                ColumnType::Double => Value::Double(k as f64),
            };
        }
        if h.is_multiple_of(13) {
            return Value::Null;
        }
        let r = h >> 8;
        match ty {
            ColumnType::Bool => Value::Bool(r % 2 == 1),
            ColumnType::SmallInt => Value::SmallInt(r as i16),
            ColumnType::Int => Value::Int(r as i32),
            ColumnType::BigInt => Value::BigInt(seq as i64),
            ColumnType::Float => Value::Float((r % 100_000) as f32 / 8.0),
            ColumnType::Double => Value::Double((r % 10_000_000) as f64 / 100.0),
            ColumnType::Date => Value::Date(Date {
                year: 1990 + (r % 50) as i32,
                month: 1 + (r % 12) as u8,
                day: 1 + (r % 28) as u8,
            }),
            ColumnType::Timestamp => Value::Timestamp(time as i64 - (r % 86_400_000) as i64),
            ColumnType::String | ColumnType::Varchar => {
                let len = (r % 40) as usize;
                Value::String(
                    (0..len)
                        .map(|i| b'a' + ((r >> (i % 48)) % 26) as u8)
                        .collect(),
                )
            }
        }
    }

    /// Row `seq` of partition `pid`.
    pub fn row(&self, pid: u32, seq: u64) -> Result<GeneratedRow, EmuError> {
        let values: Vec<Value> = self
            .schema
            .iter()
            .enumerate()
            .map(|(i, c)| self.value(pid, seq, i, c.ty))
            .collect();
        let put_time = self.table.base_time_ms + seq * 1000 + 500;
        let key = self
            .layout
            .row_key(&values, put_time)
            .map_err(|e| EmuError::Row(e.to_string()))?;
        let row = encode_row(&self.schema, 1, &values).map_err(|e| EmuError::Row(e.to_string()))?;
        Ok(GeneratedRow {
            seq,
            values,
            put_time,
            key,
            row,
        })
    }

    /// The rows a snapshot taken after puts `0..puts` holds, in the order the
    /// index-0 CF iterates them (no TTL applied; a later put of the same key
    /// replaces the earlier one).
    pub fn expected_rows(&self, pid: u32, puts: u64) -> Result<Vec<GeneratedRow>, EmuError> {
        let layout0 = self.layout.key_layout(self.layout.index0());
        let mut rows: Vec<(Vec<u8>, GeneratedRow)> = Vec::with_capacity(puts as usize);
        for seq in 0..puts {
            let row = self.row(pid, seq)?;
            rows.push((layout0.encode(&row.key.pk, row.key.ts), row));
        }
        // Stable sort, then keep the last put of equal keys.
        rows.sort_by(|a, b| compare(&a.0, &b.0));
        let mut out: Vec<(Vec<u8>, GeneratedRow)> = Vec::with_capacity(rows.len());
        for item in rows {
            match out.last_mut() {
                Some(last) if last.0 == item.0 => *last = item,
                _ => out.push(item),
            }
        }
        Ok(out.into_iter().map(|(_, r)| r).collect())
    }
}
