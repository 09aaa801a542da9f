//! brpc-style JSON for the generated messages (feature `json`).
//!
//! brpc's HTTP+JSON transport (`json2pb`) writes the original proto field
//! names (`storage_mode`, not `storageMode`), enums by name (`"kHDD"`),
//! 64-bit integers as JSON numbers, and only the fields that are set. This
//! module produces exactly that and reads it back, also accepting enums by
//! number, 64-bit integers as strings and unknown fields (a newer tablet may
//! send more). Bytes fields are base64.
//!
//! The mapping goes through the messages' descriptors (embedded at build time)
//! with `prost-reflect`: [`to_json`] / [`from_json`] for one message, and
//! [`Json`] as a serde `Serialize`/`Deserialize` wrapper for use in serde
//! frameworks (e.g. `axum::Json<Json<GetTableStatusResponse>>`).

use std::sync::LazyLock;

use prost::{Message, Name};
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions,
};

static DESCRIPTOR_BYTES: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/openmldb_descriptor.bin"));

static POOL: LazyLock<Result<DescriptorPool, String>> =
    LazyLock::new(|| DescriptorPool::decode(DESCRIPTOR_BYTES).map_err(|e| e.to_string()));

/// Why a message could not be mapped to or from JSON.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error("embedded descriptor set is unreadable: {0}")]
    Descriptors(String),
    #[error("no descriptor for message {0}")]
    UnknownMessage(String),
    #[error("{message}: {source}")]
    Decode {
        message: String,
        source: prost::DecodeError,
    },
    #[error("{message}: JSON: {source}")]
    Json {
        message: String,
        source: serde_json::Error,
    },
}

/// The descriptor of message type `M`.
pub fn descriptor<M: Name>() -> Result<MessageDescriptor, JsonError> {
    let pool = POOL
        .as_ref()
        .map_err(|e| JsonError::Descriptors(e.clone()))?;
    let name = M::full_name();
    pool.get_message_by_name(&name)
        .ok_or(JsonError::UnknownMessage(name))
}

fn serialize_options() -> SerializeOptions {
    SerializeOptions::new()
        .stringify_64_bit_integers(false)
        .use_proto_field_name(true)
        .use_enum_numbers(false)
        .skip_default_fields(true)
}

fn dynamic<M: Message + Name>(msg: &M) -> Result<DynamicMessage, JsonError> {
    let desc = descriptor::<M>()?;
    DynamicMessage::decode(desc, msg.encode_to_vec().as_slice()).map_err(|source| {
        JsonError::Decode {
            message: M::full_name(),
            source,
        }
    })
}

/// `msg` as a brpc-style JSON value.
pub fn to_json<M: Message + Name>(msg: &M) -> Result<serde_json::Value, JsonError> {
    dynamic(msg)?
        .serialize_with_options(serde_json::value::Serializer, &serialize_options())
        .map_err(|source| JsonError::Json {
            message: M::full_name(),
            source,
        })
}

/// `msg` as brpc-style JSON text.
pub fn to_json_string<M: Message + Name>(msg: &M) -> Result<String, JsonError> {
    to_json(msg).map(|v| v.to_string())
}

/// Reads a message from JSON text.
pub fn from_json<M: Message + Default + Name>(json: &str) -> Result<M, JsonError> {
    let mut de = serde_json::Deserializer::from_str(json);
    let msg = from_deserializer::<M, _>(&mut de).map_err(|source| JsonError::Json {
        message: M::full_name(),
        source,
    })?;
    de.end().map_err(|source| JsonError::Json {
        message: M::full_name(),
        source,
    })?;
    Ok(msg)
}

/// Reads a message from a JSON value.
pub fn from_json_value<M: Message + Default + Name>(
    value: serde_json::Value,
) -> Result<M, JsonError> {
    from_deserializer::<M, _>(value).map_err(|source| JsonError::Json {
        message: M::full_name(),
        source,
    })
}

fn from_deserializer<'de, M, D>(de: D) -> Result<M, D::Error>
where
    M: Message + Default + Name,
    D: serde::Deserializer<'de>,
{
    use serde::de::Error;
    let desc = descriptor::<M>().map_err(D::Error::custom)?;
    let options = DeserializeOptions::new().deny_unknown_fields(false);
    let dynamic = DynamicMessage::deserialize_with_options(desc, de, &options)?;
    dynamic.transcode_to::<M>().map_err(D::Error::custom)
}

/// A message with brpc-style JSON `Serialize`/`Deserialize`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Json<M>(pub M);

impl<M: Message + Name> serde::Serialize for Json<M> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        dynamic(&self.0)
            .map_err(S::Error::custom)?
            .serialize_with_options(serializer, &serialize_options())
    }
}

impl<'de, M: Message + Default + Name> serde::Deserialize<'de> for Json<M> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_deserializer(deserializer).map(Json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{GetTableStatusResponse, TableStatus};
    use crate::common::StorageMode;

    fn status() -> GetTableStatusResponse {
        GetTableStatusResponse {
            all_table_status: vec![TableStatus {
                tid: Some(7),
                pid: Some(1),
                offset: Some(u64::MAX),
                storage_mode: Some(StorageMode::KHdd as i32),
                snapshot_path: Some("/data/7_1/snapshot/".into()),
                ..Default::default()
            }],
            code: Some(0),
            msg: Some("ok".into()),
        }
    }

    #[test]
    fn writes_brpc_style() {
        let v = to_json(&status()).unwrap();
        let s = &v["all_table_status"][0];
        assert_eq!(s["storage_mode"], "kHDD");
        assert_eq!(s["offset"], serde_json::json!(u64::MAX));
        assert_eq!(s["snapshot_path"], "/data/7_1/snapshot/");
        assert!(s.get("binlog_path").is_none());
        assert_eq!(v["code"], 0);
    }

    #[test]
    fn reads_what_a_tablet_sends() {
        let text = r#"{"all_table_status":[{"tid":7,"pid":1,"offset":"18","storage_mode":3,
            "mode":"kTableLeader","new_field":{"x":1},"binlog_path":"/b/"}],"code":0,"msg":"ok"}"#;
        let r: GetTableStatusResponse = from_json(text).unwrap();
        let s = &r.all_table_status[0];
        assert_eq!(s.offset, Some(18));
        assert_eq!(s.storage_mode, Some(StorageMode::KHdd as i32));
        assert_eq!(s.mode, Some(1));
        assert_eq!(s.binlog_path.as_deref(), Some("/b/"));
        let back: Json<GetTableStatusResponse> =
            serde_json::from_value(to_json(&status()).unwrap()).unwrap();
        assert_eq!(back.0, status());
    }

    #[test]
    fn rejects_bad_json() {
        assert!(from_json::<GetTableStatusResponse>("{\"code\":\"x\"}").is_err());
        assert!(from_json::<GetTableStatusResponse>("[1]").is_err());
        assert!(from_json::<GetTableStatusResponse>("{} x").is_err());
    }
}
