//! The admin commands of `synctool_helper` (OpenMLDB's `synctool_helper.py`
//! plus `collectors`, `workers` and `retry`): each talks HTTP+JSON to a SyncTool at
//! `-s HOST:PORT` (default `127.0.0.1:8848`), except `tool-status`, which
//! reads the persisted state from the progress path of a properties file.
//! Every function writes its report to `out` and returns an error with a
//! clear message (the server's message, or the unreachable address).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use sync_core::point::Point;
use sync_infra::store::FsStore;

use crate::client::{self, ClientError, HttpReply};
use crate::config::SyncToolConfig;
use crate::daemon::startup::{STATE_FILE, read_state};

/// OpenMLDB's default SyncTool address.
pub const DEFAULT_SERVER: &str = "127.0.0.1:8848";
const TIMEOUT: Duration = Duration::from_secs(30);
const SERVICE: &str = "/openmldb.datasync.SyncTool";

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum HelperError {
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// The server could not be reached or spoke nonsense.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The server refused.
    #[error("SyncTool at {server} refused: {message}")]
    Refused {
        /// The address.
        server: String,
        /// Its message.
        message: String,
    },
    /// Local files.
    #[error("{0}")]
    Local(String),
    /// Writing the report.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// Splits `db.table`.
pub fn split_table(t: &str) -> Result<(String, String), HelperError> {
    match t.split_once('.') {
        Some((db, table)) if !db.is_empty() && !table.is_empty() && !table.contains('.') => {
            Ok((db.to_string(), table.to_string()))
        }
        _ => Err(HelperError::Usage(format!("-t `{t}`: expected db.table"))),
    }
}

fn call(
    server: &str,
    method: &str,
    path: &str,
    body: &Value,
) -> Result<(HttpReply, Value), HelperError> {
    let reply = client::request(server, method, path, &body.to_string(), TIMEOUT)?;
    let value: Value = serde_json::from_str(&reply.body).map_err(|e| HelperError::Refused {
        server: server.to_string(),
        message: format!(
            "HTTP {} with a body that is not JSON ({e}): {}",
            reply.status, reply.body
        ),
    })?;
    Ok((reply, value))
}

/// Checks `{"code":0}`; otherwise the server's message.
fn general(server: &str, value: &Value) -> Result<(), HelperError> {
    let code = value.get("code").and_then(Value::as_i64).unwrap_or(-1);
    if code == 0 {
        Ok(())
    } else {
        Err(HelperError::Refused {
            server: server.to_string(),
            message: value
                .get("msg")
                .and_then(Value::as_str)
                .unwrap_or("(no message)")
                .to_string(),
        })
    }
}

/// `create -t db.table -m M [-ts T] -d DEST`.
/// What `create --if-exists` asks for when the destination already holds
/// the table's committed output.
pub fn if_exists_value(word: &str) -> Result<&'static str, HelperError> {
    match word {
        "resume" => Ok("kIfExistsResume"),
        "append" => Ok("kIfExistsAppend"),
        "refuse" | "fail" => Ok("kIfExistsRefuse"),
        other => Err(HelperError::Usage(format!(
            "--if-exists {other}: expected resume, append or refuse"
        ))),
    }
}

/// The output options of `create` (each absent: SyncTool's default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateOptions {
    /// `--if-exists`.
    pub if_exists: Option<String>,
    /// `--format parquet|csv`.
    pub format: Option<String>,
    /// `--csv-header true|false`.
    pub csv_header: Option<bool>,
    /// `--csv-null TEXT`.
    pub csv_null: Option<String>,
    /// `--parquet-compression none|snappy|zstd`.
    pub parquet_compression: Option<String>,
    /// `--roll-max-rows N`.
    pub roll_max_rows: Option<u64>,
    /// `--roll-max-bytes N`.
    pub roll_max_bytes: Option<u64>,
    /// `--roll-max-age-ms N`.
    pub roll_max_age_ms: Option<u64>,
    /// `--partition-by day(col)|hour(col)|col`.
    pub partition_by: Option<String>,
    /// `--partition-time-zone TZ`.
    pub partition_time_zone: Option<String>,
}

impl CreateOptions {
    /// Adds the options given to a `CreateSyncTask` JSON body (the proto's
    /// field names).
    pub fn add_to(&self, body: &mut Value) -> Result<(), HelperError> {
        if let Some(word) = &self.if_exists {
            body["if_exists"] = json!(if_exists_value(word)?);
        }
        let texts = [
            ("format", &self.format),
            ("csv_null", &self.csv_null),
            ("parquet_compression", &self.parquet_compression),
            ("partition_by", &self.partition_by),
            ("partition_time_zone", &self.partition_time_zone),
        ];
        for (key, value) in texts {
            if let Some(v) = value {
                body[key] = json!(v);
            }
        }
        let numbers = [
            ("roll_max_rows", self.roll_max_rows),
            ("roll_max_bytes", self.roll_max_bytes),
            ("roll_max_age_ms", self.roll_max_age_ms),
        ];
        for (key, value) in numbers {
            if let Some(v) = value {
                body[key] = json!(v);
            }
        }
        if let Some(h) = self.csv_header {
            body["csv_header"] = json!(h);
        }
        Ok(())
    }
}

pub fn create(
    server: &str,
    table: &str,
    mode: i64,
    start_ts: Option<u64>,
    dest: &str,
    options: &CreateOptions,
    out: &mut dyn Write,
) -> Result<(), HelperError> {
    let (db, name) = split_table(table)?;
    if !(0..=2).contains(&mode) {
        return Err(HelperError::Usage(format!(
            "-m {mode}: mode must be 0 (FULL), 1 (INCREMENTAL_BY_TIMESTAMP) or 2 (FULL_AND_CONTINUOUS)"
        )));
    }
    let start_ts = match (mode, start_ts) {
        (1, None) => {
            return Err(HelperError::Usage(
                "-m 1 (INCREMENTAL_BY_TIMESTAMP) needs -ts <start timestamp in ms>".into(),
            ));
        }
        (1, Some(ts)) => ts,
        _ => 0,
    };
    if dest.trim().is_empty() {
        return Err(HelperError::Usage("-d DEST is required".into()));
    }
    let mut body =
        json!({"db": db, "name": name, "mode": mode, "start_ts": start_ts, "dest": dest});
    options.add_to(&mut body)?;
    let (reply, value) = call(server, "POST", &format!("{SERVICE}/CreateSyncTask"), &body)?;
    writeln!(out, "{}", reply.body)?;
    general(server, &value)
}

/// `delete -t db.table`.
pub fn delete(server: &str, table: &str, out: &mut dyn Write) -> Result<(), HelperError> {
    let (db, name) = split_table(table)?;
    let (reply, value) = call(
        server,
        "POST",
        &format!("{SERVICE}/DeleteSyncTask"),
        &json!({"db": db, "name": name}),
    )?;
    writeln!(out, "{}", reply.body)?;
    general(server, &value)
}

/// `retry -t db.table`: the FAILED parts start again from their committed point.
pub fn retry(server: &str, table: &str, out: &mut dyn Write) -> Result<(), HelperError> {
    let (db, name) = split_table(table)?;
    let (reply, value) = call(
        server,
        "POST",
        &format!("{SERVICE}/RetrySyncTask"),
        &json!({"db": db, "name": name}),
    )?;
    writeln!(out, "{}", reply.body)?;
    general(server, &value)
}

/// SyncTool's status page as JSON (an error reply is the call's error).
fn status_page(server: &str) -> Result<Value, HelperError> {
    let (reply, value) = call(server, "GET", "/status?format=json", &json!({}))?;
    if reply.status != 200 {
        general(server, &value)?;
    }
    Ok(value)
}

/// The array under `key` (empty when absent).
fn array(value: &Value, key: &str) -> Vec<Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// `status`: one line per partition, then the table-scope summary.
pub fn status(server: &str, out: &mut dyn Write) -> Result<(), HelperError> {
    let value = status_page(server)?;
    let tables = array(&value, "tables");
    if tables.is_empty() {
        writeln!(out, "no task")?;
        return sync_tools_line(&value, out);
    }
    let parts: usize = tables
        .iter()
        .map(|t| t.get("parts").and_then(Value::as_array).map_or(0, Vec::len))
        .sum();
    writeln!(out, "{parts} tasks(tid-pid)")?;
    let s = |v: &Value, k: &str| match v.get(k) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    for t in &tables {
        for p in t
            .get("parts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut line = format!(
                "{}-{} {}.{} mode={} status={} collector={} tablet={} committed={} accepted={} count={} lastUpdateTime={} dest={}",
                s(t, "tid"),
                s(p, "pid"),
                s(t, "db"),
                s(t, "table"),
                s(t, "mode"),
                s(p, "status"),
                s(p, "collector"),
                s(p, "tablet_endpoint"),
                s(p, "committed"),
                s(p, "accepted"),
                s(p, "rows"),
                p.get("last_heard_ms")
                    .and_then(Value::as_u64)
                    .map_or_else(String::new, utc),
                s(t, "dest"),
            );
            if let Some(o) = t
                .get("options")
                .and_then(|o| o.get("summary"))
                .and_then(Value::as_str)
            {
                line.push_str(&format!(" options=[{o}]"));
            }
            if p.get("preparing").and_then(Value::as_bool) == Some(true) {
                line.push_str(" preparing=true");
            }
            if let Some(e) = p.get("error").filter(|e| e.is_object()) {
                line.push_str(&format!(
                    " error=[{} {}] {} since={} attempts={}",
                    s(e, "kind"),
                    s(e, "class"),
                    s(e, "message"),
                    e.get("since_ms")
                        .and_then(Value::as_u64)
                        .map_or_else(String::new, utc),
                    s(e, "attempts"),
                ));
            }
            let reason = s(p, "failure_reason");
            if !reason.is_empty() {
                line.push_str(&format!(
                    " failure_kind={} failure_reason={reason}",
                    s(p, "failure_kind")
                ));
            }
            writeln!(out, "{line}")?;
        }
    }
    write!(out, "{}", s(&value, "summary"))?;
    sync_tools_line(&value, out)
}

/// With several SyncTools (ZooKeeper), the status ends with how many share
/// the cluster and which one coordinates.
fn sync_tools_line(status: &Value, out: &mut dyn Write) -> Result<(), HelperError> {
    if let Some(tools) = status.get("sync_tools")
        && tools.get("standalone").and_then(Value::as_bool) == Some(false)
    {
        let coordinator = tools
            .get("coordinator")
            .and_then(Value::as_str)
            .unwrap_or("none elected");
        let count = array(tools, "workers").len();
        writeln!(out, "{count} SyncTool(s), coordinator {coordinator}")?;
    }
    Ok(())
}

/// `history`: the table tasks that ended lately (mode 0 completed, deleted),
/// newest first, with their rows, files, bytes and duration.
pub fn history(server: &str, out: &mut dyn Write) -> Result<(), HelperError> {
    let value = status_page(server)?;
    let list = array(&value, "history");
    if list.is_empty() {
        writeln!(out, "no ended task")?;
        return Ok(());
    }
    let n = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    let t = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    for f in list.iter().rev() {
        writeln!(
            out,
            "{}.{} tid={} task={} mode={} {} at {} rows={} files={} bytes={} duration_ms={} dest={}",
            t(f, "db"),
            t(f, "table"),
            n(f, "tid"),
            n(f, "task_id"),
            t(f, "mode"),
            t(f, "ending"),
            utc(n(f, "ended_ms")),
            n(f, "rows"),
            n(f, "files"),
            n(f, "bytes"),
            n(f, "duration_ms"),
            t(f, "dest"),
        )?;
    }
    Ok(())
}

pub fn utc(ms: u64) -> String {
    let (secs, millis) = (ms / 1000, ms % 1000);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// `collectors`: the live DataCollectors, one per line.
pub fn collectors(server: &str, out: &mut dyn Write) -> Result<(), HelperError> {
    let (reply, value) = call(server, "GET", "/collectors", &json!({}))?;
    if reply.status != 200 {
        general(server, &value)?;
    }
    let list = array(&value, "collectors");
    if list.is_empty() {
        writeln!(out, "no live data collector")?;
    }
    for c in list {
        writeln!(out, "{}", c.as_str().unwrap_or_default())?;
    }
    Ok(())
}

/// `workers`: the SyncTools sharing the cluster, one per line with its role
/// (`coordinator` or `worker`) and how many partition tasks it owns (when
/// any); the one that answered is marked `(this)`.
pub fn workers(server: &str, out: &mut dyn Write) -> Result<(), HelperError> {
    let (reply, value) = call(server, "GET", "/workers", &json!({}))?;
    if reply.status != 200 {
        general(server, &value)?;
    }
    let this = value
        .get("this")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let standalone = value.get("standalone").and_then(Value::as_bool) == Some(true);
    let list = array(&value, "workers");
    if standalone {
        writeln!(out, "standalone (no ZooKeeper): one SyncTool")?;
    } else if value.get("coordinator").is_none_or(Value::is_null) {
        writeln!(out, "no coordinator elected at the moment")?;
    }
    for w in list {
        let endpoint = w
            .get("endpoint")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let role = w.get("role").and_then(Value::as_str).unwrap_or_default();
        let mark = if endpoint == this { " (this)" } else { "" };
        let parts = match w.get("parts").and_then(Value::as_u64) {
            Some(n) if n > 0 => format!(", {n} partition task(s)"),
            _ => String::new(),
        };
        writeln!(out, "{endpoint} {role}{mark}{parts}")?;
    }
    Ok(())
}

/// `tool-status -f synctool.properties`: the config and the persisted state.
pub fn tool_status(conf: &Path, out: &mut dyn Write) -> Result<(), HelperError> {
    let config = SyncToolConfig::load(conf).map_err(|e| HelperError::Local(e.to_string()))?;
    writeln!(out, "config {}", conf.display())?;
    writeln!(out, "  listen {}", config.listen_address())?;
    writeln!(out, "  advertised endpoint {}", config.advertised_endpoint)?;
    writeln!(
        out,
        "  zookeeper {}",
        if config.zk_cluster.is_empty() {
            "(standalone)".to_string()
        } else {
            format!("{}{}", config.zk_cluster, config.zk_root_path)
        }
    )?;
    writeln!(out, "  progress path {}", config.progress_path.display())?;
    writeln!(out, "sync task progress in sync tool fs")?;
    let state_path = config.progress_path.join(STATE_FILE);
    let state = read_state(&FsStore, &config.progress_path)
        .map_err(|e| HelperError::Local(e.to_string()))?;
    let Some(state) = state else {
        writeln!(out, "no persisted state at {}", state_path.display())?;
        return Ok(());
    };
    writeln!(
        out,
        "{}: epoch {}, next task id {}, {} table task(s)",
        state_path.display(),
        state.epoch,
        state.next_task_id,
        state.tables.len()
    )?;
    for t in &state.tables {
        writeln!(
            out,
            "tid {} {}.{} task {} mode {} dest {}",
            t.tid, t.db, t.table, t.task_id, t.mode, t.dest
        )?;
        for p in &t.partitions {
            let committed = match &p.committed {
                None => "start".to_string(),
                Some(pp) => {
                    Point::try_from(pp).map_or_else(|e| format!("<{e}>"), |pt| pt.to_string())
                }
            };
            writeln!(
                out,
                "  pid {} {} committed={} segments={} rows={} leader={}{}",
                p.pid,
                p.status,
                committed,
                p.next_seq,
                p.rows_committed,
                p.tablet_endpoint,
                p.failure_reason
                    .as_deref()
                    .map(|r| format!(
                        " failure_kind={} failure_reason={r}",
                        p.failure_kind.as_deref().unwrap_or("")
                    ))
                    .unwrap_or_default()
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_in_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn table_names_split_on_the_dot() {
        assert_eq!(split_table("d.t").unwrap(), ("d".into(), "t".into()));
        assert!(split_table("dt").is_err());
        assert!(split_table(".t").is_err());
        assert!(split_table("a.b.c").is_err());
    }

    #[test]
    fn create_checks_mode_and_ts_before_calling() {
        let mut out = Vec::new();
        // 127.0.0.1:1 is never contacted: the arguments are refused first.
        let err = create(
            "127.0.0.1:1",
            "d.t",
            3,
            None,
            "/x",
            &CreateOptions::default(),
            &mut out,
        )
        .unwrap_err();
        assert!(err.to_string().contains("mode must be 0"), "{err}");
        let err = create(
            "127.0.0.1:1",
            "d.t",
            1,
            None,
            "/x",
            &CreateOptions::default(),
            &mut out,
        )
        .unwrap_err();
        assert!(err.to_string().contains("needs -ts"), "{err}");
        let err = create(
            "127.0.0.1:1",
            "d.t",
            0,
            None,
            " ",
            &CreateOptions::default(),
            &mut out,
        )
        .unwrap_err();
        assert!(err.to_string().contains("-d DEST"), "{err}");
    }
}
