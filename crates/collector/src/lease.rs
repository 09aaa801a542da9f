//! Which assignment owns a partition's work dir.
//!
//! A new `AddSyncTask` answers at once and does not wait for the loop it
//! replaces to stop; for a moment two loops of one partition run. Each loop
//! holds a [`Lease`], and everything that changes what the work dir *means*
//! (writing `task.progress` and `task.state`, releasing links, removing the
//! dir) happens only under a lease that is still current. Taking a new lease
//! and writing the new assignment's records is one step under the same lock
//! ([`Leases::take`]), so a replaced loop can never overwrite them or remove
//! the links the new one reads. Hard links may still be added by either loop:
//! linking is idempotent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Key = (u32, u32);

/// One loop's claim on a partition's work dir.
#[derive(Debug, Clone)]
pub struct Lease {
    current: Arc<Mutex<u64>>,
    mine: u64,
}

impl Lease {
    /// A lease nobody else competes for (tests, tools).
    pub fn exclusive() -> Self {
        Self {
            current: Arc::new(Mutex::new(1)),
            mine: 1,
        }
    }

    /// Whether this lease is still the partition's current one.
    pub fn holds(&self) -> bool {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) == self.mine
    }

    /// Runs `f` if this lease is current, with no new lease taken meanwhile;
    /// `None` when it is not current.
    pub fn with<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        (*current == self.mine).then(f)
    }
}

/// The leases of every partition.
#[derive(Debug, Default)]
pub struct Leases {
    partitions: Mutex<HashMap<Key, Arc<Mutex<u64>>>>,
}

impl Leases {
    /// Runs `write` (the new owner's records) and, if it succeeds, makes a
    /// new lease current for `key`, in one step; the old lease stops holding.
    pub fn take<R, E>(
        &self,
        key: Key,
        write: impl FnOnce() -> Result<R, E>,
    ) -> Result<(Lease, R), E> {
        let cell = {
            let mut partitions = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
            partitions.entry(key).or_default().clone()
        };
        let mut current = cell.lock().unwrap_or_else(|p| p.into_inner());
        let written = write()?;
        *current += 1;
        let lease = Lease {
            current: cell.clone(),
            mine: *current,
        };
        Ok((lease, written))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_lease_ends_the_old_one() {
        let leases = Leases::default();
        let (first, ()) = leases.take((1, 0), || Ok::<_, ()>(())).expect("take");
        assert!(first.holds());
        assert_eq!(first.with(|| 5), Some(5));
        let (second, ()) = leases.take((1, 0), || Ok::<_, ()>(())).expect("take");
        assert!(!first.holds());
        assert_eq!(first.with(|| 5), None);
        assert!(second.holds());
        let (other, ()) = leases
            .take((1, 1), || Ok::<_, ()>(()))
            .expect("other partition");
        assert!(second.holds() && other.holds());
        assert!(leases.take((1, 0), || Err::<(), _>("no")).is_err());
        assert!(second.holds(), "a failed write takes no lease");
        assert!(Lease::exclusive().holds());
    }
}
