//! The row header and the byte layout a schema implies.
//!
//! ```text
//! offset 0      1 byte   format version, always 1
//! offset 1      1 byte   schema version (1 until the table is altered)
//! offset 2      4 bytes  total row length, u32 LE, header included
//! offset 6      B bytes  null bitmap, B = ceil(ncols / 8); column i is bit i%8 of
//!                        byte 6 + i/8, 1 = NULL; unused high bits are ignored
//! offset 6+B    Σ        fixed-width fields of the non-string columns, schema order
//! offset S      A × nstr string offset table, one slot per string column
//! S + A×nstr    rest     string bytes, in string-column order
//! ```
//!
//! The slot width `A` follows from the total length `L`: 1 byte if `L ≤ 255`,
//! 2 (LE) if `L ≤ 65 535`, 3 (**big-endian**) if `L ≤ 16 777 215`, else 4 (LE).
//! A slot holds the absolute offset where its string starts; a string ends where
//! the next slot points, the last one at `L`.

use super::error::RowError;
use super::types::Column;

/// The only row format version OpenMLDB writes (byte 0).
pub const FORMAT_VERSION: u8 = 1;
/// Bytes of the header: format version, schema version and the u32 length.
pub const HEADER_LEN: usize = 6;
/// The smallest possible row: the header plus one bitmap byte.
pub const MIN_ROW_LEN: usize = HEADER_LEN + 1;

/// The 6-byte header at the start of every row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RowHeader {
    /// Byte 0, always [`FORMAT_VERSION`].
    pub format_version: u8,
    /// Byte 1, the schema version the row was written with.
    pub schema_version: u8,
    /// Bytes 2..6, the row's total length in bytes.
    pub total_len: u32,
}

/// Reads the header of the row starting at `buf[0]` without requiring the
/// buffer to end where the row does (for walking a pack of rows). Checks that
/// the 6 bytes exist, the format version is 1 and the declared length is at
/// least [`MIN_ROW_LEN`].
pub fn peek_header(buf: &[u8]) -> Result<RowHeader, RowError> {
    let header = buf
        .first_chunk::<HEADER_LEN>()
        .ok_or(RowError::ShortHeader { len: buf.len() })?;
    let [format_version, schema_version, l0, l1, l2, l3] = *header;
    if format_version != FORMAT_VERSION {
        return Err(RowError::BadFormatVersion {
            found: format_version,
        });
    }
    let total_len = u32::from_le_bytes([l0, l1, l2, l3]);
    if (total_len as usize) < MIN_ROW_LEN {
        return Err(RowError::DeclaredLengthTooSmall {
            declared: total_len,
        });
    }
    Ok(RowHeader {
        format_version,
        schema_version,
        total_len,
    })
}

/// Reads and checks the header of a whole row: as [`peek_header`], and the
/// declared length must equal `row.len()` (as OpenMLDB's `RowView` requires).
pub fn row_header(row: &[u8]) -> Result<RowHeader, RowError> {
    let header = peek_header(row)?;
    if u64::from(header.total_len) != row.len() as u64 {
        return Err(RowError::LengthMismatch {
            declared: header.total_len,
            actual: row.len(),
        });
    }
    Ok(header)
}

/// Width in bytes of a string offset slot in a row of `total_len` bytes.
pub fn offset_width(total_len: u64) -> usize {
    if total_len <= 0xFF {
        1
    } else if total_len <= 0xFFFF {
        2
    } else if total_len <= 0xFF_FFFF {
        3
    } else {
        4
    }
}

/// Bytes of the null bitmap for `columns` columns.
pub(crate) fn bitmap_len(columns: usize) -> usize {
    columns.div_ceil(8)
}

/// What a schema fixes about every row, whatever the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Number of columns.
    pub columns: usize,
    /// Number of varchar/string columns.
    pub strings: usize,
    /// Offset of the string offset table (= end of the fixed-width fields).
    pub str_table: usize,
}

impl Shape {
    pub(crate) fn of(columns: &[Column]) -> Shape {
        let mut fixed = 0usize;
        let mut strings = 0usize;
        for col in columns {
            match col.ty.fixed_size() {
                Some(n) => fixed += n,
                None => strings += 1,
            }
        }
        Shape {
            columns: columns.len(),
            strings,
            str_table: HEADER_LEN + bitmap_len(columns.len()) + fixed,
        }
    }

    /// Where the string bytes begin for slots of `width` bytes.
    pub(crate) fn strings_start(&self, width: usize) -> usize {
        self.str_table + width * self.strings
    }
}

/// Where a column's data lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Position {
    /// A fixed-width field at this byte offset.
    Fixed(usize),
    /// The k-th string column (index into the offset table).
    Str(usize),
}

/// Computes every column's position in one pass.
pub(crate) fn positions(columns: &[Column]) -> Vec<Position> {
    let mut off = HEADER_LEN + bitmap_len(columns.len());
    let mut k = 0usize;
    columns
        .iter()
        .map(|col| match col.ty.fixed_size() {
            Some(n) => {
                let p = Position::Fixed(off);
                off += n;
                p
            }
            None => {
                let p = Position::Str(k);
                k += 1;
                p
            }
        })
        .collect()
}

/// Computes one column's position by scanning the columns before it.
pub(crate) fn position_of(columns: &[Column], index: usize) -> Option<Position> {
    let col = columns.get(index)?;
    let mut off = HEADER_LEN + bitmap_len(columns.len());
    let mut k = 0usize;
    for before in columns.iter().take(index) {
        match before.ty.fixed_size() {
            Some(n) => off += n,
            None => k += 1,
        }
    }
    Some(if col.ty.is_string() {
        Position::Str(k)
    } else {
        Position::Fixed(off)
    })
}

/// A schema prepared for fast encoding and decoding: the columns plus every
/// column's precomputed position. Build it once per schema and reuse it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowLayout {
    pub(crate) columns: Vec<Column>,
    pub(crate) positions: Vec<Position>,
    pub(crate) shape: Shape,
}

impl RowLayout {
    /// Prepares `columns`; an empty schema is [`RowError::EmptySchema`].
    pub fn new(columns: Vec<Column>) -> Result<Self, RowError> {
        if columns.is_empty() {
            return Err(RowError::EmptySchema);
        }
        let positions = positions(&columns);
        let shape = Shape::of(&columns);
        Ok(RowLayout {
            columns,
            positions,
            shape,
        })
    }

    /// The schema.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Number of varchar/string columns.
    pub fn string_count(&self) -> usize {
        self.shape.strings
    }

    /// Offset of the string offset table, i.e. the end of the header, bitmap
    /// and fixed-width fields.
    pub fn fixed_end(&self) -> usize {
        self.shape.str_table
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::types::ColumnType;

    #[test]
    fn widths_at_the_edges() {
        assert_eq!(offset_width(255), 1);
        assert_eq!(offset_width(256), 2);
        assert_eq!(offset_width(65_535), 2);
        assert_eq!(offset_width(65_536), 3);
        assert_eq!(offset_width(16_777_215), 3);
        assert_eq!(offset_width(16_777_216), 4);
    }

    #[test]
    fn header_checks() {
        assert_eq!(
            peek_header(&[1, 2, 7, 0, 0, 0]),
            Ok(RowHeader {
                format_version: 1,
                schema_version: 2,
                total_len: 7
            })
        );
        assert_eq!(
            peek_header(&[1, 2, 7, 0, 0]),
            Err(RowError::ShortHeader { len: 5 })
        );
        assert_eq!(
            peek_header(&[2, 1, 7, 0, 0, 0]),
            Err(RowError::BadFormatVersion { found: 2 })
        );
        assert_eq!(
            peek_header(&[1, 1, 6, 0, 0, 0]),
            Err(RowError::DeclaredLengthTooSmall { declared: 6 })
        );
        assert_eq!(
            row_header(&[1, 1, 8, 0, 0, 0, 0]),
            Err(RowError::LengthMismatch {
                declared: 8,
                actual: 7
            })
        );
        assert!(row_header(&[1, 1, 7, 0, 0, 0, 0]).is_ok());
    }

    #[test]
    fn positions_agree_with_scan() {
        let cols: Vec<Column> = [
            ColumnType::Bool,
            ColumnType::String,
            ColumnType::BigInt,
            ColumnType::Varchar,
            ColumnType::Date,
        ]
        .iter()
        .enumerate()
        .map(|(i, ty)| Column::new(format!("c{i}"), *ty))
        .collect();
        let all = positions(&cols);
        // bitmap 1 byte → fixed fields start at 7: bool@7, bigint@8, date@16
        assert_eq!(
            all,
            vec![
                Position::Fixed(7),
                Position::Str(0),
                Position::Fixed(8),
                Position::Str(1),
                Position::Fixed(16)
            ]
        );
        for (i, p) in all.iter().enumerate() {
            assert_eq!(position_of(&cols, i), Some(*p));
        }
        assert_eq!(position_of(&cols, 5), None);
        assert_eq!(Shape::of(&cols).str_table, 20);
    }
}
