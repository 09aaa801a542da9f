//! The [`Coordinator`] for a single host without ZooKeeper: the collectors are
//! a fixed list, and table metadata is read from a directory holding one
//! binary `TableInfo` per table, named `<tid>.tableinfo` (what the tablet
//! emulator writes in place of the name server's ZooKeeper node).

use std::path::{Path, PathBuf};

use prost::Message;
use sync_proto::nameserver::TableInfo;

use super::{ClusterError, Coordinator};

/// File suffix of a table's metadata in the metadata directory.
pub const TABLE_INFO_SUFFIX: &str = ".tableinfo";

#[derive(Debug, Clone)]
pub struct StandaloneCoordinator {
    collectors: Vec<String>,
    metadata_dir: PathBuf,
}

impl StandaloneCoordinator {
    pub fn new(mut collectors: Vec<String>, metadata_dir: PathBuf) -> Self {
        collectors.sort();
        collectors.dedup();
        Self {
            collectors,
            metadata_dir,
        }
    }

    /// Where a table's metadata file lives.
    pub fn table_info_path(metadata_dir: &Path, tid: u32) -> PathBuf {
        metadata_dir.join(format!("{tid}{TABLE_INFO_SUFFIX}"))
    }

    /// Writes a table's metadata atomically (temp file + rename).
    pub fn put_table_info(metadata_dir: &Path, info: &TableInfo) -> Result<(), ClusterError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| ClusterError::Io { path, source }
        };
        std::fs::create_dir_all(metadata_dir).map_err(io(metadata_dir))?;
        let path = Self::table_info_path(metadata_dir, info.tid());
        let temp = path.with_extension("tableinfo.tmp");
        std::fs::write(&temp, info.encode_to_vec()).map_err(io(&temp))?;
        std::fs::rename(&temp, &path).map_err(io(&path))
    }
}

impl Coordinator for StandaloneCoordinator {
    async fn live_collectors(&self) -> Result<Vec<String>, ClusterError> {
        Ok(self.collectors.clone())
    }

    async fn table_infos(&self) -> Result<Vec<TableInfo>, ClusterError> {
        let dir_error = |source| ClusterError::Io {
            path: self.metadata_dir.display().to_string(),
            source,
        };
        let entries = match std::fs::read_dir(&self.metadata_dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(dir_error(err)),
        };
        let mut tables = Vec::new();
        for entry in entries {
            let name = entry.map_err(dir_error)?.file_name();
            let tid = name
                .to_str()
                .and_then(|n| n.strip_suffix(TABLE_INFO_SUFFIX))
                .and_then(|n| n.parse::<u32>().ok());
            if let Some(info) = match tid {
                Some(tid) => self.table_info(tid).await?,
                None => None,
            } {
                tables.push(info);
            }
        }
        tables.sort_by_key(|t| t.tid());
        Ok(tables)
    }

    async fn table_info(&self, tid: u32) -> Result<Option<TableInfo>, ClusterError> {
        let path = Self::table_info_path(&self.metadata_dir, tid);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ClusterError::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        TableInfo::decode(bytes.as_slice())
            .map(Some)
            .map_err(|source| ClusterError::BadTableInfo {
                path: path.display().to_string(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(tid: u32, db: &str, name: &str) -> TableInfo {
        TableInfo {
            tid: Some(tid),
            db: Some(db.into()),
            name: Some(name.into()),
            ..TableInfo::default()
        }
    }

    #[tokio::test]
    async fn serves_collectors_and_tables_from_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        StandaloneCoordinator::put_table_info(dir.path(), &table(3, "db", "t3")).expect("write");
        StandaloneCoordinator::put_table_info(dir.path(), &table(1, "db", "t1")).expect("write");
        std::fs::write(dir.path().join("notes.txt"), "ignored").expect("write");
        let coord = StandaloneCoordinator::new(
            vec!["b:2".into(), "a:1".into(), "a:1".into()],
            dir.path().into(),
        );

        assert_eq!(
            coord.live_collectors().await.expect("list"),
            vec!["a:1", "b:2"]
        );
        let tids: Vec<u32> = coord
            .table_infos()
            .await
            .expect("tables")
            .iter()
            .map(|t| t.tid())
            .collect();
        assert_eq!(tids, vec![1, 3]);
        assert_eq!(
            coord
                .find_table("db", "t3")
                .await
                .expect("find")
                .map(|t| t.tid()),
            Some(3)
        );
        assert!(
            coord
                .find_table("db", "nope")
                .await
                .expect("find")
                .is_none()
        );
        assert!(
            coord
                .table_info(9)
                .await
                .expect("missing is None")
                .is_none()
        );
    }

    #[tokio::test]
    async fn corrupt_metadata_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            StandaloneCoordinator::table_info_path(dir.path(), 5),
            [0xff, 0xff, 0xff],
        )
        .expect("write");
        let coord = StandaloneCoordinator::new(Vec::new(), dir.path().into());
        let err = coord.table_info(5).await.expect_err("corrupt");
        assert!(err.to_string().contains("5.tableinfo"), "{err}");
    }
}
