//! When a run is done, under the strict contract (`FAULTS.md` §5): nobody
//! retries a FAILED part; every mode-0 task is gone (its collectors' links
//! with it) and every continuous part RUNNING with all its rows committed —
//! on some SyncTool, when a second one ran — except a part whose data a fault
//! really destroyed, which may end FAILED with `data_gone`. A part FAILED for
//! anything else fails the run at once. Also what a stuck run shows, and the
//! final check of the output.

use std::collections::BTreeMap;

use sync_core::point::Point;
use sync_core::task::Mode;
use sync_proto::datasync::TaskStatusResponse;

use super::World;
use crate::check::{self, Expect, PartDiff};
use crate::clock::EPOCH_MS;
use crate::collector;

/// How a part stands across the SyncTools' status answers.
#[derive(Default, Debug)]
struct PartState {
    /// Some SyncTool shows it RUNNING with this many rows committed.
    running_rows: Vec<u64>,
    /// Some SyncTool shows it SUCCESS.
    success: bool,
    /// Some SyncTool shows it FAILED: (kind, reason).
    failed: Option<(String, String)>,
    /// The tablet host it was last led from (as the status shows).
    tablet: Option<usize>,
    /// The collector that holds it, or reported its failure.
    collector: String,
}

impl World<'_> {
    fn expected_count(&mut self, table: usize, pid: u32, puts: u64) -> Result<u64, String> {
        let t = &self.tables[table];
        let key = (t.spec.tid, pid, puts);
        if let Some(n) = self.expected_counts.get(&key) {
            return Ok(*n);
        }
        let n = t.expected(pid, puts)?.len() as u64;
        self.expected_counts.insert(key, n);
        Ok(n)
    }

    /// The newest status of every SyncTool, if each answered since the heal.
    fn statuses(&self) -> Option<Vec<TaskStatusResponse>> {
        let mut out = Vec::new();
        for admin in std::iter::once(&self.admin).chain(self.second.as_ref()) {
            let (at, status) = admin.lock().status.clone()?;
            if at < self.check_from {
                return None;
            }
            out.push(status);
        }
        Some(out)
    }

    /// Whether a FAILED part is allowed to be FAILED: `Ok(why)` or `Err(why not)`.
    fn failure_allowed(
        &self,
        tid: u32,
        pid: u32,
        kind: &str,
        state: &PartState,
    ) -> Result<String, String> {
        match kind {
            "data_gone" => {
                let tablet = state.tablet.ok_or("its leader is unknown")?;
                let reporter = self
                    .collectors
                    .iter()
                    .find(|w| w.endpoint() == state.collector)
                    .and_then(|w| self.work_dirs.iter().find(|(h, _)| *h == w.host()))
                    .ok_or_else(|| {
                        format!("the reporting collector `{}` is unknown", state.collector)
                    })?;
                let committed = self
                    .committed_points(tid)?
                    .get(&pid)
                    .cloned()
                    .unwrap_or_else(Point::start);
                self.links
                    .judge_data_gone(tablet, tid, pid, &committed, reporter)
            }
            // Two SyncTools writing one destination without fencing: the
            // loser of a commit stops (with fencing the newer claim wins
            // before it comes to a conflict).
            "commit_conflict" if self.second.is_some() && !self.scn.fencing => {
                Ok("a second SyncTool committed this segment first".into())
            }
            _ => Err("no fault of the run excuses it".into()),
        }
    }

    fn part_states(&self, statuses: &[TaskStatusResponse]) -> BTreeMap<(u32, u32), PartState> {
        let mut parts: BTreeMap<(u32, u32), PartState> = BTreeMap::new();
        for status in statuses {
            for t in &status.task {
                let Some(p) = t.progress.as_ref() else {
                    continue;
                };
                let state = parts.entry((p.tid(), p.pid())).or_default();
                state.collector = t.data_collector().to_string();
                state.tablet = p
                    .tablet_endpoint()
                    .strip_prefix("tab")
                    .and_then(|rest| rest.split(':').next())
                    .and_then(|n| n.parse().ok());
                match t.status() {
                    "RUNNING" => state.running_rows.push(t.count()),
                    "SUCCESS" => state.success = true,
                    "FAILED" => {
                        state.failed =
                            Some((t.failure_kind().to_string(), t.failure_reason().to_string()))
                    }
                    _ => {}
                }
            }
        }
        parts
    }

    pub(super) fn converged(&mut self) -> Result<bool, String> {
        let Some(statuses) = self.statuses() else {
            return Ok(false);
        };
        let parts = self.part_states(&statuses);
        for ((tid, pid), state) in &parts {
            let Some((kind, reason)) = &state.failed else {
                continue;
            };
            match self.failure_allowed(*tid, *pid, kind, state) {
                Err(why_not) => {
                    return Err(format!(
                        "t{tid}/p{pid} is FAILED [{kind}] although no fault destroyed its data \
                         ({why_not}): {reason}"
                    ));
                }
                Ok(why) => {
                    if self.failed_for_good.insert((*tid, *pid)) {
                        self.log(format!("t{tid}/p{pid} FAILED for good [{kind}]: {why}"));
                    }
                }
            }
        }
        for k in 0..self.tables.len() {
            let tid = self.tables[k].spec.tid;
            let counts = self.tables[k].counts()?;
            if self.tables[k].mode == Mode::Full {
                let listed = parts.keys().any(|(t, _)| *t == tid);
                let settled = parts
                    .iter()
                    .filter(|((t, _), _)| *t == tid)
                    .all(|(_, s)| s.success || s.failed.is_some());
                let any_failed = parts
                    .iter()
                    .any(|((t, _), s)| *t == tid && s.failed.is_some());
                if listed && !(settled && any_failed) {
                    return Ok(false);
                }
                if !listed && !self.links_gone(tid) {
                    return Ok(false);
                }
                continue;
            }
            for (pid, puts) in counts.into_iter().enumerate() {
                let pid = pid as u32;
                let state = parts.get(&(tid, pid));
                // Allowed to be FAILED (checked above): nothing more comes.
                let done_failing = state.is_some_and(|s| s.failed.is_some());
                if done_failing {
                    continue;
                }
                let want = self.expected_count(k, pid, puts)?;
                if !state.is_some_and(|s| s.running_rows.contains(&want)) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Whether no collector still holds links of table `tid`'s parts.
    fn links_gone(&self, tid: u32) -> bool {
        let prefix = format!("{tid}-");
        self.work_dirs.iter().all(|(host, dir)| {
            self.lost.contains(host)
                || std::fs::read_dir(dir).map_or(true, |entries| {
                    !entries
                        .flatten()
                        .any(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                })
        })
    }

    /// One line per part of the last status: `t10/p0 RUNNING 120 rows on tab0:7001`.
    pub(super) fn status_lines(&self) -> Vec<String> {
        let Some((_, status)) = self.admin.lock().status.clone() else {
            return Vec::new();
        };
        status
            .task
            .iter()
            .map(|t| {
                let p = t.progress.clone().unwrap_or_default();
                format!(
                    "t{}/p{} {} {} rows on {}",
                    p.tid(),
                    p.pid(),
                    t.status(),
                    t.count(),
                    t.data_collector()
                )
            })
            .collect()
    }

    pub(super) fn progress_report(&mut self) -> String {
        let mut out = Vec::new();
        let admins: Vec<_> = std::iter::once(self.admin.clone())
            .chain(self.second.clone())
            .collect();
        for (i, admin) in admins.iter().enumerate() {
            match admin.lock().status.clone() {
                None => out.push(format!("SyncTool {i}: no TaskStatus answer yet")),
                Some((at, status)) => {
                    out.push(format!(
                        "SyncTool {i} status at {}ms:",
                        at.saturating_sub(EPOCH_MS)
                    ));
                    for t in &status.task {
                        let p = t.progress.clone().unwrap_or_default();
                        let committed = p
                            .sync_point
                            .as_ref()
                            .and_then(|sp| Point::from_proto(sp).ok())
                            .map_or_else(|| "?".to_string(), |pt| pt.to_string());
                        out.push(format!(
                            "t{}/p{} {} rows {} committed at {committed} token {} on {} {} {} error [{}] {}",
                            p.tid(),
                            p.pid(),
                            t.status(),
                            t.count(),
                            p.token(),
                            t.data_collector(),
                            t.failure_kind(),
                            t.failure_reason(),
                            t.error_kind(),
                            t.last_error(),
                        ));
                    }
                }
            }
        }
        for k in 0..self.tables.len() {
            let tid = self.tables[k].spec.tid;
            if let Ok(counts) = self.tables[k].counts() {
                let mut want = Vec::new();
                for (pid, puts) in counts.into_iter().enumerate() {
                    want.push(self.expected_count(k, pid as u32, puts).unwrap_or(0));
                }
                out.push(format!("table {tid} expects {want:?} rows"));
            }
        }
        if !self.lost.is_empty() {
            out.push(format!("lost: {:?}", self.lost));
        }
        if !self.released_early.is_empty() {
            out.push(format!("released early: {:?}", self.released_early));
        }
        out.extend(collector::describe(&self.board));
        out.join("; ")
    }

    pub(super) fn final_check(&mut self) -> Result<(usize, u64), String> {
        let (committed, mut problems) = check::committed(&self.durable, &self.tids())?;
        // A collector must keep its links until their rows are committed.
        for ((tid, pid), why) in &self.released_early {
            problems.push(format!(
                "t{tid}/p{pid}: binlog the part still needed was released early: {why}"
            ));
        }
        let statuses = self.statuses().unwrap_or_default();
        let parts = self.part_states(&statuses);
        let mut total = 0;
        for k in 0..self.tables.len() {
            let tid = self.tables[k].spec.tid;
            let points = self.committed_points(tid)?;
            let counts = self.tables[k].counts()?;
            for (pid, puts) in counts.into_iter().enumerate() {
                let pid = pid as u32;
                let t = &self.tables[k];
                let rows = committed.get(&(tid, pid)).map_or(&[][..], Vec::as_slice);
                let failed_for_good = parts
                    .get(&(tid, pid))
                    .is_some_and(|s| s.failed.is_some() && s.running_rows.is_empty());
                let expect = if failed_for_good {
                    Expect::UpTo {
                        end: points.get(&pid).cloned().unwrap_or_else(Point::start),
                    }
                } else if t.mode == Mode::Full {
                    Expect::Prefix {
                        min: t.rows_at_create.get(pid as usize).copied().unwrap_or(0),
                    }
                } else {
                    Expect::All
                };
                let diff: PartDiff = check::compare(t, pid, puts, rows, expect.clone())?;
                total += diff.committed;
                if !diff.is_ok() {
                    problems.push(format!(
                        "table {tid} pid {pid} (mode {}, {expect:?}): {diff}",
                        t.mode.to_proto() as i32
                    ));
                }
            }
        }
        if problems.is_empty() {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            std::hash::Hash::hash(&committed, &mut hasher);
            let digest = std::hash::Hasher::finish(&hasher);
            self.log(format!(
                "check passed: {total} rows exactly once (digest {digest:016x})"
            ));
            Ok((total, digest))
        } else {
            Err(problems.join("; "))
        }
    }
}
