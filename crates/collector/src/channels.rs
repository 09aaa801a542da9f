//! Connections to SyncTool shared by the partition tasks.
//!
//! Each task's pack stream is one HTTP/2 stream; with a connection per task,
//! 10,000 partition tasks meant 10,000 TCP connections, each with its own
//! buffers on both sides. The pool lets up to [`STREAMS_PER_CONNECTION`]
//! tasks share a connection to the same SyncTool endpoint (below the
//! server's limit on concurrent streams), and opens up to
//! [`SPREAD_CONNECTIONS`] connections before any is shared, so a table of a
//! few partitions still streams over several connections. A task holds its
//! [`SharedChannel`] for as long as it runs; a connection nobody holds is
//! dropped (closed) the next time the pool is asked for its endpoint.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::transport::Channel;

use crate::task_run::Connector;

/// Pack streams one connection carries at most.
pub const STREAMS_PER_CONNECTION: usize = 64;

/// Connections opened to one endpoint before tasks start sharing them.
pub const SPREAD_CONNECTIONS: usize = 4;

/// The pool; cheap to share behind an `Arc`.
pub struct ChannelPool {
    connect: Connector,
    by_endpoint: Mutex<HashMap<String, Vec<Pooled>>>,
}

struct Pooled {
    channel: Channel,
    /// One clone per task holding this connection, plus the pool's own.
    users: Arc<()>,
}

impl Pooled {
    fn users(&self) -> usize {
        Arc::strong_count(&self.users) - 1
    }
}

/// A task's share of a pooled connection, held while the task runs.
pub struct SharedChannel {
    channel: Channel,
    _user: Arc<()>,
}

impl SharedChannel {
    /// The channel (clones share the connection).
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }
}

impl ChannelPool {
    /// A pool whose connections `connect` opens.
    pub fn new(connect: Connector) -> Self {
        Self {
            connect,
            by_endpoint: Mutex::new(HashMap::new()),
        }
    }

    /// A share of a connection to `endpoint`: the least used one, or a new
    /// one while there are fewer than [`SPREAD_CONNECTIONS`] or every one
    /// carries [`STREAMS_PER_CONNECTION`] streams. `timeout` bounds the
    /// connection attempts of a new connection.
    pub fn get(&self, endpoint: &str, timeout: Duration) -> Result<SharedChannel, String> {
        let mut by_endpoint = self
            .by_endpoint
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let pool = by_endpoint.entry(endpoint.to_string()).or_default();
        pool.retain(|p| p.users() > 0);
        let least = pool.iter().min_by_key(|p| p.users());
        if let Some(p) = least
            && pool.len() >= SPREAD_CONNECTIONS
            && p.users() < STREAMS_PER_CONNECTION
        {
            return Ok(SharedChannel {
                channel: p.channel.clone(),
                _user: p.users.clone(),
            });
        }
        let channel = (self.connect)(endpoint, timeout)?;
        let users = Arc::new(());
        pool.push(Pooled {
            channel: channel.clone(),
            users: users.clone(),
        });
        Ok(SharedChannel {
            channel,
            _user: users,
        })
    }

    /// The streams each open connection to `endpoint` carries (what the
    /// pool's tests check).
    pub fn usage(&self, endpoint: &str) -> Vec<usize> {
        let by_endpoint = self
            .by_endpoint
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        by_endpoint
            .get(endpoint)
            .map(|pool| pool.iter().map(Pooled::users).filter(|u| *u > 0).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting_pool() -> (ChannelPool, Arc<AtomicUsize>) {
        let opened = Arc::new(AtomicUsize::new(0));
        let counter = opened.clone();
        let connect: Connector = Arc::new(move |endpoint: &str, timeout: Duration| {
            counter.fetch_add(1, Ordering::SeqCst);
            crate::task_run::tcp_connector()(endpoint, timeout)
        });
        (ChannelPool::new(connect), opened)
    }

    #[tokio::test]
    async fn tasks_spread_over_a_few_connections_then_share_them_up_to_the_cap() {
        let (pool, opened) = counting_pool();
        let ep = "127.0.0.1:9";
        let t = Duration::from_secs(1);
        let mut held: Vec<SharedChannel> = (0..SPREAD_CONNECTIONS)
            .map(|_| pool.get(ep, t).expect("channel"))
            .collect();
        assert_eq!(opened.load(Ordering::SeqCst), SPREAD_CONNECTIONS);
        for _ in SPREAD_CONNECTIONS..SPREAD_CONNECTIONS * STREAMS_PER_CONNECTION {
            held.push(pool.get(ep, t).expect("channel"));
        }
        assert_eq!(
            opened.load(Ordering::SeqCst),
            SPREAD_CONNECTIONS,
            "shared, not opened"
        );
        assert_eq!(
            pool.usage(ep),
            vec![STREAMS_PER_CONNECTION; SPREAD_CONNECTIONS]
        );
        // Every connection is full: the next task gets a new one.
        held.push(pool.get(ep, t).expect("channel"));
        assert_eq!(opened.load(Ordering::SeqCst), SPREAD_CONNECTIONS + 1);
        // Another endpoint has connections of its own.
        let other = pool.get("127.0.0.1:10", t).expect("channel");
        assert_eq!(opened.load(Ordering::SeqCst), SPREAD_CONNECTIONS + 2);
        drop(other);
        // Tasks that end give their share back; unused connections go.
        held.clear();
        let _again = pool.get(ep, t).expect("channel");
        assert_eq!(pool.usage(ep), vec![1]);
    }

    #[test]
    fn a_bad_endpoint_is_an_error() {
        let (pool, _) = counting_pool();
        assert!(pool.get("not an endpoint", Duration::from_secs(1)).is_err());
    }
}
