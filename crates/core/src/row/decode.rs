//! Decoding rows: the borrowing [`RowView`] and the owning [`decode_row`].
//!
//! [`RowView::new`] checks the whole row up front, so that reading any column
//! afterwards only fails for a field whose *content* is invalid (a bad packed
//! date):
//!
//! - the header: 6 bytes, format version 1, declared length = buffer length;
//! - the row is long enough for header, bitmap, fixed fields and offset table;
//! - the string offset table is fully consistent. OpenMLDB's builders lay the
//!   strings out back to back, so every slot `k ≥ 1` must hold the end of
//!   string `k − 1`, slot 0 must hold the start of the string area when the
//!   first string column is not NULL, offsets never decrease, and the last
//!   string ends exactly at the row's end. The one slot that is *not* checked
//!   is slot 0 of a NULL first string column: the C++ builder leaves it 0, the
//!   Java builder may leave other values there.
//!
//! Unused high bits of the last bitmap byte are ignored (OpenMLDB's storage
//! builder leaves them set). A `bool` byte decodes as `true` when it is not 0,
//! as OpenMLDB's Java `RowView` (the one SyncTool uses) reads it. NULL fields
//! decode as NULL whatever their slot holds.

use super::error::RowError;
use super::layout::{
    HEADER_LEN, Position, RowLayout, Shape, offset_width, position_of, row_header,
};
use super::types::{Column, ColumnType, Date, Value, ValueRef};

/// A checked, borrowing view of one encoded row.
#[derive(Debug, Clone, Copy)]
pub struct RowView<'a> {
    columns: &'a [Column],
    /// Precomputed positions when built from a [`RowLayout`].
    positions: Option<&'a [Position]>,
    row: &'a [u8],
    shape: Shape,
    width: usize,
}

impl<'a> RowView<'a> {
    /// Checks `row` against `columns` (see the module docs) without
    /// allocating. Reading a column then scans the columns before it; use
    /// [`RowLayout::view`] for constant-time access to wide schemas.
    pub fn new(columns: &'a [Column], row: &'a [u8]) -> Result<Self, RowError> {
        Self::build(columns, None, Shape::of(columns), row)
    }

    fn build(
        columns: &'a [Column],
        positions: Option<&'a [Position]>,
        shape: Shape,
        row: &'a [u8],
    ) -> Result<Self, RowError> {
        if columns.is_empty() {
            return Err(RowError::EmptySchema);
        }
        row_header(row)?;
        let width = offset_width(row.len() as u64);
        let need = shape.strings_start(width);
        if row.len() < need {
            return Err(RowError::TooShortForSchema {
                len: row.len(),
                need,
                columns: shape.columns,
                strings: shape.strings,
            });
        }
        let view = RowView {
            columns,
            positions,
            row,
            shape,
            width,
        };
        view.check_strings()?;
        Ok(view)
    }

    /// Verifies the string offset table (see the module docs).
    fn check_strings(&self) -> Result<(), RowError> {
        let total = self.row.len() as u64;
        let mut cursor = self.shape.strings_start(self.width) as u64;
        let mut k = 0usize;
        for (i, col) in self.columns.iter().enumerate() {
            if !col.ty.is_string() {
                continue;
            }
            let null = self.null_bit(i);
            if k > 0 || !null {
                let found = self.read_slot(k)?;
                if found != cursor {
                    return Err(RowError::StringOffsetMismatch {
                        column: i,
                        name: col.name.clone(),
                        slot_at: self.slot_at(k),
                        found,
                        expected: cursor,
                    });
                }
            }
            if !null && k + 1 < self.shape.strings {
                let end = self.read_slot(k + 1)?;
                if end < cursor {
                    return Err(RowError::StringOffsetsDecreasing {
                        column: i,
                        name: col.name.clone(),
                        slot_at: self.slot_at(k + 1),
                        start: cursor,
                        end,
                    });
                }
                if end > total {
                    return Err(RowError::StringOffsetOutOfRange {
                        column: i,
                        name: col.name.clone(),
                        slot_at: self.slot_at(k + 1),
                        end,
                        total: self.row.len(),
                    });
                }
                cursor = end;
            } else if !null {
                // The last string column runs to the end of the row.
                cursor = total;
            }
            k += 1;
        }
        if cursor != total {
            return Err(RowError::TrailingBytes {
                end: usize::try_from(cursor).unwrap_or(usize::MAX),
                total: self.row.len(),
            });
        }
        Ok(())
    }

    /// The row's bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.row
    }

    /// The schema the row is read with.
    pub fn columns(&self) -> &'a [Column] {
        self.columns
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Always false: a view needs at least one column.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The row's schema version (byte 1).
    pub fn schema_version(&self) -> u8 {
        self.row.get(1).copied().unwrap_or(0)
    }

    /// Width in bytes of the string offset slots of this row.
    pub fn offset_width(&self) -> usize {
        self.width
    }

    /// Whether column `index` is NULL. An index past the schema has no value
    /// and counts as NULL.
    #[inline]
    pub fn is_null(&self, index: usize) -> bool {
        index >= self.columns.len() || self.null_bit(index)
    }

    #[inline]
    fn null_bit(&self, index: usize) -> bool {
        self.row
            .get(HEADER_LEN + index / 8)
            .is_none_or(|b| b & (1 << (index % 8)) != 0)
    }

    /// Column `index`'s value, borrowing strings from the row.
    #[inline]
    pub fn get(&self, index: usize) -> Result<ValueRef<'a>, RowError> {
        let col = self.columns.get(index).ok_or(RowError::ColumnIndex {
            index,
            columns: self.columns.len(),
        })?;
        if self.null_bit(index) {
            return Ok(ValueRef::Null);
        }
        let pos = match self.positions {
            Some(p) => p.get(index).copied(),
            None => position_of(self.columns, index),
        }
        .ok_or(RowError::ColumnIndex {
            index,
            columns: self.columns.len(),
        })?;
        self.read(index, col, pos)
    }

    /// Iterates over all values in schema order (one pass, no allocation).
    pub fn iter(&self) -> RowValues<'a> {
        RowValues {
            view: *self,
            index: 0,
            fixed: HEADER_LEN + super::layout::bitmap_len(self.columns.len()),
            string: 0,
        }
    }

    /// Copies every value out of the row.
    pub fn to_values(&self) -> Result<Vec<Value>, RowError> {
        let mut values = Vec::with_capacity(self.columns.len());
        for v in self.iter() {
            values.push(v?.to_value());
        }
        Ok(values)
    }

    #[inline]
    fn read(&self, index: usize, col: &Column, pos: Position) -> Result<ValueRef<'a>, RowError> {
        match pos {
            Position::Fixed(at) => self.read_fixed(index, col, at),
            Position::Str(k) => self.read_str(k).map(ValueRef::String),
        }
    }

    #[inline]
    fn read_fixed(&self, index: usize, col: &Column, at: usize) -> Result<ValueRef<'a>, RowError> {
        let v = match col.ty {
            ColumnType::Bool => ValueRef::Bool(self.array::<1>(at)?[0] != 0),
            ColumnType::SmallInt => ValueRef::SmallInt(i16::from_le_bytes(self.array(at)?)),
            ColumnType::Int => ValueRef::Int(i32::from_le_bytes(self.array(at)?)),
            ColumnType::BigInt => ValueRef::BigInt(i64::from_le_bytes(self.array(at)?)),
            ColumnType::Float => ValueRef::Float(f32::from_le_bytes(self.array(at)?)),
            ColumnType::Double => ValueRef::Double(f64::from_le_bytes(self.array(at)?)),
            ColumnType::Timestamp => ValueRef::Timestamp(i64::from_le_bytes(self.array(at)?)),
            ColumnType::Date => {
                let packed = i32::from_le_bytes(self.array(at)?);
                let date = Date::from_packed(packed).map_err(|source| RowError::BadDate {
                    column: index,
                    name: col.name.clone(),
                    at,
                    packed,
                    source,
                })?;
                ValueRef::Date(date)
            }
            ColumnType::Varchar | ColumnType::String => {
                // Positions never give a string column a fixed slot.
                return Err(RowError::ColumnIndex {
                    index,
                    columns: self.columns.len(),
                });
            }
        };
        Ok(v)
    }

    #[inline]
    fn array<const N: usize>(&self, at: usize) -> Result<[u8; N], RowError> {
        self.row
            .get(at..)
            .and_then(|rest| rest.first_chunk::<N>())
            .copied()
            .ok_or_else(|| RowError::TooShortForSchema {
                len: self.row.len(),
                need: at.saturating_add(N),
                columns: self.shape.columns,
                strings: self.shape.strings,
            })
    }

    /// Bytes of the k-th string column (the caller checked it is not NULL).
    #[inline]
    fn read_str(&self, k: usize) -> Result<&'a [u8], RowError> {
        let start = self.read_slot(k)?;
        let end = if k + 1 < self.shape.strings {
            self.read_slot(k + 1)?
        } else {
            self.row.len() as u64
        };
        usize::try_from(start)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(s, e)| self.row.get(s..e))
            .ok_or_else(|| RowError::StringOffsetOutOfRange {
                column: self.string_column_index(k),
                name: self
                    .columns
                    .get(self.string_column_index(k))
                    .map(|c| c.name.clone())
                    .unwrap_or_default(),
                slot_at: self.slot_at(k),
                end,
                total: self.row.len(),
            })
    }

    fn string_column_index(&self, k: usize) -> usize {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.ty.is_string())
            .nth(k)
            .map_or(usize::MAX, |(i, _)| i)
    }

    #[inline]
    fn slot_at(&self, k: usize) -> usize {
        self.shape.str_table + k * self.width
    }

    #[inline]
    fn read_slot(&self, k: usize) -> Result<u64, RowError> {
        let at = self.slot_at(k);
        let slot =
            self.row
                .get(at..at + self.width)
                .ok_or_else(|| RowError::TooShortForSchema {
                    len: self.row.len(),
                    need: at + self.width,
                    columns: self.shape.columns,
                    strings: self.shape.strings,
                })?;
        Ok(match *slot {
            [a] => u64::from(a),
            [a, b] => u64::from(u16::from_le_bytes([a, b])),
            // The 3-byte form is big-endian.
            [a, b, c] => u64::from(u32::from_be_bytes([0, a, b, c])),
            [a, b, c, d] => u64::from(u32::from_le_bytes([a, b, c, d])),
            _ => 0,
        })
    }
}

impl<'a> IntoIterator for &RowView<'a> {
    type Item = Result<ValueRef<'a>, RowError>;
    type IntoIter = RowValues<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over a row's values in schema order, from [`RowView::iter`].
#[derive(Debug, Clone)]
pub struct RowValues<'a> {
    view: RowView<'a>,
    index: usize,
    fixed: usize,
    string: usize,
}

impl<'a> Iterator for RowValues<'a> {
    type Item = Result<ValueRef<'a>, RowError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let index = self.index;
        let col = self.view.columns.get(index)?;
        self.index += 1;
        let pos = match col.ty.fixed_size() {
            Some(n) => {
                let p = Position::Fixed(self.fixed);
                self.fixed += n;
                p
            }
            None => {
                let p = Position::Str(self.string);
                self.string += 1;
                p
            }
        };
        if self.view.null_bit(index) {
            return Some(Ok(ValueRef::Null));
        }
        Some(self.view.read(index, col, pos))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.view.columns.len().saturating_sub(self.index);
        (left, Some(left))
    }
}

impl ExactSizeIterator for RowValues<'_> {}

impl RowLayout {
    /// A checked view of `row` with constant-time column access.
    pub fn view<'a>(&'a self, row: &'a [u8]) -> Result<RowView<'a>, RowError> {
        RowView::build(&self.columns, Some(&self.positions), self.shape, row)
    }

    /// Decodes every value of `row`.
    pub fn decode(&self, row: &[u8]) -> Result<Vec<Value>, RowError> {
        self.view(row)?.to_values()
    }
}

/// Decodes one row with `columns` into owned values (NULLs as [`Value::Null`]).
pub fn decode_row(columns: &[Column], row: &[u8]) -> Result<Vec<Value>, RowError> {
    RowView::new(columns, row)?.to_values()
}
