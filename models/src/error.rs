//! One error type for registry and cache operations. Every message names what failed and where:
//! the model, the file, both digests of a mismatch, the registry's own words.

use std::path::PathBuf;

/// What kind of failure this is, for the caller's retry and fault decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The registry refused the credentials, or none were given where they are needed.
    Auth,
    /// The manifest or a blob does not exist at the registry.
    NotFound,
    /// Bytes that do not hash to what the committed digest promises (manifest or blob).
    Integrity,
    /// The model itself is unusable: a manifest we cannot accept, a path that escapes its folder,
    /// a missing `tokenizer_config.json`, a bad push source.
    Invalid,
    /// The network or the registry failed in a way a later attempt may not (timeouts, resets,
    /// 5xx, 429), after the configured retries.
    Transient,
    /// The local disk.
    Io,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("registry authentication failed for {target}: {detail}")]
    Auth { target: String, detail: String },

    #[error("{what} not found at the registry: {detail}")]
    NotFound { what: String, detail: String },

    #[error("manifest of {model} does not match the committed digest: expected {expected}, got {actual}")]
    ManifestDigest { model: String, expected: String, actual: String },

    #[error("file {file:?} of {model} does not match its layer digest: expected {expected}, got {actual}")]
    BlobDigest { model: String, file: String, expected: String, actual: String },

    #[error("file {file:?} of {model} has {actual} bytes, but its layer says {expected}")]
    BlobSize { model: String, file: String, expected: u64, actual: u64 },

    #[error("manifest of {model} is not acceptable: {detail}")]
    Manifest { model: String, detail: String },

    #[error("{model} has no file {file:?}")]
    MissingFile { model: String, file: String },

    #[error("{model}: {detail}")]
    Hygiene { model: String, detail: String },

    #[error("path traversal blocked: {path} is not inside the cache root {root}")]
    PathTraversal { path: PathBuf, root: PathBuf },

    #[error("cannot push {dir}: {detail}")]
    PushSource { dir: PathBuf, detail: String },

    #[error("registry request failed ({what}) after {attempts} attempt(s): {detail}")]
    Transient { what: String, attempts: u32, detail: String },

    #[error("registry error ({what}): {detail}")]
    Registry { what: String, detail: String },

    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("bad registry configuration: {0}")]
    Config(String),
}

impl ModelError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ModelError::Auth { .. } => ErrorKind::Auth,
            ModelError::NotFound { .. } => ErrorKind::NotFound,
            ModelError::ManifestDigest { .. } | ModelError::BlobDigest { .. } | ModelError::BlobSize { .. } => {
                ErrorKind::Integrity
            }
            ModelError::Manifest { .. }
            | ModelError::MissingFile { .. }
            | ModelError::Hygiene { .. }
            | ModelError::PathTraversal { .. }
            | ModelError::PushSource { .. }
            | ModelError::Config(_) => ErrorKind::Invalid,
            ModelError::Transient { .. } | ModelError::Registry { .. } => ErrorKind::Transient,
            ModelError::Io { .. } => ErrorKind::Io,
        }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> ModelError {
        ModelError::Io { action, path: path.into(), source }
    }
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;
