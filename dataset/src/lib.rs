//! The SWE-ZERO dataset as the sample draw sees it (spec/eval.md §5, spec/determinism.md §3):
//! `manifest.json` ([`Manifest`]) and the Parquet shards it lists ([`ParquetRows`], the
//! [`RowReader`](albedo_projections::scoring::sample::RowReader) over them).
//!
//! This is shell code: it does file I/O. It reads each shard's footer when opened, and then only
//! the row group holding a row the draw asks for, and of it only the `messages` column.

use std::path::PathBuf;

mod manifest;
mod rows;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use manifest::{MANIFEST_FILE, Manifest, ShardEntry};
pub use rows::ParquetRows;

/// A dataset that cannot be used; every variant names the file, and the field or shard.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{}: {source}", file.display())]
    Io { file: PathBuf, source: std::io::Error },
    #[error("{}: not valid JSON: {reason}", file.display())]
    Json { file: PathBuf, reason: String },
    #[error("{}: `{field}`: {reason}", file.display())]
    Field { file: PathBuf, field: String, reason: String },
    #[error("dataset shard {shard} ({}): {reason}", file.display())]
    Shard { shard: u32, file: PathBuf, reason: String },
}
