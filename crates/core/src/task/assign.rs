//! Which collector gets a partition, and the tokens that fence assignments.
//!
//! A partition goes to a live collector on the host of its leader tablet (the
//! collector hard-links the tablet's files, so it must share the host). The
//! host is the part of an endpoint before the last `:` (brackets of an IPv6
//! literal are kept), compared as a string, as OpenMLDB does. Among the live
//! collectors on that host the order is by endpoint, bytewise: the first is the
//! one used, the others are standbys, tried in that order when an assignment
//! fails. A collector already holding the part keeps it while it is alive.
//!
//! Tokens come from a seeded generator (splitmix64): the same seed and the
//! same events give the same tokens. Each token also carries the SyncTool
//! epoch (incremented on every recovery) and a counter, so tokens never repeat
//! across restarts even if the seed does.

use std::collections::BTreeSet;

/// The host part of `host:port` (the whole string when there is no port).
pub fn host_of(endpoint: &str) -> &str {
    if endpoint.starts_with('[') {
        // [v6]:port
        return match endpoint.find("]:") {
            Some(end) => &endpoint[..=end],
            None => endpoint,
        };
    }
    match endpoint.rfind(':') {
        Some(colon) if endpoint[..colon].find(':').is_none() => &endpoint[..colon],
        _ => endpoint,
    }
}

/// Live collectors on the leader's host, in the order they are tried,
/// without those in `exclude`.
pub fn candidates<'a>(
    live: &'a BTreeSet<String>,
    tablet_endpoint: &str,
    exclude: &[String],
) -> Vec<&'a str> {
    let host = host_of(tablet_endpoint);
    live.iter()
        .filter(|c| host_of(c) == host && !exclude.contains(c))
        .map(String::as_str)
        .collect()
}

/// Whether any live collector is on the leader's host.
pub fn host_has_collector(live: &BTreeSet<String>, tablet_endpoint: &str) -> bool {
    !candidates(live, tablet_endpoint, &[]).is_empty()
}

/// Deterministic token generator.
#[derive(Clone, Debug)]
pub struct TokenSource {
    state: u64,
    epoch: u64,
    counter: u64,
}

impl TokenSource {
    /// A generator for SyncTool epoch `epoch`, seeded by the daemon.
    pub fn new(seed: u64, epoch: u64) -> Self {
        Self {
            state: seed ^ epoch.rotate_left(32),
            epoch,
            counter: 0,
        }
    }

    /// The next 64 pseudo-random bits (splitmix64).
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A fresh token, unique within this epoch and across epochs.
    pub fn next_token(&mut self) -> String {
        self.counter += 1;
        let random = self.next_u64();
        format!("{:x}-{:x}-{random:016x}", self.epoch, self.counter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_the_part_before_the_port() {
        assert_eq!(host_of("10.0.0.1:9527"), "10.0.0.1");
        assert_eq!(host_of("tablet-a:1"), "tablet-a");
        assert_eq!(host_of("noport"), "noport");
        assert_eq!(host_of("[::1]:80"), "[::1]");
        assert_eq!(host_of("::1"), "::1");
    }

    #[test]
    fn collectors_on_the_leader_host_are_ordered_by_endpoint() {
        let live: BTreeSet<String> = ["h1:3", "h2:1", "h1:2", "h10:1"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(candidates(&live, "h1:9", &[]), vec!["h1:2", "h1:3"]);
        assert_eq!(candidates(&live, "h1:9", &["h1:2".into()]), vec!["h1:3"]);
        assert!(candidates(&live, "h3:9", &[]).is_empty());
        assert!(host_has_collector(&live, "h10:5"));
    }

    #[test]
    fn tokens_are_deterministic_and_differ_across_epochs() {
        let mut a = TokenSource::new(7, 1);
        let mut b = TokenSource::new(7, 1);
        let ta: Vec<_> = (0..3).map(|_| a.next_token()).collect();
        let tb: Vec<_> = (0..3).map(|_| b.next_token()).collect();
        assert_eq!(ta, tb);
        assert_eq!(ta.iter().collect::<BTreeSet<_>>().len(), 3);
        let mut c = TokenSource::new(7, 2);
        assert!(!ta.contains(&c.next_token()));
    }
}
