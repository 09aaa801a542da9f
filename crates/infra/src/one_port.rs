//! One port for both protocols, as brpc served them: requests whose content
//! type is `application/grpc…` go to the tonic services, everything else to an
//! HTTP router (admin calls, status pages). Served by tonic's server with
//! HTTP/1.1 enabled and HTTP/2 keepalive, so the peer notices a dead
//! connection after a network partition.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, header};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tower::ServiceExt;

/// Largest accepted gRPC message (a pack of rows).
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// Interval and timeout of HTTP/2 keepalive pings.
pub const KEEPALIVE: Duration = Duration::from_secs(10);

/// The receive window of one HTTP/2 stream (a pack stream).
pub const STREAM_WINDOW: u32 = 1 << 20;

/// Streams one connection may carry at once: collectors share a connection
/// among up to 64 partition tasks (`data_collector::channels`); the rest is
/// headroom for admin and unary calls.
pub const MAX_STREAMS: u32 = 256;

/// The receive window of a whole connection: room for 64 streams' windows,
/// so that streams waiting for memory (their data unread) do not hold back
/// the others sharing the connection.
pub const CONNECTION_WINDOW: u32 = 64 * STREAM_WINDOW;

/// How long a shutting-down server lets requests in flight finish before it
/// returns anyway. A collector's pack stream lasts as long as the task, so a
/// graceful shutdown alone would wait for the peer (`bin/start.sh stop` then
/// ends in SIGKILL); cut streams are resumed by the collector from the
/// accepted point.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Opens a gRPC channel to an endpoint (`host:port`) whose connection
/// attempts give up after the timeout: TCP in the daemons
/// ([`tcp_connector`]), the simulated network in the simulation.
pub type Connector =
    Arc<dyn Fn(&str, Duration) -> Result<tonic::transport::Channel, String> + Send + Sync>;

/// A lazily connected TCP channel to `endpoint`, with HTTP/2 keepalive so a
/// connection that died in a network partition is noticed and replaced.
pub fn tcp_channel(endpoint: &str, timeout: Duration) -> Result<tonic::transport::Channel, String> {
    Ok(
        tonic::transport::Endpoint::from_shared(format!("http://{endpoint}"))
            .map_err(|e| format!("endpoint `{endpoint}` is invalid: {e}"))?
            .connect_timeout(timeout)
            .http2_keep_alive_interval(KEEPALIVE)
            .keep_alive_timeout(KEEPALIVE)
            .keep_alive_while_idle(true)
            .connect_lazy(),
    )
}

/// The daemons' connector: [`tcp_channel`].
pub fn tcp_connector() -> Connector {
    Arc::new(tcp_channel)
}

fn is_grpc(req: &Request<Body>) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// Routes gRPC requests to `grpc` (tonic services as a router, e.g.
/// `tonic::service::Routes::new(svc).into_axum_router()`) and the rest to `http`.
pub fn router(grpc: axum::Router, http: axum::Router) -> axum::Router {
    let dispatch = tower::service_fn(move |req: Request<Body>| {
        let grpc = grpc.clone();
        let http = http.clone();
        async move {
            if is_grpc(&req) {
                grpc.oneshot(req).await
            } else {
                http.oneshot(req).await
            }
        }
    });
    axum::Router::new().fallback_service(dispatch)
}

/// Binds `address` (e.g. `0.0.0.0:8848`), naming it on failure.
pub async fn bind(address: &str) -> Result<TcpListener, BindError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| BindError {
            address: address.to_string(),
            source,
        })
}

/// The listen address could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {address}: {source}")]
pub struct BindError {
    pub address: String,
    pub source: std::io::Error,
}

/// Serves `routes` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    routes: axum::Router,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    serve_incoming(TcpListenerStream::new(listener), routes, shutdown).await
}

/// Serves `routes` on the connections of `incoming` (another transport, such
/// as the simulation's network) until `shutdown` completes.
pub async fn serve_incoming<I, IO, IE>(
    incoming: I,
    routes: axum::Router,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error>
where
    I: tokio_stream::Stream<Item = Result<IO, IE>> + Send,
    IO: tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + tonic::transport::server::Connected
        + Unpin
        + Send
        + 'static,
    IO::ConnectInfo: Clone + Send + Sync + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (stopping, mut stopped) = tokio::sync::watch::channel(false);
    let signalled = async move {
        shutdown.await;
        let _ = stopping.send(true);
    };
    let server = tonic::transport::Server::builder()
        .accept_http1(true)
        .http2_keepalive_interval(Some(KEEPALIVE))
        .http2_keepalive_timeout(Some(KEEPALIVE))
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_concurrent_streams(MAX_STREAMS)
        .add_routes(tonic::service::Routes::from(routes))
        .serve_with_incoming_shutdown(incoming, signalled);
    let grace_over = async {
        // An error means the server future (and the sender with it) is gone.
        if stopped.wait_for(|s| *s).await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        served = server => served,
        () = grace_over => Ok(()),
    }
}

/// Completes on SIGINT or (on Unix) SIGTERM, the signals `bin/start.sh stop`
/// and a terminal send.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = interrupt => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = interrupt.await;
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test]
    async fn a_request_that_never_ends_does_not_hold_up_the_shutdown() {
        let hang = axum::Router::new().route(
            "/hang",
            axum::routing::get(std::future::pending::<&'static str>),
        );
        let routes = router(axum::Router::new(), hang);
        let listener = bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, routes, async {
            let _ = stopped.await;
        }));
        let mut client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        client
            .write_all(b"GET /hang HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .expect("request");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let asked = Instant::now();
        let _ = stop.send(());
        let served = tokio::time::timeout(SHUTDOWN_GRACE * 3, server)
            .await
            .expect("the server returns within the grace period, not when the peer hangs up");
        assert!(served.expect("no panic").is_ok());
        assert!(
            asked.elapsed() >= SHUTDOWN_GRACE,
            "requests in flight get the grace"
        );
        drop(client);
    }
}
