//! Golden tests for the row codec. Every expected byte string is laid out by
//! hand below (with the arithmetic in comments), never produced by the
//! encoder; each test decodes the hand bytes and encodes back to them.

use sync_core::proto::common::{ColumnDesc, VersionPair};
use sync_core::proto::types::{CompressType, DataType};
use sync_core::row::{
    Column, ColumnType, Date, RowError, RowHeader, RowLayout, RowView, SchemaVersions, Value,
    ValueRef, compress_snappy, decode_row, decompress, encode_row, row_header,
};

fn cols(spec: &[(&str, ColumnType)]) -> Vec<Column> {
    spec.iter().map(|(n, t)| Column::new(*n, *t)).collect()
}

/// Decodes `bytes` with `columns` and checks the values (floats bitwise),
/// then encodes `values` and checks the bytes.
fn assert_golden(columns: &[Column], version: u8, values: &[Value], bytes: &[u8]) {
    let decoded = decode_row(columns, bytes).expect("hand bytes decode");
    assert_eq!(decoded.len(), values.len());
    for (i, (got, want)) in decoded.iter().zip(values).enumerate() {
        assert!(
            got.bitwise_eq(want),
            "column {i}: got {got:?}, want {want:?}"
        );
    }
    // The borrowing view with random access, and the prepared layout, agree.
    let view = RowView::new(columns, bytes).unwrap();
    let layout = RowLayout::new(columns.to_vec()).unwrap();
    let fast = layout.view(bytes).unwrap();
    for (i, want) in values.iter().enumerate() {
        assert!(view.get(i).unwrap().bitwise_eq(&want.as_value_ref()));
        assert!(fast.get(i).unwrap().bitwise_eq(&want.as_value_ref()));
        assert_eq!(view.is_null(i), want.is_null());
    }
    let encoded = encode_row(columns, version, values).expect("encode");
    assert_eq!(
        hex::encode(&encoded),
        hex::encode(bytes),
        "encoder output differs"
    );
}

fn all_types_schema() -> Vec<Column> {
    cols(&[
        ("c_bool", ColumnType::Bool),
        ("c_small", ColumnType::SmallInt),
        ("c_int", ColumnType::Int),
        ("c_big", ColumnType::BigInt),
        ("c_float", ColumnType::Float),
        ("c_double", ColumnType::Double),
        ("c_date", ColumnType::Date),
        ("c_ts", ColumnType::Timestamp),
        ("c_varchar", ColumnType::Varchar),
        ("c_string", ColumnType::String),
    ])
}

/// Every type, no NULL.
///
/// 10 columns → bitmap ceil(10/8) = 2 bytes at 6..8.
/// Fixed fields: bool@8(1) small@9(2) int@11(4) big@15(8) float@23(4)
/// double@27(8) date@35(4) ts@39(8) → offset table S = 47.
/// 2 strings "abc" + [ff 7a] = 5 bytes; 47 + 5 + 1·2 = 54 ≤ 255 → 1-byte
/// slots, total 54 = 0x36. String area starts at 47 + 2 = 49 (0x31);
/// "abc" ends at 52 (0x34).
/// Bitmap: 0xFF 0xFF with bits 0..9 cleared → 00, fc (bits 10..15 stay 1).
#[test]
fn every_type() {
    #[rustfmt::skip]
    let bytes: Vec<u8> = vec![
        0x01, 0x01, 0x36, 0x00, 0x00, 0x00,             // version 1, schema 1, length 54
        0x00, 0xfc,                                     // bitmap: none NULL, high bits 1
        0x01,                                           // bool true
        0xfe, 0xff,                                     // smallint -2
        0xa0, 0x86, 0x01, 0x00,                         // int 100000 = 0x000186a0
        0xcb, 0x04, 0xfb, 0x71, 0x1f, 0x01, 0x00, 0x00, // bigint 1234567890123 = 0x11f71fb04cb
        0x00, 0x00, 0xc0, 0x3f,                         // float 1.5 = 0x3fc00000
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xc0, // double -2.25 = 0xc002000000000000
        0x05, 0x02, 0x7c, 0x00,                         // date 2024-03-05 = (124<<16)|(2<<8)|5
        0x00, 0x68, 0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00, // ts 1700000000000 = 0x18bcfe56800
        0x31, 0x34,                                     // slots: 49, 52
        b'a', b'b', b'c',                               // varchar
        0xff, b'z',                                     // string (not UTF-8)
    ];
    assert_eq!(bytes.len(), 54);
    let values = vec![
        Value::Bool(true),
        Value::SmallInt(-2),
        Value::Int(100_000),
        Value::BigInt(1_234_567_890_123),
        Value::Float(1.5),
        Value::Double(-2.25),
        Value::Date(Date::new(2024, 3, 5).unwrap()),
        Value::Timestamp(1_700_000_000_000),
        Value::string("abc"),
        Value::String(vec![0xff, b'z']),
    ];
    assert_golden(&all_types_schema(), 1, &values, &bytes);
    assert_eq!(
        row_header(&bytes),
        Ok(RowHeader {
            format_version: 1,
            schema_version: 1,
            total_len: 54
        })
    );
}

fn nulls_schema() -> Vec<Column> {
    cols(&[
        ("id", ColumnType::Int),
        ("name", ColumnType::String),
        ("score", ColumnType::Double),
        ("city", ColumnType::Varchar),
        ("note", ColumnType::String),
        ("ts", ColumnType::Timestamp),
    ])
}

/// NULLs: a NULL first string column, a NULL fixed column, a NULL last string.
///
/// 6 columns → 1 bitmap byte at 6. Fixed: id@7(4) score@11(8) ts@19(8) → S = 27.
/// 3 strings, only "sf" set: 27 + 2 + 1·3 = 32 → 1-byte slots, total 32 = 0x20.
/// String area at 27 + 3 = 30. Slot 0 (name, NULL) is never written → 00;
/// after name slot 1 = 30 (0x1e); after city slot 2 = 32 (0x20).
/// Bitmap 0xff with bits 0 (id), 3 (city), 5 (ts) cleared: 0xff & !0x29 = 0xd6.
#[rustfmt::skip]
const NULLS_ROW: [u8; 32] = [
    0x01, 0x01, 0x20, 0x00, 0x00, 0x00,             // length 32
    0xd6,                                           // bitmap 1101_0110
    0x07, 0x00, 0x00, 0x00,                         // id 7
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // score NULL → zeros
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ts 1
    0x00, 0x1e, 0x20,                               // slots 0 (NULL), 30, 32
    b's', b'f',
];

fn nulls_values() -> Vec<Value> {
    vec![
        Value::Int(7),
        Value::Null,
        Value::Null,
        Value::string("sf"),
        Value::Null,
        Value::Timestamp(1),
    ]
}

#[test]
fn nulls_including_first_string() {
    assert_golden(&nulls_schema(), 1, &nulls_values(), &NULLS_ROW);
}

/// Other writers fill the unchecked places differently: OpenMLDB's SQL-engine
/// builder zeroes the bitmap (high bits 0) and writes slot 0 = 30 for a NULL
/// first string; the Java builder may leave any value in slot 0. All decode
/// to the same values.
#[test]
fn nulls_from_other_writers_decode_the_same() {
    let mut sql_engine = NULLS_ROW;
    sql_engine[6] = 0x16; // 0001_0110: high bits 6 and 7 clear
    sql_engine[27] = 0x1e;
    let mut java = NULLS_ROW;
    java[27] = 0x55;
    for row in [sql_engine, java] {
        let got = decode_row(&nulls_schema(), &row).unwrap();
        assert_eq!(got, nulls_values());
    }
}

/// Empty strings are not NULL.
///
/// Columns a:string, b:int, c:varchar → 1 bitmap byte; b@7(4) → S = 11;
/// 2 strings of 0 bytes: 11 + 0 + 1·2 = 13 = 0x0d, string area at 13.
/// Row 1: a = "", c = "" → slot 0 = 13, slot 1 = 13; bitmap 0xff & !0x07 = 0xf8.
/// Row 2: a = NULL, c = "" → slot 0 = 00 (never written), slot 1 = 13;
/// bitmap 0xff & !0x06 = 0xf9.
#[test]
fn empty_strings() {
    let schema = cols(&[
        ("a", ColumnType::String),
        ("b", ColumnType::Int),
        ("c", ColumnType::Varchar),
    ]);
    let both_empty = [
        0x01, 0x01, 0x0d, 0x00, 0x00, 0x00, 0xf8, 0x09, 0x00, 0x00, 0x00, 0x0d, 0x0d,
    ];
    assert_golden(
        &schema,
        1,
        &[Value::string(""), Value::Int(9), Value::string("")],
        &both_empty,
    );
    let null_and_empty = [
        0x01, 0x01, 0x0d, 0x00, 0x00, 0x00, 0xf9, 0x09, 0x00, 0x00, 0x00, 0x00, 0x0d,
    ];
    assert_golden(
        &schema,
        1,
        &[Value::Null, Value::Int(9), Value::string("")],
        &null_and_empty,
    );
    let view = RowView::new(&schema, &null_and_empty).unwrap();
    assert_eq!(view.get(0), Ok(ValueRef::Null));
    assert_eq!(view.get(2), Ok(ValueRef::String(b"")));
}

/// Three string columns s0 (long), s1 = "mid", s2 = "e", nothing else.
/// 3 columns → 1 bitmap byte, no fixed fields → offset table at S = 7, and
/// base = 7 + L where L = len(s0) + 3 + 1. Bitmap 0xff & !0x07 = 0xf8.
fn width_row(header_len: [u8; 4], slots: &[u8], s0_len: usize) -> Vec<u8> {
    let mut row = vec![0x01, 0x01];
    row.extend_from_slice(&header_len);
    row.push(0xf8);
    row.extend_from_slice(slots);
    row.extend(std::iter::repeat_n(b'a', s0_len));
    row.extend_from_slice(b"mid");
    row.extend_from_slice(b"e");
    row
}

fn width_case(header_len: [u8; 4], slots: &[u8], s0_len: usize, total: usize, width: usize) {
    let schema = cols(&[
        ("s0", ColumnType::String),
        ("s1", ColumnType::Varchar),
        ("s2", ColumnType::String),
    ]);
    let row = width_row(header_len, slots, s0_len);
    assert_eq!(row.len(), total, "hand layout length");
    assert_eq!(slots.len(), 3 * width);
    let values = [
        Value::String(vec![b'a'; s0_len]),
        Value::string("mid"),
        Value::string("e"),
    ];
    assert_golden(&schema, 1, &values, &row);
    assert_eq!(RowView::new(&schema, &row).unwrap().offset_width(), width);
}

/// L = 245: 7 + 245 + 1·3 = 255 ≤ 255 → 1-byte slots, total 255 = 0xff.
/// Strings at 7 + 3 = 10; s0 = 241 bytes → s1 at 251 (0xfb), s2 at 254 (0xfe).
#[test]
fn width_1_at_255() {
    width_case([0xff, 0, 0, 0], &[0x0a, 0xfb, 0xfe], 241, 255, 1);
}

/// L = 246: 7 + 246 + 3 = 256 > 255, so 2-byte slots: 253 + 6 = 259 = 0x103.
/// Strings at 7 + 6 = 13 (0x000d); s0 = 242 → s1 at 255 (0x00ff), s2 at 258 (0x0102).
#[test]
fn width_2_at_259() {
    width_case(
        [0x03, 0x01, 0, 0],
        &[0x0d, 0x00, 0xff, 0x00, 0x02, 0x01],
        242,
        259,
        2,
    );
}

/// L = 65 522: 7 + 65 522 + 2·3 = 65 535 → still 2-byte slots (the 1-byte
/// form needs ≤ 255). Strings at 13; s0 = 65 518 → s1 at 65 531 (0xfffb),
/// s2 at 65 534 (0xfffe). Total 0x0000ffff.
#[test]
fn width_2_at_65535() {
    width_case(
        [0xff, 0xff, 0, 0],
        &[0x0d, 0x00, 0xfb, 0xff, 0xfe, 0xff],
        65_518,
        65_535,
        2,
    );
}

/// L = 65 523: 7 + 65 523 + 6 = 65 536 > 65 535, so 3-byte slots:
/// 65 530 + 9 = 65 539 = 0x010003. Strings at 7 + 9 = 16; s0 = 65 519 →
/// s1 at 65 535 = 0x00ffff, s2 at 65 538 = 0x010002, written big-endian.
#[test]
fn width_3_at_65539_big_endian() {
    width_case(
        [0x03, 0x00, 0x01, 0x00],
        &[0x00, 0x00, 0x10, 0x00, 0xff, 0xff, 0x01, 0x00, 0x02],
        65_519,
        65_539,
        3,
    );
}

/// L = 16 777 199: 7 + L + 9 = 16 777 215 = 0xffffff → 3-byte slots.
/// Strings at 16; s0 = 16 777 195 → s1 at 16 777 211 = 0xfffffb,
/// s2 at 16 777 214 = 0xfffffe (big-endian).
#[test]
fn width_3_at_16777215() {
    width_case(
        [0xff, 0xff, 0xff, 0x00],
        &[0x00, 0x00, 0x10, 0xff, 0xff, 0xfb, 0xff, 0xff, 0xfe],
        16_777_195,
        16_777_215,
        3,
    );
}

/// L = 16 777 200: 7 + L + 9 = 16 777 216 > 0xffffff, so 4-byte LE slots:
/// 16 777 207 + 12 = 16 777 219 = 0x01000003. Strings at 7 + 12 = 19 (0x13);
/// s0 = 16 777 196 → s1 at 16 777 215 = 0x00ffffff, s2 at 16 777 218 = 0x01000002.
#[test]
fn width_4_above_16777215() {
    width_case(
        [0x03, 0x00, 0x00, 0x01],
        &[
            0x13, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x00, 0x02, 0x00, 0x00, 0x01,
        ],
        16_777_196,
        16_777_219,
        4,
    );
}

fn desc(name: &str, dt: DataType) -> ColumnDesc {
    ColumnDesc {
        name: name.into(),
        data_type: Some(dt as i32),
        ..Default::default()
    }
}

fn pair(id: i32, field_count: i32) -> VersionPair {
    VersionPair {
        id: Some(id),
        field_count: Some(field_count),
    }
}

/// column_desc = [id int, name string]; added = [age smallint, tag varchar];
/// version 2 = 3 fields, version 3 = 4 fields.
fn versioned() -> SchemaVersions {
    let meta = sync_core::proto::api::TableMeta {
        column_desc: vec![desc("id", DataType::KInt), desc("name", DataType::KString)],
        added_column_desc: vec![
            desc("age", DataType::KSmallInt),
            desc("tag", DataType::KVarchar),
        ],
        schema_versions: vec![pair(2, 3), pair(3, 4)],
        ..Default::default()
    };
    SchemaVersions::from_table_meta(&meta).unwrap()
}

/// A version-2 row: id = 1, name = "bo", age = 30.
/// 3 columns → 1 bitmap byte; id@7(4), age@11(2) → S = 13; one string of 2
/// bytes: 13 + 2 + 1 = 16 = 0x10, string at 14 (0x0e). Bitmap 0xff & !0x07 = 0xf8.
#[rustfmt::skip]
const V2_ROW: [u8; 16] = [
    0x01, 0x02, 0x10, 0x00, 0x00, 0x00, // schema version 2, length 16
    0xf8,
    0x01, 0x00, 0x00, 0x00,             // id 1
    0x1e, 0x00,                         // age 30
    0x0e,                               // slot: 14
    b'b', b'o',
];

#[test]
fn multi_version_schema() {
    let sv = versioned();
    let v2 = [Value::Int(1), Value::string("bo"), Value::SmallInt(30)];
    assert_eq!(sv.decode(&V2_ROW), Ok((2, v2.to_vec())));
    assert_eq!(
        sv.schema(2).unwrap(),
        &cols(&[
            ("id", ColumnType::Int),
            ("name", ColumnType::String),
            ("age", ColumnType::SmallInt)
        ])[..]
    );
    assert_eq!(hex::encode(sv.encode(2, &v2).unwrap()), hex::encode(V2_ROW));
    assert_golden(sv.schema(2).unwrap(), 2, &v2, &V2_ROW);

    // Read with version 1's schema (id, name) the bytes make no sense: the
    // slot at 11 holds 0x1e where the string area (12) must start.
    assert!(matches!(
        decode_row(sv.schema(1).unwrap(), &V2_ROW),
        Err(RowError::StringOffsetMismatch {
            column: 1,
            slot_at: 11,
            found: 30,
            expected: 12,
            ..
        })
    ));

    // A version-1 row: id = 5, name = "x". 2 columns → 1 bitmap byte, id@7 →
    // S = 11; 11 + 1 + 1 = 13 = 0x0d, string at 12 (0x0c). Bitmap 0xfc.
    let v1_row = [0x01, 0x01, 0x0d, 0, 0, 0, 0xfc, 0x05, 0, 0, 0, 0x0c, b'x'];
    assert_eq!(
        sv.decode(&v1_row),
        Ok((1, vec![Value::Int(5), Value::string("x")]))
    );

    // A version-3 row: id = 2, name = NULL, age = NULL, tag = "t".
    // 4 columns → 1 bitmap byte; id@7(4), age@11(2) → S = 13; strings name,
    // tag: 13 + 1 + 1·2 = 16, string area at 15 (0x0f). Slot 0 (name NULL)
    // stays 0, slot 1 = 15. Bitmap 0xff & !(0x01|0x08) = 0xf6.
    #[rustfmt::skip]
    let v3_row = [
        0x01, 0x03, 0x10, 0, 0, 0, 0xf6, 0x02, 0, 0, 0, 0, 0, 0x00, 0x0f, b't',
    ];
    let v3 = vec![Value::Int(2), Value::Null, Value::Null, Value::string("t")];
    assert_eq!(sv.decode(&v3_row), Ok((3, v3.clone())));
    assert_eq!(hex::encode(sv.encode(3, &v3).unwrap()), hex::encode(v3_row));
    assert_eq!(sv.latest().0, 3);
    assert_eq!(sv.latest().1.len(), 4);

    let mut unknown = V2_ROW;
    unknown[1] = 9;
    assert_eq!(
        sv.decode(&unknown),
        Err(RowError::UnknownSchemaVersion {
            version: 9,
            known: vec![1, 2, 3]
        })
    );
}

/// OpenMLDB's rules for odd version pairs: field counts outside
/// [len(column_desc), len(column_desc) + len(added)] are skipped, an id keeps
/// its first definition, latest = id of the last pair not skipped.
#[test]
fn version_pairs_edge_cases() {
    let base = cols(&[("a", ColumnType::Int)]);
    let added = cols(&[("b", ColumnType::Int), ("c", ColumnType::Int)]);
    let sv = SchemaVersions::new(
        base.clone(),
        added.clone(),
        &[pair(2, 2), pair(4, 0), pair(5, 4), pair(2, 3), pair(300, 2)],
    )
    .unwrap();
    assert_eq!(sv.versions().collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(sv.schema(2).unwrap().len(), 2, "first definition of 2 kept");
    assert_eq!(sv.latest().0, 2);
    assert!(matches!(
        sv.schema(4),
        Err(RowError::UnknownSchemaVersion { version: 4, .. })
    ));
    let none = SchemaVersions::new(base, added, &[]).unwrap();
    assert_eq!(none.latest(), (1, &cols(&[("a", ColumnType::Int)])[..]));
    let info = sync_core::proto::nameserver::TableInfo {
        column_desc: vec![desc("a", DataType::KBigInt)],
        added_column_desc: vec![desc("b", DataType::KDate)],
        schema_versions: vec![pair(2, 2)],
        ..Default::default()
    };
    let sv = SchemaVersions::from_table_info(&info).unwrap();
    assert_eq!(
        sv.latest(),
        (
            2,
            &cols(&[("a", ColumnType::BigInt), ("b", ColumnType::Date)])[..]
        )
    );
    let bad = sync_core::proto::nameserver::TableInfo {
        column_desc: vec![desc("m", DataType::KMap)],
        ..Default::default()
    };
    assert!(matches!(
        SchemaVersions::from_table_info(&bad),
        Err(RowError::UnsupportedColumn { data_type: 16, .. })
    ));
}

/// Snappy: the 13-byte "both empty" row of [`empty_strings`] is shorter than
/// snappy's 17-byte minimum for matching, so every snappy compressor emits it
/// as one literal: varint length 13 = 0x0d, literal tag (13−1)<<2 = 0x30, bytes.
#[test]
fn snappy_literal_row() {
    let row = [
        0x01, 0x01, 0x0d, 0x00, 0x00, 0x00, 0xf8, 0x09, 0x00, 0x00, 0x00, 0x0d, 0x0d,
    ];
    let mut stored = vec![0x0d, 0x30];
    stored.extend_from_slice(&row);
    assert_eq!(hex::encode(compress_snappy(&row)), hex::encode(&stored));
    let plain = decompress(CompressType::KSnappy, &stored).unwrap();
    assert_eq!(&plain[..], &row[..]);
}

/// Snappy with copies, assembled by hand for [`NULLS_ROW`] (32 bytes):
/// varint 32 = 0x20;
/// literal bytes 0..12: tag (12−1)<<2 = 0x2c, then 12 bytes;
/// copy-1 length 7 offset 1 (bytes 12..19, zeros): tag ((7−4)<<2)|1 = 0x0d, 0x01;
/// literal bytes 19..21 (01 00): tag (2−1)<<2 = 0x04;
/// copy-1 length 7 offset 1 (bytes 21..28, zeros): 0x0d, 0x01;
/// literal bytes 28..32 (1e 20 73 66): tag (4−1)<<2 = 0x0c.
#[test]
fn snappy_with_copies_decodes() {
    #[rustfmt::skip]
    let stored = [
        0x20,
        0x2c, 0x01, 0x01, 0x20, 0x00, 0x00, 0x00, 0xd6, 0x07, 0x00, 0x00, 0x00, 0x00,
        0x0d, 0x01,
        0x04, 0x01, 0x00,
        0x0d, 0x01,
        0x0c, 0x1e, 0x20, b's', b'f',
    ];
    let plain = decompress(CompressType::KSnappy, &stored).unwrap();
    assert_eq!(hex::encode(&plain), hex::encode(NULLS_ROW));
    assert_eq!(decode_row(&nulls_schema(), &plain), Ok(nulls_values()));
    // And our compressor's output (whatever its choices) decompresses back.
    let ours = compress_snappy(&NULLS_ROW);
    assert_eq!(
        &decompress(CompressType::KSnappy, &ours).unwrap()[..],
        &NULLS_ROW[..]
    );
    // Uncompressed tables pass the value through.
    assert_eq!(
        &decompress(CompressType::KNoCompress, &NULLS_ROW).unwrap()[..],
        &NULLS_ROW[..]
    );
    // Corrupt snappy is an error.
    assert!(matches!(
        decompress(CompressType::KSnappy, &stored[..10]),
        Err(RowError::BadSnappy { len: 10, .. })
    ));
}
