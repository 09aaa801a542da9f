//! The HTTP+JSON form of SyncTool's admin messages, as brpc maps OpenMLDB's
//! protos (field names as in `data_sync.proto`; enums written by name, read
//! by name or number), so `synctool_helper.py` keeps working:
//!
//! * `CreateSyncTaskRequest` `{"db","name","mode","start_ts","dest"}`;
//! * `DeleteSyncTaskRequest` `{"db","name"}`;
//! * `TaskStatusRequest` `{"clear_all"}`;
//! * replies `GeneralResponse` `{"code":0,"msg":"ok"}` and
//!   `TaskStatusResponse` `{"response":{..},"task":[..],"readableInfo":[..]}`.

use serde_json::{Map, Value, json};
use sync_proto::datasync::{
    AddSyncTaskRequest, CreateSyncTaskRequest, DeleteSyncTaskRequest, GeneralResponse, SyncMode,
    SyncPoint, SyncType, Task, TaskStatusRequest, TaskStatusResponse,
};

/// A request body that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// Not JSON, or not an object.
    #[error("request body is not a JSON object: {0}")]
    Malformed(String),
    /// A field has the wrong type.
    #[error("field `{field}`: {problem}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
}

fn object(body: &[u8]) -> Result<Map<String, Value>, JsonError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(JsonError::Malformed(format!("got {other}"))),
        Err(err) => Err(JsonError::Malformed(err.to_string())),
    }
}

fn string(map: &Map<String, Value>, field: &'static str) -> Result<Option<String>, JsonError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(JsonError::Field {
            field,
            problem: format!("expected a string, got {other}"),
        }),
    }
}

fn unsigned(map: &Map<String, Value>, field: &'static str) -> Result<Option<u64>, JsonError> {
    let bad = |v: &Value| JsonError::Field {
        field,
        problem: format!("expected a non-negative integer, got {v}"),
    };
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| bad(v)),
        // brpc writes 64-bit numbers as strings; accept both.
        Some(v @ Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad(v)),
        Some(v) => Err(bad(v)),
    }
}

/// Parses a mode given as a number (0, 1, 2) or a name (`kFull`, ...).
fn mode(map: &Map<String, Value>) -> Result<Option<i32>, JsonError> {
    let bad = |v: &Value| JsonError::Field {
        field: "mode",
        problem: format!(
            "{v} is not a sync mode: use 0 (kFull), 1 (kIncrementalByTimestamp) or 2 (kFullAndContinuous)"
        ),
    };
    match map.get("mode") {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Number(n)) => n
            .as_i64()
            .and_then(|m| i32::try_from(m).ok())
            .map(Some)
            .ok_or_else(|| bad(v)),
        Some(v @ Value::String(s)) => match SyncMode::from_str_name(s.trim()) {
            Some(m) => Ok(Some(m as i32)),
            None => s.trim().parse::<i32>().map(Some).map_err(|_| bad(v)),
        },
        Some(v) => Err(bad(v)),
    }
}

/// `CreateSyncTaskRequest` from JSON.
pub fn create_from_json(body: &[u8]) -> Result<CreateSyncTaskRequest, JsonError> {
    let map = object(body)?;
    Ok(CreateSyncTaskRequest {
        db: string(&map, "db")?,
        name: string(&map, "name")?,
        mode: mode(&map)?,
        start_ts: unsigned(&map, "start_ts")?,
        dest: string(&map, "dest")?,
    })
}

/// `DeleteSyncTaskRequest` from JSON (also the body of the added retry call).
pub fn delete_from_json(body: &[u8]) -> Result<DeleteSyncTaskRequest, JsonError> {
    let map = object(body)?;
    Ok(DeleteSyncTaskRequest {
        db: string(&map, "db")?,
        name: string(&map, "name")?,
    })
}

/// `TaskStatusRequest` from JSON (an empty body is `{}`).
pub fn status_from_json(body: &[u8]) -> Result<TaskStatusRequest, JsonError> {
    let map = object(body)?;
    let clear_all = match map.get("clear_all") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            return Err(JsonError::Field {
                field: "clear_all",
                problem: format!("expected true or false, got {other}"),
            });
        }
    };
    Ok(TaskStatusRequest { clear_all })
}

/// `GeneralResponse` as JSON.
pub fn general_to_json(r: &GeneralResponse) -> Value {
    let mut map = Map::new();
    if let Some(code) = r.code {
        map.insert("code".into(), json!(code));
    }
    if let Some(msg) = &r.msg {
        map.insert("msg".into(), json!(msg));
    }
    Value::Object(map)
}

fn point_to_json(p: &SyncPoint) -> Value {
    let mut map = Map::new();
    let kind =
        SyncType::try_from(p.r#type).map_or_else(|_| json!(p.r#type), |t| json!(t.as_str_name()));
    map.insert("type".into(), kind);
    if let Some(pk) = &p.pk {
        map.insert("pk".into(), json!(pk));
    }
    if let Some(ts) = p.ts {
        map.insert("ts".into(), json!(ts));
    }
    if let Some(offset) = p.offset {
        map.insert("offset".into(), json!(offset));
    }
    if let Some(o) = p.snapshot_offset {
        map.insert("snapshot_offset".into(), json!(o));
    }
    Value::Object(map)
}

fn progress_to_json(p: &AddSyncTaskRequest) -> Value {
    let mut map = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            map.insert(k.into(), v);
        }
    };
    put("tid", p.tid.map(|v| json!(v)));
    put("pid", p.pid.map(|v| json!(v)));
    put(
        "mode",
        p.mode
            .map(|m| SyncMode::try_from(m).map_or_else(|_| json!(m), |m| json!(m.as_str_name()))),
    );
    put("start_ts", p.start_ts.map(|v| json!(v)));
    put("sync_point", p.sync_point.as_ref().map(point_to_json));
    put(
        "tablet_endpoint",
        p.tablet_endpoint.as_ref().map(|v| json!(v)),
    );
    put("des_endpoint", p.des_endpoint.as_ref().map(|v| json!(v)));
    put("token", p.token.as_ref().map(|v| json!(v)));
    put("dest", p.dest.as_ref().map(|v| json!(v)));
    Value::Object(map)
}

fn task_to_json(t: &Task) -> Value {
    let mut map = Map::new();
    if let Some(p) = &t.progress {
        map.insert("progress".into(), progress_to_json(p));
    }
    if let Some(c) = &t.data_collector {
        map.insert("data_collector".into(), json!(c));
    }
    if let Some(c) = t.count {
        map.insert("count".into(), json!(c));
    }
    if let Some(s) = &t.status {
        map.insert("status".into(), json!(s));
    }
    if let Some(r) = &t.failure_reason {
        map.insert("failure_reason".into(), json!(r));
    }
    Value::Object(map)
}

/// `TaskStatusResponse` as JSON (`readableInfo` keeps OpenMLDB's spelling).
pub fn status_to_json(r: &TaskStatusResponse) -> Value {
    let mut map = Map::new();
    if let Some(resp) = &r.response {
        map.insert("response".into(), general_to_json(resp));
    }
    map.insert(
        "task".into(),
        Value::Array(r.task.iter().map(task_to_json).collect()),
    );
    map.insert("readableInfo".into(), json!(r.readable_info));
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_accepts_the_helpers_json() {
        let req =
            create_from_json(br#"{"db":"d","name":"t","mode":1,"start_ts":"1700","dest":"/x"}"#)
                .unwrap();
        assert_eq!(req.db.as_deref(), Some("d"));
        assert_eq!(req.name.as_deref(), Some("t"));
        assert_eq!(req.mode, Some(1));
        assert_eq!(req.start_ts, Some(1700));
        assert_eq!(req.dest.as_deref(), Some("/x"));
        let named = create_from_json(br#"{"mode":"kFullAndContinuous"}"#).unwrap();
        assert_eq!(named.mode, Some(2));
    }

    #[test]
    fn malformed_and_mistyped_bodies_are_clear_errors() {
        assert!(matches!(
            create_from_json(b"{not json"),
            Err(JsonError::Malformed(_))
        ));
        assert!(matches!(
            create_from_json(b"[1]"),
            Err(JsonError::Malformed(_))
        ));
        let err = create_from_json(br#"{"mode":"sometimes"}"#).unwrap_err();
        assert!(err.to_string().contains("not a sync mode"), "{err}");
        let err = create_from_json(br#"{"db":5}"#).unwrap_err();
        assert_eq!(
            err,
            JsonError::Field {
                field: "db",
                problem: "expected a string, got 5".into()
            }
        );
        assert!(create_from_json(br#"{"start_ts":-1}"#).is_err());
        assert!(status_from_json(br#"{"clear_all":"yes"}"#).is_err());
    }

    #[test]
    fn empty_body_is_an_empty_request() {
        assert_eq!(status_from_json(b"").unwrap().clear_all, None);
        assert_eq!(status_from_json(b"{}").unwrap().clear_all, None);
        assert_eq!(
            status_from_json(br#"{"clear_all":true}"#)
                .unwrap()
                .clear_all,
            Some(true)
        );
    }

    #[test]
    fn status_json_uses_openmldb_names() {
        let resp = TaskStatusResponse {
            response: Some(GeneralResponse {
                code: Some(0),
                msg: Some("ok".into()),
            }),
            task: vec![Task {
                progress: Some(AddSyncTaskRequest {
                    tid: Some(3),
                    pid: Some(1),
                    mode: Some(0),
                    sync_point: Some(SyncPoint {
                        r#type: SyncType::KBinlog as i32,
                        offset: Some(9),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                data_collector: Some("h:1".into()),
                count: Some(7),
                status: Some("RUNNING".into()),
                failure_reason: None,
            }],
            readable_info: vec!["lastUpdateTime=1;progressPath=/p".into()],
        };
        let v = status_to_json(&resp);
        assert_eq!(v["response"]["code"], 0);
        assert_eq!(v["task"][0]["progress"]["mode"], "kFull");
        assert_eq!(v["task"][0]["progress"]["sync_point"]["type"], "kBINLOG");
        assert_eq!(v["task"][0]["progress"]["sync_point"]["offset"], 9);
        assert_eq!(v["task"][0]["count"], 7);
        assert_eq!(v["readableInfo"][0], "lastUpdateTime=1;progressPath=/p");
    }
}
