//! The pack rules (see the module docs of [`super`]): which packs are taken,
//! how the others are answered, and what a pack tells about its collector
//! (preparing, a read failure, plain progress).

use sync_proto::datasync::DropReason;

use crate::point::Point;
use crate::task::assign;
use crate::task::failure::{ErrorClass, PartError};
use crate::task::model::{Holder, Pack, Status};

use super::io::{Action, PackOutcome, PackReply};
use super::part::{begin_reassign, fail, is_collector_error, settle};
use super::{Ctx, Out, Supervisor};

impl Supervisor {
    pub(crate) fn pack(&mut self, now: u64, pack: Pack, out: &mut Out) {
        let (tid, pid) = (pack.tid, pack.pid);
        let reply = |outcome, drop: Option<DropReason>, committed: Option<Point>, message| {
            Action::PackReply(PackReply {
                tid,
                pid,
                outcome,
                drop,
                committed,
                resume_from: None,
                message,
            })
        };
        let Some(table) = self.tables.get_mut(&tid) else {
            out.replies.push(reply(
                PackOutcome::UnknownTask,
                Some(DropReason::KDropDeleted),
                None,
                format!("no sync task for tid {tid}"),
            ));
            return;
        };
        let Some(part) = table.partitions.get_mut(&pid) else {
            out.replies.push(reply(
                PackOutcome::UnknownTask,
                Some(DropReason::KDropDeleted),
                None,
                format!("no sync task for tid {tid} pid {pid}"),
            ));
            return;
        };
        let committed = Some(part.plan.committed().clone());
        match part.status {
            Status::Success => {
                out.replies.push(reply(
                    PackOutcome::Finished,
                    Some(DropReason::KDropFinished),
                    committed,
                    "the task is finished".into(),
                ));
                return;
            }
            Status::Failed => {
                let why = part.failure.as_ref().map_or("", |f| f.message.as_str());
                out.replies.push(reply(
                    PackOutcome::Failed,
                    Some(DropReason::KDropFailed),
                    committed,
                    format!("the task is FAILED: {why}"),
                ));
                return;
            }
            Status::Init | Status::Running | Status::Reassigning => {}
        }
        if part.token() != Some(pack.token.as_str()) {
            out.replies.push(reply(
                PackOutcome::StaleToken,
                Some(DropReason::KDropReassigned),
                committed,
                "the token is not the current assignment's".into(),
            ));
            return;
        }
        let has_rows = pack.row_count > 0 || !pack.rows.is_empty();
        if has_rows && pack.start == pack.next
            || (pack.row_count == 0) != pack.rows.is_empty()
            || has_rows && (pack.preparing || pack.failure.is_some())
        {
            out.replies.push(reply(
                PackOutcome::Malformed,
                Some(DropReason::KDropMalformed),
                committed,
                "a pack with rows must advance its point, count must match the rows, \
                 and preparing or failure packs carry no rows"
                    .into(),
            ));
            return;
        }
        if pack.start != part.accepted {
            let duplicate = part
                .last_pack
                .as_ref()
                .is_some_and(|(s, n)| *s == pack.start && *n == pack.next);
            // Neither is a sign of life: a collector that lost several replies
            // resends from behind, and the one resent pack that equals the
            // last accepted pack must not keep it from being reassigned.
            let mut answer = PackReply {
                tid,
                pid,
                outcome: PackOutcome::Duplicate,
                drop: None,
                committed,
                resume_from: None,
                message: "already accepted".into(),
            };
            if !duplicate {
                answer.outcome = PackOutcome::OutOfSequence;
                answer.message = format!(
                    "start point {} is not the accepted point {}",
                    pack.start, part.accepted
                );
                answer.resume_from = Some(part.accepted.clone());
            }
            out.replies.push(Action::PackReply(answer));
            return;
        }
        let mut ctx = Ctx {
            config: &self.config,
            tokens: &mut self.tokens,
            live: &self.live,
            spec: &table.spec,
            now,
        };
        // From here on the pack comes from the current holder: a sign of life.
        if let Holder::Offered { collector, token } = &part.holder {
            part.holder = Holder::Held {
                collector: collector.clone(),
                token: token.clone(),
            };
        }
        part.last_heard_ms = now;
        if let Some(failure) = pack.failure {
            let collector = part.collector().unwrap_or_default().to_owned();
            let error = PartError::Read {
                collector: collector.clone(),
                failure,
            };
            // Another live collector on the host may hold what this one lacks
            // (its own links): try it before giving up.
            let mut excluded: Vec<String> = part.unable.clone();
            excluded.push(collector.clone());
            let others = !assign::candidates(ctx.live, &part.tablet_endpoint, &excluded).is_empty();
            if error.class() == ErrorClass::Permanent && others {
                let message = error.to_string();
                part.unable.push(collector);
                part.note_error(error, now);
                begin_reassign(&mut ctx, part, out);
                out.replies.push(reply(
                    PackOutcome::StaleToken,
                    Some(DropReason::KDropReassigned),
                    Some(part.plan.committed().clone()),
                    format!("another collector is tried: {message}"),
                ));
            } else if error.class() == ErrorClass::Permanent {
                let message = error.to_string();
                fail(&mut ctx, part, error, out);
                out.replies.push(reply(
                    PackOutcome::Failed,
                    Some(DropReason::KDropFailed),
                    Some(part.plan.committed().clone()),
                    format!("the task is FAILED: {message}"),
                ));
            } else {
                part.note_error(error, now);
                part.preparing = false;
                out.replies.push(reply(
                    PackOutcome::Accepted,
                    None,
                    Some(part.plan.committed().clone()),
                    String::new(),
                ));
            }
            return;
        }
        let bytes = pack.rows.len() as u64;
        let over_part = part.plan.held_bytes() + bytes > ctx.config.max_held_bytes;
        // A pack larger than the whole limit is taken when nothing else is held.
        let over_all = self.held > 0 && self.held.saturating_add(bytes) > ctx.config.memory_limit;
        // A part whose segment in flight is failing (its destination is
        // down) takes no more rows: it must not fill the shared budget.
        let sink_failing = part.plan.step_failures() > 0;
        if has_rows && (over_part || over_all || sink_failing) {
            out.replies.push(reply(
                PackOutcome::Busy,
                None,
                committed,
                "too much data waiting for the sink; retry later".into(),
            ));
            return;
        }
        // Accept.
        part.tried.clear();
        part.failed_rounds = 0;
        let advanced = pack.next != pack.start;
        if advanced {
            part.unable.clear();
        }
        part.plan.append(&pack.rows, pack.row_count, advanced, now);
        part.rows_accepted += pack.row_count;
        part.bytes_accepted += pack.rows.len() as u64;
        part.accepted = pack.next.clone();
        part.last_pack = Some((pack.start, pack.next));
        part.preparing = pack.preparing;
        if pack.preparing {
            part.clear_error(|e| {
                matches!(
                    e,
                    PartError::NoCollector { .. } | PartError::Assign(_) | PartError::Silent { .. }
                )
            });
        } else {
            part.clear_error(is_collector_error);
        }
        if part.status != Status::Running {
            part.status = Status::Running;
        }
        if pack.finished && ctx.spec.mode.finishes() {
            part.finishing = true;
        }
        settle(&mut ctx, part, out);
        out.replies.push(reply(
            PackOutcome::Accepted,
            None,
            Some(part.plan.committed().clone()),
            String::new(),
        ));
    }
}
