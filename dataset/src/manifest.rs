//! `manifest.json` (spec/eval.md §5.2).

use std::path::{Path, PathBuf};

use albedo_ledger::Hash32;
use serde_json::Value;

use crate::DatasetError;

/// The manifest's file name inside the dataset root.
pub const MANIFEST_FILE: &str = "manifest.json";

/// One shard entry, in manifest order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardEntry {
    pub name: String,
    /// Wins over `name` when present.
    pub path: Option<String>,
    /// The row count the draw trusts (checked against the Parquet footer when opened).
    pub rows: u64,
}

/// `{"shards": [{"name": …, "rows": …, "path"?: …}, …], "total_rows": …}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub shards: Vec<ShardEntry>,
    pub total_rows: u64,
}

impl Manifest {
    /// Reads `<dir>/manifest.json`; returns the manifest and the SHA-256 of its exact bytes
    /// (what `[dataset].manifest_sha256` pins).
    pub fn load(dir: &Path) -> Result<(Manifest, Hash32), DatasetError> {
        let file = dir.join(MANIFEST_FILE);
        let bytes = std::fs::read(&file).map_err(|source| DatasetError::Io { file: file.clone(), source })?;
        let manifest = Manifest::parse(&bytes, &file)?;
        Ok((manifest, Hash32::of(&bytes)))
    }

    /// Parses manifest bytes; `file` only names the source in errors.
    pub fn parse(bytes: &[u8], file: &Path) -> Result<Manifest, DatasetError> {
        let field = |field: &str, reason: &str| DatasetError::Field {
            file: file.to_path_buf(),
            field: field.to_owned(),
            reason: reason.to_owned(),
        };
        let root: Value = serde_json::from_slice(bytes)
            .map_err(|e| DatasetError::Json { file: file.to_path_buf(), reason: e.to_string() })?;
        let root = root.as_object().ok_or_else(|| field("(root)", "not a JSON object"))?;
        let list = root.get("shards").ok_or_else(|| field("shards", "missing"))?;
        let list = list.as_array().ok_or_else(|| field("shards", "not an array"))?;
        if u32::try_from(list.len()).is_err() {
            return Err(field("shards", "more than 2^32 - 1 shards"));
        }
        let mut shards = Vec::with_capacity(list.len());
        let mut sum = 0u64;
        for (i, entry) in list.iter().enumerate() {
            let at = |key: &str| format!("shards[{i}].{key}");
            let entry = entry.as_object().ok_or_else(|| field(&format!("shards[{i}]"), "not a JSON object"))?;
            let name = match entry.get("name") {
                None => return Err(field(&at("name"), "missing")),
                Some(v) => v.as_str().ok_or_else(|| field(&at("name"), "not a string"))?.to_owned(),
            };
            let path = match entry.get("path") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_str().ok_or_else(|| field(&at("path"), "not a string"))?.to_owned()),
            };
            let rows = match entry.get("rows") {
                None => return Err(field(&at("rows"), "missing")),
                Some(v) => v.as_u64().ok_or_else(|| field(&at("rows"), "not a non-negative integer"))?,
            };
            sum = sum
                .checked_add(rows)
                .ok_or_else(|| field(&at("rows"), "the row counts add up to more than 2^64 - 1"))?;
            shards.push(ShardEntry { name, path, rows });
        }
        let total_rows = match root.get("total_rows") {
            None => return Err(field("total_rows", "missing")),
            Some(v) => v.as_u64().ok_or_else(|| field("total_rows", "not a non-negative integer"))?,
        };
        if total_rows != sum {
            return Err(field("total_rows", &format!("{total_rows} is not the sum of the shards' rows ({sum})")));
        }
        Ok(Manifest { shards, total_rows })
    }

    /// The row counts in manifest order, empty shards included: the draw's `shard_rows`.
    pub fn shard_rows(&self) -> Vec<u64> {
        self.shards.iter().map(|s| s.rows).collect()
    }

    /// Where shard `i` lives: `path` (else `name`) relative to `root`; if no file is there,
    /// `<root>/<basename of the name>` (eval.md §5.2).
    pub fn shard_file(&self, root: &Path, i: usize) -> PathBuf {
        let s = &self.shards[i];
        let primary = root.join(s.path.as_deref().unwrap_or(&s.name));
        if primary.exists() {
            return primary;
        }
        match Path::new(&s.name).file_name() {
            Some(base) if root.join(base).exists() => root.join(base),
            _ => primary,
        }
    }
}
