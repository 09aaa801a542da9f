//! Where blocking work runs — encoding a segment, local-file I/O, a state
//! file's atomic write: on tokio's blocking threads (the daemons, so the
//! async threads keep serving other partitions), or inline on the calling
//! task (the deterministic simulation: turmoil steps only what runs on its
//! own runtime, so work on another thread would finish at a wall-clock
//! moment and two runs of one seed would differ).

/// Where blocking work runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Offload {
    /// On tokio's blocking threads (the daemons' choice).
    #[default]
    Threads,
    /// On the calling task (deterministic simulation).
    Inline,
}

/// The blocking thread running the work stopped (it panicked, or the
/// runtime is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the blocking work stopped: {0}")]
pub struct OffloadStopped(String);

impl Offload {
    /// Runs `work` where this says, and waits for it.
    pub async fn run<T: Send + 'static>(
        self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, OffloadStopped> {
        match self {
            Offload::Inline => Ok(work()),
            Offload::Threads => tokio::task::spawn_blocking(work)
                .await
                .map_err(|e| OffloadStopped(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn both_places_return_the_work_s_result() {
        for place in [Offload::Threads, Offload::Inline] {
            assert_eq!(place.run(|| 6 * 7).await.ok(), Some(42));
        }
    }

    #[tokio::test]
    async fn inline_work_runs_on_the_calling_thread() {
        let caller = std::thread::current().id();
        let ran_on = Offload::Inline.run(|| std::thread::current().id()).await;
        assert_eq!(ran_on.ok(), Some(caller));
        let ran_on = Offload::Threads.run(|| std::thread::current().id()).await;
        assert_ne!(ran_on.ok(), Some(caller));
    }

    #[tokio::test]
    async fn a_panic_on_a_blocking_thread_is_an_error_not_a_panic() {
        let stopped = Offload::Threads.run(|| panic!("boom")).await;
        let err = stopped.err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("stopped")));
    }
}
