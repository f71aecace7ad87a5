//! [`FsStore`]: the object store as a local directory (the demo, tests, and a mirror an auditor
//! serves with any static web server). An object's key is its path under the root.
//!
//! Writes go to a temporary file in the object's directory, are fsynced, then put in place:
//! an immutable object with `link(2)`, which fails if the name exists (so an existing object is
//! never replaced, even by a racing writer); a mutable one with `rename(2)`, which replaces it
//! atomically. The directory is fsynced after, so the new name is durable too. A crash leaves
//! at most a `.albedo-tmp-*` file behind, which `list` and `get` never show.
//!
//! One difference from S3 follows from files being files: a key cannot be both an object and a
//! "directory" of other keys (`a` and `a/b`); the second put fails naming the key. The mirror's
//! layout never does that.
//!
//! The blocking file calls run on tokio's blocking pool.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{BoxFuture, Failure, ObjectStore, ObjectStoreError, RetryPolicy, check_key, check_prefix};

/// The first characters of every temporary file's name; [`super::check_key`] refuses keys with a
/// component starting so.
pub(crate) const TEMP_MARKER: &str = ".albedo-tmp";

/// A directory holding objects as plain files.
#[derive(Clone, Debug)]
pub struct FsStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    retry: RetryPolicy,
    temp_counter: AtomicU64,
}

impl FsStore {
    /// A store over `root`, created (with its parents) if missing.
    pub fn create(root: impl AsRef<Path>) -> Result<FsStore, ObjectStoreError> {
        let root = root.as_ref().to_owned();
        fs::create_dir_all(&root).map_err(|e| ObjectStoreError::Failed {
            store: format!("dir {}", root.display()),
            op: "create",
            key: String::new(),
            cause: e.to_string(),
        })?;
        Ok(FsStore { inner: Arc::new(Inner { root, retry: RetryPolicy::default(), temp_counter: AtomicU64::new(0) }) })
    }

    /// The same store with another retry policy.
    pub fn with_retry(self, retry: RetryPolicy) -> FsStore {
        let inner = Inner { root: self.inner.root.clone(), retry, temp_counter: AtomicU64::new(0) };
        FsStore { inner: Arc::new(inner) }
    }

    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Runs one blocking operation on the blocking pool, with the store's retries.
    async fn run<T: Send + 'static>(
        &self,
        op: &'static str,
        key: &str,
        work: impl Fn(&Inner, &str) -> Result<T, Failure> + Send + Sync + Clone + 'static,
    ) -> Result<T, ObjectStoreError> {
        let describe = || self.describe();
        self.inner
            .retry
            .run(&describe, op, key, || {
                let inner = Arc::clone(&self.inner);
                let key = key.to_owned();
                let work = work.clone();
                async move {
                    match tokio::task::spawn_blocking(move || work(&inner, &key)).await {
                        Ok(result) => result,
                        Err(join) => Err(Failure::Transient(format!("the blocking task failed: {join}"))),
                    }
                }
            })
            .await
    }

    fn checked(&self, key: &str) -> Result<(), ObjectStoreError> {
        check_key(key).map_err(|reason| ObjectStoreError::InvalidKey {
            store: self.describe(),
            key: key.into(),
            reason,
        })
    }
}

impl ObjectStore for FsStore {
    fn describe(&self) -> String {
        format!("dir {}", self.inner.root.display())
    }

    fn put_immutable<'a>(&'a self, key: &'a str, bytes: &'a [u8]) -> BoxFuture<'a, Result<(), ObjectStoreError>> {
        Box::pin(async move {
            self.checked(key)?;
            let bytes: Arc<[u8]> = Arc::from(bytes);
            self.run("put", key, move |inner, key| inner.put_immutable(key, &bytes)).await
        })
    }

    fn put_mutable<'a>(&'a self, key: &'a str, bytes: &'a [u8]) -> BoxFuture<'a, Result<(), ObjectStoreError>> {
        Box::pin(async move {
            self.checked(key)?;
            let bytes: Arc<[u8]> = Arc::from(bytes);
            self.run("put", key, move |inner, key| inner.put_mutable(key, &bytes)).await
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, ObjectStoreError>> {
        Box::pin(async move {
            self.checked(key)?;
            self.run("get", key, |inner, key| inner.get(key)).await
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, ObjectStoreError>> {
        Box::pin(async move {
            check_prefix(prefix).map_err(|reason| ObjectStoreError::InvalidKey {
                store: self.describe(),
                key: prefix.into(),
                reason,
            })?;
            self.run("list", prefix, |inner, prefix| inner.list(prefix)).await
        })
    }
}

impl Inner {
    fn describe(&self) -> String {
        format!("dir {}", self.root.display())
    }

    fn fail(&self, op: &'static str, key: &str, what: &str, error: io::Error) -> Failure {
        let cause = format!("{what}: {error}");
        match error.kind() {
            ErrorKind::Interrupted | ErrorKind::TimedOut | ErrorKind::WouldBlock => Failure::Transient(cause),
            _ => Failure::Permanent(ObjectStoreError::Failed { store: self.describe(), op, key: key.into(), cause }),
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    fn put_immutable(&self, key: &str, bytes: &[u8]) -> Result<(), Failure> {
        let path = self.path(key);
        if let Some(existing) = self.read(key, &path)? {
            return self.same_or_immutable(key, &existing, bytes);
        }
        let temp = self.write_temp(key, &path, bytes)?;
        // link(2) refuses an existing name: an object is never replaced, even by a racing writer.
        let linked = fs::hard_link(&temp, &path);
        let _ = fs::remove_file(&temp);
        match linked {
            Ok(()) => self.sync_dir(key, &path),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let existing = self.read(key, &path)?.unwrap_or_default();
                self.same_or_immutable(key, &existing, bytes)
            }
            Err(e) => Err(self.fail("put", key, "link into place", e)),
        }
    }

    fn same_or_immutable(&self, key: &str, existing: &[u8], bytes: &[u8]) -> Result<(), Failure> {
        if existing == bytes {
            Ok(())
        } else {
            Err(Failure::Permanent(ObjectStoreError::Immutable { store: self.describe(), key: key.into() }))
        }
    }

    fn put_mutable(&self, key: &str, bytes: &[u8]) -> Result<(), Failure> {
        let path = self.path(key);
        let temp = self.write_temp(key, &path, bytes)?;
        if let Err(e) = fs::rename(&temp, &path) {
            let _ = fs::remove_file(&temp);
            return Err(self.fail("put", key, "rename into place", e));
        }
        self.sync_dir(key, &path)
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Failure> {
        self.read(key, &self.path(key))
    }

    fn read(&self, key: &str, path: &Path) -> Result<Option<Vec<u8>>, Failure> {
        match fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            // A missing parent directory (ENOTDIR when a parent is a file) also means "no object".
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Ok(None),
            Err(e) => Err(self.fail("get", key, &format!("read {}", path.display()), e)),
        }
    }

    /// Writes `bytes` to a new temporary file beside `path` (creating the directories) and
    /// fsyncs it.
    fn write_temp(&self, key: &str, path: &Path, bytes: &[u8]) -> Result<PathBuf, Failure> {
        let dir = path.parent().expect("a checked key has a file name");
        self.create_dirs(key, dir)?;
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!("{TEMP_MARKER}-{}-{n}", std::process::id()));
        let written = (|| {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&temp)?;
            file.write_all(bytes)?;
            file.sync_all()
        })();
        match written {
            Ok(()) => Ok(temp),
            Err(e) => {
                let _ = fs::remove_file(&temp);
                Err(self.fail("put", key, &format!("write {}", temp.display()), e))
            }
        }
    }

    /// Creates `dir` and its missing parents under the root, fsyncing each parent that gained
    /// an entry, so the new directories survive a crash with the object in them.
    fn create_dirs(&self, key: &str, dir: &Path) -> Result<(), Failure> {
        if dir.is_dir() {
            return Ok(());
        }
        let mut missing = Vec::new();
        let mut cursor = dir;
        while !cursor.is_dir() && cursor != self.root {
            missing.push(cursor.to_owned());
            cursor = cursor.parent().expect("under the root");
        }
        for created in missing.iter().rev() {
            match fs::create_dir(created) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists && created.is_dir() => continue,
                Err(e) => return Err(self.fail("put", key, &format!("create dir {}", created.display()), e)),
            }
            let parent = created.parent().expect("under the root");
            fsync_dir(parent).map_err(|e| self.fail("put", key, &format!("fsync {}", parent.display()), e))?;
        }
        Ok(())
    }

    fn sync_dir(&self, key: &str, path: &Path) -> Result<(), Failure> {
        let dir = path.parent().expect("a checked key has a file name");
        fsync_dir(dir).map_err(|e| self.fail("put", key, &format!("fsync {}", dir.display()), e))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, Failure> {
        // Walk only the deepest directory the prefix names; filter by the full prefix.
        let dir_part = prefix.rfind('/').map_or("", |i| &prefix[..i]);
        let start = if dir_part.is_empty() { self.root.clone() } else { self.root.join(dir_part) };
        let mut keys = Vec::new();
        let mut stack = vec![(start, dir_part.to_owned())];
        while let Some((dir, rel)) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => continue,
                Err(e) => return Err(self.fail("list", prefix, &format!("read dir {}", dir.display()), e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| self.fail("list", prefix, &format!("read dir {}", dir.display()), e))?;
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
                if name.starts_with(TEMP_MARKER) {
                    continue;
                }
                let key = if rel.is_empty() { name } else { format!("{rel}/{name}") };
                // file_type does not follow symlinks: a link is not an object of this store.
                let kind = entry.file_type().map_err(|e| self.fail("list", prefix, "file type", e))?;
                if kind.is_dir() {
                    if key.starts_with(prefix) || prefix.starts_with(&format!("{key}/")) {
                        stack.push((entry.path(), key));
                    }
                } else if kind.is_file() && key.starts_with(prefix) {
                    keys.push(key);
                }
            }
        }
        keys.sort();
        Ok(keys)
    }
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
