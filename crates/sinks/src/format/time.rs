//! Calendar arithmetic for dates and timestamps, independent of any time zone
//! (proleptic Gregorian, UTC; Howard Hinnant's `days_from_civil`).

use sync_core::row::Date;

/// Milliseconds per day.
const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (days since 1970-01-01).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Whether a date exists in the calendar (OpenMLDB only checks day ≤ 31).
pub fn is_calendar_date(date: &Date) -> bool {
    let (y, m, d) = (
        i64::from(date.year),
        u32::from(date.month),
        u32::from(date.day),
    );
    (1..=12).contains(&m) && d >= 1 && civil_from_days(days_from_civil(y, m, d)) == (y, m, d)
}

/// Days since the epoch of a date, or `None` if it is not a calendar date.
pub fn date_to_days(date: &Date) -> Option<i32> {
    is_calendar_date(date)
        .then(|| days_from_civil(i64::from(date.year), date.month.into(), date.day.into()))
        .and_then(|d| i32::try_from(d).ok())
}

/// Appends `ms` (milliseconds since the epoch) as ISO-8601 UTC,
/// `YYYY-MM-DDTHH:MM:SS.mmmZ`. Years outside 0..=9999 get a sign and at least
/// four digits (ISO 8601 expanded form), e.g. `-0001-…` or `+12345-…`.
pub fn push_iso8601_utc(out: &mut String, ms: i64) {
    use std::fmt::Write;
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    // Writing to a String cannot fail.
    let _ = if (0..=9999).contains(&y) {
        write!(
            out,
            "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z"
        )
    } else {
        write!(
            out,
            "{y:+05}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z"
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_instants() {
        let iso = |ms| {
            let mut s = String::new();
            push_iso8601_utc(&mut s, ms);
            s
        };
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso(253_402_300_800_000), "+10000-01-01T00:00:00.000Z");
        assert_eq!(iso(-62_167_219_200_001), "-0001-12-31T23:59:59.999Z");
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1900, 1, 1), -25_567);
        assert!(!is_calendar_date(&Date {
            year: 2021,
            month: 2,
            day: 29
        }));
        assert!(is_calendar_date(&Date {
            year: 2024,
            month: 2,
            day: 29
        }));
    }

    proptest! {
        #[test]
        fn days_round_trip(days in -4_000_000i64..4_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
