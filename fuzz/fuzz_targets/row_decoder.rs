//! Fuzzes OpenMLDB's row codec (`sync_core::row`). A schema (column types)
//! is derived from the first input bytes with `arbitrary`; then (1) the rest
//! is decoded as a row with `decode_row`, `RowLayout::decode` and
//! `RowView::get`, and (2) values for the schema, drawn from the same rest,
//! are encoded and decoded back. Asserts: values or a typed error, never a
//! panic; the decoding paths agree; a decoded row has one value per column,
//! each fitting its column's type, and re-encodes to a row that decodes to
//! the same values; encoding then decoding returns the values encoded
//! (floats compared by their bits), and `encoded_len` is the encoded length.
#![no_main]

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use sync_core::row::{
    Column, ColumnType, Date, RowLayout, RowView, Value, decode_row, encode_row, encoded_len,
    row_header,
};

fn schema(u: &mut Unstructured<'_>) -> Result<Vec<Column>> {
    let n = u.int_in_range(0..=40)?;
    (0..n)
        .map(|i| Ok(Column::new(format!("c{i}"), *u.choose(&ColumnType::ALL)?)))
        .collect()
}

fn value(u: &mut Unstructured<'_>, ty: ColumnType) -> Result<Value> {
    if u.ratio(1, 6)? {
        return Ok(Value::Null);
    }
    Ok(match ty {
        ColumnType::Bool => Value::Bool(u.arbitrary()?),
        ColumnType::SmallInt => Value::SmallInt(u.arbitrary()?),
        ColumnType::Int => Value::Int(u.arbitrary()?),
        ColumnType::BigInt => Value::BigInt(u.arbitrary()?),
        ColumnType::Float => Value::Float(u.arbitrary()?),
        ColumnType::Double => Value::Double(u.arbitrary()?),
        // Possibly invalid: encoding must then fail with a typed error.
        ColumnType::Date => Value::Date(Date {
            year: u.int_in_range(1890..=10010)?,
            month: u.arbitrary()?,
            day: u.arbitrary()?,
        }),
        ColumnType::Timestamp => Value::Timestamp(u.arbitrary()?),
        ColumnType::Varchar | ColumnType::String => {
            let len = u.int_in_range(0..=300)?;
            Value::String(u.bytes(len)?.to_vec())
        }
    })
}

fn same(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.bitwise_eq(y))
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let columns = schema(&mut u)?;
    let row = u.take_rest();

    // (1) Decoding arbitrary bytes.
    let decoded = decode_row(&columns, row);
    let layout = RowLayout::new(columns.clone());
    if let Ok(layout) = &layout {
        let by_layout = layout.decode(row);
        match (&decoded, &by_layout) {
            (Ok(a), Ok(b)) => assert!(same(a, b), "decode_row and RowLayout disagree"),
            (Err(_), Err(_)) => {}
            _ => panic!("decode_row {decoded:?} vs RowLayout {by_layout:?}"),
        }
    }
    if let Ok(view) = RowView::new(&columns, row) {
        for i in 0..columns.len() {
            let _ = view.is_null(i);
            let _ = view.get(i);
        }
        let _ = view.get(columns.len());
    }
    if let Ok(vals) = &decoded {
        assert_eq!(vals.len(), columns.len());
        for (v, c) in vals.iter().zip(&columns) {
            assert!(v.as_value_ref().fits(c.ty), "{v:?} in a {:?} column", c.ty);
        }
        let version = row_header(row).map(|h| h.schema_version).unwrap_or(1);
        let again = encode_row(&columns, version, vals)
            .unwrap_or_else(|e| panic!("decoded values do not re-encode: {e}"));
        let back = decode_row(&columns, &again)
            .unwrap_or_else(|e| panic!("re-encoded row does not decode: {e}"));
        assert!(same(vals, &back), "re-encoded row decodes differently");
    }

    // (2) Round trip of arbitrary values, drawn from the same bytes.
    let mut u = Unstructured::new(row);
    let values = columns
        .iter()
        .map(|c| value(&mut u, c.ty))
        .collect::<Result<Vec<_>>>()?;
    if let Ok(encoded) = encode_row(&columns, 1, &values) {
        assert_eq!(encoded_len(&columns, &values).ok(), Some(encoded.len()));
        let back = decode_row(&columns, &encoded)
            .unwrap_or_else(|e| panic!("encoded row does not decode: {e}"));
        assert!(same(&values, &back), "{values:?} came back as {back:?}");
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
