//! The supervisor: every decision of SyncTool as a deterministic state machine.
//!
//! The daemon calls [`Supervisor::handle`] with the current time and one
//! [`Input`]; it gets back the [`Action`]s to carry out, in order, and asks
//! [`Supervisor::next_deadline`] when it must call again with [`Input::Tick`]
//! (quinn-proto's `poll_timeout`). Nothing here reads a clock, does I/O or
//! draws randomness that is not seeded by the daemon (see
//! [`crate::task::assign::TokenSource`]).
//!
//! Modules: [`io`] (inputs, actions and their values), `admin` (create,
//! delete, retry, metadata, membership), `packs` (the pack rules), `part`
//! (per-part transitions: assignment rounds, reassigning, failing, rolling,
//! segment results, time), `memory` (the global memory budget).
//!
//! # Transitions of a partition task
//!
//! | from | event | to |
//! |---|---|---|
//! | (none) | create (a collector on every leader host) | INIT, offered |
//! | INIT / REASSIGNING | first accepted pack with the current token | RUNNING |
//! | REASSIGNING | the collector confirms the assignment | RUNNING |
//! | INIT / RUNNING | silent for `timeout_ms`, its collector left, or its leader moved | REASSIGNING |
//! | INIT / REASSIGNING | no live collector on the host took it | REASSIGNING, next round after a backoff (transient) |
//! | any but SUCCESS / FAILED | a permanent error (the collector cannot read for good, a permanent sink error) | FAILED |
//! | any but SUCCESS / FAILED | a transient error lasting longer than `fail_after_ms` (if set) | FAILED |
//! | RUNNING (mode 0) | a `finished` pack, then its data committed | SUCCESS |
//! | FAILED | retry requested | REASSIGNING |
//! | all parts SUCCESS | — | the table task is removed |
//! | any | delete | removed |
//! | any, with [`Config::fencing`] | created or recovered | claimed first ([`Action::ClaimPart`]), assigned once [`Input::PartClaimed`] gives its epoch |
//! | any, with fencing | [`Input::PartLost`] (another SyncTool claimed it) | left alone: no assignment, stage or commit here (`owned_elsewhere`) |
//!
//! Transient errors (`crate::task::failure`) never make a part FAILED by
//! themselves: they are retried with exponential backoff ([`Config::backoff`])
//! and shown in the status with the time they started, until they heal.
//!
//! A reassign gets a new token and starts from the **committed** point: the
//! open (accepted but unsealed) rows are dropped, and if a sealed segment is in
//! flight the assignment waits until it is committed.
//!
//! # Packs
//!
//! A pack is accepted iff its table and part exist, the part is INIT, RUNNING
//! or REASSIGNING, its token is the current one and its start point equals the
//! accepted point exactly (field presence included). Otherwise:
//!
//! * unknown table or part: drop (`kDropDeleted`); part SUCCESS: drop
//!   (`kDropFinished`); part FAILED: stop, keep the links (`kDropFailed`); an
//!   old token: stop, keep the links from the committed point
//!   (`kDropReassigned`); the current holder is not affected;
//! * the exact duplicate of the last accepted pack (same token, start and
//!   next): acknowledged as accepted without taking its rows again (the reply
//!   to the first copy was lost); not a sign of life;
//! * any other start point with the current token (an old duplicate, or a
//!   collector that lost its place): rejected, not a sign of life, with the
//!   accepted point as the point to resume from;
//! * a pack with rows whose next point equals its start: malformed;
//! * too many bytes held for the part (the sink is slow), by all parts
//!   together past [`Config::memory_limit`], or a part whose segment in
//!   flight is failing (its destination is down, so it must not fill the
//!   shared budget): `Busy`, not taken, counts as a sign of life; the
//!   collector retries the same pack;
//! * a pack without rows that says `preparing`: a sign of life, shown;
//! * a pack without rows carrying a read failure: transient → a sign of life,
//!   the error shown; permanent → the part is FAILED with it.
//!
//! `finished` is honoured in mode 0 only; in modes 1 and 2 it is ignored.
//! Every reply carries the committed point.

mod admin;
pub mod io;
mod memory;
mod packs;
mod part;

use std::collections::{BTreeMap, BTreeSet};

pub use io::{
    Action, Assignment, CreateError, Created, Input, PackOutcome, PackReply, RequestError,
};
pub(crate) use part::{assign_next, fail, new_partition};

use crate::task::assign::TokenSource;
use crate::task::commit::SegmentId;
use crate::task::failure::Backoff;
use crate::task::model::{Ending, Finished, PartitionTask, Status, TableTask, TableTaskSpec};
use crate::task::options::TaskOptions;
use crate::task::status::StatusReport;

/// Settings of the supervisor.
#[derive(Clone, Debug)]
pub struct Config {
    /// A part silent for longer than this is reassigned (also INIT parts and
    /// unanswered assignments).
    pub timeout_ms: u64,
    /// Where collectors send packs (`des_endpoint` of assignments).
    pub des_endpoint: String,
    /// The options of a task whose create (or persisted state) gives none:
    /// `sink.*` of `synctool.properties` (the roll limits included).
    pub defaults: TaskOptions,
    /// Packs are answered `Busy` while a part holds this many bytes.
    pub max_held_bytes: u64,
    /// Bytes of rows all parts together may hold (`sink.memory_limit`); see
    /// `memory`: early seals from half of it, flow control from three
    /// quarters, `Busy` past it.
    pub memory_limit: u64,
    /// Waits between retries of transient failures (assignment rounds, sink steps).
    pub backoff: Backoff,
    /// A transient error lasting longer than this makes the part FAILED
    /// (`sync_task.fail_after_ms`); `None`: never (heal by itself).
    pub fail_after_ms: Option<u64>,
    /// Ended table tasks stay in the history this long (`sync_task.history_ms`).
    pub history_ms: u64,
    /// Several SyncTools share the cluster (`FAULTS.md` §4): a part is
    /// claimed ([`Action::ClaimPart`]) before it is assigned, its commits
    /// carry the claimed epoch, and a part found owned elsewhere
    /// ([`Input::PartLost`]) is left alone. Off: one SyncTool, epoch 1.
    pub fencing: bool,
    /// A change is persisted at most this long after it, together with the
    /// changes that came meanwhile: with thousands of parts committing, one
    /// write of the whole state per commit would be quadratic. A change a
    /// reply may reveal (a task created, deleted or completed, a part's
    /// status) is persisted before the next reply, so no collector or client
    /// acts on what a crash would undo; a commit's progress only waits for
    /// the delay (the sink's commit records are the truth, and the state may
    /// lag them: `crate::task::recovery`). 0: every change at once.
    pub persist_delay_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            timeout_ms: 20_000,
            des_endpoint: String::new(),
            defaults: TaskOptions::default(),
            max_held_bytes: 256 << 20,
            memory_limit: 256 << 20,
            backoff: Backoff::default(),
            fail_after_ms: None,
            history_ms: 24 * 3_600_000,
            persist_delay_ms: 500,
            fencing: false,
        }
    }
}

/// The SyncTool state machine.
#[derive(Debug)]
pub struct Supervisor {
    pub(crate) config: Config,
    pub(crate) tokens: TokenSource,
    pub(crate) epoch: u64,
    pub(crate) next_task_id: u64,
    pub(crate) tables: BTreeMap<u32, TableTask>,
    pub(crate) live: BTreeSet<String>,
    /// Ended table tasks, oldest first.
    pub(crate) history: Vec<Finished>,
    /// Bytes of rows held by all parts (see `memory`).
    pub(crate) held: u64,
    /// A change not yet persisted is persisted at this time (ms); see
    /// [`Config::persist_delay_ms`].
    pub(crate) persist_due_ms: Option<u64>,
    /// The change not yet persisted includes one a reply may reveal.
    pub(crate) reply_waits: bool,
}

/// Collects actions of one step: replies go last, after a persist if needed.
#[derive(Default)]
pub(crate) struct Out {
    pub(crate) actions: Vec<Action>,
    pub(crate) replies: Vec<Action>,
    /// A change a reply may reveal (a task created or removed, a part's
    /// status): persisted before the next reply, whichever step makes it.
    pub(crate) dirty: bool,
    /// Only a commit's progress, which the sink's records already hold.
    pub(crate) progress: bool,
}

/// What a partition-level transition needs besides the partition.
pub(crate) struct Ctx<'a> {
    pub(crate) config: &'a Config,
    pub(crate) tokens: &'a mut TokenSource,
    pub(crate) live: &'a BTreeSet<String>,
    pub(crate) spec: &'a TableTaskSpec,
    pub(crate) now: u64,
}

impl Supervisor {
    /// A supervisor with no tasks (first start). `seed` seeds the tokens.
    pub fn new(config: Config, seed: u64) -> Self {
        Self {
            config,
            tokens: TokenSource::new(seed, 0),
            epoch: 0,
            next_task_id: 0,
            tables: BTreeMap::new(),
            live: BTreeSet::new(),
            history: Vec::new(),
            held: 0,
            persist_due_ms: None,
            reply_waits: false,
        }
    }

    /// The table tasks that ended within the last `history_ms`, oldest first.
    pub fn history(&self) -> &[Finished] {
        &self.history
    }

    /// The table task of `tid`.
    pub fn table(&self, tid: u32) -> Option<&TableTask> {
        self.tables.get(&tid)
    }

    /// All table tasks by tid.
    pub fn tables(&self) -> &BTreeMap<u32, TableTask> {
        &self.tables
    }

    /// The SyncTool epoch (0 on first start, +1 per recovery).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The status of every task.
    pub fn status(&self, now_ms: u64) -> StatusReport {
        StatusReport::of(self, now_ms)
    }

    /// Takes one input; returns what to do, in order.
    pub fn handle(&mut self, now_ms: u64, input: Input) -> Vec<Action> {
        let mut out = Out::default();
        let touched = Self::touched_part(&input);
        let held_before = touched.map(|part| self.part_held(part));
        let may_grow = matches!(input, Input::Pack(_) | Input::Tick);
        match input {
            Input::Create {
                spec,
                partitions,
                existing,
            } => self.create(now_ms, spec, partitions, existing, &mut out),
            Input::Delete { db, table } => self.delete(now_ms, &db, &table, &mut out),
            Input::RetryFailed { db, table } => self.retry_failed(now_ms, &db, &table, &mut out),
            Input::TableMetadata { tid, partitions } => {
                self.metadata(now_ms, tid, partitions, &mut out)
            }
            Input::Collectors { live } => self.collectors(now_ms, live, &mut out),
            Input::Pack(pack) => self.pack(now_ms, pack, &mut out),
            Input::AssignResult {
                tid,
                pid,
                token,
                result,
            } => self.assign_result(now_ms, tid, pid, &token, result, &mut out),
            Input::AssignSent { tid, pid, token } => self.assign_sent(now_ms, tid, pid, &token),
            Input::Staged { id, result } => self.staged(now_ms, id, result, &mut out),
            Input::Committed { id, result } => self.committed(now_ms, id, result, &mut out),
            Input::PartClaimed { tid, pid, result } => {
                self.with_part(now_ms, tid, pid, &mut out, |ctx, part, out| {
                    part::claimed(ctx, part, result, out)
                })
            }
            Input::PartLost { tid, pid, why } => {
                self.with_part(now_ms, tid, pid, &mut out, |ctx, part, out| {
                    part::lost(ctx, part, why, out)
                })
            }
            Input::Tick => self.tick(now_ms, &mut out),
        }
        self.held = match (touched, held_before) {
            (Some(part), Some(before)) => (self.held + self.part_held(part)).saturating_sub(before),
            _ => self.recount_held(),
        };
        if may_grow {
            self.relieve_memory(now_ms, &mut out);
        }
        // An input about one part changes at most its own table.
        self.remove_completed(now_ms, touched.map(|(tid, _)| tid), &mut out);
        self.prune_history(now_ms, &mut out);
        self.finish(now_ms, out)
    }

    /// The earliest time at which an [`Input::Tick`] has something to do
    /// (a silence timeout, a roll by age, a retry after a backoff, the end of
    /// `fail_after_ms`); `None` when nothing waits on time. The daemon sleeps
    /// until then instead of ticking.
    pub fn next_deadline(&self) -> Option<u64> {
        self.tables
            .values()
            .flat_map(|t| t.partitions.values().map(|p| (&t.spec.options.roll, p)))
            .filter_map(|(roll, p)| part::deadline(&self.config, roll, p))
            .chain(self.persist_due_ms)
            .min()
    }

    /// A persist of the changes not yet persisted, if there are any (for a
    /// daemon that stops: it writes this before it exits).
    pub fn flush(&mut self) -> Option<Action> {
        self.reply_waits = false;
        self.persist_due_ms
            .take()
            .map(|_| Action::Persist(self.persisted()))
    }

    /// The step's actions, replies last. The state is persisted when a
    /// change's [`Config::persist_delay_ms`] is up, and before any reply
    /// once a change a reply may reveal is pending (a collector told that
    /// its table is gone removes its data: the removal must survive a crash).
    pub(crate) fn finish(&mut self, now: u64, mut out: Out) -> Vec<Action> {
        if out.dirty || out.progress {
            let due = now.saturating_add(self.config.persist_delay_ms);
            self.persist_due_ms = Some(self.persist_due_ms.map_or(due, |d| d.min(due)));
            self.reply_waits |= out.dirty;
        }
        let due = self.persist_due_ms.is_some_and(|due| now >= due);
        if due || (self.reply_waits && !out.replies.is_empty()) {
            out.actions.extend(self.flush());
        }
        out.actions.append(&mut out.replies);
        out.actions
    }

    pub(crate) fn for_each_part(
        &mut self,
        now: u64,
        tid: Option<u32>,
        out: &mut Out,
        mut f: impl FnMut(&mut Ctx<'_>, &mut PartitionTask, &mut Out),
    ) {
        for (_, table) in self.tables.range_mut(table_range(tid)) {
            let mut ctx = Ctx {
                config: &self.config,
                tokens: &mut self.tokens,
                live: &self.live,
                spec: &table.spec,
                now,
            };
            for part in table.partitions.values_mut() {
                f(&mut ctx, part, out);
            }
        }
    }

    /// The part `pid` of table `tid`, if both exist.
    pub(crate) fn part_mut(&mut self, tid: u32, pid: u32) -> Option<&mut PartitionTask> {
        self.tables
            .get_mut(&tid)
            .and_then(|t| t.partitions.get_mut(&pid))
    }

    /// Runs `f` on the part of segment `id` (if it still belongs to the task).
    pub(crate) fn with_segment_part(
        &mut self,
        now: u64,
        id: SegmentId,
        out: &mut Out,
        f: impl FnOnce(&mut Ctx<'_>, &mut PartitionTask, &mut Out),
    ) {
        if self.tables.get(&id.tid).map(|t| t.task_id) == Some(id.task_id) {
            self.with_part(now, id.tid, id.pid, out, f);
        }
    }

    /// Runs `f` on part `pid` of table `tid`, if both exist.
    pub(crate) fn with_part(
        &mut self,
        now: u64,
        tid: u32,
        pid: u32,
        out: &mut Out,
        f: impl FnOnce(&mut Ctx<'_>, &mut PartitionTask, &mut Out),
    ) {
        let Some(table) = self.tables.get_mut(&tid) else {
            return;
        };
        let Some(part) = table.partitions.get_mut(&pid) else {
            return;
        };
        let mut ctx = Ctx {
            config: &self.config,
            tokens: &mut self.tokens,
            live: &self.live,
            spec: &table.spec,
            now,
        };
        f(&mut ctx, part, out);
    }

    pub(crate) fn find(&self, db: &str, table: &str) -> Option<u32> {
        self.tables
            .iter()
            .find(|(_, t)| t.spec.db == db && t.spec.table == table)
            .map(|(tid, _)| *tid)
    }

    /// Forgets ended tasks older than `history_ms`.
    pub(crate) fn prune_history(&mut self, now: u64, out: &mut Out) {
        let keep = self.config.history_ms;
        let before = self.history.len();
        self.history
            .retain(|f| now.saturating_sub(f.ended_ms) <= keep);
        if self.history.len() != before {
            out.dirty = true;
        }
    }

    /// Removes the tables whose parts are all SUCCESS (mode 0 finished):
    /// table `only`, or every table when `None`.
    pub(crate) fn remove_completed(&mut self, now: u64, only: Option<u32>, out: &mut Out) {
        let done: Vec<u32> = self
            .tables
            .range(table_range(only))
            .filter(|(_, t)| t.partitions.values().all(|p| p.status == Status::Success))
            .map(|(tid, _)| *tid)
            .collect();
        for tid in done {
            if let Some(t) = self.tables.remove(&tid) {
                out.dirty = true;
                self.history.push(Finished::of(&t, Ending::Completed, now));
                self.release_if_unused(&t.spec.dest, out);
                out.actions.push(Action::TableCompleted {
                    tid,
                    task_id: t.task_id,
                    db: t.spec.db,
                    table: t.spec.table,
                });
            }
        }
    }

    /// Releases `dest`'s store clients when no remaining task writes there.
    pub(crate) fn release_if_unused(&self, dest: &str, out: &mut Out) {
        if !self.tables.values().any(|t| t.spec.dest == dest) {
            out.actions.push(Action::ReleaseDestination {
                dest: dest.to_owned(),
            });
        }
    }
}

/// The keys of table `tid`, or of every table when `None` (a lookup, not a
/// scan, with thousands of tables).
fn table_range(tid: Option<u32>) -> (std::ops::Bound<u32>, std::ops::Bound<u32>) {
    use std::ops::Bound::{Included, Unbounded};
    match tid {
        Some(t) => (Included(t), Included(t)),
        None => (Unbounded, Unbounded),
    }
}
