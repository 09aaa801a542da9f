//! HDFS through hdfs-native (one client per destination), without opendal:
//! its HDFS rename creates an empty file at the target first (to get the
//! parent directories), which a reader could see as an empty part file.
//!
//! * write: create (overwriting) + write + close; the file is complete once
//!   `close` returns (the NameNode completes the last block);
//! * rename: the NameNode's `rename2`, atomic, after a `mkdirs` of the parent;
//!   without `OVERWRITE` it fails with `FileAlreadyExistsException` if the
//!   target exists, which makes the exclusive create (a temporary, then
//!   `rename2` without overwrite) and the no-replace publish.
//!
//! **Background work.** hdfs-native runs its connections' reader and writer
//! tasks and, after the first file written, a lease-renewal task that holds
//! the client's NameNode protocol for good (it never ends by itself, so
//! dropping the [`hdfs_native::Client`] does not release the connection).
//! Each destination's client therefore runs its I/O on a runtime of its own
//! (one worker thread), shut down when the store is dropped
//! ([`crate::Sink::release`]): that ends every task of the client, and with
//! them its connections to the NameNode.

use bytes::Bytes;
use hdfs_native::{Client, ClientBuilder, HdfsError, WriteOptions};
use tokio::runtime::Runtime;

use super::{Backend, BoxError, Placed};
use crate::layout::temp_path;

/// A directory of an HDFS.
pub(crate) struct Hdfs {
    client: Client,
    name_node: String,
    /// The destination's absolute path, no trailing slash (`""` for the root).
    base: String,
    /// The client's I/O runtime; shut down on drop.
    runtime: Option<Runtime>,
}

impl Hdfs {
    /// The store of `path` on the HDFS of `name_node` (`hdfs://host:port`).
    /// Connects to nothing yet.
    pub(crate) fn open(name_node: &str, path: &str) -> Result<Self, BoxError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("hdfs-io")
            .enable_all()
            .build()?;
        let client = match ClientBuilder::new()
            .with_url(name_node)
            .with_io_runtime(runtime.handle().clone())
            .build()
        {
            Ok(client) => client,
            Err(e) => {
                // Dropping a runtime inside an async context panics.
                runtime.shutdown_background();
                return Err(brief(e));
            }
        };
        Ok(Hdfs {
            client,
            name_node: name_node.to_owned(),
            base: path.trim_end_matches('/').to_owned(),
            runtime: Some(runtime),
        })
    }

    fn abs(&self, path: &str) -> String {
        let path = path.trim_end_matches('/');
        if path.is_empty() {
            if self.base.is_empty() {
                "/".to_owned()
            } else {
                self.base.clone()
            }
        } else {
            format!("{}/{path}", self.base)
        }
    }

    async fn mkdir_parent(&self, abs: &str) -> Result<(), HdfsError> {
        match abs.rsplit_once('/') {
            Some((parent, _)) if !parent.is_empty() => {
                self.client.mkdirs(parent, 0o755, true).await
            }
            _ => Ok(()),
        }
    }

    /// `rename2` of absolute paths, without overwrite.
    async fn rename_new(&self, from: &str, to: &str) -> Result<Placed, HdfsError> {
        self.mkdir_parent(to).await?;
        match self.client.rename(from, to, false).await {
            Ok(()) => Ok(Placed::New),
            Err(HdfsError::AlreadyExists(_)) => Ok(Placed::Exists),
            Err(e) if is_not_found(&e) => Ok(Placed::SourceMissing),
            Err(e) => Err(e),
        }
    }
}

impl Drop for Hdfs {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Never blocks (allowed inside an async context).
            runtime.shutdown_background();
        }
    }
}

/// The error with only the first line of its message: the NameNode's
/// exceptions carry their Java stack trace, which a status line does not need.
fn brief(e: HdfsError) -> BoxError {
    let text = e.to_string();
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_owned()
        .into()
}

/// `host:port` of `hdfs://host:port`, if the port is given.
fn explicit_address(name_node: &str) -> Option<&str> {
    let authority = name_node.strip_prefix("hdfs://")?;
    let (_, port) = authority.rsplit_once(':')?;
    port.parse::<u16>().ok().map(|_| authority)
}

/// Whether `e` says that a path does not exist.
fn is_not_found(e: &HdfsError) -> bool {
    match e {
        HdfsError::FileNotFound(_) => true,
        HdfsError::RPCError(class, _) => class.ends_with("FileNotFoundException"),
        _ => false,
    }
}

#[async_trait::async_trait]
impl Backend for Hdfs {
    fn renames(&self) -> bool {
        true
    }

    async fn create_root(&self) -> Result<(), BoxError> {
        // hdfs-native retries a refused connection until the caller gives
        // up; a plain connect first answers at once (where the NameNode's
        // address is explicit, not an HA nameservice of the configuration).
        if let Some(addr) = explicit_address(&self.name_node) {
            tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| format!("cannot connect to the NameNode {}: {e}", self.name_node))?;
        }
        let root = self.abs("");
        match self.client.mkdirs(&root, 0o755, true).await {
            Ok(()) => Ok(()),
            Err(HdfsError::IOError(e)) => {
                Err(format!("cannot connect to the NameNode {}: {e}", self.name_node).into())
            }
            Err(e) => Err(format!("cannot create the directory {root}: {}", brief(e)).into()),
        }
    }

    async fn write(&self, path: &str, bytes: Vec<u8>) -> Result<(), BoxError> {
        let abs = self.abs(path);
        let mut writer = self
            .client
            .create(&abs, WriteOptions::default().overwrite(true))
            .await
            .map_err(brief)?;
        let written = writer.write_bytes(Bytes::from(bytes)).await;
        let closed = writer.close().await;
        written.map_err(brief)?;
        closed.map_err(brief)?;
        Ok(())
    }

    async fn create_new(&self, path: &str, bytes: Vec<u8>) -> Result<Placed, BoxError> {
        let tmp = temp_path(path);
        self.write(&tmp, bytes).await?;
        match self
            .rename_new(&self.abs(&tmp), &self.abs(path))
            .await
            .map_err(brief)
        {
            Ok(Placed::New) => Ok(Placed::New),
            Ok(other) => {
                self.delete(&tmp).await?;
                Ok(other)
            }
            Err(e) => {
                // The rename's error is the one to report; a temporary left
                // behind is removed by `clear_staging`.
                let _ = self.delete(&tmp).await;
                Err(e)
            }
        }
    }

    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, BoxError> {
        let reader = match self.client.read(&self.abs(path)).await {
            Ok(reader) => reader,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(brief(e)),
        };
        let bytes = reader
            .read_range(0, reader.file_length())
            .await
            .map_err(brief)?;
        Ok(Some(bytes.to_vec()))
    }

    async fn is_file(&self, path: &str) -> Result<bool, BoxError> {
        match self.client.get_file_info(&self.abs(path)).await {
            Ok(status) => Ok(!status.isdir),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(brief(e)),
        }
    }

    async fn list(&self, dir: &str) -> Result<Vec<String>, BoxError> {
        let statuses = match self.client.list_status(&self.abs(dir), false).await {
            Ok(statuses) => statuses,
            Err(e) if is_not_found(&e) => return Ok(Vec::new()),
            Err(e) => return Err(brief(e)),
        };
        let mut names: Vec<String> = statuses
            .iter()
            .map(|s| {
                let name = s.path.rsplit('/').next().unwrap_or(&s.path);
                if s.isdir {
                    format!("{name}/")
                } else {
                    name.to_owned()
                }
            })
            .collect();
        names.sort();
        Ok(names)
    }

    async fn list_all(&self) -> Result<Vec<String>, BoxError> {
        let root = self.abs("");
        let statuses = match self.client.list_status(&root, true).await {
            Ok(statuses) => statuses,
            Err(e) if is_not_found(&e) => return Ok(Vec::new()),
            Err(e) => return Err(brief(e)),
        };
        let prefix = format!("{}/", root.trim_end_matches('/'));
        let mut files: Vec<String> = statuses
            .iter()
            .filter(|s| !s.isdir)
            .filter_map(|s| s.path.strip_prefix(&prefix).map(str::to_owned))
            .collect();
        files.sort();
        Ok(files)
    }

    async fn delete(&self, path: &str) -> Result<(), BoxError> {
        match self.client.delete(&self.abs(path), false).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(brief(e)),
        }
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), BoxError> {
        let (from, to) = (self.abs(from), self.abs(to));
        self.mkdir_parent(&to).await.map_err(brief)?;
        self.client.rename(&from, &to, true).await.map_err(brief)
    }

    async fn place(&self, from: &str, to: &str) -> Result<Placed, BoxError> {
        self.rename_new(&self.abs(from), &self.abs(to))
            .await
            .map_err(brief)
    }
}

#[cfg(test)]
mod tests {
    use super::explicit_address;

    #[test]
    fn explicit_addresses() {
        assert_eq!(explicit_address("hdfs://nn:8020"), Some("nn:8020"));
        assert_eq!(explicit_address("hdfs://[::1]:9000"), Some("[::1]:9000"));
        assert_eq!(explicit_address("hdfs://mycluster"), None);
        assert_eq!(explicit_address("hdfs://nn:x"), None);
    }
}
