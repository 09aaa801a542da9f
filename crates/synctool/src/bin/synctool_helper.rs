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
    Create(CreateArgs),
    /// Delete the sync task of a table (data already written stays).
    Delete(TableArgs),
    /// Retry the FAILED partitions of a table's task.
    Retry(TableArgs),
    /// Per-partition status, then the table scope (FAILED parts and reasons).
    Status(ServerArgs),
    /// The live DataCollectors.
    Collectors(ServerArgs),
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
    server: ServerArgs,
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

fn main() -> ExitCode {
    // OpenMLDB's helper spells the start timestamp `-ts`; clap wants `--ts`.
    let args = std::env::args_os().map(|a| if a == "-ts" { "--ts".into() } else { a });
    let cli = Cli::parse_from(args);
    if let Err(e) = logging::init(LogLevel::Warning, LogOutput::Stderr) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match cli.command {
        Command::Dump(args) => run_dump(args),
        Command::Create(a) => {
            let if_exists = a.if_exists.as_deref();
            helper::create(
                &a.server.server,
                &a.table,
                a.mode,
                a.ts,
                &a.dest,
                if_exists,
                &mut out,
            )
            .map_err(Into::into)
        }
        Command::Delete(a) => {
            helper::delete(&a.server.server, &a.table, &mut out).map_err(Into::into)
        }
        Command::Retry(a) => {
            helper::retry(&a.server.server, &a.table, &mut out).map_err(Into::into)
        }
        Command::Status(a) => helper::status(&a.server, &mut out).map_err(Into::into),
        Command::Collectors(a) => helper::collectors(&a.server, &mut out).map_err(Into::into),
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
