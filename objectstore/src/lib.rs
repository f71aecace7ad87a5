//! The object store (design.md §6): one small trait, [`ObjectStore`], and two implementations,
//! [`FsStore`] (a local directory) and [`S3Store`] (any S3-compatible bucket through
//! `aws-sdk-s3`: R2, Hippius S3, s3s-fs in tests).
//!
//! The trait's contract is written on it and checked by one test suite that runs the same
//! assertions against both implementations (`commands/tests/object_store.rs`, through the
//! `albedo_commands::adapters::object_store` re-export), after
//! sunlight's `Backend` (style.md, "Tiled logs").
//!
//! Keys are `/`-separated relative paths (`albedo/ledger/v1/tile/3.p/17`). Every key is checked
//! by [`check_key`] before any I/O, for both stores alike, so a key that works on one works on
//! the other.

mod fs;
mod s3;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use fs::FsStore;
pub use s3::{S3Config, S3Store, S3Timeouts};

/// A boxed future, so that [`ObjectStore`] can be used as `&dyn ObjectStore`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where immutable and mutable objects are kept.
///
/// # Contract
///
/// Every implementation honours all of this; `commands/tests/object_store.rs` checks it.
///
/// - **Durable on return.** When a put returns `Ok`, the object is stored: a crash or power
///   loss afterwards does not lose it (fsync of the file and its directory; an S3 `200`).
/// - **Immutable objects never change.** [`ObjectStore::put_immutable`] on a key that does not
///   exist stores it. On a key that exists with *identical* bytes it is `Ok` and writes nothing,
///   so a retried upload is harmless. On a key that exists with *different* bytes it fails with
///   [`ObjectStoreError::Immutable`] naming the key, and the stored object is untouched.
/// - **Mutable objects are replaced whole.** [`ObjectStore::put_mutable`] replaces the object
///   atomically: a reader sees the old bytes or the new ones, never a mix or nothing.
/// - **Reads.** [`ObjectStore::get`] returns the bytes, or `Ok(None)` when there is no object
///   (never an error for "absent"). [`ObjectStore::list`] returns every key that starts with the
///   given prefix (plain string prefix, as S3's `Prefix`), sorted, complete (no page limit).
/// - **Transient errors are retried inside**: a refused or cut connection, a timeout, an HTTP
///   5xx or throttling answer, with a bounded exponential backoff ([`RetryPolicy`], 3 attempts by
///   default). Only then does the error surface, as [`ObjectStoreError::Unavailable`] naming
///   the store, the operation, the key, the number of attempts and the last cause. Permanent
///   errors (bad credentials, a missing bucket, a bad key) surface at once.
/// - **No hang**: every network call has connect and read deadlines.
/// - **Safe to share**: calls may run concurrently from many tasks. Two writers racing on one
///   immutable key are resolved by the store when it can (S3 `If-None-Match: *`); the write side
///   has a single writer, which is all the mirror needs.
/// - **Secrets never appear** in errors, `Debug` output or logs.
pub trait ObjectStore: Send + Sync {
    /// What this store is, for messages: `dir /var/mirror` or `s3://bucket/prefix at https://…`.
    /// Never contains a secret.
    fn describe(&self) -> String;

    /// Stores an object that must never change (a tile). See the contract.
    fn put_immutable<'a>(&'a self, key: &'a str, bytes: &'a [u8]) -> BoxFuture<'a, Result<(), ObjectStoreError>>;

    /// Stores or replaces an object (the checkpoint). See the contract.
    fn put_mutable<'a>(&'a self, key: &'a str, bytes: &'a [u8]) -> BoxFuture<'a, Result<(), ObjectStoreError>>;

    /// The object's bytes, or `None` if there is no such object.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, ObjectStoreError>>;

    /// Every key starting with `prefix`, sorted.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, ObjectStoreError>>;
}

/// What went wrong, always naming the store and the key (or list prefix).
#[derive(Debug, thiserror::Error)]
pub enum ObjectStoreError {
    #[error("{store}: object `{key}` already exists with different bytes; it is immutable and was left as it was")]
    Immutable { store: String, key: String },

    #[error("{store}: invalid key `{key}`: {reason}")]
    InvalidKey { store: String, key: String, reason: &'static str },

    #[error("{store}: {op} `{key}` was refused: the credentials were not accepted ({cause})")]
    Auth { store: String, op: &'static str, key: String, cause: String },

    #[error("{store}: {op} `{key}` failed: {cause}")]
    Failed { store: String, op: &'static str, key: String, cause: String },

    #[error("{store}: {op} `{key}` failed after {attempts} attempts: {cause}")]
    Unavailable { store: String, op: &'static str, key: String, attempts: u32, cause: String },

    #[error("object store configuration: {0}")]
    Config(String),
}

impl ObjectStoreError {
    /// The key (or list prefix) the error is about, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            ObjectStoreError::Immutable { key, .. }
            | ObjectStoreError::InvalidKey { key, .. }
            | ObjectStoreError::Auth { key, .. }
            | ObjectStoreError::Failed { key, .. }
            | ObjectStoreError::Unavailable { key, .. } => Some(key),
            ObjectStoreError::Config(_) => None,
        }
    }
}

/// Bounded retries with exponential backoff: attempt 1, wait `first_backoff`, attempt 2, wait
/// twice that (at most `max_backoff`), … up to `attempts` attempts in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts, 200 ms then 400 ms apart: a blip is absorbed, an outage surfaces in well
    /// under a second plus the timeouts, and the mirror's next pass catches up.
    fn default() -> Self {
        RetryPolicy { attempts: 3, first_backoff: Duration::from_millis(200), max_backoff: Duration::from_secs(5) }
    }
}

/// One attempt's failure: worth another try, or final.
pub(crate) enum Failure {
    Transient(String),
    Permanent(ObjectStoreError),
}

impl RetryPolicy {
    /// Runs `attempt` until it succeeds, fails permanently, or the attempts are used up; then
    /// [`ObjectStoreError::Unavailable`] carries the last cause.
    pub(crate) async fn run<T, F, Fut>(
        &self,
        store: &(dyn Fn() -> String + Sync),
        op: &'static str,
        key: &str,
        mut attempt: F,
    ) -> Result<T, ObjectStoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let attempts = self.attempts.max(1);
        let mut backoff = self.first_backoff;
        let mut n = 1;
        loop {
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(Failure::Permanent(error)) => return Err(error),
                Err(Failure::Transient(cause)) if n >= attempts => {
                    return Err(ObjectStoreError::Unavailable {
                        store: store(),
                        op,
                        key: key.to_owned(),
                        attempts,
                        cause,
                    });
                }
                Err(Failure::Transient(_)) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.max_backoff);
                    n += 1;
                }
            }
        }
    }
}

/// Checks a key before any I/O, for every store alike: non-empty, relative, `/`-separated, no
/// empty, `.` or `..` component (no escape from the root, one spelling per object), no
/// backslash or control character, and no component starting with `.albedo-tmp` (the
/// filesystem store's temporary files).
pub fn check_key(key: &str) -> Result<(), &'static str> {
    if key.is_empty() {
        return Err("empty key");
    }
    if key.len() > 1024 {
        return Err("longer than 1024 bytes (S3's limit)");
    }
    if key.starts_with('/') {
        return Err("starts with `/`: keys are relative");
    }
    if key.chars().any(|c| c == '\\' || c.is_control()) {
        return Err("contains a backslash or a control character");
    }
    for part in key.split('/') {
        match part {
            "" => return Err("has an empty path component (`//` or a trailing `/`)"),
            "." | ".." => return Err("has a `.` or `..` component"),
            _ if part.starts_with(fs::TEMP_MARKER) => return Err("has a component reserved for temporary files"),
            _ => {}
        }
    }
    Ok(())
}

/// A list prefix may be empty or end in `/`; otherwise it follows [`check_key`]'s rules.
pub(crate) fn check_prefix(prefix: &str) -> Result<(), &'static str> {
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    if trimmed.is_empty() { if prefix.is_empty() { Ok(()) } else { Err("is `/`") } } else { check_key(trimmed) }
}

/// Where the mirror (or anything else) goes, as given on a command line: a directory, or
/// `s3://BUCKET[/PREFIX]` with the endpoint and keys from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Dir(std::path::PathBuf),
    S3 { bucket: String, prefix: String },
}

impl Target {
    /// `s3://bucket/prefix` (prefix optional) or a directory path.
    pub fn parse(text: &str) -> Result<Target, ObjectStoreError> {
        match text.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(ObjectStoreError::Config(format!("{text:?}: no bucket after s3://")));
                }
                Ok(Target::S3 { bucket: bucket.to_owned(), prefix: prefix.trim_matches('/').to_owned() })
            }
            None if text.is_empty() => Err(ObjectStoreError::Config("empty target".into())),
            None => Ok(Target::Dir(text.into())),
        }
    }

    /// Opens the store. For S3, the endpoint and keys come from `vars` as in
    /// [`S3Config::from_env`]; the bucket and prefix of the target replace `ALBEDO_R2_BUCKET`
    /// and `ALBEDO_R2_PREFIX`.
    pub fn open(&self, vars: &dyn Fn(&str) -> Option<String>) -> Result<Box<dyn ObjectStore>, ObjectStoreError> {
        match self {
            Target::Dir(dir) => Ok(Box::new(FsStore::create(dir)?)),
            Target::S3 { bucket, prefix } => {
                let overrides = |name: &str| match name {
                    s3::ENV_BUCKET => Some(bucket.clone()),
                    s3::ENV_PREFIX => Some(prefix.clone()),
                    _ => vars(name),
                };
                Ok(Box::new(S3Store::new(S3Config::from_env(&overrides)?)?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for ok in ["a", "ledger/v1/tile/3.p/17", "albedo/ledger/v1/checkpoint", "x.y/.hidden"] {
            assert_eq!(check_key(ok), Ok(()), "{ok}");
        }
        for bad in ["", "/a", "a//b", "a/", "../a", "a/../b", "a/./b", "a\\b", "a\nb", "a/.albedo-tmp-1"] {
            assert!(check_key(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(check_prefix("").is_ok());
        assert!(check_prefix("ledger/v1/").is_ok());
        assert!(check_prefix("ledger/v1/tile/3.p").is_ok());
        assert!(check_prefix("/").is_err());
        assert!(check_prefix("../").is_err());
    }

    #[test]
    fn targets() {
        assert_eq!(
            Target::parse("s3://bucket/a/b/").unwrap(),
            Target::S3 { bucket: "bucket".into(), prefix: "a/b".into() }
        );
        assert_eq!(Target::parse("s3://bucket").unwrap(), Target::S3 { bucket: "bucket".into(), prefix: "".into() });
        assert!(Target::parse("s3://").is_err());
        assert_eq!(Target::parse("/tmp/m").unwrap(), Target::Dir("/tmp/m".into()));
    }
}
