//! The registry client (validator.md §17, design.md §6): the Hippius hub is an OCI registry; a
//! model is an image manifest whose layers are its files. Built on `oci-client` (the ORAS
//! project's distribution client), with our own checks on top:
//!
//! - pulls are **by digest only**, and SHA-256 of the manifest bytes must equal the committed
//!   digest ([`ModelManifest::parse`]);
//! - every blob is hashed as it streams to disk and must match its layer's digest and size
//!   before the caller may use the file; a mismatch names the file and both digests;
//! - a config-only fetch reads just `config.json` (admission), and the file list is the
//!   manifest's layer titles: neither downloads weights;
//! - a push sends one layer per file, skips blobs the registry already has, and **replaces**
//!   the tag's manifest with exactly the folder's files (the reference merged into the old
//!   manifest, so stale files survived: validator.md §17.5, marked weak);
//! - transient failures (connection errors, timeouts, 5xx, 429) are retried with exponential
//!   backoff; blob transfers run in parallel up to a limit and report progress.

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use albedo_ledger::Hash32;
use albedo_ledger::event::ModelRef;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};
use oci_client::client::{ClientConfig, ClientProtocol, SizedStream};
use oci_client::errors::{DigestError, OciDistributionError, OciErrorCode};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{ModelError, Result};
use crate::manifest::{
    EMPTY_CONFIG, EMPTY_CONFIG_DIGEST, MANIFEST_MEDIA_TYPE, ModelFile, ModelManifest, build_manifest,
    check_relative_path,
};

/// The production registry.
pub const DEFAULT_REGISTRY_URL: &str = "https://registry.hippius.com";
/// `config.json` larger than this is refused by the config-only fetch (a real one is ~1 KB).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Credentials for the registry. `Debug` never prints a secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Auth {
    #[default]
    Anonymous,
    /// `HIPPIUS_HUB_TOKEN`: sent as `Authorization: Bearer <token>`.
    Token(String),
    /// `HIPPIUS_HUB_USERNAME` / `HIPPIUS_HUB_PASSWORD`: HTTP basic auth, or exchanged at the
    /// registry's token service when it answers with a `Bearer` challenge.
    Basic { username: String, password: String },
}

impl Auth {
    /// From the process environment; see [`Auth::from_vars`].
    pub fn from_env() -> Auth {
        Auth::from_vars(|k| std::env::var(k).ok())
    }

    /// Username and password when both are set and non-blank after trimming (validator.md
    /// §17.5), else the token when non-blank, else anonymous. The same rule for pulls and
    /// pushes (the reference's downloads ignored username/password: eval.md §12.1).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Auth {
        let var = |k: &str| get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        match (var("HIPPIUS_HUB_USERNAME"), var("HIPPIUS_HUB_PASSWORD"), var("HIPPIUS_HUB_TOKEN")) {
            (Some(username), Some(password), _) => Auth::Basic { username, password },
            (_, _, Some(token)) => Auth::Token(token),
            _ => Auth::Anonymous,
        }
    }

    fn to_oci(&self) -> RegistryAuth {
        match self {
            Auth::Anonymous => RegistryAuth::Anonymous,
            Auth::Token(t) => RegistryAuth::Bearer(t.clone()),
            Auth::Basic { username, password } => RegistryAuth::Basic(username.clone(), password.clone()),
        }
    }

    /// What an error message may say about the credentials used.
    fn describe(&self) -> String {
        match self {
            Auth::Anonymous => {
                "no credentials were given (set HIPPIUS_HUB_TOKEN, or HIPPIUS_HUB_USERNAME and HIPPIUS_HUB_PASSWORD)"
                    .into()
            }
            Auth::Token(_) => "the token from HIPPIUS_HUB_TOKEN was used".into(),
            Auth::Basic { username, .. } => format!("user {username:?} from HIPPIUS_HUB_USERNAME was used"),
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Anonymous => f.write_str("Anonymous"),
            Auth::Token(_) => f.write_str("Token(<redacted>)"),
            Auth::Basic { username, .. } => write!(f, "Basic({username:?}, <redacted>)"),
        }
    }
}

/// How to reach the registry.
#[derive(Clone, Debug)]
pub struct RegistryConfig {
    /// `https://host[:port]`, or `http://` for a registry on loopback (tests, the demo).
    pub url: String,
    pub auth: Auth,
    /// Blob transfers in flight at once (the reference's `max_workers`, 8).
    pub concurrency: usize,
    /// Extra attempts after a transient failure.
    pub retries: u32,
    /// The first retry's delay; doubled each time.
    pub backoff: Duration,
    pub connect_timeout: Duration,
    /// Longest silence while reading a response.
    pub read_timeout: Duration,
}

impl RegistryConfig {
    pub fn new(url: impl Into<String>, auth: Auth) -> RegistryConfig {
        RegistryConfig {
            url: url.into(),
            auth,
            concurrency: 8,
            retries: 4,
            backoff: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
        }
    }

    /// `ALBEDO_MODEL_REGISTRY` (default [`DEFAULT_REGISTRY_URL`]) and [`Auth::from_env`].
    pub fn from_env() -> RegistryConfig {
        let url = std::env::var("ALBEDO_MODEL_REGISTRY")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_REGISTRY_URL.to_owned());
        RegistryConfig::new(url.trim(), Auth::from_env())
    }
}

/// What a transfer reports as it goes. Byte counts are per file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A file's transfer began (again, on a retry).
    Started { file: String, size: u64 },
    /// `bytes` more bytes of `file` moved.
    Advanced { file: String, bytes: u64 },
    /// `file` moved and verified.
    Finished { file: String },
    /// `file` was not sent: the registry already has its blob.
    Skipped { file: String },
}

/// A progress callback; shared by the parallel transfers.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// A callback that ignores progress.
pub fn no_progress() -> ProgressFn {
    Arc::new(|_| {})
}

/// `config.json` of a model, fetched alone (admission: validator.md §10.2).
#[derive(Clone, Debug)]
pub struct ConfigFile {
    pub manifest: ModelManifest,
    pub bytes: Vec<u8>,
    pub sha256: Hash32,
    /// `Err` holds why the bytes are not a JSON document.
    pub json: std::result::Result<serde_json::Value, String>,
}

/// The result of a push.
#[derive(Clone, Debug)]
pub struct Pushed {
    /// `repo@sha256:…`: what a miner commits on chain.
    pub model: ModelRef,
    pub tag: String,
    /// Every file in the manifest, sorted by path.
    pub files: Vec<ModelFile>,
    /// Files whose blobs were sent, and files the registry already had.
    pub uploaded: Vec<String>,
    pub skipped: Vec<String>,
    pub bytes_uploaded: u64,
}

/// One registry, one set of credentials.
pub struct Registry {
    client: Client,
    host: String,
    config: RegistryConfig,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry").field("host", &self.host).field("config", &self.config).finish()
    }
}

enum Step {
    Retry(String),
    Fail(ModelError),
}

impl Registry {
    pub fn new(config: RegistryConfig) -> Result<Registry> {
        // reqwest is built without a default crypto provider; install ring's once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (insecure, rest) = if let Some(rest) = config.url.strip_prefix("http://") {
            (true, rest)
        } else if let Some(rest) = config.url.strip_prefix("https://") {
            (false, rest)
        } else {
            return Err(ModelError::Config(format!(
                "registry URL {:?} must start with https:// or http://",
                config.url
            )));
        };
        let host = rest.trim_end_matches('/');
        if host.is_empty() || host.contains('/') {
            return Err(ModelError::Config(format!("registry URL {:?} must be scheme://host[:port]", config.url)));
        }
        if config.concurrency == 0 {
            return Err(ModelError::Config("concurrency must be at least 1".into()));
        }
        let client = Client::new(ClientConfig {
            protocol: if insecure { ClientProtocol::Http } else { ClientProtocol::Https },
            // One streamed PUT per blob: a multi-GB shard is never held in memory.
            use_monolithic_push: true,
            max_concurrent_upload: config.concurrency,
            max_concurrent_download: config.concurrency,
            connect_timeout: Some(config.connect_timeout),
            read_timeout: Some(config.read_timeout),
            platform_resolver: None,
            ..ClientConfig::default()
        });
        Ok(Registry { client, host: host.to_owned(), config })
    }

    /// `host[:port]`.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    fn by_digest(&self, model: &ModelRef) -> Reference {
        Reference::with_digest(self.host.clone(), model.repo().to_owned(), model.digest().to_owned())
    }

    /// Authenticates for `op` on `reference`'s repository (a token exchange when the registry
    /// asks for one), so a refusal is reported as an auth error up front.
    async fn authenticate(&self, reference: &Reference, op: RegistryOperation) -> Result<()> {
        let auth = self.config.auth.to_oci();
        self.with_retries(&format!("authenticate for {}", reference.repository()), || async {
            match self.client.auth(reference, &auth, op).await {
                Ok(_) => Ok(()),
                Err(e) => Err(self.classify(reference.repository(), e)),
            }
        })
        .await
    }

    /// The manifest at the committed digest, verified (SHA-256 of its bytes) and checked.
    pub async fn manifest(&self, model: &ModelRef) -> Result<ModelManifest> {
        let reference = self.by_digest(model);
        self.authenticate(&reference, RegistryOperation::Pull).await?;
        let auth = self.config.auth.to_oci();
        let bytes = self
            .with_retries(&format!("fetch the manifest of {model}"), || async {
                match self.client.pull_manifest_raw(&reference, &auth, &[MANIFEST_MEDIA_TYPE]).await {
                    Ok((bytes, _)) => Ok(bytes.to_vec()),
                    // oci-client hashes the bytes against the reference's digest (and the
                    // registry's Docker-Content-Digest header) before handing them over.
                    Err(OciDistributionError::DigestError(DigestError::VerificationError { expected, actual })) => {
                        Err(Step::Fail(if expected == model.digest() {
                            ModelError::ManifestDigest { model: model.to_string(), expected, actual }
                        } else {
                            ModelError::Registry {
                                what: format!("the manifest of {model}"),
                                detail: format!(
                                    "the registry's Docker-Content-Digest header says {expected}, the bytes hash to {actual}"
                                ),
                            }
                        }))
                    }
                    Err(e) => Err(self.classify(&model.to_string(), e)),
                }
            })
            .await?;
        ModelManifest::parse(model, bytes)
    }

    /// The model's file paths (layer titles), sorted, without downloading any file.
    pub async fn list_files(&self, model: &ModelRef) -> Result<Vec<String>> {
        Ok(self.manifest(model).await?.paths())
    }

    /// Just `config.json` (validator.md §17.1 config-only fetch), verified against its layer.
    /// Nothing is written to disk, so it can never pass for a full download.
    pub async fn fetch_config(&self, model: &ModelRef) -> Result<ConfigFile> {
        let manifest = self.manifest(model).await?;
        let bytes = self.fetch_small_file(&manifest, "config.json", MAX_CONFIG_BYTES).await?;
        let json = serde_json::from_slice(&bytes).map_err(|e| format!("config.json is not JSON: {e}"));
        Ok(ConfigFile { sha256: Hash32::of(&bytes), bytes, json, manifest })
    }

    /// One file of a verified manifest, into memory, verified; refused above `max_bytes`.
    pub async fn fetch_small_file(&self, manifest: &ModelManifest, path: &str, max_bytes: u64) -> Result<Vec<u8>> {
        let model = &manifest.model;
        let file = manifest
            .file(path)
            .ok_or_else(|| ModelError::MissingFile { model: model.to_string(), file: path.to_owned() })?;
        if file.size > max_bytes {
            return Err(ModelError::Manifest {
                model: model.to_string(),
                detail: format!("{path} is {} bytes; at most {max_bytes} are read", file.size),
            });
        }
        let reference = self.by_digest(model);
        self.with_retries(&format!("fetch {path} of {model}"), || async {
            let mut blob = self.open_blob(&reference, model, file).await?;
            let mut out = Vec::with_capacity(file.size as usize);
            let mut hasher = Sha256::new();
            while let Some(chunk) = next_chunk(&mut blob, model, file, out.len() as u64).await? {
                hasher.update(&chunk);
                out.extend_from_slice(&chunk);
            }
            check_blob(model, file, out.len() as u64, hasher.finalize().into())?;
            Ok(out)
        })
        .await
    }

    /// Downloads every file of `manifest` into `dir` (created if needed), in parallel, each
    /// hashed as it streams and checked against its layer before this returns. On an error the
    /// directory holds partial files: the caller writes into a staging directory and discards
    /// it ([`crate::ModelCache`] does).
    pub async fn pull_files(&self, manifest: &ModelManifest, dir: &Path, progress: ProgressFn) -> Result<()> {
        let model = &manifest.model;
        let reference = self.by_digest(model);
        self.authenticate(&reference, RegistryOperation::Pull).await?;
        for file in &manifest.files {
            check_relative_path(&file.path)
                .map_err(|detail| ModelError::Manifest { model: model.to_string(), detail })?;
        }
        // Largest first: the long transfers start early and the pool drains evenly.
        let mut files: Vec<&ModelFile> = manifest.files.iter().collect();
        files.sort_by(|a, b| b.size.cmp(&a.size).then(a.path.cmp(&b.path)));
        stream::iter(files.into_iter().map(|file| {
            let progress = progress.clone();
            let reference = &reference;
            async move { self.pull_file(reference, model, file, &dir.join(&file.path), progress).await }
        }))
        .buffer_unordered(self.config.concurrency)
        .try_collect::<Vec<()>>()
        .await?;
        Ok(())
    }

    async fn pull_file(
        &self,
        reference: &Reference,
        model: &ModelRef,
        file: &ModelFile,
        dest: &Path,
        progress: ProgressFn,
    ) -> Result<()> {
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(|e| ModelError::io("create", parent, e))?;
        }
        self.with_retries(&format!("download {} of {model}", file.path), || async {
            progress(Progress::Started { file: file.path.clone(), size: file.size });
            let mut blob = self.open_blob(reference, model, file).await?;
            let fail_write = |e| Step::Fail(ModelError::io("write", dest, e));
            let out = tokio::fs::File::create(dest).await.map_err(|e| Step::Fail(ModelError::io("create", dest, e)))?;
            let mut out = tokio::io::BufWriter::with_capacity(4 << 20, out);
            let mut hasher = Sha256::new();
            let mut n = 0u64;
            while let Some(chunk) = next_chunk(&mut blob, model, file, n).await? {
                hasher.update(&chunk);
                n += chunk.len() as u64;
                out.write_all(&chunk).await.map_err(fail_write)?;
                progress(Progress::Advanced { file: file.path.clone(), bytes: chunk.len() as u64 });
            }
            check_blob(model, file, n, hasher.finalize().into())?;
            out.flush().await.map_err(fail_write)?;
            out.into_inner().sync_all().await.map_err(|e| Step::Fail(ModelError::io("sync", dest, e)))?;
            progress(Progress::Finished { file: file.path.clone() });
            Ok(())
        })
        .await
    }

    async fn open_blob(
        &self,
        reference: &Reference,
        model: &ModelRef,
        file: &ModelFile,
    ) -> std::result::Result<SizedStream, Step> {
        let descriptor = OciDescriptor {
            media_type: crate::manifest::LAYER_MEDIA_TYPE.into(),
            digest: file.digest(),
            size: file.size as i64,
            ..OciDescriptor::default()
        };
        self.client
            .pull_blob_stream(reference, &descriptor)
            .await
            .map_err(|e| self.classify(&format!("{} of {model}", file.path), e))
    }

    /// Pushes every file under `dir` as one layer each to `repo:tag`, skipping `.cache/`,
    /// `.albedo/` and `*.metadata` (the reference's ignore list, plus our cache record); blobs
    /// the registry already has are not sent again. The tag's manifest is replaced by exactly
    /// these files. Returns the digest to commit.
    pub async fn push_dir(&self, dir: &Path, repo: &str, tag: &str, progress: ProgressFn) -> Result<Pushed> {
        let bad = |detail: String| ModelError::PushSource { dir: dir.to_owned(), detail };
        ModelRef::new(repo, EMPTY_CONFIG_DIGEST).map_err(bad)?;
        if tag.is_empty() || tag.len() > 128 || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
            return Err(bad(format!("tag {tag:?} is not a valid OCI tag")));
        }
        let meta = std::fs::metadata(dir).map_err(|e| bad(format!("cannot read it: {e}")))?;
        if !meta.is_dir() {
            return Err(bad("not a directory".into()));
        }
        let paths = tokio::task::spawn_blocking({
            let dir = dir.to_owned();
            move || list_push_files(&dir)
        })
        .await
        .expect("listing task")?;
        if paths.is_empty() {
            return Err(bad("no files to push".into()));
        }
        // Hash first: the digest names the blob, and lets us skip what is already there.
        let files: Vec<ModelFile> = stream::iter(paths.into_iter().map(|path| {
            let full = dir.join(&path);
            async move {
                let (sha256, size) = tokio::task::spawn_blocking(move || hash_file(&full)).await.expect("hash task")?;
                Ok::<_, ModelError>(ModelFile { path, sha256, size })
            }
        }))
        .buffered(self.config.concurrency.min(4))
        .try_collect()
        .await?;

        let reference = Reference::with_tag(self.host.clone(), repo.to_owned(), tag.to_owned());
        self.authenticate(&reference, RegistryOperation::Push).await?;

        // The empty config blob every manifest points at.
        if !self.blob_exists(&reference, EMPTY_CONFIG_DIGEST).await? {
            self.with_retries("push the empty config blob", || async {
                self.client
                    .push_blob(&reference, Bytes::from_static(EMPTY_CONFIG), EMPTY_CONFIG_DIGEST)
                    .await
                    .map(drop)
                    .map_err(|e| self.classify("the empty config blob", e))
            })
            .await?;
        }

        let outcomes: Vec<(String, Option<u64>)> = stream::iter(files.iter().map(|file| {
            let progress = progress.clone();
            let reference = &reference;
            async move {
                if self.blob_exists(reference, &file.digest()).await? {
                    progress(Progress::Skipped { file: file.path.clone() });
                    return Ok((file.path.clone(), None));
                }
                self.push_file(reference, dir, file, progress).await?;
                Ok::<_, ModelError>((file.path.clone(), Some(file.size)))
            }
        }))
        .buffer_unordered(self.config.concurrency)
        .try_collect()
        .await?;

        let manifest = build_manifest(&files);
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&manifest)));
        let model = ModelRef::new(repo, &digest).map_err(ModelError::Config)?;
        self.with_retries(&format!("push the manifest of {repo}:{tag}"), || async {
            let content_type = MANIFEST_MEDIA_TYPE.parse().expect("a valid header value");
            self.client
                .push_manifest_raw(&reference, manifest.clone(), content_type)
                .await
                .map(drop)
                .map_err(|e| self.classify(&format!("{repo}:{tag}"), e))
        })
        .await?;
        // Read it back by digest: the registry now serves exactly these bytes under it.
        let stored = self.manifest(&model).await?;
        let mut uploaded = Vec::new();
        let mut skipped = Vec::new();
        let mut bytes_uploaded = 0;
        for (path, sent) in outcomes {
            match sent {
                Some(n) => {
                    bytes_uploaded += n;
                    uploaded.push(path);
                }
                None => skipped.push(path),
            }
        }
        uploaded.sort();
        skipped.sort();
        Ok(Pushed { model, tag: tag.to_owned(), files: stored.files, uploaded, skipped, bytes_uploaded })
    }

    async fn blob_exists(&self, reference: &Reference, digest: &str) -> Result<bool> {
        self.with_retries(&format!("check for blob {digest}"), || async {
            self.client.blob_exists(reference, digest).await.map_err(|e| self.classify(digest, e))
        })
        .await
    }

    async fn push_file(&self, reference: &Reference, dir: &Path, file: &ModelFile, progress: ProgressFn) -> Result<()> {
        let full = dir.join(&file.path);
        self.with_retries(&format!("upload {}", file.path), || async {
            progress(Progress::Started { file: file.path.clone(), size: file.size });
            let handle =
                tokio::fs::File::open(&full).await.map_err(|e| Step::Fail(ModelError::io("open", &full, e)))?;
            let name = file.path.clone();
            let report = progress.clone();
            let body = stream::try_unfold(handle, move |mut handle| {
                let (name, progress) = (name.clone(), report.clone());
                async move {
                    let mut buf = vec![0u8; 1 << 20];
                    let n = handle.read(&mut buf).await.map_err(OciDistributionError::IoError)?;
                    if n == 0 {
                        return Ok(None);
                    }
                    buf.truncate(n);
                    progress(Progress::Advanced { file: name, bytes: n as u64 });
                    Ok(Some((Bytes::from(buf), handle)))
                }
            });
            self.client
                .push_blob_stream(reference, body, &file.digest(), Some(file.size))
                .await
                .map_err(|e| self.classify(&file.path, e))?;
            progress(Progress::Finished { file: file.path.clone() });
            Ok(())
        })
        .await
    }

    async fn with_retries<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, Step>>,
    {
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(Step::Fail(e)) => return Err(e),
                Err(Step::Retry(detail)) if attempts > self.config.retries => {
                    return Err(ModelError::Transient { what: what.to_owned(), attempts, detail });
                }
                Err(Step::Retry(_)) => {
                    let delay = self.config.backoff.saturating_mul(1 << (attempts - 1).min(6));
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Sorts an oci-client error into retry or fail, with a message that names `what`.
    fn classify(&self, what: &str, e: OciDistributionError) -> Step {
        use OciDistributionError as E;
        let auth = |detail: String| {
            Step::Fail(ModelError::Auth {
                target: format!("{} ({what})", self.host),
                detail: format!("{detail}; {}", self.config.auth.describe()),
            })
        };
        let not_found = |detail: String| Step::Fail(ModelError::NotFound { what: what.to_owned(), detail });
        let fatal = |detail: String| Step::Fail(ModelError::Registry { what: what.to_owned(), detail });
        match e {
            E::AuthenticationFailure(reason) => auth(format!("the token service refused: {}", reason.trim())),
            E::UnauthorizedError { url } => auth(format!("401 Unauthorized at {url}")),
            E::ServerError { code: code @ (401 | 403), url, .. } => auth(format!("HTTP {code} at {url}")),
            E::ServerError { code: 404, url, .. } => not_found(format!("HTTP 404 at {url}")),
            E::ServerError { code, url, message } if code == 429 || code >= 500 => {
                Step::Retry(format!("HTTP {code} at {url}: {}", message.trim()))
            }
            E::ServerError { code, url, message } => fatal(format!("HTTP {code} at {url}: {}", message.trim())),
            E::RegistryError { envelope, url } => {
                let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
                let text = format!("{envelope} at {url}");
                if codes.iter().any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied)) {
                    auth(text)
                } else if codes.iter().any(|c| matches!(c, OciErrorCode::Toomanyrequests)) {
                    Step::Retry(text)
                } else if codes.iter().any(|c| {
                    matches!(
                        c,
                        OciErrorCode::ManifestUnknown
                            | OciErrorCode::BlobUnknown
                            | OciErrorCode::NameUnknown
                            | OciErrorCode::NotFound
                    )
                }) {
                    not_found(text)
                } else {
                    fatal(text)
                }
            }
            E::ImageManifestNotFoundError(detail) => not_found(detail),
            E::RequestError(err) => match err.status().map(|s| s.as_u16()) {
                Some(code @ (401 | 403)) => auth(format!("HTTP {code}: {err}")),
                Some(404) => not_found(err.to_string()),
                Some(code) if code != 429 && (400..500).contains(&code) => fatal(err.to_string()),
                _ => Step::Retry(format!("{what}: {err}")),
            },
            E::IoError(err) => Step::Retry(format!("{what}: {err}")),
            E::RegistryTokenDecodeError(detail) => auth(format!("the token service's answer is not a token: {detail}")),
            other => fatal(other.to_string()),
        }
    }
}

/// The next chunk of a blob, `None` at its end. More bytes than the layer's size are refused as
/// soon as they arrive; a read error is retried.
async fn next_chunk(
    blob: &mut SizedStream,
    model: &ModelRef,
    file: &ModelFile,
    so_far: u64,
) -> std::result::Result<Option<Bytes>, Step> {
    match blob.next().await {
        None => Ok(None),
        Some(Ok(chunk)) => {
            let n = so_far + chunk.len() as u64;
            if n > file.size {
                return Err(Step::Fail(ModelError::BlobSize {
                    model: model.to_string(),
                    file: file.path.clone(),
                    expected: file.size,
                    actual: n,
                }));
            }
            Ok(Some(chunk))
        }
        // oci-client's own digest check fires at the end of the stream, after every byte went
        // by; ours, on the same bytes, follows in `check_blob` and names the file and both
        // digests (and accepts bytes that match the layer when only the header disagreed).
        Some(Err(e)) if is_digest_error(&e) => Ok(None),
        Some(Err(e)) => Err(Step::Retry(format!("reading {} of {model}: {e}", file.path))),
    }
}

fn check_blob(model: &ModelRef, file: &ModelFile, n: u64, sha: [u8; 32]) -> std::result::Result<(), Step> {
    if n < file.size {
        // A short body is what a dropped connection looks like: retried.
        return Err(Step::Retry(format!("{} of {model}: {n} of {} bytes arrived", file.path, file.size)));
    }
    let actual = Hash32(sha);
    if actual != file.sha256 {
        return Err(Step::Fail(ModelError::BlobDigest {
            model: model.to_string(),
            file: file.path.clone(),
            expected: file.digest(),
            actual: format!("sha256:{}", actual.to_hex()),
        }));
    }
    Ok(())
}

fn is_digest_error(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.downcast_ref::<DigestError>().is_some())
}

/// The files `push_dir` sends: every regular file under `dir`, as sorted `/`-separated
/// relative paths, minus `.cache/**`, `.albedo/**` and `*.metadata`. Symlinks are refused
/// (a pushed model must be exactly its bytes).
pub fn list_push_files(dir: &Path) -> Result<Vec<String>> {
    list_files(dir, true)
}

/// Every regular file under `dir` except our record directory `.albedo/` (and, with
/// `push_ignores`, `.cache/**` and `*.metadata`), as sorted relative paths; symlinks refused.
pub(crate) fn list_files(dir: &Path, push_ignores: bool) -> Result<Vec<String>> {
    let walk_opts = push_ignores;
    fn walk(root: &Path, rel: &str, push_ignores: bool, out: &mut Vec<String>) -> Result<()> {
        let here = if rel.is_empty() { root.to_owned() } else { root.join(rel) };
        let mut entries: Vec<_> = std::fs::read_dir(&here)
            .map_err(|e| ModelError::io("list", &here, e))?
            .collect::<std::io::Result<_>>()
            .map_err(|e| ModelError::io("list", &here, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().into_string().map_err(|n| ModelError::PushSource {
                dir: root.to_owned(),
                detail: format!("file name {n:?} is not UTF-8"),
            })?;
            let path = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            let ignored = push_ignores && ((rel.is_empty() && name == ".cache") || name.ends_with(".metadata"));
            if ignored || (rel.is_empty() && name == ".albedo") {
                continue;
            }
            let kind = entry.file_type().map_err(|e| ModelError::io("stat", entry.path(), e))?;
            if kind.is_symlink() {
                return Err(ModelError::PushSource {
                    dir: root.to_owned(),
                    detail: format!("{path} is a symlink; push real files"),
                });
            } else if kind.is_dir() {
                walk(root, &path, push_ignores, out)?;
            } else if kind.is_file() {
                check_relative_path(&path).map_err(|detail| ModelError::PushSource { dir: root.to_owned(), detail })?;
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, "", walk_opts, &mut out)?;
    Ok(out)
}

/// SHA-256 and size of a file, read in 4 MiB blocks.
pub fn hash_file(path: &Path) -> Result<(Hash32, u64)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| ModelError::io("open", path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 4 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| ModelError::io("read", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((Hash32(hasher.finalize().into()), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_from_vars_prefers_username_and_password_then_token() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(Auth::from_vars(vars(&[])), Auth::Anonymous);
        assert_eq!(Auth::from_vars(vars(&[("HIPPIUS_HUB_TOKEN", " t0k ")])), Auth::Token("t0k".into()));
        assert_eq!(
            Auth::from_vars(vars(&[
                ("HIPPIUS_HUB_TOKEN", "t"),
                ("HIPPIUS_HUB_USERNAME", "u"),
                ("HIPPIUS_HUB_PASSWORD", "p")
            ])),
            Auth::Basic { username: "u".into(), password: "p".into() }
        );
        // A blank password does not count: the token is used.
        assert_eq!(
            Auth::from_vars(vars(&[
                ("HIPPIUS_HUB_TOKEN", "t"),
                ("HIPPIUS_HUB_USERNAME", "u"),
                ("HIPPIUS_HUB_PASSWORD", " ")
            ])),
            Auth::Token("t".into())
        );
        assert_eq!(Auth::from_vars(vars(&[("HIPPIUS_HUB_TOKEN", "  ")])), Auth::Anonymous);
    }

    #[test]
    fn debug_never_prints_a_secret() {
        let shown = format!(
            "{:?} {:?}",
            Auth::Token("sekrit-token".into()),
            Auth::Basic { username: "u".into(), password: "sekrit-pw".into() }
        );
        assert!(!shown.contains("sekrit"), "{shown}");
        let reg = Registry::new(RegistryConfig::new("http://127.0.0.1:1", Auth::Token("sekrit-token".into()))).unwrap();
        assert!(!format!("{reg:?}").contains("sekrit"));
    }

    #[test]
    fn registry_urls_are_checked() {
        for bad in ["registry.hippius.com", "ftp://x", "https://", "https://host/path"] {
            let err = Registry::new(RegistryConfig::new(bad, Auth::Anonymous)).unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
        assert_eq!(
            Registry::new(RegistryConfig::new("https://r.example:5000/", Auth::Anonymous)).unwrap().host(),
            "r.example:5000"
        );
    }

    #[test]
    fn push_lists_files_sorted_and_skips_the_ignored_ones() {
        let dir = tempfile::tempdir().unwrap();
        for p in ["b.safetensors", "a/config.json", ".cache/x", ".albedo/record.json", "x.metadata", "a/y.metadata"] {
            let full = dir.path().join(p);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, p).unwrap();
        }
        assert_eq!(list_push_files(dir.path()).unwrap(), ["a/config.json", "b.safetensors"]);
        std::os::unix::fs::symlink(dir.path().join("b.safetensors"), dir.path().join("c")).unwrap();
        let err = list_push_files(dir.path()).unwrap_err();
        assert!(err.to_string().contains("c is a symlink"), "{err}");
    }
}
