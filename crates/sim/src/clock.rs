//! Time inside the simulation: milliseconds since a fixed epoch plus the
//! simulated time elapsed, never the wall clock.

use synctool::daemon::clock::Clock;

/// The simulated "now" at the start of every run (ms since the Unix epoch).
pub const EPOCH_MS: u64 = 1_750_000_000_000;

/// Simulated now in ms (the fixed epoch outside a host).
pub fn sim_ms() -> u64 {
    let elapsed = turmoil::sim_elapsed().map_or(0, |d| d.as_millis());
    EPOCH_MS + u64::try_from(elapsed).unwrap_or(u64::MAX - EPOCH_MS)
}

/// SyncTool's [`Clock`] over simulated time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SimClock;

impl Clock for SimClock {
    fn now_ms(&self) -> u64 {
        sim_ms()
    }
}

/// Log timestamps in simulated ms (for `RUST_LOG` output of a replay).
#[derive(Debug, Default, Clone, Copy)]
pub struct SimTimer;

impl tracing_subscriber::fmt::time::FormatTime for SimTimer {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        match turmoil::sim_elapsed() {
            Some(d) => write!(w, "{:>7}ms", d.as_millis()),
            None => write!(w, "      -  "),
        }
    }
}

/// Sends the daemons' logs to stderr, filtered by `RUST_LOG`, stamped with
/// simulated time (does nothing if a subscriber is already set).
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_timer(SimTimer)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
}
