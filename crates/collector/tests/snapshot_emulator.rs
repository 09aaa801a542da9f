//! The snapshot reader and `sync_core::binlog` read back exactly what the
//! tablet emulator wrote: order, keys, values, resume, shared CFs, TTL,
//! snappy, binlog rotation, and corrupt data as typed errors.

use std::path::Path;

use data_collector::snapshot::{SnapshotError, SnapshotReader, SnapshotRow};
use sync_core::binlog::{ReadOptions, Tail, parse_binlog_file_name, read_all};
use sync_core::point::RowKey;
use sync_core::snapshot_key::{Ttl, TtlKind};
use sync_proto::api::{LogEntry, MethodType};
use tablet_emu::{EmulatedTable, IndexSpec, TableEmulator, read_manifest};

const NOW: u64 = 1_700_000_000_000 + 10_000_000;

fn checkpoint(root: &Path, tid: u32, pid: u32) -> std::path::PathBuf {
    let snap = root.join(format!("{tid}_{pid}/snapshot"));
    let manifest = read_manifest(&snap.join("MANIFEST")).unwrap().unwrap();
    snap.join(manifest.name.unwrap())
}

fn read(root: &Path, table: &EmulatedTable, from: Option<&RowKey>, now: u64) -> Vec<SnapshotRow> {
    let reader = SnapshotReader::open(
        &checkpoint(root, table.tid, 0),
        &table.table_meta(0).unwrap(),
    )
    .unwrap();
    reader
        .iter(from, now)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

fn expected(emu: &mut TableEmulator, puts: u64) -> Vec<SnapshotRow> {
    emu.partition(0)
        .unwrap()
        .generator()
        .expected_rows(0, puts)
        .unwrap()
        .into_iter()
        .map(|r| SnapshotRow {
            key: r.key,
            row: r.row,
        })
        .collect()
}

fn build(table: EmulatedTable, before: u64, after: u64) -> (tempfile::TempDir, TableEmulator) {
    let dir = tempfile::tempdir().unwrap();
    let mut emu = TableEmulator::create(dir.path(), table).unwrap();
    emu.append_all(before).unwrap();
    emu.snapshot_all(Some("202401010000".into())).unwrap();
    emu.append_all(after).unwrap();
    (dir, emu)
}

fn binlog_entries(root: &Path, tid: u32, pid: u32) -> (Vec<String>, Vec<LogEntry>, Vec<Tail>) {
    let dir = root.join(format!("{tid}_{pid}/binlog"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut entries = Vec::new();
    let mut tails = Vec::new();
    for name in &names {
        assert!(parse_binlog_file_name(name).is_some(), "{name}");
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let (list, tail) = read_all(&bytes, ReadOptions { verify_crc: true }).unwrap();
        entries.extend(list.into_iter().map(|(_, _, e)| e));
        tails.push(tail);
    }
    (names, entries, tails)
}

#[test]
fn layout_matches_a_tablet() {
    let (dir, _emu) = build(EmulatedTable::demo(5, 2), 10, 5);
    for pid in 0..2 {
        let p = dir.path().join(format!("5_{pid}"));
        assert!(p.join("data/CURRENT").is_file());
        assert!(p.join("binlog/00000000.log").is_file());
        assert!(p.join("snapshot/202401010000/CURRENT").is_file());
        let text = std::fs::read_to_string(p.join("snapshot/MANIFEST")).unwrap();
        assert_eq!(
            text,
            "offset: 10\nname: \"202401010000\"\ncount: 10\nterm: 1\n"
        );
        let entries: Vec<_> = std::fs::read_dir(p.join("snapshot"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries.len(), 2, "{entries:?}");
    }
}

#[test]
fn snapshot_reads_exactly_the_rows_as_of_the_snapshot() {
    let (dir, mut emu) = build(EmulatedTable::demo(6, 1), 500, 100);
    let want = expected(&mut emu, 500);
    let got = read(dir.path(), emu.table(), None, NOW);
    assert_eq!(got.len(), 500);
    assert_eq!(got, want);
    assert!(got.windows(2).all(|w| w[0].key < w[1].key));
    // Resume in the middle, inclusive.
    let mid = &want[237].key;
    assert_eq!(
        read(dir.path(), emu.table(), Some(mid), NOW),
        want[237..].to_vec()
    );
    // A position between keys starts at the next key.
    let between = RowKey::new(mid.pk.clone(), mid.ts + 1);
    assert_eq!(
        read(dir.path(), emu.table(), Some(&between), NOW)[0],
        want[237]
    );
    // next_position reports the first row not read yet.
    let reader = SnapshotReader::open(
        &checkpoint(dir.path(), 6, 0),
        &emu.table().table_meta(0).unwrap(),
    )
    .unwrap();
    let mut it = reader.iter(None, NOW).unwrap();
    for _ in 0..10 {
        it.next().unwrap().unwrap();
    }
    assert_eq!(it.next_position().unwrap(), Some(want[10].key.clone()));
}

#[test]
fn shared_cf_and_snappy() {
    let mut table = EmulatedTable::demo(7, 1);
    table.snappy = true;
    // idx2 shares idx0's CF (same key column), with the put time as ts.
    table.indexes.push(IndexSpec::new("idx2", &["card"], None));
    let (dir, mut emu) = build(table, 300, 0);
    let want = expected(&mut emu, 300);
    let got = read(dir.path(), emu.table(), None, NOW);
    assert_eq!(got, want);
    let mid = &want[150].key;
    assert_eq!(
        read(dir.path(), emu.table(), Some(mid), NOW),
        want[150..].to_vec()
    );
    // index 2 first: its CF is shared with idx0 and its ts is the put time.
    let mut swapped = emu.table().clone();
    swapped.indexes.swap(0, 2);
    swapped.indexes.swap(1, 2);
    let reader = SnapshotReader::open(
        &checkpoint(dir.path(), 7, 0),
        &swapped.table_meta(0).unwrap(),
    );
    assert!(matches!(reader, Err(SnapshotError::MissingCf { .. })));
}

#[test]
fn ttl_of_index_zero_is_applied() {
    let mut table = EmulatedTable::demo(8, 1);
    table.key_cardinality = 5;
    let base = table.base_time_ms;
    table.indexes[0] = table.indexes[0].clone().with_ttl(Ttl {
        kind: TtlKind::Latest,
        abs_minutes: 0,
        lat: 3,
    });
    let (dir, mut emu) = build(table.clone(), 200, 0);
    let all = expected(&mut emu, 200);
    let mut want = Vec::new();
    let mut rank = 0;
    for (i, row) in all.iter().enumerate() {
        rank = if i > 0 && all[i - 1].key.pk == row.key.pk {
            rank + 1
        } else {
            1
        };
        if rank <= 3 {
            want.push(row.clone());
        }
    }
    assert!(want.len() < all.len() && want.len() >= 3);
    assert_eq!(read(dir.path(), emu.table(), None, NOW), want);
    // Resume at the 2nd row of a pk still keeps only ranks 2..=3.
    assert_eq!(
        read(dir.path(), emu.table(), Some(&want[1].key), NOW),
        want[1..].to_vec()
    );

    // Absolute TTL: 1 minute before `now` = base + 100 s.
    let mut abs = EmulatedTable::demo(9, 1);
    abs.indexes[0] = abs.indexes[0].clone().with_ttl(Ttl {
        kind: TtlKind::Absolute,
        abs_minutes: 1,
        lat: 0,
    });
    let (dir, mut emu) = build(abs, 200, 0);
    let now = base + 160_000;
    let bound = now - 60_000;
    let want: Vec<_> = expected(&mut emu, 200)
        .into_iter()
        .filter(|r| r.key.ts > bound)
        .collect();
    assert_eq!(want.len(), 99);
    assert_eq!(read(dir.path(), emu.table(), None, now), want);
}

#[test]
fn binlog_holds_the_puts_after_the_snapshot_across_rotations() {
    let mut table = EmulatedTable::demo(10, 1);
    table.binlog_max_bytes = 8 * 1024;
    let (dir, mut emu) = build(table.clone(), 100, 150);
    let (names, entries, tails) = binlog_entries(dir.path(), 10, 0);
    assert!(names.len() >= 3, "{names:?}");
    assert!(tails[..tails.len() - 1].iter().all(|t| matches!(
        t,
        Tail::Eof {
            trailing_bytes: 0,
            ..
        }
    )));
    assert_eq!(entries.len(), 250);
    let rows = emu.partition(0).unwrap().generator().clone();
    for (i, e) in entries.iter().enumerate() {
        let row = rows.row(0, i as u64).unwrap();
        assert_eq!(e.log_index, Some(i as u64 + 1));
        assert_eq!(e.method_type, Some(MethodType::KPut as i32));
        assert_eq!(e.value.as_deref(), Some(&row.row[..]));
        assert_eq!(e.pk.as_deref().map(str::as_bytes), Some(&row.key.pk[..]));
        assert_eq!(e.ts, Some(row.put_time));
        assert_eq!(e.term, Some(1));
        assert_eq!(e.dimensions.len(), 2);
    }
    let manifest = emu.partition(0).unwrap().manifest().unwrap().unwrap();
    assert_eq!(manifest.offset, Some(100));
    // GC removes only files entirely covered by the snapshot.
    let removed = emu.gc_binlog_all().unwrap();
    assert!(removed >= 1);
    let (_, left, _) = binlog_entries(dir.path(), 10, 0);
    assert!(left[0].log_index.unwrap() <= 101);
    assert_eq!(left.last().unwrap().log_index, Some(250));
    // A reopened tablet continues in a new file (the old one has no EOF).
    drop(emu);
    let mut emu = TableEmulator::open(dir.path(), 10).unwrap();
    emu.append(0, 5).unwrap();
    emu.partition(0).unwrap().delete(0, "k0001").unwrap();
    let (_, after, _) = binlog_entries(dir.path(), 10, 0);
    let tail: Vec<_> = after.iter().rev().take(6).collect();
    assert_eq!(tail[0].method_type, Some(MethodType::KDelete as i32));
    assert_eq!(tail[0].log_index, Some(256));
    assert_eq!(tail[1].log_index, Some(255));
}

#[test]
fn corrupt_data_is_a_typed_error() {
    use rocksdb::{ColumnFamilyDescriptor, DB, Options};
    use sync_core::snapshot_key::{COMPARATOR_NAME, compare};
    let (dir, emu) = build(EmulatedTable::demo(11, 1), 20, 0);
    let table = emu.table().clone();
    drop(emu);
    // Write a too-short key and a bad row straight into the checkpoint.
    let cp = checkpoint(dir.path(), 11, 0);
    let cf_opts = || {
        let mut o = Options::default();
        o.set_comparator(COMPARATOR_NAME, compare);
        o
    };
    {
        let db = DB::open_cf_descriptors(
            &Options::default(),
            &cp,
            vec![
                ColumnFamilyDescriptor::new("default", Options::default()),
                ColumnFamilyDescriptor::new("idx0", cf_opts()),
                ColumnFamilyDescriptor::new("idx1", cf_opts()),
            ],
        )
        .unwrap();
        let cf = db.cf_handle("idx0").unwrap();
        db.put_cf(cf, b"zzzzzzzz\x01\0\0\0\0\0\0\0", b"\x01\x01\xff\0\0\0")
            .unwrap();
    }
    let reader = SnapshotReader::open(&cp, &table.table_meta(0).unwrap()).unwrap();
    let results: Vec<_> = reader.iter(None, NOW).unwrap().collect();
    assert_eq!(results.len(), 21);
    assert!(matches!(
        results.last(),
        Some(Err(SnapshotError::BadRow { .. }))
    ));
    {
        let db = DB::open_cf_descriptors(
            &Options::default(),
            &cp,
            vec![
                ColumnFamilyDescriptor::new("default", Options::default()),
                ColumnFamilyDescriptor::new("idx0", cf_opts()),
                ColumnFamilyDescriptor::new("idx1", cf_opts()),
            ],
        )
        .unwrap();
        db.put_cf(db.cf_handle("idx0").unwrap(), b"abc", b"x")
            .unwrap();
    }
    let reader = SnapshotReader::open(&cp, &table.table_meta(0).unwrap()).unwrap();
    let first = reader.iter(None, NOW).unwrap().next().unwrap();
    let err = first.unwrap_err();
    assert!(matches!(err, SnapshotError::BadKey { .. }));
    assert!(err.to_string().contains(&cp.display().to_string()));
    // Not a checkpoint at all.
    assert!(matches!(
        SnapshotReader::open(dir.path(), &table.table_meta(0).unwrap()),
        Err(SnapshotError::Open { .. })
    ));
}
