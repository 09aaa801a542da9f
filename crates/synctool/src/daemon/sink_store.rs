//! The `sync-sinks` adapter: [`SinkStore`] is the daemon's [`SegmentStore`]
//! over a [`sync_sinks::Sink`] (local fs, HDFS, S3; CSV or Parquet). A stage
//! needs the table's schema versions: each stage reads the table's current
//! `TableInfo` from the cluster (once per segment, so an `ALTER` is seen, and
//! every row is decoded with the schema version it names).

use std::sync::Arc;

use sync_core::task::{CommitSegment, SinkProgress, StageSegment};
use sync_sinks::{
    CsvOptions, OutputFormat as SinkFormat, ParquetOptions, S3Options, Sink, SinkConfig,
    TableSchema,
};

use super::cluster::ClusterView;
use super::segment_store::{BoxFuture, ClearStaging, SegmentStore, StoreError};
use crate::config::{OutputFormat, SyncToolConfig};

/// A [`Sink`] as the daemon's segment store.
pub struct SinkStore {
    sink: Arc<dyn Sink>,
    cluster: Arc<dyn ClusterView>,
}

impl SinkStore {
    /// Writes through `sink`; schemas come from `cluster`.
    pub fn new(sink: Arc<dyn Sink>, cluster: Arc<dyn ClusterView>) -> Self {
        Self { sink, cluster }
    }

    async fn schema(&self, tid: u32) -> Result<TableSchema, StoreError> {
        let info = self
            .cluster
            .table_info(tid)
            .await
            .map_err(|e| StoreError(format!("cannot read the schema of table tid {tid}: {e}")))?
            .ok_or_else(|| {
                StoreError(format!(
                    "table tid {tid} is gone: no schema to write its rows with"
                ))
            })?;
        TableSchema::from_table_info(&info)
            .map_err(|e| StoreError(format!("schema of table tid {tid}: {e}")))
    }
}

impl SegmentStore for SinkStore {
    fn stage<'a>(&'a self, segment: &'a StageSegment) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let schema = self.schema(segment.id.tid).await?;
            self.sink
                .stage(segment, &schema)
                .await
                .map_err(|e| StoreError(e.to_string()))
        })
    }

    fn commit<'a>(&'a self, segment: &'a CommitSegment) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.sink
                .commit(segment)
                .await
                .map(|_| ())
                .map_err(|e| StoreError(e.to_string()))
        })
    }

    fn clear_staging<'a>(
        &'a self,
        clear: &'a ClearStaging,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.sink
                .clear_staging(
                    clear.tid,
                    clear.pid,
                    clear.task_id,
                    &clear.dest,
                    clear.from_seq,
                )
                .await
                .map_err(|e| StoreError(e.to_string()))
        })
    }

    fn committed<'a>(
        &'a self,
        dest: &'a str,
        tid: u32,
    ) -> BoxFuture<'a, Result<Vec<SinkProgress>, StoreError>> {
        Box::pin(async move {
            self.sink
                .committed(dest, Some(tid))
                .await
                .map_err(|e| StoreError(e.to_string()))
        })
    }
}

/// The sink settings of `synctool.properties`.
pub fn sink_config(config: &SyncToolConfig) -> SinkConfig {
    let format = match config.format {
        OutputFormat::Csv => SinkFormat::Csv(CsvOptions {
            header: config.csv_header,
            null: config.csv_null.clone(),
            ..CsvOptions::default()
        }),
        OutputFormat::Parquet => SinkFormat::Parquet(ParquetOptions::default()),
    };
    SinkConfig {
        format,
        hadoop_conf_dir: config.hadoop_conf_dir.clone(),
        s3: S3Options {
            endpoint: config.s3_endpoint.clone(),
            region: config.s3_region.clone(),
            access_key_id: config.s3_access_key_id.clone(),
            secret_access_key: config.s3_secret_access_key.clone(),
            ..S3Options::default()
        },
    }
}
