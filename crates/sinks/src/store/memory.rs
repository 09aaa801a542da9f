//! The in-memory backend of `memory://<area>/<path>` destinations, for tests
//! and the simulation.
//!
//! Areas are process-wide and named: every [`StoreSink`](crate::StoreSink)
//! of the process sees the same area under the same name, so a SyncTool
//! restarted inside a simulation (a new sink) finds what an earlier one
//! committed. An area lives until [`forget_memory_area`].
//!
//! It behaves like a store **with** rename (local fs, HDFS): a staged file is
//! written under a temporary name and renamed, so the simulation reaches
//! every [`Step`](crate::Step), `StageWritten` included. Each operation is
//! one critical section of its area (a mutex around check and write), so an
//! exclusive create and a no-replace publish are atomic, and an injected
//! crash between two operations leaves exactly what a crash of a real store
//! would. Directories are implicit (the prefixes of file paths).

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use super::{Backend, BoxError, Placed};

/// The files of one area, by full path inside it.
type Files = BTreeMap<String, Vec<u8>>;

/// Every area of the process, by name.
static AREAS: LazyLock<Mutex<HashMap<String, Arc<Mutex<Files>>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Frees the memory area `name` and everything in it; returns whether it
/// existed. A destination in it used afterwards starts a new, empty area.
pub fn forget_memory_area(name: &str) -> bool {
    lock(&AREAS).remove(name).is_some()
}

/// Locks `m`; a panic in another holder leaves plain data, still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A prefix of an area.
pub(crate) struct Memory {
    area: String,
    /// The destination's prefix, empty or ending in `/`.
    prefix: String,
}

impl Memory {
    /// The destination `prefix` (no leading or trailing slash) of area `area`.
    pub(crate) fn new(area: &str, prefix: &str) -> Self {
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        Memory {
            area: area.to_owned(),
            prefix,
        }
    }

    /// Runs `f` on the area's files, in one critical section. The area is
    /// looked up by name each time, so [`forget_memory_area`] takes effect at
    /// once.
    fn with<T>(&self, f: impl FnOnce(&mut Files, &str) -> T) -> T {
        let area = lock(&AREAS).entry(self.area.clone()).or_default().clone();
        let mut files = lock(&area);
        f(&mut files, &self.prefix)
    }
}

fn missing(path: &str) -> BoxError {
    format!("{path}: no such file").into()
}

#[async_trait::async_trait]
impl Backend for Memory {
    fn renames(&self) -> bool {
        true
    }

    async fn create_root(&self) -> Result<(), BoxError> {
        Ok(())
    }

    async fn write(&self, path: &str, bytes: Vec<u8>) -> Result<(), BoxError> {
        self.with(|files, prefix| {
            files.insert(format!("{prefix}{path}"), bytes);
        });
        Ok(())
    }

    async fn create_new(&self, path: &str, bytes: Vec<u8>) -> Result<Placed, BoxError> {
        Ok(self.with(
            |files, prefix| match files.entry(format!("{prefix}{path}")) {
                Entry::Occupied(_) => Placed::Exists,
                Entry::Vacant(slot) => {
                    slot.insert(bytes);
                    Placed::New
                }
            },
        ))
    }

    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, BoxError> {
        Ok(self.with(|files, prefix| files.get(&format!("{prefix}{path}")).cloned()))
    }

    async fn is_file(&self, path: &str) -> Result<bool, BoxError> {
        Ok(self.with(|files, prefix| files.contains_key(&format!("{prefix}{path}"))))
    }

    async fn list(&self, dir: &str) -> Result<Vec<String>, BoxError> {
        Ok(self.with(|files, prefix| {
            let dir = format!("{prefix}{dir}");
            let mut names: Vec<String> = files
                .range(dir.clone()..)
                .take_while(|(k, _)| k.starts_with(&dir))
                .map(|(k, _)| match k[dir.len()..].split_once('/') {
                    Some((sub, _)) => format!("{sub}/"),
                    None => k[dir.len()..].to_owned(),
                })
                .collect();
            names.dedup();
            names
        }))
    }

    async fn list_all(&self) -> Result<Vec<String>, BoxError> {
        Ok(self.with(|files, prefix| {
            files
                .range(prefix.to_owned()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, _)| k[prefix.len()..].to_owned())
                .collect()
        }))
    }

    async fn delete(&self, path: &str) -> Result<(), BoxError> {
        self.with(|files, prefix| files.remove(&format!("{prefix}{path}")));
        Ok(())
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), BoxError> {
        self.with(|files, prefix| {
            let bytes = files
                .remove(&format!("{prefix}{from}"))
                .ok_or_else(|| missing(from))?;
            files.insert(format!("{prefix}{to}"), bytes);
            Ok(())
        })
    }

    async fn place(&self, from: &str, to: &str) -> Result<Placed, BoxError> {
        Ok(self.with(|files, prefix| {
            let to = format!("{prefix}{to}");
            if files.contains_key(&to) {
                return Placed::Exists;
            }
            match files.get(&format!("{prefix}{from}")) {
                Some(bytes) => {
                    let bytes = bytes.clone();
                    files.insert(to, bytes);
                    Placed::New
                }
                None => Placed::SourceMissing,
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn areas_are_shared_by_name_until_forgotten() {
        let name = format!("unit-{}", crate::layout::unique_token());
        let a = Memory::new(&name, "x/y");
        a.write("_staging/f", b"1".to_vec()).await.expect("write");
        a.write("part-1.csv", b"2".to_vec()).await.expect("write");
        let b = Memory::new(&name, "x/y");
        assert_eq!(
            b.read("part-1.csv").await.expect("read"),
            Some(b"2".to_vec())
        );
        assert_eq!(
            b.list("").await.expect("list"),
            vec!["_staging/".to_owned(), "part-1.csv".to_owned()]
        );
        assert_eq!(
            b.list_all().await.expect("list"),
            vec!["_staging/f".to_owned(), "part-1.csv".to_owned()]
        );
        // Another prefix of the area sees nothing of it.
        let other = Memory::new(&name, "x");
        assert_eq!(other.list("").await.expect("list"), vec!["y/".to_owned()]);
        assert_eq!(
            b.create_new("r", b"a".to_vec()).await.expect("create"),
            Placed::New
        );
        assert_eq!(
            a.create_new("r", b"b".to_vec()).await.expect("create"),
            Placed::Exists
        );
        assert_eq!(a.read("r").await.expect("read"), Some(b"a".to_vec()));
        assert_eq!(
            a.place("_staging/f", "r").await.expect("place"),
            Placed::Exists
        );
        assert_eq!(
            a.place("nothing", "s").await.expect("place"),
            Placed::SourceMissing
        );
        assert!(forget_memory_area(&name));
        assert_eq!(b.read("part-1.csv").await.expect("read"), None);
        assert!(forget_memory_area(&name), "used again: a new area");
        assert!(!forget_memory_area(&name));
    }
}
