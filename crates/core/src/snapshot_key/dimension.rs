//! An index's dimension key (`pk`) and ts computed from a row, as OpenMLDB's
//! SDK builds them for a put.
//!
//! The key is the index's key-column values joined with `|`. Each value is
//! formatted as the SDK formats it: integers and timestamps in decimal, bools
//! as `true`/`false`, dates as the decimal packed date
//! (`(year-1900)<<16 | (month-1)<<8 | day`), strings as their bytes, an empty
//! string as [`EMPTY_STRING_TOKEN`] and NULL as [`NULL_TOKEN`]. Float and
//! double columns cannot be key columns.
//!
//! The ts is the index's ts-column value (bigint or timestamp, not NULL, not
//! negative) or, without a ts column, the put time.

use crate::point::RowKey;
use crate::row::Value;

use super::index::{IndexDef, IndexLayout};

/// How the SDK writes a NULL key column.
pub const NULL_TOKEN: &str = "!N@U#L$L%";
/// How the SDK writes an empty-string key column.
pub const EMPTY_STRING_TOKEN: &str = "!@#$%";

/// Why a row's key or ts could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DimensionError {
    #[error("index `{index}`: column {column} is missing from a row of {len} values")]
    MissingColumn {
        index: String,
        column: usize,
        len: usize,
    },
    #[error("index `{index}`: column {column} holds a {kind}, which cannot be an index key")]
    BadKeyType {
        index: String,
        column: usize,
        kind: &'static str,
    },
    #[error(
        "index `{index}`: ts column {column} holds {found}; a ts must be a non-negative bigint or timestamp"
    )]
    BadTs {
        index: String,
        column: usize,
        found: String,
    },
}

/// Appends one key-column value as the SDK formats it.
pub fn format_key_value(value: &Value, out: &mut Vec<u8>) -> Result<(), &'static str> {
    match value {
        Value::Null => out.extend_from_slice(NULL_TOKEN.as_bytes()),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::SmallInt(v) => out.extend_from_slice(v.to_string().as_bytes()),
        Value::Int(v) => out.extend_from_slice(v.to_string().as_bytes()),
        Value::BigInt(v) | Value::Timestamp(v) => out.extend_from_slice(v.to_string().as_bytes()),
        Value::Date(d) => {
            let packed = d.to_packed().map_err(|_| "invalid date")?;
            out.extend_from_slice(packed.to_string().as_bytes());
        }
        Value::String(s) if s.is_empty() => out.extend_from_slice(EMPTY_STRING_TOKEN.as_bytes()),
        Value::String(s) => out.extend_from_slice(s),
        Value::Float(_) | Value::Double(_) => return Err(value.kind()),
    }
    Ok(())
}

fn column<'v>(
    index: &IndexDef,
    values: &'v [Value],
    col: usize,
) -> Result<&'v Value, DimensionError> {
    values
        .get(col)
        .ok_or_else(|| DimensionError::MissingColumn {
            index: index.name.clone(),
            column: col,
            len: values.len(),
        })
}

/// The dimension key of `index` for a row's values (schema order).
pub fn dimension_key(index: &IndexDef, values: &[Value]) -> Result<Vec<u8>, DimensionError> {
    let mut key = Vec::new();
    for (i, &col) in index.key_cols.iter().enumerate() {
        if i > 0 {
            key.push(b'|');
        }
        format_key_value(column(index, values, col)?, &mut key).map_err(|kind| {
            DimensionError::BadKeyType {
                index: index.name.clone(),
                column: col,
                kind,
            }
        })?;
    }
    Ok(key)
}

/// The ts `index` stores a row under.
pub fn index_ts(index: &IndexDef, values: &[Value], put_time: u64) -> Result<u64, DimensionError> {
    let Some(col) = index.ts_col else {
        return Ok(put_time);
    };
    match column(index, values, col)? {
        Value::BigInt(v) | Value::Timestamp(v) if *v >= 0 => Ok(*v as u64),
        other => Err(DimensionError::BadTs {
            index: index.name.clone(),
            column: col,
            found: format!("{other:?}"),
        }),
    }
}

impl IndexLayout {
    /// The index-0 position of a row: its snapshot iteration key.
    pub fn row_key(&self, values: &[Value], put_time: u64) -> Result<RowKey, DimensionError> {
        let index = self.index0();
        Ok(RowKey::new(
            dimension_key(index, values)?,
            index_ts(index, values, put_time)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::Date;
    use crate::snapshot_key::Ttl;

    fn index(key_cols: Vec<usize>, ts_col: Option<usize>) -> IndexDef {
        IndexDef {
            name: "i".into(),
            pos: 0,
            key_cols,
            ts_col,
            ttl: Ttl::NONE,
            deleted: false,
            inner: 0,
        }
    }

    #[test]
    fn key_formats_follow_the_sdk() {
        let values = vec![
            Value::string("ab"),
            Value::Int(-3),
            Value::Bool(true),
            Value::Date(Date::new(2020, 5, 17).unwrap()),
            Value::Null,
            Value::string(""),
            Value::Timestamp(1_700_000_000_000),
            Value::SmallInt(7),
            Value::BigInt(-9),
        ];
        let key = dimension_key(&index((0..9).collect(), None), &values).unwrap();
        let packed = (120 << 16) | (4 << 8) | 17;
        assert_eq!(
            String::from_utf8(key).unwrap(),
            format!("ab|-3|true|{packed}|!N@U#L$L%|!@#$%|1700000000000|7|-9")
        );
    }

    #[test]
    fn float_keys_and_bad_ts_are_errors() {
        let values = vec![Value::Double(1.0), Value::Null, Value::BigInt(-1)];
        assert!(matches!(
            dimension_key(&index(vec![0], None), &values),
            Err(DimensionError::BadKeyType { kind: "double", .. })
        ));
        assert!(index_ts(&index(vec![], Some(1)), &values, 5).is_err());
        assert!(index_ts(&index(vec![], Some(2)), &values, 5).is_err());
        assert!(index_ts(&index(vec![], Some(9)), &values, 5).is_err());
        assert_eq!(index_ts(&index(vec![], None), &values, 5), Ok(5));
        assert_eq!(
            index_ts(&index(vec![], Some(0)), &[Value::Timestamp(4)], 5),
            Ok(4)
        );
    }
}
