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
