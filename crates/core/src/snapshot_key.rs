//! The RocksDB key layout of OpenMLDB disk tables.
//!
//! A disk table keeps one RocksDB column family per *inner index*: indexes
//! (`column_key` entries) whose key-column lists are equal share one CF, named
//! after the first of them. A key is
//!
//! * `pk ‖ ts_u64_LE` in a CF that holds a single index, or
//! * `pk ‖ ts_col_id_u32_LE ‖ ts_u64_LE` in a CF shared by several indexes,
//!   where `ts_col_id` is the schema position of the index's ts column
//!   ([`AUTO_TS_COL_ID`] when the index has none and the put time is used).
//!
//! Every CF is ordered by `KeyTSComparator` ([`compare`]): the last 8 bytes are
//! the ts; the bytes before them ascend bytewise, then the ts descends.
//!
//! * [`key`]: encoding, decoding and the comparator;
//! * [`ttl`]: an index's TTL and the expiry rule a traversal applies;
//! * [`index`]: the index → CF mapping of a table;
//! * [`dimension`]: an index's `pk` and ts computed from a row, as the SDK does.

pub mod dimension;
pub mod index;
pub mod key;
pub mod ttl;

pub use dimension::{
    DimensionError, EMPTY_STRING_TOKEN, NULL_TOKEN, dimension_key, format_key_value, index_ts,
};
pub use index::{IndexDef, IndexError, IndexLayout, InnerIndex};
pub use key::{
    AUTO_TS_COL_ID, COMPARATOR_NAME, DecodedKey, KeyError, KeyLayout, TS_COL_ID_LEN, TS_LEN,
    compare,
};
pub use ttl::{ExpiryChecker, Ttl, TtlKind};
