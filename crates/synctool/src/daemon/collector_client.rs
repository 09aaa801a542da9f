//! Outbound calls to DataCollectors: `DataCollector.AddSyncTask`, behind a
//! small trait so tests can use a fake. [`GrpcCollectorClient`] is the tonic
//! client: one lazily connected channel per collector (through a
//! [`Connector`]: TCP in the daemon, the simulated network in the
//! simulation), each call bounded by `request.timeout`, never retried here
//! (the supervisor decides retries).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use sync_infra::one_port::{Connector, tcp_connector};
use sync_proto::datasync::AddSyncTaskRequest;
use sync_proto::datasync::data_collector_client::DataCollectorClient;
use tonic::transport::Channel;

use sync_core::task::AssignFailure;

use super::BoxFuture;

/// Calls collectors.
pub trait CollectorClient: Send + Sync + 'static {
    /// `AddSyncTask` on `collector` (`ip:port`); `Err` says whether it could
    /// not be reached or refused, naming the collector and the cause.
    fn add_sync_task(
        &self,
        collector: String,
        request: AddSyncTaskRequest,
    ) -> BoxFuture<'_, Result<(), AssignFailure>>;
}

/// The tonic client.
pub struct GrpcCollectorClient {
    timeout: Duration,
    connect: Connector,
    channels: Mutex<HashMap<String, Channel>>,
}

impl GrpcCollectorClient {
    /// A client over TCP whose calls time out after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self::with_connector(timeout, tcp_connector())
    }

    /// A client reaching collectors through `connect`.
    pub fn with_connector(timeout: Duration, connect: Connector) -> Self {
        Self {
            timeout,
            connect,
            channels: Mutex::new(HashMap::new()),
        }
    }

    fn channel(&self, collector: &str) -> Result<Channel, AssignFailure> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = channels.get(collector) {
            return Ok(c.clone());
        }
        let channel =
            (self.connect)(collector, self.timeout).map_err(|message| AssignFailure::Refused {
                collector: collector.to_owned(),
                message,
            })?;
        channels.insert(collector.to_string(), channel.clone());
        Ok(channel)
    }
}

impl CollectorClient for GrpcCollectorClient {
    fn add_sync_task(
        &self,
        collector: String,
        request: AddSyncTaskRequest,
    ) -> BoxFuture<'_, Result<(), AssignFailure>> {
        Box::pin(async move {
            let channel = self.channel(&collector)?;
            let mut client = DataCollectorClient::new(channel);
            let call = client.add_sync_task(request);
            let reply = match tokio::time::timeout(self.timeout, call).await {
                Err(_) => {
                    return Err(AssignFailure::Unreachable {
                        message: format!("timed out after {:?}", self.timeout),
                        collector,
                    });
                }
                Ok(Err(status)) => {
                    return Err(AssignFailure::Unreachable {
                        message: format!("{} ({:?})", status.message(), status.code()),
                        collector,
                    });
                }
                Ok(Ok(reply)) => reply.into_inner(),
            };
            answer(collector, reply)
        })
    }
}

/// An `AddSyncTask` reply as the supervisor's result.
pub fn answer(
    collector: String,
    reply: sync_proto::datasync::GeneralResponse,
) -> Result<(), AssignFailure> {
    match reply.code {
        Some(0) => Ok(()),
        code => Err(AssignFailure::Refused {
            message: format!(
                "code {}: {}",
                code.unwrap_or(-1),
                reply.msg.unwrap_or_default()
            ),
            collector,
        }),
    }
}
