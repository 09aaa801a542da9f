//! Encoding rows byte-for-byte as OpenMLDB's C++ storage `RowBuilder` does
//! (`RowCodec::EncodeRow`, `CalTotalLength` + `SetBuffer` + `Append*`).
//!
//! - **Length and slot width.** With `base` = header + bitmap + fixed fields +
//!   all non-NULL string bytes and `n` string columns, the builder takes the
//!   first width `A` in 1, 2, 3, 4 with `base + A·n ≤ 255, 65 535,
//!   16 777 215, u32::MAX` respectively, and the row is `base + A·n` bytes. This
//!   always agrees with the decoder's rule (width from the total length).
//! - **Bitmap.** The builder fills the bitmap with `0xFF` and clears a bit per
//!   non-NULL value, so unused high bits of the last bitmap byte stay **1**
//!   (10 columns, none NULL → last byte `0xfc`). We do the same.
//! - **Zero fill.** The buffer starts zeroed, so NULL fixed fields are zero
//!   and slot 0 stays `0x00` when the first string column is NULL (the builder
//!   only writes slot 0 for a non-NULL first string; after every string column,
//!   NULL or not, it writes the next slot).
//! - **Refusals.** Like the builder we refuse values of the wrong type, dates
//!   outside 1900-01-01..9999-12-31 and negative timestamps. NOT NULL
//!   constraints are not known here ([`Column`] carries no such flag).

use super::error::RowError;
use super::layout::{FORMAT_VERSION, HEADER_LEN, RowLayout, bitmap_len};
use super::types::{Column, Value, ValueRef};

/// Sizes of one row to encode, computed while validating the values.
struct Plan {
    total: usize,
    width: usize,
    str_table: usize,
    strings: usize,
}

fn plan(columns: &[Column], values: &[Value]) -> Result<Plan, RowError> {
    if columns.is_empty() {
        return Err(RowError::EmptySchema);
    }
    if values.len() != columns.len() {
        return Err(RowError::ValueCount {
            expected: columns.len(),
            found: values.len(),
        });
    }
    let mut fixed = 0usize;
    let mut strings = 0usize;
    let mut string_bytes = 0u64;
    for (i, (col, value)) in columns.iter().zip(values).enumerate() {
        let v = value.as_value_ref();
        if !v.fits(col.ty) {
            return Err(RowError::TypeMismatch {
                column: i,
                name: col.name.clone(),
                expected: col.ty,
                found: v.kind(),
            });
        }
        match v {
            ValueRef::Date(d) => {
                d.validate().map_err(|source| RowError::InvalidDateValue {
                    column: i,
                    name: col.name.clone(),
                    source,
                })?;
            }
            ValueRef::Timestamp(t) if t < 0 => {
                return Err(RowError::NegativeTimestamp {
                    column: i,
                    name: col.name.clone(),
                    value: t,
                });
            }
            ValueRef::String(s) => string_bytes += s.len() as u64,
            _ => {}
        }
        match col.ty.fixed_size() {
            Some(n) => fixed += n,
            None => strings += 1,
        }
    }
    let str_table = HEADER_LEN + bitmap_len(columns.len()) + fixed;
    let base = str_table as u64 + string_bytes;
    let n = strings as u64;
    let limits = [
        (1usize, 0xFFu64),
        (2, 0xFFFF),
        (3, 0xFF_FFFF),
        (4, u64::from(u32::MAX)),
    ];
    let (width, total) = limits
        .iter()
        .map(|&(w, limit)| (w, base + w as u64 * n, limit))
        .find(|&(_, total, limit)| total <= limit)
        .map(|(w, total, _)| (w, total))
        .ok_or(RowError::RowTooLarge { len: base + 4 * n })?;
    let total = usize::try_from(total).map_err(|_| RowError::RowTooLarge { len: total })?;
    Ok(Plan {
        total,
        width,
        str_table,
        strings,
    })
}

fn write_slot(out: &mut [u8], at: usize, width: usize, offset: usize) {
    // `offset` fits the width: the plan chose the width for the total length.
    let v = offset as u32;
    match width {
        1 => out[at] = v as u8,
        2 => out[at..at + 2].copy_from_slice(&(v as u16).to_le_bytes()),
        3 => out[at..at + 3].copy_from_slice(&v.to_be_bytes()[1..]),
        _ => out[at..at + 4].copy_from_slice(&v.to_le_bytes()),
    }
}

/// Encodes `values` (one per column, [`Value::Null`] for NULL) into `out`,
/// replacing its contents. Reusing `out` across rows avoids an allocation
/// per row.
pub fn encode_row_into(
    columns: &[Column],
    schema_version: u8,
    values: &[Value],
    out: &mut Vec<u8>,
) -> Result<(), RowError> {
    let plan = plan(columns, values)?;
    out.clear();
    out.resize(plan.total, 0);
    out[0] = FORMAT_VERSION;
    out[1] = schema_version;
    out[2..HEADER_LEN].copy_from_slice(&(plan.total as u32).to_le_bytes());
    let bitmap = HEADER_LEN..HEADER_LEN + bitmap_len(columns.len());
    out[bitmap.clone()].fill(0xFF);

    let mut fixed = bitmap.end;
    let mut k = 0usize;
    let mut cursor = plan.str_table + plan.width * plan.strings;
    for (i, (col, value)) in columns.iter().zip(values).enumerate() {
        if !value.is_null() {
            out[HEADER_LEN + i / 8] &= !(1u8 << (i % 8));
        }
        if let Some(n) = col.ty.fixed_size() {
            let at = fixed;
            fixed += n;
            let field = &mut out[at..at + n];
            match value {
                Value::Bool(b) => field[0] = u8::from(*b),
                Value::SmallInt(v) => field.copy_from_slice(&v.to_le_bytes()),
                Value::Int(v) => field.copy_from_slice(&v.to_le_bytes()),
                Value::BigInt(v) | Value::Timestamp(v) => field.copy_from_slice(&v.to_le_bytes()),
                Value::Float(v) => field.copy_from_slice(&v.to_le_bytes()),
                Value::Double(v) => field.copy_from_slice(&v.to_le_bytes()),
                Value::Date(d) => {
                    let packed = d.to_packed().map_err(|source| RowError::InvalidDateValue {
                        column: i,
                        name: col.name.clone(),
                        source,
                    })?;
                    field.copy_from_slice(&packed.to_le_bytes());
                }
                // NULL stays zero; strings never reach a fixed slot (plan checked the types).
                Value::Null | Value::String(_) => {}
            }
        } else {
            if let Value::String(s) = value {
                if k == 0 {
                    write_slot(out, plan.str_table, plan.width, cursor);
                }
                out[cursor..cursor + s.len()].copy_from_slice(s);
                cursor += s.len();
            }
            if k + 1 < plan.strings {
                write_slot(
                    out,
                    plan.str_table + (k + 1) * plan.width,
                    plan.width,
                    cursor,
                );
            }
            k += 1;
        }
    }
    debug_assert_eq!(cursor, plan.total);
    Ok(())
}

/// Encodes one row; see the module docs for the exact bytes produced.
pub fn encode_row(
    columns: &[Column],
    schema_version: u8,
    values: &[Value],
) -> Result<Vec<u8>, RowError> {
    let mut out = Vec::new();
    encode_row_into(columns, schema_version, values, &mut out)?;
    Ok(out)
}

/// The exact length [`encode_row`] would produce, after the same checks.
pub fn encoded_len(columns: &[Column], values: &[Value]) -> Result<usize, RowError> {
    plan(columns, values).map(|p| p.total)
}

impl RowLayout {
    /// Encodes one row with this layout's schema.
    pub fn encode(&self, schema_version: u8, values: &[Value]) -> Result<Vec<u8>, RowError> {
        encode_row(&self.columns, schema_version, values)
    }

    /// Encodes one row into `out`, replacing its contents.
    pub fn encode_into(
        &self,
        schema_version: u8,
        values: &[Value],
        out: &mut Vec<u8>,
    ) -> Result<(), RowError> {
        encode_row_into(&self.columns, schema_version, values, out)
    }
}
