//! Where one candidate stands in a coordinator election held with
//! ZooKeeper's ephemeral sequential nodes (`FAULTS.md` §4).
//!
//! Every SyncTool creates one node `c-<sequence>` under the election
//! directory per ZooKeeper session. The candidate with the lowest sequence is
//! the coordinator; every other candidate watches only the candidate just
//! before it (its predecessor), so one candidate leaving wakes one other, not
//! all of them (no herd). When the predecessor goes, the watcher looks again:
//! it is either the lowest now, or it watches the next one before it.
//!
//! [`standing`] is that decision, as a pure function of the directory's
//! children, so that the ZooKeeper adapter, the simulation's fake and the
//! property tests share it.

/// The prefix of a candidate node's name; the sequence follows it.
pub const CANDIDATE_PREFIX: &str = "c-";

/// A candidate's place in the election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// The lowest live candidate: the coordinator.
    Leads,
    /// Not the lowest: watch `predecessor` (a child's name), the candidate
    /// with the highest sequence below this one's.
    Follows {
        /// The node to watch.
        predecessor: String,
    },
    /// This candidate's node is not among the children (its session ended,
    /// or it was never created): it must create a new one.
    Absent,
}

/// The sequence number of a candidate node's name, `None` for a name that is
/// not a candidate's (other children are ignored).
pub fn sequence(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(CANDIDATE_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Where the candidate `mine` stands among `children` (names, in any order).
pub fn standing(children: &[String], mine: &str) -> Standing {
    let Some(my_seq) = sequence(mine) else {
        return Standing::Absent;
    };
    if !children.iter().any(|c| c == mine) {
        return Standing::Absent;
    }
    let predecessor = children
        .iter()
        .filter_map(|c| sequence(c).map(|s| (s, c)))
        .filter(|(s, _)| *s < my_seq)
        .max_by_key(|(s, _)| *s);
    match predecessor {
        None => Standing::Leads,
        Some((_, name)) => Standing::Follows {
            predecessor: name.clone(),
        },
    }
}

/// The coordinator's node among `children`: the candidate with the lowest
/// sequence, `None` when there is no candidate.
pub fn leader(children: &[String]) -> Option<&str> {
    children
        .iter()
        .filter_map(|c| sequence(c).map(|s| (s, c.as_str())))
        .min_by_key(|(s, _)| *s)
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(seqs: &[u64]) -> Vec<String> {
        seqs.iter()
            .map(|s| format!("{CANDIDATE_PREFIX}{s:010}"))
            .collect()
    }

    #[test]
    fn the_lowest_leads_and_the_others_watch_the_one_before() {
        let children = names(&[7, 3, 12]);
        assert_eq!(standing(&children, "c-0000000003"), Standing::Leads);
        assert_eq!(
            standing(&children, "c-0000000007"),
            Standing::Follows {
                predecessor: "c-0000000003".into()
            }
        );
        assert_eq!(
            standing(&children, "c-0000000012"),
            Standing::Follows {
                predecessor: "c-0000000007".into()
            }
        );
        assert_eq!(leader(&children), Some("c-0000000003"));
    }

    #[test]
    fn a_missing_node_or_a_foreign_child_is_handled() {
        let mut children = names(&[1, 2]);
        children.push("lock".into());
        children.push("c-".into());
        children.push("c-12x".into());
        assert_eq!(standing(&children, "c-0000000005"), Standing::Absent);
        assert_eq!(standing(&children, "lock"), Standing::Absent);
        assert_eq!(standing(&children, "c-0000000001"), Standing::Leads);
        assert_eq!(leader(&children), Some("c-0000000001"));
        assert_eq!(leader(&["lock".to_string()]), None);
    }

    proptest! {
        /// Exactly one candidate leads; the others' predecessors form one
        /// chain from the highest down to the leader, each link watched by
        /// exactly one candidate.
        #[test]
        fn one_leader_and_one_chain(seqs in proptest::collection::btree_set(0u64..1_000_000, 1..40)) {
            let seqs: Vec<u64> = seqs.into_iter().collect();
            let children = names(&seqs);
            let standings: Vec<Standing> = children.iter().map(|c| standing(&children, c)).collect();
            let leaders = standings.iter().filter(|s| **s == Standing::Leads).count();
            prop_assert_eq!(leaders, 1);
            let lowest = format!("{CANDIDATE_PREFIX}{:010}", seqs[0]);
            prop_assert_eq!(leader(&children), Some(lowest.as_str()));
            let mut watched: Vec<&str> = standings.iter().filter_map(|s| match s {
                Standing::Follows { predecessor } => Some(predecessor.as_str()),
                _ => None,
            }).collect();
            watched.sort_unstable();
            let mut expected: Vec<&str> = children[..children.len() - 1].iter().map(String::as_str).collect();
            expected.sort_unstable();
            prop_assert_eq!(watched, expected);
        }
    }
}
