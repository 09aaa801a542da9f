//! Per-part transitions: assignment rounds (with backoff), reassigning,
//! failing, rolling segments, the results of sink steps, and what time does
//! to a part (timeouts, retries, `fail_after_ms`).

use crate::point::Point;
use crate::task::assign;
use std::sync::Arc;

use crate::task::commit::{CommitPlan, RollPolicy, SegmentAction};
use crate::task::failure::{AssignFailure, ErrorClass, PartError, SinkFailure};
use crate::task::model::{Failure, Holder, Ownership, PartitionTask, Status, TableTask};

use super::io::{Action, Assignment};
use super::{Config, Ctx, Out};

/// A new partition task whose committed state is `committed` after `next_seq` segments.
#[allow(clippy::too_many_arguments)]
pub(crate) fn new_partition(
    table: &TableTask,
    pid: u32,
    tablet_endpoint: String,
    status: Status,
    committed: Point,
    next_seq: u64,
    rows_committed: u64,
    now: u64,
) -> PartitionTask {
    PartitionTask {
        pid,
        status,
        tablet_endpoint,
        holder: Holder::None,
        accepted: committed.clone(),
        plan: CommitPlan::new(
            table.spec.tid,
            pid,
            table.task_id,
            table.spec.dest.clone(),
            committed,
            next_seq,
            rows_committed,
        )
        .with_options(Arc::new(table.spec.options.clone())),
        last_heard_ms: now,
        failure: None,
        last_error: None,
        last_pack: None,
        finishing: false,
        preparing: false,
        tried: Vec::new(),
        failed_rounds: 0,
        unable: Vec::new(),
        rows_accepted: 0,
        bytes_accepted: 0,
        ownership: Ownership::Unclaimed,
    }
}

pub(crate) fn segment_action(action: SegmentAction) -> Action {
    match action {
        SegmentAction::Stage(s) => Action::Stage(s),
        SegmentAction::Commit(c) => Action::Commit(c),
    }
}

/// Errors about reaching a collector (what `fail_after_ms` applies to, and
/// what a sign of life from the holder heals).
pub(crate) fn is_collector_error(e: &PartError) -> bool {
    matches!(
        e,
        PartError::NoCollector { .. } | PartError::Assign(_) | PartError::Silent { .. }
    ) || matches!(e, PartError::Read { failure, .. } if failure.class() == ErrorClass::Transient)
}

/// Seals and finishes what can be: a due roll, and mode-0 SUCCESS.
pub(crate) fn settle(ctx: &mut Ctx<'_>, part: &mut PartitionTask, out: &mut Out) {
    if part.holder == Holder::AwaitingFlush || part.status.is_terminal() {
        return;
    }
    if part.plan.should_roll(
        &ctx.spec.options.roll,
        &part.accepted,
        part.finishing,
        ctx.now,
    ) {
        let action = part.plan.roll(&part.accepted, ctx.now);
        out.actions.push(segment_action(action));
    }
    if part.finishing && !part.plan.in_flight() && part.plan.committed() == &part.accepted {
        part.status = Status::Success;
        part.holder = Holder::None;
        part.finishing = false;
        part.preparing = false;
        part.last_error = None;
        out.dirty = true;
    }
}

/// Starts a reassign: new token, from the committed point; waits for an
/// in-flight segment first.
pub(crate) fn begin_reassign(ctx: &mut Ctx<'_>, part: &mut PartitionTask, out: &mut Out) {
    part.status = Status::Reassigning;
    part.holder = Holder::None;
    part.finishing = false;
    part.preparing = false;
    part.last_pack = None;
    part.last_heard_ms = ctx.now;
    part.plan.discard_open();
    if part.plan.in_flight() {
        part.holder = Holder::AwaitingFlush;
        part.accepted = part.plan.sealed_end().clone();
        return;
    }
    start_round(ctx, part, out);
}

/// A fresh assignment round: every live collector on the host may be tried.
pub(crate) fn start_round(ctx: &mut Ctx<'_>, part: &mut PartitionTask, out: &mut Out) {
    part.tried.clear();
    assign_next(ctx, part, out);
}

/// Gives the part to the next live collector on its leader host not tried in
/// this round, from the committed point. When there is none, the round has
/// failed: the error is kept and the next round starts after a backoff.
pub(crate) fn assign_next(ctx: &mut Ctx<'_>, part: &mut PartitionTask, out: &mut Out) {
    if !may_assign(ctx, part, out) {
        return;
    }
    let tried: Vec<String> = part
        .tried
        .iter()
        .map(|f| f.collector().to_owned())
        .chain(part.unable.iter().cloned())
        .collect();
    let candidates = assign::candidates(ctx.live, &part.tablet_endpoint, &tried);
    let Some(collector) = candidates.first().map(|c| (*c).to_owned()) else {
        let error = if assign::host_has_collector(ctx.live, &part.tablet_endpoint) {
            PartError::Assign(std::mem::take(&mut part.tried))
        } else {
            PartError::NoCollector {
                host: assign::host_of(&part.tablet_endpoint).to_owned(),
                tablet_endpoint: part.tablet_endpoint.clone(),
            }
        };
        part.tried.clear();
        part.failed_rounds = part.failed_rounds.saturating_add(1);
        part.note_error(error, ctx.now);
        if part.status == Status::Init {
            part.status = Status::Reassigning;
        }
        part.holder = Holder::Backoff {
            until_ms: ctx
                .now
                .saturating_add(ctx.config.backoff.delay_ms(part.failed_rounds)),
        };
        return;
    };
    let token = ctx.tokens.next_token();
    part.accepted = part.plan.committed().clone();
    part.plan.discard_open();
    part.last_pack = None;
    part.holder = Holder::Offered {
        collector: collector.clone(),
        token: token.clone(),
    };
    part.last_heard_ms = ctx.now;
    out.actions.push(Action::Assign(Assignment {
        tid: ctx.spec.tid,
        pid: part.pid,
        collector,
        token,
        point: part.accepted.clone(),
        tablet_endpoint: part.tablet_endpoint.clone(),
        mode: ctx.spec.mode,
        start_ts: ctx.spec.start_ts,
        dest: ctx.spec.dest.clone(),
        des_endpoint: ctx.config.des_endpoint.clone(),
        part_epoch: ctx.config.fencing.then(|| part.plan.epoch()),
    }));
}

/// With fencing, a part is assigned only once it is owned: an unclaimed
/// part is claimed first (the claim's answer starts the round).
fn may_assign(ctx: &Ctx<'_>, part: &mut PartitionTask, out: &mut Out) -> bool {
    if !ctx.config.fencing {
        return true;
    }
    match part.ownership {
        Ownership::Owned => true,
        Ownership::Unclaimed => {
            part.ownership = Ownership::Claiming;
            part.holder = Holder::None;
            out.actions.push(Action::ClaimPart {
                tid: ctx.spec.tid,
                pid: part.pid,
            });
            false
        }
        Ownership::Claiming | Ownership::Lost => false,
    }
}

/// The answer to a [`Action::ClaimPart`]: owned with `epoch` (commits carry
/// it, and the assignment round starts), or why not yet (shown; the daemon
/// tries again).
pub(crate) fn claimed(
    ctx: &mut Ctx<'_>,
    part: &mut PartitionTask,
    result: Result<u64, String>,
    out: &mut Out,
) {
    if part.ownership != Ownership::Claiming {
        return;
    }
    match result {
        Ok(epoch) => {
            part.ownership = Ownership::Owned;
            part.plan.set_epoch(epoch);
            part.clear_error(|e| matches!(e, PartError::Claim(_) | PartError::Lost(_)));
            if !part.status.is_terminal() {
                start_round(ctx, part, out);
            }
        }
        Err(why) => part.note_error(PartError::Claim(why), ctx.now),
    }
}

/// Another SyncTool owns the part with a newer epoch (found before a stage,
/// a commit or an assignment): it is neither assigned nor written here any
/// more, and its collector is told nothing (its new owner assigns it). Its
/// sealed segment is given up uncommitted; the new owner reads those rows
/// again.
pub(crate) fn lost(ctx: &mut Ctx<'_>, part: &mut PartitionTask, why: String, out: &mut Out) {
    if part.ownership == Ownership::Lost {
        return;
    }
    part.ownership = Ownership::Lost;
    part.holder = Holder::None;
    part.finishing = false;
    part.preparing = false;
    part.last_pack = None;
    part.plan.discard_open();
    part.plan.abandon_in_flight();
    part.accepted = part.plan.committed().clone();
    part.note_error(PartError::Lost(why), ctx.now);
    out.dirty = true;
}

/// The part becomes FAILED with `error`. A sealed segment in flight still
/// goes on to its commit (its rows are valid); the open rows are dropped.
pub(crate) fn fail(ctx: &mut Ctx<'_>, part: &mut PartitionTask, error: PartError, out: &mut Out) {
    part.status = Status::Failed;
    part.failure = Some(Failure::new(&error, part.holder.collector()));
    part.holder = Holder::None;
    part.tried.clear();
    part.unable.clear();
    part.finishing = false;
    part.preparing = false;
    part.last_error = None;
    part.plan.discard_open();
    part.accepted = part.plan.sealed_end().clone();
    out.dirty = true;
    out.actions.push(Action::PartFailed {
        tid: ctx.spec.tid,
        pid: part.pid,
        error,
    });
}

/// The outcome of an `AddSyncTask` for the part's current offer.
pub(crate) fn assign_result(
    ctx: &mut Ctx<'_>,
    part: &mut PartitionTask,
    token: &str,
    result: Result<(), AssignFailure>,
    out: &mut Out,
) {
    let Holder::Offered {
        collector,
        token: offered,
    } = &part.holder
    else {
        return;
    };
    if offered != token {
        return;
    }
    match result {
        Ok(()) => {
            part.holder = Holder::Held {
                collector: collector.clone(),
                token: offered.clone(),
            };
            part.tried.clear();
            part.failed_rounds = 0;
            part.last_heard_ms = ctx.now;
            part.clear_error(is_collector_error);
            if part.status == Status::Reassigning {
                part.status = Status::Running;
            }
        }
        Err(e) => {
            part.tried.push(e);
            part.holder = Holder::None;
            assign_next(ctx, part, out);
        }
    }
}

/// A sink step of the in-flight segment failed: a transient failure is
/// retried after a backoff; a permanent one makes the part FAILED (the
/// segment is given up and its leftovers cleared).
fn step_failed(
    ctx: &mut Ctx<'_>,
    part: &mut PartitionTask,
    error: PartError,
    failure: &SinkFailure,
    out: &mut Out,
) {
    if failure.class() == ErrorClass::Permanent {
        let from_seq = part.plan.first_uncommitted_seq();
        part.plan.abandon_in_flight();
        out.actions.push(Action::ClearStaging {
            tid: ctx.spec.tid,
            pid: part.pid,
            task_id: part.plan.task_id(),
            dest: ctx.spec.dest.clone(),
            from_seq,
        });
        if part.status.is_terminal() {
            return;
        }
        fail(ctx, part, error, out);
        return;
    }
    let attempts = part.plan.step_failures().saturating_add(1);
    let at = ctx
        .now
        .saturating_add(ctx.config.backoff.delay_ms(attempts));
    part.plan.step_failed(at);
    part.note_error(error, ctx.now);
}

/// The result of staging segment `seq`.
pub(crate) fn staged(
    ctx: &mut Ctx<'_>,
    part: &mut PartitionTask,
    seq: u64,
    result: Result<(), SinkFailure>,
    out: &mut Out,
) {
    if !part.plan.awaits(seq) {
        return;
    }
    match result {
        Ok(()) => {
            part.clear_error(|e| matches!(e, PartError::Stage(_)));
            if let Some(action) = part.plan.on_staged(seq, true) {
                out.actions.push(segment_action(action));
            }
        }
        Err(f) => {
            part.plan.on_staged(seq, false);
            step_failed(ctx, part, PartError::Stage(f.clone()), &f, out);
        }
    }
}

/// The result of committing segment `seq`.
pub(crate) fn committed(
    ctx: &mut Ctx<'_>,
    part: &mut PartitionTask,
    seq: u64,
    result: Result<u64, SinkFailure>,
    out: &mut Out,
) {
    if !part.plan.awaits(seq) {
        return;
    }
    match result {
        Ok(files) => {
            let sealed = part.plan.in_flight_info();
            if !part.plan.on_committed(seq, Some(files)) {
                return;
            }
            if let Some(s) = sealed {
                out.actions.push(Action::SegmentCommitted {
                    tid: ctx.spec.tid,
                    pid: part.pid,
                    rows: s.rows,
                    bytes: s.bytes,
                    latency_ms: ctx.now.saturating_sub(s.sealed_ms),
                });
            }
            out.progress = true;
            part.clear_error(|e| matches!(e, PartError::Stage(_) | PartError::Commit(_)));
            if part.holder == Holder::AwaitingFlush {
                part.accepted = part.plan.committed().clone();
                start_round(ctx, part, out);
            } else {
                settle(ctx, part, out);
            }
        }
        Err(f) => {
            part.plan.on_committed(seq, None);
            step_failed(ctx, part, PartError::Commit(f.clone()), &f, out);
        }
    }
}

/// What time does to a part.
pub(crate) fn tick(ctx: &mut Ctx<'_>, part: &mut PartitionTask, out: &mut Out) {
    // A sealed segment is flushed whatever the part's state.
    if let Some(action) = part.plan.retry(ctx.now) {
        out.actions.push(segment_action(action));
    }
    if part.status.is_terminal() || part.ownership == Ownership::Lost {
        return;
    }
    let silent = ctx.now.saturating_sub(part.last_heard_ms) > ctx.config.timeout_ms;
    match part.holder.clone() {
        Holder::Backoff { until_ms } if ctx.now >= until_ms => start_round(ctx, part, out),
        Holder::Offered { collector, .. } if silent => {
            part.tried.push(AssignFailure::Unreachable {
                collector,
                message: format!("no answer within {} ms", ctx.config.timeout_ms),
            });
            part.holder = Holder::None;
            assign_next(ctx, part, out);
        }
        Holder::Held { collector, .. } if silent => {
            let silent_ms = ctx.now.saturating_sub(part.last_heard_ms);
            part.note_error(
                PartError::Silent {
                    collector,
                    silent_ms,
                },
                ctx.now,
            );
            begin_reassign(ctx, part, out);
        }
        _ => {}
    }
    if let (Some(limit), Some(last)) = (ctx.config.fail_after_ms, &part.last_error)
        && is_collector_error(&last.error)
        && ctx.now.saturating_sub(last.since_ms) >= limit
    {
        let error = PartError::WaitedTooLong {
            waited_ms: ctx.now.saturating_sub(last.since_ms),
            cause: Box::new(last.error.clone()),
        };
        fail(ctx, part, error, out);
        return;
    }
    settle(ctx, part, out);
}

/// When [`tick`] next has something to do for `part`.
pub(crate) fn deadline(config: &Config, roll: &RollPolicy, part: &PartitionTask) -> Option<u64> {
    let mut due = part.plan.retry_due_ms();
    let mut at = |t: u64| due = Some(due.map_or(t, |d| d.min(t)));
    if part.status.is_terminal() || part.ownership == Ownership::Lost {
        return due;
    }
    match &part.holder {
        Holder::Offered { .. } | Holder::Held { .. } => {
            at(part
                .last_heard_ms
                .saturating_add(config.timeout_ms)
                .saturating_add(1));
        }
        Holder::Backoff { until_ms } => at(*until_ms),
        Holder::None | Holder::AwaitingFlush => {}
    }
    if part.holder != Holder::AwaitingFlush
        && let Some(t) = part.plan.roll_due_ms(roll)
    {
        at(t);
    }
    if let (Some(limit), Some(last)) = (config.fail_after_ms, &part.last_error)
        && is_collector_error(&last.error)
    {
        at(last.since_ms.saturating_add(limit));
    }
    due
}
