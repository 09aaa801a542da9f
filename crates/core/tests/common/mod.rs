//! The supervisor configuration the transition tests share
//! (`task_transitions.rs`, `transitions_data.rs`): a 1 s timeout, segments
//! rolled at 2 rows or 100 ms, 10 bytes of held rows at most (so `Busy` is
//! easy to reach), backoff from 100 ms to 1 s.

use sync_core::task::{Backoff, Config, RollPolicy, TaskOptions};

/// `sync_task.timeout` of the tests.
pub const TIMEOUT: u64 = 1_000;

pub fn config() -> Config {
    Config {
        timeout_ms: TIMEOUT,
        des_endpoint: "st:1".into(),
        defaults: TaskOptions {
            roll: RollPolicy {
                max_rows: 2,
                max_bytes: 1 << 20,
                max_age_ms: 100,
            },
            ..TaskOptions::default()
        },
        max_held_bytes: 10,
        memory_limit: 1 << 30,
        backoff: Backoff {
            base_ms: 100,
            cap_ms: 1_000,
        },
        fail_after_ms: None,
        history_ms: 3_600_000,
        // Every change persisted at once, so each shows in the step that
        // made it (`delayed_persist_*` tests the delay).
        persist_delay_ms: 0,
        fencing: false,
    }
}
