//! The harness's readers against the sink's own encoders: generated rows
//! encoded as Parquet and as CSV (with the default and a custom NULL token)
//! decode back to exactly the generated values. This checks the comparison
//! the end-to-end tests rely on, without any daemon.

use e2e::output::{CsvSpec, decode_csv, decode_parquet};
use e2e::rows::{Cell, RowSet, row_of};
use sync_sinks::{BadRows, CsvOptions, OutputFormat, ParquetOptions, TableSchema};
use tablet_emu::{EmulatedTable, RowGenerator};

fn sample() -> (
    TableSchema,
    Vec<u8>,
    u64,
    RowSet,
    Vec<sync_core::row::Column>,
) {
    let table = EmulatedTable::demo(9, 2);
    let generator = RowGenerator::new(&table).expect("generator");
    let schema = TableSchema::from_table_info(&table.table_info("127.0.0.1:1").expect("info"))
        .expect("schema");
    let mut bytes = Vec::new();
    let mut expected = RowSet::new();
    let mut count = 0;
    for pid in 0..2 {
        for seq in 0..3000 {
            let row = generator.row(pid, seq).expect("row");
            bytes.extend_from_slice(&row.row);
            expected.add(row_of(&row));
            count += 1;
        }
    }
    let columns = table.schema().expect("columns");
    (schema, bytes, count, expected, columns)
}

#[test]
fn parquet_round_trip() {
    let (schema, rows, count, expected, columns) = sample();
    let file = OutputFormat::Parquet(ParquetOptions::default())
        .encode(&schema, &rows, count, BadRows::Fail)
        .expect("encode")
        .bytes;
    let mut got = RowSet::new();
    got.extend(decode_parquet(file, &columns).expect("decode"));
    let diff = expected.diff(&got);
    assert!(diff.is_empty(), "{diff}");
}

#[test]
fn csv_round_trip() {
    let (schema, rows, count, expected, columns) = sample();
    for null in ["", "NULL"] {
        let opts = CsvOptions {
            null: null.to_string(),
            ..CsvOptions::default()
        };
        let file = OutputFormat::Csv(opts)
            .encode(&schema, &rows, count, BadRows::Fail)
            .expect("encode")
            .bytes;
        let spec = CsvSpec {
            header: true,
            null: null.to_string(),
        };
        let decoded = decode_csv(&file, &columns, &spec).expect("decode");
        // The sample has NULLs and empty strings, which must stay distinct.
        assert!(decoded.iter().flatten().any(|c| *c == Cell::Null));
        assert!(
            decoded
                .iter()
                .flatten()
                .any(|c| *c == Cell::Str(String::new()))
        );
        let mut got = RowSet::new();
        got.extend(decoded);
        let diff = expected.diff(&got);
        assert!(diff.is_empty(), "null token {null:?}: {diff}");
    }
}
