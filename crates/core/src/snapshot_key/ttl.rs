//! An index's TTL (`common.TTLSt`) and the expiry rule a snapshot traversal
//! applies. `abs_ttl` is stored in **minutes**; `lat_ttl` counts the newest
//! rows kept per pk. A zero limit disables that half of the rule.

use sync_proto::common::TtlSt;
use sync_proto::types::TtlType;

/// The TTL kind; `kRelativeTime` (unused by OpenMLDB storage) and unknown
/// numbers are treated as [`TtlKind::Absolute`], as the tablet does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TtlKind {
    /// Rows older than `abs` minutes expire.
    #[default]
    Absolute,
    /// Only the newest `lat` rows of each pk are kept.
    Latest,
    /// Expired when both limits say so.
    AbsAndLat,
    /// Expired when either limit says so.
    AbsOrLat,
}

/// An index's TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ttl {
    /// How the two limits combine.
    pub kind: TtlKind,
    /// Absolute TTL in minutes (0 = none).
    pub abs_minutes: u64,
    /// Latest-N TTL (0 = none).
    pub lat: u64,
}

impl Ttl {
    /// No expiry at all.
    pub const NONE: Ttl = Ttl {
        kind: TtlKind::Absolute,
        abs_minutes: 0,
        lat: 0,
    };

    /// From the proto; a missing TTL never expires.
    pub fn from_proto(ttl: Option<&TtlSt>) -> Ttl {
        let Some(ttl) = ttl else { return Ttl::NONE };
        let kind = match TtlType::try_from(ttl.ttl_type.unwrap_or(TtlType::KAbsoluteTime as i32)) {
            Ok(TtlType::KLatestTime) => TtlKind::Latest,
            Ok(TtlType::KAbsAndLat) => TtlKind::AbsAndLat,
            Ok(TtlType::KAbsOrLat) => TtlKind::AbsOrLat,
            _ => TtlKind::Absolute,
        };
        Ttl {
            kind,
            abs_minutes: ttl.abs_ttl.unwrap_or(0),
            lat: ttl.lat_ttl.unwrap_or(0),
        }
    }

    /// To the proto.
    pub fn to_proto(&self) -> TtlSt {
        let ty = match self.kind {
            TtlKind::Absolute => TtlType::KAbsoluteTime,
            TtlKind::Latest => TtlType::KLatestTime,
            TtlKind::AbsAndLat => TtlType::KAbsAndLat,
            TtlKind::AbsOrLat => TtlType::KAbsOrLat,
        };
        TtlSt {
            ttl_type: Some(ty as i32),
            abs_ttl: Some(self.abs_minutes),
            lat_ttl: Some(self.lat),
        }
    }

    /// The expiry checker at wall-clock time `now_ms`.
    pub fn checker(&self, now_ms: u64) -> ExpiryChecker {
        let abs_ms = self.abs_minutes.saturating_mul(60_000);
        let expire_before = if abs_ms == 0 {
            0
        } else {
            now_ms.saturating_sub(abs_ms)
        };
        ExpiryChecker {
            kind: self.kind,
            expire_before,
            lat: self.lat,
        }
    }
}

/// The TTL rule with the absolute limit turned into a ts bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryChecker {
    kind: TtlKind,
    /// A ts `<=` this is past the absolute TTL (0 = no absolute TTL).
    expire_before: u64,
    lat: u64,
}

impl ExpiryChecker {
    /// Whether a row with `ts`, the `record_idx`-th (1-based) row of its pk in
    /// iteration order, is expired.
    pub fn is_expired(&self, ts: u64, record_idx: u64) -> bool {
        let abs = self.expire_before != 0 && ts <= self.expire_before;
        let lat = self.lat != 0 && record_idx > self.lat;
        match self.kind {
            TtlKind::Absolute => abs,
            TtlKind::Latest => lat,
            TtlKind::AbsAndLat => self.expire_before != 0 && self.lat != 0 && abs && lat,
            TtlKind::AbsOrLat => abs || lat,
        }
    }

    /// Whether nothing can expire under this rule.
    pub fn is_unlimited(&self) -> bool {
        match self.kind {
            TtlKind::Absolute => self.expire_before == 0,
            TtlKind::Latest => self.lat == 0,
            TtlKind::AbsAndLat => self.expire_before == 0 || self.lat == 0,
            TtlKind::AbsOrLat => self.expire_before == 0 && self.lat == 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 10 * 60_000;

    fn ttl(kind: TtlKind, abs_minutes: u64, lat: u64) -> ExpiryChecker {
        Ttl {
            kind,
            abs_minutes,
            lat,
        }
        .checker(NOW)
    }

    #[test]
    fn absolute_expires_at_or_before_the_bound() {
        let c = ttl(TtlKind::Absolute, 2, 0);
        assert!(c.is_expired(NOW - 2 * 60_000, 1));
        assert!(!c.is_expired(NOW - 2 * 60_000 + 1, 1));
        assert!(!ttl(TtlKind::Absolute, 0, 0).is_expired(0, 1));
        assert!(ttl(TtlKind::Absolute, 0, 0).is_unlimited());
    }

    #[test]
    fn latest_keeps_the_first_n() {
        let c = ttl(TtlKind::Latest, 0, 2);
        assert!(!c.is_expired(0, 2));
        assert!(c.is_expired(u64::MAX, 3));
    }

    #[test]
    fn combined_kinds() {
        let old = NOW - 5 * 60_000;
        let and = ttl(TtlKind::AbsAndLat, 1, 1);
        assert!(!and.is_expired(old, 1));
        assert!(!and.is_expired(NOW, 2));
        assert!(and.is_expired(old, 2));
        assert!(!ttl(TtlKind::AbsAndLat, 0, 1).is_expired(old, 5));
        let or = ttl(TtlKind::AbsOrLat, 1, 1);
        assert!(or.is_expired(old, 1));
        assert!(or.is_expired(NOW, 2));
        assert!(!or.is_expired(NOW, 1));
        assert!(ttl(TtlKind::AbsOrLat, 0, 1).is_expired(NOW, 2));
    }

    #[test]
    fn proto_round_trip_and_defaults() {
        let t = Ttl {
            kind: TtlKind::AbsOrLat,
            abs_minutes: 3,
            lat: 4,
        };
        assert_eq!(Ttl::from_proto(Some(&t.to_proto())), t);
        assert_eq!(Ttl::from_proto(None), Ttl::NONE);
        let relative = TtlSt {
            ttl_type: Some(TtlType::KRelativeTime as i32),
            abs_ttl: Some(1),
            lat_ttl: None,
        };
        assert_eq!(Ttl::from_proto(Some(&relative)).kind, TtlKind::Absolute);
    }
}
