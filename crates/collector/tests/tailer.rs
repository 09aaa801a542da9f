//! The binlog tailer over real files written in OpenMLDB's format: rotation,
//! resume, live appends read once, torn tails, deleted files, corruption.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use data_collector::tailer::{BinlogTailer, TailError};
use sync_core::binlog::{LogWriter, binlog_file_name};
use sync_core::proto::api::{LogEntry, MethodType};
use sync_infra::store::{DirEntry, FsStore, LocalStore, StoreError};

/// FsStore that counts the bytes read, to prove nothing is read twice, and
/// lists `ghosts` as if they were there (files removed right after a listing).
#[derive(Default)]
struct CountingStore {
    read: AtomicU64,
    ghosts: Vec<String>,
}

impl LocalStore for CountingStore {
    fn create_dir_all(&self, path: &Path) -> Result<(), StoreError> {
        FsStore.create_dir_all(path)
    }
    fn list_dir(&self, path: &Path) -> Result<Vec<DirEntry>, StoreError> {
        let mut entries = FsStore.list_dir(path)?;
        entries.extend(self.ghosts.iter().map(|name| DirEntry {
            name: name.clone(),
            is_dir: false,
            len: 0,
        }));
        Ok(entries)
    }
    fn hard_link(&self, original: &Path, link: &Path) -> Result<(), StoreError> {
        FsStore.hard_link(original, link)
    }
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
        FsStore.read(path)
    }
    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
        let n = FsStore.read_at(path, offset, buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        FsStore.write_atomic(path, bytes)
    }
    fn rename(&self, from: &Path, to: &Path) -> Result<(), StoreError> {
        FsStore.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> Result<(), StoreError> {
        FsStore.remove_file(path)
    }
    fn remove_dir_all(&self, path: &Path) -> Result<(), StoreError> {
        FsStore.remove_dir_all(path)
    }
}

fn entry(log_index: u64) -> LogEntry {
    LogEntry {
        term: Some(1),
        log_index: Some(log_index),
        pk: Some(format!("key{log_index}")),
        value: Some(vec![log_index as u8; 300 + (log_index as usize % 7) * 1000]),
        ts: Some(1000 + log_index),
        method_type: Some(MethodType::KPut as i32),
        ..LogEntry::default()
    }
}

/// Bytes of a binlog file holding `indexes`, closed with EOF when `close`.
fn file_bytes(indexes: std::ops::RangeInclusive<u64>, close: bool) -> Vec<u8> {
    let mut writer = LogWriter::new(Vec::new());
    for i in indexes {
        writer.add_entry(&entry(i)).expect("write");
    }
    if close {
        writer.add_eof().expect("eof");
    }
    writer.into_inner()
}

fn write_file(dir: &Path, index: u64, bytes: &[u8]) -> PathBuf {
    let path = dir.join(binlog_file_name(index));
    std::fs::write(&path, bytes).expect("write binlog");
    path
}

fn drain(tailer: &mut BinlogTailer, store: &impl LocalStore) -> Vec<u64> {
    let mut out = Vec::new();
    loop {
        match tailer.next(store).expect("read") {
            Some(tailed) => out.push(tailed.entry.log_index()),
            None => return out,
        }
    }
}

#[test]
fn reads_across_rotation_and_resumes_by_log_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(dir.path(), 0, &file_bytes(1..=3, true));
    write_file(dir.path(), 1, &file_bytes(4..=6, false));
    let mut tailer = BinlogTailer::new(dir.path().into(), 1, true);
    tailer.refresh(&FsStore).expect("refresh");
    assert_eq!(drain(&mut tailer, &FsStore), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(tailer.next_index(), 7);

    for from in [3, 4, 6] {
        let mut resumed = BinlogTailer::new(dir.path().into(), from, false);
        resumed.refresh(&FsStore).expect("refresh");
        assert_eq!(
            drain(&mut resumed, &FsStore),
            (from..=6).collect::<Vec<_>>(),
            "from {from}"
        );
    }
}

#[test]
fn a_file_released_between_the_listing_and_its_first_read_is_not_indexed() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(dir.path(), 1, &file_bytes(4..=6, false));
    // File 0 was listed, then the keeper released it before its first record
    // was read: the refresh goes on as if it had listed a moment later.
    let store = CountingStore {
        ghosts: vec![binlog_file_name(0)],
        ..CountingStore::default()
    };
    let mut tailer = BinlogTailer::new(dir.path().into(), 4, true);
    tailer
        .refresh(&store)
        .expect("a vanished file is no refresh failure");
    assert_eq!(tailer.first_available(), Some(4), "only file 1 is indexed");
    assert_eq!(drain(&mut tailer, &store), vec![4, 5, 6]);
}

#[test]
fn live_appends_are_read_once_and_new_files_after_refresh() {
    let dir = tempfile::tempdir().expect("tempdir");
    let full = file_bytes(1..=6, true);
    let path = write_file(dir.path(), 0, &full[..full.len() / 2]);
    let store = CountingStore::default();
    let mut tailer = BinlogTailer::new(dir.path().into(), 1, true);
    tailer.refresh(&store).expect("refresh");
    let first = drain(&mut tailer, &store);
    assert!(!first.is_empty() && first.len() < 6, "a prefix: {first:?}");

    std::fs::write(&path, &full).expect("the writer appends the rest");
    let mut all = first.clone();
    all.extend(drain(&mut tailer, &store));
    assert_eq!(all, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(
        drain(&mut tailer, &store),
        Vec::<u64>::new(),
        "after EOF and no newer file: caught up"
    );

    write_file(dir.path(), 1, &file_bytes(7..=8, false));
    assert_eq!(
        drain(&mut tailer, &store),
        Vec::<u64>::new(),
        "unseen before refresh"
    );
    tailer.refresh(&store).expect("refresh");
    assert_eq!(drain(&mut tailer, &store), vec![7, 8]);
    // Indexing read file 0's first half and file 1 once each (a read takes
    // everything there is); tailing read each byte once more, never from the start again.
    let second = file_bytes(7..=8, false).len() as u64;
    let expected = (full.len() / 2) as u64 + full.len() as u64 + 2 * second;
    assert_eq!(store.read.load(Ordering::Relaxed), expected);
}

#[test]
fn a_torn_tail_with_a_newer_file_is_skipped_past() {
    let dir = tempfile::tempdir().expect("tempdir");
    let unclosed = file_bytes(1..=3, false);
    write_file(dir.path(), 0, &unclosed[..unclosed.len() - 10]);
    write_file(dir.path(), 1, &file_bytes(3..=5, false));
    let mut tailer = BinlogTailer::new(dir.path().into(), 1, true);
    tailer.refresh(&FsStore).expect("refresh");
    assert_eq!(drain(&mut tailer, &FsStore), vec![1, 2, 3, 4, 5]);
}

#[test]
fn a_file_whose_first_record_is_incomplete_is_indexed_later() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = file_bytes(1..=2, false);
    let path = write_file(dir.path(), 0, &bytes[..5]);
    let mut tailer = BinlogTailer::new(dir.path().into(), 1, true);
    tailer.refresh(&FsStore).expect("refresh");
    assert!(tailer.parts().is_empty());
    assert_eq!(drain(&mut tailer, &FsStore), Vec::<u64>::new());
    std::fs::write(&path, &bytes).expect("complete");
    tailer.refresh(&FsStore).expect("refresh");
    assert_eq!(drain(&mut tailer, &FsStore), vec![1, 2]);
}

#[test]
fn a_deleted_start_is_an_error_not_a_skip() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(dir.path(), 3, &file_bytes(10..=12, false));
    let mut tailer = BinlogTailer::new(dir.path().into(), 4, true);
    tailer.refresh(&FsStore).expect("refresh");
    match tailer.next(&FsStore) {
        Err(TailError::Gone {
            needed: 4,
            first_available: 10,
        }) => {}
        other => panic!("expected Gone, got {other:?}"),
    }
}

#[test]
fn a_hole_between_files_is_an_error_not_a_skip() {
    // Files 1 and 2 were deleted by the tablet before they were linked.
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(dir.path(), 0, &file_bytes(1..=3, true));
    write_file(dir.path(), 3, &file_bytes(8..=9, false));
    let mut tailer = BinlogTailer::new(dir.path().into(), 2, true);
    tailer.refresh(&FsStore).expect("refresh");
    assert_eq!(
        tailer
            .next(&FsStore)
            .expect("2")
            .map(|t| t.entry.log_index()),
        Some(2)
    );
    assert_eq!(
        tailer
            .next(&FsStore)
            .expect("3")
            .map(|t| t.entry.log_index()),
        Some(3)
    );
    match tailer.next(&FsStore) {
        Err(TailError::Missing {
            needed: 4,
            last_missing: 7,
            ..
        }) => {}
        other => panic!("expected Missing, got {other:?}"),
    }
    assert_eq!(tailer.next_index(), 4, "nothing is skipped");
}

#[test]
fn corruption_in_the_middle_names_file_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = file_bytes(1..=6, true);
    let second_record_start = {
        let mut writer = LogWriter::new(Vec::new());
        writer.add_entry(&entry(1)).expect("write");
        writer.position()
    };
    bytes[second_record_start as usize + 20] ^= 0x01;
    let path = write_file(dir.path(), 0, &bytes);
    let mut tailer = BinlogTailer::new(dir.path().into(), 1, true);
    tailer.refresh(&FsStore).expect("refresh");
    assert!(matches!(tailer.next(&FsStore), Ok(Some(_))));
    let err = tailer.next(&FsStore).expect_err("corrupt record");
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(
        text.contains(&format!("byte {second_record_start}")),
        "{text}"
    );
    assert!(
        tailer.next(&FsStore).is_err(),
        "the error stays; nothing is skipped"
    );
}
