//! Property tests: random `LogEntry` lists (values from empty to over 64 KiB)
//! written with `LogWriter` read back identically, with the offsets the
//! writer's positions imply, however the bytes are chunked and wherever the
//! writer or the reader is resumed.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use sync_core::binlog::{
    BLOCK_SIZE, EntryEvent, HEADER_SIZE, LogReader, LogWriter, PositionedEntry, ReadOptions, Tail,
    encode_entry, read_all,
};
use sync_core::proto::api::{Dimension, LogEntry, MethodType};

const BS: u64 = BLOCK_SIZE as u64;

fn arb_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => vec(any::<u8>(), 0..300),
        3 => vec(any::<u8>(), 300..9000),
        1 => vec(any::<u8>(), 65_000..70_000),
    ]
}

fn arb_entry() -> impl Strategy<Value = LogEntry> {
    (
        option::of(any::<u64>()),
        any::<u64>(),
        option::of("[a-z0-9|]{0,20}"),
        option::of(arb_value()),
        option::of(any::<u64>()),
        vec(("[a-z0-9]{0,8}", 0u32..4), 0..3),
        option::of(prop_oneof![
            Just(MethodType::KPut as i32),
            Just(MethodType::KDelete as i32)
        ]),
    )
        .prop_map(
            |(term, log_index, pk, value, ts, dims, method_type)| LogEntry {
                term,
                log_index: Some(log_index),
                pk,
                value,
                ts,
                dimensions: dims
                    .into_iter()
                    .map(|(key, idx)| Dimension {
                        key: Some(key),
                        idx: Some(idx),
                    })
                    .collect(),
                method_type,
                ..Default::default()
            },
        )
}

/// Writes `entries` with `w`, returning `(start, end)` for each: `start` is
/// where the writer was, moved past padding if under a header's room was
/// left; `end` is its position afterwards.
fn write_entries(w: &mut LogWriter<Vec<u8>>, entries: &[LogEntry]) -> Vec<(u64, u64)> {
    entries
        .iter()
        .map(|e| {
            let before = w.position();
            let room = BS - before % BS;
            let start = if room < HEADER_SIZE as u64 {
                before + room
            } else {
                before
            };
            w.add_entry(e).unwrap();
            (start, w.position())
        })
        .collect()
}

fn expected(entries: &[LogEntry], offsets: &[(u64, u64)]) -> Vec<PositionedEntry> {
    offsets
        .iter()
        .zip(entries)
        .map(|(&(s, e), entry)| (s, e, entry.clone()))
        .collect()
}

fn read_chunked(
    bytes: &[u8],
    start: u64,
    chunks: &[usize],
    opts: ReadOptions,
) -> (Vec<PositionedEntry>, Option<u64>, Option<Tail>) {
    let mut r = LogReader::new(start, opts);
    let mut out = Vec::new();
    let mut eof = None;
    let mut rest = bytes;
    let mut sizes = chunks.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap()).clamp(1, rest.len());
        let (piece, tail) = rest.split_at(n);
        rest = tail;
        r.feed(piece);
        while let Some(ev) = r.next_entry().unwrap() {
            match ev {
                EntryEvent::Entry { entry, start, end } => out.push((start, end, entry)),
                EntryEvent::Eof { pos } => eof = Some(pos),
            }
        }
    }
    if bytes.is_empty() {
        assert_eq!(r.next_entry().unwrap(), None);
    }
    (out, eof, r.tail())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        // Regressions would land outside this crate's test files.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn write_then_read_all(entries in vec(arb_entry(), 0..12), eof in any::<bool>()) {
        let mut w = LogWriter::new(Vec::new());
        let offsets = write_entries(&mut w, &entries);
        if eof {
            w.add_eof().unwrap();
        }
        let bytes = w.into_inner();
        let len = bytes.len() as u64;
        for verify_crc in [false, true] {
            let (got, tail) = read_all(&bytes, ReadOptions { verify_crc }).unwrap();
            prop_assert_eq!(&got, &expected(&entries, &offsets));
            let want = if eof {
                Tail::Eof { pos: len - HEADER_SIZE as u64, trailing_bytes: 0 }
            } else {
                Tail::Clean { end: len }
            };
            prop_assert_eq!(tail, want);
        }
    }

    #[test]
    fn chunked_feeding_matches(
        entries in vec(arb_entry(), 0..10),
        chunks in vec(1usize..9000, 1..8),
    ) {
        let mut w = LogWriter::new(Vec::new());
        let offsets = write_entries(&mut w, &entries);
        w.add_eof().unwrap();
        let eof_pos = w.position() - HEADER_SIZE as u64;
        let bytes = w.into_inner();
        let (got, eof, tail) = read_chunked(&bytes, 0, &chunks, ReadOptions { verify_crc: true });
        prop_assert_eq!(got, expected(&entries, &offsets));
        prop_assert_eq!(eof, Some(eof_pos));
        prop_assert_eq!(tail, Some(Tail::Eof { pos: eof_pos, trailing_bytes: 0 }));
    }

    #[test]
    fn reader_resumes_at_any_record_end(
        entries in vec(arb_entry(), 1..10),
        pick in any::<prop::sample::Index>(),
        chunks in vec(1usize..5000, 1..4),
    ) {
        let mut w = LogWriter::new(Vec::new());
        let offsets = write_entries(&mut w, &entries);
        let bytes = w.into_inner();
        let k = pick.index(entries.len());
        let resume_at = offsets[k].1;
        let (got, _, tail) = read_chunked(
            &bytes[resume_at as usize..], resume_at, &chunks, ReadOptions::default());
        prop_assert_eq!(got, expected(&entries[k + 1..], &offsets[k + 1..]));
        prop_assert_eq!(tail, Some(Tail::Clean { end: bytes.len() as u64 }));
    }

    #[test]
    fn writer_resumed_on_existing_bytes(
        first in vec(arb_entry(), 0..6),
        second in vec(arb_entry(), 0..6),
        eof in any::<bool>(),
    ) {
        // One writer for everything...
        let mut whole = LogWriter::new(Vec::new());
        let mut offsets = write_entries(&mut whole, &first);
        offsets.extend(write_entries(&mut whole, &second));
        if eof {
            whole.add_eof().unwrap();
        }
        let whole = whole.into_inner();

        // ...equals a writer stopped after `first` and resumed on its bytes.
        let mut w = LogWriter::new(Vec::new());
        write_entries(&mut w, &first);
        let existing = w.into_inner();
        let existing_len = existing.len() as u64;
        let mut resumed = LogWriter::resume(existing, existing_len);
        let resumed_offsets = write_entries(&mut resumed, &second);
        prop_assert_eq!(&resumed_offsets[..], &offsets[first.len()..]);
        if eof {
            resumed.add_eof().unwrap();
        }
        prop_assert_eq!(resumed.position(), whole.len() as u64);
        prop_assert_eq!(&resumed.into_inner(), &whole);

        // A writer resumed on an empty destination writes just the suffix.
        let mut suffix = LogWriter::resume(Vec::new(), existing_len);
        write_entries(&mut suffix, &second);
        if eof {
            suffix.add_eof().unwrap();
        }
        prop_assert_eq!(&suffix.into_inner()[..], &whole[existing_len as usize..]);

        let all: Vec<LogEntry> = first.iter().chain(&second).cloned().collect();
        let (got, _) = read_all(&whole, ReadOptions { verify_crc: true }).unwrap();
        prop_assert_eq!(got, expected(&all, &offsets));
    }
}

#[test]
fn entry_larger_than_the_u16_length_field() {
    // 200 000 bytes: 49 fragments, far more than one u16 length could say.
    let entry = LogEntry {
        log_index: Some(7),
        value: Some((0..200_000u32).map(|i| (i % 253) as u8).collect()),
        ..Default::default()
    };
    let mut w = LogWriter::new(Vec::new());
    w.add_entry(&entry).unwrap();
    w.add_entry(&LogEntry::default()).unwrap();
    let bytes = w.into_inner();
    let (got, tail) = read_all(&bytes, ReadOptions { verify_crc: true }).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].2, entry);
    assert_eq!(got[1].2, LogEntry::default());
    // Payload: log_index (2 bytes) + value tag (1) + length varint (3) +
    // 200 000 = 200 006 bytes = 48 full blocks of 4089 + 3734 in block 48,
    // so the record ends at 48 * 4096 + 7 + 3734 = 200 349.
    assert_eq!(encode_entry(&entry).len(), 200_006);
    assert_eq!((got[0].0, got[0].1), (0, 200_349));
    assert_eq!(
        tail,
        Tail::Clean {
            end: bytes.len() as u64
        }
    );
}
