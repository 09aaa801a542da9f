//! A partition's stream cut into packs, over real binlog files and an
//! in-memory snapshot: the snapshot → binlog switch at the effective offset,
//! resumes, the catch-up hand-off of `sync_core::point` (its worked example),
//! the pack size limit, mode 1 filtering, deletes and mode 0's finish.

use std::collections::BTreeMap;
use std::path::Path;

use data_collector::packer::{BuiltPack, Packer};
use data_collector::source::{
    EntryDecoder, PartitionSource, SnapshotCursor, SnapshotOpener, SourceError,
};
use sync_core::binlog::{LogWriter, binlog_file_name};
use sync_core::point::{Available, Point, RowKey, plan_read};
use sync_core::proto::api::{LogEntry, MethodType};
use sync_core::task::Mode;
use sync_infra::store::FsStore;

/// A put or delete of key `pk` (ts 1) with value `value`.
fn put(log_index: u64, pk: &str, value: &str) -> LogEntry {
    LogEntry {
        log_index: Some(log_index),
        pk: Some(pk.into()),
        ts: Some(1),
        value: Some(value.as_bytes().to_vec()),
        method_type: Some(MethodType::KPut as i32),
        ..LogEntry::default()
    }
}

fn delete(log_index: u64, pk: &str) -> LogEntry {
    LogEntry {
        log_index: Some(log_index),
        pk: Some(pk.into()),
        ts: Some(1),
        method_type: Some(MethodType::KDelete as i32),
        ..LogEntry::default()
    }
}

/// Rows are the values; keys are (pk, ts).
struct ValueDecoder;

impl EntryDecoder for ValueDecoder {
    fn decode(&self, entry: &LogEntry) -> Result<(RowKey, Vec<u8>), SourceError> {
        Ok((
            RowKey::new(entry.pk().as_bytes(), entry.ts()),
            entry.value().to_vec(),
        ))
    }
}

/// Snapshots by effective offset: key → value, iterated in RowKey order.
#[derive(Clone, Default)]
struct Snapshots(BTreeMap<u64, BTreeMap<RowKey, Vec<u8>>>);

struct Cursor(std::vec::IntoIter<(RowKey, Vec<u8>)>);

impl SnapshotCursor for Cursor {
    fn next_row(&mut self) -> Result<Option<(RowKey, Vec<u8>)>, SourceError> {
        Ok(self.0.next())
    }
}

impl SnapshotOpener for Snapshots {
    type Cursor = Cursor;
    fn open(&mut self, offset: u64, from: Option<RowKey>) -> Result<Cursor, SourceError> {
        let rows = self
            .0
            .get(&offset)
            .ok_or_else(|| SourceError::Snapshot(format!("no snapshot {offset}")))?;
        let rows: Vec<_> = rows
            .iter()
            .filter(|(k, _)| from.as_ref().is_none_or(|f| *k >= f))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Cursor(rows.into_iter()))
    }
}

fn snapshot(rows: &[(&str, &str)]) -> BTreeMap<RowKey, Vec<u8>> {
    rows.iter()
        .map(|(k, v)| (RowKey::new(k.as_bytes(), 1), v.as_bytes().to_vec()))
        .collect()
}

fn write_binlog(dir: &Path, entries: &[LogEntry]) {
    let mut writer = LogWriter::new(Vec::new());
    for e in entries {
        writer.add_entry(e).expect("write");
    }
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join(binlog_file_name(0)), writer.into_inner()).expect("write");
}

fn packer(
    dir: &Path,
    snapshots: Snapshots,
    point: &Point,
    available: Available,
    mode: Mode,
    max: usize,
) -> Packer<Snapshots> {
    let plan = plan_read(point, &available).expect("plan");
    let source = PartitionSource::new(&plan, dir.to_path_buf(), true, snapshots).expect("source");
    Packer::new(source, point.clone(), mode, 0, max)
}

/// All rows until caught up, as strings, and the packs.
fn run(packer: &mut Packer<Snapshots>) -> (Vec<String>, Vec<BuiltPack>) {
    let mut packs = Vec::new();
    loop {
        let pack = packer.next_pack(&FsStore, &ValueDecoder).expect("pack");
        let done = pack.caught_up;
        packs.push(pack);
        if done {
            break;
        }
    }
    let rows = packs
        .iter()
        .flat_map(|p| {
            p.rows
                .chunks(2)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    (rows, packs)
}

/// The worked example of `sync_core::point`: puts 1: a=a1, 2: c=c1, 3: b=b1,
/// 4: a=a2, 5: d=d1, 6: c=c2.
fn example_log() -> Vec<LogEntry> {
    vec![
        put(1, "a", "a1"),
        put(2, "c", "c1"),
        put(3, "b", "b1"),
        put(4, "a", "a2"),
        put(5, "d", "d1"),
        put(6, "c", "c2"),
    ]
}

#[test]
fn snapshot_then_binlog_from_the_effective_offset_and_packs_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_binlog(dir.path(), &example_log());
    let mut snaps = Snapshots::default();
    snaps
        .0
        .insert(3, snapshot(&[("a", "a1"), ("b", "b1"), ("c", "c1")]));
    let available = Available {
        snapshot_offset: Some(3),
        binlog_first: 1,
    };
    let mut p = packer(dir.path(), snaps, &Point::start(), available, Mode::Full, 4);
    let (rows, packs) = run(&mut p);
    assert_eq!(rows, vec!["a1", "b1", "c1", "a2", "d1", "c2"]);
    for pair in packs.windows(2) {
        assert_eq!(
            pair[0].next, pair[1].start,
            "each pack starts where the previous ended"
        );
    }
    assert_eq!(packs[0].start, Point::start());
    assert_eq!(
        packs[0].next,
        Point::in_snapshot(3, Some(RowKey::new("c", 1)))
    );
    assert!(packs.iter().all(|p| p.rows.len() <= 4));
    let last = packs.last().expect("packs");
    assert_eq!(last.next, Point::Binlog { offset: 7 });
    assert!(last.finished, "mode 0 finishes at the binlog end");
    assert!(packs[..packs.len() - 1].iter().all(|p| !p.finished));
}

#[test]
fn hand_off_to_a_newer_snapshot_catches_up_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_binlog(dir.path(), &example_log());
    let mut snaps = Snapshots::default();
    snaps.0.insert(
        5,
        snapshot(&[("a", "a2"), ("b", "b1"), ("c", "c1"), ("d", "d1")]),
    );
    // Committed: a1, b1 of the snapshot at offset 3; the next key is c.
    let committed = Point::in_snapshot(3, Some(RowKey::new("c", 1)));
    let available = Available {
        snapshot_offset: Some(5),
        binlog_first: 1,
    };
    let mut p = packer(
        dir.path(),
        snaps,
        &committed,
        available,
        Mode::FullAndContinuous,
        1 << 20,
    );
    let (rows, packs) = run(&mut p);
    assert_eq!(
        rows,
        vec!["a2", "c1", "d1", "c2"],
        "every put exactly once after a1, b1"
    );
    assert!(!packs.iter().any(|p| p.finished), "mode 2 never finishes");
}

#[test]
fn resumes_inside_the_snapshot_and_in_the_binlog() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_binlog(dir.path(), &example_log());
    let mut snaps = Snapshots::default();
    snaps
        .0
        .insert(3, snapshot(&[("a", "a1"), ("b", "b1"), ("c", "c1")]));
    let available = Available {
        snapshot_offset: Some(3),
        binlog_first: 1,
    };
    let mid = Point::in_snapshot(3, Some(RowKey::new("b", 1)));
    let (rows, _) = run(&mut packer(
        dir.path(),
        snaps.clone(),
        &mid,
        available,
        Mode::Full,
        64,
    ));
    assert_eq!(rows, vec!["b1", "c1", "a2", "d1", "c2"]);
    let (rows, _) = run(&mut packer(
        dir.path(),
        snaps,
        &Point::Binlog { offset: 5 },
        available,
        Mode::Full,
        64,
    ));
    assert_eq!(rows, vec!["d1", "c2"]);
}

#[test]
fn a_row_larger_than_the_pack_size_goes_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = "x".repeat(100);
    write_binlog(
        dir.path(),
        &[put(1, "a", "a1"), put(2, "b", &big), put(3, "c", "c1")],
    );
    let available = Available {
        snapshot_offset: None,
        binlog_first: 1,
    };
    let mut p = packer(
        dir.path(),
        Snapshots::default(),
        &Point::start(),
        available,
        Mode::Full,
        10,
    );
    let (_, packs) = run(&mut p);
    let sizes: Vec<usize> = packs
        .iter()
        .map(|p| p.rows.len())
        .filter(|&n| n > 0)
        .collect();
    assert_eq!(sizes, vec![2, 100, 2]);
    assert_eq!(
        packs.last().expect("packs").next,
        Point::Binlog { offset: 4 }
    );
}

#[test]
fn deletes_and_old_rows_in_mode_1_advance_without_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut old = put(2, "b", "b1");
    old.ts = Some(1);
    let mut newer = put(4, "d", "d1");
    newer.ts = Some(100);
    write_binlog(dir.path(), &[delete(1, "a"), old, delete(3, "c"), newer]);
    let available = Available {
        snapshot_offset: None,
        binlog_first: 1,
    };
    let plan = plan_read(&Point::Binlog { offset: 1 }, &available).expect("plan");
    let source = PartitionSource::new(&plan, dir.path().to_path_buf(), true, Snapshots::default())
        .expect("source");
    let mut p = Packer::new(
        source,
        Point::Binlog { offset: 1 },
        Mode::IncrementalByTimestamp,
        50,
        1 << 20,
    );
    let pack = p.next_pack(&FsStore, &ValueDecoder).expect("pack");
    assert_eq!(pack.rows, b"d1");
    assert_eq!(pack.count, 1);
    assert_eq!(
        pack.deletes, 2,
        "both deletes are counted; the old put of mode 1 is not a delete"
    );
    assert_eq!(pack.next, Point::Binlog { offset: 5 });
    assert!(!pack.finished, "mode 1 never finishes");
}

#[test]
fn deletes_are_skipped_and_counted_in_the_catch_up_and_in_the_binlog() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_binlog(
        dir.path(),
        &[
            put(1, "a", "a1"),
            put(2, "c", "c1"),
            put(3, "b", "b1"),
            delete(4, "a"),
            put(5, "d", "d1"),
            delete(6, "b"),
            put(7, "c", "c2"),
        ],
    );
    let mut snaps = Snapshots::default();
    // The snapshot at offset 5 no longer holds `a` (deleted at 4).
    snaps
        .0
        .insert(5, snapshot(&[("b", "b1"), ("c", "c1"), ("d", "d1")]));
    // Committed: a1, b1 of the snapshot at offset 3; the next key is c. The
    // catch-up reads entries 4 (a delete) and 5 (a put the new snapshot holds).
    let committed = Point::in_snapshot(3, Some(RowKey::new("c", 1)));
    let available = Available {
        snapshot_offset: Some(5),
        binlog_first: 1,
    };
    let mut p = packer(
        dir.path(),
        snaps,
        &committed,
        available,
        Mode::FullAndContinuous,
        1 << 20,
    );
    let (rows, packs) = run(&mut p);
    assert_eq!(rows, vec!["c1", "d1", "c2"], "deletes remove nothing");
    assert_eq!(
        packs.iter().map(|p| p.deletes).sum::<u64>(),
        2,
        "the catch-up's delete and the binlog's"
    );
}

#[test]
fn an_empty_snapshot_switches_to_the_binlog() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_binlog(dir.path(), &[put(1, "a", "a1")]);
    let mut snaps = Snapshots::default();
    snaps.0.insert(0, BTreeMap::new());
    let available = Available {
        snapshot_offset: Some(0),
        binlog_first: 1,
    };
    let (rows, packs) = run(&mut packer(
        dir.path(),
        snaps,
        &Point::start(),
        available,
        Mode::Full,
        64,
    ));
    assert_eq!(rows, vec!["a1"]);
    assert!(packs.last().expect("packs").finished);
}

#[test]
fn a_binlog_file_that_appears_after_catching_up_is_read_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut first = LogWriter::new(Vec::new());
    first.add_entry(&put(1, "a", "a1")).expect("write");
    first.add_eof().expect("eof");
    std::fs::write(dir.path().join(binlog_file_name(0)), first.into_inner()).expect("write");
    let available = Available {
        snapshot_offset: None,
        binlog_first: 1,
    };
    let mut p = packer(
        dir.path(),
        Snapshots::default(),
        &Point::Binlog { offset: 1 },
        available,
        Mode::FullAndContinuous,
        64,
    );
    let (rows, _) = run(&mut p);
    assert_eq!(rows, vec!["a1"]);

    let mut second = LogWriter::new(Vec::new());
    second.add_entry(&put(2, "b", "b1")).expect("write");
    std::fs::write(dir.path().join(binlog_file_name(1)), second.into_inner()).expect("write");
    let (rows, packs) = run(&mut p);
    assert_eq!(rows, vec!["b1"], "the new file is found by the next pack");
    assert_eq!(
        packs.last().expect("packs").next,
        Point::Binlog { offset: 3 }
    );
}

/// Rows are the values; a value `bad` does not decode.
struct PickyDecoder;

impl EntryDecoder for PickyDecoder {
    fn decode(&self, entry: &LogEntry) -> Result<(RowKey, Vec<u8>), SourceError> {
        if entry.value() == b"bad" {
            return Err(SourceError::BadEntry {
                log_index: entry.log_index(),
                reason: "not a row".into(),
            });
        }
        ValueDecoder.decode(entry)
    }
}

#[test]
fn rows_before_a_bad_record_go_out_first_and_the_error_names_file_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let entries = vec![
        put(1, "a", "a1"),
        put(2, "b", "b1"),
        put(3, "c", "bad"),
        put(4, "d", "d1"),
    ];
    write_binlog(dir.path(), &entries);
    let available = Available {
        snapshot_offset: None,
        binlog_first: 1,
    };
    let mut packer = packer(
        dir.path(),
        Snapshots::default(),
        &Point::Binlog { offset: 1 },
        available,
        Mode::FullAndContinuous,
        1 << 20,
    );
    let pack = packer
        .next_pack(&FsStore, &PickyDecoder)
        .expect("the rows before");
    assert_eq!(pack.rows, b"a1b1");
    assert_eq!(pack.next, Point::Binlog { offset: 3 });
    assert!(!pack.caught_up && !pack.finished);
    let err = packer
        .next_pack(&FsStore, &PickyDecoder)
        .expect_err("then the error")
        .to_string();
    assert!(
        err.contains("00000000.log") && err.contains("corrupt at byte") && err.contains("entry 3"),
        "{err}"
    );
}
