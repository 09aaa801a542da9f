//! The description of an emulated table: schema, indexes, partitions, and the
//! knobs of the deterministic row generator. Serializable, so the CLI can keep
//! it next to the data (`<root>/.emulator/<tid>.json`).

use serde::{Deserialize, Serialize};
use sync_core::row::{Column, ColumnType};
use sync_core::snapshot_key::{IndexLayout, Ttl, TtlKind};
use sync_proto::api::TableMeta;
use sync_proto::common::{ColumnDesc, ColumnKey, StorageMode, TablePartition as CommonPartition};
use sync_proto::nameserver::{PartitionMeta, TableInfo, TablePartition};
use sync_proto::types::CompressType;

use crate::error::EmuError;

/// One column: a name and an OpenMLDB SQL type name (`string`, `int`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSpec {
    pub name: String,
    pub sql_type: String,
}

/// One index (`column_key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSpec {
    pub name: String,
    pub key_columns: Vec<String>,
    /// `None`: the put time is the ts.
    pub ts_column: Option<String>,
    /// `absolute`, `latest`, `absandlat` or `absorlat`.
    pub ttl_kind: String,
    /// Absolute TTL in minutes (0 = none).
    pub abs_ttl_minutes: u64,
    /// Latest-N TTL (0 = none).
    pub lat_ttl: u64,
}

impl IndexSpec {
    /// An index without TTL.
    pub fn new(name: &str, key_columns: &[&str], ts_column: Option<&str>) -> Self {
        IndexSpec {
            name: name.into(),
            key_columns: key_columns.iter().map(|c| c.to_string()).collect(),
            ts_column: ts_column.map(str::to_string),
            ttl_kind: "absolute".into(),
            abs_ttl_minutes: 0,
            lat_ttl: 0,
        }
    }

    /// With a TTL.
    pub fn with_ttl(mut self, ttl: Ttl) -> Self {
        self.ttl_kind = match ttl.kind {
            TtlKind::Absolute => "absolute",
            TtlKind::Latest => "latest",
            TtlKind::AbsAndLat => "absandlat",
            TtlKind::AbsOrLat => "absorlat",
        }
        .into();
        self.abs_ttl_minutes = ttl.abs_minutes;
        self.lat_ttl = ttl.lat;
        self
    }

    /// The TTL.
    pub fn ttl(&self) -> Result<Ttl, EmuError> {
        let kind = match self.ttl_kind.to_ascii_lowercase().as_str() {
            "absolute" | "abs" => TtlKind::Absolute,
            "latest" | "lat" => TtlKind::Latest,
            "absandlat" => TtlKind::AbsAndLat,
            "absorlat" => TtlKind::AbsOrLat,
            other => return Err(EmuError::Spec(format!("unknown ttl kind `{other}`"))),
        };
        Ok(Ttl {
            kind,
            abs_minutes: self.abs_ttl_minutes,
            lat: self.lat_ttl,
        })
    }
}

/// Where the table is stored (`TableStatus.storage_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    Hdd,
    Ssd,
    /// A memory table: the tablet reports no snapshot or binlog path.
    Memory,
}

impl Storage {
    /// The proto enum.
    pub fn mode(self) -> StorageMode {
        match self {
            Storage::Hdd => StorageMode::KHdd,
            Storage::Ssd => StorageMode::KSsd,
            Storage::Memory => StorageMode::KMemory,
        }
    }
}

/// An emulated table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmulatedTable {
    pub tid: u32,
    pub name: String,
    pub db: String,
    pub partitions: u32,
    pub columns: Vec<ColumnSpec>,
    pub indexes: Vec<IndexSpec>,
    /// Store rows snappy-compressed (`kSnappy`).
    pub snappy: bool,
    pub storage: Storage,
    /// Seed of the row generator.
    pub seed: u64,
    /// Distinct values per key column (controls rows per pk).
    pub key_cardinality: u64,
    /// ts / put time of row 0 (ms); row `n` is about `n` seconds later.
    pub base_time_ms: u64,
    /// Leader term written to LogEntry and MANIFEST.
    pub term: u64,
    /// A binlog file is closed (EOF record) and a new one started once it
    /// is larger than this.
    pub binlog_max_bytes: u64,
    /// Test knob: report `snapshot_path`/`binlog_path` as relative paths
    /// (what a broken tablet would send).
    #[serde(default)]
    pub report_relative_paths: bool,
}

impl EmulatedTable {
    /// A table with a representative schema: string/int keys, a timestamp ts
    /// column, every other fixed type and a payload string. Index `idx0` is on
    /// `card` with ts `ts`, `idx1` on `mcc` with the put time.
    pub fn demo(tid: u32, partitions: u32) -> Self {
        let col = |name: &str, ty: &str| ColumnSpec {
            name: name.into(),
            sql_type: ty.into(),
        };
        EmulatedTable {
            tid,
            name: format!("t{tid}"),
            db: "demo_db".into(),
            partitions,
            columns: vec![
                col("card", "string"),
                col("mcc", "int"),
                col("amount", "double"),
                col("ts", "timestamp"),
                col("seq", "bigint"),
                col("flag", "bool"),
                col("small", "smallint"),
                col("ratio", "float"),
                col("day", "date"),
                col("memo", "varchar"),
            ],
            indexes: vec![
                IndexSpec::new("idx0", &["card"], Some("ts")),
                IndexSpec::new("idx1", &["mcc"], None),
            ],
            snappy: false,
            storage: Storage::Hdd,
            seed: 42,
            key_cardinality: 50,
            base_time_ms: 1_700_000_000_000,
            term: 1,
            binlog_max_bytes: 4 << 30,
            report_relative_paths: false,
        }
    }

    /// The row schema.
    pub fn schema(&self) -> Result<Vec<Column>, EmuError> {
        self.columns
            .iter()
            .map(|c| {
                ColumnType::from_sql_name(&c.sql_type)
                    .map(|ty| Column::new(c.name.clone(), ty))
                    .ok_or_else(|| {
                        EmuError::Spec(format!(
                            "column `{}`: unknown type `{}`",
                            c.name, c.sql_type
                        ))
                    })
            })
            .collect()
    }

    /// `common.ColumnDesc`s of the schema.
    pub fn column_descs(&self) -> Result<Vec<ColumnDesc>, EmuError> {
        Ok(self
            .schema()?
            .iter()
            .map(|c| ColumnDesc {
                name: c.name.clone(),
                data_type: Some(c.ty.data_type()),
                not_null: Some(false),
                ..Default::default()
            })
            .collect())
    }

    /// `common.ColumnKey`s of the indexes.
    pub fn column_keys(&self) -> Result<Vec<ColumnKey>, EmuError> {
        self.indexes
            .iter()
            .map(|i| {
                Ok(ColumnKey {
                    index_name: Some(i.name.clone()),
                    col_name: i.key_columns.clone(),
                    ts_name: i.ts_column.clone(),
                    flag: None,
                    ttl: Some(i.ttl()?.to_proto()),
                })
            })
            .collect()
    }

    /// The compress type.
    pub fn compress_type(&self) -> CompressType {
        if self.snappy {
            CompressType::KSnappy
        } else {
            CompressType::KNoCompress
        }
    }

    /// The tablet's `TableMeta` of partition `pid`.
    pub fn table_meta(&self, pid: u32) -> Result<TableMeta, EmuError> {
        Ok(TableMeta {
            tid: Some(self.tid as i32),
            name: Some(self.name.clone()),
            pid: Some(pid as i32),
            mode: Some(sync_proto::api::TableMode::KTableLeader as i32),
            term: Some(self.term),
            compress_type: Some(self.compress_type() as i32),
            column_desc: self.column_descs()?,
            column_key: self.column_keys()?,
            db: Some(self.db.clone()),
            table_partition: Vec::<CommonPartition>::new(),
            storage_mode: Some(self.storage.mode() as i32),
            ..Default::default()
        })
    }

    /// The name server's `TableInfo`, every partition led by `endpoint`.
    pub fn table_info(&self, endpoint: &str) -> Result<TableInfo, EmuError> {
        Ok(TableInfo {
            name: Some(self.name.clone()),
            tid: Some(self.tid),
            partition_num: Some(self.partitions),
            replica_num: Some(1),
            compress_type: Some(self.compress_type() as i32),
            column_desc: self.column_descs()?,
            column_key: self.column_keys()?,
            db: Some(self.db.clone()),
            storage_mode: Some(self.storage.mode() as i32),
            table_partition: (0..self.partitions)
                .map(|pid| TablePartition {
                    pid,
                    partition_meta: vec![PartitionMeta {
                        endpoint: endpoint.to_string(),
                        is_leader: true,
                        is_alive: Some(true),
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
    }

    /// The index → CF mapping.
    pub fn layout(&self) -> Result<IndexLayout, EmuError> {
        let meta = self.table_meta(0)?;
        IndexLayout::from_table_meta(&meta).map_err(|e| EmuError::Spec(e.to_string()))
    }
}
