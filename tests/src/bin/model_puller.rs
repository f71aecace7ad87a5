//! The killed-download test's child: `model-puller REGISTRY_URL CACHE_DIR REPO@DIGEST`
//! materialises one model into the cache, printing `progress <bytes so far>` as bytes arrive and
//! `done <dir>` at the end. The test kills it mid-transfer and checks what is left.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use albedo_ledger::event::ModelRef;
use albedo_models::{Auth, ModelCache, Progress, Registry, RegistryConfig};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, cache, model] = args.as_slice() else {
        eprintln!("usage: model-puller REGISTRY_URL CACHE_DIR REPO@DIGEST");
        std::process::exit(2);
    };
    let (repo, digest) = model.split_once('@').expect("REPO@DIGEST");
    let model = ModelRef::new(repo, digest).expect("a model reference");
    let registry = Registry::new(RegistryConfig::new(url.clone(), Auth::Anonymous)).expect("registry");
    let cache = ModelCache::open(cache).expect("cache");
    let total = Arc::new(AtomicU64::new(0));
    let progress = {
        let total = total.clone();
        Arc::new(move |p: Progress| {
            if let Progress::Advanced { bytes, .. } = p {
                let n = total.fetch_add(bytes, Ordering::Relaxed) + bytes;
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "progress {n}");
                let _ = out.flush();
            }
        })
    };
    match cache.materialize(&registry, &model, progress).await {
        Ok(cached) => println!("done {}", cached.dir.display()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
