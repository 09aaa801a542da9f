//! The collector's read path over real-format data written by the tablet
//! emulator: hard-linked snapshot (RocksDB checkpoint with KeyTSComparator)
//! and binlog (with rotation) read back exactly, in every mode, including a
//! resume in the middle of the snapshot and one across a binlog rotation.

use std::sync::Arc;

use data_collector::packer::{BuiltPack, Packer};
use data_collector::snapshot::SnapshotReader;
use data_collector::source::PartitionSource;
use data_collector::table_read::{CheckpointOpener, TableDecoder};
use data_collector::workdir::WorkDir;
use sync_core::point::{Available, Point, plan_read};
use sync_core::task::Mode;
use sync_infra::store::FsStore;
use tablet_emu::emulator::TableEmulator;
use tablet_emu::partition::partition_dir;
use tablet_emu::spec::EmulatedTable;

const TID: u32 = 7;

struct Fixture {
    _dir: tempfile::TempDir,
    emu: TableEmulator,
    work: WorkDir<FsStore>,
    tablet_dir: std::path::PathBuf,
}

/// 600 rows in the snapshot, then 400 in the binlog over several files.
fn fixture(snappy: bool) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("tablet");
    let mut table = EmulatedTable::demo(TID, 1);
    table.snappy = snappy;
    table.binlog_max_bytes = 16 * 1024;
    let mut emu = TableEmulator::create(&root, table).expect("create table");
    emu.append_all(600).expect("append");
    emu.snapshot_all(None).expect("snapshot");
    emu.append_all(400).expect("append");
    let work = WorkDir::new(FsStore, dir.path().join("collector"));
    Fixture {
        tablet_dir: partition_dir(&root, TID, 0),
        emu,
        work,
        _dir: dir,
    }
}

fn expected_rows(f: &mut Fixture) -> Vec<Vec<u8>> {
    let part = f.emu.partition(0).expect("partition");
    (0..1000)
        .map(|seq| part.generator().row(0, seq).expect("row").row)
        .collect()
}

/// A packer over the linked data from `point`.
fn packer(f: &Fixture, point: &Point, mode: Mode, start_ts: u64) -> Packer<CheckpointOpener> {
    let snapshot = match f.work.linked_snapshot(TID, 0).expect("read") {
        Some(linked) => linked,
        None => {
            f.work
                .stage_snapshot(TID, 0, &f.tablet_dir.join("snapshot"))
                .expect("link snapshot")
                .expect("the table has a snapshot");
            f.work
                .adopt_staged_snapshot(TID, 0)
                .expect("adopt")
                .expect("linked")
        }
    };
    f.work
        .link_new_binlogs(TID, 0, &f.tablet_dir.join("binlog"))
        .expect("link binlogs");
    let meta = f.emu.table().table_meta(0).expect("meta");
    let reader = SnapshotReader::open(&snapshot.checkpoint_dir, &meta).expect("open checkpoint");
    let offset = snapshot.manifest.offset();
    let available = Available {
        snapshot_offset: Some(offset),
        binlog_first: 1,
    };
    let plan = plan_read(point, &available).expect("plan");
    let opener = CheckpointOpener::new(Arc::new(reader), offset, u64::MAX / 2);
    let source =
        PartitionSource::new(&plan, f.work.binlog_dir(TID, 0), true, opener).expect("source");
    Packer::new(source, point.clone(), mode, start_ts, 8 * 1024)
}

fn drain(packer: &mut Packer<CheckpointOpener>, decoder: &TableDecoder) -> Vec<BuiltPack> {
    let mut packs = Vec::new();
    loop {
        let pack = packer.next_pack(&FsStore, decoder).expect("pack");
        let done = pack.caught_up;
        packs.push(pack);
        if done {
            return packs;
        }
    }
}

fn rows_of(packs: &[BuiltPack]) -> Vec<Vec<u8>> {
    packs
        .iter()
        .flat_map(|p| {
            sync_core::row::split_rows(&p.rows)
                .map(|r| r.expect("row").to_vec())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn sorted(mut rows: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    rows.sort();
    rows
}

fn check_mode0(snappy: bool) {
    let mut f = fixture(snappy);
    let decoder = TableDecoder::new(&f.emu.table().table_meta(0).expect("meta")).expect("decoder");
    let packs = drain(&mut packer(&f, &Point::start(), Mode::Full, 0), &decoder);
    assert!(packs.last().expect("packs").finished);
    assert_eq!(
        packs.last().expect("packs").next,
        Point::Binlog { offset: 1001 }
    );
    let rows = rows_of(&packs);
    assert_eq!(rows.len(), 1000, "every put once");
    assert_eq!(sorted(rows), sorted(expected_rows(&mut f)));
    let binlog_files = f.work.linked_binlogs(TID, 0).expect("files");
    assert!(
        binlog_files.len() > 2,
        "the binlog rotated: {binlog_files:?}"
    );
}

#[test]
fn mode_0_reads_snapshot_then_binlog_exactly() {
    check_mode0(false);
}

#[test]
fn snappy_tables_are_sent_uncompressed() {
    check_mode0(true);
}

#[test]
fn resumes_inside_the_snapshot_and_across_a_rotation() {
    let mut f = fixture(false);
    let decoder = TableDecoder::new(&f.emu.table().table_meta(0).expect("meta")).expect("decoder");
    let full = drain(
        &mut packer(&f, &Point::start(), Mode::FullAndContinuous, 0),
        &decoder,
    );
    let expected = rows_of(&full);
    assert!(full.iter().all(|p| !p.finished), "mode 2 never finishes");

    let mid_snapshot = full
        .iter()
        .position(|p| matches!(p.next, Point::Snapshot(_)))
        .expect("a snapshot point");
    let mid_binlog = full
        .iter()
        .rposition(|p| matches!(p.next, Point::Binlog { offset } if offset > 700 && offset < 1000))
        .expect("a binlog point");
    for cut in [mid_snapshot, mid_binlog] {
        let point = full[cut].next.clone();
        let mut resumed = packer(&f, &point, Mode::FullAndContinuous, 0);
        let mut rows = rows_of(&full[..=cut]);
        rows.extend(rows_of(&drain(&mut resumed, &decoder)));
        assert_eq!(rows, expected, "resumed at {point}");
    }
    assert_eq!(sorted(expected), sorted(expected_rows(&mut f)));
}

#[test]
fn mode_1_drops_rows_older_than_start_ts() {
    let mut f = fixture(false);
    let decoder = TableDecoder::new(&f.emu.table().table_meta(0).expect("meta")).expect("decoder");
    let all = expected_rows(&mut f);
    let part = f.emu.partition(0).expect("partition");
    let keys: Vec<u64> = (0..1000)
        .map(|seq| part.generator().row(0, seq).expect("row").key.ts)
        .collect();
    let mut sorted_ts = keys.clone();
    sorted_ts.sort_unstable();
    let start_ts = sorted_ts[500];
    let packs = drain(
        &mut packer(&f, &Point::start(), Mode::IncrementalByTimestamp, start_ts),
        &decoder,
    );
    let want: Vec<Vec<u8>> = all
        .into_iter()
        .zip(keys)
        .filter(|(_, ts)| *ts >= start_ts)
        .map(|(r, _)| r)
        .collect();
    assert_eq!(sorted(rows_of(&packs)), sorted(want));
}
