//! `albedo model …` end to end against a real registry on loopback: push a tiny model, list
//! its files, fetch its config, pull it into the cache, verify, fingerprint, prune.

use std::path::Path;
use std::process::{Command, Output};

use albedo_tests::harness::Registry;

fn albedo(registry: &Registry, cache: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albedo"))
        .args(args)
        .env("ALBEDO_MODEL_REGISTRY", registry.url())
        .env("ALBEDO_MODEL_CACHE_DIR", cache)
        .env_remove("HIPPIUS_HUB_TOKEN")
        .env_remove("HIPPIUS_HUB_USERNAME")
        .env_remove("HIPPIUS_HUB_PASSWORD")
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

#[test]
fn push_files_config_pull_verify_fingerprint_prune() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("model");
    albedo_models::testkit::tiny_qwen3(&src, 11).unwrap();
    let cache = work.path().join("cache");

    let pushed =
        ok(albedo(&registry, &cache, &["model", "push", src.to_str().unwrap(), "--repo", "me/albedo-qwen3-4b-t"]));
    let model = pushed.lines().find_map(|l| l.strip_prefix("model: ")).expect("a model line").to_owned();
    assert!(model.starts_with("me/albedo-qwen3-4b-t@sha256:"), "{pushed}");

    let files = ok(albedo(&registry, &cache, &["model", "files", &model]));
    assert!(files.lines().any(|l| l.ends_with("  config.json")), "{files}");
    assert!(!cache.exists() || std::fs::read_dir(&cache).unwrap().next().is_none(), "files wrote to the cache");

    let config = ok(albedo(&registry, &cache, &["model", "config", &model]));
    assert_eq!(config, std::fs::read_to_string(src.join("config.json")).unwrap());

    let pulled = ok(albedo(&registry, &cache, &["model", "pull", &model]));
    let dir = pulled.lines().next().unwrap();
    assert!(Path::new(dir).join("model.safetensors.index.json").is_file(), "{pulled}");
    assert!(pulled.contains("hygiene: "), "{pulled}");
    assert!(ok(albedo(&registry, &cache, &["model", "verify", &model])).starts_with("ok: "));

    let fp = ok(albedo(&registry, &cache, &["model", "fingerprint", dir]));
    let fp: serde_json::Value = serde_json::from_str(&fp).unwrap();
    assert_eq!(fp["method"], "layer_norms_v2_with_samples");

    // Pruning everything needs --all; keeping the model frees nothing.
    let refused = albedo(&registry, &cache, &["model", "prune"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--all"));
    assert!(ok(albedo(&registry, &cache, &["model", "prune", "--keep", &model])).contains("freed 0 bytes"));
    let all = ok(albedo(&registry, &cache, &["model", "prune", "--all"]));
    assert!(all.contains(&format!("removed {dir}")), "{all}");

    // Bad input: a malformed reference is refused by the parser, naming it.
    let bad = albedo(&registry, &cache, &["model", "files", "not-a-ref"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not-a-ref"));
}
