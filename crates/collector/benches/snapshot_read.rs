//! Builds an emulated table (default 1,000,000 rows: half in the snapshot,
//! half in the binlog after it; `BENCH_ROWS` overrides) and measures, in
//! rows/s and MB/s next to a plain sequential read (`cat`) of the same files:
//! the snapshot reader alone, the binlog `LogReader` alone, and the whole
//! collector read path (`prepare` with hard links, then packs of 1 MiB as
//! sent to SyncTool) split into its snapshot and binlog phases. Ends with the
//! process's peak resident memory.

use std::io::Read;
use std::path::Path;
use std::time::Instant;

use data_collector::prepare::{ReadContext, prepare};
use data_collector::snapshot::SnapshotReader;
use data_collector::tablet_client::DiskTablePaths;
use data_collector::workdir::WorkDir;
use sync_core::binlog::{EntryEvent, LogReader, ReadOptions};
use sync_core::point::Point;
use sync_core::proto::datasync::AddSyncTaskRequest;
use sync_infra::store::FsStore;
use tablet_emu::{EmulatedTable, TableEmulator, read_manifest};

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn cat(paths: &[std::path::PathBuf]) -> u64 {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    for p in paths {
        let Ok(mut f) = std::fs::File::open(p) else {
            continue;
        };
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n as u64;
        }
    }
    total
}

fn report(what: &str, rows: u64, bytes: u64, secs: f64) {
    println!(
        "{what:<28} {rows:>9} rows {:>8.1} MB  {:>10.0} rows/s {:>8.1} MB/s  ({secs:.3} s)",
        bytes as f64 / 1e6,
        rows as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: u64 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let mut table = EmulatedTable::demo(1, 1);
    table.key_cardinality = 10_000;
    table.binlog_max_bytes = 64 << 20;
    let t = Instant::now();
    let mut emu = TableEmulator::create(dir.path(), table.clone())?;
    emu.append_all(rows / 2)?;
    emu.snapshot_all(Some("202401010000".into()))?;
    emu.append_all(rows - rows / 2)?;
    drop(emu);
    println!("built {rows} rows in {:.1} s", t.elapsed().as_secs_f64());

    let snap = dir.path().join("1_0/snapshot");
    let name = read_manifest(&snap.join("MANIFEST"))?
        .and_then(|m| m.name)
        .ok_or("no MANIFEST")?;
    let cp = snap.join(name);
    let cp_files = files(&cp);
    let t = Instant::now();
    let bytes = cat(&cp_files);
    report("cat checkpoint files", 0, bytes, t.elapsed().as_secs_f64());
    let t = Instant::now();
    let reader = SnapshotReader::open(&cp, &table.table_meta(0)?)?;
    let (mut n, mut row_bytes) = (0u64, 0u64);
    for row in reader.iter(None, 0)? {
        let row = row?;
        n += 1;
        row_bytes += row.row.len() as u64;
    }
    report(
        "snapshot reader (row bytes)",
        n,
        row_bytes,
        t.elapsed().as_secs_f64(),
    );

    let binlogs = files(&dir.path().join("1_0/binlog"));
    let t = Instant::now();
    let bytes = cat(&binlogs);
    report("cat binlog files", 0, bytes, t.elapsed().as_secs_f64());
    let t = Instant::now();
    let (mut n, mut file_bytes) = (0u64, 0u64);
    let mut buf = vec![0u8; 1 << 20];
    for p in &binlogs {
        let mut f = std::fs::File::open(p)?;
        let mut reader = LogReader::new(0, ReadOptions::default());
        loop {
            let k = f.read(&mut buf)?;
            if k == 0 {
                break;
            }
            file_bytes += k as u64;
            reader.feed(&buf[..k]);
            while let Some(ev) = reader.next_entry()? {
                if let EntryEvent::Entry { .. } = ev {
                    n += 1;
                }
            }
        }
    }
    report("binlog LogReader", n, file_bytes, t.elapsed().as_secs_f64());

    collector_packs(dir.path(), &table)?;
    if let Some(peak) = peak_rss_kib() {
        println!("peak resident memory: {:.1} MiB", peak as f64 / 1024.0);
    }
    Ok(())
}

/// The collector's whole read path, as a mode-0 task runs it.
fn collector_packs(root: &Path, table: &EmulatedTable) -> Result<(), Box<dyn std::error::Error>> {
    let work = WorkDir::new(FsStore, root.join("collector"));
    let task = AddSyncTaskRequest {
        tid: Some(1),
        pid: Some(0),
        mode: Some(0),
        token: Some("bench".into()),
        ..AddSyncTaskRequest::default()
    };
    let partition = root.join("1_0");
    let ctx = ReadContext {
        meta: table.table_meta(0)?,
        paths: DiskTablePaths {
            snapshot_path: format!("{}/", partition.join("snapshot").display()),
            binlog_path: format!("{}/", partition.join("binlog").display()),
        },
        max_pack_size: 1 << 20,
        verify_crc: false,
        now_ms: table.base_time_ms,
    };
    let t = Instant::now();
    let mut prepared = prepare(&work, &task, &Point::start(), &ctx)?;
    let prepare_secs = t.elapsed().as_secs_f64();
    println!("prepare (links, overlap scan)  {prepare_secs:.3} s");
    let mut phase = [(0u64, 0u64, 0f64); 2]; // rows, bytes, seconds: snapshot, binlog
    loop {
        let t = Instant::now();
        let pack = prepared.packer.next_pack(work.store(), &prepared.decoder)?;
        let slot = usize::from(matches!(pack.start, Point::Binlog { .. }));
        phase[slot].0 += pack.count;
        phase[slot].1 += pack.rows.len() as u64;
        phase[slot].2 += t.elapsed().as_secs_f64();
        if pack.finished || pack.caught_up {
            break;
        }
    }
    report(
        "collector packs: snapshot",
        phase[0].0,
        phase[0].1,
        phase[0].2,
    );
    report(
        "collector packs: binlog",
        phase[1].0,
        phase[1].1,
        phase[1].2,
    );
    Ok(())
}

/// VmHWM of this process, in KiB (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
