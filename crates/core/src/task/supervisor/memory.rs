//! The global memory budget ([`Config::memory_limit`], `sink.memory_limit`):
//! the bytes of rows all parts hold (open segments and segments in flight)
//! are counted, packs with rows are answered `Busy` when they would take the
//! count past the limit, and from half the limit on the largest open
//! segments are sealed early, so that staging and committing them frees
//! memory before the limit is reached. The daemon also holds packs back
//! before they reach the supervisor while [`Supervisor::memory_full`] (flow
//! control on the collectors' streams), so `Busy` is the exception.
//!
//! The count is kept by the inputs that change it: a pack, a stage or commit
//! result, an assignment result change only their own part (the difference
//! is added); every other input recounts all parts.
//!
//! A FAILED part is left out of the count: it keeps a segment it could not
//! commit until it is retried or deleted, and that must not hold every other
//! part back.

use super::part::segment_action;
use super::{Config, Input, Out, Supervisor};
use crate::task::model::PartitionTask;

/// The bytes of `part` the budget counts.
fn counted(part: &PartitionTask) -> u64 {
    if part.status.is_terminal() {
        0
    } else {
        part.plan.held_bytes()
    }
}

impl Config {
    /// Three quarters of [`Config::memory_limit`]: from here on packs with
    /// rows are held back (the daemon's flow control).
    pub fn flow_control_bytes(&self) -> u64 {
        self.memory_limit.saturating_sub(self.memory_limit / 4)
    }
}

impl Supervisor {
    /// Bytes of rows held by all parts (open and in flight), against
    /// [`Config::memory_limit`].
    pub fn held_bytes(&self) -> u64 {
        self.held
    }

    /// Whether the daemon should hold packs back for now: three quarters of
    /// the memory limit are held (the rest absorbs packs already on their
    /// way; past the limit they are answered `Busy`).
    pub fn memory_full(&self) -> bool {
        self.held >= self.config.flow_control_bytes()
    }

    /// The part an input changes alone, if it changes one part only.
    pub(crate) fn touched_part(input: &Input) -> Option<(u32, u32)> {
        match input {
            Input::Pack(p) => Some((p.tid, p.pid)),
            Input::AssignResult { tid, pid, .. }
            | Input::AssignSent { tid, pid, .. }
            | Input::PartClaimed { tid, pid, .. }
            | Input::PartLost { tid, pid, .. } => Some((*tid, *pid)),
            Input::Staged { id, .. } | Input::Committed { id, .. } => Some((id.tid, id.pid)),
            _ => None,
        }
    }

    /// Bytes held by one part (0 when it does not exist).
    pub(crate) fn part_held(&self, (tid, pid): (u32, u32)) -> u64 {
        self.tables
            .get(&tid)
            .and_then(|t| t.partitions.get(&pid))
            .map_or(0, counted)
    }

    /// Bytes held by every part.
    pub(crate) fn recount_held(&self) -> u64 {
        self.tables
            .values()
            .flat_map(|t| t.partitions.values())
            .map(counted)
            .sum()
    }

    /// From half the limit on: seals the largest open segments of parts
    /// with nothing in flight until the open ones hold less than a quarter.
    pub(crate) fn relieve_memory(&mut self, now: u64, out: &mut Out) {
        let limit = self.config.memory_limit;
        if self.held < limit / 2 {
            return;
        }
        // Every part's open bytes count; only some parts can be sealed.
        let mut open_total = 0;
        let mut open: Vec<(u64, u32, u32)> = Vec::new();
        for (tid, t) in &self.tables {
            for (pid, p) in &t.partitions {
                open_total += p.plan.open_bytes();
                if p.can_seal_early() {
                    open.push((p.plan.open_bytes(), *tid, *pid));
                }
            }
        }
        open.sort_unstable_by(|a, b| b.cmp(a));
        for (bytes, tid, pid) in open {
            if open_total < limit / 4 {
                break;
            }
            let Some(part) = self.part_mut(tid, pid) else {
                continue;
            };
            let action = part.plan.roll(&part.accepted, now);
            out.actions.push(segment_action(action));
            open_total -= bytes;
        }
    }
}
