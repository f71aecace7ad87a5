//! Mirror upload throughput: one catch-up pass of a fresh ledger to a loopback s3s-fs (SigV4
//! checked, objects on disk) and to a directory. Prints MB/s and tiles/s; asserts nothing.
//!
//! `cargo bench -p albedo --bench mirror_upload [-- ENTRIES]` (default 32 768 entries = 128
//! tiles). Needs s3s-fs (./scripts/test installs it).

use std::time::Instant;

use albedo_commands::adapters::object_store::{FsStore, ObjectStore, S3Config, S3Store};
use albedo_commands::mirror;
use albedo_ledger::mirror::{CheckpointSigner, ss58_encode};
use albedo_ledger::{Store, testkit::sample_draft};
use albedo_tests::harness::S3Server;
use subxt_signer::sr25519::Keypair;

struct BenchSigner(Keypair);

impl CheckpointSigner for BenchSigner {
    fn ss58(&self) -> String {
        ss58_encode(&self.0.public_key().0)
    }

    fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).0
    }
}

fn main() {
    let entries: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(32_768);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::create(dir.path().join("ledger")).expect("create the ledger");
    for chunk in (0..entries).collect::<Vec<_>>().chunks(4096) {
        store.append_batch(chunk.iter().map(|&i| sample_draft(i)).collect()).expect("append");
    }
    let snapshot = store.snapshot();
    let signer = BenchSigner(Keypair::from_secret_key([7u8; 32]).expect("key"));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");

    let server = S3Server::start();
    let s3 = S3Store::new(
        S3Config::new(server.endpoint(), "bench", server.access_key(), server.secret_key())
            .with_region(server.region()),
    )
    .expect("S3 config");
    runtime.block_on(s3.ensure_bucket()).expect("bucket");
    let out = tempfile::tempdir().expect("temp dir");
    let fs = FsStore::create(out.path()).expect("fs store");

    println!(
        "mirror_upload: {entries} entries, {} parallel uploads, build profile {}",
        mirror::PARALLEL_UPLOADS,
        if cfg!(debug_assertions) { "debug" } else { "optimized" }
    );
    let targets: [(&str, &dyn ObjectStore); 2] = [("s3s-fs (loopback)", &s3), ("directory", &fs)];
    for (name, objects) in targets {
        for round in ["first pass", "re-put (all no-ops)"] {
            let started = Instant::now();
            let report = runtime
                .block_on(mirror::sync(&snapshot, 0, objects, "bench", &signer, 0))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "  {name:18} {round:20} {:>5} tiles {:>7.1} MB in {seconds:6.2} s: {:>6.1} MB/s, {:>6.1} tiles/s",
                report.tiles.len(),
                report.tile_bytes as f64 / 1e6,
                report.tile_bytes as f64 / 1e6 / seconds,
                report.tiles.len() as f64 / seconds,
            );
        }
    }
}
