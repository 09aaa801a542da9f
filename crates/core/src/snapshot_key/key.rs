//! Encoding and decoding of disk-table keys and the `KeyTSComparator` order.

use std::cmp::Ordering;

use crate::point::RowKey;

/// Bytes of the trailing ts (u64 little-endian).
pub const TS_LEN: usize = 8;
/// Bytes of the ts-column id in a shared CF (u32 little-endian).
pub const TS_COL_ID_LEN: usize = 4;
/// The ts-column id of an index without a ts column (the put time is its ts).
pub const AUTO_TS_COL_ID: u32 = u32::MAX;
/// The name the comparator is registered under; RocksDB refuses to open a
/// CF created with another comparator name.
pub const COMPARATOR_NAME: &str = "KeyTSComparator";

/// Why a stored key could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("key of {len} bytes is shorter than the {need} bytes of its suffix (ts{with_id})", with_id = if *.need > TS_LEN { " and ts column id" } else { "" })]
    TooShort { len: usize, need: usize },
}

/// Which of the two key layouts a CF uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyLayout {
    /// `pk ‖ ts`: the CF holds a single index.
    Plain,
    /// `pk ‖ ts_col_id ‖ ts`: the CF is shared; this index's ts-column id.
    WithTsCol(u32),
}

impl KeyLayout {
    /// Length of the suffix after the pk.
    pub fn suffix_len(self) -> usize {
        match self {
            KeyLayout::Plain => TS_LEN,
            KeyLayout::WithTsCol(_) => TS_COL_ID_LEN + TS_LEN,
        }
    }

    /// The stored key of `(pk, ts)` for this index.
    pub fn encode(self, pk: &[u8], ts: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(pk.len() + self.suffix_len());
        out.extend_from_slice(pk);
        if let KeyLayout::WithTsCol(id) = self {
            out.extend_from_slice(&id.to_le_bytes());
        }
        out.extend_from_slice(&ts.to_le_bytes());
        out
    }

    /// The key to `Seek` to so that the iterator stops at the first entry at
    /// or after `pos` (same pk, ts ≤ `pos.ts`, or a later pk).
    pub fn seek_key(self, pos: &RowKey) -> Vec<u8> {
        self.encode(&pos.pk, pos.ts)
    }

    /// Splits a stored key. With [`KeyLayout::WithTsCol`] the decoded
    /// ts-column id is returned as found; whether it matches is the caller's
    /// decision (a shared CF holds the entries of every index sharing it).
    pub fn decode(self, key: &[u8]) -> Result<DecodedKey<'_>, KeyError> {
        let need = self.suffix_len();
        if key.len() < need {
            return Err(KeyError::TooShort {
                len: key.len(),
                need,
            });
        }
        let (rest, ts_bytes) = key.split_at(key.len() - TS_LEN);
        let ts = u64::from_le_bytes(le8(ts_bytes));
        match self {
            KeyLayout::Plain => Ok(DecodedKey {
                pk: rest,
                ts_col_id: None,
                ts,
            }),
            KeyLayout::WithTsCol(_) => {
                let (pk, id_bytes) = rest.split_at(rest.len() - TS_COL_ID_LEN);
                let mut id = [0u8; TS_COL_ID_LEN];
                id.copy_from_slice(id_bytes);
                Ok(DecodedKey {
                    pk,
                    ts_col_id: Some(u32::from_le_bytes(id)),
                    ts,
                })
            }
        }
    }
}

/// A stored key split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodedKey<'a> {
    /// The dimension key.
    pub pk: &'a [u8],
    /// The ts-column id (shared CFs only).
    pub ts_col_id: Option<u32>,
    /// The ts.
    pub ts: u64,
}

impl DecodedKey<'_> {
    /// The position of this entry as a [`RowKey`].
    pub fn row_key(&self) -> RowKey {
        RowKey::new(self.pk, self.ts)
    }
}

fn le8(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(bytes);
    out
}

/// Splits `key` into the bytes before the ts and the ts, if it is long enough.
fn split_ts(key: &[u8]) -> Option<(&[u8], u64)> {
    let cut = key.len().checked_sub(TS_LEN)?;
    let (rest, ts) = key.split_at(cut);
    Some((rest, u64::from_le_bytes(le8(ts))))
}

/// `KeyTSComparator`: everything before the last 8 bytes ascending bytewise,
/// then the ts (the last 8 bytes, u64 LE) descending.
///
/// Keys shorter than 8 bytes never occur in a table; they are ordered before
/// every well-formed key and bytewise among themselves, so the order stays a
/// total order and nothing panics.
pub fn compare(a: &[u8], b: &[u8]) -> Ordering {
    match (split_ts(a), split_ts(b)) {
        (Some((ka, ta)), Some((kb, tb))) => ka.cmp(kb).then_with(|| tb.cmp(&ta)),
        (None, None) => a.cmp(b),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_layout_matches_openmldb_bytes() {
        let key = KeyLayout::Plain.encode(b"k1", 0x0102_0304_0506_0708);
        assert_eq!(hex::encode(&key), "6b310807060504030201");
        let d = KeyLayout::Plain.decode(&key).unwrap();
        assert_eq!(d.pk, b"k1");
        assert_eq!(d.ts, 0x0102_0304_0506_0708);
        assert_eq!(d.ts_col_id, None);
    }

    #[test]
    fn shared_layout_matches_openmldb_bytes() {
        let key = KeyLayout::WithTsCol(3).encode(b"a", 5);
        assert_eq!(hex::encode(&key), "61030000000500000000000000");
        let d = KeyLayout::WithTsCol(0).decode(&key).unwrap();
        assert_eq!((d.pk, d.ts_col_id, d.ts), (&b"a"[..], Some(3), 5));
        let auto = KeyLayout::WithTsCol(AUTO_TS_COL_ID).encode(b"", 1);
        assert_eq!(hex::encode(&auto), "ffffffff0100000000000000");
    }

    #[test]
    fn short_keys_are_errors() {
        assert_eq!(
            KeyLayout::Plain.decode(b"1234567"),
            Err(KeyError::TooShort { len: 7, need: 8 })
        );
        assert!(KeyLayout::WithTsCol(1).decode(&[0; 11]).is_err());
        assert_eq!(KeyLayout::Plain.decode(&[0; 8]).unwrap().pk, b"");
    }

    #[test]
    fn comparator_orders_pk_up_then_ts_down() {
        let k = |pk: &[u8], ts| KeyLayout::Plain.encode(pk, ts);
        assert_eq!(compare(&k(b"a", 1), &k(b"b", 9)), Ordering::Less);
        assert_eq!(compare(&k(b"a", 9), &k(b"a", 1)), Ordering::Less);
        assert_eq!(compare(&k(b"a", 1), &k(b"a", 1)), Ordering::Equal);
        assert_eq!(compare(&k(b"a", 256), &k(b"a", 1)), Ordering::Less);
        assert_eq!(compare(b"short", &k(b"", 0)), Ordering::Less);
        assert_eq!(compare(b"", b"x"), Ordering::Less);
    }

    #[test]
    fn seek_key_is_the_position_itself() {
        let pos = RowKey::new(b"pk".to_vec(), 7);
        let seek = KeyLayout::Plain.seek_key(&pos);
        assert_eq!(KeyLayout::Plain.decode(&seek).unwrap().row_key(), pos);
    }

    proptest! {
        #[test]
        fn round_trip(pk in proptest::collection::vec(any::<u8>(), 0..20), ts in any::<u64>(), id in any::<u32>()) {
            for layout in [KeyLayout::Plain, KeyLayout::WithTsCol(id)] {
                let key = layout.encode(&pk, ts);
                let d = layout.decode(&key).unwrap();
                prop_assert_eq!(d.pk, &pk[..]);
                prop_assert_eq!(d.ts, ts);
                prop_assert_eq!(d.ts_col_id, match layout { KeyLayout::Plain => None, KeyLayout::WithTsCol(i) => Some(i) });
            }
        }

        #[test]
        fn comparator_agrees_with_row_key_order(a in proptest::collection::vec(any::<u8>(), 0..6), ta in any::<u64>(),
                                                b in proptest::collection::vec(any::<u8>(), 0..6), tb in any::<u64>()) {
            let ka = KeyLayout::Plain.encode(&a, ta);
            let kb = KeyLayout::Plain.encode(&b, tb);
            prop_assert_eq!(compare(&ka, &kb), RowKey::new(a, ta).cmp(&RowKey::new(b, tb)));
        }

        #[test]
        fn comparator_is_a_total_order(a in proptest::collection::vec(any::<u8>(), 0..14),
                                       b in proptest::collection::vec(any::<u8>(), 0..14),
                                       c in proptest::collection::vec(any::<u8>(), 0..14)) {
            prop_assert_eq!(compare(&a, &a), Ordering::Equal);
            prop_assert_eq!(compare(&a, &b), compare(&b, &a).reverse());
            if compare(&a, &b) != Ordering::Greater && compare(&b, &c) != Ordering::Greater {
                prop_assert_ne!(compare(&a, &c), Ordering::Greater);
            }
            if compare(&a, &b) == Ordering::Equal {
                prop_assert_eq!(&a, &b);
            }
        }

        #[test]
        fn decode_never_panics(key in proptest::collection::vec(any::<u8>(), 0..16), id in any::<u32>()) {
            let _ = KeyLayout::Plain.decode(&key);
            let _ = KeyLayout::WithTsCol(id).decode(&key);
        }
    }
}
