//! Requests and news from outside the data path: create (also resuming the
//! committed output already in the destination), delete, retry, fresh table
//! metadata, the live collectors, and the outcomes of assignments and sink steps.

use std::collections::{BTreeMap, BTreeSet};

use crate::point::Point;
use crate::task::assign;
use crate::task::commit::SegmentId;
use crate::task::failure::{AssignFailure, SinkFailure};
use crate::task::model::{
    Ending, Finished, Holder, IfExists, Mode, PartitionLeader, Status, TableTask, TableTaskSpec,
    TaskOrigin,
};
use crate::task::recovery::SinkProgress;

use super::io::{Action, CreateError, Created, RequestError};
use super::part::{self, assign_next, begin_reassign, new_partition, start_round};
use super::{Out, Supervisor};

/// What a create does with the table's output already in the destination.
#[derive(Clone, Copy)]
enum Start {
    /// A new task id; every partition from the start.
    Fresh,
    /// Continue task `task_id`'s segments.
    Resume { task_id: u64 },
}

impl Supervisor {
    pub(crate) fn create(
        &mut self,
        now: u64,
        spec: TableTaskSpec,
        partitions: Vec<PartitionLeader>,
        existing: Vec<SinkProgress>,
        out: &mut Out,
    ) {
        let decided = self
            .check_create(&spec, &partitions)
            .and_then(|()| decide_start(&spec, &existing));
        let (start, origin) = match decided {
            Ok(d) => d,
            Err(e) => {
                out.replies.push(Action::CreateReply(Err(e)));
                return;
            }
        };
        // Never reuse a task id: past this SyncTool's and past the destination's.
        let newest_there = existing
            .iter()
            .filter(|p| p.tid == spec.tid)
            .map(|p| p.task_id.saturating_add(1))
            .max()
            .unwrap_or(0);
        let fresh = self.next_task_id.max(newest_there);
        let task_id = match start {
            Start::Fresh => fresh,
            Start::Resume { task_id } => task_id,
        };
        self.next_task_id = fresh.max(task_id.saturating_add(1));
        let chains: BTreeMap<u32, &SinkProgress> = existing
            .iter()
            .filter(|p| {
                p.tid == spec.tid && matches!(start, Start::Resume { task_id: t } if t == p.task_id)
            })
            .map(|p| (p.pid, p))
            .collect();
        let mut table = TableTask {
            task_id,
            spec,
            origin: origin.clone(),
            created_ms: now,
            partitions: BTreeMap::new(),
        };
        for leader in partitions {
            let (committed, next_seq, rows) = match chains.get(&leader.pid) {
                Some(c) => (c.end.clone(), c.last_seq + 1, c.rows_total),
                None => (Point::start(), 0, 0),
            };
            let part = new_partition(
                &table,
                leader.pid,
                leader.tablet_endpoint,
                Status::Init,
                committed,
                next_seq,
                rows,
                now,
            );
            table.partitions.insert(leader.pid, part);
        }
        let tid = table.spec.tid;
        self.tables.insert(tid, table);
        out.dirty = true;
        self.for_each_part(now, Some(tid), out, |ctx, part, out| {
            assign_next(ctx, part, out);
        });
        out.replies
            .push(Action::CreateReply(Ok(Created { task_id, origin })));
    }

    fn check_create(
        &self,
        spec: &TableTaskSpec,
        partitions: &[PartitionLeader],
    ) -> Result<(), CreateError> {
        if let Some(tid) = self
            .find(&spec.db, &spec.table)
            .or(self.tables.contains_key(&spec.tid).then_some(spec.tid))
        {
            let t = &self.tables[&tid].spec;
            return Err(CreateError::AlreadyExists {
                db: t.db.clone(),
                table: t.table.clone(),
                tid,
            });
        }
        if spec.dest.is_empty() {
            return Err(CreateError::Invalid("dest is empty".into()));
        }
        if partitions.is_empty() {
            return Err(CreateError::Invalid("the table has no partitions".into()));
        }
        let pids: BTreeSet<u32> = partitions.iter().map(|p| p.pid).collect();
        if pids.len() != partitions.len() {
            return Err(CreateError::Invalid("duplicate partition ids".into()));
        }
        for p in partitions {
            if !assign::host_has_collector(&self.live, &p.tablet_endpoint) {
                return Err(CreateError::NoCollector {
                    pid: p.pid,
                    host: assign::host_of(&p.tablet_endpoint).to_owned(),
                    tablet_endpoint: p.tablet_endpoint.clone(),
                });
            }
        }
        Ok(())
    }

    pub(crate) fn delete(&mut self, now: u64, db: &str, table: &str, out: &mut Out) {
        let Some(tid) = self.find(db, table) else {
            out.replies
                .push(Action::DeleteReply(Err(RequestError::NotFound {
                    db: db.to_owned(),
                    table: table.to_owned(),
                })));
            return;
        };
        if let Some(t) = self.tables.remove(&tid) {
            self.history.push(Finished::of(&t, Ending::Deleted, now));
            for part in t.partitions.values() {
                out.actions.push(Action::ClearStaging {
                    tid,
                    pid: part.pid,
                    task_id: t.task_id,
                    dest: t.spec.dest.clone(),
                    from_seq: part.plan.first_uncommitted_seq(),
                });
            }
            self.release_if_unused(&t.spec.dest, out);
        }
        out.dirty = true;
        out.replies.push(Action::DeleteReply(Ok(())));
    }

    pub(crate) fn retry_failed(&mut self, now: u64, db: &str, table: &str, out: &mut Out) {
        let Some(tid) = self.find(db, table) else {
            out.replies
                .push(Action::RetryReply(Err(RequestError::NotFound {
                    db: db.to_owned(),
                    table: table.to_owned(),
                })));
            return;
        };
        let mut retried = 0;
        self.for_each_part(now, Some(tid), out, |ctx, part, out| {
            if part.status == Status::Failed {
                retried += 1;
                part.failure = None;
                part.last_error = None;
                part.failed_rounds = 0;
                part.unable.clear();
                out.dirty = true;
                begin_reassign(ctx, part, out);
            }
        });
        out.replies.push(Action::RetryReply(Ok(retried)));
    }

    pub(crate) fn metadata(
        &mut self,
        now: u64,
        tid: u32,
        partitions: Vec<PartitionLeader>,
        out: &mut Out,
    ) {
        let leaders: BTreeMap<u32, String> = partitions
            .into_iter()
            .map(|p| (p.pid, p.tablet_endpoint))
            .collect();
        self.for_each_part(now, Some(tid), out, |ctx, part, out| {
            let Some(leader) = leaders.get(&part.pid) else {
                return;
            };
            if *leader == part.tablet_endpoint {
                return;
            }
            part.tablet_endpoint = leader.clone();
            out.dirty = true;
            if !part.status.is_terminal() {
                begin_reassign(ctx, part, out);
            }
        });
    }

    pub(crate) fn collectors(&mut self, now: u64, live: Vec<String>, out: &mut Out) {
        let live: BTreeSet<String> = live.into_iter().collect();
        let joined: BTreeSet<String> = live.difference(&self.live).cloned().collect();
        self.live = live;
        self.for_each_part(now, None, out, |ctx, part, out| {
            if part.status.is_terminal() {
                return;
            }
            match part.holder.clone() {
                Holder::Offered { collector, .. } if !ctx.live.contains(&collector) => {
                    part.tried.push(AssignFailure::Unreachable {
                        collector,
                        message: "the collector left".into(),
                    });
                    part.holder = Holder::None;
                    assign_next(ctx, part, out);
                }
                Holder::Held { collector, .. } if !ctx.live.contains(&collector) => {
                    begin_reassign(ctx, part, out);
                }
                // A collector (back) on the host: no need to wait out the backoff.
                Holder::Backoff { .. }
                    if !assign::candidates(&joined, &part.tablet_endpoint, &[]).is_empty() =>
                {
                    start_round(ctx, part, out);
                }
                _ => {}
            }
        });
    }

    pub(crate) fn assign_result(
        &mut self,
        now: u64,
        tid: u32,
        pid: u32,
        token: &str,
        result: Result<(), AssignFailure>,
        out: &mut Out,
    ) {
        self.for_each_part(now, Some(tid), out, |ctx, p, out| {
            if p.pid == pid {
                part::assign_result(ctx, p, token, result.clone(), out);
            }
        });
    }

    /// Times the part's unanswered offer with `token` from `now`.
    pub(crate) fn assign_sent(&mut self, now: u64, tid: u32, pid: u32, token: &str) {
        let Some(part) = self.part_mut(tid, pid) else {
            return;
        };
        if matches!(&part.holder, Holder::Offered { token: offered, .. } if offered == token) {
            part.last_heard_ms = now;
        }
    }

    pub(crate) fn staged(
        &mut self,
        now: u64,
        id: SegmentId,
        result: Result<(), SinkFailure>,
        out: &mut Out,
    ) {
        self.with_segment_part(now, id, out, |ctx, p, out| {
            part::staged(ctx, p, id.seq, result, out);
        });
    }

    pub(crate) fn committed(
        &mut self,
        now: u64,
        id: SegmentId,
        result: Result<u64, SinkFailure>,
        out: &mut Out,
    ) {
        self.with_segment_part(now, id, out, |ctx, p, out| {
            part::committed(ctx, p, id.seq, result, out);
        });
    }

    pub(crate) fn tick(&mut self, now: u64, out: &mut Out) {
        if self.memory_full() {
            // The daemon holds packs back (flow control): the holders are
            // waiting for SyncTool, not silent.
            self.for_each_part(now, None, out, |ctx, p, _| {
                if matches!(p.holder, Holder::Held { .. }) {
                    p.last_heard_ms = ctx.now;
                }
            });
        }
        self.for_each_part(now, None, out, part::tick);
    }
}

/// Where a create starts, given the table's output already in the destination.
fn decide_start(
    spec: &TableTaskSpec,
    existing: &[SinkProgress],
) -> Result<(Start, TaskOrigin), CreateError> {
    let Some(newest) = existing
        .iter()
        .filter(|p| p.tid == spec.tid)
        .map(|p| p.task_id)
        .max()
    else {
        return Ok((Start::Fresh, TaskOrigin::Created));
    };
    let chains: Vec<&SinkProgress> = existing
        .iter()
        .filter(|p| p.tid == spec.tid && p.task_id == newest)
        .collect();
    let rows: u64 = chains.iter().map(|p| p.rows_total).sum();
    let resume = match (spec.if_exists, spec.mode) {
        (IfExists::Refuse, _) | (IfExists::Default, Mode::Full) => {
            return Err(CreateError::OutputExists {
                dest: spec.dest.clone(),
                tid: spec.tid,
                task_id: newest,
                rows,
            });
        }
        (IfExists::Append, _) => false,
        (IfExists::Resume, _) | (IfExists::Default, _) => true,
    };
    Ok(if resume {
        (
            Start::Resume { task_id: newest },
            TaskOrigin::Resumed {
                partitions: chains.len() as u32,
                rows,
            },
        )
    } else {
        (Start::Fresh, TaskOrigin::Appended { rows })
    })
}
