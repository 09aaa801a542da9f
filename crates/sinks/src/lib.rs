//! Offline stores for the sync — local filesystem (the embedded default),
//! HDFS and S3, all through opendal — the output formats (CSV, Parquet) and
//! the **exactly-once commit protocol** that makes a segment of rows visible
//! together with the sync point it reaches.
//!
//! # Entry points
//!
//! * [`Sink`]: the trait the SyncTool daemon drives (stage, commit,
//!   clear_staging, committed, visible_files); [`StoreSink`] implements it.
//! * [`SinkConfig`]: output format ([`OutputFormat`]: [`CsvOptions`],
//!   [`ParquetOptions`]), Hadoop conf dir for bare paths, S3 settings.
//! * [`TableSchema`]: a table's schema versions, from `TableInfo`.
//! * Destinations ([`dest`]): `file:///p`, `hdfs://nn:port/p`, `s3://bucket/p`,
//!   or `/p` resolved with `fs.defaultFS` as OpenMLDB does.
//!
//! # Layout under a destination
//!
//! ```text
//! <dest>/part-<tid>-<pid>-<task>-<seq>.csv|.parquet   committed, visible
//! <dest>/_staging/<tid>-<pid>-<task>-<seq>.<ext>       staged, hidden
//! <dest>/_sync/<tid>-<pid>-<task>/<seq>.commit         commit records, hidden
//! ```
//!
//! Readers point at `<dest>` (`spark.read.parquet(dest)`, `pyarrow.dataset`,
//! or the glob `<dest>/part-*.csv`): Spark, Hive and pyarrow skip names
//! starting with `_` or `.`, so staging, records and temporaries (`*.tmp`,
//! only ever under `_staging/` and `_sync/`) are never read. Names are
//! [`SegmentId::name`](sync_core::task::SegmentId::name), zero-padded, so a
//! replay always produces the same name and files sort by partition and seq.
//!
//! # Commit protocol
//!
//! The core ([`sync_core::task::commit`]) seals rows into segments `seq = 0,
//! 1, 2, …` per partition task and asks for two steps per segment, each
//! idempotent and retried as is:
//!
//! **Stage** (`_staging/`): if the segment is already committed, do nothing
//! (the visible file is never touched by a stage). Otherwise encode the rows
//! (each decoded with its own schema version) and write the file whole:
//! `<name>.<ext>.tmp`, then rename to `<name>.<ext>` (S3: one PUT, objects
//! appear whole). A segment without rows stages nothing.
//!
//! **Commit**:
//! 1. If segment `seq` is committed, compare its record with the request:
//!    equal → [`CommitOutcome::AlreadyCommitted`] (and delete a leftover S3
//!    staged object), different → [`SinkError::CommitConflict`].
//! 2. If `seq > 0`, segment `seq − 1` must be committed and its record's end
//!    must equal this `start`, else [`SinkError::StartMismatch`].
//! 3. A segment with rows must be staged, else [`SinkError::NotStaged`].
//! 4. Write the commit record `_sync/<tid>-<pid>-<task>/<seq>.commit`
//!    (protobuf: seq, start, end, row counts, visible file name), whole
//!    (temporary + rename; S3: one PUT).
//! 5. **The atomic step**: rename the staged file to its visible name
//!    (local fs `rename(2)`; HDFS `rename2` through hdfs-native, refusing to
//!    overwrite). On S3, copy it to the visible key (the object appears whole
//!    at once), then delete the staged object.
//!
//! **Segment `seq` is committed iff its record exists and the file the record
//! names is visible** (a segment without rows names no file: its record,
//! written whole in one step, is the commit). So the one step that makes the
//! rows visible is the step that commits the end point in the record.
//!
//! **Crash after each step** (all reachable in tests through
//! [`StoreSink::crash_after`] with a [`Step`]):
//!
//! | crash after | store | recovery reports | replay |
//! |---|---|---|---|
//! | stage temp written | `_staging/….tmp` | `seq − 1` | `clear_staging` removes it; stage rewrites |
//! | staged | `_staging/…` | `seq − 1` | stage overwrites (same name), or `clear_staging` |
//! | record written | record, staged, no visible file | `seq − 1` (record ignored) | `clear_staging` deletes the record; commit writes it again |
//! | renamed / copied | visible file (+ S3 staged leftover) | `seq` | commit → `AlreadyCommitted`; no second copy |
//! | before the reply | as above | `seq` | as above |
//!
//! **Recovery** ([`Sink::committed`]): per partition task directory in `_sync`,
//! the highest seq whose record is committed by the rule above; its end point
//! and `rows_total` become the [`SinkProgress`](sync_core::task::SinkProgress).
//! Nothing is read from local state.
//!
//! **Clean-up** ([`Sink::clear_staging`]): deletes staged files (and
//! temporaries) and *uncommitted* records of seqs `≥ from_seq`, and staged
//! leftovers of committed segments (S3: a crash between copy and delete);
//! committed records and visible files are never touched.
//!
//! Assumed: one writer per partition task at a time (the SyncTool leader;
//! fencing a stale leader is the daemon's job).
//!
//! # Modules
//!
//! [`sink`] (trait), [`store_sink`] (protocol), `store` (opendal + atomic
//! moves), [`dest`] (destinations), [`layout`] (names), [`record`] (commit
//! record), [`schema`], [`format`](mod@format) ([`format::csv`], [`format::parquet`]).

pub mod dest;
pub mod error;
pub mod format;
pub mod layout;
pub mod record;
pub mod schema;
pub mod sink;
mod store;
pub mod store_sink;

pub use dest::{Location, S3Options, SinkConfig};
pub use error::SinkError;
pub use format::{
    CsvOptions, InvalidUtf8, OutputFormat, ParquetCompression, ParquetOptions, TimestampFormat,
};
pub use schema::TableSchema;
pub use sink::{CommitOutcome, Sink, Step};
pub use store::memory::forget_memory_area;
pub use store_sink::StoreSink;
pub use sync_core::row;
