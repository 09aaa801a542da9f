//! `synctool_helper`: the operator's command-line tool for the sync.
//!
//! Answers go to standard output; log lines (warnings and errors of the
//! crates it uses; `RUST_LOG` for more) to standard error, without colour
//! codes unless standard error is a terminal (`sync_infra::logging`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use sync_infra::logging::{self, LogLevel, LogOutput};
use synctool::dump::{
    DumpOptions, dump_binlog_path, dump_hex_row, dump_snapshot, snapshot_checkpoint,
};
use synctool::helper::{self, DEFAULT_SERVER};
use synctool::schema_file::load_schema;

#[derive(Parser)]
#[command(
    name = "synctool_helper",
    version,
    about = "Manage and inspect OpenMLDB online→offline sync"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print binlog records (a NNNNNNNN.log file or a binlog directory) or one
    /// hex-encoded row as JSON lines.
    Dump(DumpArgs),
    /// Create the sync task of a table.
    Create(Box<CreateArgs>),
    /// Delete the sync task of a table (data already written stays).
    Delete(TableArgs),
    /// Retry the FAILED partitions of a table's task.
    Retry(TableArgs),
    /// Per-partition status, then the table scope (FAILED parts and reasons).
    Status(ServerArgs),
    /// The live DataCollectors.
    Collectors(ServerArgs),
    /// The SyncTools sharing the cluster's ZooKeeper root, which one is the
    /// coordinator, and how many partition tasks each owns.
    Workers(ServerArgs),
    /// Table tasks that ended lately (mode 0 completed, deleted): rows,
    /// files, bytes, duration.
    History(ServerArgs),
    /// The config and the persisted task state (run on the SyncTool host).
    #[command(name = "tool-status")]
    ToolStatus(ToolStatusArgs),
}

#[derive(Args)]
struct ServerArgs {
    /// SyncTool address.
    #[arg(short = 's', long = "server", default_value = DEFAULT_SERVER)]
    server: String,
}

#[derive(Args)]
struct TableArgs {
    /// The table, as db.table.
    #[arg(short = 't')]
    table: String,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Args)]
struct CreateArgs {
    /// The table, as db.table.
    #[arg(short = 't')]
    table: String,
    /// 0 FULL, 1 INCREMENTAL_BY_TIMESTAMP, 2 FULL_AND_CONTINUOUS.
    #[arg(short = 'm', long = "mode", allow_negative_numbers = true)]
    mode: i64,
    /// Start timestamp (ms), mode 1 only; written `-ts` as in OpenMLDB.
    #[arg(long = "ts")]
    ts: Option<u64>,
    /// Destination path (under one of the SyncTool's allowed roots).
    #[arg(short = 'd', long = "dest")]
    dest: String,
    /// When the destination already holds this table's committed output:
    /// `resume` continues each partition from it, `append` writes everything
    /// again after it, `refuse` fails. Default: modes 1 and 2 resume, mode 0
    /// is refused.
    #[arg(long = "if-exists", value_parser = ["resume", "append", "refuse"])]
    if_exists: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    server: ServerArgs,
}

/// The task's output options; each one not given takes the SyncTool's
/// default (`sink.*` in synctool.properties).
#[derive(Args)]
struct OutputArgs {
    /// File format: parquet or csv.
    #[arg(long = "format", value_parser = ["parquet", "csv"])]
    format: Option<String>,
    /// CSV: write a header line (true or false).
    #[arg(long = "csv-header", value_parser = clap::value_parser!(bool))]
    csv_header: Option<bool>,
    /// CSV: the text written for NULL.
    #[arg(long = "csv-null", allow_hyphen_values = true)]
    csv_null: Option<String>,
    /// Parquet: column compression (none, snappy or zstd).
    #[arg(long = "parquet-compression", value_parser = ["none", "snappy", "zstd"])]
    parquet_compression: Option<String>,
    /// Seal a file at this many rows.
    #[arg(long = "roll-max-rows")]
    roll_max_rows: Option<u64>,
    /// Seal a file at this many bytes of encoded rows.
    #[arg(long = "roll-max-bytes")]
    roll_max_bytes: Option<u64>,
    /// Seal a file when its oldest row is this many milliseconds old.
    #[arg(long = "roll-max-age-ms")]
    roll_max_age_ms: Option<u64>,
    /// Hive-style directories <dest>/<key>=<value>/: day(COL) or hour(COL)
    /// of a timestamp or date column, or COL (its value; then left out of
    /// the files); "" for none.
    #[arg(long = "partition-by")]
    partition_by: Option<String>,
    /// Time zone of day and hour partitions: UTC, +08:00, Asia/Shanghai.
    #[arg(long = "partition-time-zone", allow_hyphen_values = true)]
    partition_time_zone: Option<String>,
}

impl CreateArgs {
    fn options(&self) -> helper::CreateOptions {
        let o = &self.output;
        helper::CreateOptions {
            if_exists: self.if_exists.clone(),
            format: o.format.clone(),
            csv_header: o.csv_header,
            csv_null: o.csv_null.clone(),
            parquet_compression: o.parquet_compression.clone(),
            roll_max_rows: o.roll_max_rows,
            roll_max_bytes: o.roll_max_bytes,
            roll_max_age_ms: o.roll_max_age_ms,
            partition_by: o.partition_by.clone(),
            partition_time_zone: o.partition_time_zone.clone(),
        }
    }
}

#[derive(Args)]
struct ToolStatusArgs {
    /// The SyncTool's properties file.
    #[arg(
        short = 'f',
        long = "synctool_conf",
        default_value = "conf/synctool.properties"
    )]
    conf: PathBuf,
}

#[derive(Args)]
struct DumpArgs {
    /// A binlog file, a directory of binlog files (read in index order), or a
    /// snapshot: a RocksDB checkpoint dir, or a snapshot dir whose MANIFEST names one.
    #[arg(required_unless_present = "row", conflicts_with = "row")]
    path: Option<PathBuf>,
    /// One row as stored (hex); needs --schema.
    #[arg(long, requires = "schema")]
    row: Option<String>,
    /// JSON schema file: [{"name": "c1", "type": "int"}, ...] or the long form
    /// with added_columns, schema_versions, compress_type and indexes (needed for snapshots).
    #[arg(short, long)]
    schema: Option<PathBuf>,
    /// Do not verify record checksums (OpenMLDB's reader skips them by default; this tool checks).
    #[arg(long)]
    no_verify_crc: bool,
    /// Print only records whose log_index is at least this.
    #[arg(long, default_value_t = 0)]
    from_offset: u64,
}

/// OpenMLDB's helper spells the start timestamp `-ts`; clap wants `--ts`.
fn parse_cli(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Cli, clap::Error> {
    let args = args
        .into_iter()
        .map(|a| if a == "-ts" { "--ts".into() } else { a });
    Cli::try_parse_from(args)
}

fn main() -> ExitCode {
    let cli = match parse_cli(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Err(e) = logging::init(LogLevel::Warning, LogOutput::Stderr) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match cli.command {
        Command::Dump(args) => run_dump(args),
        Command::Create(a) => helper::create(
            &a.server.server,
            &a.table,
            a.mode,
            a.ts,
            &a.dest,
            &a.options(),
            &mut out,
        )
        .map_err(Into::into),
        Command::Delete(a) => {
            helper::delete(&a.server.server, &a.table, &mut out).map_err(Into::into)
        }
        Command::Retry(a) => {
            helper::retry(&a.server.server, &a.table, &mut out).map_err(Into::into)
        }
        Command::Status(a) => helper::status(&a.server, &mut out).map_err(Into::into),
        Command::Collectors(a) => helper::collectors(&a.server, &mut out).map_err(Into::into),
        Command::Workers(a) => helper::workers(&a.server, &mut out).map_err(Into::into),
        Command::History(a) => helper::history(&a.server, &mut out).map_err(Into::into),
        Command::ToolStatus(a) => helper::tool_status(&a.conf, &mut out).map_err(Into::into),
    };
    let _ = out.flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_dump(args: DumpArgs) -> anyhow::Result<()> {
    let schema = args.schema.as_deref().map(load_schema).transpose()?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if let Some(row) = &args.row {
        let schema = schema.context("--row needs --schema")?;
        dump_hex_row(row, &schema, &mut out)?;
    } else if let Some(path) = &args.path
        && let Some(checkpoint) = snapshot_checkpoint(path)?
    {
        let schema = schema.context(
            "dumping a snapshot needs --schema (the long form, with the table's indexes)",
        )?;
        let rows = dump_snapshot(&checkpoint, &schema, &mut out)?;
        out.flush()?;
        eprintln!("snapshot {}: {rows} row(s)", checkpoint.display());
    } else if let Some(path) = &args.path {
        let options = DumpOptions {
            schema,
            verify_crc: !args.no_verify_crc,
            from_offset: args.from_offset,
        };
        let summary = dump_binlog_path(path, &options, &mut out)?;
        out.flush()?;
        eprintln!(
            "{} file(s), {} record(s): {} put, {} delete{}",
            summary.files,
            summary.records,
            summary.puts,
            summary.deletes,
            if summary.incomplete_tails > 0 {
                format!(
                    ", {} file(s) end in an incomplete record (still being written?)",
                    summary.incomplete_tails
                )
            } else {
                String::new()
            }
        );
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(args: &[&str]) -> Result<CreateArgs, clap::Error> {
        let mut all = vec!["synctool_helper", "create"];
        all.extend_from_slice(args);
        match parse_cli(all.into_iter().map(Into::into))?.command {
            Command::Create(a) => Ok(*a),
            _ => panic!("not create"),
        }
    }

    #[test]
    fn openmldb_flags_still_parse() {
        let a = create(&[
            "-t", "db.t", "-m", "1", "-ts", "123", "-d", "/x", "-s", "h:1",
        ])
        .unwrap();
        assert_eq!((a.table.as_str(), a.mode, a.ts), ("db.t", 1, Some(123)));
        assert_eq!((a.dest.as_str(), a.server.server.as_str()), ("/x", "h:1"));
        assert_eq!(
            a.options(),
            helper::CreateOptions::default(),
            "no option: the defaults"
        );
    }

    #[test]
    fn option_flags_parse() {
        let a = create(&[
            "-t",
            "db.t",
            "-m",
            "0",
            "-d",
            "/x",
            "--format",
            "csv",
            "--csv-header",
            "false",
            "--csv-null",
            "-",
            "--parquet-compression",
            "zstd",
            "--roll-max-rows",
            "10",
            "--roll-max-bytes",
            "2048",
            "--roll-max-age-ms",
            "500",
            "--partition-by",
            "day(ts)",
            "--partition-time-zone",
            "-03:30",
            "--if-exists",
            "append",
        ])
        .unwrap();
        let o = a.options();
        assert_eq!(o.format.as_deref(), Some("csv"));
        assert_eq!(o.csv_header, Some(false));
        assert_eq!(o.csv_null.as_deref(), Some("-"));
        assert_eq!(o.parquet_compression.as_deref(), Some("zstd"));
        assert_eq!(
            (o.roll_max_rows, o.roll_max_bytes, o.roll_max_age_ms),
            (Some(10), Some(2048), Some(500))
        );
        assert_eq!(o.partition_by.as_deref(), Some("day(ts)"));
        assert_eq!(o.partition_time_zone.as_deref(), Some("-03:30"));
        let mut body = serde_json::json!({});
        o.add_to(&mut body).unwrap();
        assert_eq!(body["format"], "csv");
        assert_eq!(body["csv_header"], false);
        assert_eq!(body["roll_max_rows"], 10);
        assert_eq!(body["partition_time_zone"], "-03:30");
        assert_eq!(body["if_exists"], "kIfExistsAppend");
        for bad in [
            &["--format", "orc"][..],
            &["--parquet-compression", "lzo"],
            &["--csv-header", "maybe"],
            &["--roll-max-rows", "many"],
        ] {
            let mut args = vec!["-t", "db.t", "-m", "0", "-d", "/x"];
            args.extend_from_slice(bad);
            assert!(create(&args).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn help_lists_the_option_flags() {
        let help = match parse_cli(["synctool_helper", "create", "--help"].map(Into::into)) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("--help exits"),
        };
        for flag in [
            "--format",
            "--csv-header",
            "--csv-null",
            "--parquet-compression",
            "--roll-max-rows",
            "--roll-max-bytes",
            "--roll-max-age-ms",
            "--partition-by",
            "--partition-time-zone",
            "--if-exists",
        ] {
            assert!(help.contains(flag), "{flag} missing from:\n{help}");
        }
    }
}
