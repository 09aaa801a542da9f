//! Property tests: random schemas (1–40 columns of random types) and random
//! values, NULLs and long strings included, survive encode → decode exactly
//! (floats compared by bits, NaN payloads included), through every decoding
//! entry point.

use proptest::prelude::*;
use sync_core::row::{
    Column, ColumnType, Date, RowLayout, RowView, SchemaVersions, Value, decode_row, encode_row,
    encode_row_into, encoded_len, offset_width, row_header, split_rows,
};

fn column_type() -> impl Strategy<Value = ColumnType> {
    prop::sample::select(ColumnType::ALL.to_vec())
}

fn string_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 0..40),
        2 => prop::collection::vec(any::<u8>(), 200..600),
        1 => prop::collection::vec(any::<u8>(), 0..70_000),
    ]
}

fn value_of(ty: ColumnType) -> BoxedStrategy<Value> {
    let v: BoxedStrategy<Value> = match ty {
        ColumnType::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        ColumnType::SmallInt => any::<i16>().prop_map(Value::SmallInt).boxed(),
        ColumnType::Int => any::<i32>().prop_map(Value::Int).boxed(),
        ColumnType::BigInt => any::<i64>().prop_map(Value::BigInt).boxed(),
        ColumnType::Float => any::<u32>()
            .prop_map(|b| Value::Float(f32::from_bits(b)))
            .boxed(),
        ColumnType::Double => prop_oneof![
            any::<u64>().prop_map(|b| Value::Double(f64::from_bits(b))),
            Just(Value::Double(f64::NAN)),
            Just(Value::Double(-0.0)),
        ]
        .boxed(),
        ColumnType::Date => (1900i32..=9999, 1u8..=12, 1u8..=31)
            .prop_map(|(year, month, day)| Value::Date(Date { year, month, day }))
            .boxed(),
        ColumnType::Timestamp => (0i64..=i64::MAX).prop_map(Value::Timestamp).boxed(),
        ColumnType::Varchar | ColumnType::String => string_bytes().prop_map(Value::String).boxed(),
    };
    prop_oneof![1 => Just(Value::Null), 4 => v].boxed()
}

/// A schema and a row of values for it.
fn schema_and_row() -> impl Strategy<Value = (Vec<Column>, Vec<Value>)> {
    prop::collection::vec(column_type(), 1..=40).prop_flat_map(|types| {
        let columns: Vec<Column> = types
            .iter()
            .enumerate()
            .map(|(i, ty)| Column::new(format!("c{i}"), *ty))
            .collect();
        let values: Vec<BoxedStrategy<Value>> = types.iter().map(|ty| value_of(*ty)).collect();
        (Just(columns), values)
    })
}

fn assert_same(got: &[Value], want: &[Value]) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        prop_assert!(g.bitwise_eq(w), "column {}: got {:?}, want {:?}", i, g, w);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_decode_is_identity((columns, values) in schema_and_row(), version in 1u8..=255) {
        let row = encode_row(&columns, version, &values).unwrap();
        prop_assert_eq!(encoded_len(&columns, &values).unwrap(), row.len());

        let header = row_header(&row).unwrap();
        prop_assert_eq!(header.schema_version, version);
        prop_assert_eq!(header.total_len as usize, row.len());

        assert_same(&decode_row(&columns, &row).unwrap(), &values)?;

        // Random access through both views, and the sequential iterator.
        let view = RowView::new(&columns, &row).unwrap();
        prop_assert_eq!(view.offset_width(), offset_width(row.len() as u64));
        let layout = RowLayout::new(columns.clone()).unwrap();
        let fast = layout.view(&row).unwrap();
        for (i, want) in values.iter().enumerate() {
            let want = want.as_value_ref();
            prop_assert!(view.get(i).unwrap().bitwise_eq(&want));
            prop_assert!(fast.get(i).unwrap().bitwise_eq(&want));
            prop_assert_eq!(view.is_null(i), want.is_null());
        }
        prop_assert!(view.is_null(columns.len()));
        assert_same(&fast.iter().map(|v| v.unwrap().to_value()).collect::<Vec<_>>(), &values)?;

        // NULL fixed fields are zero; the last bitmap byte's unused bits are 1.
        let unused = columns.len() % 8;
        if unused != 0 {
            let last = row[6 + columns.len() / 8];
            prop_assert_eq!(last >> unused, 0xFFu8 >> unused);
        }

        // Re-encoding what was decoded gives the same bytes; encode_row_into
        // reuses a dirty buffer correctly.
        let decoded = layout.decode(&row).unwrap();
        let mut buf = vec![0xAB; 3];
        encode_row_into(&columns, version, &decoded, &mut buf).unwrap();
        prop_assert_eq!(&buf, &row);
    }

    #[test]
    fn packs_split_back_into_their_rows(rows in prop::collection::vec(schema_and_row(), 1..6)) {
        let mut pack = Vec::new();
        let mut encoded = Vec::new();
        for (columns, values) in &rows {
            let row = encode_row(columns, 1, values).unwrap();
            pack.extend_from_slice(&row);
            encoded.push(row);
        }
        let split: Vec<&[u8]> = split_rows(&pack).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(split.len(), rows.len());
        for ((row, (columns, values)), want) in split.iter().zip(&rows).zip(&encoded) {
            prop_assert_eq!(row, &want.as_slice());
            assert_same(&decode_row(columns, row).unwrap(), values)?;
        }
    }

    #[test]
    fn schema_versions_pick_by_version_byte(
        (columns, values) in schema_and_row(),
        split in 0usize..40,
    ) {
        // Treat the first `base` columns as column_desc and the rest as added
        // columns; version 2 has them all.
        let base = split.min(columns.len() - 1).max(1);
        let (head, tail) = columns.split_at(base);
        let pair = sync_core::proto::common::VersionPair {
            id: Some(2),
            field_count: Some(columns.len() as i32),
        };
        let sv = SchemaVersions::new(head.to_vec(), tail.to_vec(), &[pair]).unwrap();
        let row = sv.encode(2, &values).unwrap();
        let (version, got) = sv.decode(&row).unwrap();
        prop_assert_eq!(version, 2);
        assert_same(&got, &values)?;
        let v1 = sv.encode(1, &values[..base]).unwrap();
        let (version, got) = sv.decode(&v1).unwrap();
        prop_assert_eq!(version, 1);
        assert_same(&got, &values[..base])?;
    }
}
