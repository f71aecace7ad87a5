//! `albedo model …`: the models crate from the command line, for operators and miners
//! (validator.md §17): push a folder, list a model's files, fetch its config, materialise it into
//! the cache, verify, fingerprint, prune. The registry is `ALBEDO_MODEL_REGISTRY` (default the
//! Hippius hub), credentials `HIPPIUS_HUB_TOKEN` or `HIPPIUS_HUB_USERNAME`/`PASSWORD`, the cache
//! `ALBEDO_MODEL_CACHE_DIR`.

use std::path::Path;
use std::sync::Arc;

use albedo_ledger::event::ModelRef;
use albedo_models::{ModelCache, Progress, ProgressFn, Registry, RegistryConfig};
use anyhow::Context;

/// `repo@sha256:…`.
pub fn parse_model_ref(text: &str) -> Result<ModelRef, String> {
    let (repo, digest) = text.split_once('@').ok_or_else(|| format!("{text:?} is not REPO@sha256:HEX"))?;
    ModelRef::new(repo, digest)
}

pub fn registry_from_env() -> anyhow::Result<Registry> {
    Ok(Registry::new(RegistryConfig::from_env())?)
}

/// A byte-count progress bar on stderr over `total` bytes, fed by transfer progress.
pub fn progress_bar(total: u64, what: &str) -> (indicatif::ProgressBar, ProgressFn) {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("a valid template"),
    );
    bar.set_message(what.to_owned());
    let feed = bar.clone();
    let progress: ProgressFn = Arc::new(move |p| {
        if let Progress::Advanced { bytes, .. } = p {
            feed.inc(bytes);
        }
    });
    (bar, progress)
}

/// Pushes a folder; prints the model reference to commit.
pub async fn push(dir: &Path, repo: &str, tag: &str) -> anyhow::Result<()> {
    let registry = registry_from_env()?;
    let files = albedo_models::registry::list_push_files(dir)?;
    let total: u64 = files.iter().map(|f| std::fs::metadata(dir.join(f)).map(|m| m.len()).unwrap_or(0)).sum();
    let (bar, progress) = progress_bar(total, "push");
    let pushed = registry.push_dir(dir, repo, tag, progress).await?;
    bar.finish_and_clear();
    println!(
        "pushed {} files to {}:{} ({} uploaded, {} already there, {} bytes sent)",
        pushed.files.len(),
        repo,
        pushed.tag,
        pushed.uploaded.len(),
        pushed.skipped.len(),
        pushed.bytes_uploaded
    );
    println!("model: {}", pushed.model);
    Ok(())
}

/// Materialises a model into the cache; prints where, and what hygiene changed.
pub async fn pull(model: &ModelRef) -> anyhow::Result<()> {
    let registry = registry_from_env()?;
    let cache = ModelCache::from_env()?;
    let cached = match cache.get(model)? {
        Some(hit) => hit,
        None => {
            let manifest = registry.manifest(model).await?;
            let (bar, progress) = progress_bar(manifest.total_size(), "pull");
            let cached = cache.materialize(&registry, model, progress).await?;
            bar.finish_and_clear();
            cached
        }
    };
    println!("{}", cached.dir.display());
    for change in &cached.evaluated.changes {
        println!("hygiene: {change}");
    }
    Ok(())
}

pub async fn files(model: &ModelRef) -> anyhow::Result<()> {
    let manifest = registry_from_env()?.manifest(model).await?;
    for f in &manifest.files {
        println!("{}  {:>12}  {}", f.sha256.to_hex(), f.size, f.path);
    }
    Ok(())
}

pub async fn config(model: &ModelRef) -> anyhow::Result<()> {
    let config = registry_from_env()?.fetch_config(model).await?;
    eprintln!("config.json sha256 {}", config.sha256.to_hex());
    print!("{}", String::from_utf8_lossy(&config.bytes));
    Ok(())
}

/// The fingerprint of a folder, as the ledger's JSON.
pub fn fingerprint(dir: &Path) -> anyhow::Result<()> {
    let fp = albedo_models::fingerprint::fingerprint_dir(dir)?;
    println!("{}", serde_json::to_string(&fp).context("encode the fingerprint")?);
    Ok(())
}

pub fn verify(model: &ModelRef) -> anyhow::Result<()> {
    let cache = ModelCache::from_env()?;
    let cached =
        cache.get(model)?.with_context(|| format!("{model} is not in the cache at {}", cache.root().display()))?;
    cache.verify(&cached)?;
    println!("ok: {} files of {model} match the record", cached.evaluated.files.len());
    Ok(())
}

pub fn prune(keep: &[ModelRef]) -> anyhow::Result<()> {
    let cache = ModelCache::from_env()?;
    let pruned = cache.prune(keep)?;
    for dir in &pruned.removed {
        println!("removed {}", dir.display());
    }
    println!("freed {} bytes", pruned.bytes_freed);
    Ok(())
}
