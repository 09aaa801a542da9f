//! Flow control of packs with rows against `sink.memory_limit`: a pack
//! stream hands a pack to the drive loop only while the bytes the supervisor
//! holds plus the bytes of packs already queued for the loop stay under
//! three quarters of the limit. Meanwhile the stream is not read, so the
//! collector's sends wait (HTTP/2 flow control) instead of being refused.
//! Counting the queued packs matters: each stream keeps many packs in
//! flight, and a loop that lags behind would otherwise let them all in.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

/// The gate the pack streams pass and the drive loop opens.
pub struct MemoryGate {
    /// Held plus queued bytes may reach this (three quarters of the limit).
    threshold: u64,
    /// The supervisor's held bytes, published by the drive loop after each
    /// input (every publish wakes the waiting streams).
    held: watch::Sender<u64>,
    /// Bytes of admitted packs the drive loop has not taken yet.
    queued: AtomicU64,
}

impl MemoryGate {
    /// A gate that closes at `threshold` bytes held and queued
    /// ([`sync_core::task::Config::flow_control_bytes`]).
    pub fn new(threshold: u64) -> Self {
        MemoryGate {
            threshold,
            held: watch::channel(0).0,
            queued: AtomicU64::new(0),
        }
    }

    /// Waits until a pack of `bytes` bytes of rows fits, and counts it as
    /// queued. A pack always fits when nothing is held or queued (one larger
    /// than the limit must pass some time).
    pub async fn admit(&self, bytes: u64) {
        let mut held = self.held.subscribe();
        loop {
            let now_held = *held.borrow_and_update();
            let queued = self.queued.load(Ordering::Acquire);
            let total = now_held.saturating_add(queued);
            if total == 0 || total.saturating_add(bytes) <= self.threshold {
                if self
                    .queued
                    .compare_exchange(queued, queued + bytes, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return;
                }
                continue;
            }
            if held.changed().await.is_err() {
                return;
            }
        }
    }

    /// The drive loop took an admitted pack of `bytes` bytes off the queue
    /// (or its hand-over failed).
    pub fn taken(&self, bytes: u64) {
        let _ = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                Some(q.saturating_sub(bytes))
            });
    }

    /// The supervisor now holds `bytes`; wakes the waiting streams.
    pub fn publish(&self, bytes: u64) {
        self.held.send_replace(bytes);
    }

    /// Bytes of admitted packs not yet taken by the drive loop.
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn queued_packs_count_until_the_loop_takes_them() {
        let gate = Arc::new(MemoryGate::new(75));
        gate.admit(40).await;
        gate.admit(30).await;
        assert_eq!(gate.queued(), 70);
        // 70 + 10 > 75: waits, although the supervisor holds nothing yet.
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.admit(10).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        // The loop takes both packs, and holds them: still full.
        gate.taken(40);
        gate.taken(30);
        gate.publish(70);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        // A commit frees 60 bytes: the pack passes.
        gate.publish(10);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("admitted")
            .expect("task");
        assert_eq!(gate.queued(), 10);
    }

    #[tokio::test]
    async fn a_pack_larger_than_the_limit_passes_when_nothing_is_held() {
        let gate = MemoryGate::new(75);
        gate.admit(500).await;
        assert_eq!(gate.queued(), 500);
    }
}
