//! SyncTool's port: the tonic `SyncTool` service and the HTTP+JSON admin
//! router on one port (see [`sync_infra::one_port`]).

use std::future::Future;
use std::net::SocketAddr;

use sync_infra::one_port::{self, MAX_MESSAGE_BYTES};
use sync_proto::datasync::sync_tool_server::SyncToolServer;
use tokio::net::TcpListener;

use super::grpc::SyncToolGrpc;
use super::handle::SyncToolHandle;
use super::http;

/// The combined router.
pub fn router(handle: SyncToolHandle) -> axum::Router {
    let grpc = SyncToolServer::new(SyncToolGrpc::new(handle.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let grpc = tonic::service::Routes::new(grpc).into_axum_router();
    one_port::router(grpc, http::router(handle))
}

/// Binds `address` (e.g. `0.0.0.0:8848`).
pub async fn bind(address: &str) -> Result<TcpListener, super::StartError> {
    one_port::bind(address)
        .await
        .map_err(|e| super::StartError::Listen {
            address: e.address,
            source: e.source,
        })
}

/// Serves on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    handle: SyncToolHandle,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    one_port::serve(listener, router(handle), shutdown).await
}

/// The address a listener is bound to (for tests that bind port 0).
pub fn local_addr(listener: &TcpListener) -> std::io::Result<SocketAddr> {
    listener.local_addr()
}
