//! The time zone of day and hour partitions: `UTC` (or `Z`), a fixed offset
//! (`+08:00`, `-0330`, `+05`), or an IANA name (`Asia/Shanghai`) read from
//! the system's time-zone database (`/usr/share/zoneinfo`) through `jiff`.

use jiff::tz::{Offset, TimeZone};

/// A time zone that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "partition_time_zone `{name}`: {reason} (use UTC, a fixed offset like +08:00, or an IANA name like Asia/Shanghai)"
)]
pub struct TimeZoneError {
    /// What was given.
    pub name: String,
    /// Why it cannot be used.
    pub reason: String,
}

/// Parses a time zone.
pub fn parse_time_zone(name: &str) -> Result<TimeZone, TimeZoneError> {
    let text = name.trim();
    let bad = |reason: String| TimeZoneError {
        name: name.to_owned(),
        reason,
    };
    if text.eq_ignore_ascii_case("utc") || text == "Z" {
        return Ok(TimeZone::UTC);
    }
    if let Some(rest) = text.strip_prefix(['+', '-']) {
        let sign = if text.starts_with('-') { -1 } else { 1 };
        let digits: String = rest.chars().filter(|c| *c != ':').collect();
        let colons = rest.matches(':').count();
        let ok_shape = digits.chars().all(|c| c.is_ascii_digit())
            && matches!((digits.len(), colons), (2, 0) | (4, 0) | (4, 1))
            && (colons == 0 || rest.find(':') == Some(2));
        if !ok_shape {
            return Err(bad("not an offset of the form +HH:MM".into()));
        }
        let hours: i32 = digits[..2].parse().map_err(|_| bad("bad hours".into()))?;
        let minutes: i32 = match digits.get(2..) {
            Some(m) if !m.is_empty() => m.parse().map_err(|_| bad("bad minutes".into()))?,
            _ => 0,
        };
        if hours > 18 || minutes > 59 {
            return Err(bad("the offset is out of range (at most ±18:00)".into()));
        }
        let offset = Offset::from_seconds(sign * (hours * 3600 + minutes * 60))
            .map_err(|e| bad(e.to_string()))?;
        return Ok(TimeZone::fixed(offset));
    }
    TimeZone::get(text).map_err(|e| bad(format!("unknown time zone: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset_of(name: &str) -> i32 {
        let tz = parse_time_zone(name).unwrap();
        tz.to_offset(jiff::Timestamp::UNIX_EPOCH).seconds()
    }

    #[test]
    fn offsets_and_names_parse() {
        assert_eq!(offset_of("UTC"), 0);
        assert_eq!(offset_of("utc"), 0);
        assert_eq!(offset_of("+08:00"), 8 * 3600);
        assert_eq!(offset_of("-0330"), -(3 * 3600 + 1800));
        assert_eq!(offset_of("+05"), 5 * 3600);
        for bad in [
            "+8",
            "+08:0",
            "+0800:",
            "+25:00",
            "+08:60",
            "",
            "Nowhere/City",
            "+ab:cd",
        ] {
            let err = parse_time_zone(bad).expect_err(bad);
            assert!(err.to_string().contains("partition_time_zone"), "{err}");
        }
        // IANA names need the system's zoneinfo; where it is installed they work.
        if std::path::Path::new("/usr/share/zoneinfo/Asia/Shanghai").exists() {
            assert_eq!(offset_of("Asia/Shanghai"), 8 * 3600);
        }
    }
}
