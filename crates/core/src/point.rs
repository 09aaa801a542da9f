//! Sync points: where a partition's stream stands, how points are ordered, and
//! the exact rule for continuing a stream on another snapshot.
//!
//! # The point
//!
//! A partition's stream is the rows of one snapshot in the snapshot's iteration
//! order (index-0 `pk` bytewise ascending, then `ts` descending, see [`RowKey`]),
//! followed by the binlog in `log_index` order. A [`Point`] names the next item
//! to read (inclusive); the exclusive end of a pack is the start of the next.
//!
//! * `Snapshot { snapshot_offset: O, key: K, catch_up_from: None }` — every row
//!   with key `< K` has been emitted *as of offset `O`* (its state at `O` plus
//!   every put up to `O`); rows with key `>= K` are to be read from the snapshot
//!   whose offset is `O`. `key: None` is the start of the snapshot (nothing
//!   emitted yet).
//! * `Snapshot { snapshot_offset: O, key: K, catch_up_from: Some(i) }` — keys
//!   `< K` are covered up to `i - 1 < O`; the binlog entries `i..=O` with key `< K`
//!   are being emitted ("catch-up") before the snapshot `O` is read from `K`.
//! * `Binlog { offset: i }` — everything up to log index `i - 1` is covered; read
//!   the binlog from `i`.
//!
//! `snapshot_offset` is the **effective** offset of a snapshot (see
//! [`effective_offset`]): OpenMLDB reads its MANIFEST offset *before* it takes
//! the RocksDB checkpoint, so a checkpoint can hold the effect of a few binlog
//! entries after the MANIFEST offset. The effective offset `O*` is the largest
//! log index whose put is visible in the snapshot; the snapshot then holds
//! exactly the state after entries `1..=O*`, so `O*` both identifies the content
//! and is where the binlog resumes (`O* + 1`). That removes the overlap window:
//! no entry in `(O, O*]` is emitted twice. Two snapshots with the same effective
//! offset hold the same state and are interchangeable.
//!
//! # What is emitted (the per-key guarantee)
//!
//! For every key `k = (pk, ts)`, the output holds the version of `k` that was
//! live in the snapshot `k` was read from (if any) plus every later put to `k` up
//! to the cut-off, each exactly once. In particular, when no key is written twice,
//! the output is exactly every put up to the cut-off. Binlog deletes are not
//! propagated (as in OpenMLDB); deletes and TTL only decide which rows a
//! snapshot holds.
//!
//! # The hand-off rule
//!
//! A task that resumes from `Snapshot { O1, K, catch_up_from: c }` where the data
//! available on the collector's host is a snapshot with effective offset `O2` and
//! a binlog starting at `first` ([`plan_read`]). Let `covered = c - 1` if `c` is
//! set, else `O1` (keys `< K` are emitted up to `covered`).
//!
//! 1. `O2 == covered`: the same content; read the snapshot from `K`.
//! 2. `O2 > covered`: **catch up**, then read. Emit the binlog entries
//!    `e` with `covered < e.log_index <= O2` and `key(e) < K` (those keys were
//!    read from an older state and these are later puts to them), then the
//!    snapshot `O2` rows with key `>= K`, then the binlog from `O2 + 1`. Entries in
//!    `(covered, O2]` with key `>= K` are not emitted: the snapshot `O2` already
//!    holds their effect. Needs `first <= covered + 1`, else
//!    [`HandOffError::BinlogGone`].
//! 3. `O2 < covered`: the snapshot is older than what was emitted for keys `< K`;
//!    using it would emit some puts twice. [`HandOffError::SnapshotBehind`]: the
//!    collector refuses the assignment (the tablet must make a newer snapshot,
//!    then the part is retried).
//! 4. No snapshot at all while `K` is set: [`HandOffError::SnapshotGone`].
//!
//! `Snapshot { key: None }` (nothing emitted) starts from whatever snapshot is
//! there, or from binlog index 1 when the partition has none.
//! `Binlog { offset: i }` needs `first <= i` ([`HandOffError::BinlogGone`]).
//!
//! A resume whose data is gone is never "approximated": no rule here silently
//! skips or repeats a row. The supervisor marks such a part FAILED with the
//! error's text as reason.
//!
//! # Worked example
//!
//! Puts (log index: key=value), keys `a < b < c < d` (one ts each):
//! `1: a=a1, 2: c=c1, 3: b=b1, 4: a=a2, 5: d=d1, 6: c=c2`.
//!
//! Snapshot S1 has MANIFEST offset 2 but its checkpoint also caught entry 3:
//! it holds `{a=a1, b=b1, c=c1}`. The overlap scan finds entry 3's value in S1,
//! entry 4's not, so `O1* = 3`.
//!
//! A collector emits `a1, b1` in a pack; the committed point is
//! `Snapshot { 3, key: c, None }`. The tablet then replaces S1 by S2, made at
//! offset 5: `{a=a2, b=b1, c=c1, d=d1}` (`O2* = 5`), and the task moves there.
//! Case 2 applies (`5 > 3`):
//!
//! * catch-up: entries 4..=5 with key `< c`: `4: a=a2` (emitted), `5: d`
//!   skipped (`d >= c`, S2 holds it);
//! * then S2 from `c`: `c1, d1`;
//! * then the binlog from 6: `c2`.
//!
//! Output `a1, b1, a2, c1, d1, c2`: every put exactly once. Reading S2 from `c`
//! without the catch-up would lose `a2`; reading the binlog from 4 after S2
//! would emit `d1` twice.
//!
//! # Conversion
//!
//! [`Point`] converts to and from the protobuf [`SyncPoint`] without loss:
//! `catch_up_from` travels in `offset` of a snapshot point, field presence is
//! kept, and a point converted back is equal to the original. Malformed
//! combinations are refused with [`PointError`].

use std::cmp::Ordering;
use std::fmt;

use sync_proto::datasync::{SyncPoint, SyncType};

/// The index-0 key of a stored row: the dimension value and the ts. Ordered as
/// the snapshot iterates: `pk` bytewise ascending, then `ts` descending.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct RowKey {
    /// The index-0 dimension key, raw bytes.
    pub pk: Vec<u8>,
    /// The index-0 ts.
    pub ts: u64,
}

impl RowKey {
    /// A key from its parts.
    pub fn new(pk: impl Into<Vec<u8>>, ts: u64) -> Self {
        Self { pk: pk.into(), ts }
    }
}

impl Ord for RowKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.pk.cmp(&other.pk).then_with(|| other.ts.cmp(&self.ts))
    }
}

impl PartialOrd for RowKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A position inside a snapshot (see the module doc).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct SnapshotPoint {
    /// The effective offset of the snapshot the position refers to. `None` only
    /// in points written by OpenMLDB, which do not name their snapshot.
    pub snapshot_offset: Option<u64>,
    /// The next key to read; `None` = the start.
    pub key: Option<RowKey>,
    /// Set while catching up: the next binlog index to scan for keys `< key`.
    pub catch_up_from: Option<u64>,
}

/// The next item of a partition's stream, inclusive.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Point {
    /// Inside a snapshot (or catching up before reading one).
    Snapshot(SnapshotPoint),
    /// Inside the binlog: the next log index.
    Binlog {
        /// The next `log_index` to read.
        offset: u64,
    },
}

/// Why a protobuf `SyncPoint` is not a valid point, or a point has no protobuf form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PointError {
    /// `type` is neither kSNAPSHOT nor kBINLOG.
    #[error("sync point has unknown type {0}")]
    UnknownType(i32),
    /// A binlog point without `offset`.
    #[error("binlog sync point without offset")]
    BinlogWithoutOffset,
    /// A binlog point with snapshot fields.
    #[error("binlog sync point carries snapshot fields (pk, ts or snapshot_offset)")]
    BinlogWithSnapshotFields,
    /// `pk` and `ts` must be both present or both absent.
    #[error("snapshot sync point has only one of pk and ts")]
    HalfKey,
    /// A catch-up (`offset` on a snapshot point) needs a key and a snapshot.
    #[error("snapshot sync point with offset needs pk, ts and snapshot_offset")]
    CatchUpWithoutKey,
    /// The protobuf `pk` is a string; this key is not UTF-8.
    #[error("pk {0:?} is not UTF-8 and cannot travel in SyncPoint.pk (a proto string)")]
    PkNotUtf8(Vec<u8>),
}

impl Point {
    /// The start of a partition: the first row of whatever snapshot there is.
    pub fn start() -> Self {
        Point::Snapshot(SnapshotPoint::default())
    }

    /// Reading the snapshot with effective offset `snapshot_offset` at `key`.
    pub fn in_snapshot(snapshot_offset: u64, key: Option<RowKey>) -> Self {
        Point::Snapshot(SnapshotPoint {
            snapshot_offset: Some(snapshot_offset),
            key,
            catch_up_from: None,
        })
    }

    /// Catching up towards snapshot `target` for keys `< below`, next index
    /// `next`; once `next > target` this is the plain snapshot point at `below`.
    pub fn catching_up(target: u64, below: RowKey, next: u64) -> Self {
        Point::Snapshot(SnapshotPoint {
            snapshot_offset: Some(target),
            key: Some(below),
            catch_up_from: (next <= target).then_some(next),
        })
    }

    /// The switch after the last row of the snapshot with effective offset `offset`.
    pub fn after_snapshot(snapshot_offset: u64) -> Self {
        Point::Binlog {
            offset: snapshot_offset.saturating_add(1),
        }
    }

    /// Whether this is the very start (nothing emitted).
    pub fn is_start(&self) -> bool {
        matches!(self, Point::Snapshot(SnapshotPoint { key: None, .. }))
    }

    /// Order of two points of one partition's stream, as progress. Points inside
    /// different snapshots are not comparable (`None`); every snapshot point is
    /// before every binlog point.
    pub fn progress_cmp(&self, other: &Point) -> Option<Ordering> {
        match (self, other) {
            (Point::Binlog { offset: a }, Point::Binlog { offset: b }) => Some(a.cmp(b)),
            (Point::Snapshot(_), Point::Binlog { .. }) => Some(Ordering::Less),
            (Point::Binlog { .. }, Point::Snapshot(_)) => Some(Ordering::Greater),
            (Point::Snapshot(a), Point::Snapshot(b)) => {
                match (&a.key, &b.key) {
                    (None, None) => return Some(Ordering::Equal),
                    (None, Some(_)) => return Some(Ordering::Less),
                    (Some(_), None) => return Some(Ordering::Greater),
                    (Some(_), Some(_)) => {}
                }
                if a.snapshot_offset != b.snapshot_offset {
                    return None;
                }
                // Same key: a catch-up comes before the read at that key.
                let phase = |p: &SnapshotPoint| match p.catch_up_from {
                    Some(i) => (0u8, i),
                    None => (1u8, 0),
                };
                Some(a.key.cmp(&b.key).then_with(|| phase(a).cmp(&phase(b))))
            }
        }
    }

    /// The protobuf form. Fails only for a pk that is not UTF-8.
    pub fn to_proto(&self) -> Result<SyncPoint, PointError> {
        Ok(match self {
            Point::Binlog { offset } => SyncPoint {
                r#type: SyncType::KBinlog as i32,
                pk: None,
                ts: None,
                offset: Some(*offset),
                snapshot_offset: None,
            },
            Point::Snapshot(p) => {
                let (pk, ts) = match &p.key {
                    Some(k) => (
                        Some(
                            String::from_utf8(k.pk.clone())
                                .map_err(|e| PointError::PkNotUtf8(e.into_bytes()))?,
                        ),
                        Some(k.ts),
                    ),
                    None => (None, None),
                };
                SyncPoint {
                    r#type: SyncType::KSnapshot as i32,
                    pk,
                    ts,
                    offset: p.catch_up_from,
                    snapshot_offset: p.snapshot_offset,
                }
            }
        })
    }

    /// From the protobuf form, refusing combinations no reader produces.
    pub fn from_proto(p: &SyncPoint) -> Result<Self, PointError> {
        match SyncType::try_from(p.r#type) {
            Ok(SyncType::KBinlog) => {
                if p.pk.is_some() || p.ts.is_some() || p.snapshot_offset.is_some() {
                    return Err(PointError::BinlogWithSnapshotFields);
                }
                let offset = p.offset.ok_or(PointError::BinlogWithoutOffset)?;
                Ok(Point::Binlog { offset })
            }
            Ok(SyncType::KSnapshot) => {
                let key = match (&p.pk, p.ts) {
                    (Some(pk), Some(ts)) => Some(RowKey::new(pk.as_bytes(), ts)),
                    (None, None) => None,
                    _ => return Err(PointError::HalfKey),
                };
                if p.offset.is_some() && (key.is_none() || p.snapshot_offset.is_none()) {
                    return Err(PointError::CatchUpWithoutKey);
                }
                Ok(Point::Snapshot(SnapshotPoint {
                    snapshot_offset: p.snapshot_offset,
                    key,
                    catch_up_from: p.offset,
                }))
            }
            Err(_) => Err(PointError::UnknownType(p.r#type)),
        }
    }
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Point::Binlog { offset } => write!(f, "binlog@{offset}"),
            Point::Snapshot(p) => {
                write!(f, "snapshot")?;
                if let Some(o) = p.snapshot_offset {
                    write!(f, "[{o}]")?;
                }
                match &p.key {
                    None => write!(f, "@start")?,
                    Some(k) => write!(f, "@{}/{}", String::from_utf8_lossy(&k.pk), k.ts)?,
                }
                if let Some(i) = p.catch_up_from {
                    write!(f, "+catch-up@{i}")?;
                }
                Ok(())
            }
        }
    }
}

/// What a collector has on its host for a partition.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Available {
    /// Effective offset of the snapshot it can read, if any.
    pub snapshot_offset: Option<u64>,
    /// The oldest log index still readable; every index from here to the end is
    /// there. `end + 1` when the binlog is empty.
    pub binlog_first: u64,
}

/// How a collector reads from a point with the data it has (the hand-off rule).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ReadPlan {
    /// Read the snapshot from `from` (inclusive; `None` = the start), then the
    /// binlog from `snapshot_offset + 1`.
    Snapshot {
        /// Effective offset of the snapshot to read.
        snapshot_offset: u64,
        /// First key to read.
        from: Option<RowKey>,
    },
    /// Emit the binlog entries `from..=snapshot_offset` whose key is `< below`,
    /// then read the snapshot from `below`.
    CatchUp {
        /// Effective offset of the snapshot read after the catch-up.
        snapshot_offset: u64,
        /// Only keys below this are emitted during the catch-up.
        below: RowKey,
        /// First log index to scan.
        from: u64,
    },
    /// Read the binlog from `from`.
    Binlog {
        /// First log index.
        from: u64,
    },
}

/// A point that cannot be continued exactly with the data at hand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandOffError {
    /// Binlog entries that must be read are deleted.
    #[error(
        "binlog from log index {needed} is needed but the oldest available is {first_available}"
    )]
    BinlogGone {
        /// The first index that must be read.
        needed: u64,
        /// The oldest index present.
        first_available: u64,
    },
    /// The only snapshot is older than the emitted state of the keys before the point.
    #[error(
        "snapshot at offset {available} is older than the committed position (keys emitted up to offset {covered}); a newer snapshot is needed"
    )]
    SnapshotBehind {
        /// Offset up to which the keys before the point are emitted.
        covered: u64,
        /// Effective offset of the snapshot at hand.
        available: u64,
    },
    /// The point is inside a snapshot but the host has none.
    #[error("the point is inside a snapshot but the host has no snapshot")]
    SnapshotGone,
    /// An OpenMLDB point inside a snapshot that does not name its snapshot.
    #[error("snapshot point without snapshot_offset cannot be continued exactly")]
    UnnamedSnapshot,
}

/// The hand-off rule (module doc): how to continue `point` with `available`.
pub fn plan_read(point: &Point, available: &Available) -> Result<ReadPlan, HandOffError> {
    let binlog_from = |needed: u64| {
        if available.binlog_first <= needed {
            Ok(())
        } else {
            Err(HandOffError::BinlogGone {
                needed,
                first_available: available.binlog_first,
            })
        }
    };
    match point {
        Point::Binlog { offset } => {
            binlog_from(*offset)?;
            Ok(ReadPlan::Binlog { from: *offset })
        }
        Point::Snapshot(SnapshotPoint { key: None, .. }) => match available.snapshot_offset {
            Some(snapshot_offset) => Ok(ReadPlan::Snapshot {
                snapshot_offset,
                from: None,
            }),
            None => {
                binlog_from(1)?;
                Ok(ReadPlan::Binlog { from: 1 })
            }
        },
        Point::Snapshot(SnapshotPoint {
            snapshot_offset,
            key: Some(key),
            catch_up_from,
        }) => {
            let named = snapshot_offset.ok_or(HandOffError::UnnamedSnapshot)?;
            let covered = match catch_up_from {
                Some(next) => next.saturating_sub(1).min(named),
                None => named,
            };
            let target = available
                .snapshot_offset
                .ok_or(HandOffError::SnapshotGone)?;
            match target.cmp(&covered) {
                Ordering::Equal => Ok(ReadPlan::Snapshot {
                    snapshot_offset: target,
                    from: Some(key.clone()),
                }),
                Ordering::Greater => {
                    binlog_from(covered + 1)?;
                    Ok(ReadPlan::CatchUp {
                        snapshot_offset: target,
                        below: key.clone(),
                        from: covered + 1,
                    })
                }
                Ordering::Less => Err(HandOffError::SnapshotBehind {
                    covered,
                    available: target,
                }),
            }
        }
    }
}

/// The effective offset of a snapshot whose MANIFEST says `manifest_offset`:
/// the largest log index among `entries_after` (binlog puts with index
/// `> manifest_offset`, as `(log_index, key, value)`) whose exact value is what
/// the snapshot holds for its key (`lookup`), or `manifest_offset` if none is.
///
/// The checkpoint holds a prefix of the log, so every entry up to that index is
/// in it and none after. The caller bounds the scan (a window of a few thousand
/// entries is far more than a checkpoint takes). Assumes a put's value is not
/// re-put identically to the same key right after the checkpoint; such a re-put
/// inside the window would be taken as part of the snapshot.
pub fn effective_offset<'a, I, L>(manifest_offset: u64, entries_after: I, mut lookup: L) -> u64
where
    I: IntoIterator<Item = (u64, &'a RowKey, &'a [u8])>,
    L: FnMut(&RowKey) -> Option<&'a [u8]>,
{
    entries_after
        .into_iter()
        .filter(|(index, key, value)| {
            *index > manifest_offset && lookup(key).is_some_and(|v| v == *value)
        })
        .map(|(index, _, _)| index)
        .max()
        .unwrap_or(manifest_offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(pk: &str, ts: u64) -> RowKey {
        RowKey::new(pk, ts)
    }

    #[test]
    fn row_keys_order_pk_ascending_then_ts_descending() {
        assert!(k("a", 1) < k("b", 9));
        assert!(k("a", 9) < k("a", 1));
        assert!(k("a", 5) == k("a", 5));
        assert!(RowKey::new(vec![0x7f], 0) < RowKey::new(vec![0x80], 0));
    }

    #[test]
    fn proto_round_trip_preserves_presence() {
        let points = [
            Point::start(),
            Point::in_snapshot(7, None),
            Point::in_snapshot(7, Some(k("x", 3))),
            Point::catching_up(9, k("x", 3), 4),
            Point::Snapshot(SnapshotPoint {
                snapshot_offset: None,
                key: Some(k("", 0)),
                catch_up_from: None,
            }),
            Point::Binlog { offset: 12 },
        ];
        for p in points {
            let proto = p.to_proto().unwrap();
            assert_eq!(Point::from_proto(&proto).unwrap(), p, "{p}");
        }
        // OpenMLDB's initial point: type only.
        let openmldb = SyncPoint {
            r#type: 0,
            ..Default::default()
        };
        assert_eq!(Point::from_proto(&openmldb).unwrap(), Point::start());
        assert_eq!(Point::start().to_proto().unwrap(), openmldb);
        // An empty pk is present, not absent.
        let empty_pk = Point::in_snapshot(1, Some(k("", 0))).to_proto().unwrap();
        assert_eq!(empty_pk.pk.as_deref(), Some(""));
    }

    #[test]
    fn malformed_proto_points_are_refused() {
        let bin = |f: fn(&mut SyncPoint)| {
            let mut p = SyncPoint {
                r#type: 1,
                offset: Some(1),
                ..Default::default()
            };
            f(&mut p);
            Point::from_proto(&p)
        };
        assert_eq!(
            bin(|p| p.offset = None),
            Err(PointError::BinlogWithoutOffset)
        );
        assert_eq!(
            bin(|p| p.pk = Some("a".into())),
            Err(PointError::BinlogWithSnapshotFields)
        );
        assert_eq!(bin(|p| p.r#type = 7), Err(PointError::UnknownType(7)));
        let half = SyncPoint {
            r#type: 0,
            pk: Some("a".into()),
            ..Default::default()
        };
        assert_eq!(Point::from_proto(&half), Err(PointError::HalfKey));
        let catch_up_at_start = SyncPoint {
            r#type: 0,
            offset: Some(3),
            snapshot_offset: Some(5),
            ..Default::default()
        };
        assert_eq!(
            Point::from_proto(&catch_up_at_start),
            Err(PointError::CatchUpWithoutKey)
        );
        let bad = Point::in_snapshot(1, Some(RowKey::new(vec![0xff], 1)));
        assert!(matches!(bad.to_proto(), Err(PointError::PkNotUtf8(_))));
    }

    #[test]
    fn progress_order_within_a_partition() {
        let s = |key| Point::in_snapshot(5, key);
        let order = [
            Point::start(),
            s(Some(k("a", 9))),
            s(Some(k("a", 1))),
            Point::catching_up(5, k("b", 1), 2),
            Point::catching_up(5, k("b", 1), 4),
            s(Some(k("b", 1))),
            Point::Binlog { offset: 6 },
            Point::Binlog { offset: 7 },
        ];
        for (i, a) in order.iter().enumerate() {
            for (j, b) in order.iter().enumerate() {
                assert_eq!(a.progress_cmp(b), Some(i.cmp(&j)), "{a} vs {b}");
            }
        }
        assert_eq!(
            Point::in_snapshot(5, Some(k("a", 1)))
                .progress_cmp(&Point::in_snapshot(6, Some(k("a", 1)))),
            None
        );
    }

    #[test]
    fn catching_up_past_its_target_is_the_plain_snapshot_point() {
        assert_eq!(
            Point::catching_up(5, k("c", 1), 6),
            Point::in_snapshot(5, Some(k("c", 1)))
        );
        assert_eq!(Point::after_snapshot(5), Point::Binlog { offset: 6 });
    }

    fn avail(snapshot: Option<u64>, first: u64) -> Available {
        Available {
            snapshot_offset: snapshot,
            binlog_first: first,
        }
    }

    #[test]
    fn plan_read_follows_the_hand_off_rule() {
        let at_c = Point::in_snapshot(3, Some(k("c", 1)));
        // Same snapshot: continue.
        assert_eq!(
            plan_read(&at_c, &avail(Some(3), 1)),
            Ok(ReadPlan::Snapshot {
                snapshot_offset: 3,
                from: Some(k("c", 1))
            })
        );
        // Newer snapshot: catch up from 4.
        assert_eq!(
            plan_read(&at_c, &avail(Some(5), 2)),
            Ok(ReadPlan::CatchUp {
                snapshot_offset: 5,
                below: k("c", 1),
                from: 4
            })
        );
        // ... which needs the binlog from 4.
        assert_eq!(
            plan_read(&at_c, &avail(Some(5), 5)),
            Err(HandOffError::BinlogGone {
                needed: 4,
                first_available: 5
            })
        );
        // Older snapshot: refused.
        assert_eq!(
            plan_read(&at_c, &avail(Some(2), 1)),
            Err(HandOffError::SnapshotBehind {
                covered: 3,
                available: 2
            })
        );
        assert_eq!(
            plan_read(&at_c, &avail(None, 1)),
            Err(HandOffError::SnapshotGone)
        );
        // A catch-up in progress continues from its next index, also on a newer target.
        let mid = Point::catching_up(5, k("c", 1), 5);
        assert_eq!(
            plan_read(&mid, &avail(Some(5), 1)),
            Ok(ReadPlan::CatchUp {
                snapshot_offset: 5,
                below: k("c", 1),
                from: 5
            })
        );
        assert_eq!(
            plan_read(&mid, &avail(Some(8), 5)),
            Ok(ReadPlan::CatchUp {
                snapshot_offset: 8,
                below: k("c", 1),
                from: 5
            })
        );
        assert_eq!(
            plan_read(&mid, &avail(Some(4), 1)),
            Ok(ReadPlan::Snapshot {
                snapshot_offset: 4,
                from: Some(k("c", 1))
            })
        );
        // Start: any snapshot, or the binlog from 1.
        assert_eq!(
            plan_read(&Point::start(), &avail(Some(9), 7)),
            Ok(ReadPlan::Snapshot {
                snapshot_offset: 9,
                from: None
            })
        );
        assert_eq!(
            plan_read(&Point::start(), &avail(None, 1)),
            Ok(ReadPlan::Binlog { from: 1 })
        );
        assert!(plan_read(&Point::start(), &avail(None, 2)).is_err());
        // Binlog points.
        assert_eq!(
            plan_read(&Point::Binlog { offset: 4 }, &avail(None, 4)),
            Ok(ReadPlan::Binlog { from: 4 })
        );
        assert!(plan_read(&Point::Binlog { offset: 4 }, &avail(None, 5)).is_err());
        let legacy = Point::Snapshot(SnapshotPoint {
            snapshot_offset: None,
            key: Some(k("a", 1)),
            catch_up_from: None,
        });
        assert_eq!(
            plan_read(&legacy, &avail(Some(1), 1)),
            Err(HandOffError::UnnamedSnapshot)
        );
    }

    #[test]
    fn effective_offset_finds_the_last_entry_inside_the_checkpoint() {
        // The worked example: S1 holds a=a1, b=b1, c=c1; MANIFEST says 2.
        let (a, b, c, d) = (k("a", 1), k("b", 1), k("c", 1), k("d", 1));
        let snapshot = [(&a, &b"a1"[..]), (&b, b"b1"), (&c, b"c1")];
        let lookup = |key: &RowKey| snapshot.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let log: Vec<(u64, &RowKey, &[u8])> = vec![
            (1, &a, b"a1"),
            (2, &c, b"c1"),
            (3, &b, b"b1"),
            (4, &a, b"a2"),
            (5, &d, b"d1"),
        ];
        assert_eq!(effective_offset(2, log.iter().copied(), lookup), 3);
        // Nothing after the MANIFEST offset in the checkpoint.
        assert_eq!(effective_offset(3, log.iter().copied(), lookup), 3);
        // An overwrite inside the window: only the newer value is visible.
        let snap2 = [(&a, &b"a2"[..])];
        let lookup2 = |key: &RowKey| snap2.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        assert_eq!(effective_offset(0, log.iter().copied(), lookup2), 4);
    }
}
