//! Offline stores for the sync — local filesystem (the embedded default),
//! HDFS, S3 and an in-memory store for tests and the simulation — the output
//! formats (CSV, Parquet) and the **exactly-once commit protocol** that makes
//! a segment of rows visible together with the sync point it reaches.
//!
//! # Entry points
//!
//! * [`Sink`]: the trait the SyncTool daemon drives (stage, commit,
//!   clear_staging, committed, visible_files, check_destination, release);
//!   [`StoreSink`] implements it.
//! * [`SinkError`]: every error, typed; [`SinkError::failure`] gives the
//!   core its class ([`sync_core::task::SinkFailure`], `FAULTS.md` §1).
//! * [`SinkConfig`]: output format ([`OutputFormat`]: [`CsvOptions`],
//!   [`ParquetOptions`]), Hadoop conf dir for bare paths, S3 settings, the
//!   destination check's timeout.
//! * [`TableSchema`]: a table's schema versions, from `TableInfo`.
//! * Per-task options: every segment may carry its task's
//!   [`sync_core::task::TaskOptions`] (format, CSV header and NULL, Parquet
//!   compression, partitioning), which override [`SinkConfig::format`] for
//!   it; [`check_options`] checks a partitioning against a table at create.
//! * Partitioned output ([`partition`], [`partitioned`], [`time_zone`]):
//!   Hive-style `<key>=<value>/` directories; a segment whose rows fall in
//!   several partitions is several files under one commit record.
//! * Destinations ([`dest`]): `file:///p`, `hdfs://nn:port/p`, `s3://bucket/p`,
//!   `memory://area/p` ([`forget_memory_area`]), or `/p` resolved with
//!   `fs.defaultFS` as OpenMLDB does.
//!
//! # Layout under a destination
//!
//! ```text
//! <dest>/part-<tid>-<pid>-<task>-<seq>.csv|.parquet                committed, visible
//! <dest>/<key>=<value>/part-<tid>-<pid>-<task>-<seq>.<ext>         committed, visible (partitioned)
//! <dest>/_staging/<tid>-<pid>-<task>-<seq>.<ext>.inprogress         staged, hidden
//! <dest>/_staging/….inprogress.<token>.tmp                         staged, being written
//! <dest>/_sync/<tid>-<pid>-<task>/<seq>.commit                     commit records, hidden
//! <dest>/_sync/<tid>-<pid>-<task>/<seq>.commit.<token>.tmp         a record being written
//! ```
//!
//! Readers point at `<dest>` (`spark.read.parquet(dest)`, `pyarrow.dataset`,
//! or the glob `<dest>/part-*.csv`): Spark, Hive and pyarrow skip names
//! starting with `_` or `.`, so staging, records and temporaries are never
//! read. And nothing uncommitted ends in `.csv` or `.parquet`, so even a
//! recursive glob `<dest>/**/*.parquet` matches committed files only. Names
//! are [`SegmentId::name`](sync_core::task::SegmentId::name), zero-padded, so
//! a replay always produces the same name and files sort by partition and
//! seq. Temporaries carry a token unique per write, so two writers never
//! write into the same temporary.
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
//! `<staged>.<token>.tmp` (fsynced on the local fs), then rename it to
//! `<name>.<ext>.inprogress` (S3: one PUT, objects appear whole). A segment
//! without rows stages nothing.
//!
//! **Commit**:
//! 1. If segment `seq` is committed, compare its record with the request
//!    (start, end, row counts; not the epoch): equal →
//!    [`CommitOutcome::AlreadyCommitted`] (and delete a leftover staged
//!    file), different → [`SinkError::CommitConflict`].
//! 2. If `seq > 0`, segment `seq − 1` must be committed and its record's end
//!    must equal this `start`, else [`SinkError::StartMismatch`].
//! 3. A segment with rows must be staged, else [`SinkError::NotStaged`].
//! 4. **Create the commit record exclusively**:
//!    `_sync/<tid>-<pid>-<task>/<seq>.commit` (protobuf: seq, start, end, row
//!    counts, visible file name, the writer's epoch), whole, and only if no
//!    record of `seq` exists: local fs a temporary, fsync, `link(2)` (fails
//!    with `EEXIST`), unlink the temporary, fsync the directory; HDFS a
//!    temporary and `rename2` without overwrite; S3 a PUT with
//!    `If-None-Match: *` (a server that ignores it falls back to
//!    check-then-write: see below); memory one critical section. Two writers
//!    can not both create record `seq`. If it exists, it is read: the same
//!    commit (start, end, counts) → carry on (a retry after a crash after the
//!    record, or another writer doing the same commit); different →
//!    [`SinkError::CommitConflict`]: this writer stops, having changed
//!    nothing.
//! 5. **The atomic step, never replacing**: the staged file takes its
//!    visible name only if no file has it: local fs `link(2)` + fsync of the
//!    directory, then unlink of the staged name; HDFS `rename2` without
//!    overwrite; S3 `CopyObject` with `If-None-Match: *` (objects appear whole;
//!    a server that ignores it falls back to check-then-copy), then delete of
//!    the staged object; memory a copy if absent, then delete. If a visible
//!    file is already there: when step 4 found our record, another attempt of
//!    the same commit published it → `AlreadyCommitted`; when step 4 created
//!    the record, the file is not this commit's → `CommitConflict` ("visible
//!    file"), the file is left as it is.
//!
//! **Segment `seq` is committed iff its record exists and the file the record
//! names is visible** (a segment without rows names no file: its record,
//! created whole in one step, is the commit).
//!
//! **Partitioned segments** stage one file per partition directory
//! (`<name>.<writer>.<k>.<ext>.inprogress`) and then the list of their
//! visible names (`<name>.<writer>.files.inprogress`); the commit needs the
//! list, names the first file in the record's `file` and the others in
//! `more_files`, publishes the first (the commit point) and then the others.
//! A crash between two publishes leaves a committed segment with files still
//! staged: a retried commit and `clear_staging` publish them (roll forward)
//! before removing leftovers. So the one step that makes the
//! rows visible is the step that commits the end point in the record.
//!
//! **Crash after each step** (all reachable in tests through
//! [`StoreSink::crash_after`] with a [`Step`]):
//!
//! | crash after | store | recovery reports | replay |
//! |---|---|---|---|
//! | stage temp written | `_staging/….inprogress.<token>.tmp` | `seq − 1` | `clear_staging` removes it; stage rewrites |
//! | staged | `_staging/….inprogress` | `seq − 1` | stage replaces it (same name), or `clear_staging` |
//! | record created | record, staged, no visible file | `seq − 1` (record ignored) | `clear_staging` deletes the record; commit creates it again (or, not cleared, finds it equal and carries on) |
//! | published | visible file + staged name (local fs, S3, memory; HDFS renamed it) | `seq` | commit → `AlreadyCommitted` and deletes the staged name; `clear_staging` deletes it too; no second copy |
//! | before the reply | as after the step | `seq` | as above |
//!
//! A crash inside a step (between the local link of a record and the unlink
//! of its temporary) leaves only a temporary, which `clear_staging` removes.
//!
//! **Durability** (local fs): every file is fsynced before it is renamed or
//! linked, and its directory after every rename, link and `mkdir` (see
//! `store/local.rs`). HDFS files are complete when closed; S3 objects when
//! the PUT or copy answers.
//!
//! **S3 conditional writes.** The first exclusive operation on a bucket
//! prefix probes whether the server honours `If-None-Match: *` on PUT and on
//! `CopyObject` (AWS S3 does; moto 5 does for PUT but not for copy). Where
//! it does not, the operation falls back to a check (`stat`) and then the
//! write: correct for one writer, racy for two. The epoch fencing of
//! `FAULTS.md` §4 (a stale writer is refused before step 4) closes that
//! window.
//!
//! **Recovery** ([`Sink::committed`]): per partition task directory in `_sync`,
//! the highest seq whose record is committed by the rule above; its end point
//! and `rows_total` become the [`SinkProgress`](sync_core::task::SinkProgress).
//! Nothing is read from local state.
//!
//! **Clean-up** ([`Sink::clear_staging`]): deletes staged files (and
//! temporaries) and *uncommitted* records (and their temporaries) of seqs
//! `≥ from_seq`, and leftovers of committed segments (a staged name after a
//! crash between publish and delete, a record's temporary); committed
//! records and visible files are never touched.
//!
//! **Destinations** ([`Sink::check_destination`]): before a task is created
//! its destination is resolved, its directory created and a probe written,
//! created exclusively, published without replacing and removed in
//! `_staging/`, within [`SinkConfig::check_timeout`]. [`Sink::release`]
//! drops a destination's store (and HDFS client) when its task is gone.
//!
//! Writers: the record makes two writers of the same seq safe (one wins, the
//! other gets a conflict). Keeping a stale writer from staging over the
//! current one's files, or clearing them, is the epoch fencing's job
//! (`FAULTS.md` §4), which this crate's record supports by naming the epoch.
//!
//! # Modules
//!
//! [`sink`] (trait), [`store_sink`] (protocol), `store` (the backends:
//! `local`, `hdfs`, `s3`, `memory`), [`dest`] (destinations), [`layout`]
//! (names), [`record`] (commit record), [`error`] (errors and their class),
//! [`schema`], [`format`](mod@format) ([`format::csv`], [`format::parquet`]),
//! [`partition`] (directories, escaping), [`partitioned`] (one segment's
//! files), [`time_zone`].

pub mod dest;
pub mod error;
pub mod format;
pub mod layout;
pub mod offload;
pub mod partition;
pub mod partitioned;
pub mod record;
pub mod schema;
pub mod sink;
mod store;
pub mod store_sink;
pub mod time_zone;

pub use dest::{Location, S3Options, SinkConfig};
pub use error::SinkError;
pub use format::{
    BadRows, CsvOptions, InvalidUtf8, OutputFormat, ParquetCompression, ParquetOptions, Rejected,
    TimestampFormat,
};
pub use offload::Offload;
pub use partition::{PartitionError, check_options};
pub use schema::TableSchema;
pub use sink::SinkCounters;
pub use sink::{CommitOutcome, Sink, Step};
pub use store::memory::forget_memory_area;
pub use store_sink::StoreSink;
pub use sync_core::row;
