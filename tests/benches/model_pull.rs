//! Pull throughput from a real OCI registry on loopback, against the rate this disk takes the
//! same bytes written straight from memory.
//!
//! `cargo bench -p albedo-tests --bench model_pull` (size: `ALBEDO_BENCH_PULL_BYTES`, default
//! 1 GiB, in two safetensors shards). Prints figures; asserts nothing about speed.

use std::io::Write;
use std::time::Instant;

use albedo_models::testkit::synthetic_safetensors;
use albedo_models::{Auth, ModelCache, Registry, RegistryConfig, no_progress};
use albedo_tests::harness::Registry as RegistryServer;

fn main() {
    let total: u64 = std::env::var("ALBEDO_BENCH_PULL_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(1 << 30);
    let server = RegistryServer::start();
    let work = tempfile::tempdir().expect("temp dir");
    let model_dir = work.path().join("model");
    std::fs::create_dir_all(&model_dir).unwrap();
    let t = Instant::now();
    for i in 1..=2u64 {
        synthetic_safetensors(&model_dir.join(format!("model-0000{i}-of-00002.safetensors")), total / 2, i).unwrap();
    }
    std::fs::write(model_dir.join("config.json"), br#"{"architectures":["Qwen3ForCausalLM"]}"#).unwrap();
    std::fs::write(model_dir.join("tokenizer_config.json"), br#"{"chat_template":"x"}"#).unwrap();
    let bytes: u64 = std::fs::read_dir(&model_dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
    println!("model: {:.1} MiB in 4 files (written in {:.1} s)", mib(bytes), t.elapsed().as_secs_f64());

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let registry = Registry::new(RegistryConfig::new(server.url(), Auth::Anonymous)).unwrap();
    let t = Instant::now();
    let pushed =
        rt.block_on(registry.push_dir(&model_dir, "bench/albedo-qwen3-4b-pull", "main", no_progress())).unwrap();
    let push_s = t.elapsed().as_secs_f64();
    println!("push:  {push_s:.2} s, {:.0} MiB/s (hash + upload)", mib(bytes) / push_s);

    let cache = ModelCache::open(work.path().join("cache")).unwrap();
    let t = Instant::now();
    let cached = rt.block_on(cache.materialize(&registry, &pushed.model, no_progress())).unwrap();
    let pull_s = t.elapsed().as_secs_f64();
    println!(
        "pull:  {pull_s:.2} s, {:.0} MiB/s (download, verify every blob, fsync, hygiene, rename)",
        mib(bytes) / pull_s
    );
    assert_eq!(cached.evaluated.files.len(), 4);

    // The disk: the same number of bytes written from memory in 4 MiB blocks, then fsync.
    let block = vec![0x5au8; 4 << 20];
    let path = work.path().join("disk-rate");
    let t = Instant::now();
    let mut f = std::fs::File::create(&path).unwrap();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    f.sync_all().unwrap();
    let disk_s = t.elapsed().as_secs_f64();
    println!("disk:  {disk_s:.2} s, {:.0} MiB/s (write + fsync)", mib(bytes) / disk_s);
    println!("pull / disk: {:.0} %", 100.0 * disk_s / pull_s);
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}
