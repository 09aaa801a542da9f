//! Fuzzes the binlog reader (`sync_core::binlog`): the input (after a small
//! header choosing the options and a chunk size) is one binlog file, read
//! whole with `read_all`, fed in chunks, and read on past errors with
//! `resync`. Asserts: entries or a typed error, never a panic; feeding in
//! chunks gives the same entries and error as feeding at once; each
//! `next_entry`/`resync` step makes progress (no endless loop); offsets stay
//! inside the input; the reader holds at most a small multiple of its input
//! (no allocation driven by a length field).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sync_core::binlog::{EntryEvent, HEADER_SIZE, LogReader, ReadOptions, read_all};

/// One step's outcome, comparable across feeding strategies.
#[derive(Debug, PartialEq)]
enum Outcome {
    Event(EntryEvent),
    Error(String),
}

/// Reads `file` fed `chunk` bytes at a time until the first error.
fn read_chunked(file: &[u8], chunk: usize, opts: ReadOptions) -> Vec<Outcome> {
    let mut reader = LogReader::new(0, opts);
    let mut out = Vec::new();
    for piece in file.chunks(chunk.max(1)) {
        reader.feed(piece);
        loop {
            match reader.next_entry() {
                Ok(Some(event)) => out.push(Outcome::Event(event)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Outcome::Error(e.to_string()));
                    return out;
                }
            }
            check_bounds(&reader, file.len());
        }
    }
    out
}

fn check_bounds(reader: &LogReader, len: usize) {
    assert!(reader.position() <= len as u64, "position past the input");
    assert!(reader.offset() <= len as u64, "offset past the input");
    assert!(
        reader.retained() <= 2 * len + 64,
        "reader holds {} bytes for {len} bytes of input",
        reader.retained()
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&[flags, c0, c1], file)) = data.split_first_chunk::<3>() else {
        return;
    };
    let opts = ReadOptions {
        verify_crc: flags & 1 != 0,
    };
    let chunk = usize::from(u16::from_le_bytes([c0, c1])) % 9000 + 1;

    // Whole input: entries with sane offsets, or a typed error.
    if let Ok((entries, _tail)) = read_all(file, opts) {
        let mut last_end = 0;
        for (start, end, _) in &entries {
            assert!(*start >= last_end && start < end && *end <= file.len() as u64);
            last_end = *end;
        }
    }

    // Same outcomes whatever the chunking.
    let whole = read_chunked(file, file.len().max(1), opts);
    let chunked = read_chunked(file, chunk, opts);
    assert_eq!(whole, chunked, "chunk size {chunk} changes what is read");

    // Reading on past errors terminates: every step yields a record (at
    // least one header), or an error whose resync drops bytes or an open
    // record, so the steps are bounded by the headers that fit.
    let mut reader = LogReader::new(0, opts);
    reader.feed(file);
    let budget = 4 * (file.len() / HEADER_SIZE + 2);
    let mut steps = 0;
    loop {
        steps += 1;
        assert!(steps <= budget, "no progress after {budget} steps");
        match reader.next_entry() {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => {
                reader.resync();
            }
        }
        check_bounds(&reader, file.len());
    }
    assert!(reader.tail().is_some(), "drained reader without a tail");
});
