//! Parquet output through arrow-rs.
//!
//! | OpenMLDB | Arrow | Parquet |
//! |---|---|---|
//! | bool | Boolean | BOOLEAN |
//! | smallint | Int16 | INT32, INT(16, signed) |
//! | int | Int32 | INT32 |
//! | bigint | Int64 | INT64 |
//! | float | Float32 | FLOAT |
//! | double | Float64 | DOUBLE |
//! | date | Date32 | INT32, DATE |
//! | timestamp | Timestamp(ms, "UTC") | INT64, TIMESTAMP(MILLIS, isAdjustedToUTC) |
//! | string, varchar | Utf8 | BYTE_ARRAY, STRING |
//!
//! Every column is nullable (OpenMLDB's NOT NULL is not carried over: rows of
//! an older schema version have NULL in the newer columns). One file per
//! segment, written whole in memory and then staged, with row groups of at
//! most [`ParquetOptions::row_group_rows`] rows. A date that is not in the
//! calendar (OpenMLDB accepts e.g. Feb 31) fails the stage. Strings that are
//! not UTF-8 follow [`InvalidUtf8`].

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float32Builder, Float64Builder, Int16Builder, Int32Builder,
    Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use sync_core::row::{Column, ColumnType, ValueRef};

use super::time::date_to_days;
use super::{BadRows, InvalidUtf8, RowScreen, SegmentError, for_each_row, text, value};
use crate::schema::TableSchema;

/// Column compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParquetCompression {
    /// Snappy (the default, what Spark writes).
    #[default]
    Snappy,
    /// None.
    Uncompressed,
    /// Zstandard at the parquet crate's default level.
    Zstd,
}

/// Parquet settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetOptions {
    /// Compression of every column.
    pub compression: ParquetCompression,
    /// Rows per row group (and per Arrow batch).
    pub row_group_rows: usize,
    /// Strings that are not UTF-8.
    pub invalid_utf8: InvalidUtf8,
    /// A column left out of the file (the column of a value partition,
    /// whose value is in the directory name; see [`crate::partition`]).
    pub omit_column: Option<usize>,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            compression: ParquetCompression::default(),
            row_group_rows: 128 * 1024,
            invalid_utf8: InvalidUtf8::default(),
            omit_column: None,
        }
    }
}

/// The Arrow schema of the output files of `columns`.
pub fn arrow_schema(columns: &[Column]) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| Field::new(&c.name, arrow_type(c.ty), true))
        .collect();
    Arc::new(Schema::new(fields))
}

/// The Arrow type of an OpenMLDB column type.
pub fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Bool => DataType::Boolean,
        ColumnType::SmallInt => DataType::Int16,
        ColumnType::Int => DataType::Int32,
        ColumnType::BigInt => DataType::Int64,
        ColumnType::Float => DataType::Float32,
        ColumnType::Double => DataType::Float64,
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        ColumnType::Varchar | ColumnType::String => DataType::Utf8,
    }
}

/// One column being built.
enum Builder {
    Bool(BooleanBuilder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Date(Date32Builder),
    Ts(TimestampMillisecondBuilder),
    Str(StringBuilder),
}

impl Builder {
    fn new(ty: ColumnType, capacity: usize) -> Self {
        match ty {
            ColumnType::Bool => Builder::Bool(BooleanBuilder::with_capacity(capacity)),
            ColumnType::SmallInt => Builder::I16(Int16Builder::with_capacity(capacity)),
            ColumnType::Int => Builder::I32(Int32Builder::with_capacity(capacity)),
            ColumnType::BigInt => Builder::I64(Int64Builder::with_capacity(capacity)),
            ColumnType::Float => Builder::F32(Float32Builder::with_capacity(capacity)),
            ColumnType::Double => Builder::F64(Float64Builder::with_capacity(capacity)),
            ColumnType::Date => Builder::Date(Date32Builder::with_capacity(capacity)),
            ColumnType::Timestamp => Builder::Ts(
                TimestampMillisecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            ),
            ColumnType::Varchar | ColumnType::String => {
                Builder::Str(StringBuilder::with_capacity(capacity, capacity * 16))
            }
        }
    }

    fn append(
        &mut self,
        v: ValueRef<'_>,
        policy: InvalidUtf8,
        index: u64,
        column: &str,
    ) -> Result<(), SegmentError> {
        let mismatch = |v: ValueRef<'_>| {
            SegmentError::Encode(format!(
                "row {index}: column {column}: a {} value in a column of another type",
                v.kind()
            ))
        };
        match (self, v) {
            (Builder::Bool(b), ValueRef::Null) => b.append_null(),
            (Builder::I16(b), ValueRef::Null) => b.append_null(),
            (Builder::I32(b), ValueRef::Null) => b.append_null(),
            (Builder::I64(b), ValueRef::Null) => b.append_null(),
            (Builder::F32(b), ValueRef::Null) => b.append_null(),
            (Builder::F64(b), ValueRef::Null) => b.append_null(),
            (Builder::Date(b), ValueRef::Null) => b.append_null(),
            (Builder::Ts(b), ValueRef::Null) => b.append_null(),
            (Builder::Str(b), ValueRef::Null) => b.append_null(),
            (Builder::Bool(b), ValueRef::Bool(x)) => b.append_value(x),
            (Builder::I16(b), ValueRef::SmallInt(x)) => b.append_value(x),
            (Builder::I32(b), ValueRef::Int(x)) => b.append_value(x),
            (Builder::I64(b), ValueRef::BigInt(x)) => b.append_value(x),
            (Builder::F32(b), ValueRef::Float(x)) => b.append_value(x),
            (Builder::F64(b), ValueRef::Double(x)) => b.append_value(x),
            (Builder::Ts(b), ValueRef::Timestamp(x)) => b.append_value(x),
            (Builder::Date(b), ValueRef::Date(d)) => {
                let days = date_to_days(&d).ok_or_else(|| {
                    SegmentError::Encode(format!(
                        "row {index}: column {column}: {d} is not a calendar date"
                    ))
                })?;
                b.append_value(days);
            }
            (Builder::Str(b), ValueRef::String(bytes)) => {
                b.append_value(text(bytes, policy, index, column)?);
            }
            (_, v) => return Err(mismatch(v)),
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::I16(b) => Arc::new(b.finish()),
            Builder::I32(b) => Arc::new(b.finish()),
            Builder::I64(b) => Arc::new(b.finish()),
            Builder::F32(b) => Arc::new(b.finish()),
            Builder::F64(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Ts(b) => Arc::new(b.finish()),
            Builder::Str(b) => Arc::new(b.finish()),
        }
    }
}

/// Encodes a segment as Parquet; a row that cannot be written fails it.
pub fn encode(
    opts: &ParquetOptions,
    schema: &TableSchema,
    rows: &[u8],
    row_count: u64,
) -> Result<Vec<u8>, SegmentError> {
    let mut screen = RowScreen::new(BadRows::Fail, opts.invalid_utf8);
    encode_with(opts, schema, rows, row_count, &mut screen)
}

/// Encodes a segment as Parquet, leaving out the rows `screen` rejects.
pub(crate) fn encode_with(
    opts: &ParquetOptions,
    schema: &TableSchema,
    rows: &[u8],
    row_count: u64,
    screen: &mut RowScreen,
) -> Result<Vec<u8>, SegmentError> {
    // The columns written, with their index in the row.
    let kept: Vec<(usize, &Column)> = schema
        .columns()
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != opts.omit_column)
        .collect();
    let columns: Vec<Column> = kept.iter().map(|(_, c)| (*c).clone()).collect();
    let arrow = arrow_schema(&columns);
    let batch_rows = opts.row_group_rows.max(1);
    let props = WriterProperties::builder()
        .set_compression(match opts.compression {
            ParquetCompression::Snappy => Compression::SNAPPY,
            ParquetCompression::Uncompressed => Compression::UNCOMPRESSED,
            ParquetCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
        })
        .set_max_row_group_row_count(Some(batch_rows))
        .set_created_by("openmldb-sync".to_owned())
        .build();
    let perr = |e: parquet::errors::ParquetError| SegmentError::Encode(e.to_string());
    let mut writer = ArrowWriter::try_new(
        Vec::with_capacity(rows.len() / 2),
        arrow.clone(),
        Some(props),
    )
    .map_err(perr)?;
    let capacity = batch_rows.min(usize::try_from(row_count).unwrap_or(batch_rows));
    let mut builders: Vec<Builder> = columns
        .iter()
        .map(|c| Builder::new(c.ty, capacity))
        .collect();
    let mut in_batch = 0usize;
    let flush = |builders: &mut Vec<Builder>, writer: &mut ArrowWriter<Vec<u8>>| {
        let arrays: Vec<ArrayRef> = builders.iter_mut().map(Builder::finish).collect();
        let batch = RecordBatch::try_new(arrow.clone(), arrays)
            .map_err(|e| SegmentError::Encode(e.to_string()))?;
        writer.write(&batch).map_err(perr)
    };
    for_each_row(schema, rows, row_count, screen, |index, view| {
        for ((i, c), b) in kept.iter().zip(builders.iter_mut()) {
            b.append(value(view, index, *i)?, opts.invalid_utf8, index, &c.name)?;
        }
        in_batch += 1;
        if in_batch == batch_rows {
            flush(&mut builders, &mut writer)?;
            in_batch = 0;
        }
        Ok(())
    })?;
    if in_batch > 0 {
        flush(&mut builders, &mut writer)?;
    }
    writer.into_inner().map_err(perr)
}
