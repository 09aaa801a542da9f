//! LogReader behaviour: resuming, chunked feeding, incomplete tails at every
//! cut point, EOF handling, and the typed errors with their offsets.

use sync_core::binlog::{
    BLOCK_SIZE, BinlogError, EntryEvent, HEADER_SIZE, LogReader, LogWriter, ReadEvent, ReadOptions,
    RecordType, Tail, record_crc,
};
use sync_core::proto::api::LogEntry;

const VERIFY: ReadOptions = ReadOptions { verify_crc: true };
const BS: u64 = BLOCK_SIZE as u64;

/// A binlog written by `LogWriter` and its records `(payload, start, end)`,
/// with offsets derived from the writer's position and the block rule.
struct Built {
    bytes: Vec<u8>,
    records: Vec<(Vec<u8>, u64, u64)>,
    eof: Option<u64>,
}

fn payload(seed: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + seed * 17 + 1) as u8).collect()
}

fn build(sizes: &[usize], eof: bool) -> Built {
    let mut w = LogWriter::new(Vec::new());
    let mut records = Vec::new();
    for (seed, &len) in sizes.iter().enumerate() {
        let p = payload(seed, len);
        let before = w.position();
        let room = BS - before % BS;
        let start = if room < HEADER_SIZE as u64 {
            before + room
        } else {
            before
        };
        w.add_record(&p).unwrap();
        records.push((p, start, w.position()));
    }
    let eof = eof.then(|| {
        w.add_eof().unwrap();
        // The EOF record is the last 7 bytes (after any padding).
        w.position() - HEADER_SIZE as u64
    });
    Built {
        bytes: w.into_inner(),
        records,
        eof,
    }
}

/// Sizes that exercise padding, an empty FIRST at a block end, fragments and
/// empty records; about 14 KB. 7 + 8 + 107 + (7 + 3960) = 4089 leaves exactly
/// a header's room in block 0.
const SIZES: &[usize] = &[0, 1, 100, 3960, 10, 4084, 5000, 3, 200, 7];

fn drain(r: &mut LogReader) -> Result<Vec<ReadEvent>, BinlogError> {
    let mut out = Vec::new();
    while let Some(e) = r.next()? {
        out.push(e);
    }
    Ok(out)
}

fn as_events(records: &[(Vec<u8>, u64, u64)]) -> Vec<ReadEvent> {
    records
        .iter()
        .map(|(payload, start, end)| ReadEvent::Record {
            payload: payload.clone(),
            start: *start,
            end: *end,
        })
        .collect()
}

fn all_events(b: &Built) -> Vec<ReadEvent> {
    let mut events = as_events(&b.records);
    if let Some(pos) = b.eof {
        events.push(ReadEvent::Eof { pos });
    }
    events
}

/// A physical record with a correct CRC.
fn phys(kind: RecordType, data: &[u8]) -> Vec<u8> {
    let mut out = record_crc(kind.as_u8(), data).to_le_bytes().to_vec();
    out.extend_from_slice(&(data.len() as u16).to_le_bytes());
    out.push(kind.as_u8());
    out.extend_from_slice(data);
    out
}

fn read_bytes(bytes: &[u8], opts: ReadOptions) -> (Vec<ReadEvent>, Result<(), BinlogError>) {
    let mut r = LogReader::new(0, opts);
    r.feed(bytes);
    let mut out = Vec::new();
    loop {
        match r.next() {
            Ok(Some(e)) => out.push(e),
            Ok(None) => return (out, Ok(())),
            Err(e) => return (out, Err(e)),
        }
    }
}

#[test]
fn built_layout_is_what_the_tests_expect() {
    let b = build(SIZES, true);
    // Record 3 ends exactly 7 bytes before the end of block 0, so record 4
    // starts there with an empty FIRST.
    assert_eq!(b.records[3].2, BS - 7);
    assert_eq!(b.records[4].1, BS - 7);
    assert_eq!(
        &b.bytes[4089 + 4..4089 + 7],
        [0, 0, RecordType::First.as_u8()]
    );
    assert_eq!(b.records.len(), SIZES.len());
    assert_eq!(b.eof, Some(b.bytes.len() as u64 - 7));
}

#[test]
fn reads_everything_with_offsets() {
    let b = build(SIZES, true);
    for opts in [ReadOptions::default(), VERIFY] {
        let mut r = LogReader::new(0, opts);
        r.feed(&b.bytes);
        assert_eq!(drain(&mut r).unwrap(), all_events(&b));
        assert_eq!(r.position(), b.records.last().unwrap().2);
        assert!(r.is_eof());
        assert_eq!(r.buffered(), 0);
    }
}

#[test]
fn resume_from_every_returned_position() {
    let b = build(SIZES, true);
    let expected = all_events(&b);
    let mut positions = vec![0];
    positions.extend(b.records.iter().map(|r| r.2));
    for (k, &pos) in positions.iter().enumerate() {
        let mut r = LogReader::new(pos, VERIFY);
        r.feed(&b.bytes[pos as usize..]);
        assert_eq!(drain(&mut r).unwrap(), expected[k..], "resume at {pos}");
        assert_eq!(r.position(), b.records.last().unwrap().2);
    }
}

#[test]
fn resume_position_reported_by_the_reader_mid_stream() {
    let b = build(SIZES, false);
    // Read half the file, remember position(), restart from there.
    let half = b.bytes.len() / 2;
    let mut r = LogReader::new(0, VERIFY);
    r.feed(&b.bytes[..half]);
    let first = drain(&mut r).unwrap();
    let pos = r.position();
    let mut r2 = LogReader::new(pos, VERIFY);
    r2.feed(&b.bytes[pos as usize..]);
    let mut all = first;
    all.extend(drain(&mut r2).unwrap());
    assert_eq!(all, all_events(&b));
}

#[test]
fn byte_by_byte_equals_all_at_once() {
    let b = build(SIZES, true);
    let mut r = LogReader::new(0, VERIFY);
    let mut events = Vec::new();
    for byte in &b.bytes {
        r.feed(std::slice::from_ref(byte));
        events.extend(drain(&mut r).unwrap());
        assert!(r.buffered() < BLOCK_SIZE);
    }
    assert_eq!(events, all_events(&b));
}

#[test]
fn odd_chunk_sizes_equal_all_at_once() {
    let b = build(SIZES, true);
    for chunk in [2, 3, 6, 7, 8, 100, 4095, 4096, 4097, 10_000] {
        let mut r = LogReader::new(0, ReadOptions::default());
        let mut events = Vec::new();
        for piece in b.bytes.chunks(chunk) {
            r.feed(piece);
            events.extend(drain(&mut r).unwrap());
        }
        assert_eq!(events, all_events(&b), "chunk {chunk}");
    }
}

/// What `tail()` must say for input cut at `cut`, given the records.
fn expected_tail(b: &Built, cut: u64) -> Tail {
    if let Some(pos) = b.eof
        && cut >= pos + HEADER_SIZE as u64
    {
        return Tail::Eof {
            pos,
            trailing_bytes: cut - pos - HEADER_SIZE as u64,
        };
    }
    // The first record (or EOF) not complete at `cut`.
    let next_start = b
        .records
        .iter()
        .find(|r| r.2 > cut)
        .map(|r| r.1)
        .or(b.eof)
        .unwrap_or(u64::MAX);
    if cut <= next_start {
        return Tail::Clean { end: cut };
    }
    let rest = &b.bytes[next_start as usize..cut as usize];
    if rest.iter().all(|&x| x == 0) {
        Tail::ZeroFilled {
            offset: next_start,
            end: cut,
        }
    } else {
        Tail::Incomplete {
            offset: next_start,
            end: cut,
        }
    }
}

#[test]
fn every_cut_point_waits_then_completes() {
    let b = build(SIZES, true);
    let all = all_events(&b);
    for cut in 0..=b.bytes.len() {
        let mut r = LogReader::new(0, VERIFY);
        r.feed(&b.bytes[..cut]);
        let before = drain(&mut r).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        // Exactly the records complete at the cut, all correct.
        let complete = b.records.iter().filter(|r| r.2 <= cut as u64).count();
        let eof_in = b.eof.is_some_and(|p| p + 7 <= cut as u64);
        assert_eq!(before.len(), complete + usize::from(eof_in), "cut {cut}");
        assert_eq!(before, all[..before.len()], "cut {cut}");
        assert_eq!(r.tail(), Some(expected_tail(&b, cut as u64)), "cut {cut}");
        assert!(r.buffered() < BLOCK_SIZE);
        // The rest completes the file.
        r.feed(&b.bytes[cut..]);
        let after = drain(&mut r).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        assert_eq!(after, all[before.len()..], "cut {cut}");
    }
}

#[test]
fn cut_tails_without_eof() {
    let b = build(&[10, 5000], false);
    let mut r = LogReader::new(0, VERIFY);
    // Inside the first block of the 5000-byte record: FIRST complete,
    // nothing of the LAST yet.
    r.feed(&b.bytes[..4096]);
    assert_eq!(drain(&mut r).unwrap().len(), 1);
    assert_eq!(
        r.tail(),
        Some(Tail::Incomplete {
            offset: b.records[1].1,
            end: 4096
        })
    );
    r.feed(&b.bytes[4096..]);
    assert_eq!(drain(&mut r).unwrap().len(), 1);
    assert_eq!(
        r.tail(),
        Some(Tail::Clean {
            end: b.bytes.len() as u64
        })
    );
}

#[test]
fn tail_is_none_until_drained() {
    let b = build(&[10, 20], false);
    let mut r = LogReader::new(0, VERIFY);
    assert_eq!(r.tail(), Some(Tail::Clean { end: 0 }), "nothing fed");
    r.feed(&[]);
    assert_eq!(r.tail(), Some(Tail::Clean { end: 0 }), "nothing fed");
    r.feed(&b.bytes);
    assert_eq!(r.tail(), None);
    r.next().unwrap();
    assert_eq!(r.tail(), None);
    drain(&mut r).unwrap();
    assert!(r.tail().is_some());
    r.feed(b"x");
    assert_eq!(r.tail(), None);
}

#[test]
fn eof_ends_the_file_and_later_bytes_are_ignored() {
    let b = build(&[10, 20], true);
    let mut bytes = b.bytes.clone();
    let eof_pos = b.eof.unwrap();
    bytes.extend(phys(RecordType::Full, b"after eof"));
    let mut r = LogReader::new(0, VERIFY);
    r.feed(&bytes);
    assert_eq!(drain(&mut r).unwrap(), all_events(&b));
    assert_eq!(r.next(), Ok(None));
    r.feed(b"more");
    assert_eq!(r.next(), Ok(None));
    assert_eq!(r.buffered(), 0);
    assert_eq!(
        r.tail(),
        Some(Tail::Eof {
            pos: eof_pos,
            trailing_bytes: 16 + 4
        })
    );
    // The resume position is before the EOF record, so a resumed reader
    // learns that the file is closed.
    let pos = r.position();
    assert!(pos <= eof_pos);
    let mut r2 = LogReader::new(pos, VERIFY);
    r2.feed(&b.bytes[pos as usize..]);
    assert_eq!(drain(&mut r2).unwrap(), [ReadEvent::Eof { pos: eof_pos }]);
}

#[test]
fn next_entry_decodes_and_decode_errors_are_not_sticky() {
    let entry = |i: u64| LogEntry {
        log_index: Some(i),
        value: Some(vec![i as u8; 5000]),
        ..Default::default()
    };
    let mut w = LogWriter::new(Vec::new());
    w.add_entry(&entry(1)).unwrap();
    let bad_start = w.position();
    w.add_record(&[0xff]).unwrap(); // not protobuf: field 31, wire type 7
    let bad_end = w.position();
    w.add_entry(&entry(2)).unwrap();
    w.add_eof().unwrap();
    let bytes = w.into_inner();

    let mut r = LogReader::new(0, VERIFY);
    r.feed(&bytes);
    assert!(matches!(
        r.next_entry(),
        Ok(Some(EntryEvent::Entry { entry: e, start: 0, .. })) if e == entry(1)
    ));
    match r.next_entry() {
        Err(BinlogError::Decode { offset, .. }) => assert_eq!(offset, bad_start),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.position(), bad_end);
    assert!(r.error().is_none());
    assert!(matches!(
        r.next_entry(),
        Ok(Some(EntryEvent::Entry { entry: e, start, .. })) if e == entry(2) && start == bad_end
    ));
    assert!(matches!(r.next_entry(), Ok(Some(EntryEvent::Eof { .. }))));
    assert_eq!(r.next_entry(), Ok(None));
}

// ---- typed errors ----

#[test]
fn bad_crc_only_when_verifying() {
    let mut bytes = phys(RecordType::Full, b"first");
    let second = bytes.len() as u64;
    bytes.extend(phys(RecordType::Full, b"second"));
    bytes[second as usize + 7] ^= 0x20; // "second" -> "Second"

    let (events, err) = read_bytes(&bytes, VERIFY);
    assert_eq!(events.len(), 1);
    match err {
        Err(BinlogError::BadCrc {
            offset,
            stored,
            computed,
        }) => {
            assert_eq!(offset, second);
            assert_eq!(stored, record_crc(1, b"second"));
            assert_eq!(computed, record_crc(1, b"Second"));
        }
        other => panic!("{other:?}"),
    }
    let (events, err) = read_bytes(&bytes, ReadOptions::default());
    assert_eq!(err, Ok(()));
    assert!(matches!(&events[1], ReadEvent::Record { payload, .. } if payload == b"Second"));
}

#[test]
fn header_errors_need_only_the_header() {
    let cases: Vec<(Vec<u8>, BinlogError)> = vec![
        (
            vec![1, 2, 3, 4, 3, 0, 6],
            BinlogError::UnknownType {
                offset: 0,
                record_type: 6,
            },
        ),
        (
            vec![1, 2, 3, 4, 3, 0, 0xff],
            BinlogError::UnknownType {
                offset: 0,
                record_type: 0xff,
            },
        ),
        (
            vec![1, 2, 3, 4, 3, 0, 0],
            BinlogError::ZeroType {
                offset: 0,
                length: 3,
            },
        ),
        (
            vec![1, 0, 0, 0, 0, 0, 0],
            BinlogError::ZeroType {
                offset: 0,
                length: 0,
            },
        ),
        (
            // 4090 > 4096 - 7
            vec![1, 2, 3, 4, 0xfa, 0x0f, 1],
            BinlogError::LengthPastBlock {
                offset: 0,
                length: 4090,
                room: 4089,
            },
        ),
        (
            vec![1, 2, 3, 4, 1, 0, 5],
            BinlogError::BadEof {
                offset: 0,
                length: 1,
            },
        ),
    ];
    for (header, expected) in cases {
        // Header alone (payload not fed yet): already an error.
        let (events, err) = read_bytes(&header, ReadOptions::default());
        assert!(events.is_empty());
        assert_eq!(err, Err(expected.clone()));
        assert_eq!(expected.offset(), 0);
        // Cut inside the header: just waiting.
        let (_, err) = read_bytes(&header[..6], ReadOptions::default());
        assert_eq!(err, Ok(()));
    }
}

#[test]
fn length_past_block_is_relative_to_the_block() {
    // A record at 4000: 96 bytes left, 89 after the header.
    let mut bytes = phys(RecordType::Full, &[b'a'; 3993]);
    assert_eq!(bytes.len(), 4000);
    bytes.extend_from_slice(&[9, 9, 9, 9, 90, 0, 1]);
    let (events, err) = read_bytes(&bytes, ReadOptions::default());
    assert_eq!(events.len(), 1);
    assert_eq!(
        err,
        Err(BinlogError::LengthPastBlock {
            offset: 4000,
            length: 90,
            room: 89
        })
    );
    // 89 fits exactly: just an incomplete payload.
    bytes[4004] = 89;
    assert_eq!(read_bytes(&bytes, ReadOptions::default()).1, Ok(()));
}

#[test]
fn fragment_order_errors() {
    let first = phys(RecordType::First, b"ab");
    let cases: Vec<(Vec<u8>, BinlogError)> = vec![
        (
            phys(RecordType::Middle, b"x"),
            BinlogError::MissingFirst {
                offset: 0,
                record_type: RecordType::Middle,
            },
        ),
        (
            phys(RecordType::Last, b"x"),
            BinlogError::MissingFirst {
                offset: 0,
                record_type: RecordType::Last,
            },
        ),
        (
            [first.clone(), phys(RecordType::Full, b"x")].concat(),
            BinlogError::UnterminatedRecord {
                offset: 9,
                record_type: RecordType::Full,
                open_start: 0,
            },
        ),
        (
            [first.clone(), phys(RecordType::First, b"x")].concat(),
            BinlogError::UnterminatedRecord {
                offset: 9,
                record_type: RecordType::First,
                open_start: 0,
            },
        ),
        (
            [first.clone(), phys(RecordType::Eof, b"")].concat(),
            BinlogError::UnterminatedRecord {
                offset: 9,
                record_type: RecordType::Eof,
                open_start: 0,
            },
        ),
    ];
    for (bytes, expected) in cases {
        for opts in [ReadOptions::default(), VERIFY] {
            let (events, err) = read_bytes(&bytes, opts);
            assert!(events.is_empty());
            assert_eq!(err, Err(expected.clone()));
        }
    }
}

#[test]
fn nonzero_padding() {
    let mut bytes = phys(RecordType::Full, &[b'a'; 4084]); // ends at 4091
    bytes.extend_from_slice(&[0, 0, 7, 0, 0]);
    bytes.extend(phys(RecordType::Full, b"next"));
    let (events, err) = read_bytes(&bytes, VERIFY);
    assert_eq!(events.len(), 1);
    assert_eq!(err, Err(BinlogError::BadPadding { offset: 4093 }));
    // Detected even before the whole padding is there.
    assert_eq!(
        read_bytes(&bytes[..4094], VERIFY).1,
        Err(BinlogError::BadPadding { offset: 4093 })
    );
}

#[test]
fn zero_filled_tail_then_data() {
    let mut bytes = phys(RecordType::Full, b"rec");
    let zeros_at = bytes.len() as u64;
    bytes.extend_from_slice(&[0; 100]);
    let mut r = LogReader::new(0, VERIFY);
    r.feed(&bytes);
    assert_eq!(drain(&mut r).unwrap().len(), 1);
    assert_eq!(r.buffered(), 0, "zeros are not kept");
    assert_eq!(
        r.tail(),
        Some(Tail::ZeroFilled {
            offset: zeros_at,
            end: zeros_at + 100
        })
    );
    r.feed(&[0; 5000]);
    assert_eq!(r.next(), Ok(None));
    r.feed(&[0, 0, 1]);
    let expected = BinlogError::DataAfterZeroFill {
        offset: zeros_at,
        data_offset: zeros_at + 5102,
    };
    assert_eq!(r.next(), Err(expected.clone()));
    // Sticky.
    assert_eq!(r.next(), Err(expected.clone()));
    assert_eq!(r.tail(), None);
    assert_eq!(r.error(), Some(&expected));
}

#[test]
fn short_zero_tail_is_zero_filled() {
    let mut bytes = phys(RecordType::Full, b"rec");
    bytes.extend_from_slice(&[0; 3]);
    let mut r = LogReader::new(0, VERIFY);
    r.feed(&bytes);
    drain(&mut r).unwrap();
    assert_eq!(
        r.tail(),
        Some(Tail::ZeroFilled {
            offset: 10,
            end: 13
        })
    );
}

// ---- resync ----

#[test]
fn resync_after_bad_crc_skips_the_rest_of_the_block() {
    // Block 0: A (corrupt), B, C's FIRST. Block 1: C's LAST, D.
    let mut bytes = phys(RecordType::Full, b"A");
    bytes.extend(phys(RecordType::Full, b"B"));
    let room = 4096 - bytes.len() - 7;
    bytes.extend(phys(RecordType::First, &vec![b'c'; room]));
    assert_eq!(bytes.len(), 4096);
    bytes.extend(phys(RecordType::Last, b"cc"));
    let d_start = bytes.len() as u64;
    bytes.extend(phys(RecordType::Full, b"D"));
    bytes[7] ^= 1; // corrupt A's payload

    let mut r = LogReader::new(0, VERIFY);
    r.feed(&bytes);
    let err = r.next().unwrap_err();
    assert!(matches!(err, BinlogError::BadCrc { offset: 0, .. }));
    assert_eq!(r.next(), Err(err), "errors are sticky");
    assert_eq!(r.resync(), 4096);
    assert_eq!(
        drain(&mut r).unwrap(),
        [ReadEvent::Record {
            payload: b"D".to_vec(),
            start: d_start,
            end: d_start + 8
        }]
    );
    assert_eq!(r.resync(), r.offset(), "no-op without an error");
}

#[test]
fn resync_past_the_input_end_skips_future_bytes() {
    let mut bytes = phys(RecordType::Full, b"A");
    bytes[7] ^= 1;
    let mut r = LogReader::new(0, VERIFY);
    r.feed(&bytes);
    assert!(r.next().is_err());
    assert_eq!(r.resync(), 4096);
    assert_eq!(r.next(), Ok(None));
    // The rest of block 0 (4096 - 8 bytes) arrives in pieces, then a record
    // in block 1 in the same chunk as the last garbage bytes.
    r.feed(&vec![0xee; 4000]);
    assert_eq!(r.next(), Ok(None));
    let mut rest = vec![0xee; 88];
    rest.extend(phys(RecordType::Full, b"B"));
    r.feed(&rest);
    assert_eq!(
        drain(&mut r).unwrap(),
        [ReadEvent::Record {
            payload: b"B".to_vec(),
            start: 4096,
            end: 4104
        }]
    );
}

#[test]
fn resync_drops_an_unterminated_record_but_keeps_the_next() {
    let mut bytes = phys(RecordType::First, b"ab");
    bytes.extend(phys(RecordType::Full, b"x"));
    let mut r = LogReader::new(0, VERIFY);
    r.feed(&bytes);
    assert!(matches!(
        r.next(),
        Err(BinlogError::UnterminatedRecord { offset: 9, .. })
    ));
    assert_eq!(r.resync(), 9);
    assert_eq!(
        drain(&mut r).unwrap(),
        [ReadEvent::Record {
            payload: b"x".to_vec(),
            start: 9,
            end: 17
        }]
    );
}

#[test]
fn resync_skips_orphan_fragments() {
    let mut bytes = phys(RecordType::Middle, b"m1");
    bytes.extend(phys(RecordType::Middle, b"m2"));
    bytes.extend(phys(RecordType::Last, b"l"));
    let full_at = bytes.len() as u64;
    bytes.extend(phys(RecordType::Full, b"x"));
    let mut r = LogReader::new(0, VERIFY);
    r.feed(&bytes);
    assert!(matches!(
        r.next(),
        Err(BinlogError::MissingFirst { offset: 0, .. })
    ));
    assert_eq!(r.resync(), 9);
    let events = drain(&mut r).unwrap();
    assert_eq!(
        events,
        [ReadEvent::Record {
            payload: b"x".to_vec(),
            start: full_at,
            end: full_at + 8
        }]
    );
}

#[test]
fn consumed_bytes_are_dropped() {
    // ~2 MB fed in 50 000-byte chunks (not block aligned, so chunks end
    // inside physical records): after each drain only an incomplete physical
    // record stays buffered.
    let sizes: Vec<usize> = (0..400).map(|i| 100 + (i * 37) % 9000).collect();
    let b = build(&sizes, false);
    let mut r = LogReader::new(0, ReadOptions::default());
    let mut n = 0;
    let chunk_size = 50_000;
    for chunk in b.bytes.chunks(chunk_size) {
        r.feed(chunk);
        n += drain(&mut r).unwrap().len();
        assert!(r.buffered() < BLOCK_SIZE, "{}", r.buffered());
        // Input kept: this chunk plus what was left undecoded before it;
        // plus at most one partly assembled record (< 9100 bytes here).
        assert!(
            r.retained() < chunk_size + BLOCK_SIZE + 9100,
            "{}",
            r.retained()
        );
    }
    assert_eq!(n, sizes.len());
    assert_eq!(r.offset(), b.bytes.len() as u64);
    assert_eq!(r.input_end(), b.bytes.len() as u64);
}

#[test]
fn resync_mode_ends_at_a_last_fragment() {
    // Block 0: A (corrupt), then C's FIRST up to the block end. Block 1: C's
    // LAST (skipped by the resync), then an orphan MIDDLE, which is an error
    // again because the resync ended at the LAST.
    let mut bytes = phys(RecordType::Full, b"A");
    let room = 4096 - bytes.len() - 7;
    bytes.extend(phys(RecordType::First, &vec![b'c'; room]));
    bytes.extend(phys(RecordType::Last, b"cc"));
    let orphan_at = bytes.len() as u64;
    bytes.extend(phys(RecordType::Middle, b"m"));
    bytes[7] ^= 1;

    let mut r = LogReader::new(0, VERIFY);
    r.feed(&bytes);
    assert!(matches!(
        r.next(),
        Err(BinlogError::BadCrc { offset: 0, .. })
    ));
    assert_eq!(r.resync(), 4096);
    assert_eq!(
        r.next(),
        Err(BinlogError::MissingFirst {
            offset: orphan_at,
            record_type: RecordType::Middle
        })
    );
}

#[test]
fn zero_crc_and_length_with_a_type_is_not_a_zero_region() {
    // An empty FULL record whose CRC bytes happen to be zero.
    let mut bytes = vec![0, 0, 0, 0, 0, 0, RecordType::Full.as_u8()];
    bytes.extend(phys(RecordType::Full, b"x"));
    let (events, err) = read_bytes(&bytes, ReadOptions::default());
    assert_eq!(err, Ok(()));
    assert_eq!(
        events,
        [
            ReadEvent::Record {
                payload: vec![],
                start: 0,
                end: 7
            },
            ReadEvent::Record {
                payload: b"x".to_vec(),
                start: 7,
                end: 15
            }
        ]
    );
    assert_eq!(
        read_bytes(&bytes, VERIFY).1,
        Err(BinlogError::BadCrc {
            offset: 0,
            stored: 0,
            computed: record_crc(1, b"")
        })
    );
}
