//! Which SyncTool worker owns which partition task, and how the coordinator
//! changes that (`FAULTS.md` §4): a sticky, balanced assignment.
//!
//! The coordinator keeps one [`PartOwner`] record per partition task (in
//! ZooKeeper, versioned) and, whenever the live workers or the set of parts
//! change, asks [`plan`] for the [`Move`]s to make. The rules:
//!
//! 1. **Orphans first, all at once.** A part whose owner is not live (its
//!    session ended) or that has no owner goes to the live worker with the
//!    fewest parts (ties: the lowest endpoint). No budget: every orphan is
//!    placed in the same round, so a dead worker's parts move within one
//!    coordinator round.
//! 2. **Sticky.** A live worker keeps its parts; nothing else moves a part.
//! 3. **Gradual balance.** Only when a worker holds more than one part above
//!    the least loaded one is a part moved, at most `max_balance_moves` per
//!    round (a joining worker fills up over several rounds), always from the
//!    most loaded worker (ties: the highest endpoint) to the least loaded;
//!    the part moved is the most loaded worker's last one (highest key).
//! 4. **Fenced.** Every move carries `epoch = previous epoch + 1`: the record
//!    is rewritten with a compare-and-set on its version, so a move made
//!    from a stale view fails, and the previous owner, holding the old epoch,
//!    can no longer commit (the commit check compares epochs).
//!
//! With no live worker nothing moves (parts wait for one).

use std::collections::{BTreeMap, BTreeSet};

/// A partition task: `(tid, pid)`.
pub type PartKey = (u32, u32);

/// Who owns a partition task, and the epoch it owns it with.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct PartOwner {
    /// The worker's endpoint; empty = nobody.
    #[prost(string, tag = "1")]
    pub worker: String,
    /// Bumped at every change of owner (`FAULTS.md` §4). Standalone
    /// SyncTools commit with epoch 1.
    #[prost(uint64, tag = "2")]
    pub epoch: u64,
}

impl PartOwner {
    /// Protobuf encoding (the ZooKeeper node's data).
    pub fn to_bytes(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(self)
    }

    /// Decodes what [`PartOwner::to_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, prost::DecodeError> {
        <Self as prost::Message>::decode(bytes)
    }
}

/// One change of owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// The part.
    pub part: PartKey,
    /// Its owner before (`None`: no record, or nobody).
    pub from: Option<String>,
    /// Its owner after.
    pub to: String,
    /// The new epoch (the previous one + 1).
    pub epoch: u64,
    /// Why: an orphan placed, or a balancing move.
    pub reason: MoveReason,
}

/// Why a part moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveReason {
    /// It had no live owner.
    Orphan,
    /// Its owner held too many parts.
    Balance,
    /// A SyncTool took it for the tasks it runs (created or recovered there).
    Claim,
}

/// The moves that make `owners` (every part's current record; a part
/// without one is absent or has an empty worker) sticky and balanced over
/// `live` workers. `parts` is the set of partition tasks that exist: records
/// of other parts are ignored.
pub fn plan(
    parts: &BTreeSet<PartKey>,
    owners: &BTreeMap<PartKey, PartOwner>,
    live: &BTreeSet<String>,
    max_balance_moves: usize,
) -> Vec<Move> {
    if live.is_empty() {
        return Vec::new();
    }
    // Each live worker's parts, after this round's moves so far.
    let mut held: BTreeMap<&str, BTreeSet<PartKey>> =
        live.iter().map(|w| (w.as_str(), BTreeSet::new())).collect();
    let mut orphans = Vec::new();
    for part in parts {
        match owners.get(part) {
            Some(o) if live.contains(&o.worker) => {
                held.entry(o.worker.as_str()).or_default().insert(*part);
            }
            _ => orphans.push(*part),
        }
    }
    let mut moves = Vec::new();
    for part in orphans {
        let to = least_loaded(&held);
        held.entry(to).or_default().insert(part);
        moves.push(Move {
            reason: MoveReason::Orphan,
            ..claim(part, owners.get(&part), to)
        });
    }
    for _ in 0..max_balance_moves {
        let to = least_loaded(&held);
        let from = most_loaded(&held);
        let (low, high) = (held[to].len(), held[from].len());
        if high <= low + 1 {
            break;
        }
        let Some(part) = held.get_mut(from).and_then(|p| p.pop_last()) else {
            break;
        };
        held.entry(to).or_default().insert(part);
        // A part placed as an orphan this round is never moved again in it
        // (orphans go to the least loaded, so it cannot be on the most loaded
        // worker while another is two below); its record still counts.
        moves.push(Move {
            from: Some(from.to_string()),
            reason: MoveReason::Balance,
            ..claim(part, owners.get(&part), to)
        });
    }
    moves
}

/// The move that gives `part` to `worker` at the next epoch, from its
/// record (`None`: no record, epoch 1): a SyncTool claiming the parts of the
/// tasks it runs.
pub fn claim(part: PartKey, record: Option<&PartOwner>, worker: &str) -> Move {
    Move {
        part,
        from: record
            .filter(|o| !o.worker.is_empty())
            .map(|o| o.worker.clone()),
        to: worker.to_string(),
        epoch: record.map_or(0, |o| o.epoch) + 1,
        reason: MoveReason::Claim,
    }
}

/// The worker with the fewest parts (ties: the lowest endpoint).
fn least_loaded<'a>(held: &BTreeMap<&'a str, BTreeSet<PartKey>>) -> &'a str {
    held.iter()
        .min_by_key(|(w, p)| (p.len(), *w))
        .map(|(w, _)| *w)
        .unwrap_or_default()
}

/// The worker with the most parts (ties: the highest endpoint).
fn most_loaded<'a>(held: &BTreeMap<&'a str, BTreeSet<PartKey>>) -> &'a str {
    held.iter()
        .max_by_key(|(w, p)| (p.len(), *w))
        .map(|(w, _)| *w)
        .unwrap_or_default()
}

/// `owners` after `moves` (what the records hold once every move's
/// compare-and-set succeeded).
pub fn apply(owners: &mut BTreeMap<PartKey, PartOwner>, moves: &[Move]) {
    for m in moves {
        owners.insert(
            m.part,
            PartOwner {
                worker: m.to.clone(),
                epoch: m.epoch,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn workers(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn parts(n: u32) -> BTreeSet<PartKey> {
        (0..n).map(|pid| (1, pid)).collect()
    }

    fn counts(owners: &BTreeMap<PartKey, PartOwner>) -> BTreeMap<String, usize> {
        let mut c = BTreeMap::new();
        for o in owners.values() {
            *c.entry(o.worker.clone()).or_default() += 1;
        }
        c
    }

    #[test]
    fn first_placement_spreads_parts_evenly_with_epoch_1() {
        let moves = plan(&parts(5), &BTreeMap::new(), &workers(&["a", "b"]), 0);
        assert_eq!(moves.len(), 5);
        assert!(
            moves
                .iter()
                .all(|m| m.epoch == 1 && m.from.is_none() && m.reason == MoveReason::Orphan)
        );
        let mut owners = BTreeMap::new();
        apply(&mut owners, &moves);
        assert_eq!(
            counts(&owners),
            BTreeMap::from([("a".into(), 3), ("b".into(), 2)])
        );
    }

    #[test]
    fn a_dead_workers_parts_all_move_in_one_round_and_the_rest_stay() {
        let mut owners = BTreeMap::new();
        let first = plan(&parts(6), &owners, &workers(&["a", "b", "c"]), 0);
        apply(&mut owners, &first);
        let before = owners.clone();
        let moves = plan(&parts(6), &owners, &workers(&["a", "c"]), 0);
        assert_eq!(moves.len(), 2, "{moves:?}");
        for m in &moves {
            assert_eq!(m.from.as_deref(), Some("b"));
            assert_eq!(m.epoch, before[&m.part].epoch + 1);
            assert_eq!(m.reason, MoveReason::Orphan);
        }
        apply(&mut owners, &moves);
        for (part, o) in &before {
            if o.worker != "b" {
                assert_eq!(owners[part], *o, "a live worker keeps its parts");
            }
        }
        assert_eq!(
            counts(&owners),
            BTreeMap::from([("a".into(), 3), ("c".into(), 3)])
        );
    }

    #[test]
    fn a_joining_worker_fills_up_gradually() {
        let mut owners = BTreeMap::new();
        let first = plan(&parts(8), &owners, &workers(&["a"]), 1);
        apply(&mut owners, &first);
        let live = workers(&["a", "b"]);
        let mut rounds = 0;
        loop {
            let moves = plan(&parts(8), &owners, &live, 1);
            if moves.is_empty() {
                break;
            }
            assert_eq!(moves.len(), 1, "one balancing move per round");
            assert_eq!(moves[0].reason, MoveReason::Balance);
            assert_eq!(moves[0].from.as_deref(), Some("a"));
            apply(&mut owners, &moves);
            rounds += 1;
        }
        assert_eq!(rounds, 4);
        assert_eq!(
            counts(&owners),
            BTreeMap::from([("a".into(), 4), ("b".into(), 4)])
        );
    }

    #[test]
    fn without_live_workers_nothing_moves_and_records_round_trip() {
        assert!(plan(&parts(3), &BTreeMap::new(), &BTreeSet::new(), 4).is_empty());
        let owner = PartOwner {
            worker: "10.0.0.1:8848".into(),
            epoch: 7,
        };
        assert_eq!(PartOwner::from_bytes(&owner.to_bytes()), Ok(owner));
        assert!(PartOwner::from_bytes(&[0xff]).is_err());
    }

    /// A step of the model: workers come and go, parts are added and
    /// removed, and the coordinator runs one round of `plan`.
    #[derive(Debug, Clone)]
    enum Step {
        Join(u8),
        Leave(u8),
        AddParts(u8),
        DropPart(u8),
        Round,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u8..6).prop_map(Step::Join),
            (0u8..6).prop_map(Step::Leave),
            (1u8..20).prop_map(Step::AddParts),
            any::<u8>().prop_map(Step::DropPart),
            Just(Step::Round),
            Just(Step::Round),
        ]
    }

    proptest! {
        /// After every round: each part is owned by a live worker (when any
        /// is live); a live owner's part moves only to balance, at most
        /// `budget` such moves per round, and only from a worker more than
        /// one above the least loaded; epochs only grow, by one per move.
        /// Rounds without changes converge to counts within one of each other.
        #[test]
        fn sticky_balanced_and_fenced(steps in proptest::collection::vec(step(), 1..60), budget in 1usize..4) {
            let mut live = BTreeSet::new();
            let mut all = BTreeSet::new();
            let mut next_pid = 0u32;
            let mut owners: BTreeMap<PartKey, PartOwner> = BTreeMap::new();
            for s in steps {
                match s {
                    Step::Join(w) => { live.insert(format!("w{w}")); }
                    Step::Leave(w) => { live.remove(&format!("w{w}")); }
                    Step::AddParts(n) => for _ in 0..n {
                        all.insert((next_pid % 3, next_pid));
                        next_pid += 1;
                    },
                    Step::DropPart(i) => {
                        if let Some(p) = all.iter().nth(usize::from(i) % all.len().max(1)).copied() {
                            all.remove(&p);
                        }
                    }
                    Step::Round => {
                        let moves = plan(&all, &owners, &live, budget);
                        let balance: Vec<&Move> = moves.iter().filter(|m| m.reason == MoveReason::Balance).collect();
                        prop_assert!(balance.len() <= budget);
                        for m in &moves {
                            prop_assert!(live.contains(&m.to));
                            prop_assert_eq!(m.epoch, owners.get(&m.part).map_or(0, |o| o.epoch) + 1);
                            let owned_live = owners.get(&m.part).is_some_and(|o| live.contains(&o.worker));
                            prop_assert_eq!(owned_live, m.reason == MoveReason::Balance, "only orphans move without balancing: {:?}", m);
                        }
                        apply(&mut owners, &moves);
                        if !live.is_empty() {
                            for p in &all {
                                prop_assert!(owners.get(p).is_some_and(|o| live.contains(&o.worker)), "{:?} has no live owner", p);
                            }
                        }
                    }
                }
            }
            if !live.is_empty() {
                for _ in 0..=all.len() {
                    let moves = plan(&all, &owners, &live, budget);
                    if moves.is_empty() { break; }
                    apply(&mut owners, &moves);
                }
                prop_assert!(plan(&all, &owners, &live, budget).is_empty(), "converges");
                let mut count: BTreeMap<&str, usize> = live.iter().map(|w| (w.as_str(), 0)).collect();
                for p in &all {
                    *count.entry(owners[p].worker.as_str()).or_default() += 1;
                }
                let (min, max) = (count.values().min().copied().unwrap_or(0), count.values().max().copied().unwrap_or(0));
                prop_assert!(max <= min + 1, "balanced: {:?}", count);
            }
        }
    }
}
