//! Bad input: truncations, byte flips and garbage never panic and give a
//! typed error or an incomplete tail; with CRC checks a flipped byte never
//! yields a record that was not written; `resync` always makes progress.

use proptest::collection::vec;
use proptest::prelude::*;
use sync_core::binlog::{
    BLOCK_SIZE, BinlogError, HEADER_SIZE, LogReader, LogWriter, ReadEvent, ReadOptions, Tail,
};

const BS: u64 = BLOCK_SIZE as u64;

/// `(payload, start, end)` of a written record.
type Rec = (Vec<u8>, u64, u64);

fn arb_payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    vec(
        prop_oneof![
            3 => vec(any::<u8>(), 0..200),
            2 => vec(any::<u8>(), 200..9000),
        ],
        1..10,
    )
}

fn write(payloads: &[Vec<u8>], eof: bool) -> (Vec<u8>, Vec<Rec>) {
    let mut w = LogWriter::new(Vec::new());
    let mut recs = Vec::new();
    for p in payloads {
        let before = w.position();
        let room = BS - before % BS;
        let start = if room < HEADER_SIZE as u64 {
            before + room
        } else {
            before
        };
        w.add_record(p).unwrap();
        recs.push((p.clone(), start, w.position()));
    }
    if eof {
        w.add_eof().unwrap();
    }
    (w.into_inner(), recs)
}

/// Everything a reader reports for `bytes` fed in `chunk`-sized pieces,
/// calling `resync` after each error.
#[derive(Debug, PartialEq)]
struct Outcome {
    records: Vec<Rec>,
    errors: Vec<BinlogError>,
    tail: Option<Tail>,
}

fn read_resyncing(bytes: &[u8], chunk: usize, opts: ReadOptions) -> Outcome {
    let mut r = LogReader::new(0, opts);
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for piece in bytes.chunks(chunk.max(1)) {
        r.feed(piece);
        loop {
            match r.next() {
                Ok(Some(ReadEvent::Record {
                    payload,
                    start,
                    end,
                })) => records.push((payload, start, end)),
                Ok(Some(ReadEvent::Eof { .. })) => {}
                Ok(None) => break,
                Err(e) => {
                    let before = r.offset();
                    errors.push(e);
                    let resumed = r.resync();
                    assert!(resumed >= before);
                    // Each error costs at least one resync: bounded work.
                    assert!(errors.len() <= 2 * bytes.len() + 2, "resync loop");
                }
            }
        }
    }
    Outcome {
        records,
        errors,
        tail: r.tail(),
    }
}

/// `sub` appears in order in `all`.
fn is_subsequence(sub: &[Rec], all: &[Rec]) -> bool {
    let mut it = all.iter();
    sub.iter().all(|r| it.any(|a| a == r))
}

#[test]
fn every_truncation_of_a_file_with_large_records() {
    let payloads: Vec<Vec<u8>> = [0usize, 70_000, 5, 4082, 0, 9000, 1]
        .iter()
        .enumerate()
        .map(|(i, &n)| (0..n).map(|j| (i * 13 + j * 7) as u8).collect())
        .collect();
    let (bytes, recs) = write(&payloads, true);
    for opts in [ReadOptions::default(), ReadOptions { verify_crc: true }] {
        // Every cut: never an error, exactly the complete records, and a tail
        // that is not clean only if a record is cut.
        for cut in (0..=bytes.len()).step_by(if opts.verify_crc { 1 } else { 3 }) {
            let out = read_resyncing(&bytes[..cut], bytes.len() + 1, opts);
            assert!(out.errors.is_empty(), "cut {cut}: {:?}", out.errors);
            let complete: Vec<Rec> = recs.iter().filter(|r| r.2 <= cut as u64).cloned().collect();
            assert_eq!(out.records, complete, "cut {cut}");
            let cuts_a_record = recs.iter().any(|r| r.1 < cut as u64 && (cut as u64) < r.2);
            match out.tail {
                Some(Tail::Incomplete { .. } | Tail::ZeroFilled { .. }) => {
                    assert!(
                        cuts_a_record || cut + HEADER_SIZE > bytes.len(),
                        "cut {cut}"
                    )
                }
                Some(Tail::Clean { .. } | Tail::Eof { .. }) => {
                    assert!(!cuts_a_record, "cut {cut}")
                }
                None => panic!("cut {cut}: not drained"),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // Regressions would land outside this crate's test files.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn truncation_gives_prefix_and_no_error(
        payloads in arb_payloads(),
        cut in any::<prop::sample::Index>(),
        chunk in 1usize..5000,
    ) {
        let (bytes, recs) = write(&payloads, true);
        let cut = cut.index(bytes.len() + 1);
        let out = read_resyncing(&bytes[..cut], chunk, ReadOptions { verify_crc: true });
        prop_assert!(out.errors.is_empty());
        let complete = recs.iter().take_while(|r| r.2 <= cut as u64).count();
        prop_assert_eq!(&out.records[..], &recs[..complete]);
        prop_assert!(out.tail.is_some());
    }

    #[test]
    fn flipped_byte_is_detected_with_crc(
        payloads in arb_payloads(),
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
        chunk in prop_oneof![Just(usize::MAX), 1usize..5000],
    ) {
        let (mut bytes, recs) = write(&payloads, false);
        let at = at.index(bytes.len());
        bytes[at] ^= xor;
        let out = read_resyncing(&bytes, chunk, ReadOptions { verify_crc: true });

        // Nothing that was not written comes out, and order is kept.
        prop_assert!(is_subsequence(&out.records, &recs), "{:?}", out.errors);
        // The damage is reported: an error, or (a corrupted length in the
        // last record) a record that looks cut.
        prop_assert!(
            !out.errors.is_empty()
                || matches!(out.tail, Some(Tail::Incomplete { .. } | Tail::ZeroFilled { .. })),
            "undetected flip at {}: {:?}", at, out.tail
        );
        // What resync loses is confined to the damaged block: records ending
        // before the flip and records starting after its block survive.
        let block_end = (at as u64 / BS + 1) * BS;
        for r in &recs {
            if r.2 <= at as u64 || r.1 >= block_end {
                prop_assert!(out.records.contains(r), "lost record at {}..{} (flip at {})", r.1, r.2, at);
            }
        }
        // Without resync, the records before the first error are a prefix.
        let mut plain = LogReader::new(0, ReadOptions { verify_crc: true });
        plain.feed(&bytes);
        let mut prefix = Vec::new();
        while let Ok(Some(ReadEvent::Record { payload, start, end })) = plain.next() {
            prefix.push((payload, start, end));
        }
        prop_assert_eq!(&prefix[..], &recs[..prefix.len()]);
    }

    #[test]
    fn flips_without_crc_never_panic(
        payloads in arb_payloads(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        chunk in 1usize..5000,
    ) {
        let (mut bytes, _) = write(&payloads, true);
        for (at, xor) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= xor;
        }
        let whole = read_resyncing(&bytes, usize::MAX, ReadOptions::default());
        let chunked = read_resyncing(&bytes, chunk, ReadOptions::default());
        prop_assert_eq!(whole, chunked);
    }

    #[test]
    fn garbage_never_panics_and_chunking_does_not_matter(
        prefix in arb_payloads(),
        garbage in prop_oneof![
            vec(any::<u8>(), 0..10_000),
            vec(prop_oneof![9 => Just(0u8), 1 => any::<u8>()], 0..10_000),
        ],
        chunk in 1usize..3000,
        verify_crc in any::<bool>(),
    ) {
        // A valid start, then garbage.
        let (mut bytes, _) = write(&prefix[..prefix.len().min(3)], false);
        bytes.extend_from_slice(&garbage);
        let opts = ReadOptions { verify_crc };
        let whole = read_resyncing(&bytes, usize::MAX, opts);
        let chunked = read_resyncing(&bytes, chunk, opts);
        prop_assert_eq!(&whole, &chunked);
        for e in &whole.errors {
            prop_assert!(e.offset() < bytes.len() as u64);
        }
    }
}
