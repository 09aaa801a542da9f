//! A task's read rate: rows and bytes sent per second over the last
//! [`WINDOW_MS`], from the cumulative counters sampled at each accepted pack.
//! The status page and `/metrics` show it; a task that sends nothing decays to
//! zero once its last sample leaves the window.

use std::collections::VecDeque;

/// How far back the rate looks.
pub const WINDOW_MS: u64 = 10_000;

/// One sample: the counters at a wall-clock ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sample {
    at_ms: u64,
    rows: u64,
    bytes: u64,
}

/// The samples of the last window, plus the newest one before it (the base
/// the window's growth is measured from).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadRate {
    samples: VecDeque<Sample>,
}

/// Rows and bytes per second.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rate {
    pub rows_per_s: f64,
    pub bytes_per_s: f64,
}

impl ReadRate {
    /// A rate that starts counting at `at_ms` from zero (the task's start).
    pub fn starting_at(at_ms: u64) -> Self {
        let mut rate = ReadRate::default();
        rate.record(at_ms, 0, 0);
        rate
    }

    /// Records the cumulative counters at `at_ms` and forgets samples that no
    /// longer matter for any `now >= at_ms`.
    pub fn record(&mut self, at_ms: u64, rows: u64, bytes: u64) {
        self.samples.push_back(Sample { at_ms, rows, bytes });
        self.forget_before(at_ms);
    }

    fn forget_before(&mut self, now_ms: u64) {
        let start = now_ms.saturating_sub(WINDOW_MS);
        // Keep one sample at or before the window's start as the base.
        while self.samples.len() > 1 && self.samples[1].at_ms <= start {
            self.samples.pop_front();
        }
    }

    /// The rate over the window ending at `now_ms`: the growth since the base
    /// sample (the newest one at or before the window's start, else the
    /// oldest) divided by the time since it. Zero without two points in time.
    pub fn at(&self, now_ms: u64) -> Rate {
        let start = now_ms.saturating_sub(WINDOW_MS);
        let base = self
            .samples
            .iter()
            .take_while(|s| s.at_ms <= start)
            .last()
            .or_else(|| self.samples.front());
        let (Some(base), Some(last)) = (base, self.samples.back()) else {
            return Rate::default();
        };
        let span_ms = now_ms.saturating_sub(base.at_ms);
        if span_ms == 0 {
            return Rate::default();
        }
        let per_s = |grown: u64| grown as f64 * 1000.0 / span_ms as f64;
        Rate {
            rows_per_s: per_s(last.rows.saturating_sub(base.rows)),
            bytes_per_s: per_s(last.bytes.saturating_sub(base.bytes)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_sender_shows_its_rate_and_an_idle_one_decays_to_zero() {
        let mut rate = ReadRate::starting_at(0);
        // 1,000 rows (100 kB) per second for 30 s.
        for s in 1..=30u64 {
            rate.record(s * 1000, s * 1000, s * 100_000);
        }
        let now = rate.at(30_000);
        assert!((now.rows_per_s - 1000.0).abs() < 1e-9, "{now:?}");
        assert!((now.bytes_per_s - 100_000.0).abs() < 1e-6, "{now:?}");
        assert!(rate.samples.len() <= 12, "old samples are forgotten");
        // 5 s without a pack: the last 5 s of the window grew nothing.
        let idle = rate.at(35_000);
        assert!((idle.rows_per_s - 500.0).abs() < 1e-9, "{idle:?}");
        assert_eq!(rate.at(41_000).rows_per_s, 0.0, "idle for a whole window");
    }

    #[test]
    fn a_young_task_is_measured_from_its_start_and_nothing_is_zero() {
        assert_eq!(ReadRate::default().at(5_000), Rate::default());
        let mut rate = ReadRate::starting_at(1_000);
        assert_eq!(rate.at(1_000), Rate::default(), "no time has passed");
        rate.record(3_000, 400, 4_000);
        let r = rate.at(5_000);
        assert!((r.rows_per_s - 100.0).abs() < 1e-9, "{r:?}");
        assert!((r.bytes_per_s - 1_000.0).abs() < 1e-9, "{r:?}");
    }
}
