//! Checks an `AddSyncTask` request before anything is written: the fields a
//! task needs are there, the mode and the point are valid, and no text field
//! is longer than [`MAX_FIELD_BYTES`] (a request is persisted as is and its
//! token travels in every pack). Each refusal says which field and why.

use sync_core::point::Point;
use sync_core::proto::datasync::AddSyncTaskRequest;
use sync_core::task::Mode;

use crate::prepare::assigned_point;

/// The longest text field accepted.
pub const MAX_FIELD_BYTES: usize = 4096;

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("`{0}` is missing or empty")]
    Missing(&'static str),
    #[error("`{field}` is {len} bytes long; at most {MAX_FIELD_BYTES} are accepted")]
    TooLong { field: &'static str, len: usize },
    #[error("unknown mode {0}")]
    Mode(i32),
    #[error("bad sync_point: {0}")]
    Point(String),
}

/// The partition and the assigned point of a complete, valid request.
pub fn check_request(task: &AddSyncTaskRequest) -> Result<((u32, u32), Point), RequestError> {
    let tid = task.tid.ok_or(RequestError::Missing("tid"))?;
    let pid = task.pid.ok_or(RequestError::Missing("pid"))?;
    let texts = [
        ("token", task.token.as_deref()),
        ("des_endpoint", task.des_endpoint.as_deref()),
        ("tablet_endpoint", task.tablet_endpoint.as_deref()),
        ("dest", task.dest.as_deref()),
        (
            "sync_point.pk",
            task.sync_point.as_ref().and_then(|p| p.pk.as_deref()),
        ),
    ];
    for (field, value) in texts {
        let len = value.map_or(0, str::len);
        if len > MAX_FIELD_BYTES {
            return Err(RequestError::TooLong { field, len });
        }
    }
    for (field, value) in &texts[..3] {
        if value.is_none_or(str::is_empty) {
            return Err(RequestError::Missing(field));
        }
    }
    let mode = task.mode.ok_or(RequestError::Missing("mode"))?;
    Mode::from_i32(mode).map_err(|_| RequestError::Mode(mode))?;
    let point = assigned_point(task).map_err(|e| RequestError::Point(e.to_string()))?;
    Ok(((tid, pid), point))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_core::proto::datasync::{SyncPoint, SyncType};

    fn task() -> AddSyncTaskRequest {
        AddSyncTaskRequest {
            tid: Some(1),
            pid: Some(2),
            mode: Some(2),
            start_ts: None,
            sync_point: None,
            tablet_endpoint: Some("h:1".into()),
            des_endpoint: Some("s:2".into()),
            token: Some("t".into()),
            dest: None,
            part_epoch: None,
        }
    }

    #[test]
    fn fields_are_checked_with_clear_errors() {
        assert_eq!(check_request(&task()).expect("ok").0, (1, 2));
        let long = "x".repeat(MAX_FIELD_BYTES + 1);
        let t = AddSyncTaskRequest {
            token: Some(long.clone()),
            ..task()
        };
        let err = check_request(&t).expect_err("too long").to_string();
        assert_eq!(err, "`token` is 4097 bytes long; at most 4096 are accepted");
        let t = AddSyncTaskRequest {
            sync_point: Some(SyncPoint {
                r#type: SyncType::KSnapshot as i32,
                pk: Some(long),
                ts: Some(1),
                offset: None,
                snapshot_offset: Some(3),
            }),
            ..task()
        };
        assert!(
            check_request(&t)
                .expect_err("pk")
                .to_string()
                .contains("sync_point.pk")
        );
        let t = AddSyncTaskRequest {
            des_endpoint: Some(String::new()),
            ..task()
        };
        assert_eq!(
            check_request(&t).expect_err("empty").to_string(),
            "`des_endpoint` is missing or empty"
        );
        let t = AddSyncTaskRequest {
            mode: Some(9),
            ..task()
        };
        assert_eq!(check_request(&t).expect_err("mode"), RequestError::Mode(9));
        let t = AddSyncTaskRequest {
            sync_point: Some(SyncPoint {
                r#type: SyncType::KBinlog as i32,
                pk: None,
                ts: None,
                offset: None,
                snapshot_offset: None,
            }),
            ..task()
        };
        assert!(matches!(check_request(&t), Err(RequestError::Point(_))));
    }
}
