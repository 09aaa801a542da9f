//! Schema versions of a table (`ALTER TABLE … ADD COLUMN`).
//!
//! Version 1 is the table's `column_desc`. Each `VersionPair { id,
//! field_count }` of `schema_versions` defines schema `id` as `column_desc`
//! followed by the first `field_count − len(column_desc)` columns of
//! `added_column_desc`. A row names its version in byte 1.
//!
//! As OpenMLDB's `SDKCodec` does, pairs whose `field_count` is smaller than
//! `column_desc` or larger than `column_desc + added_column_desc` are skipped,
//! an id already defined keeps its first definition (so version 1 is always
//! `column_desc`), and the *latest* version is the id of the last pair that
//! was not skipped (1 if none). Ids outside 0..=255 cannot appear in a row's
//! version byte and are skipped too. A row whose version is not defined is
//! [`RowError::UnknownSchemaVersion`].

use std::collections::BTreeMap;

use sync_proto::api::TableMeta;
use sync_proto::common::VersionPair;
use sync_proto::nameserver::TableInfo;

use super::decode::RowView;
use super::error::RowError;
use super::layout::{RowLayout, row_header};
use super::types::{Column, Value};

/// Every schema version of one table, each prepared as a [`RowLayout`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaVersions {
    layouts: BTreeMap<u8, RowLayout>,
    latest: u8,
}

impl SchemaVersions {
    /// Builds the versions from a table's base columns, added columns and
    /// version pairs (see the module docs). An empty `column_desc` is
    /// [`RowError::EmptySchema`].
    pub fn new(
        column_desc: Vec<Column>,
        added: Vec<Column>,
        versions: &[VersionPair],
    ) -> Result<Self, RowError> {
        let base_len = column_desc.len();
        let mut layouts = BTreeMap::new();
        layouts.insert(1u8, RowLayout::new(column_desc.clone())?);
        let mut latest = 1u8;
        for pair in versions {
            let Ok(id) = u8::try_from(pair.id.unwrap_or(0)) else {
                continue;
            };
            let field_count = i64::from(pair.field_count.unwrap_or(0));
            let extra = field_count - base_len as i64;
            if extra < 0 || extra > added.len() as i64 {
                continue;
            }
            let extra = extra as usize;
            if let std::collections::btree_map::Entry::Vacant(slot) = layouts.entry(id) {
                let mut columns = Vec::with_capacity(base_len + extra);
                columns.extend_from_slice(&column_desc);
                columns.extend(added.iter().take(extra).cloned());
                slot.insert(RowLayout::new(columns)?);
            }
            latest = id;
        }
        Ok(SchemaVersions { layouts, latest })
    }

    /// From a tablet's `api.TableMeta`.
    pub fn from_table_meta(meta: &TableMeta) -> Result<Self, RowError> {
        SchemaVersions::new(
            Column::from_descs(&meta.column_desc)?,
            Column::from_descs(&meta.added_column_desc)?,
            &meta.schema_versions,
        )
    }

    /// From the name server's `nameserver.TableInfo`.
    pub fn from_table_info(info: &TableInfo) -> Result<Self, RowError> {
        SchemaVersions::new(
            Column::from_descs(&info.column_desc)?,
            Column::from_descs(&info.added_column_desc)?,
            &info.schema_versions,
        )
    }

    /// The prepared layout of schema `version`.
    pub fn layout(&self, version: u8) -> Result<&RowLayout, RowError> {
        self.layouts
            .get(&version)
            .ok_or_else(|| RowError::UnknownSchemaVersion {
                version,
                known: self.layouts.keys().copied().collect(),
            })
    }

    /// The columns of schema `version`.
    pub fn schema(&self, version: u8) -> Result<&[Column], RowError> {
        self.layout(version).map(RowLayout::columns)
    }

    /// The latest version and its columns (what new rows are written with).
    pub fn latest(&self) -> (u8, &[Column]) {
        let columns = self
            .layouts
            .get(&self.latest)
            .map_or(&[][..], RowLayout::columns);
        (self.latest, columns)
    }

    /// The defined versions, ascending.
    pub fn versions(&self) -> impl Iterator<Item = u8> + '_ {
        self.layouts.keys().copied()
    }

    /// A checked view of `row` with the schema its version byte names.
    pub fn view<'a>(&'a self, row: &'a [u8]) -> Result<(u8, RowView<'a>), RowError> {
        let version = row_header(row)?.schema_version;
        let view = self.layout(version)?.view(row)?;
        Ok((version, view))
    }

    /// Decodes `row` with the schema its version byte names; returns the
    /// version and the values.
    pub fn decode(&self, row: &[u8]) -> Result<(u8, Vec<Value>), RowError> {
        let (version, view) = self.view(row)?;
        Ok((version, view.to_values()?))
    }

    /// Encodes `values` as a row of schema `version`.
    pub fn encode(&self, version: u8, values: &[Value]) -> Result<Vec<u8>, RowError> {
        self.layout(version)?.encode(version, values)
    }
}
