//! A table's indexes and how they map onto RocksDB column families.
//!
//! Indexes are the `column_key` entries in order (their position is the
//! `Dimension.idx`). Indexes whose key-column lists are equal share an *inner
//! index*, i.e. one CF named after the first of them. The grouping key is the
//! single column name, the names each followed by `|` when there are several,
//! or the index name when the index lists no column, as the tablet groups them.
//! A shared CF uses the [`KeyLayout::WithTsCol`] layout.

use std::collections::HashMap;

use sync_proto::api::TableMeta;
use sync_proto::common::{ColumnDesc, ColumnKey};
use sync_proto::nameserver::TableInfo;

use super::key::{AUTO_TS_COL_ID, KeyLayout};
use super::ttl::Ttl;

/// Why a table's indexes could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("the table has no index (column_key is empty)")]
    NoIndex,
    #[error("index {index} (`{name}`) names column `{column}`, which is not in the schema")]
    UnknownColumn {
        index: usize,
        name: String,
        column: String,
    },
    #[error("index {index} has no index_name")]
    NoName { index: usize },
}

/// One index (`column_key` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    /// `index_name`.
    pub name: String,
    /// Position in `column_key` (= `Dimension.idx`).
    pub pos: usize,
    /// Schema positions of the key columns (the index-name column when the
    /// index lists none).
    pub key_cols: Vec<usize>,
    /// Schema position of the ts column; `None` = the put time is the ts.
    pub ts_col: Option<usize>,
    /// The index's TTL.
    pub ttl: Ttl,
    /// `flag == 1`: the index was dropped (no new dimension is written).
    pub deleted: bool,
    /// The inner index (CF) this index lives in.
    pub inner: usize,
}

impl IndexDef {
    /// The ts-column id stored in shared-CF keys.
    pub fn ts_col_id(&self) -> u32 {
        self.ts_col
            .and_then(|c| u32::try_from(c).ok())
            .unwrap_or(AUTO_TS_COL_ID)
    }
}

/// One inner index: a CF and the indexes stored in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InnerIndex {
    /// The CF name (the first index's name).
    pub cf_name: String,
    /// Positions of the indexes in this CF, in `column_key` order.
    pub indexes: Vec<usize>,
}

impl InnerIndex {
    /// Whether several indexes share this CF (keys carry a ts-column id).
    pub fn is_shared(&self) -> bool {
        self.indexes.len() > 1
    }
}

/// All indexes of a table and their CFs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexLayout {
    indexes: Vec<IndexDef>,
    inner: Vec<InnerIndex>,
}

impl IndexLayout {
    /// From a schema (`column_desc` followed by `added_column_desc`) and the
    /// `column_key` list.
    pub fn new(columns: &[&ColumnDesc], keys: &[ColumnKey]) -> Result<Self, IndexError> {
        if keys.is_empty() {
            return Err(IndexError::NoIndex);
        }
        let positions: HashMap<&str, usize> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_str(), i))
            .collect();
        let mut groups: HashMap<String, usize> = HashMap::new();
        let mut inner: Vec<InnerIndex> = Vec::new();
        let mut indexes = Vec::with_capacity(keys.len());
        for (pos, key) in keys.iter().enumerate() {
            let name = key
                .index_name
                .clone()
                .ok_or(IndexError::NoName { index: pos })?;
            let lookup = |column: &str| {
                positions
                    .get(column)
                    .copied()
                    .ok_or_else(|| IndexError::UnknownColumn {
                        index: pos,
                        name: name.clone(),
                        column: column.to_string(),
                    })
            };
            let key_names: Vec<&str> = if key.col_name.is_empty() {
                vec![name.as_str()]
            } else {
                key.col_name.iter().map(String::as_str).collect()
            };
            let key_cols = key_names
                .iter()
                .map(|c| lookup(c))
                .collect::<Result<Vec<_>, _>>()?;
            let ts_col = match key.ts_name.as_deref() {
                None | Some("") => None,
                Some(ts) => Some(lookup(ts)?),
            };
            let group = match key.col_name.len() {
                0 => name.clone(),
                1 => key.col_name[0].clone(),
                _ => key.col_name.iter().map(|c| format!("{c}|")).collect(),
            };
            let next = inner.len();
            let inner_pos = *groups.entry(group).or_insert(next);
            if inner_pos == next {
                inner.push(InnerIndex {
                    cf_name: name.clone(),
                    indexes: Vec::new(),
                });
            }
            inner[inner_pos].indexes.push(pos);
            indexes.push(IndexDef {
                name,
                pos,
                key_cols,
                ts_col,
                ttl: Ttl::from_proto(key.ttl.as_ref()),
                deleted: key.flag.unwrap_or(0) != 0,
                inner: inner_pos,
            });
        }
        Ok(IndexLayout { indexes, inner })
    }

    /// From a tablet's `TableMeta`.
    pub fn from_table_meta(meta: &TableMeta) -> Result<Self, IndexError> {
        let cols: Vec<&ColumnDesc> = meta
            .column_desc
            .iter()
            .chain(&meta.added_column_desc)
            .collect();
        Self::new(&cols, &meta.column_key)
    }

    /// From the name server's `TableInfo`.
    pub fn from_table_info(info: &TableInfo) -> Result<Self, IndexError> {
        let cols: Vec<&ColumnDesc> = info
            .column_desc
            .iter()
            .chain(&info.added_column_desc)
            .collect();
        Self::new(&cols, &info.column_key)
    }

    /// Every index, in `column_key` order.
    pub fn indexes(&self) -> &[IndexDef] {
        &self.indexes
    }

    /// Every inner index, in CF order (CF handle = position + 1 after `default`).
    pub fn inner_indexes(&self) -> &[InnerIndex] {
        &self.inner
    }

    /// Index `pos`, if it exists.
    pub fn index(&self, pos: usize) -> Option<&IndexDef> {
        self.indexes.get(pos)
    }

    /// Index 0, the one the snapshot is traversed by.
    pub fn index0(&self) -> &IndexDef {
        // `new` rejects an empty key list, so index 0 always exists.
        &self.indexes[0]
    }

    /// The CF of index `pos`.
    pub fn inner_of(&self, index: &IndexDef) -> &InnerIndex {
        &self.inner[index.inner]
    }

    /// The key layout of index `pos` within its CF.
    pub fn key_layout(&self, index: &IndexDef) -> KeyLayout {
        if self.inner_of(index).is_shared() {
            KeyLayout::WithTsCol(index.ts_col_id())
        } else {
            KeyLayout::Plain
        }
    }

    /// The CF names, without `default`, in CF order.
    pub fn cf_names(&self) -> Vec<&str> {
        self.inner.iter().map(|i| i.cf_name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_proto::types::DataType;

    fn col(name: &str, ty: DataType) -> ColumnDesc {
        ColumnDesc {
            name: name.into(),
            data_type: Some(ty as i32),
            ..Default::default()
        }
    }

    fn key(name: &str, cols: &[&str], ts: Option<&str>) -> ColumnKey {
        ColumnKey {
            index_name: Some(name.into()),
            col_name: cols.iter().map(|c| c.to_string()).collect(),
            ts_name: ts.map(str::to_string),
            ..Default::default()
        }
    }

    fn schema() -> Vec<ColumnDesc> {
        vec![
            col("c1", DataType::KString),
            col("c2", DataType::KInt),
            col("ts1", DataType::KTimestamp),
            col("ts2", DataType::KBigInt),
        ]
    }

    #[test]
    fn indexes_on_the_same_columns_share_a_cf() {
        let cols = schema();
        let refs: Vec<&ColumnDesc> = cols.iter().collect();
        let keys = vec![
            key("i0", &["c1"], Some("ts1")),
            key("i1", &["c2"], None),
            key("i2", &["c1"], Some("ts2")),
            key("i3", &["c1", "c2"], None),
            key("i4", &["c1", "c2"], Some("ts1")),
        ];
        let l = IndexLayout::new(&refs, &keys).unwrap();
        assert_eq!(l.cf_names(), vec!["i0", "i1", "i3"]);
        assert_eq!(l.inner_indexes()[0].indexes, vec![0, 2]);
        assert_eq!(l.inner_indexes()[2].indexes, vec![3, 4]);
        assert_eq!(l.key_layout(l.index0()), KeyLayout::WithTsCol(2));
        assert_eq!(l.key_layout(&l.indexes()[1]), KeyLayout::Plain);
        assert_eq!(
            l.key_layout(&l.indexes()[3]),
            KeyLayout::WithTsCol(AUTO_TS_COL_ID)
        );
        assert_eq!(l.indexes()[3].key_cols, vec![0, 1]);
    }

    #[test]
    fn index_without_columns_uses_its_name() {
        let cols = schema();
        let refs: Vec<&ColumnDesc> = cols.iter().collect();
        let l = IndexLayout::new(&refs, &[key("c2", &[], None)]).unwrap();
        assert_eq!(l.index0().key_cols, vec![1]);
        assert_eq!(l.key_layout(l.index0()), KeyLayout::Plain);
    }

    #[test]
    fn bad_definitions_are_errors() {
        let cols = schema();
        let refs: Vec<&ColumnDesc> = cols.iter().collect();
        assert_eq!(IndexLayout::new(&refs, &[]), Err(IndexError::NoIndex));
        assert!(matches!(
            IndexLayout::new(&refs, &[key("i", &["nope"], None)]),
            Err(IndexError::UnknownColumn { .. })
        ));
        assert!(matches!(
            IndexLayout::new(&refs, &[key("i", &["c1"], Some("nope"))]),
            Err(IndexError::UnknownColumn { .. })
        ));
    }
}
