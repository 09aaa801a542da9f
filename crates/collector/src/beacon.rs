//! Packs without rows that travel outside the row stream, and what
//! SyncTool's answers mean.
//!
//! * a **preparing** pack (start = next = the assigned point) keeps the part
//!   alive while the collector prepares;
//! * a **failure** pack says reading failed and how ([`ReadFault`]);
//! * a **heartbeat** (a zero-row pack at the accepted point) is a dormant
//!   task's probe and a finishing task's wait for the commit.
//!
//! Each goes over a short `SendDataStream` of its own (one pack, one answer),
//! so it never waits behind rows. A [`Beacon`] sends one every interval in
//! the background and hands the answers to the task's loop. [`Answer`]
//! classifies every reply, for the row stream too: each carries SyncTool's
//! committed point, and `delete_task` comes with a [`DropReason`].

use std::time::Duration;

use sync_core::point::Point;
use sync_core::proto::datasync::sync_tool_client::SyncToolClient;
use sync_core::proto::datasync::{DropReason, SendDataRequest, SendDataResponse};
use sync_infra::one_port::MAX_MESSAGE_BYTES;
use tokio::sync::mpsc;
use tonic::transport::Channel;

use crate::fault::ReadFault;

/// What a zero-row pack says.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    Preparing,
    Failure(ReadFault),
    Heartbeat,
}

/// The zero-row pack of `signal` for a task at `point`.
pub fn signal_pack(
    tid: u32,
    pid: u32,
    token: &str,
    point: &Point,
    signal: &Signal,
) -> Result<SendDataRequest, String> {
    let at = point
        .to_proto()
        .map_err(|e| format!("the point {point} cannot be sent: {e}"))?;
    Ok(SendDataRequest {
        tid: Some(tid),
        pid: Some(pid),
        start_point: Some(at.clone()),
        count: Some(0),
        token: Some(token.to_string()),
        finished: Some(false),
        next_point: Some(at),
        rows: Some(Vec::new()),
        preparing: matches!(signal, Signal::Preparing).then_some(true),
        failure: match signal {
            Signal::Failure(fault) => Some(fault.to_proto()),
            _ => None,
        },
    })
}

/// What a reply means.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Taken (code 0).
    Accepted { committed: Option<Point> },
    /// Not taken, keep the task (code ≠ 0 without `delete_task`).
    Refused {
        committed: Option<Point>,
        message: String,
    },
    /// The task is over for this collector; `reason` says which links may go.
    Drop {
        reason: DropReason,
        committed: Option<Point>,
        message: String,
    },
}

impl Answer {
    /// Reads a reply.
    pub fn of(reply: &SendDataResponse) -> Self {
        let committed = reply
            .committed_point
            .as_ref()
            .and_then(|p| Point::from_proto(p).ok());
        let message = reply.response.msg().to_string();
        if reply.delete_task() {
            Answer::Drop {
                reason: reply.drop_reason(),
                committed,
                message,
            }
        } else if reply.response.code() == 0 {
            Answer::Accepted { committed }
        } else {
            Answer::Refused { committed, message }
        }
    }

    /// The committed point the reply carries.
    pub fn committed(&self) -> Option<&Point> {
        match self {
            Answer::Accepted { committed }
            | Answer::Refused { committed, .. }
            | Answer::Drop { committed, .. } => committed.as_ref(),
        }
    }
}

/// Sends one pack over a stream of its own and waits (at most `timeout`)
/// for its answer.
pub async fn send_one(
    channel: &Channel,
    pack: SendDataRequest,
    timeout: Duration,
) -> Result<Answer, String> {
    let mut client = SyncToolClient::new(channel.clone())
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let exchange = async {
        let response = client
            .send_data_stream(tokio_stream::once(pack))
            .await
            .map_err(|s| s.to_string())?;
        match response.into_inner().message().await {
            Ok(Some(reply)) => Ok(Answer::of(&reply)),
            Ok(None) => Err("SyncTool closed the stream without an answer".to_string()),
            Err(status) => Err(status.to_string()),
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("SyncTool did not answer within {timeout:?}"))?
}

/// Sends a pack every interval in the background; the answers (or why none
/// came) are read with [`Beacon::next`]. Dropping it stops it.
pub struct Beacon {
    answers: mpsc::Receiver<Result<Answer, String>>,
    task: tokio::task::JoinHandle<()>,
}

impl Beacon {
    /// Sends `pack` after `first_after`, then every `interval`.
    pub fn start(
        channel: Channel,
        pack: SendDataRequest,
        first_after: Duration,
        interval: Duration,
        timeout: Duration,
    ) -> Self {
        let (tx, answers) = mpsc::channel(4);
        let task = tokio::spawn(async move {
            tokio::time::sleep(first_after).await;
            loop {
                let answer = send_one(&channel, pack.clone(), timeout).await;
                if tx.send(answer).await.is_err() {
                    return;
                }
                tokio::time::sleep(interval).await;
            }
        });
        Self { answers, task }
    }

    /// The next answer; pending forever once the beacon has stopped.
    pub async fn next(&mut self) -> Result<Answer, String> {
        match self.answers.recv().await {
            Some(answer) => answer,
            None => std::future::pending().await,
        }
    }
}

impl Drop for Beacon {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_core::proto::datasync::{GeneralResponse, ReadFailureKind};

    #[test]
    fn signal_packs_carry_no_rows_and_answers_are_classified() {
        let at = Point::Binlog { offset: 7 };
        let p = signal_pack(1, 2, "t", &at, &Signal::Preparing).expect("pack");
        assert_eq!((p.count(), p.rows(), p.preparing()), (0, &[][..], true));
        assert_eq!(p.start_point, p.next_point);
        let fault = ReadFault::new(ReadFailureKind::KCorrupt, "binlog x at byte 9");
        let p = signal_pack(1, 2, "t", &at, &Signal::Failure(fault)).expect("pack");
        assert_eq!(
            p.failure.as_ref().map(|f| f.kind()),
            Some(ReadFailureKind::KCorrupt)
        );
        assert!(!p.preparing());

        let reply = |code, delete, reason: Option<DropReason>| SendDataResponse {
            response: GeneralResponse {
                code: Some(code),
                msg: Some("m".into()),
            },
            delete_task: Some(delete),
            committed_point: at.to_proto().ok(),
            resume_point: None,
            drop_reason: reason.map(|r| r as i32),
        };
        assert_eq!(
            Answer::of(&reply(0, false, None)),
            Answer::Accepted {
                committed: Some(at.clone())
            }
        );
        assert!(matches!(
            Answer::of(&reply(-1, false, None)),
            Answer::Refused { .. }
        ));
        let dropped = Answer::of(&reply(-1, true, None));
        assert!(
            matches!(
                dropped,
                Answer::Drop {
                    reason: DropReason::KDropUnspecified,
                    ..
                }
            ),
            "{dropped:?}"
        );
        let dropped = Answer::of(&reply(-1, true, Some(DropReason::KDropReassigned)));
        assert_eq!(dropped.committed(), Some(&at));
    }
}
