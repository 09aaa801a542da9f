//! Parquet: a segment of two schema versions written and read back with the
//! parquet crate's Arrow reader; every type, NULLs, logical types.

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, TimestampMillisecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{LogicalType, TimeUnit as PqTimeUnit};
use sync_core::row::Value;
use sync_sinks::format::parquet::encode;
use sync_sinks::format::time::days_from_civil;
use sync_sinks::{InvalidUtf8, ParquetOptions};

fn read(bytes: Vec<u8>) -> (Vec<RecordBatch>, parquet::file::metadata::ParquetMetaData) {
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).expect("open");
    let meta = builder.metadata().as_ref().clone();
    let batches = builder
        .build()
        .expect("reader")
        .collect::<Result<Vec<_>, _>>()
        .expect("read");
    (batches, meta)
}

/// The value at `row` of `col` as the sync's `Value` (`Null` if null).
fn value_at(batch: &RecordBatch, col: usize, row: usize) -> Value {
    let a = batch.column(col);
    if a.is_null(row) {
        return Value::Null;
    }
    match a.data_type() {
        DataType::Boolean => Value::Bool(a.as_boolean().value(row)),
        DataType::Int16 => Value::SmallInt(a.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => Value::Int(a.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => Value::BigInt(a.as_primitive::<Int64Type>().value(row)),
        DataType::Float32 => Value::Float(a.as_primitive::<Float32Type>().value(row)),
        DataType::Float64 => Value::Double(a.as_primitive::<Float64Type>().value(row)),
        DataType::Date32 => {
            let days = a.as_primitive::<Date32Type>().value(row);
            let (y, m, d) = sync_sinks::format::time::civil_from_days(i64::from(days));
            Value::Date(sync_core::row::Date::new(y as i32, m as u8, d as u8).expect("date"))
        }
        DataType::Timestamp(TimeUnit::Millisecond, Some(tz)) if tz.as_ref() == "UTC" => {
            Value::Timestamp(a.as_primitive::<TimestampMillisecondType>().value(row))
        }
        DataType::Utf8 => Value::string(a.as_string::<i32>().value(row).as_bytes().to_vec()),
        other => panic!("unexpected type {other}"),
    }
}

#[test]
fn two_versions_read_back_equal() {
    let schema = common::table();
    let n = 1000u64;
    let rows = common::rows(&schema, 0, n);
    let opts = ParquetOptions {
        row_group_rows: 300,
        ..ParquetOptions::default()
    };
    let (batches, meta) = read(encode(&opts, &schema, &rows, n).expect("encode"));
    assert_eq!(meta.num_row_groups(), 4, "1000 rows in groups of 300");
    // Logical types.
    let descr = meta.file_metadata().schema_descr();
    let logical = |i: usize| descr.column(i).logical_type_ref().cloned();
    assert_eq!(logical(1), Some(LogicalType::integer(16, true)));
    assert_eq!(logical(6), Some(LogicalType::Date));
    assert_eq!(
        logical(7),
        Some(LogicalType::timestamp(true, PqTimeUnit::MILLIS))
    );
    assert_eq!(logical(8), Some(LogicalType::String));
    assert_eq!(descr.num_columns(), 12);
    // Values: version-1 rows (even n) have NULL in the two added columns.
    let mut k = 0u64;
    for batch in &batches {
        assert_eq!(batch.num_columns(), 12);
        for r in 0..batch.num_rows() {
            let version = if k.is_multiple_of(2) { 1 } else { 2 };
            let mut want = common::row_values(k, version);
            want.resize(12, Value::Null);
            let got: Vec<Value> = (0..12).map(|c| value_at(batch, c, r)).collect();
            for (c, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(g.bitwise_eq(w), "row {k} column {c}: {g:?} != {w:?}");
            }
            k += 1;
        }
    }
    assert_eq!(k, n);
    assert_eq!(days_from_civil(1970, 1, 2), 1);
}

#[test]
fn all_null_and_empty_segment() {
    let schema = common::table();
    let nulls = vec![Value::Null; 12];
    let row = schema.versions().encode(2, &nulls).expect("encode");
    let (batches, _) = read(encode(&ParquetOptions::default(), &schema, &row, 1).expect("encode"));
    assert_eq!(batches.len(), 1);
    for c in 0..12 {
        assert!(batches[0].column(c).is_null(0), "column {c}");
    }
    let (batches, meta) = read(encode(&ParquetOptions::default(), &schema, &[], 0).expect("empty"));
    assert!(batches.iter().all(|b| b.num_rows() == 0));
    assert_eq!(meta.file_metadata().num_rows(), 0);
    assert_eq!(meta.file_metadata().schema_descr().num_columns(), 12);
}

#[test]
fn bad_values_are_errors() {
    let schema = common::table();
    let mut v = common::row_values(1, 1);
    v[9] = Value::string(b"\xff".to_vec());
    let row = schema.versions().encode(1, &v).expect("encode");
    let strict = ParquetOptions {
        invalid_utf8: InvalidUtf8::Error,
        ..ParquetOptions::default()
    };
    assert!(encode(&strict, &schema, &row, 1).is_err());
    let (batches, _) = read(encode(&ParquetOptions::default(), &schema, &row, 1).expect("lossy"));
    assert_eq!(value_at(&batches[0], 9, 0), Value::string("\u{fffd}"));
    // OpenMLDB accepts Feb 31; Parquet's DATE cannot hold it.
    let mut v = common::row_values(1, 1);
    v[6] = Value::Date(sync_core::row::Date::new(2021, 2, 31).expect("openmldb date"));
    let row = schema.versions().encode(1, &v).expect("encode");
    assert!(encode(&ParquetOptions::default(), &schema, &row, 1).is_err());
    // Wrong count.
    assert!(encode(&ParquetOptions::default(), &schema, &row, 2).is_err());
}
