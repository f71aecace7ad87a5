//! albedo-models against a real OCI registry on loopback (Debian's docker-registry): push a tiny
//! Qwen3-shaped model, pull it by digest into the cache, list its files and fetch its config
//! without downloading weights; a registry that serves tampered bytes, refuses credentials or
//! fails transiently; a download killed mid-transfer.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use albedo_ledger::event::ModelRef;
use albedo_models::testkit::tiny_qwen3;
use albedo_models::{
    Auth, ErrorKind, ModelCache, ModelError, Progress, Pushed, Registry, RegistryConfig, fingerprint, no_progress,
};
use albedo_projections::hygiene::QWEN3_CHAT_TEMPLATE;
use albedo_tests::harness::{Fault, HttpProxy, Registry as RegistryServer};

const REPO: &str = "miner/albedo-qwen3-4b-tiny";

fn client(url: &str, auth: Auth) -> Registry {
    let mut config = RegistryConfig::new(url, auth);
    config.backoff = Duration::from_millis(20);
    config.retries = 2;
    Registry::new(config).unwrap()
}

fn tiny_model(dir: &Path, seed: u64) -> PathBuf {
    let model = dir.join(format!("model-{seed}"));
    tiny_qwen3(&model, seed).unwrap();
    model
}

async fn push(registry: &Registry, dir: &Path) -> Pushed {
    registry.push_dir(dir, REPO, "main", no_progress()).await.unwrap()
}

/// Every file under `dir` (relative path → bytes), our record excluded.
fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    albedo_models::registry::list_push_files(dir)
        .unwrap()
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(dir.join(&p)).unwrap();
            (p, bytes)
        })
        .collect()
}

fn cache_entries(cache: &ModelCache) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if p.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    walk(cache.root(), cache.root(), &mut out);
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn push_then_pull_by_digest_verifies_applies_hygiene_and_records_the_files() {
    let server = RegistryServer::start();
    let work = tempfile::tempdir().unwrap();
    let source = tiny_model(work.path(), 1);
    // A miner-shipped template file that would override the tokenizer config's template.
    std::fs::write(source.join("chat_template.jinja"), "{{ 'injected' }}").unwrap();
    let registry = client(&server.url(), Auth::Anonymous);

    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let pushed =
        registry.push_dir(&source, REPO, "main", Arc::new(move |p| seen.lock().unwrap().push(p))).await.unwrap();
    assert_eq!(pushed.model.repo(), REPO);
    assert!(pushed.skipped.is_empty());
    let source_files = files_under(&source);
    assert_eq!(pushed.uploaded, source_files.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>());
    assert_eq!(pushed.bytes_uploaded, source_files.iter().map(|(_, b)| b.len() as u64).sum::<u64>());
    assert!(events.lock().unwrap().iter().any(|p| matches!(p, Progress::Finished { file } if file == "config.json")));

    // The file list and the config need no weights and write nothing.
    let cache = ModelCache::open(work.path().join("cache")).unwrap();
    assert_eq!(registry.list_files(&pushed.model).await.unwrap(), pushed.uploaded);
    let config = registry.fetch_config(&pushed.model).await.unwrap();
    assert_eq!(config.bytes, std::fs::read(source.join("config.json")).unwrap());
    assert_eq!(config.json.as_ref().unwrap()["architectures"][0], "Qwen3ForCausalLM");
    assert!(cache_entries(&cache).is_empty(), "a config-only fetch wrote {:?}", cache_entries(&cache));

    let cached = cache.materialize(&registry, &pushed.model, no_progress()).await.unwrap();
    assert_eq!(cached.dir, cache.dir_for(&pushed.model).unwrap());
    assert!(cached.dir.ends_with(format!("{REPO}/{}", pushed.model.digest().replace(':', "_"))));

    // Every file arrived byte for byte, except what hygiene changed.
    let pulled = files_under(&cached.dir);
    for (path, bytes) in &source_files {
        match path.as_str() {
            "tokenizer_config.json" | "chat_template.jinja" => {}
            _ => assert_eq!(pulled.iter().find(|(p, _)| p == path).map(|(_, b)| b), Some(bytes), "{path}"),
        }
    }
    assert!(!cached.dir.join("chat_template.jinja").exists());
    let tc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cached.dir.join("tokenizer_config.json")).unwrap()).unwrap();
    assert_eq!(tc["chat_template"], QWEN3_CHAT_TEMPLATE);
    assert_eq!(tc["trust_remote_code"], false);
    assert!(tc.get("auto_map").is_none());

    // The record says what was evaluated and what changed from the committed digest.
    let ev = &cached.evaluated;
    assert_eq!(ev.removed, ["chat_template.jinja"]);
    assert_eq!(ev.changes.len(), 4, "{:?}", ev.changes);
    let tc_file = ev.files.iter().find(|f| f.path == "tokenizer_config.json").unwrap();
    assert_ne!(Some(tc_file.sha256), tc_file.committed_sha256);
    assert_eq!(
        tc_file.sha256,
        albedo_ledger::Hash32::of(&std::fs::read(cached.dir.join("tokenizer_config.json")).unwrap())
    );
    for f in ev.files.iter().filter(|f| f.path != "tokenizer_config.json") {
        assert_eq!(Some(f.sha256), f.committed_sha256, "{}", f.path);
    }
    cache.verify(&cached).unwrap();

    // Weights untouched: the fingerprint of the pulled model is the source's.
    assert_eq!(fingerprint::fingerprint_dir(&cached.dir).unwrap(), fingerprint::fingerprint_dir(&source).unwrap());

    // A hit is served from disk: the registry is not asked again.
    let offline = client("http://127.0.0.1:1", Auth::Anonymous);
    assert_eq!(cache.materialize(&offline, &pushed.model, no_progress()).await.unwrap(), cached);

    // A changed file on disk is found by verify.
    std::fs::write(cached.dir.join("config.json"), b"{}").unwrap();
    let err = cache.verify(&cached).unwrap_err();
    assert!(err.to_string().contains("config.json"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn pushes_are_content_addressed_skip_known_blobs_and_replace_the_tag() {
    let server = RegistryServer::start();
    let work = tempfile::tempdir().unwrap();
    let source = tiny_model(work.path(), 2);
    let registry = client(&server.url(), Auth::Anonymous);
    let first = push(&registry, &source).await;

    // The same folder again: the same digest, and nothing re-sent.
    let again = push(&registry, &source).await;
    assert_eq!(again.model, first.model);
    assert!(again.uploaded.is_empty() && again.bytes_uploaded == 0);
    assert_eq!(again.skipped, first.uploaded);

    // An extra file, then without it: the tag's manifest is replaced, not merged, so the
    // stale file does not survive into the new digest (validator.md §17.5 [WEAK]).
    std::fs::write(source.join("stale.py"), "print('hi')").unwrap();
    let with_extra = push(&registry, &source).await;
    assert_eq!(with_extra.uploaded, ["stale.py"]);
    assert!(registry.list_files(&with_extra.model).await.unwrap().contains(&"stale.py".to_owned()));
    std::fs::remove_file(source.join("stale.py")).unwrap();
    let without = push(&registry, &source).await;
    assert_eq!(without.model, first.model, "the same files give the same manifest digest");
    assert!(!registry.list_files(&without.model).await.unwrap().contains(&"stale.py".to_owned()));

    // The digest committed is the manifest's, which the registry now serves under the tag too.
    let tag = albedo_tests::harness::http::request(
        "GET",
        &format!("{}/v2/{REPO}/manifests/main", server.url()),
        &[("Accept", albedo_models::manifest::MANIFEST_MEDIA_TYPE)],
        &[],
    )
    .unwrap();
    assert_eq!(tag.header("Docker-Content-Digest"), Some(first.model.digest()));

    // Bad sources are refused before anything is sent.
    for (dir, repo, tag, want) in [
        (work.path().join("missing"), REPO, "main", "cannot read it"),
        (source.join("config.json"), REPO, "main", "not a directory"),
        (source.clone(), "Bad/Repo", "main", "not a lowercase"),
        (source.clone(), REPO, "bad tag", "not a valid OCI tag"),
    ] {
        let err = registry.push_dir(&dir, repo, tag, no_progress()).await.unwrap_err();
        assert!(err.to_string().contains(want), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_blob_is_refused_naming_the_file_and_both_digests_and_nothing_is_cached() {
    let server = RegistryServer::start();
    let work = tempfile::tempdir().unwrap();
    let source = tiny_model(work.path(), 3);
    let pushed = push(&client(&server.url(), Auth::Anonymous), &source).await;
    let proxy = HttpProxy::start(&server.url());
    let registry = client(&proxy.url(), Auth::Anonymous);
    let shard = pushed.files.iter().find(|f| f.path == "model-00002-of-00002.safetensors").unwrap();
    proxy.add(Fault::Corrupt { path: format!("/blobs/{}", shard.digest()) });

    let cache = ModelCache::open(work.path().join("cache")).unwrap();
    let err = cache.materialize(&registry, &pushed.model, no_progress()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    let msg = err.to_string();
    let mut tampered = std::fs::read(source.join(&shard.path)).unwrap();
    *tampered.last_mut().unwrap() ^= 1;
    let actual = format!("sha256:{}", albedo_ledger::Hash32::of(&tampered).to_hex());
    assert!(msg.contains(&shard.path) && msg.contains(&shard.digest()) && msg.contains(&actual), "{msg}");
    assert_eq!(cache.get(&pushed.model).unwrap(), None);
    assert_eq!(cache_entries(&cache), [".staging"], "the staging dir is removed, nothing else exists");

    // The config-only fetch checks its blob the same way.
    proxy.clear();
    let config = pushed.files.iter().find(|f| f.path == "config.json").unwrap();
    proxy.add(Fault::Corrupt { path: format!("/blobs/{}", config.digest()) });
    let err = registry.fetch_config(&pushed.model).await.unwrap_err();
    assert!(matches!(&err, ModelError::BlobDigest { file, .. } if file == "config.json"), "{err}");

    // Faithful again: the same cache materialises it.
    proxy.clear();
    cache.materialize(&registry, &pushed.model, no_progress()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_manifest_is_refused_naming_both_digests() {
    let server = RegistryServer::start();
    let work = tempfile::tempdir().unwrap();
    let pushed = push(&client(&server.url(), Auth::Anonymous), &tiny_model(work.path(), 4)).await;
    let proxy = HttpProxy::start(&server.url());
    let registry = client(&proxy.url(), Auth::Anonymous);

    // A manifest that points the config at other bytes: valid JSON, another digest.
    let honest = albedo_tests::harness::http::request(
        "GET",
        &format!("{}/v2/{REPO}/manifests/{}", server.url(), pushed.model.digest()),
        &[("Accept", albedo_models::manifest::MANIFEST_MEDIA_TYPE)],
        &[],
    )
    .unwrap()
    .body;
    let forged = String::from_utf8(honest).unwrap().replacen("config.json", "config.jsoN", 1).into_bytes();
    let forged_digest = format!("sha256:{}", albedo_ledger::Hash32::of(&forged).to_hex());
    proxy.add(Fault::Replace { path: format!("/manifests/{}", pushed.model.digest()), body: forged });

    let cache = ModelCache::open(work.path().join("cache")).unwrap();
    for err in [
        cache.materialize(&registry, &pushed.model, no_progress()).await.unwrap_err(),
        registry.list_files(&pushed.model).await.unwrap_err(),
        registry.fetch_config(&pushed.model).await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
        let msg = err.to_string();
        assert!(msg.contains(pushed.model.digest()) && msg.contains(&forged_digest), "{msg}");
    }
    assert!(cache_entries(&cache).is_empty(), "{:?}", cache_entries(&cache));

    // A digest nobody pushed is not found.
    let unknown = ModelRef::new(REPO, format!("sha256:{}", "0".repeat(64))).unwrap();
    let err = client(&server.url(), Auth::Anonymous).manifest(&unknown).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unusable_models_and_wrong_sized_bodies_are_refused_with_the_reason() {
    let server = RegistryServer::start();
    let work = tempfile::tempdir().unwrap();
    let registry = client(&server.url(), Auth::Anonymous);
    let cache = ModelCache::open(work.path().join("cache")).unwrap();
    let push_as = |dir: PathBuf, tag: &'static str| {
        let registry = &registry;
        async move { registry.push_dir(&dir, REPO, tag, no_progress()).await.unwrap() }
    };

    // No tokenizer_config.json: hygiene cannot run, so the model is not cached.
    let no_tokenizer = tiny_model(work.path(), 20);
    std::fs::remove_file(no_tokenizer.join("tokenizer_config.json")).unwrap();
    let pushed = push_as(no_tokenizer, "no-tokenizer").await;
    let err = cache.materialize(&registry, &pushed.model, no_progress()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("no tokenizer_config.json"), "{err}");
    assert_eq!(cache.get(&pushed.model).unwrap(), None);
    assert_eq!(cache_entries(&cache), [".staging"], "the staging dir is removed, nothing else exists");

    // No config.json, or one too large to be a config: the config-only fetch says so.
    let no_config = tiny_model(work.path(), 21);
    std::fs::remove_file(no_config.join("config.json")).unwrap();
    let pushed = push_as(no_config, "no-config").await;
    let err = registry.fetch_config(&pushed.model).await.unwrap_err();
    assert!(matches!(&err, ModelError::MissingFile { file, .. } if file == "config.json"), "{err}");
    let huge_config = tiny_model(work.path(), 22);
    std::fs::write(huge_config.join("config.json"), vec![b' '; (1 << 20) + 1]).unwrap();
    let pushed = push_as(huge_config, "huge-config").await;
    let err = registry.fetch_config(&pushed.model).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("config.json is 1048577 bytes; at most 1048576 are read"), "{err}");

    // A blob body longer than its layer is refused as it arrives; a shorter one is retried
    // (a cut connection looks like that), then reported.
    let pushed = push_as(tiny_model(work.path(), 23), "main").await;
    let config = pushed.files.iter().find(|f| f.path == "config.json").unwrap();
    let honest = std::fs::read(work.path().join("model-23/config.json")).unwrap();
    let proxy = HttpProxy::start(&server.url());
    let via_proxy = client(&proxy.url(), Auth::Anonymous);
    let path = format!("/blobs/{}", config.digest());
    proxy.add(Fault::Replace { path: path.clone(), body: [honest.as_slice(), b"extra"].concat() });
    let err = via_proxy.fetch_config(&pushed.model).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    let want = format!(
        "file \"config.json\" of {} has {} bytes, but its layer says {}",
        pushed.model,
        honest.len() + 5,
        honest.len()
    );
    assert_eq!(err.to_string(), want);
    proxy.clear();
    proxy.add(Fault::Replace { path, body: honest[..honest.len() - 1].to_vec() });
    let err = via_proxy.fetch_config(&pushed.model).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    let want = format!("{} of {} bytes arrived", honest.len() - 1, honest.len());
    assert!(err.to_string().contains(&want) && err.to_string().contains("after 3 attempt(s)"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_works_with_the_right_credentials_and_says_why_otherwise() {
    let server = RegistryServer::start_with_htpasswd("miner", "s3cret");
    let work = tempfile::tempdir().unwrap();
    let source = tiny_model(work.path(), 5);
    let good = Auth::Basic { username: "miner".into(), password: "s3cret".into() };
    let pushed = push(&client(&server.url(), good.clone()), &source).await;
    let cache = ModelCache::open(work.path().join("cache")).unwrap();
    cache.materialize(&client(&server.url(), good), &pushed.model, no_progress()).await.unwrap();

    let wrong = Auth::Basic { username: "miner".into(), password: "nope".into() };
    for (auth, want) in [(Auth::Anonymous, "no credentials were given"), (wrong, "user \"miner\"")] {
        let registry = client(&server.url(), auth);
        let err = registry.list_files(&pushed.model).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
        let msg = err.to_string();
        assert!(msg.contains("authentication failed") && msg.contains(want), "{msg}");
        assert!(!msg.contains("nope"), "a password in an error: {msg}");
        let err = registry.push_dir(&source, REPO, "main", no_progress()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bearer_token_flow_works_with_credentials_or_a_token() {
    let server = RegistryServer::start_with_token_auth("miner", "s3cret");
    let work = tempfile::tempdir().unwrap();
    let source = tiny_model(work.path(), 6);
    // Username and password: exchanged at the token service for a scoped bearer token.
    let creds = Auth::Basic { username: "miner".into(), password: "s3cret".into() };
    let pushed = push(&client(&server.url(), creds), &source).await;

    // A token (HIPPIUS_HUB_TOKEN), sent as the bearer token itself.
    let token = server.issue_token(&format!("repository:{REPO}:pull"));
    let cache = ModelCache::open(work.path().join("cache")).unwrap();
    cache.materialize(&client(&server.url(), Auth::Token(token)), &pushed.model, no_progress()).await.unwrap();

    for (auth, want) in [
        (Auth::Basic { username: "miner".into(), password: "wrong".into() }, "the token service refused"),
        (Auth::Token("not-a-token".into()), "the token from HIPPIUS_HUB_TOKEN"),
        (Auth::Anonymous, "no credentials were given"),
    ] {
        let err = client(&server.url(), auth).list_files(&pushed.model).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
        assert!(err.to_string().contains(want), "{err}");
        assert!(!err.to_string().contains("wrong"), "{err}");
    }
    // A pull-only token cannot push.
    let pull_only = server.issue_token(&format!("repository:{REPO}:pull"));
    let err =
        client(&server.url(), Auth::Token(pull_only)).push_dir(&source, REPO, "v2", no_progress()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_failures_are_retried_then_reported() {
    let server = RegistryServer::start();
    let work = tempfile::tempdir().unwrap();
    let pushed = push(&client(&server.url(), Auth::Anonymous), &tiny_model(work.path(), 7)).await;
    let proxy = HttpProxy::start(&server.url());
    let shard = pushed.files.iter().find(|f| f.path.ends_with(".safetensors")).unwrap();
    let blob = format!("/blobs/{}", shard.digest());

    // Two failures, two retries: it gets through.
    proxy.add(Fault::Fail { path: blob.clone(), status: 503, times: 2 });
    let cache = ModelCache::open(work.path().join("cache")).unwrap();
    cache.materialize(&client(&proxy.url(), Auth::Anonymous), &pushed.model, no_progress()).await.unwrap();
    assert_eq!(proxy.requests().iter().filter(|r| r.contains(&blob)).count(), 3);

    // More failures than retries: a transient error that says what and how often.
    proxy.add(Fault::Fail { path: blob.clone(), status: 429, times: 10 });
    let other = ModelCache::open(work.path().join("other")).unwrap();
    let err =
        other.materialize(&client(&proxy.url(), Auth::Anonymous), &pushed.model, no_progress()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&shard.path) && msg.contains("after 3 attempt(s)") && msg.contains("429"), "{msg}");
    assert_eq!(other.get(&pushed.model).unwrap(), None);
}

#[test]
fn a_killed_download_leaves_no_usable_cache_entry() {
    let server = RegistryServer::start();
    let work = tempfile::tempdir().unwrap();
    let source = tiny_model(work.path(), 8);
    // A shard big enough to be caught mid-transfer through a slow proxy.
    albedo_models::testkit::synthetic_safetensors(&source.join("model-00003-of-00003.safetensors"), 4 << 20, 8)
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pushed = rt.block_on(push(&client(&server.url(), Auth::Anonymous), &source));
    let proxy = HttpProxy::start(&server.url());
    proxy.add(Fault::Throttle { path: "/blobs/".into(), bytes_per_sec: 1 << 20 });
    let cache_dir = work.path().join("cache");

    let mut child = Command::new(env!("CARGO_BIN_EXE_model-puller"))
        .args([proxy.url(), cache_dir.display().to_string(), pushed.model.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a progress line").unwrap();
    assert!(first.starts_with("progress "), "{first}");
    child.kill().unwrap();
    child.wait().unwrap();

    let cache = ModelCache::open(&cache_dir).unwrap();
    assert_eq!(cache.get(&pushed.model).unwrap(), None, "a partial download must not be a hit");
    assert!(!cache.dir_for(&pushed.model).unwrap().exists());
    let staged: Vec<_> = std::fs::read_dir(cache.root().join(".staging")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(staged.len(), 1, "the killed child's staging dir is left behind");
    let staged_bytes: u64 = albedo_models::registry::list_push_files(&staged[0])
        .unwrap()
        .iter()
        .map(|p| std::fs::metadata(staged[0].join(p)).unwrap().len())
        .sum();

    // The next materialise downloads afresh and verifies; prune clears the dead child's staging.
    proxy.clear();
    let cached =
        rt.block_on(cache.materialize(&client(&proxy.url(), Auth::Anonymous), &pushed.model, no_progress())).unwrap();
    cache.verify(&cached).unwrap();
    let pruned = cache.prune(std::slice::from_ref(&pushed.model)).unwrap();
    assert_eq!(pruned.removed.len(), 1, "{pruned:?}");
    assert_eq!(pruned.removed, staged);
    assert_eq!(pruned.bytes_freed, staged_bytes);
    assert_eq!(cache.get(&pushed.model).unwrap().map(|c| c.dir), Some(cached.dir));
}
