//! The gRPC service `openmldb.datasync.SyncTool` (tonic): the admin calls
//! and the data path. `SendDataStream` reads a collector's packs in order,
//! hands each to the drive loop without waiting for the previous reply (up to
//! [`STREAM_WINDOW`] in flight) and answers them in the same order.

use std::pin::Pin;

use sync_proto::datasync::sync_tool_server::SyncTool;
use sync_proto::datasync::{
    CreateSyncTaskRequest, DeleteSyncTaskRequest, GeneralResponse, SendDataRequest,
    SendDataResponse, TaskStatusRequest, TaskStatusResponse,
};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::debug;

use super::handle::{PendingPack, SyncToolHandle};

/// Packs of one stream handed to the drive loop but not yet answered.
pub const STREAM_WINDOW: usize = 64;

/// The service.
#[derive(Clone)]
pub struct SyncToolGrpc {
    handle: SyncToolHandle,
}

impl SyncToolGrpc {
    /// Serves `handle`.
    pub fn new(handle: SyncToolHandle) -> Self {
        Self { handle }
    }
}

type ReplyStream = Pin<Box<dyn Stream<Item = Result<SendDataResponse, Status>> + Send>>;

#[tonic::async_trait]
impl SyncTool for SyncToolGrpc {
    async fn create_sync_task(
        &self,
        request: Request<CreateSyncTaskRequest>,
    ) -> Result<Response<GeneralResponse>, Status> {
        Ok(Response::new(
            self.handle.create(request.into_inner()).await,
        ))
    }

    async fn delete_sync_task(
        &self,
        request: Request<DeleteSyncTaskRequest>,
    ) -> Result<Response<GeneralResponse>, Status> {
        Ok(Response::new(
            self.handle.delete(request.into_inner()).await,
        ))
    }

    async fn task_status(
        &self,
        request: Request<TaskStatusRequest>,
    ) -> Result<Response<TaskStatusResponse>, Status> {
        Ok(Response::new(
            self.handle.task_status(request.into_inner()).await,
        ))
    }

    async fn send_data(
        &self,
        request: Request<SendDataRequest>,
    ) -> Result<Response<SendDataResponse>, Status> {
        Ok(Response::new(
            self.handle.send_data(request.into_inner()).await,
        ))
    }

    type SendDataStreamStream = ReplyStream;

    async fn send_data_stream(
        &self,
        request: Request<Streaming<SendDataRequest>>,
    ) -> Result<Response<Self::SendDataStreamStream>, Status> {
        let mut inbound = request.into_inner();
        let (pending_tx, mut pending_rx) =
            mpsc::channel::<Result<PendingPack, Status>>(STREAM_WINDOW);
        let (out_tx, out_rx) = mpsc::channel::<Result<SendDataResponse, Status>>(STREAM_WINDOW);
        let handle = self.handle.clone();
        tokio::spawn(async move {
            loop {
                let next = match inbound.message().await {
                    Ok(Some(req)) => Ok(handle.submit_pack(req).await),
                    Ok(None) => break,
                    Err(status) => Err(status),
                };
                let stop = next.is_err();
                if pending_tx.send(next).await.is_err() || stop {
                    break;
                }
            }
            debug!("pack stream closed by the collector");
        });
        tokio::spawn(async move {
            while let Some(pending) = pending_rx.recv().await {
                let reply = match pending {
                    Ok(p) => Ok(p.resolve().await),
                    Err(status) => Err(status),
                };
                if out_tx.send(reply).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(out_rx))))
    }
}
