//! Fuzzes the decoding of SyncTool's HTTP+JSON admin requests: the request
//! body as the daemon's HTTP handler turns it into a request
//! (`synctool::admin::{create,delete,status}_from_json`), and brpc-style
//! JSON text as `sync_proto::json::from_json` reads each of those messages.
//! Asserts: a request or a typed error, never a panic; a decoded message
//! written back with `sync_proto::json::to_json` reads back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sync_proto::datasync::{CreateSyncTaskRequest, DeleteSyncTaskRequest, TaskStatusRequest};
use sync_proto::json::{from_json, from_json_value, to_json};

/// `from_json` for `M`, and the round trip of what it decodes.
fn round_trip<M>(text: &str)
where
    M: prost::Message + prost::Name + Default + PartialEq + std::fmt::Debug,
{
    let Ok(msg) = from_json::<M>(text) else {
        return;
    };
    let json = to_json(&msg).unwrap_or_else(|e| panic!("decoded {msg:?} cannot be written: {e}"));
    let back: M = from_json_value(json.clone())
        .unwrap_or_else(|e| panic!("written {json} does not read back: {e}"));
    assert_eq!(back, msg, "JSON round trip through {json}");
}

fuzz_target!(|data: &[u8]| {
    let _ = synctool::admin::create_from_json(data);
    let _ = synctool::admin::delete_from_json(data);
    let _ = synctool::admin::status_from_json(data);
    if let Ok(text) = std::str::from_utf8(data) {
        round_trip::<CreateSyncTaskRequest>(text);
        round_trip::<DeleteSyncTaskRequest>(text);
        round_trip::<TaskStatusRequest>(text);
    }
});
