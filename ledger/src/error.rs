//! The ledger's error type. Every integrity error names the seq where the chain went wrong.

use std::path::PathBuf;

use crate::Hash32;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("ledger storage error: {0}")]
    Storage(#[from] sled::Error),

    #[error("no ledger at {0}: the directory does not exist or holds no ledger (create one first)")]
    NotFound(PathBuf),

    #[error("the ledger at {0} is locked by another writer (one writer at a time)")]
    Locked(PathBuf),

    #[error("a ledger already exists at {0}: open it instead of creating a new one")]
    AlreadyExists(PathBuf),

    #[error("{path}: not an Albedo ledger (format marker is {found:?})")]
    WrongFormat { path: PathBuf, found: String },

    #[error("seq {seq}: entry cannot be decoded: {reason}")]
    Undecodable { seq: u64, reason: String },

    #[error("seq {seq}: entry has format version {version}, this build reads version {supported}")]
    UnsupportedVersion { seq: u64, version: u64, supported: u32 },

    #[error("seq {seq}: entry is missing (the next entry stored is seq {next_stored})")]
    Missing { seq: u64, next_stored: u64 },

    #[error("seq {seq}: the entry stored at seq {seq} says it is seq {found} (entries moved or swapped)")]
    SeqMismatch { seq: u64, found: u64 },

    #[error("seq {seq}: broken link: prev is {found} but seq {} hashes to {expected}", seq - 1)]
    BrokenLink { seq: u64, expected: Hash32, found: Hash32 },

    #[error("seq {seq}: entry 0 must link to the zero hash, found {found}")]
    BadGenesisLink { seq: u64, found: Hash32 },

    #[error("seq {seq}: {detail}")]
    HeadMismatch { seq: u64, detail: String },

    #[error("seq {seq}: idempotency index is inconsistent: {detail}")]
    KeyIndex { seq: u64, detail: String },

    #[error("ledger meta record {key:?} is corrupt: {detail}")]
    CorruptMeta { key: String, detail: String },

    #[error("cannot encode event: {0}")]
    Encode(String),

    // The public mirror (design.md §3.4, `crate::mirror`). Each names the seq or the object key.
    #[error("seq {seq}: bad mirror tile: {detail}")]
    Tile { seq: u64, detail: String },

    #[error("mirror object {key} is missing (the checkpoint names entries whose tile is not there)")]
    MissingTile { key: String },

    #[error("cannot read mirror object {key}: {detail}")]
    Source { key: String, detail: String },

    #[error("bad mirror checkpoint: {detail}")]
    Checkpoint { detail: String },

    #[error("mirror checkpoint signature does not verify for signer {signer}")]
    BadSignature { signer: String },

    #[error("mirror checkpoint is signed by {found}, but the expected signer is {expected}")]
    UnexpectedSigner { expected: String, found: String },

    #[error("mirror checkpoints are inconsistent: {detail}")]
    Inconsistent { detail: String },
}
