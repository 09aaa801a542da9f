//! Free loopback ports for the daemons a test starts.
//!
//! A port is found by binding `127.0.0.1:0` and releasing it; the daemon binds
//! it a moment later. Ports handed out are remembered for the life of the
//! process, so two clusters of one test binary never get the same port.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};

use anyhow::{Context, bail};

fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(|| Mutex::new(HashSet::new()))
}

/// A loopback port nothing listens on and this process has not handed out.
pub fn free_port() -> anyhow::Result<u16> {
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("cannot bind a loopback port")?
            .port();
        let mut seen = handed_out().lock().unwrap_or_else(|p| p.into_inner());
        if seen.insert(port) {
            return Ok(port);
        }
    }
    bail!("no free loopback port after 100 tries")
}

/// `127.0.0.1:<free port>`.
pub fn free_endpoint() -> anyhow::Result<String> {
    Ok(format!("127.0.0.1:{}", free_port()?))
}
