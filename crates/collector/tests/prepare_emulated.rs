//! Which snapshot a preparation reads (`prepare`), over real-format data
//! from the tablet emulator: a point inside the linked snapshot is served
//! from the links even after the tablet replaced that snapshot and
//! garbage-collected its binlog; the tablet's newer snapshot replaces the
//! linked one only when the hand-off rule says it continues the point
//! exactly, and a refused hand-off leaves the linked snapshot in place.

use sync_core::point::{Point, RowKey};
use sync_core::proto::datasync::AddSyncTaskRequest;
use sync_infra::store::FsStore;

use data_collector::prepare::{PrepareError, ReadContext, prepare};
use data_collector::tablet_client::DiskTablePaths;
use data_collector::workdir::WorkDir;
use tablet_emu::emulator::TableEmulator;
use tablet_emu::partition::partition_dir;
use tablet_emu::spec::EmulatedTable;

const TID: u32 = 5;

struct Fixture {
    _dir: tempfile::TempDir,
    emu: TableEmulator,
    work: WorkDir<FsStore>,
    ctx: ReadContext,
    task: AddSyncTaskRequest,
}

/// 200 rows in snapshot `A` (offset 200), 200 more in the binlog.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("tablet");
    let mut table = EmulatedTable::demo(TID, 1);
    table.binlog_max_bytes = 8 * 1024;
    let mut emu = TableEmulator::create(&root, table).expect("create table");
    emu.append_all(200).expect("append");
    emu.snapshot_all(Some("A".into())).expect("snapshot");
    emu.append_all(200).expect("append");
    let partition = partition_dir(&root, TID, 0);
    let ctx = ReadContext {
        meta: emu.table().table_meta(0).expect("meta"),
        paths: DiskTablePaths {
            snapshot_path: format!("{}/", partition.join("snapshot").display()),
            binlog_path: format!("{}/", partition.join("binlog").display()),
        },
        max_pack_size: 2048,
        verify_crc: true,
        now_ms: emu.table().base_time_ms,
    };
    let task = AddSyncTaskRequest {
        tid: Some(TID),
        pid: Some(0),
        mode: Some(2),
        token: Some("t".into()),
        ..AddSyncTaskRequest::default()
    };
    Fixture {
        work: WorkDir::new(FsStore, dir.path().join("collector")),
        _dir: dir,
        emu,
        ctx,
        task,
    }
}

impl Fixture {
    /// Links the binlog files the tablet wrote since (the linker's job).
    fn link_new_files(&self) {
        let dir = std::path::PathBuf::from(&self.ctx.paths.binlog_path);
        self.work.link_newer_binlogs(TID, 0, &dir).expect("link");
    }

    fn linked_name(&self) -> Option<String> {
        self.work
            .linked_snapshot(TID, 0)
            .expect("read")
            .map(|s| s.manifest.name().to_string())
    }

    /// Every row from `point` until caught up.
    fn rows_from(&self, point: &Point) -> Vec<Vec<u8>> {
        let mut prepared =
            prepare(&self.work, &self.task, point, &self.ctx).expect("served from the links");
        let mut rows = Vec::new();
        loop {
            let pack = prepared
                .packer
                .next_pack(self.work.store(), &prepared.decoder)
                .expect("pack");
            for row in sync_core::row::split_rows(&pack.rows) {
                rows.push(row.expect("row").to_vec());
            }
            if pack.caught_up {
                return rows;
            }
        }
    }

    fn source(&mut self) -> Vec<Vec<u8>> {
        let part = self.emu.partition(0).expect("partition");
        (0..part.offset())
            .map(|seq| part.generator().row(0, seq).expect("row").row)
            .collect()
    }
}

fn sorted(mut rows: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    rows.sort();
    rows
}

/// The point after the first pack from the start: inside snapshot `A`.
fn point_inside_a(f: &Fixture) -> (Point, Vec<Vec<u8>>) {
    let mut prepared = prepare(&f.work, &f.task, &Point::start(), &f.ctx).expect("prepare");
    let pack = prepared
        .packer
        .next_pack(f.work.store(), &prepared.decoder)
        .expect("pack");
    let rows = sync_core::row::split_rows(&pack.rows)
        .map(|r| r.expect("row").to_vec())
        .collect();
    assert!(matches!(pack.next, Point::Snapshot(_)), "{}", pack.next);
    (pack.next, rows)
}

#[test]
fn a_point_inside_the_linked_snapshot_is_served_from_the_links_after_the_tablet_moved_on() {
    let mut f = fixture();
    let (point, first) = point_inside_a(&f);
    assert_eq!(f.linked_name().as_deref(), Some("A"));

    // The tablet writes on (linked, as the linker does), makes snapshot B,
    // deletes A's checkpoint and the binlog.
    f.emu.append_all(100).expect("append");
    f.link_new_files();
    f.emu.snapshot_all(Some("B".into())).expect("snapshot");
    assert!(f.emu.gc_binlog_all().expect("gc") > 0);

    let rest = f.rows_from(&point);
    assert_eq!(
        f.linked_name().as_deref(),
        Some("A"),
        "the linked snapshot continues the point exactly: it stays"
    );
    let mut all = first;
    all.extend(rest);
    assert_eq!(all.len(), 500, "no duplicates, no gaps");
    assert_eq!(sorted(all), sorted(f.source()));
}

/// A fixture whose tablet has moved on to snapshot B (offset 500, binlog
/// GC done; the work dir linked the binlog as it was written), and a key
/// inside snapshot A.
fn moved_on() -> (Fixture, RowKey) {
    let mut f = fixture();
    let (point, _) = point_inside_a(&f);
    let Point::Snapshot(inside) = point else {
        unreachable!("checked by point_inside_a");
    };
    let key = inside.key.unwrap_or_else(|| RowKey::new("", 0));
    f.emu.append_all(100).expect("append");
    f.link_new_files();
    f.emu.snapshot_all(Some("B".into())).expect("snapshot");
    f.emu.gc_binlog_all().expect("gc");
    (f, key)
}

#[test]
fn a_newer_snapshot_replaces_the_linked_one_when_the_hand_off_is_exact() {
    // A point inside a snapshot at offset 250 (of another host): A (200) is
    // behind it, B (500) continues it through a catch-up from entry 251,
    // which the links hold.
    let (f, key) = moved_on();
    let far = Point::in_snapshot(250, Some(key));
    prepare(&f.work, &f.task, &far, &f.ctx).expect("an exact hand-off");
    assert_eq!(f.linked_name().as_deref(), Some("B"));
}

#[test]
fn a_refused_hand_off_keeps_the_linked_snapshot() {
    // A point inside a snapshot at offset 600: both A (200) and B (500) are
    // behind it, so neither continues it exactly.
    let (f, key) = moved_on();
    let far = Point::in_snapshot(600, Some(key));
    let err = prepare(&f.work, &f.task, &far, &f.ctx)
        .err()
        .expect("refused");
    assert!(
        matches!(err, PrepareError::HandOff(_)),
        "the hand-off rule's reason: {err}"
    );
    assert_eq!(
        f.linked_name().as_deref(),
        Some("A"),
        "the linked snapshot stays"
    );
    assert!(
        !f.work.task_dir(TID, 0).join("snapshot.next").exists(),
        "the staged one is dropped"
    );
}
