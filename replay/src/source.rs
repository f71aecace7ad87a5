//! Where a ledger is read from: a sled directory, a local mirror directory, `s3://bucket/prefix`
//! or an `http(s)://` base URL of a public bucket. Every source streams entries in order,
//! verified link by link (and, for a mirror, against its signed checkpoint).

use std::ops::ControlFlow;
use std::path::PathBuf;

use albedo_ledger::mirror::{Checkpoint, DirSource, MirrorReader, TileSource};
use albedo_ledger::{Envelope, Hash32, Store, Verifier};
use albedo_objectstore::{ObjectStore, Target};
use anyhow::Context;

/// A ledger source, as named on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A sled directory (the validator's store).
    Sled(PathBuf),
    /// A local copy of the mirror: `<dir>/<prefix>/ledger/v1/...`.
    MirrorDir { root: PathBuf, prefix: String },
    /// `http://` or `https://` base URL of a public bucket (the prefix is part of the URL).
    Http { base: String },
    /// `s3://bucket/prefix`, read with the endpoint and keys of `ALBEDO_R2_ENDPOINT`,
    /// `ALBEDO_R2_ACCESS_KEY`, `ALBEDO_R2_SECRET_KEY` (and `ALBEDO_R2_REGION`).
    S3 { target: Target },
}

impl Source {
    /// Parses a source: `http(s)://…` is a public bucket URL; a directory holding sled's `conf`
    /// and `db` files is a store; a directory holding `ledger/v1/checkpoint` is a mirror.
    pub fn parse(text: &str) -> anyhow::Result<Source> {
        if text.starts_with("http://") || text.starts_with("https://") {
            return Ok(Source::Http { base: text.trim_end_matches('/').to_string() });
        }
        if text.starts_with("s3://") {
            anyhow::bail!(
                "s3:// sources are read through their public URL for now: pass the bucket's http(s):// base URL"
            );
        }
        let path = PathBuf::from(text);
        if path.join("conf").is_file() && path.join("db").is_file() {
            return Ok(Source::Sled(path));
        }
        if path.join("ledger/v1/checkpoint").is_file() {
            return Ok(Source::MirrorDir { root: path, prefix: String::new() });
        }
        anyhow::bail!(
            "{text}: not a ledger source (expected a sled directory, a mirror directory holding ledger/v1/checkpoint, or an http(s):// URL)"
        )
    }

    fn tiles(&self) -> anyhow::Result<Option<Box<dyn TileSource>>> {
        Ok(match self {
            Source::Sled(_) => None,
            Source::MirrorDir { root, .. } => Some(Box::new(DirSource::new(root.clone()))),
            Source::Http { base } => Some(Box::new(HttpSource::new(base))),
            Source::S3 { target } => Some(Box::new(ObjectStoreSource::open(target)?)),
        })
    }

    fn prefix(&self) -> &str {
        match self {
            Source::MirrorDir { prefix, .. } => prefix,
            _ => "",
        }
    }

    /// Streams every entry in order, verified, to `f` (which may stop early). For a mirror,
    /// the checkpoint's signature is checked first (and its signer, when `signer` is given) and
    /// the last entry must match it. Returns the mirror's checkpoint, if any.
    pub fn visit(
        &self,
        signer: Option<&str>,
        mut f: impl FnMut(&Envelope, Hash32) -> ControlFlow<()>,
    ) -> anyhow::Result<Option<Checkpoint>> {
        match self {
            Source::Sled(path) => {
                let store = Store::open(path).with_context(|| format!("opening {}", path.display()))?;
                let mut verifier = Verifier::new();
                for entry in store.snapshot().entries(0) {
                    let entry = entry?;
                    let (env, hash) = verifier.check(&entry.bytes)?;
                    if f(&env, hash).is_break() {
                        break;
                    }
                }
                Ok(None)
            }
            _ => {
                // `entries` verifies every link and, after the last entry, the checkpoint's head.
                let tiles = self.tiles()?.expect("a mirror source");
                visit_mirror(tiles.as_ref(), self.prefix(), signer, f).map(Some)
            }
        }
    }
}

/// Streams a mirror from any tile source, verified, to `f`: what [`Source::visit`] does for
/// mirror sources.
pub fn visit_mirror(
    tiles: &dyn TileSource,
    prefix: &str,
    signer: Option<&str>,
    mut f: impl FnMut(&Envelope, Hash32) -> ControlFlow<()>,
) -> anyhow::Result<Checkpoint> {
    let reader = MirrorReader::open(tiles, prefix, signer)?;
    for entry in reader.entries() {
        let (env, hash) = entry?;
        if f(&env, hash).is_break() {
            break;
        }
    }
    Ok(reader.checkpoint().clone())
}

/// A public bucket read over HTTP(S): object `key` is `<base>/<key>`.
pub struct HttpSource {
    base: String,
    client: reqwest::blocking::Client,
}

impl HttpSource {
    pub fn new(base: &str) -> HttpSource {
        // reqwest is built without a default TLS provider (no aws-lc build): install ring's.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("an HTTP client with static settings builds");
        HttpSource { base: base.trim_end_matches('/').to_string(), client }
    }
}

impl TileSource for HttpSource {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        let url = format!("{}/{key}", self.base);
        let mut last = String::new();
        for attempt in 0..3 {
            if attempt > 0 {
                std::thread::sleep(std::time::Duration::from_millis(200 << attempt));
            }
            match self.client.get(&url).send() {
                Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => return Ok(None),
                Ok(r) if r.status().is_success() => {
                    return r.bytes().map(|b| Some(b.to_vec())).map_err(|e| format!("GET {url}: {e}"));
                }
                Ok(r) if r.status().is_server_error() => last = format!("GET {url}: HTTP {}", r.status()),
                Ok(r) => return Err(format!("GET {url}: HTTP {}", r.status())),
                Err(e) => last = format!("GET {url}: {e}"),
            }
        }
        Err(last)
    }
}

/// A bucket read through the shared object store (`albedo-objectstore`), blocking on a small
/// runtime of its own: the reader streams tiles one by one.
pub struct ObjectStoreSource {
    store: Box<dyn ObjectStore>,
    runtime: tokio::runtime::Runtime,
}

impl ObjectStoreSource {
    /// Opens `target` with the endpoint and keys from the process environment.
    pub fn open(target: &Target) -> anyhow::Result<ObjectStoreSource> {
        ObjectStoreSource::open_with(target, &|name: &str| std::env::var(name).ok())
    }

    /// Opens `target` with the endpoint and keys from `vars`.
    pub fn open_with(target: &Target, vars: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<ObjectStoreSource> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let store = target.open(vars)?;
        Ok(ObjectStoreSource { store, runtime })
    }
}

impl TileSource for ObjectStoreSource {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.runtime.block_on(self.store.get(key)).map_err(|e| e.to_string())
    }
}
