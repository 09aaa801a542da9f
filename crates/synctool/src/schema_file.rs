//! The schema file that `synctool_helper dump` decodes rows with.
//!
//! Two JSON forms are accepted. The short one lists the columns of a table
//! that was never altered:
//!
//! ```json
//! [{"name": "c1", "type": "int"}, {"name": "c2", "type": "string"}]
//! ```
//!
//! The long one also describes `ALTER TABLE ADD COLUMN` versions and
//! compression, with the fields of OpenMLDB's `TableInfo`:
//!
//! ```json
//! {"columns": [...], "added_columns": [...],
//!  "schema_versions": [{"id": 2, "field_count": 3}], "compress_type": "snappy",
//!  "indexes": [{"name": "idx0", "keys": ["c1"], "ts": "c3"}]}
//! ```
//!
//! `indexes` (the table's `column_key`, in order) is needed to dump a snapshot:
//! index 0 decides the column family and the key layout it is read by.
//!
//! Type names are OpenMLDB SQL's: bool, smallint, int, bigint, float, double,
//! date, timestamp, string (and varchar).

use std::path::Path;

use serde::Deserialize;
use sync_core::proto::api::TableMeta;
use sync_core::proto::common::{ColumnDesc, ColumnKey, VersionPair};
use sync_core::proto::types::CompressType;
use sync_core::row::{Column, ColumnType, SchemaVersions};

/// A decoded schema file: every schema version, and whether values are snappy-compressed.
#[derive(Debug, Clone)]
pub struct TableSchema {
    pub versions: SchemaVersions,
    pub compress_type: CompressType,
    /// The same as OpenMLDB's `TableMeta` (columns, versions, compression
    /// and the `indexes` as `column_key`), for reading snapshots.
    pub table_meta: TableMeta,
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaFileError {
    #[error("cannot read schema file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("schema file {path} is not a valid schema: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    #[error(
        "schema file {path}: column `{column}` has unknown type `{ty}` (expected bool, smallint, int, bigint, float, double, date, timestamp or string)"
    )]
    UnknownType {
        path: String,
        column: String,
        ty: String,
    },
    #[error("schema file {path}: unknown compress_type `{value}` (expected none or snappy)")]
    UnknownCompression { path: String, value: String },
    #[error("schema file {path}: {source}")]
    Schema {
        path: String,
        source: sync_core::row::RowError,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SchemaJson {
    Columns(Vec<ColumnJson>),
    Table(TableJson),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableJson {
    columns: Vec<ColumnJson>,
    #[serde(default)]
    added_columns: Vec<ColumnJson>,
    #[serde(default)]
    schema_versions: Vec<VersionJson>,
    #[serde(default)]
    compress_type: Option<String>,
    #[serde(default)]
    indexes: Vec<IndexJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexJson {
    name: String,
    keys: Vec<String>,
    #[serde(default)]
    ts: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnJson {
    name: String,
    #[serde(rename = "type")]
    ty: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionJson {
    id: i32,
    field_count: i32,
}

/// Reads and validates a schema file.
pub fn load_schema(path: &Path) -> Result<TableSchema, SchemaFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SchemaFileError::Read {
        path: shown.clone(),
        source,
    })?;
    parse_schema(&text, &shown)
}

/// Parses the text of a schema file; `path` only names it in errors.
pub fn parse_schema(text: &str, path: &str) -> Result<TableSchema, SchemaFileError> {
    let json: SchemaJson = serde_json::from_str(text).map_err(|source| SchemaFileError::Json {
        path: path.to_string(),
        source,
    })?;
    let table = match json {
        SchemaJson::Columns(columns) => TableJson {
            columns,
            added_columns: Vec::new(),
            schema_versions: Vec::new(),
            compress_type: None,
            indexes: Vec::new(),
        },
        SchemaJson::Table(table) => table,
    };
    let to_columns = |columns: Vec<ColumnJson>| -> Result<Vec<Column>, SchemaFileError> {
        columns
            .into_iter()
            .map(|c| match ColumnType::from_sql_name(&c.ty) {
                Some(ty) => Ok(Column { name: c.name, ty }),
                None => Err(SchemaFileError::UnknownType {
                    path: path.to_string(),
                    column: c.name,
                    ty: c.ty,
                }),
            })
            .collect()
    };
    let compress_type = match table.compress_type.as_deref() {
        None | Some("none") | Some("kNoCompress") => CompressType::KNoCompress,
        Some("snappy") | Some("kSnappy") => CompressType::KSnappy,
        Some(other) => {
            return Err(SchemaFileError::UnknownCompression {
                path: path.to_string(),
                value: other.to_string(),
            });
        }
    };
    let versions: Vec<VersionPair> = table
        .schema_versions
        .iter()
        .map(|v| VersionPair {
            id: Some(v.id),
            field_count: Some(v.field_count),
        })
        .collect();
    let columns = to_columns(table.columns)?;
    let added_columns = to_columns(table.added_columns)?;
    let descs = |columns: &[Column]| -> Vec<ColumnDesc> {
        columns
            .iter()
            .map(|c| ColumnDesc {
                name: c.name.clone(),
                data_type: Some(c.ty.data_type()),
                ..ColumnDesc::default()
            })
            .collect()
    };
    let table_meta = TableMeta {
        column_desc: descs(&columns),
        added_column_desc: descs(&added_columns),
        schema_versions: versions.clone(),
        compress_type: Some(compress_type as i32),
        column_key: table
            .indexes
            .into_iter()
            .map(|index| ColumnKey {
                index_name: Some(index.name),
                col_name: index.keys,
                ts_name: index.ts,
                ..ColumnKey::default()
            })
            .collect(),
        ..TableMeta::default()
    };
    let versions = SchemaVersions::new(columns, added_columns, &versions).map_err(|source| {
        SchemaFileError::Schema {
            path: path.to_string(),
            source,
        }
    })?;
    Ok(TableSchema {
        versions,
        compress_type,
        table_meta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_form_lists_columns() {
        let schema = parse_schema(
            r#"[{"name":"c1","type":"int"},{"name":"c2","type":"string"}]"#,
            "s.json",
        )
        .expect("valid schema");
        let (_, cols) = schema.versions.latest();
        assert_eq!(cols.len(), 2);
        assert_eq!(cols[0].ty, ColumnType::Int);
        assert_eq!(cols[1].name, "c2");
        assert_eq!(schema.compress_type, CompressType::KNoCompress);
    }

    #[test]
    fn long_form_has_versions_and_compression() {
        let text = r#"{"columns":[{"name":"a","type":"bigint"}],
                       "added_columns":[{"name":"b","type":"date"}],
                       "schema_versions":[{"id":2,"field_count":2}],
                       "compress_type":"snappy"}"#;
        let schema = parse_schema(text, "s.json").expect("valid schema");
        assert_eq!(schema.versions.schema(1).expect("v1").len(), 1);
        assert_eq!(schema.versions.schema(2).expect("v2").len(), 2);
        assert_eq!(schema.compress_type, CompressType::KSnappy);
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let err = parse_schema(r#"[{"name":"c1","type":"decimal"}]"#, "bad.json").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("bad.json") && text.contains("decimal") && text.contains("c1"),
            "{text}"
        );
        let err = parse_schema("[{\"name\":1}]", "bad.json").unwrap_err();
        assert!(matches!(err, SchemaFileError::Json { .. }), "{err}");
        let err = parse_schema(r#"{"columns":[],"compress_type":"zstd"}"#, "bad.json").unwrap_err();
        assert!(
            matches!(err, SchemaFileError::UnknownCompression { .. }),
            "{err}"
        );
    }
}
