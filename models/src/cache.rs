//! The model cache (validator.md §17.1–§17.3, eval.md §12), with the reference's weaknesses
//! fixed:
//!
//! - a model lives in `<root>/<repo>/sha256_<hex>` and **only complete, verified models are
//!   ever there**: a download goes to `<root>/.staging/<pid>-<n>`, every blob is checked against
//!   its layer, tokenizer hygiene is applied, a record of the files as evaluated is written,
//!   and only then is the directory renamed into place (one atomic `rename`). A killed or timed
//!   out download leaves at most a staging directory, which is never looked up;
//! - a cache hit is a model directory holding our record for that exact model and today's
//!   canonical template, not "a
//!   `config.json` exists" (which a config-only fetch or a partial download could satisfy);
//!   config-only fetches never touch the cache at all ([`crate::Registry::fetch_config`]);
//! - the path is checked to lie inside the root, with no symlink on the way;
//! - `prune(keep)` recognises model directories by their `sha256_<hex>` name at any depth
//!   (repo names may hold `/`), so it never deletes at the wrong level, and it clears staging
//!   directories left by dead processes.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use albedo_ledger::Hash32;
use albedo_ledger::event::{EvaluatedFiles, ModelRef};
use albedo_projections::hygiene::{QWEN3_CHAT_TEMPLATE, TOKENIZER_CONFIG, evaluated_files, plan_hygiene};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::manifest::{ModelManifest, parse_digest};
use crate::registry::{ProgressFn, Registry};

/// The reference's default cache root.
pub const DEFAULT_CACHE_DIR: &str = "/root/albedo/hippius_models";
/// Where a model directory keeps our record of it, relative to the model directory.
pub const RECORD_PATH: &str = ".albedo/model.json"; // under manifest::RESERVED_DIR
const STAGING: &str = ".staging";

/// A model on local disk, complete and verified when it was materialised.
#[derive(Clone, Debug, PartialEq)]
pub struct CachedModel {
    pub model: ModelRef,
    pub dir: PathBuf,
    /// The files as they are on disk after hygiene; this goes into the ledger.
    pub evaluated: EvaluatedFiles,
}

/// The record a model directory carries (`.albedo/model.json`).
#[derive(Serialize, Deserialize)]
struct Record {
    model: ModelRef,
    /// SHA-256 of the chat template hygiene enforced.
    template_sha256: Hash32,
    evaluated: EvaluatedFiles,
}

/// What [`ModelCache::prune`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Model and stale staging directories removed, sorted.
    pub removed: Vec<PathBuf>,
    pub bytes_freed: u64,
}

#[derive(Clone, Debug)]
pub struct ModelCache {
    root: PathBuf,
}

static STAGING_COUNTER: AtomicU64 = AtomicU64::new(0);

impl ModelCache {
    /// Opens (creating) the cache at `root`. The root is resolved once (symlinks included), so
    /// every later comparison is between resolved paths.
    pub fn open(root: impl Into<PathBuf>) -> Result<ModelCache> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|e| ModelError::io("create the cache root", &root, e))?;
        let root = root.canonicalize().map_err(|e| ModelError::io("resolve the cache root", &root, e))?;
        Ok(ModelCache { root })
    }

    /// `ALBEDO_MODEL_CACHE_DIR`, else [`DEFAULT_CACHE_DIR`].
    pub fn from_env() -> Result<ModelCache> {
        let root = std::env::var_os("ALBEDO_MODEL_CACHE_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CACHE_DIR));
        ModelCache::open(root)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/<repo>/sha256_<hex>`, refused unless it lies strictly inside the root with no
    /// symlink between them ("path traversal blocked").
    pub fn dir_for(&self, model: &ModelRef) -> Result<PathBuf> {
        let leaf = model.digest().replace(':', "_");
        let rel = Path::new(model.repo()).join(&leaf);
        let path = self.root.join(&rel);
        let blocked = || ModelError::PathTraversal { path: path.clone(), root: self.root.clone() };
        if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(blocked());
        }
        let mut here = self.root.clone();
        for part in rel.components() {
            here.push(part);
            match std::fs::symlink_metadata(&here) {
                Ok(meta) if meta.file_type().is_symlink() => return Err(blocked()),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => return Err(ModelError::io("inspect", &here, e)),
            }
        }
        Ok(path)
    }

    /// The cached model, if a complete one is there. A directory without our record for this
    /// exact model is not a hit.
    pub fn get(&self, model: &ModelRef) -> Result<Option<CachedModel>> {
        let dir = self.dir_for(model)?;
        let record_path = dir.join(RECORD_PATH);
        let bytes = match std::fs::read(&record_path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ModelError::io("read", &record_path, e)),
        };
        match serde_json::from_slice::<Record>(&bytes) {
            // A model given hygiene with another template (an older build) is not a hit: it
            // is downloaded again and gets today's.
            Ok(record) if record.model == *model && record.template_sha256 == template_sha256() => {
                Ok(Some(CachedModel { model: model.clone(), dir, evaluated: record.evaluated }))
            }
            _ => Ok(None),
        }
    }

    /// The model, from the cache or downloaded: verified, with tokenizer hygiene applied
    /// (validator.md §17.1–§17.2), and only then moved into the cache.
    pub async fn materialize(
        &self,
        registry: &Registry,
        model: &ModelRef,
        progress: ProgressFn,
    ) -> Result<CachedModel> {
        if let Some(hit) = self.get(model)? {
            return Ok(hit);
        }
        let manifest = registry.manifest(model).await?;
        let staging = self.new_staging_dir()?;
        let built = async {
            registry.pull_files(&manifest, &staging, progress).await?;
            let staged = staging.clone();
            let manifest = manifest.clone();
            tokio::task::spawn_blocking(move || finish_staged(&manifest, &staged)).await.expect("hygiene task")
        }
        .await;
        let evaluated = match built {
            Ok(evaluated) => evaluated,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        self.install(model, &staging)?;
        Ok(CachedModel { model: model.clone(), dir: self.dir_for(model)?, evaluated })
    }

    fn new_staging_dir(&self) -> Result<PathBuf> {
        let parent = self.root.join(STAGING);
        std::fs::create_dir_all(&parent).map_err(|e| ModelError::io("create", &parent, e))?;
        loop {
            let n = STAGING_COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = parent.join(format!("{}-{n}", std::process::id()));
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(dir),
                // Left by an earlier process with the same pid: try the next number.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(ModelError::io("create", &dir, e)),
            }
        }
    }

    /// Moves a finished staging directory into place with one `rename`. A directory already
    /// there without a valid record (a foreign or older layout) is removed first; one with a
    /// valid record means another download won the race, and ours is discarded.
    fn install(&self, model: &ModelRef, staging: &Path) -> Result<()> {
        let dir = self.dir_for(model)?;
        let parent = dir.parent().expect("a model dir has a parent");
        std::fs::create_dir_all(parent).map_err(|e| ModelError::io("create", parent, e))?;
        self.dir_for(model)?; // the new parents are checked for symlinks too
        if dir.exists() && self.get(model)?.is_none() {
            std::fs::remove_dir_all(&dir).map_err(|e| ModelError::io("remove the incomplete", &dir, e))?;
        }
        match std::fs::rename(staging, &dir) {
            Ok(()) => {
                sync_dir(parent);
                Ok(())
            }
            Err(_) if self.get(model)?.is_some() => {
                let _ = std::fs::remove_dir_all(staging);
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(staging);
                Err(ModelError::io("move into the cache", &dir, e))
            }
        }
    }

    /// Deletes every model directory not in `keep`, and staging directories of processes that
    /// are gone; returns what was removed and the bytes freed. Empty repo directories left
    /// behind are removed too. Symlinks are never followed.
    pub fn prune(&self, keep: &[ModelRef]) -> Result<Pruned> {
        let keep: BTreeSet<PathBuf> = keep.iter().map(|m| self.dir_for(m)).collect::<Result<_>>()?;
        let mut pruned = Pruned::default();
        let staging = self.root.join(STAGING);
        if staging.is_dir() {
            for entry in read_dir_sorted(&staging)? {
                let owner = entry.file_name().and_then(|n| n.to_str()).and_then(|n| n.split('-').next()?.parse().ok());
                if owner.is_some_and(process_alive) {
                    continue;
                }
                pruned.bytes_freed += tree_size(&entry);
                std::fs::remove_dir_all(&entry).map_err(|e| ModelError::io("remove", &entry, e))?;
                pruned.removed.push(entry);
            }
        }
        self.prune_under(&self.root.clone(), &keep, &mut pruned)?;
        pruned.removed.sort();
        Ok(pruned)
    }

    fn prune_under(&self, dir: &Path, keep: &BTreeSet<PathBuf>, pruned: &mut Pruned) -> Result<()> {
        for entry in read_dir_sorted(dir)? {
            let meta = std::fs::symlink_metadata(&entry).map_err(|e| ModelError::io("inspect", &entry, e))?;
            if !meta.is_dir() || (dir == self.root && entry.file_name() == Some(STAGING.as_ref())) {
                continue;
            }
            let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let is_model =
                name.strip_prefix("sha256_").is_some_and(|hex| parse_digest(&format!("sha256:{hex}")).is_some());
            if is_model {
                if !keep.contains(&entry) {
                    pruned.bytes_freed += tree_size(&entry);
                    std::fs::remove_dir_all(&entry).map_err(|e| ModelError::io("remove", &entry, e))?;
                    pruned.removed.push(entry);
                }
            } else {
                self.prune_under(&entry, keep, pruned)?;
                // An emptied repo directory goes too (fails harmlessly when not empty).
                let _ = std::fs::remove_dir(&entry);
            }
        }
        Ok(())
    }

    /// Re-hashes every file of a cached model against its record (an 8 GB model takes a few
    /// seconds); an error names the first file that differs, or the extra or missing one.
    pub fn verify(&self, cached: &CachedModel) -> Result<()> {
        let on_disk = list_model_files(&cached.dir)?;
        let recorded: Vec<&str> = cached.evaluated.files.iter().map(|f| f.path.as_str()).collect();
        if on_disk.iter().map(String::as_str).ne(recorded.iter().copied()) {
            return Err(ModelError::Manifest {
                model: cached.model.to_string(),
                detail: format!("cached files {on_disk:?} differ from the recorded {recorded:?}"),
            });
        }
        for f in &cached.evaluated.files {
            let (sha, size) = crate::registry::hash_file(&cached.dir.join(&f.path))?;
            if sha != f.sha256 || size != f.size {
                return Err(ModelError::BlobDigest {
                    model: cached.model.to_string(),
                    file: f.path.clone(),
                    expected: format!("sha256:{}", f.sha256.to_hex()),
                    actual: format!("sha256:{}", sha.to_hex()),
                });
            }
        }
        Ok(())
    }
}

/// Applies tokenizer hygiene to a fully downloaded and verified staging directory and writes
/// its record; returns the files as evaluated.
fn finish_staged(manifest: &ModelManifest, dir: &Path) -> Result<EvaluatedFiles> {
    let model = &manifest.model;
    let tc_path = dir.join(TOKENIZER_CONFIG);
    let tokenizer_config = match std::fs::read(&tc_path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(ModelError::io("read", &tc_path, e)),
    };
    let plan = plan_hygiene(&manifest.paths(), tokenizer_config.as_deref(), QWEN3_CHAT_TEMPLATE)
        .map_err(|e| ModelError::Hygiene { model: model.to_string(), detail: e.to_string() })?;
    if let Some(bytes) = &plan.tokenizer_config {
        write_synced(&tc_path, bytes)?;
    }
    for path in &plan.remove {
        let full = dir.join(path);
        std::fs::remove_file(&full).map_err(|e| ModelError::io("remove", &full, e))?;
    }
    // Files as evaluated: the manifest's, minus what hygiene removed, with the rewritten
    // tokenizer config's new bytes; every other file's hash is its verified layer digest.
    let committed: Vec<(String, Hash32)> = manifest.files.iter().map(|f| (f.path.clone(), f.sha256)).collect();
    let loaded: Vec<(String, u64, Hash32)> = manifest
        .files
        .iter()
        .filter(|f| !plan.remove.contains(&f.path))
        .map(|f| match (&plan.tokenizer_config, f.path.as_str()) {
            (Some(bytes), TOKENIZER_CONFIG) => (f.path.clone(), bytes.len() as u64, Hash32::of(bytes)),
            _ => (f.path.clone(), f.size, f.sha256),
        })
        .collect();
    let evaluated = evaluated_files(&committed, &loaded, &plan.changes);
    let record = Record { model: model.clone(), template_sha256: template_sha256(), evaluated };
    let record_path = dir.join(RECORD_PATH);
    std::fs::create_dir_all(record_path.parent().expect("has a parent"))
        .map_err(|e| ModelError::io("create", &record_path, e))?;
    write_synced(&record_path, &serde_json::to_vec_pretty(&record).expect("a record serialises"))?;
    sync_dir(dir);
    Ok(record.evaluated)
}

fn template_sha256() -> Hash32 {
    Hash32::of(QWEN3_CHAT_TEMPLATE.as_bytes())
}

/// Every regular file under a model directory except our record, sorted relative paths.
fn list_model_files(dir: &Path) -> Result<Vec<String>> {
    crate::registry::list_files(dir, false)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(|e| ModelError::io("create", path, e))?;
    f.write_all(bytes).map_err(|e| ModelError::io("write", path, e))?;
    f.sync_all().map_err(|e| ModelError::io("sync", path, e))
}

/// Makes a rename or new entry durable. Best effort: a failure here loses at most a cache
/// entry, which is downloaded again.
fn sync_dir(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| ModelError::io("list", dir, e))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .map_err(|e| ModelError::io("list", dir, e))?;
    out.sort();
    Ok(out)
}

/// Bytes of regular files under `path`, not following symlinks.
fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    if meta.is_dir() {
        std::fs::read_dir(path).map(|rd| rd.flatten().map(|e| tree_size(&e.path())).sum()).unwrap_or(0)
    } else if meta.is_file() {
        meta.len()
    } else {
        0
    }
}

fn process_alive(pid: u32) -> bool {
    pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(repo: &str, byte: char) -> ModelRef {
        ModelRef::new(repo, format!("sha256:{}", byte.to_string().repeat(64))).unwrap()
    }

    #[test]
    fn model_dirs_sit_under_their_repo_with_the_digest_as_leaf() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = ModelCache::open(tmp.path().join("c")).unwrap();
        let m = model("ns/albedo-qwen3-4b-x/deep", 'a');
        let dir = cache.dir_for(&m).unwrap();
        assert_eq!(dir, cache.root().join("ns/albedo-qwen3-4b-x/deep").join(format!("sha256_{}", "a".repeat(64))));
    }

    #[test]
    fn a_symlink_on_the_way_is_path_traversal() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = ModelCache::open(tmp.path().join("c")).unwrap();
        std::os::unix::fs::symlink(tmp.path(), cache.root().join("ns")).unwrap();
        let err = cache.dir_for(&model("ns/x", 'a')).unwrap_err();
        assert!(err.to_string().starts_with("path traversal blocked"), "{err}");
    }

    #[test]
    fn a_directory_without_our_record_is_not_a_hit() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = ModelCache::open(tmp.path()).unwrap();
        let m = model("ns/x", 'b');
        let dir = cache.dir_for(&m).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        // What the reference took for a complete model: a config.json.
        std::fs::write(dir.join("config.json"), "{}").unwrap();
        assert_eq!(cache.get(&m).unwrap(), None);
        // A record for another model does not count either.
        std::fs::create_dir_all(dir.join(".albedo")).unwrap();
        let other = Record {
            model: model("ns/x", 'c'),
            template_sha256: Hash32([0; 32]),
            evaluated: EvaluatedFiles { files: vec![], removed: vec![], changes: vec![] },
        };
        std::fs::write(dir.join(RECORD_PATH), serde_json::to_vec(&other).unwrap()).unwrap();
        assert_eq!(cache.get(&m).unwrap(), None);
        // Nor does our record for this model made with another template.
        let stale = Record { model: m.clone(), ..other };
        std::fs::write(dir.join(RECORD_PATH), serde_json::to_vec(&stale).unwrap()).unwrap();
        assert_eq!(cache.get(&m).unwrap(), None);
        let current = Record { template_sha256: template_sha256(), ..stale };
        std::fs::write(dir.join(RECORD_PATH), serde_json::to_vec(&current).unwrap()).unwrap();
        assert_eq!(cache.get(&m).unwrap().map(|c| c.dir), Some(dir.clone()));
    }

    #[test]
    fn prune_removes_unkept_models_at_any_depth_and_dead_staging() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = ModelCache::open(tmp.path()).unwrap();
        let (keep, shallow, deep) = (model("ns/keep", 'a'), model("ns/gone", 'b'), model("ns/deep/er/gone", 'c'));
        for (m, bytes) in [(&keep, 10), (&shallow, 100), (&deep, 1000)] {
            let dir = cache.dir_for(m).unwrap();
            std::fs::create_dir_all(dir.join("sub")).unwrap();
            std::fs::write(dir.join("sub/w.safetensors"), vec![0u8; bytes]).unwrap();
        }
        // Another digest of the kept repo goes; a stray file at the repo level stays.
        let old_keep = model("ns/keep", 'd');
        std::fs::create_dir_all(cache.dir_for(&old_keep).unwrap()).unwrap();
        std::fs::write(cache.root().join("ns/keep/notes.txt"), "x").unwrap();
        // Staging of a dead process goes, our own stays.
        let dead = cache.root().join(".staging/999999999-0");
        std::fs::create_dir_all(&dead).unwrap();
        std::fs::write(dead.join("part"), vec![0u8; 7]).unwrap();
        let mine = cache.new_staging_dir().unwrap();

        let pruned = cache.prune(std::slice::from_ref(&keep)).unwrap();
        assert_eq!(pruned.bytes_freed, 1107);
        let mut want = vec![
            cache.dir_for(&shallow).unwrap(),
            cache.dir_for(&deep).unwrap(),
            cache.dir_for(&old_keep).unwrap(),
            dead,
        ];
        want.sort();
        assert_eq!(pruned.removed, want);
        assert!(cache.dir_for(&keep).unwrap().join("sub/w.safetensors").is_file());
        assert!(cache.root().join("ns/keep/notes.txt").is_file());
        assert!(mine.is_dir());
        // Emptied repo directories are gone.
        assert!(!cache.root().join("ns/deep").exists() && !cache.root().join("ns/gone").exists());
        assert_eq!(cache.prune(&[keep]).unwrap(), Pruned::default());
    }
}
