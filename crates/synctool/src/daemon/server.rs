//! One port for both protocols: requests whose content type is
//! `application/grpc…` go to the tonic `SyncTool` service, everything else to
//! the HTTP+JSON admin router (the same paths, as brpc served both). Served
//! by tonic's server with HTTP/1.1 enabled and HTTP/2 keepalive, so a
//! collector notices a dead connection after a partition.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, header};
use sync_proto::datasync::sync_tool_server::SyncToolServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tower::ServiceExt;

use super::grpc::SyncToolGrpc;
use super::handle::SyncToolHandle;
use super::http;

/// Largest accepted gRPC message (a pack).
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;

fn is_grpc(req: &Request<Body>) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// The combined router.
pub fn router(handle: SyncToolHandle) -> axum::Router {
    let grpc = SyncToolServer::new(SyncToolGrpc::new(handle.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let admin = http::router(handle);
    let dispatch = tower::service_fn(move |req: Request<Body>| {
        let grpc = grpc.clone();
        let admin = admin.clone();
        async move {
            if is_grpc(&req) {
                grpc.oneshot(req).await.map(|r| r.map(Body::new))
            } else {
                admin.oneshot(req).await
            }
        }
    });
    axum::Router::new().fallback_service(dispatch)
}

/// Binds `address` (e.g. `0.0.0.0:8848`).
pub async fn bind(address: &str) -> Result<TcpListener, super::StartError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| super::StartError::Listen {
            address: address.to_string(),
            source,
        })
}

/// Serves on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    handle: SyncToolHandle,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let routes = tonic::service::Routes::from(router(handle));
    tonic::transport::Server::builder()
        .accept_http1(true)
        .http2_keepalive_interval(Some(Duration::from_secs(10)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .add_routes(routes)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
}

/// The address a listener is bound to (for tests that bind port 0).
pub fn local_addr(listener: &TcpListener) -> std::io::Result<SocketAddr> {
    listener.local_addr()
}
