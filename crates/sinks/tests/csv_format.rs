//! CSV: escaping round trip through a strict RFC 4180 reader (which tells a
//! NULL — an empty unquoted field — from an empty string `""`) and through the
//! `csv` crate; the documented forms of every type.

mod common;

use proptest::prelude::*;
use sync_core::row::{Column, ColumnType, SchemaVersions, Value};
use sync_sinks::format::csv::encode;
use sync_sinks::{CsvOptions, InvalidUtf8, TableSchema, TimestampFormat};

/// A field as read back: `None` = empty and unquoted.
type Field = Option<String>;

/// A strict RFC 4180 reader: quoted fields may hold `,`, `"` (doubled), CR
/// and LF; anything after a closing quote other than `,` or the end of the
/// record is an error.
fn read_rfc4180(text: &str) -> Result<Vec<Vec<Field>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut chars = text.chars().peekable();
    if text.is_empty() {
        return Ok(records);
    }
    loop {
        // One field.
        let field = if chars.peek() == Some(&'"') {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err("unterminated quote".into()),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        s.push('"');
                    }
                    Some('"') => break,
                    Some(c) => s.push(c),
                }
            }
            Some(s)
        } else {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c == ',' || c == '\n' || c == '\r' {
                    break;
                }
                if c == '"' {
                    return Err("quote inside an unquoted field".into());
                }
                s.push(c);
                chars.next();
            }
            (!s.is_empty()).then_some(s)
        };
        record.push(field);
        match chars.next() {
            Some(',') => continue,
            Some('\r') => {
                if chars.next() != Some('\n') {
                    return Err("CR without LF".into());
                }
                records.push(std::mem::take(&mut record));
            }
            Some('\n') => records.push(std::mem::take(&mut record)),
            None => return Err("last record without terminator".into()),
            Some(c) => return Err(format!("{c:?} after a quoted field")),
        }
        if chars.peek().is_none() {
            return Ok(records);
        }
    }
}

fn string_table() -> TableSchema {
    let cols = vec![
        Column::new("id", ColumnType::BigInt),
        Column::new("a", ColumnType::String),
        Column::new("b", ColumnType::Varchar),
    ];
    TableSchema::new(
        "db.s",
        SchemaVersions::new(cols, vec![], &[]).expect("schema"),
    )
    .expect("table")
}

fn text_value() -> impl Strategy<Value = Option<String>> {
    let s = prop_oneof![
        Just(String::new()),
        Just("\"".to_owned()),
        Just(",".to_owned()),
        Just("\r\n".to_owned()),
        "[a-z,\"\r\n ]{0,12}",
        "\\PC{0,12}",
        any::<String>(),
    ];
    prop::option::weighted(0.8, s)
}

proptest! {
    #[test]
    fn escaping_round_trips(
        rows in prop::collection::vec((text_value(), text_value()), 0..20),
        header in any::<bool>(),
        crlf in any::<bool>(),
    ) {
        let schema = string_table();
        let mut bytes = Vec::new();
        for (i, (a, b)) in rows.iter().enumerate() {
            let v = |s: &Option<String>| s.as_ref().map_or(Value::Null, |s| Value::string(s.clone()));
            let row = schema.versions().encode(1, &[Value::BigInt(i as i64), v(a), v(b)]).expect("encode");
            bytes.extend_from_slice(&row);
        }
        let opts = CsvOptions { header, crlf, ..CsvOptions::default() };
        let out = encode(&opts, &schema, &bytes, rows.len() as u64).expect("csv");
        let text = String::from_utf8(out.clone()).expect("utf-8");
        let parsed = read_rfc4180(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?;
        let skip = usize::from(header);
        prop_assert_eq!(parsed.len(), rows.len() + skip);
        if header {
            prop_assert_eq!(&parsed[0], &vec![Some("id".to_owned()), Some("a".to_owned()), Some("b".to_owned())]);
        }
        for (i, (a, b)) in rows.iter().enumerate() {
            prop_assert_eq!(&parsed[i + skip], &vec![Some(i.to_string()), a.clone(), b.clone()]);
        }
        // The csv crate reads the same values (it cannot tell NULL from "").
        let mut reader = csv::ReaderBuilder::new().has_headers(header).from_reader(out.as_slice());
        let mut n = 0;
        for (i, rec) in reader.records().enumerate() {
            let rec = rec.expect("csv crate");
            prop_assert_eq!(&rec[1], rows[i].0.as_deref().unwrap_or(""));
            prop_assert_eq!(&rec[2], rows[i].1.as_deref().unwrap_or(""));
            n += 1;
        }
        prop_assert_eq!(n, rows.len());
    }

    #[test]
    fn floats_round_trip(f in any::<f32>(), d in any::<f64>()) {
        let cols = vec![Column::new("f", ColumnType::Float), Column::new("d", ColumnType::Double)];
        let schema = TableSchema::new("db.f", SchemaVersions::new(cols, vec![], &[]).expect("schema")).expect("t");
        let row = schema.versions().encode(1, &[Value::Float(f), Value::Double(d)]).expect("encode");
        let opts = CsvOptions { header: false, ..CsvOptions::default() };
        let text = String::from_utf8(encode(&opts, &schema, &row, 1).expect("csv")).expect("utf-8");
        let fields: Vec<&str> = text.trim_end().split(',').collect();
        let back = |s: &str| -> f64 {
            match s { "NaN" => f64::NAN, "Inf" => f64::INFINITY, "-Inf" => f64::NEG_INFINITY, s => s.parse().expect("float") }
        };
        if f.is_nan() { prop_assert_eq!(fields[0], "NaN"); } else {
            prop_assert_eq!((back(fields[0]) as f32).to_bits(), f.to_bits());
            prop_assert_eq!(fields[0].parse::<f32>().map(f32::to_bits).unwrap_or(f.to_bits()), f.to_bits());
        }
        if d.is_nan() { prop_assert_eq!(fields[1], "NaN"); } else {
            prop_assert_eq!(back(fields[1]).to_bits(), d.to_bits());
        }
    }
}

#[test]
fn every_type_has_its_documented_form() {
    let schema = common::table();
    let v1 = common::row_values(5, 1);
    let v2 = common::row_values(6, 2);
    let mut rows = schema.versions().encode(1, &v1).expect("v1");
    rows.extend(schema.versions().encode(2, &v2).expect("v2"));
    let text = String::from_utf8(encode(&CsvOptions::default(), &schema, &rows, 2).expect("csv"))
        .expect("utf8");
    let want = "b,s,i,l,f,d,dt,ts,v,str,extra_i,extra_s\n\
        false,5,0,5000015,1.6666666,-0.7142857142857143,2005-06-06,2023-11-14T22:13:20.005Z,v5,,,\n\
        true,6,1,6000018,2.0,-0.8571428571428571,2006-07-07,2023-11-14T22:13:20.006Z,v6,\"s,\"\"6\"\"\n\",6,x6\n";
    assert_eq!(text, want);
    let opts = CsvOptions {
        header: false,
        null: "\\N".to_owned(),
        timestamp: TimestampFormat::EpochMillis,
        ..CsvOptions::default()
    };
    let text = String::from_utf8(encode(&opts, &schema, &rows, 2).expect("csv")).expect("utf8");
    assert!(text.starts_with("false,5,0,5000015,1.6666666,-0.7142857142857143,2005-06-06,1700000000005,v5,\\N,\\N,\\N\n"), "{text}");
}

#[test]
fn null_token_and_special_strings_are_quoted() {
    let schema = string_table();
    let opts = CsvOptions {
        header: false,
        null: "NULL".to_owned(),
        ..CsvOptions::default()
    };
    let row = schema
        .versions()
        .encode(1, &[Value::BigInt(1), Value::string("NULL"), Value::Null])
        .expect("enc");
    let text = String::from_utf8(encode(&opts, &schema, &row, 1).expect("csv")).expect("utf8");
    assert_eq!(text, "1,\"NULL\",NULL\n");
}

#[test]
fn invalid_utf8_is_replaced_or_refused() {
    let schema = string_table();
    let row = schema
        .versions()
        .encode(
            1,
            &[
                Value::BigInt(1),
                Value::string(b"a\xffb".to_vec()),
                Value::string("ok"),
            ],
        )
        .expect("enc");
    let opts = CsvOptions {
        header: false,
        ..CsvOptions::default()
    };
    let text = String::from_utf8(encode(&opts, &schema, &row, 1).expect("csv")).expect("utf8");
    assert_eq!(text, "1,a\u{fffd}b,ok\n");
    let strict = CsvOptions {
        invalid_utf8: InvalidUtf8::Error,
        ..opts
    };
    assert!(encode(&strict, &schema, &row, 1).is_err());
}

#[test]
fn wrong_row_count_and_garbage_are_errors() {
    let schema = string_table();
    let row = schema
        .versions()
        .encode(1, &[Value::BigInt(1), Value::Null, Value::Null])
        .expect("enc");
    let opts = CsvOptions::default();
    assert!(encode(&opts, &schema, &row, 2).is_err());
    assert!(encode(&opts, &schema, &row[..row.len() - 1], 1).is_err());
    assert!(encode(&opts, &schema, &[0xde, 0xad], 1).is_err());
}
