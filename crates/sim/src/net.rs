//! The daemons' gRPC over turmoil's simulated network.
//!
//! * servers: [`incoming`] turns a turmoil listener into the connection
//!   stream `sync_infra::one_port::serve_incoming` takes; [`SimStream`] is
//!   the connection (tonic needs [`Connected`] on it);
//! * clients: [`channel`] is a lazily connected tonic channel to a turmoil
//!   `host:port`, with HTTP/2 keepalive (without it a connection whose bytes
//!   were dropped by a partition is never found dead); [`HttpConnector`]
//!   opens the connections of a hyper client (the tablet client's HTTP/1.1).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, TcpConnectInfo};
use tonic::transport::{Channel, Endpoint, Uri};

/// Interval and timeout of the simulated clients' HTTP/2 keepalive pings.
pub const KEEPALIVE: Duration = Duration::from_secs(1);

/// A server-side connection.
pub struct SimStream(pub turmoil::net::TcpStream);

impl Connected for SimStream {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        TcpConnectInfo {
            local_addr: self.0.local_addr().ok(),
            remote_addr: self.0.peer_addr().ok(),
        }
    }
}

impl hyper_util::client::legacy::connect::Connection for SimStream {
    fn connected(&self) -> hyper_util::client::legacy::connect::Connected {
        hyper_util::client::legacy::connect::Connected::new()
    }
}

impl AsyncRead for SimStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Binds `0.0.0.0:port` on the current host and yields its connections
/// (call inside a host; the accept loop ends with the host).
pub async fn incoming(port: u16) -> io::Result<ReceiverStream<io::Result<SimStream>>> {
    let listener = turmoil::net::TcpListener::bind(("0.0.0.0", port)).await?;
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let next = listener.accept().await.map(|(s, _)| SimStream(s));
            if tx.send(next).await.is_err() {
                return;
            }
        }
    });
    Ok(ReceiverStream::new(rx))
}

/// A lazily connected channel to the turmoil address `target` (`host:port`);
/// calls fail after `timeout` when nothing answers.
pub fn channel(target: &str, timeout: Duration) -> Result<Channel, String> {
    let endpoint = Endpoint::from_shared(format!("http://{target}"))
        .map_err(|e| format!("bad simulated endpoint `{target}`: {e}"))?
        .connect_timeout(timeout)
        .http2_keep_alive_interval(KEEPALIVE)
        .keep_alive_timeout(KEEPALIVE)
        .keep_alive_while_idle(true);
    Ok(
        endpoint.connect_with_connector_lazy(tower::service_fn(|uri: Uri| async move {
            let authority = uri
                .authority()
                .map(|a| a.as_str().to_string())
                .ok_or_else(|| io::Error::other(format!("no authority in {uri}")))?;
            let stream = turmoil::net::TcpStream::connect(authority).await?;
            Ok::<_, io::Error>(TokioIo::new(stream))
        })),
    )
}

/// A hyper connector whose connections go over turmoil's network to the
/// URI's `host:port`.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpConnector;

impl tower::Service<Uri> for HttpConnector {
    type Response = TokioIo<SimStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TokioIo<SimStream>>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(async move {
            let authority = uri
                .authority()
                .map(|a| a.as_str().to_string())
                .ok_or_else(|| io::Error::other(format!("no authority in {uri}")))?;
            let stream = turmoil::net::TcpStream::connect(authority).await?;
            Ok(TokioIo::new(SimStream(stream)))
        })
    }
}
