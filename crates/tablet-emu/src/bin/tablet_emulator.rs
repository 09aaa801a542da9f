//! `tablet_emulator`: create, grow, snapshot and serve emulated OpenMLDB
//! disk tables (see the crate docs).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use sync_infra::coordinator::zk::{ZkConfig, ZkCoordinator};
use tablet_emu::{EmulatedTable, IndexSpec, Storage, TableEmulator, TabletServer};

#[derive(Parser)]
#[command(
    name = "tablet_emulator",
    about = "Emulates an OpenMLDB tablet: writes real-format disk-table partitions \
             (<root>/<tid>_<pid>/{data,snapshot,binlog}) and serves GetTableStatus/GetTableSchema over HTTP+JSON"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args)]
struct Target {
    /// Root dir (the tablet's --hdd_root_path).
    #[arg(long)]
    root: PathBuf,
    /// Table id.
    #[arg(long)]
    tid: u32,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a table (demo schema: card string, mcc int, ..., ts timestamp) and fill it.
    Create {
        #[command(flatten)]
        target: Target,
        /// Partitions.
        #[arg(long, default_value_t = 1)]
        partitions: u32,
        /// Rows put into each partition.
        #[arg(long, default_value_t = 1000)]
        rows: u64,
        /// Take a snapshot after this many rows (per partition), then put the rest.
        #[arg(long)]
        snapshot_after: Option<u64>,
        /// Snapshot name (default: current UTC YYYYMMDDHHMM).
        #[arg(long)]
        snapshot_name: Option<String>,
        /// Store rows snappy-compressed.
        #[arg(long)]
        snappy: bool,
        /// Add index `idx2` on `card` with the put time, sharing idx0's column family.
        #[arg(long)]
        shared_index: bool,
        /// Storage mode reported: hdd, ssd or memory.
        #[arg(long, default_value = "hdd")]
        storage: String,
        /// Row generator seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Distinct values per key column.
        #[arg(long, default_value_t = 50)]
        key_cardinality: u64,
        /// Rotate a binlog file once it exceeds this many bytes.
        #[arg(long, default_value_t = 4 << 30)]
        binlog_max_bytes: u64,
        /// Table name (default t<tid>).
        #[arg(long)]
        name: Option<String>,
        /// Database name.
        #[arg(long, default_value = "demo_db")]
        db: String,
    },
    /// Put more generated rows into every partition.
    Append {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        rows: u64,
    },
    /// Delete a key of an index in one partition (kDelete binlog entry + DeleteRange).
    Delete {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 0)]
        pid: u32,
        #[arg(long, default_value_t = 0)]
        index: usize,
        #[arg(long)]
        pk: String,
    },
    /// Snapshot every partition (checkpoint + MANIFEST, previous checkpoint removed).
    Snapshot {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        name: Option<String>,
    },
    /// Delete binlog files entirely covered by the snapshot.
    GcBinlog {
        #[command(flatten)]
        target: Target,
    },
    /// Write the table's TableInfo (leader = --endpoint) to a standalone dir or ZooKeeper.
    Register {
        #[command(flatten)]
        target: Target,
        /// The tablet endpoint to name as leader (host:port of `serve`).
        #[arg(long)]
        endpoint: String,
        /// Standalone metadata dir (<dir>/<tid>.tableinfo).
        #[arg(long, conflicts_with = "zk_cluster")]
        metadata_dir: Option<PathBuf>,
        /// ZooKeeper host:port list.
        #[arg(long, requires = "zk_root")]
        zk_cluster: Option<String>,
        /// OpenMLDB root path in ZooKeeper, e.g. /openmldb.
        #[arg(long)]
        zk_root: Option<String>,
    },
    /// Serve the tablet API for every table under --root.
    Serve {
        #[arg(long)]
        root: PathBuf,
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:9527")]
        listen: String,
    },
}

fn storage(s: &str) -> Result<Storage> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "hdd" => Storage::Hdd,
        "ssd" => Storage::Ssd,
        "memory" => Storage::Memory,
        other => anyhow::bail!("unknown storage mode `{other}` (hdd, ssd, memory)"),
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Create {
            target,
            partitions,
            rows,
            snapshot_after,
            snapshot_name,
            snappy,
            shared_index,
            storage: mode,
            seed,
            key_cardinality,
            binlog_max_bytes,
            name,
            db,
        } => {
            let mut table = EmulatedTable::demo(target.tid, partitions);
            table.snappy = snappy;
            table.storage = storage(&mode)?;
            table.seed = seed;
            table.key_cardinality = key_cardinality;
            table.binlog_max_bytes = binlog_max_bytes;
            table.db = db;
            if let Some(name) = name {
                table.name = name;
            }
            if shared_index {
                table.indexes.push(IndexSpec::new("idx2", &["card"], None));
            }
            let mut emu = TableEmulator::create(&target.root, table)?;
            let first = snapshot_after.unwrap_or(rows).min(rows);
            emu.append_all(first)?;
            if snapshot_after.is_some() {
                emu.snapshot_all(snapshot_name)?;
            }
            emu.append_all(rows - first)?;
            println!(
                "created table {} under {}",
                target.tid,
                target.root.display()
            );
        }
        Cmd::Append { target, rows } => {
            TableEmulator::open(&target.root, target.tid)?.append_all(rows)?;
        }
        Cmd::Delete {
            target,
            pid,
            index,
            pk,
        } => {
            let mut emu = TableEmulator::open(&target.root, target.tid)?;
            emu.partition(pid)?.delete(index, &pk)?;
            emu.save()?;
        }
        Cmd::Snapshot { target, name } => {
            TableEmulator::open(&target.root, target.tid)?.snapshot_all(name)?;
        }
        Cmd::GcBinlog { target } => {
            let n = TableEmulator::open(&target.root, target.tid)?.gc_binlog_all()?;
            println!("deleted {n} binlog files");
        }
        Cmd::Register {
            target,
            endpoint,
            metadata_dir,
            zk_cluster,
            zk_root,
        } => {
            let emu = TableEmulator::open(&target.root, target.tid)?;
            if let Some(dir) = metadata_dir {
                emu.register_standalone(&dir, &endpoint)?;
            } else if let (Some(cluster), Some(root_path)) = (zk_cluster, zk_root) {
                let zk = ZkCoordinator::connect(ZkConfig {
                    cluster,
                    root_path,
                    session_timeout: Duration::from_secs(10),
                    cert: String::new(),
                })
                .await
                .context("connecting to ZooKeeper")?;
                emu.register_zk(&zk, &endpoint).await?;
            } else {
                anyhow::bail!("give --metadata-dir or --zk-cluster and --zk-root");
            }
        }
        Cmd::Serve { root, listen } => {
            let server = TabletServer::start(&root, &listen).await?;
            println!("serving {} on {}", root.display(), server.endpoint());
            server.wait().await;
        }
    }
    Ok(())
}
