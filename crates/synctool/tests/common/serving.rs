//! A daemon served on a loopback port for the admin tests (`server.rs`,
//! `task_options.rs`), and plain HTTP calls to it.

use std::net::SocketAddr;
use std::time::Duration;

use synctool::client;
use synctool::daemon::{Daemon, server};
use tokio::sync::oneshot;

pub struct Running {
    pub addr: SocketAddr,
    pub daemon: Daemon,
    stop: Option<oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<()>,
}

impl Running {
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.served.await;
        self.daemon.shutdown().await;
    }
}

/// Serves `daemon` on a free loopback port until [`Running::stop`].
pub async fn serve(daemon: Daemon) -> Running {
    let listener = server::bind("127.0.0.1:0").await.unwrap();
    let addr = server::local_addr(&listener).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = daemon.handle();
    let served = tokio::spawn(async move {
        server::serve(listener, handle, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    Running {
        addr,
        daemon,
        stop: Some(stop),
        served,
    }
}

/// One HTTP request: the status code and the body.
pub async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let (server, method, path, body) = (
        addr.to_string(),
        method.to_string(),
        path.to_string(),
        body.to_string(),
    );
    let reply = tokio::task::spawn_blocking(move || {
        client::request(&server, &method, &path, &body, Duration::from_secs(10))
    })
    .await
    .unwrap()
    .unwrap();
    (reply.status, reply.body)
}
