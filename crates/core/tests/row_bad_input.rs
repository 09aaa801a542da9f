//! Malformed input: truncations, byte flips, inconsistent offsets, bad dates,
//! bad packs and bad values for the encoder. Decoding must return an error or
//! a value, never panic; corruption of the header length and of the offset
//! table must be caught wherever the format makes it detectable.

use proptest::prelude::*;
use sync_core::row::{
    Column, ColumnType, Date, DateError, RowError, RowView, SchemaVersions, Value, ValueRef,
    decode_row, encode_row, split_rows,
};

fn cols(spec: &[(&str, ColumnType)]) -> Vec<Column> {
    spec.iter().map(|(n, t)| Column::new(*n, *t)).collect()
}

/// a:int, s0:string, s1:string with (1, "ab", "cde").
/// 3 columns → 1 bitmap byte; a@7(4) → S = 11; 11 + 5 + 1·2 = 18 bytes,
/// strings at 13: slot 0 = 13 (0x0d), slot 1 = 15 (0x0f). Bitmap 0xf8.
fn small_schema() -> Vec<Column> {
    cols(&[
        ("a", ColumnType::Int),
        ("s0", ColumnType::String),
        ("s1", ColumnType::String),
    ])
}

#[rustfmt::skip]
const SMALL_ROW: [u8; 18] = [
    0x01, 0x01, 0x12, 0x00, 0x00, 0x00, 0xf8, 0x01, 0x00, 0x00, 0x00, 0x0d, 0x0f,
    b'a', b'b', b'c', b'd', b'e',
];

/// d:date = 2024-03-05 → 1 bitmap byte, d@7(4), 11 bytes. Bitmap 0xfe.
#[rustfmt::skip]
const DATE_ROW: [u8; 11] = [0x01, 0x01, 0x0b, 0x00, 0x00, 0x00, 0xfe, 0x05, 0x02, 0x7c, 0x00];

#[test]
fn the_fixtures_are_valid() {
    assert_eq!(
        decode_row(&small_schema(), &SMALL_ROW),
        Ok(vec![
            Value::Int(1),
            Value::string("ab"),
            Value::string("cde")
        ])
    );
    assert_eq!(
        decode_row(&cols(&[("d", ColumnType::Date)]), &DATE_ROW),
        Ok(vec![Value::Date(Date::new(2024, 3, 5).unwrap())])
    );
}

#[test]
fn every_truncation_and_extension_is_an_error() {
    let schema = small_schema();
    for cut in 0..SMALL_ROW.len() {
        let got = decode_row(&schema, &SMALL_ROW[..cut]);
        assert!(got.is_err(), "prefix of {cut} bytes decoded: {got:?}");
        if cut >= 6 {
            assert_eq!(
                got,
                Err(RowError::LengthMismatch {
                    declared: 18,
                    actual: cut
                })
            );
        } else {
            assert_eq!(got, Err(RowError::ShortHeader { len: cut }));
        }
    }
    let mut longer = SMALL_ROW.to_vec();
    longer.push(0);
    assert_eq!(
        decode_row(&schema, &longer),
        Err(RowError::LengthMismatch {
            declared: 18,
            actual: 19
        })
    );
}

#[test]
fn header_corruption() {
    let schema = small_schema();
    for byte in 2..6 {
        for bit in 0..8 {
            let mut row = SMALL_ROW;
            row[byte] ^= 1 << bit;
            assert!(
                matches!(
                    decode_row(&schema, &row),
                    Err(RowError::LengthMismatch { .. } | RowError::DeclaredLengthTooSmall { .. })
                ),
                "length flip at byte {byte} bit {bit} not detected"
            );
        }
    }
    for v in [0u8, 2, 0x81, 0xff] {
        let mut row = SMALL_ROW;
        row[0] = v;
        assert_eq!(
            decode_row(&schema, &row),
            Err(RowError::BadFormatVersion { found: v })
        );
    }
    // Consistent header, but far too short for a 3-column schema.
    assert_eq!(
        decode_row(&schema, &[1, 1, 7, 0, 0, 0, 0xff]),
        Err(RowError::TooShortForSchema {
            len: 7,
            need: 13,
            columns: 3,
            strings: 2
        })
    );
    assert_eq!(decode_row(&[], &SMALL_ROW), Err(RowError::EmptySchema));
}

#[test]
fn inconsistent_offsets_name_the_column_and_byte() {
    let schema = small_schema();
    let with = |at: usize, v: u8| {
        let mut row = SMALL_ROW;
        row[at] = v;
        decode_row(&schema, &row)
    };
    assert_eq!(
        with(11, 0x0c),
        Err(RowError::StringOffsetMismatch {
            column: 1,
            name: "s0".into(),
            slot_at: 11,
            found: 12,
            expected: 13
        })
    );
    assert_eq!(
        with(12, 0x0c),
        Err(RowError::StringOffsetsDecreasing {
            column: 1,
            name: "s0".into(),
            slot_at: 12,
            start: 13,
            end: 12
        })
    );
    assert_eq!(
        with(12, 0x13),
        Err(RowError::StringOffsetOutOfRange {
            column: 1,
            name: "s0".into(),
            slot_at: 12,
            end: 19,
            total: 18
        })
    );
    // s1 marked NULL: "cde" becomes trailing garbage.
    assert_eq!(
        with(6, 0xfc),
        Err(RowError::TrailingBytes { end: 15, total: 18 })
    );
    // s0 marked NULL: s1's slot must then be the start of the string area.
    assert_eq!(
        with(6, 0xfa),
        Err(RowError::StringOffsetMismatch {
            column: 2,
            name: "s1".into(),
            slot_at: 12,
            found: 15,
            expected: 13
        })
    );
    // The one corruption the format cannot reveal: moving the boundary
    // between two non-NULL strings (slot 1: 15 → 14) keeps every invariant.
    assert_eq!(
        with(12, 0x0e),
        Ok(vec![
            Value::Int(1),
            Value::string("a"),
            Value::string("bcde")
        ])
    );
    let msg = with(12, 0x13).unwrap_err().to_string();
    assert!(
        msg.contains("column 1") && msg.contains("\"s0\"") && msg.contains("byte 12"),
        "{msg}"
    );
}

#[test]
fn bad_dates_and_odd_bools() {
    let schema = cols(&[("d", ColumnType::Date)]);
    let mut zero = DATE_ROW;
    zero[7..11].copy_from_slice(&[0, 0, 0, 0]);
    assert_eq!(
        decode_row(&schema, &zero),
        Err(RowError::BadDate {
            column: 0,
            name: "d".into(),
            at: 7,
            packed: 0,
            source: DateError {
                year: 1900,
                month: 1,
                day: 0
            }
        })
    );
    // The same zero bytes under a NULL bit are fine.
    zero[6] = 0xff;
    assert_eq!(decode_row(&schema, &zero), Ok(vec![Value::Null]));
    // Month byte 12 → month 13.
    let mut month = DATE_ROW;
    month[8] = 12;
    let err = decode_row(&schema, &month).unwrap_err();
    assert!(err.to_string().contains("at byte 7"), "{err}");

    // A bool byte other than 0/1 reads as true, like OpenMLDB's Java RowView.
    let bools = cols(&[("b", ColumnType::Bool)]);
    let row = [0x01, 0x01, 0x08, 0, 0, 0, 0xfe, 0x02];
    assert_eq!(decode_row(&bools, &row), Ok(vec![Value::Bool(true)]));
    let view = RowView::new(&bools, &row).unwrap();
    assert_eq!(
        view.get(1),
        Err(RowError::ColumnIndex {
            index: 1,
            columns: 1
        })
    );
}

#[test]
fn encoder_refusals() {
    let schema = small_schema();
    assert_eq!(
        encode_row(&schema, 1, &[Value::Int(1), Value::Int(2), Value::Null]),
        Err(RowError::TypeMismatch {
            column: 1,
            name: "s0".into(),
            expected: ColumnType::String,
            found: "int"
        })
    );
    assert_eq!(
        encode_row(&schema, 1, &[Value::Int(1)]),
        Err(RowError::ValueCount {
            expected: 3,
            found: 1
        })
    );
    assert_eq!(encode_row(&[], 1, &[]), Err(RowError::EmptySchema));
    let dates = cols(&[("d", ColumnType::Date)]);
    let bad = Date {
        year: 2024,
        month: 2,
        day: 0,
    };
    assert_eq!(
        encode_row(&dates, 1, &[Value::Date(bad)]),
        Err(RowError::InvalidDateValue {
            column: 0,
            name: "d".into(),
            source: DateError {
                year: 2024,
                month: 2,
                day: 0
            }
        })
    );
    let ts = cols(&[("t", ColumnType::Timestamp)]);
    assert_eq!(
        encode_row(&ts, 1, &[Value::Timestamp(-1)]),
        Err(RowError::NegativeTimestamp {
            column: 0,
            name: "t".into(),
            value: -1
        })
    );
    assert!(encode_row(&ts, 1, &[Value::Timestamp(0)]).is_ok());
    let msg = encode_row(&schema, 1, &[Value::Int(1), Value::Int(2), Value::Null])
        .unwrap_err()
        .to_string();
    assert_eq!(msg, "column 1 (\"s0\") is string, got a int value");
}

#[test]
fn split_rows_reports_the_offset_of_a_bad_row() {
    let mut pack = SMALL_ROW.to_vec();
    pack.extend_from_slice(&DATE_ROW);
    pack.extend_from_slice(&SMALL_ROW);
    let rows: Vec<_> = split_rows(&pack).collect();
    assert_eq!(
        rows,
        vec![Ok(&SMALL_ROW[..]), Ok(&DATE_ROW[..]), Ok(&SMALL_ROW[..])]
    );
    assert_eq!(split_rows(&[]).count(), 0);

    // Cut at every point: the whole rows before the cut, then one error for
    // the row that was cut, with its start offset, then nothing.
    let starts = [0usize, 18, 29];
    for cut in 1..pack.len() {
        let mut it = split_rows(&pack[..cut]);
        let whole = starts.iter().filter(|&&s| s > 0 && s <= cut).count();
        let got: Vec<_> = it.by_ref().collect();
        let (ok, err): (Vec<_>, Vec<_>) = got.into_iter().partition(Result::is_ok);
        assert_eq!(ok.len(), whole, "cut {cut}");
        if starts.contains(&cut) {
            assert!(err.is_empty(), "cut {cut} at a row boundary");
            continue;
        }
        assert_eq!(err.len(), 1, "cut {cut}");
        let start = starts[whole];
        match &err[0] {
            Err(RowError::InPack {
                index,
                offset,
                error,
            }) => {
                assert_eq!((*index, *offset), (whole, start), "cut {cut}");
                assert!(
                    matches!(
                        **error,
                        RowError::ShortHeader { .. } | RowError::Truncated { .. }
                    ),
                    "cut {cut}: {error}"
                );
            }
            other => panic!("cut {cut}: {other:?}"),
        }
        assert_eq!(it.next(), None);
    }

    // A zero-length row in the middle stops the walk.
    let mut zero = SMALL_ROW.to_vec();
    zero.extend_from_slice(&[0x01, 0x01, 0, 0, 0, 0]);
    zero.extend_from_slice(&SMALL_ROW);
    let got: Vec<_> = split_rows(&zero).collect();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1],
        Err(RowError::InPack {
            index: 1,
            offset: 18,
            error: Box::new(RowError::DeclaredLengthTooSmall { declared: 0 })
        })
    );
    let msg = got[1].clone().unwrap_err().to_string();
    assert!(msg.contains("row #1 at byte 18"), "{msg}");

    // A snappy-compressed value is not a row: its first byte is a varint.
    let snappy = sync_core::row::compress_snappy(&SMALL_ROW);
    assert!(matches!(
        split_rows(&snappy).next(),
        Some(Err(RowError::InPack { offset: 0, .. }))
    ));
}

fn column_type() -> impl Strategy<Value = ColumnType> {
    prop::sample::select(ColumnType::ALL.to_vec())
}

fn value_of(ty: ColumnType) -> BoxedStrategy<Value> {
    let v: BoxedStrategy<Value> = match ty {
        ColumnType::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        ColumnType::SmallInt => any::<i16>().prop_map(Value::SmallInt).boxed(),
        ColumnType::Int => any::<i32>().prop_map(Value::Int).boxed(),
        ColumnType::BigInt => any::<i64>().prop_map(Value::BigInt).boxed(),
        ColumnType::Float => any::<f32>().prop_map(Value::Float).boxed(),
        ColumnType::Double => any::<f64>().prop_map(Value::Double).boxed(),
        ColumnType::Date => (1900i32..=9999, 1u8..=12, 1u8..=31)
            .prop_map(|(year, month, day)| Value::Date(Date { year, month, day }))
            .boxed(),
        ColumnType::Timestamp => (0i64..=i64::MAX).prop_map(Value::Timestamp).boxed(),
        ColumnType::Varchar | ColumnType::String => prop_oneof![
            4 => prop::collection::vec(any::<u8>(), 0..20),
            1 => prop::collection::vec(any::<u8>(), 250..300),
        ]
        .prop_map(Value::String)
        .boxed(),
    };
    prop_oneof![1 => Just(Value::Null), 3 => v].boxed()
}

fn schema_and_row() -> impl Strategy<Value = (Vec<Column>, Vec<Value>)> {
    prop::collection::vec(column_type(), 1..=16).prop_flat_map(|types| {
        let columns: Vec<Column> = types
            .iter()
            .enumerate()
            .map(|(i, ty)| Column::new(format!("c{i}"), *ty))
            .collect();
        let values: Vec<BoxedStrategy<Value>> = types.iter().map(|ty| value_of(*ty)).collect();
        (Just(columns), values)
    })
}

/// Exercises every decoding path on `row`; returns decode_row's result.
fn decode_everything(columns: &[Column], row: &[u8]) -> Result<Vec<Value>, RowError> {
    if let Ok(view) = RowView::new(columns, row) {
        for i in 0..=columns.len() {
            let _ = view.get(i);
            let _ = view.is_null(i);
        }
        let _ = view.iter().count();
    }
    let sv = SchemaVersions::new(columns.to_vec(), vec![], &[]).unwrap();
    let _ = sv.decode(row);
    for r in split_rows(row) {
        let _ = r;
    }
    decode_row(columns, row)
}

/// Equality with floats compared by bits (NaN equals itself).
fn same(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.bitwise_eq(y))
}

/// String values concatenated and everything else, for comparing decodes
/// that may only differ in where one string ends and the next begins.
fn split_strings(values: &[Value]) -> (Vec<u8>, Vec<Value>) {
    let mut bytes = Vec::new();
    let mut others = Vec::new();
    for v in values {
        match v {
            Value::String(s) => bytes.extend_from_slice(s),
            other => others.push(other.clone()),
        }
    }
    (bytes, others)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_flips_never_panic(
        (columns, values) in schema_and_row(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
    ) {
        let mut row = encode_row(&columns, 1, &values).unwrap();
        let len = row.len();
        for (at, mask) in &flips {
            row[at.index(len)] ^= mask;
        }
        let _ = decode_everything(&columns, &row);
    }

    #[test]
    fn garbage_never_panics(
        columns in prop::collection::vec(column_type(), 1..=16),
        mut bytes in prop::collection::vec(any::<u8>(), 0..400),
        fix_header in any::<bool>(),
    ) {
        let columns: Vec<Column> = columns.into_iter().map(|t| Column::new("c", t)).collect();
        if fix_header && bytes.len() >= 6 {
            // Make the header plausible so the deeper checks are reached.
            bytes[0] = 1;
            let len = (bytes.len() as u32).to_le_bytes();
            bytes[2..6].copy_from_slice(&len);
        }
        let _ = decode_everything(&columns, &bytes);
    }

    #[test]
    fn every_truncation_of_random_rows_is_an_error((columns, values) in schema_and_row()) {
        let row = encode_row(&columns, 1, &values).unwrap();
        for cut in 0..row.len() {
            prop_assert!(decode_everything(&columns, &row[..cut]).is_err());
        }
    }

    /// Every single-bit flip of the length field or of the offset table is an
    /// error, except a flip of a slot that is the boundary between two
    /// non-NULL strings, which the format cannot tell from a valid row: then
    /// the decode must differ from the original only in where that boundary
    /// lies.
    #[test]
    fn length_and_offset_flips_are_detected((columns, values) in schema_and_row()) {
        let row = encode_row(&columns, 1, &values).unwrap();
        let view = RowView::new(&columns, &row).unwrap();
        let width = view.offset_width();
        let string_cols: Vec<usize> =
            (0..columns.len()).filter(|&i| columns[i].ty.is_string()).collect();
        let fixed: usize = columns.iter().filter_map(|c| c.ty.fixed_size()).sum();
        let table = 6 + columns.len().div_ceil(8) + fixed;
        let original = split_strings(&values);

        for byte in 2..6 {
            for bit in 0..8 {
                let mut bad = row.clone();
                bad[byte] ^= 1 << bit;
                prop_assert!(decode_everything(&columns, &bad).is_err());
            }
        }
        for (k, &col) in string_cols.iter().enumerate() {
            let unchecked = k == 0 && values[col].is_null();
            let boundary = k > 0 && !values[string_cols[k - 1]].is_null();
            for byte in table + k * width..table + (k + 1) * width {
                for bit in 0..8 {
                    let mut bad = row.clone();
                    bad[byte] ^= 1 << bit;
                    let got = decode_everything(&columns, &bad);
                    if unchecked {
                        prop_assert!(got.is_ok_and(|got| same(&got, &values)));
                    } else if boundary {
                        if let Ok(got) = got {
                            let (bytes, others) = split_strings(&got);
                            prop_assert_eq!(&bytes, &original.0);
                            prop_assert!(same(&others, &original.1));
                            prop_assert!(!same(&got, &values));
                        }
                    } else {
                        prop_assert!(got.is_err(), "slot {} byte {} bit {} undetected", k, byte, bit);
                    }
                }
            }
        }
    }

    /// Flipping a non-empty string column to NULL always breaks the offsets.
    #[test]
    fn hiding_a_string_is_detected((columns, values) in schema_and_row()) {
        let row = encode_row(&columns, 1, &values).unwrap();
        for (i, v) in values.iter().enumerate() {
            if let Value::String(s) = v
                && !s.is_empty()
            {
                let mut bad = row.clone();
                bad[6 + i / 8] |= 1 << (i % 8);
                prop_assert!(decode_row(&columns, &bad).is_err(), "column {}", i);
            }
        }
        // And NULL → non-NULL for a fixed column just exposes its zero bytes.
        for (i, v) in values.iter().enumerate() {
            if v.is_null() && columns[i].ty == ColumnType::Int {
                let mut bad = row.clone();
                bad[6 + i / 8] &= !(1 << (i % 8));
                let view = RowView::new(&columns, &bad).unwrap();
                prop_assert_eq!(view.get(i), Ok(ValueRef::Int(0)));
            }
        }
    }
}
