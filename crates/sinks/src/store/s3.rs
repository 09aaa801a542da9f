//! S3 through opendal. No rename: a file is written whole by one PUT (a
//! multipart upload for big files; objects appear whole or not at all) and
//! published by a server-side copy, then the source is deleted.
//!
//! **Conditional writes.** An exclusive create is a PUT with
//! `If-None-Match: *` and a no-replace publish a `CopyObject` with
//! `If-None-Match: *`; the server answers 412 when the key exists. Servers
//! that ignore the header would silently replace, so the first exclusive
//! operation of a store (and every destination check) probes the server once
//! on objects of its own (`_staging/.probe-…`): a conditional PUT (and copy)
//! onto an existing key must fail. Where it does not, the store falls back to
//! check-then-write (`stat`, then PUT or copy): correct for one writer, but two
//! writers racing between the check and the write could both succeed. That
//! window is closed by the epoch fencing of `FAULTS.md` §4 (a stale writer is
//! refused before it creates a record), not here.

use opendal::services::S3 as S3Builder;
use opendal::{Buffer, ErrorKind, Operator};
use tokio::sync::OnceCell;

use super::{Backend, BoxError, Placed};
use crate::dest::S3Options;
use crate::layout::probe_path;

/// Files larger than this are written in parts (S3 multipart).
const WRITE_CHUNK: usize = 16 << 20;

/// Which conditional writes the server honours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Conditional {
    /// PUT with `If-None-Match: *`.
    pub(crate) put: bool,
    /// CopyObject with `If-None-Match: *`.
    pub(crate) copy: bool,
}

/// A prefix of a bucket.
pub(crate) struct S3 {
    op: Operator,
    bucket: String,
    conditional: OnceCell<Conditional>,
}

impl S3 {
    /// The store of `prefix` in `bucket`. Connects to nothing yet.
    pub(crate) fn open(bucket: &str, prefix: &str, s3: &S3Options) -> Result<Self, BoxError> {
        opendal::install_default();
        let mut b = S3Builder::default()
            .bucket(bucket)
            .root(&format!("/{prefix}"))
            .region(&s3.region)
            .disable_ec2_metadata();
        if let Some(endpoint) = &s3.endpoint {
            b = b.endpoint(endpoint);
        }
        if let Some(key) = &s3.access_key_id {
            b = b.access_key_id(key).disable_config_load();
        }
        if let Some(secret) = &s3.secret_access_key {
            b = b.secret_access_key(secret);
        }
        if s3.virtual_host_style {
            b = b.enable_virtual_host_style();
        }
        Ok(S3 {
            op: Operator::new(b)?,
            bucket: bucket.to_owned(),
            conditional: OnceCell::new(),
        })
    }

    /// What the server honours, probed once (a failed probe is retried next time).
    pub(crate) async fn conditional(&self) -> Result<Conditional, BoxError> {
        self.conditional
            .get_or_try_init(|| self.probe_conditional())
            .await
            .copied()
    }

    async fn probe_conditional(&self) -> Result<Conditional, BoxError> {
        let source = format!("{}-conditional", probe_path());
        let target = format!("{source}.copy");
        let result = self.try_conditional(&source, &target).await;
        let cleanup = async {
            self.delete(&source).await?;
            self.delete(&target).await
        };
        let cleaned = cleanup.await;
        let found = result?;
        cleaned?;
        Ok(found)
    }

    async fn try_conditional(&self, source: &str, target: &str) -> Result<Conditional, BoxError> {
        self.op.write(source, b"probe".to_vec()).await?;
        // Onto an existing key: must be refused.
        let put = refused(
            self.op
                .write_with(source, b"again".to_vec())
                .if_not_exists(true)
                .await
                .map(|_| ()),
        );
        self.op.copy(source, target).await?;
        let copy = refused(
            self.op
                .copy_with(source, target)
                .if_not_exists(true)
                .await
                .map(|_| ()),
        );
        Ok(Conditional { put, copy })
    }
}

/// Whether a conditional write onto an existing key was refused as it must
/// be (412); any other answer (done anyway, or an error such as 501) means
/// the server does not honour the condition.
fn refused(result: opendal::Result<()>) -> bool {
    matches!(result, Err(e) if e.kind() == ErrorKind::ConditionNotMatch)
}

#[async_trait::async_trait]
impl Backend for S3 {
    fn renames(&self) -> bool {
        false
    }

    async fn create_root(&self) -> Result<(), BoxError> {
        match self.op.list_with("").limit(1).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("cannot reach the bucket {}: {e}", self.bucket).into()),
        }
    }

    async fn write(&self, path: &str, bytes: Vec<u8>) -> Result<(), BoxError> {
        let len = bytes.len();
        let mut w = self.op.write_with(path, Buffer::from(bytes));
        if len > WRITE_CHUNK {
            w = w.chunk(WRITE_CHUNK);
        }
        w.await?;
        Ok(())
    }

    async fn create_new(&self, path: &str, bytes: Vec<u8>) -> Result<Placed, BoxError> {
        if !self.conditional().await?.put {
            // Fallback (see the module docs): check, then write.
            if self.is_file(path).await? {
                return Ok(Placed::Exists);
            }
            self.op.write(path, bytes).await?;
            return Ok(Placed::New);
        }
        match self.op.write_with(path, bytes).if_not_exists(true).await {
            Ok(_) => Ok(Placed::New),
            Err(e) if e.kind() == ErrorKind::ConditionNotMatch => Ok(Placed::Exists),
            Err(e) => Err(e.into()),
        }
    }

    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, BoxError> {
        match self.op.read(path).await {
            Ok(buf) => Ok(Some(buf.to_vec())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn is_file(&self, path: &str) -> Result<bool, BoxError> {
        match self.op.stat(path).await {
            Ok(meta) => Ok(meta.mode().is_file()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn list(&self, dir: &str) -> Result<Vec<String>, BoxError> {
        let entries = match self.op.list(dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut names: Vec<String> = entries
            .into_iter()
            .filter(|e| e.path() != dir)
            .map(|e| e.name().to_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    async fn list_all(&self) -> Result<Vec<String>, BoxError> {
        let entries = match self.op.list_with("").recursive(true).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut files: Vec<String> = entries
            .into_iter()
            .filter(|e| !e.path().ends_with('/'))
            .map(|e| e.path().to_owned())
            .collect();
        files.sort();
        Ok(files)
    }

    async fn delete(&self, path: &str) -> Result<(), BoxError> {
        match self.op.delete(path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn rename(&self, from: &str, _to: &str) -> Result<(), BoxError> {
        Err(format!("S3 cannot rename {from}").into())
    }

    async fn place(&self, from: &str, to: &str) -> Result<Placed, BoxError> {
        let conditional = self.conditional().await?.copy;
        if !conditional && self.is_file(to).await? {
            // Fallback (see the module docs): check, then copy.
            return Ok(Placed::Exists);
        }
        match self.op.copy_with(from, to).if_not_exists(conditional).await {
            Ok(_) => Ok(Placed::New),
            Err(e) if e.kind() == ErrorKind::ConditionNotMatch => Ok(Placed::Exists),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Placed::SourceMissing),
            Err(e) => Err(e.into()),
        }
    }
}
