//! The schema a segment is written with.
//!
//! Every row is decoded with the schema version named in its own header
//! ([`SchemaVersions::view`]). The output file's columns are the table's
//! **latest** schema; because OpenMLDB only appends columns
//! (`ALTER TABLE … ADD COLUMN`), every version is a prefix of the latest, and
//! a row of an older version gets NULL in the columns it lacks. A version that
//! is not such a prefix is rejected when the [`TableSchema`] is built. A row
//! whose version is unknown (the table changed after its schema was fetched)
//! fails the stage with [`crate::SinkError::Row`]; the caller refetches the
//! table's schema and stages again.

use sync_core::proto::nameserver::TableInfo;
use sync_core::row::{Column, RowError, SchemaVersions};

use crate::error::SinkError;

/// A table's schema versions and the columns of its output files.
#[derive(Debug, Clone)]
pub struct TableSchema {
    name: String,
    versions: SchemaVersions,
}

impl TableSchema {
    /// A schema named `name` (for messages, e.g. `db.table`).
    pub fn new(name: impl Into<String>, versions: SchemaVersions) -> Result<Self, SinkError> {
        let name = name.into();
        let (latest, columns) = versions.latest();
        for version in versions.versions() {
            let cols = versions
                .schema(version)
                .map_err(|source| SinkError::Table {
                    table: name.clone(),
                    source,
                })?;
            if cols.len() > columns.len() || cols != &columns[..cols.len()] {
                return Err(SinkError::Schema {
                    table: name,
                    version,
                    latest,
                });
            }
        }
        Ok(TableSchema { name, versions })
    }

    /// From the name server's table metadata.
    pub fn from_table_info(info: &TableInfo) -> Result<Self, SinkError> {
        let name = format!(
            "{}.{}",
            info.db.as_deref().unwrap_or(""),
            info.name.as_deref().unwrap_or("")
        );
        let versions =
            SchemaVersions::from_table_info(info).map_err(|source: RowError| SinkError::Table {
                table: name.clone(),
                source,
            })?;
        TableSchema::new(name, versions)
    }

    /// The table's name as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The output columns (the latest schema version's).
    pub fn columns(&self) -> &[Column] {
        self.versions.latest().1
    }

    /// All versions, to decode rows.
    pub fn versions(&self) -> &SchemaVersions {
        &self.versions
    }
}
