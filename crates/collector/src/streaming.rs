//! The streaming phase of a task's loop: the prepared reader's packs go to
//! SyncTool over one stream ([`crate::sender::stream_task`]) and the stream's
//! end decides the next phase:
//! * the last mode-0 pack accepted → finishing (the work dir stays until
//!   that pack is committed);
//! * `delete_task` → [`TaskLoop::on_drop`] with SyncTool's reason;
//! * a read failure (its failure pack sent after the rows before it) →
//!   retrying when transient, dormant when permanent;
//! * a broken stream → retrying.

use sync_core::proto::datasync::DropReason;
use sync_core::proto::datasync::sync_tool_client::SyncToolClient;
use sync_infra::one_port::MAX_MESSAGE_BYTES;
use sync_infra::store::LocalStore;
use tracing::{info, warn};

use crate::beacon::Answer;
use crate::record::Dormancy;
use crate::sender::{SendEnd, SendSettings, stream_task};
use crate::status::TaskState;
use crate::tablet_client::TabletApi;
use crate::task_run::{Phase, Ready, TaskLoop};
use crate::task_source::TaskSource;

impl<S, T> TaskLoop<S, T>
where
    S: LocalStore + Clone,
    T: TabletApi,
{
    /// The streaming phase (see the module doc).
    pub(crate) async fn streaming(&mut self, ready: Ready) -> Phase {
        let (tid, pid) = self.ids();
        self.status.lock().set_state(TaskState::Streaming);
        let settings = self.env.settings.clone();
        let Ready { ctx, prepared } = ready;
        let source = TaskSource::new(
            self.env.work.clone(),
            self.task.clone(),
            ctx,
            prepared,
            self.status.clone(),
        );
        let mut client = SyncToolClient::new(self.channel.channel())
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
            .max_decoding_message_size(MAX_MESSAGE_BYTES);
        let send = SendSettings {
            tid,
            pid,
            token: self.task.token().to_string(),
            window: settings.window,
            idle_interval: settings.idle_interval,
            tail_interval: settings.tail_interval,
            producer: settings.producer,
        };
        let start = self.tracker.accepted.clone();
        let end = stream_task(
            &mut client,
            &send,
            start,
            source,
            &mut self.tracker,
            self.cancel.clone(),
        )
        .await;
        self.tracker.persist();
        if self.tracker.take_progressed() {
            self.attempts = 0;
        }
        match end {
            SendEnd::Finished => {
                let rows = self.status.lock().rows_sent;
                info!(
                    tid,
                    pid, rows, "the last pack is accepted; finishing once it is committed"
                );
                Phase::Finishing
            }
            SendEnd::Dropped { reason, message } => self.on_drop(reason, message),
            SendEnd::Cancelled => Phase::End(TaskState::Stopped),
            SendEnd::ReadFailed { fault, answer } => {
                warn!(
                    tid,
                    pid,
                    kind = fault.kind_name(),
                    "reading failed: {}",
                    fault.message
                );
                let now = self.now();
                self.status.lock().set_error(fault.message.clone(), now);
                match answer {
                    Some(Answer::Drop {
                        reason, message, ..
                    }) if reason != DropReason::KDropFailed || fault.is_transient() => {
                        self.on_drop(reason, message)
                    }
                    answer if fault.is_transient() => Phase::Retry {
                        cause: fault.message.clone(),
                        fault: Some(fault),
                        announce: answer.is_none(),
                    },
                    answer => Phase::Dormant {
                        why: Dormancy::ReadFailed {
                            kind: fault.kind,
                            message: fault.message,
                        },
                        since_ms: now,
                        announce: answer.is_none(),
                    },
                }
            }
            SendEnd::Transport(e) => {
                warn!(
                    tid,
                    pid,
                    "stream to SyncTool {} broke: {e}",
                    self.task.des_endpoint()
                );
                Phase::Retry {
                    cause: format!("stream to SyncTool {} broke: {e}", self.task.des_endpoint()),
                    fault: None,
                    announce: false,
                }
            }
        }
    }
}
