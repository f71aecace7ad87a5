//! From the validator's store to a third party's audit: the fixture ledger is mirrored with
//! `albedo mirror sync` (real binary, real wallet file), then read back from the mirror
//! directory, over HTTP and from a real S3 server; `rebuild` from the mirror must equal
//! `albedo site build` from the store, byte for byte.

use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;

use albedo_commands::adapters::object_store::{S3Config, S3Store, Target};
use albedo_commands::{mirror, wallet};
use albedo_ledger::Store;
use albedo_projections::fixture::small_competition;
use albedo_projections::views::Views;
use albedo_replay::source::{ObjectStoreSource, Source, visit_mirror};
use albedo_tests::harness::S3Server;

const SEED: [u8; 32] = [0x42; 32];

fn fixture_ledger(dir: &Path) {
    let mut store = Store::create(dir).unwrap();
    let results = store.append_batch(small_competition()).unwrap();
    assert!(results.iter().all(|r| matches!(r, albedo_ledger::Appended::New(_))));
}

use albedo_tests::read_tree as files;

/// Rebuilds the site from a source, as `albedo-replay rebuild` does.
fn rebuild(source: &Source, signer: &str, out: &Path) {
    let mut views = Views::new();
    source
        .visit(Some(signer), |env, hash| {
            views.apply(env, hash);
            ControlFlow::Continue(())
        })
        .unwrap();
    albedo_replay::write_site(&albedo_site::render(&views), out).unwrap();
}

/// A wallet directory holding one unencrypted hotkey made from `SEED`.
fn wallet_dir(root: &Path) -> PathBuf {
    let hotkey = wallet::Hotkey::from_seed(SEED);
    let dir = root.join("wallets");
    std::fs::create_dir_all(dir.join("validator/hotkeys")).unwrap();
    let json = serde_json::json!({ "secretSeed": format!("0x{}", hex::encode(SEED)), "ss58Address": hotkey.ss58().to_string() });
    std::fs::write(dir.join("validator/hotkeys/default"), json.to_string()).unwrap();
    dir
}

/// Serves `root` over HTTP on loopback (GET only; 404 for anything missing) until the process ends.
fn serve(root: PathBuf) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let path = req.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
            let body = if path.contains("..") { None } else { std::fs::read(root.join(&path)).ok() };
            let head = match &body {
                Some(b) => format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", b.len()),
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
            };
            let _ = stream.write_all(head.as_bytes());
            if let Some(b) = body {
                let _ = stream.write_all(&b);
            }
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_third_party_rebuilds_the_validators_site_from_the_mirror() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = tmp.path().join("ledger");
    fixture_ledger(&ledger);
    let signer = wallet::Hotkey::from_seed(SEED).ss58().to_string();

    // The validator mirrors with its hotkey (the real binary and wallet loader).
    let mirror_dir = tmp.path().join("mirror");
    let out = Command::new(env!("CARGO_BIN_EXE_albedo"))
        .args(["mirror", "sync", "--ledger", ledger.to_str().unwrap(), "--to", mirror_dir.to_str().unwrap()])
        .env("BT_WALLET_PATH", wallet_dir(tmp.path()))
        .env("BT_WALLET_NAME", "validator")
        .env("BT_WALLET_HOTKEY", "default")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("checkpoint signed by {signer}")), "{stdout}");
    assert_eq!(Store::open(&ledger).unwrap().mirror_cursor().unwrap(), small_competition().len() as u64);

    // The validator's own site, from the store.
    let from_store = tmp.path().join("site-store");
    albedo_commands::site::build(&ledger, &from_store, None).unwrap();
    let expected = files(&from_store);

    // A third party: from the mirror directory, then over HTTP.
    let dir_source = Source::parse(mirror_dir.to_str().unwrap()).unwrap();
    assert!(matches!(dir_source, Source::MirrorDir { .. }));
    let from_dir = tmp.path().join("site-dir");
    rebuild(&dir_source, &signer, &from_dir);
    assert_eq!(files(&from_dir), expected, "rebuild from the mirror differs from the validator's site");

    let http = Source::parse(&serve(mirror_dir.clone())).unwrap();
    let from_http = tmp.path().join("site-http");
    rebuild(&http, &signer, &from_http);
    assert_eq!(files(&from_http), expected, "rebuild over HTTP differs");

    // Another signer is refused.
    let other = wallet::Hotkey::from_seed([1; 32]).ss58().to_string();
    let err = dir_source.visit(Some(&other), |_, _| ControlFlow::Continue(())).unwrap_err();
    assert!(format!("{err:#}").contains("expected signer"), "{err:#}");
}

#[test]
fn the_mirror_reads_back_from_a_real_s3_server() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = tmp.path().join("ledger");
    fixture_ledger(&ledger);
    let server = S3Server::start();
    let vars = |name: &str| -> Option<String> {
        match name {
            "ALBEDO_R2_ENDPOINT" => Some(server.endpoint()),
            "ALBEDO_R2_ACCESS_KEY" => Some(server.access_key().into()),
            "ALBEDO_R2_SECRET_KEY" => Some(server.secret_key().into()),
            "ALBEDO_R2_REGION" => Some(server.region().into()),
            "ALBEDO_R2_BUCKET" => Some("albedo".into()),
            _ => None,
        }
    };
    let target = Target::parse("s3://albedo/public").unwrap();
    let hotkey = wallet::Hotkey::from_seed(SEED);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = Store::open(&ledger).unwrap();
    let report = rt
        .block_on(async {
            S3Store::new(S3Config::from_env(&vars).unwrap()).unwrap().ensure_bucket().await.unwrap();
            let objects = target.open(&vars).unwrap();
            mirror::catch_up(&store, &*objects, "", &hotkey, 1_795_200_000_000).await
        })
        .unwrap();
    assert_eq!(report.size, store.len());
    drop(store);

    let source = ObjectStoreSource::open_with(&target, &vars).unwrap();
    let mut views = Views::new();
    let checkpoint = visit_mirror(&source, "", Some(hotkey.ss58()), |env, hash| {
        views.apply(env, hash);
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(checkpoint.size, small_competition().len() as u64);
    let from_s3 = tmp.path().join("site-s3");
    albedo_replay::write_site(&albedo_site::render(&views), &from_s3).unwrap();
    let from_store = tmp.path().join("site-store");
    albedo_commands::site::build(&ledger, &from_store, None).unwrap();
    assert_eq!(files(&from_s3), files(&from_store));
}
