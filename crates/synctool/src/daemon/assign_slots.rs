//! A bound on the `AddSyncTask` calls in flight to each collector. A table
//! of thousands of partitions assigns thousands of parts at once; a
//! collector's HTTP/2 connection refuses streams past its limit
//! (`ResourceExhausted`), the refused assignments fail and come back as more
//! calls (measured: 53,000 failed calls for 10,000 parts in two minutes).
//! A call past the bound waits for a slot of its collector instead; other
//! collectors' calls do not wait for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// `AddSyncTask` calls in flight to one collector at most.
pub const PER_COLLECTOR: usize = 32;

/// The slots of every collector called so far.
pub struct AssignSlots {
    per_collector: usize,
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl AssignSlots {
    /// At most `per_collector` calls in flight to each collector.
    pub fn new(per_collector: usize) -> Self {
        AssignSlots {
            per_collector: per_collector.max(1),
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a slot of `collector`; the call may go out while the
    /// permit lives. (`None` only if the semaphore were closed, which it
    /// never is: the call goes out then too.)
    pub async fn acquire(&self, collector: &str) -> Option<OwnedSemaphorePermit> {
        let semaphore = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots
                .entry(collector.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_collector)))
                .clone()
        };
        semaphore.acquire_owned().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Runs `calls` calls to each of `collectors`, each holding its slot a
    /// moment; the most calls that were in flight at once, per collector.
    async fn busiest(slots: Arc<AssignSlots>, collectors: &[&str], calls: usize) -> Vec<usize> {
        let counters: Vec<_> = collectors
            .iter()
            .map(|_| (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0))))
            .collect();
        let mut tasks = Vec::new();
        for _ in 0..calls {
            for (name, (now, most)) in collectors.iter().zip(&counters) {
                let (slots, now, most, name) =
                    (slots.clone(), now.clone(), most.clone(), name.to_string());
                tasks.push(tokio::spawn(async move {
                    let _slot = slots.acquire(&name).await;
                    let in_flight = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(in_flight, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                }));
            }
        }
        for t in tasks {
            t.await.expect("task");
        }
        counters
            .iter()
            .map(|(_, most)| most.load(Ordering::SeqCst))
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn calls_to_one_collector_never_exceed_its_slots_and_others_have_their_own() {
        let slots = Arc::new(AssignSlots::new(3));
        let most = busiest(slots, &["a:1", "b:2"], 40).await;
        assert!(most.iter().all(|&m| m <= 3), "in flight at once: {most:?}");
        assert!(
            most.iter().all(|&m| m == 3),
            "each collector used all its slots, independently: {most:?}"
        );
    }
}
