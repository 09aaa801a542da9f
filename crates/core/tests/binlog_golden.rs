//! Golden tests: binlog bytes written out by hand from the format (LevelDB
//! log, 4096-byte blocks, 7-byte headers), compared with what `LogWriter`
//! produces and fed to `LogReader`.
//!
//! Header = masked CRC32C (u32 LE) over [type byte] ++ payload, length u16 LE,
//! type. Mask = rotate right 15, add 0xa282ead8. The CRC constants below were
//! computed with an independent bit-by-bit CRC-32C (reflected polynomial
//! 0x82f63b78, init/xorout 0xffffffff), not with the code under test.

use sync_core::binlog::{
    LogReader, LogWriter, ReadEvent, ReadOptions, Tail, encode_entry, mask_crc, read_all,
    record_crc, unmask_crc,
};
use sync_core::proto::api::LogEntry;

const FULL: u8 = 1;
const FIRST: u8 = 2;
const MIDDLE: u8 = 3;
const LAST: u8 = 4;
const EOF: u8 = 5;

/// A header from its masked CRC (as the 4 stored bytes), length and type.
fn header(crc_le: [u8; 4], len: u16, kind: u8) -> Vec<u8> {
    let mut h = crc_le.to_vec();
    h.extend_from_slice(&len.to_le_bytes());
    h.push(kind);
    h
}

/// Deterministic payload bytes: byte i = (7 i + 3) mod 251.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 7 + 3) % 251) as u8).collect()
}

fn write(records: &[&[u8]], eof: bool) -> Vec<u8> {
    let mut w = LogWriter::new(Vec::new());
    for r in records {
        w.add_record(r).unwrap();
    }
    if eof {
        w.add_eof().unwrap();
    }
    w.into_inner()
}

/// All events of `bytes`, read at once with CRC verification.
fn events(bytes: &[u8]) -> Vec<ReadEvent> {
    let mut r = LogReader::new(0, ReadOptions { verify_crc: true });
    r.feed(bytes);
    let mut out = Vec::new();
    while let Some(e) = r.next().unwrap() {
        out.push(e);
    }
    out
}

fn record(payload: &[u8], start: u64, end: u64) -> ReadEvent {
    ReadEvent::Record {
        payload: payload.to_vec(),
        start,
        end,
    }
}

#[test]
fn known_crc_value() {
    // CRC-32C("123456789") = 0xe3069283 (the standard check value).
    assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    // Masked: (0xe3069283 >> 15) | (0xe3069283 << 17) = 0x0001c60d | 0x25060000
    // = 0x2507c60d; + 0xa282ead8 = 0xc78ab0e5.
    assert_eq!(mask_crc(0xe306_9283), 0xc78a_b0e5);
    assert_eq!(unmask_crc(0xc78a_b0e5), 0xe306_9283);
    // A record CRC covers the type byte then the payload:
    // CRC-32C([0x01] ++ "hello") = 0x6719daea, masked 0x5857b90b.
    assert_eq!(record_crc(FULL, b"hello"), 0x5857_b90b);
}

#[test]
fn small_full_record() {
    let expected = [
        0x0b, 0xb9, 0x57, 0x58, // masked CRC 0x5857b90b, LE
        0x05, 0x00, // length 5
        0x01, // FULL
        b'h', b'e', b'l', b'l', b'o',
    ];
    assert_eq!(write(&[b"hello"], false), expected);
    assert_eq!(events(&expected), [record(b"hello", 0, 12)]);
}

#[test]
fn empty_record_is_an_empty_full() {
    // CRC-32C([0x01]) = 0xa016d052, masked 0x43282b05.
    let expected = header([0x05, 0x2b, 0x28, 0x43], 0, FULL);
    assert_eq!(write(&[b""], false), expected);
    assert_eq!(events(&expected), [record(b"", 0, 7)]);
}

#[test]
fn log_entry_record() {
    let entry = LogEntry {
        term: Some(1),
        log_index: Some(2),
        pk: Some("k".into()),
        value: Some(b"v".to_vec()),
        ts: Some(3),
        ..Default::default()
    };
    // Protobuf: field 1 varint (0x08) 1, field 2 varint (0x10) 2,
    // field 3 len (0x1a) 1 "k", field 4 len (0x22) 1 "v", field 5 varint (0x28) 3.
    let payload = [
        0x08, 0x01, 0x10, 0x02, 0x1a, 0x01, b'k', 0x22, 0x01, b'v', 0x28, 0x03,
    ];
    assert_eq!(encode_entry(&entry), payload);
    // CRC-32C([0x01] ++ payload) masked = 0xd1e098b8; 12 bytes.
    let mut expected = header([0xb8, 0x98, 0xe0, 0xd1], 12, FULL);
    expected.extend_from_slice(&payload);

    let mut w = LogWriter::new(Vec::new());
    w.add_entry(&entry).unwrap();
    assert_eq!(w.into_inner(), expected);

    let (entries, tail) = read_all(&expected, ReadOptions { verify_crc: true }).unwrap();
    assert_eq!(entries, [(0, 19, entry)]);
    assert_eq!(tail, Tail::Clean { end: 19 });
}

#[test]
fn record_spanning_three_blocks() {
    // 8188 bytes = 4089 (fills block 0: 7 + 4089 = 4096) + 4089 (block 1) + 10.
    let p = pattern(2 * 4089 + 10);
    let mut expected = header([0x80, 0x60, 0xe8, 0xc1], 4089, FIRST); // len 0x0ff9
    expected.extend_from_slice(&p[..4089]);
    expected.extend(header([0x80, 0x2d, 0x53, 0x16], 4089, MIDDLE));
    expected.extend_from_slice(&p[4089..8178]);
    expected.extend(header([0x1e, 0xc0, 0x4d, 0xc6], 10, LAST));
    expected.extend_from_slice(&p[8178..]);
    assert_eq!(expected.len(), 2 * 4096 + 17);
    assert_eq!(
        &expected[4096..4103],
        [0x80, 0x2d, 0x53, 0x16, 0xf9, 0x0f, MIDDLE]
    );

    assert_eq!(write(&[&p], false), expected);
    assert_eq!(events(&expected), [record(&p, 0, 8209)]);
}

#[test]
fn short_block_tail_is_zero_filled() {
    // FULL with 4084 bytes ends at 7 + 4084 = 4091: 5 bytes are left, fewer
    // than a header, so they are zeros and "hello" starts at 4096.
    let big = pattern(4084);
    let mut expected = header([0xe9, 0x0f, 0x7b, 0x54], 4084, FULL); // len 0x0ff4
    expected.extend_from_slice(&big);
    expected.extend_from_slice(&[0; 5]);
    expected.extend(header([0x0b, 0xb9, 0x57, 0x58], 5, FULL));
    expected.extend_from_slice(b"hello");

    assert_eq!(write(&[&big, b"hello"], false), expected);
    assert_eq!(
        events(&expected),
        [record(&big, 0, 4091), record(b"hello", 4096, 4108)]
    );
}

#[test]
fn six_byte_block_tail_is_zero_filled() {
    // The largest padding: a FULL with 4083 bytes ends at 4090, 6 bytes are
    // left (one short of a header).
    let big = pattern(4083);
    let mut expected = header([0xcc, 0x01, 0x5c, 0x71], 4083, FULL); // len 0x0ff3
    expected.extend_from_slice(&big);
    expected.extend_from_slice(&[0; 6]);
    expected.extend(header([0x0b, 0xb9, 0x57, 0x58], 5, FULL));
    expected.extend_from_slice(b"hello");

    assert_eq!(write(&[&big, b"hello"], false), expected);
    assert_eq!(
        events(&expected),
        [record(&big, 0, 4090), record(b"hello", 4096, 4108)]
    );
}

#[test]
fn exactly_a_header_left_starts_with_an_empty_first() {
    // FULL with 4082 bytes ends at 4089: exactly 7 bytes are left. The next
    // record (10 bytes) does not fit, so the writer emits an empty FIRST
    // there (CRC-32C([0x02]) masked = 0xe9d05164) and the 10 bytes as LAST in
    // the next block.
    let big = pattern(4082);
    let ten = pattern(10);
    assert_eq!(
        ten,
        [0x03, 0x0a, 0x11, 0x18, 0x1f, 0x26, 0x2d, 0x34, 0x3b, 0x42]
    );
    let mut expected = header([0xb5, 0xcb, 0x5c, 0x3b], 4082, FULL); // len 0x0ff2
    expected.extend_from_slice(&big);
    expected.extend(header([0x64, 0x51, 0xd0, 0xe9], 0, FIRST));
    expected.extend(header([0x6b, 0xef, 0x53, 0xa2], 10, LAST));
    expected.extend_from_slice(&ten);
    assert_eq!(expected.len(), 4096 + 17);

    assert_eq!(write(&[&big, &ten], false), expected);
    assert_eq!(
        events(&expected),
        [record(&big, 0, 4089), record(&ten, 4089, 4113)]
    );
}

#[test]
fn eof_record() {
    // EOF: type 5, length 0, CRC-32C([0x05]) = 0x678c474d, masked 0x311db9f0.
    let mut expected = header([0x0b, 0xb9, 0x57, 0x58], 5, FULL);
    expected.extend_from_slice(b"hello");
    expected.extend(header([0xf0, 0xb9, 0x1d, 0x31], 0, EOF));

    assert_eq!(write(&[b"hello"], true), expected);
    assert_eq!(
        events(&expected),
        [record(b"hello", 0, 12), ReadEvent::Eof { pos: 12 }]
    );
    let mut r = LogReader::new(0, ReadOptions { verify_crc: true });
    r.feed(&expected);
    while r.next().unwrap().is_some() {}
    assert_eq!(
        r.tail(),
        Some(Tail::Eof {
            pos: 12,
            trailing_bytes: 0
        })
    );
}

#[test]
fn eof_after_a_short_block_tail() {
    // The EOF header needs 7 bytes too: after a record ending at 4091 the
    // writer pads 5 zeros and puts EOF at 4096.
    let big = pattern(4084);
    let mut expected = header([0xe9, 0x0f, 0x7b, 0x54], 4084, FULL);
    expected.extend_from_slice(&big);
    expected.extend_from_slice(&[0; 5]);
    expected.extend(header([0xf0, 0xb9, 0x1d, 0x31], 0, EOF));

    assert_eq!(write(&[&big], true), expected);
    assert_eq!(
        events(&expected),
        [record(&big, 0, 4091), ReadEvent::Eof { pos: 4096 }]
    );
}

#[test]
fn resumed_writer_pads_from_the_existing_length() {
    // A file of 4090 bytes: 6 bytes left in block 0, so appending "hello"
    // first writes 6 zeros.
    let mut w = LogWriter::resume(Vec::new(), 4090);
    w.add_record(b"hello").unwrap();
    let mut expected = vec![0; 6];
    expected.extend(header([0x0b, 0xb9, 0x57, 0x58], 5, FULL));
    expected.extend_from_slice(b"hello");
    assert_eq!(w.position(), 4096 + 12);
    assert_eq!(w.into_inner(), expected);
}
