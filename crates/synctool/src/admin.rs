//! The HTTP+JSON form of SyncTool's admin messages, as brpc maps OpenMLDB's
//! protos (field names as in `data_sync.proto`; enums written by name, read
//! by name or number), so `synctool_helper.py` keeps working:
//!
//! * `CreateSyncTaskRequest` `{"db","name","mode","start_ts","dest"}`, plus
//!   the added `if_exists` and output options (`format`, `csv_header`,
//!   `csv_null`, `parquet_compression`, `roll_max_rows`, `roll_max_bytes`,
//!   `roll_max_age_ms`, `partition_by`, `partition_time_zone`; also in
//!   camelCase, which the mapping accepts for every field);
//! * `DeleteSyncTaskRequest` `{"db","name"}`;
//! * `TaskStatusRequest` `{"clear_all"}`;
//! * replies `GeneralResponse` `{"code":0,"msg":"ok"}` and
//!   `TaskStatusResponse` `{"response":{..},"task":[..],"readableInfo":[..]}`.
//!
//! The mapping itself is `sync_proto::json` (prost-reflect); this module adds
//! field-by-field checks so a wrong type gets a message naming the field.

use serde_json::{Map, Value, json};
use sync_proto::datasync::{
    CreateSyncTaskRequest, DeleteSyncTaskRequest, GeneralResponse, IfExists, SyncMode,
    TaskStatusRequest, TaskStatusResponse,
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

/// Parses `if_exists` given as a number, a name (`kIfExistsResume`) or a
/// word (`resume`, `append`, `refuse`).
fn if_exists(map: &Map<String, Value>) -> Result<Option<i32>, JsonError> {
    let bad = |v: &Value| JsonError::Field {
        field: "if_exists",
        problem: format!("{v} is not one of resume, append, refuse"),
    };
    match map.get("if_exists") {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Number(n)) => n
            .as_i64()
            .and_then(|m| i32::try_from(m).ok())
            .filter(|m| IfExists::try_from(*m).is_ok())
            .map(Some)
            .ok_or_else(|| bad(v)),
        Some(v @ Value::String(s)) => {
            let s = s.trim();
            let named = match s {
                "resume" => Some(IfExists::KIfExistsResume),
                "append" => Some(IfExists::KIfExistsAppend),
                "refuse" => Some(IfExists::KIfExistsRefuse),
                other => IfExists::from_str_name(other),
            };
            named.map(|e| Some(e as i32)).ok_or_else(|| bad(v))
        }
        Some(v) => Err(bad(v)),
    }
}

/// The body as an object with `mode` and `if_exists` normalised to their
/// numbers, then decoded with the brpc-style mapping of `sync_proto::json`.
fn decode<M: prost::Message + prost::Name + Default>(body: &[u8]) -> Result<M, JsonError> {
    let mut map = object(body)?;
    if let Some(m) = mode(&map)? {
        map.insert("mode".into(), json!(m));
    }
    if let Some(e) = if_exists(&map)? {
        map.insert("if_exists".into(), json!(e));
    }
    sync_proto::json::from_json_value(Value::Object(map))
        .map_err(|e| JsonError::Malformed(e.to_string()))
}

/// `CreateSyncTaskRequest` from JSON.
pub fn create_from_json(body: &[u8]) -> Result<CreateSyncTaskRequest, JsonError> {
    let map = object(body)?;
    // Typed checks first, for messages that name the field.
    string(&map, "db")?;
    string(&map, "name")?;
    string(&map, "dest")?;
    let start_ts = unsigned(&map, "start_ts")?;
    let mode = mode(&map)?;
    let if_exists = if_exists(&map)?;
    let mut req: CreateSyncTaskRequest = decode(body)?;
    req.start_ts = start_ts;
    req.mode = mode;
    req.if_exists = if_exists;
    Ok(req)
}

/// `DeleteSyncTaskRequest` from JSON (also the body of the added retry call).
pub fn delete_from_json(body: &[u8]) -> Result<DeleteSyncTaskRequest, JsonError> {
    let map = object(body)?;
    string(&map, "db")?;
    string(&map, "name")?;
    decode(body)
}

/// `TaskStatusRequest` from JSON (an empty body is `{}`).
pub fn status_from_json(body: &[u8]) -> Result<TaskStatusRequest, JsonError> {
    let map = object(body)?;
    if let Some(v) = map.get("clear_all")
        && !matches!(v, Value::Bool(_) | Value::Null)
    {
        return Err(JsonError::Field {
            field: "clear_all",
            problem: format!("expected true or false, got {v}"),
        });
    }
    decode(body)
}

fn encode<M: prost::Message + prost::Name>(msg: &M) -> Value {
    sync_proto::json::to_json(msg).unwrap_or_else(
        |e| json!({"code": -1, "msg": format!("cannot write the reply as JSON: {e}")}),
    )
}

/// `GeneralResponse` as JSON.
pub fn general_to_json(r: &GeneralResponse) -> Value {
    encode(r)
}

/// `TaskStatusResponse` as JSON (`readableInfo` keeps OpenMLDB's spelling).
/// Empty repeated fields are left out, as brpc does: OpenMLDB's helper prints
/// `no task` when `readableInfo` is absent.
pub fn status_to_json(r: &TaskStatusResponse) -> Value {
    encode(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_proto::datasync::{AddSyncTaskRequest, SyncPoint, SyncType, Task};

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
        assert_eq!(named.if_exists, None, "OpenMLDB's helper does not send it");
        for (given, want) in [
            (r#""resume""#, IfExists::KIfExistsResume),
            (r#""kIfExistsAppend""#, IfExists::KIfExistsAppend),
            ("3", IfExists::KIfExistsRefuse),
        ] {
            let req = create_from_json(format!(r#"{{"if_exists":{given}}}"#).as_bytes()).unwrap();
            assert_eq!(req.if_exists, Some(want as i32), "{given}");
        }
        let err = create_from_json(br#"{"if_exists":"sometimes"}"#).unwrap_err();
        assert!(err.to_string().contains("resume, append, refuse"), "{err}");
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
                ..Default::default()
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
