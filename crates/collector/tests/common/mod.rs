//! A SyncTool stand-in for the collector's tests: serves real loopback gRPC
//! and answers each pack with what a [`Judge`] decides, so each test states
//! only its acceptance rule. A gate ([`serve_fake_gated`]) holds every answer
//! while it is closed, as a SyncTool that is slow to take packs.

pub mod collector;

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use sync_core::proto::datasync::sync_tool_server::{SyncTool, SyncToolServer};
use sync_core::proto::datasync::*;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

/// Decides the answer to each pack; `Stream` is per-stream state.
pub trait Judge: Send + Sync + 'static {
    type Stream: Send + Default + 'static;
    fn judge(&self, stream: &mut Self::Stream, pack: &SendDataRequest) -> SendDataResponse;
}

/// An answer: `code` 0 accepts; `delete` tells the collector to drop the task.
pub fn reply(code: i32, delete: bool, committed: Option<SyncPoint>) -> SendDataResponse {
    SendDataResponse {
        response: GeneralResponse {
            code: Some(code),
            msg: Some(if code == 0 { "ok" } else { "refused" }.into()),
        },
        delete_task: Some(delete),
        committed_point: committed,
        resume_point: None,
        drop_reason: None,
    }
}

/// `delete_task` with a reason.
#[allow(dead_code)]
pub fn drop_reply(reason: DropReason, committed: Option<SyncPoint>) -> SendDataResponse {
    SendDataResponse {
        drop_reason: Some(reason as i32),
        ..reply(-1, true, committed)
    }
}

pub struct FakeSyncTool<J> {
    judge: Arc<J>,
    /// Answers wait while this says false.
    gate: Option<tokio::sync::watch::Receiver<bool>>,
}

#[tonic::async_trait]
impl<J: Judge> SyncTool for FakeSyncTool<J> {
    async fn create_sync_task(
        &self,
        _: Request<CreateSyncTaskRequest>,
    ) -> Result<Response<GeneralResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn delete_sync_task(
        &self,
        _: Request<DeleteSyncTaskRequest>,
    ) -> Result<Response<GeneralResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn task_status(
        &self,
        _: Request<TaskStatusRequest>,
    ) -> Result<Response<TaskStatusResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn send_data(
        &self,
        _: Request<SendDataRequest>,
    ) -> Result<Response<SendDataResponse>, Status> {
        Err(Status::unimplemented("streams only in this test"))
    }

    type SendDataStreamStream =
        Pin<Box<dyn Stream<Item = Result<SendDataResponse, Status>> + Send>>;

    async fn send_data_stream(
        &self,
        request: Request<Streaming<SendDataRequest>>,
    ) -> Result<Response<Self::SendDataStreamStream>, Status> {
        let mut packs = request.into_inner();
        let judge = self.judge.clone();
        let mut gate = self.gate.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            let mut stream = J::Stream::default();
            while let Some(Ok(pack)) = packs.next().await {
                if let Some(gate) = gate.as_mut() {
                    let _ = gate.wait_for(|open| *open).await;
                }
                let answer = judge.judge(&mut stream, &pack);
                if tx.send(Ok(answer)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}

/// Serves `judge` on a free loopback port.
#[allow(dead_code)]
pub async fn serve_fake<J: Judge>(judge: Arc<J>) -> SocketAddr {
    serve(FakeSyncTool { judge, gate: None }).await
}

/// Serves `judge`; its answers wait while `gate` is false.
#[allow(dead_code)]
pub async fn serve_fake_gated<J: Judge>(
    judge: Arc<J>,
    gate: tokio::sync::watch::Receiver<bool>,
) -> SocketAddr {
    serve(FakeSyncTool {
        judge,
        gate: Some(gate),
    })
    .await
}

async fn serve<J: Judge>(fake: FakeSyncTool<J>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(SyncToolServer::new(fake))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    addr
}
