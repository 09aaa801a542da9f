//! Waiting for a condition with a deadline: a probe is polled until it says
//! [`Check::Done`], fails, or the timeout passes. A timeout names what was
//! awaited and the probe's last observation.

use std::time::{Duration, Instant};

use anyhow::bail;

/// What a probe saw.
#[derive(Debug)]
pub enum Check<T> {
    /// The condition holds; the wait returns this value.
    Done(T),
    /// Not yet; the note describes what was seen (for the timeout message).
    NotYet(String),
}

/// Default poll interval.
pub const POLL: Duration = Duration::from_millis(50);

/// Polls `probe` every [`POLL`] until it returns `Done` (its value is
/// returned), an error (returned at once), or `timeout` passes.
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    probe: impl FnMut() -> anyhow::Result<Check<T>>,
) -> anyhow::Result<T> {
    wait_every(what, timeout, POLL, probe)
}

/// [`wait_until`] with a poll interval.
pub fn wait_every<T>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut probe: impl FnMut() -> anyhow::Result<Check<T>>,
) -> anyhow::Result<T> {
    let start = Instant::now();
    loop {
        let last = match probe()? {
            Check::Done(value) => return Ok(value),
            Check::NotYet(note) => note,
        };
        if start.elapsed() >= timeout {
            bail!(
                "timed out after {:.1}s waiting for {what}; last seen: {last}",
                timeout.as_secs_f64()
            );
        }
        std::thread::sleep(every);
    }
}
