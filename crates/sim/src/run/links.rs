//! Which collector holds (or ever held) a hard link to which tablet binlog
//! file, and which files each tablet had, so the checker can tell data a
//! fault really destroyed from data the product should have kept
//! (`FAULTS.md` §2 and §5).
//!
//! The test loop samples every collector's work dir and every tablet's
//! binlog files every [`SAMPLE_EVERY_MS`] of simulated time. Two judgements
//! use it:
//!
//! * [`LinkWatch::judge_deletion`], when the tablet deletes binlog files: a
//!   file that still holds entries a live part needs (at or after its
//!   committed point in the sink), that a collector linked and no collector
//!   holds any more, was **released early** — the product broke its contract
//!   (a failed run, whatever happens next);
//! * [`LinkWatch::judge_data_gone`], when a part is seen FAILED with
//!   `data_gone`: the entries it needs (from its committed point on) must
//!   really be out of reach on its leader's host — deleted from the tablet
//!   (or never copied to it by a leader move) and not linked by any
//!   collector on that host that is not lost for good — or the FAILED is a
//!   product bug.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sync_core::point::Point;

/// How often the work dirs and tablets are sampled (simulated ms).
pub const SAMPLE_EVERY_MS: u64 = 100;

/// A file's identity: (device, inode, file name). The name is part of it
/// because tmpfs reuses the inode numbers of deleted files; a link keeps it.
pub type Ident = (u64, u64, String);

/// The identity of the file at `path`.
pub fn ident_of(path: &Path) -> Option<Ident> {
    ident(path)
}

fn ident(path: &Path) -> Option<Ident> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino(), name))
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

/// The identities of the binlog files linked in a work dir.
fn linked(dir: &Path) -> BTreeSet<Ident> {
    let mut files = Vec::new();
    files_under(dir, &mut files);
    files
        .into_iter()
        .filter(|p| {
            p.parent()
                .and_then(Path::file_name)
                .is_some_and(|d| d == "binlog")
                && p.extension().is_some_and(|e| e == "log")
        })
        .filter_map(|p| ident(&p))
        .collect()
}

/// The first log index a part still needs, given its committed point
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

/// A binlog file a tablet has had (or a range it never had).
#[derive(Debug, Clone)]
struct TabletFile {
    /// Its identity; `None` for the range a leader move did not copy.
    ident: Option<Ident>,
    /// Its path on the tablet.
    path: PathBuf,
    /// The last log index it holds (as last seen).
    last_index: u64,
    /// Whether the tablet still has it.
    present: bool,
}

/// A part's files on one tablet: (tablet, tid, pid).
type PartOnTablet = (usize, u32, u32);

/// The hard links and tablet files seen so far.
#[derive(Default)]
pub struct LinkWatch {
    /// Per file identity, the collector hosts that linked it.
    ever: BTreeMap<Ident, BTreeSet<String>>,
    /// Per part and tablet, every binlog file it had, by file name.
    tablets: BTreeMap<PartOnTablet, BTreeMap<String, TabletFile>>,
    next_sample_ms: u64,
}

/// Where the collectors and tablets keep their files.
pub struct Places {
    /// Each collector's host and work dir.
    pub work_dirs: Vec<(String, PathBuf)>,
    /// Each tablet's current binlog files: (tablet, tid, pid, path, last index).
    pub tablet_files: Vec<(usize, u32, u32, PathBuf, u64)>,
}

impl LinkWatch {
    /// Whether a sample is due at `now_ms`.
    pub fn due(&self, now_ms: u64) -> bool {
        now_ms >= self.next_sample_ms
    }

    /// Records the links in every work dir and the files on every tablet.
    pub fn sample(&mut self, now_ms: u64, places: &Places) {
        self.next_sample_ms = now_ms + SAMPLE_EVERY_MS;
        for (host, dir) in &places.work_dirs {
            for id in linked(dir) {
                self.ever.entry(id).or_default().insert(host.clone());
            }
        }
        for (tablet, tid, pid, path, last) in &places.tablet_files {
            let Some(id) = ident(path) else { continue };
            let name = id.2.clone();
            let files = self.tablets.entry((*tablet, *tid, *pid)).or_default();
            match files.get_mut(&name) {
                Some(f) if f.ident.as_ref() == Some(&id) => {
                    f.last_index = f.last_index.max(*last);
                    f.present = true;
                }
                _ => {
                    files.insert(
                        name,
                        TabletFile {
                            ident: Some(id),
                            path: path.clone(),
                            last_index: *last,
                            present: true,
                        },
                    );
                }
            }
        }
        for files in self.tablets.values_mut() {
            for f in files.values_mut() {
                if f.ident.is_some() {
                    f.present = f.path.exists();
                }
            }
        }
    }

    /// A leader move to `tablet`: entries before `first_copied` were never
    /// on it (the tablet it was copied from had deleted them).
    pub fn moved(&mut self, tablet: usize, tid: u32, pid: u32, first_copied: u64) {
        if first_copied <= 1 {
            return;
        }
        self.tablets.entry((tablet, tid, pid)).or_default().insert(
            String::from("<not copied>"),
            TabletFile {
                ident: None,
                path: PathBuf::from(format!("<entries before {first_copied} were not copied>")),
                last_index: first_copied - 1,
                present: false,
            },
        );
    }

    fn holders(
        ident: &Ident,
        work_dirs: &[(String, PathBuf)],
        lost: &BTreeSet<String>,
    ) -> Vec<String> {
        work_dirs
            .iter()
            .filter(|(host, dir)| !lost.contains(host) && linked(dir).contains(ident))
            .map(|(host, _)| host.clone())
            .collect()
    }

    /// Judges the deletion of the tablet file at `path` (identity `ident`,
    /// entries up to `last_index`) for a live part committed at `committed`:
    /// `Some(why)` if a collector released it too early.
    pub fn judge_deletion(
        &mut self,
        ident: &Ident,
        last_index: u64,
        committed: &Point,
        places: &Places,
        lost: &BTreeSet<String>,
    ) -> Option<String> {
        let needed = needed_from(committed).is_some_and(|from| last_index >= from);
        if !needed {
            return None;
        }
        self.sample(0, places);
        if !Self::holders(ident, &places.work_dirs, lost).is_empty() {
            return None;
        }
        let ever: Vec<&String> = self
            .ever
            .get(ident)
            .into_iter()
            .flatten()
            .filter(|h| !lost.contains(*h))
            .collect();
        (!ever.is_empty()).then(|| {
            format!(
                "{} (entries to {last_index}) was linked by {ever:?} and released while the \
                 part's committed point was {committed}",
                ident.2
            )
        })
    }

    /// Judges a part FAILED with `data_gone` on tablet `leader`, committed at
    /// `committed`, reported by collector `reporter` (host, work dir):
    /// `Ok(why)` when the data it needs really is out of that collector's
    /// reach — deleted from the tablet (or never copied to it by a leader
    /// move) and not linked by it, nor linked by it earlier and let go —
    /// else `Err(why not)`.
    pub fn judge_data_gone(
        &self,
        leader: usize,
        tid: u32,
        pid: u32,
        committed: &Point,
        reporter: &(String, PathBuf),
    ) -> Result<String, String> {
        let Some(from) = needed_from(committed) else {
            return Err(format!(
                "committed at {committed}, it may start from any snapshot of the tablet"
            ));
        };
        let held = linked(&reporter.1);
        let unheld: Vec<&TabletFile> = self
            .tablets
            .get(&(leader, tid, pid))
            .into_iter()
            .flat_map(|f| f.values())
            .filter(|f| !f.present && f.last_index >= from)
            .filter(|f| f.ident.as_ref().is_none_or(|id| !held.contains(id)))
            .collect();
        if unheld.is_empty() {
            return Err(format!(
                "the leader tablet {leader} or {}'s links still hold every binlog entry from {from} on",
                reporter.0
            ));
        }
        for f in &unheld {
            let Some(id) = &f.ident else { continue };
            if self
                .ever
                .get(id)
                .is_some_and(|hosts| hosts.contains(&reporter.0))
            {
                return Err(format!(
                    "{} (entries to {}) was linked by {} and released before its rows were committed",
                    f.path.display(),
                    f.last_index,
                    reporter.0
                ));
            }
        }
        Ok(format!(
            "entries from {from} on were deleted (or never copied) before {} linked them: {:?}",
            reporter.0,
            unheld
                .iter()
                .map(|f| f.path.display().to_string())
                .collect::<Vec<_>>()
        ))
    }
}
