//! Which collector holds (or ever held) a hard link to which tablet file, so
//! the checker can tell a binlog GC that really destroyed data from one the
//! product should have survived (`FAULTS.md` §2 and §5).
//!
//! The test loop samples every collector's work dir every
//! [`SAMPLE_EVERY_MS`] of simulated time and records, per inode, the hosts
//! that linked it. When the tablet deletes binlog files, each deleted file
//! that still holds entries a partition needs (at or after the partition's
//! committed point in the sink) is judged:
//!
//! * a collector that is not lost for good holds it now: nothing is
//!   destroyed (the part must heal);
//! * no such collector ever linked it: it was deleted before any collector
//!   could link it — the data is gone for real, and the part may end FAILED
//!   with `data_gone` (its output an exact prefix);
//! * one linked it and let it go before its rows were committed: the
//!   product broke its contract; the part must not fail for it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sync_core::point::Point;

/// How often the work dirs are sampled (simulated ms).
pub const SAMPLE_EVERY_MS: u64 = 100;

/// A file's identity.
type Inode = (u64, u64);

fn inode(path: &Path) -> Option<Inode> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Every regular file under `dir`, recursively.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => files_under(&path, out),
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
}

/// A tablet binlog file about to be deleted.
#[derive(Debug, Clone)]
pub struct TabletFile {
    /// Table id.
    pub tid: u32,
    /// Partition id.
    pub pid: u32,
    /// Its path on the tablet.
    pub path: PathBuf,
    /// Its identity.
    pub inode: Inode,
    /// The last log index it holds.
    pub last_index: u64,
}

impl TabletFile {
    /// The file at `path` holding entries up to `last_index`.
    pub fn new(tid: u32, pid: u32, path: PathBuf, last_index: u64) -> Option<Self> {
        Some(TabletFile {
            tid,
            pid,
            inode: inode(&path)?,
            path,
            last_index,
        })
    }
}

/// What a deletion did to a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing it needs is gone.
    Safe,
    /// Data it needs was deleted before any collector could link it.
    Destroyed(String),
    /// A collector linked data it needs and released it before it was committed.
    ReleasedEarly(String),
}

/// The first log index a partition still needs, given its committed point
/// (`None`: none from the binlog yet — a part that committed nothing may
/// start from any snapshot).
pub fn needed_from(committed: &Point) -> Option<u64> {
    match committed {
        Point::Binlog { offset } => Some(*offset),
        Point::Snapshot(s) => match (s.snapshot_offset, s.catch_up_from) {
            (Some(offset), from) => Some(from.map_or(offset + 1, |f| f.min(offset + 1))),
            (None, Some(from)) => Some(from),
            (None, None) => None,
        },
    }
}

/// The hard links seen so far.
#[derive(Default)]
pub struct LinkWatch {
    ever: HashMap<Inode, BTreeSet<String>>,
    next_sample_ms: u64,
}

impl LinkWatch {
    /// Records the links in every collector's work dir if a sample is due.
    pub fn sample(&mut self, now_ms: u64, work_dirs: &[(String, PathBuf)]) {
        if now_ms < self.next_sample_ms {
            return;
        }
        self.next_sample_ms = now_ms + SAMPLE_EVERY_MS;
        self.sample_now(work_dirs);
    }

    fn sample_now(&mut self, work_dirs: &[(String, PathBuf)]) {
        for (host, dir) in work_dirs {
            for (ino, _) in linked(dir) {
                self.ever.entry(ino).or_default().insert(host.clone());
            }
        }
    }

    /// Judges the deletion of `file` for a partition whose committed point
    /// in the sink is `committed`; `lost` are the collectors gone for good.
    pub fn judge(
        &mut self,
        file: &TabletFile,
        committed: &Point,
        work_dirs: &[(String, PathBuf)],
        lost: &BTreeSet<String>,
    ) -> Verdict {
        let needed = needed_from(committed).is_some_and(|from| file.last_index >= from);
        if !needed {
            return Verdict::Safe;
        }
        // The links as they are at the deletion count too.
        self.sample_now(work_dirs);
        let holders: BTreeSet<String> = work_dirs
            .iter()
            .filter(|(host, dir)| {
                !lost.contains(host) && linked(dir).iter().any(|(ino, _)| *ino == file.inode)
            })
            .map(|(host, _)| host.clone())
            .collect();
        if !holders.is_empty() {
            return Verdict::Safe;
        }
        let name = file.path.display();
        let ever: Vec<&String> = self
            .ever
            .get(&file.inode)
            .into_iter()
            .flatten()
            .filter(|h| !lost.contains(*h))
            .collect();
        if ever.is_empty() {
            Verdict::Destroyed(format!(
                "{name} (entries to {}) deleted before any collector linked it; committed {committed}",
                file.last_index
            ))
        } else {
            Verdict::ReleasedEarly(format!(
                "{name} (entries to {}) was linked by {ever:?} and released while the part's \
                 committed point was {committed}",
                file.last_index
            ))
        }
    }
}

/// The (inode, path) of every file linked in a work dir.
fn linked(dir: &Path) -> Vec<(Inode, PathBuf)> {
    let mut files = Vec::new();
    files_under(dir, &mut files);
    files
        .into_iter()
        .filter_map(|p| inode(&p).map(|i| (i, p)))
        .collect()
}

/// Per partition, the worst verdict so far, with why.
#[derive(Default, Debug)]
pub struct Verdicts {
    /// Parts whose data was destroyed by a fault (they may end FAILED).
    pub destroyed: BTreeMap<(u32, u32), String>,
    /// Parts whose collector released data too early (a product bug).
    pub released_early: BTreeMap<(u32, u32), String>,
}

impl Verdicts {
    /// Records a verdict for `part`.
    pub fn record(&mut self, part: (u32, u32), verdict: Verdict) {
        match verdict {
            Verdict::Safe => {}
            Verdict::Destroyed(why) => {
                self.destroyed.entry(part).or_insert(why);
            }
            Verdict::ReleasedEarly(why) => {
                self.released_early.entry(part).or_insert(why);
            }
        }
    }
}
