//! Binlog throughput: write ~1 M realistic `LogEntry` records in memory with
//! `LogWriter`, then read them back with `LogReader` fed in 1 MiB chunks,
//! as raw payloads and as decoded entries, with and without CRC checks.
//!
//! Run with `cargo bench -p sync-core --bench binlog`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sync_core::binlog::{EntryEvent, LogReader, LogWriter, ReadEvent, ReadOptions, encode_entry};
use sync_core::proto::Message;
use sync_core::proto::api::{Dimension, LogEntry, MethodType};

const RECORDS: u64 = 1_000_000;
const CHUNK: usize = 1 << 20;
const ROUNDS: usize = 5;

/// Deterministic pseudo-random numbers (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// A Put like the tablet logs it: an encoded row of 100–200 bytes, the
/// primary key, put time and one or two index dimensions.
fn entries() -> Vec<LogEntry> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (1..=RECORDS)
        .map(|log_index| {
            let len = 100 + (rng.next() % 101) as usize;
            let value: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let key = format!("user_{:06}", rng.next() % 100_000);
            let mut dimensions = vec![Dimension {
                key: Some(key.clone()),
                idx: Some(0),
            }];
            if log_index % 2 == 0 {
                dimensions.push(Dimension {
                    key: Some(format!("item_{}", rng.next() % 5_000)),
                    idx: Some(1),
                });
            }
            LogEntry {
                term: Some(3),
                log_index: Some(log_index),
                pk: Some(key),
                value: Some(value),
                ts: Some(1_700_000_000_000 + log_index),
                dimensions,
                method_type: Some(MethodType::KPut as i32),
                ..Default::default()
            }
        })
        .collect()
}

fn report(what: &str, elapsed: Duration, records: u64, bytes: usize) {
    let secs = elapsed.as_secs_f64();
    println!(
        "{what:<34} {:>8.1} ms  {:>6.2} M records/s  {:>7.1} MB/s",
        secs * 1e3,
        records as f64 / secs / 1e6,
        bytes as f64 / secs / 1e6,
    );
}

/// Best of `ROUNDS` runs of `f`, which returns a record count.
fn best(mut f: impl FnMut() -> u64) -> (Duration, u64) {
    (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            let n = f();
            (t.elapsed(), n)
        })
        .min()
        .unwrap_or_default()
}

fn read_payloads(data: &[u8], opts: ReadOptions) -> u64 {
    let mut r = LogReader::new(0, opts);
    let mut n = 0;
    for chunk in data.chunks(CHUNK) {
        r.feed(chunk);
        while let Some(ev) = r.next().expect("valid binlog") {
            if let ReadEvent::Record { payload, .. } = ev {
                black_box(&payload);
                n += 1;
            }
        }
    }
    n
}

fn read_entries(data: &[u8], opts: ReadOptions) -> u64 {
    let mut r = LogReader::new(0, opts);
    let mut n = 0;
    for chunk in data.chunks(CHUNK) {
        r.feed(chunk);
        while let Some(ev) = r.next_entry().expect("valid binlog") {
            if let EntryEvent::Entry { entry, .. } = ev {
                black_box(&entry);
                n += 1;
            }
        }
    }
    n
}

fn main() {
    let entries = entries();

    let mut data = Vec::new();
    let (elapsed, _) = best(|| {
        // Reuse the previous round's buffer: measure framing, not page faults.
        let mut out = std::mem::take(&mut data);
        out.clear();
        let mut w = LogWriter::new(out);
        for e in &entries {
            w.add_entry(e).expect("write to Vec");
        }
        w.add_eof().expect("write to Vec");
        data = w.into_inner();
        RECORDS
    });
    let payload_bytes: usize = entries
        .iter()
        .map(|e| e.value.as_ref().map_or(0, Vec::len))
        .sum();
    println!(
        "binlog: {RECORDS} records, {:.1} MB file ({:.1} bytes/record, values avg {:.1} bytes), {ROUNDS} rounds, best shown",
        data.len() as f64 / 1e6,
        data.len() as f64 / RECORDS as f64,
        payload_bytes as f64 / RECORDS as f64,
    );
    report("write (encode + frame)", elapsed, RECORDS, data.len());

    // Baselines: protobuf alone, without the binlog framing.
    let mut buf = Vec::new();
    let (elapsed, _) = best(|| {
        for e in &entries {
            buf.clear();
            e.encode(&mut buf).expect("encode to Vec");
            black_box(&buf);
        }
        RECORDS
    });
    report(
        "  baseline: prost encode only",
        elapsed,
        RECORDS,
        data.len(),
    );
    let payloads: Vec<Vec<u8>> = entries.iter().map(encode_entry).collect();
    drop(entries);
    let (elapsed, _) = best(|| {
        for p in &payloads {
            black_box(LogEntry::decode(p.as_slice()).expect("decode"));
        }
        RECORDS
    });
    report(
        "  baseline: prost decode only",
        elapsed,
        RECORDS,
        data.len(),
    );
    drop(payloads);

    for verify_crc in [false, true] {
        let opts = ReadOptions { verify_crc };
        let crc = if verify_crc { "crc on" } else { "crc off" };
        let (elapsed, n) = best(|| read_payloads(&data, opts));
        assert_eq!(n, RECORDS);
        report(&format!("read payloads ({crc})"), elapsed, n, data.len());
        let (elapsed, n) = best(|| read_entries(&data, opts));
        assert_eq!(n, RECORDS);
        report(
            &format!("read + decode LogEntry ({crc})"),
            elapsed,
            n,
            data.len(),
        );
    }
}
