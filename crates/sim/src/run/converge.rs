//! When a run is done (every mode-0 task gone, every continuous part RUNNING
//! with all its rows committed, FAILED parts retried like an operator would),
//! what a stuck run shows, and the final check of the output.

use std::collections::BTreeSet;

use sync_core::task::Mode;

use super::World;
use crate::admin::Command;
use crate::check::{self, Expect, PartDiff};
use crate::clock::EPOCH_MS;
use crate::collector;

/// A FAILED reason saying the data the part needs is gone from its host (a
/// hand-off error): retrying cannot help, and the output must stop short
/// without a gap or a duplicate.
fn is_data_gone(reason: &str) -> bool {
    reason.contains("is needed but the oldest available is")
        || reason.contains("the host has no snapshot")
        || reason.contains("cannot be continued exactly")
        || reason.contains("are missing: the next entry")
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

    pub(super) fn converged(&mut self, next_retry: &mut u64) -> Result<bool, String> {
        let now = self.now();
        let status = self.admin.lock().status.clone();
        let Some((at, status)) = status else {
            return Ok(false);
        };
        if at < self.check_from {
            return Ok(false);
        }
        let failed: Vec<(u32, u32, String)> = status
            .task
            .iter()
            .filter(|t| t.status() == "FAILED")
            .filter_map(|t| {
                let p = t.progress.as_ref()?;
                Some((p.tid(), p.pid(), t.failure_reason().to_string()))
            })
            .collect();
        for (tid, pid, reason) in &failed {
            let after_retry = self.last_retry.is_some_and(|r| at > r + 1_000);
            if is_data_gone(reason) && after_retry && self.gone.insert((*tid, *pid)) {
                self.log(format!("t{tid}/p{pid} FAILED for good: {reason}"));
            }
        }
        let retry: BTreeSet<u32> = failed
            .iter()
            .filter(|(tid, pid, _)| !self.gone.contains(&(*tid, *pid)))
            .map(|(tid, _, _)| *tid)
            .collect();
        if !retry.is_empty() && now >= *next_retry {
            *next_retry = now + 2_000;
            self.last_retry = Some(now);
            for tid in retry {
                let Some(k) = self.tables.iter().position(|t| t.spec.tid == tid) else {
                    continue;
                };
                let reasons: Vec<&str> = failed
                    .iter()
                    .filter(|(t, _, _)| *t == tid)
                    .map(|(_, _, r)| r.as_str())
                    .collect();
                if reasons
                    .iter()
                    .any(|r| r.contains("a newer snapshot is needed"))
                {
                    // What the error tells the operator to do.
                    self.tables[k].snapshot()?;
                    self.log(format!(
                        "new snapshot of table {tid} (asked for by a FAILED part)"
                    ));
                }
                let (db, table) = (
                    self.tables[k].spec.db.clone(),
                    self.tables[k].spec.name.clone(),
                );
                self.log(format!("retry FAILED parts of {table}: {reasons:?}"));
                self.admin.send(Command::Retry { db, table });
            }
        }
        for k in 0..self.tables.len() {
            let tid = self.tables[k].spec.tid;
            let parts: Vec<_> = status
                .task
                .iter()
                .filter(|t| t.progress.as_ref().and_then(|p| p.tid) == Some(tid))
                .collect();
            let gone = |pid: u32| self.gone.contains(&(tid, pid));
            if self.tables[k].mode == Mode::Full {
                // Gone from the status once every part is SUCCESS, unless a
                // part is FAILED for good.
                let any_gone = parts
                    .iter()
                    .any(|t| gone(t.progress.as_ref().map_or(0, |p| p.pid())));
                let settled = parts.iter().all(|t| {
                    let pid = t.progress.as_ref().map_or(0, |p| p.pid());
                    gone(pid) || t.status() == "SUCCESS"
                });
                let done = parts.is_empty() || (any_gone && settled);
                if !done {
                    return Ok(false);
                }
                continue;
            }
            let counts = self.tables[k].counts()?;
            for (pid, puts) in counts.into_iter().enumerate() {
                let pid = pid as u32;
                if self.gone.contains(&(tid, pid)) {
                    continue;
                }
                let want = self.expected_count(k, pid, puts)?;
                let done = parts.iter().any(|t| {
                    t.progress.as_ref().and_then(|p| p.pid) == Some(pid)
                        && t.status() == "RUNNING"
                        && t.count() == want
                });
                if !done {
                    return Ok(false);
                }
            }
        }
        Ok(true)
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
        match self.admin.lock().status.clone() {
            None => out.push("no TaskStatus answer yet".to_string()),
            Some((at, status)) => {
                out.push(format!("status at {}ms:", at.saturating_sub(EPOCH_MS)));
                for t in &status.task {
                    let p = t.progress.clone().unwrap_or_default();
                    let committed = p
                        .sync_point
                        .as_ref()
                        .and_then(|sp| sync_core::point::Point::from_proto(sp).ok())
                        .map_or_else(|| "?".to_string(), |pt| pt.to_string());
                    out.push(format!(
                        "t{}/p{} {} rows {} committed at {committed} token {} on {} {}",
                        p.tid(),
                        p.pid(),
                        t.status(),
                        t.count(),
                        p.token(),
                        t.data_collector(),
                        t.failure_reason()
                    ));
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
        out.extend(collector::describe(&self.board));
        out.join("; ")
    }

    pub(super) fn final_check(&mut self) -> Result<(usize, u64), String> {
        let (committed, mut problems) = check::committed(&self.durable, &self.tids())?;
        let kind = self.durable.kind();
        let mut total = 0;
        for t in &mut self.tables {
            let counts = t.counts()?;
            for (pid, puts) in counts.into_iter().enumerate() {
                let pid = pid as u32;
                let rows = committed
                    .get(&(t.spec.tid, pid))
                    .map_or(&[][..], Vec::as_slice);
                let expect = if self.gone.contains(&(t.spec.tid, pid)) {
                    Expect::Prefix { min: 0 }
                } else if t.mode == Mode::Full {
                    Expect::Prefix {
                        min: t.rows_at_create.get(pid as usize).copied().unwrap_or(0),
                    }
                } else {
                    Expect::All
                };
                let diff: PartDiff = check::compare(t, kind, pid, puts, rows, expect)?;
                total += diff.committed;
                if !diff.is_ok() {
                    problems.push(format!(
                        "table {} pid {} (mode {}): {diff}",
                        t.spec.tid,
                        pid,
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
