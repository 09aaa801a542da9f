//! Snapshot checkpoint names: `YYYYMMDDHHMM` (a tablet uses local time with
//! the seconds dropped; the emulator uses UTC).

use std::time::{SystemTime, UNIX_EPOCH};

/// The name for a time in ms since the epoch.
pub fn snapshot_name(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// The name for now.
pub fn snapshot_name_now() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    snapshot_name(ms)
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_minutes() {
        assert_eq!(snapshot_name(0), "197001010000");
        // 2023-11-14T22:13:20Z
        assert_eq!(snapshot_name(1_700_000_000_000), "202311142213");
        // 2024-02-29T23:59:59Z
        assert_eq!(snapshot_name(1_709_251_199_000), "202402292359");
    }
}
