//! Models (validator.md §17, eval.md §10.1 and §12), shared by the validator, the eval server
//! and the miner:
//!
//! - [`Registry`]: verified pulls by digest, config-only fetches and file lists that download no
//!   weights, and pushes, against any OCI registry (the Hippius hub in production);
//! - [`ModelCache`]: `<root>/<repo>/sha256_<hex>`, holding only complete, verified models with
//!   tokenizer hygiene applied, and a record of the files as evaluated;
//! - [`fingerprint`]: the live near-duplicate fingerprint, streamed from memory-mapped
//!   safetensors.
//!
//! The pure parts (the hygiene plan, the arch lock, similarity and the duplicate decision) are
//! in `albedo-projections`.

pub mod cache;
pub mod error;
pub mod fingerprint;
pub mod manifest;
pub mod registry;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use cache::{CachedModel, ModelCache, Pruned};
pub use error::{ErrorKind, ModelError};
pub use manifest::{ModelFile, ModelManifest};
pub use registry::{Auth, ConfigFile, Progress, ProgressFn, Pushed, Registry, RegistryConfig, no_progress};
