//! Mirror benchmark: write a mirror directory of N entries (tiles straight from generated entry
//! bytes, no sled), then verify+decode all of it with `MirrorReader::entries` in a child process
//! and report entries/s and the child's peak RSS. Prints figures; asserts nothing.
//!
//! Run: `cargo bench -p albedo-ledger --bench mirror`
//!
//! - `BENCH_MIRROR_N`: entries (default 10 000 000; about 2 GB of tiles with the default mix).
//! - `BENCH_MIRROR_SAMPLE_EVERY`: every k-th entry is a `testkit::sample_draft` event (every
//!   kind in turn, `turn_judged` with three judge answers included), the others small
//!   `published` events; default 16, 0 for `published` only, 1 for sample events only.
//! - `BENCH_MIRROR_DIR`: where to write the mirror (default: a temp dir, removed at the end).
//!
//! The child reads tiles the parent just wrote, so they come from the page cache: the figure is
//! the reader's CPU cost (framing, SHA-256, decoding, linking), not the disk's. Peak RSS is the
//! child's VmHWM, which excludes the page cache.

use std::path::Path;
use std::time::Instant;

use albedo_ledger::mirror::{
    Checkpoint, CheckpointSigner, DirSource, MirrorReader, checkpoint_key, encode_tile, ss58_encode,
};
use albedo_ledger::testkit::{published_event, sample_draft};
use albedo_ledger::{ENTRY_VERSION, Envelope, Hash32};
use subxt_signer::sr25519;

const PREFIX: &str = "bench";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    match args.first().map(String::as_str) {
        Some("verify") => verify(Path::new(&args[1])),
        _ => driver(),
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

fn driver() {
    let n = env_u64("BENCH_MIRROR_N", 10_000_000);
    let every = env_u64("BENCH_MIRROR_SAMPLE_EVERY", 16);
    let temp;
    let root = match std::env::var("BENCH_MIRROR_DIR") {
        Ok(dir) => std::path::PathBuf::from(dir),
        Err(_) => {
            temp = tempfile::tempdir().unwrap();
            temp.path().to_path_buf()
        }
    };
    write(&root, n, every);
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["verify", root.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success(), "the verify child failed");
}

/// A fixed bench key: never a real one.
struct BenchSigner(sr25519::Keypair);

impl CheckpointSigner for BenchSigner {
    fn ss58(&self) -> String {
        ss58_encode(&self.0.public_key().0)
    }
    fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).0
    }
}

/// Writes tiles of generated, correctly linked entries, then the checkpoint.
fn write(root: &Path, n: u64, every: u64) {
    let start = Instant::now();
    let tiles = root.join(PREFIX).join("ledger/v1/tile");
    std::fs::create_dir_all(&tiles).unwrap();
    let mut prev = Hash32::ZERO;
    let mut tile_entries: Vec<Vec<u8>> = Vec::with_capacity(256);
    let (mut bytes, mut files) = (0u64, 0u64);
    for seq in 0..n {
        let (time_ms, block, event) = if every != 0 && seq % every == 0 {
            let d = sample_draft(seq);
            (d.time_ms, d.block, d.event)
        } else {
            (1_764_000_000_000 + seq, Some(8_326_394 + seq / 12), published_event(seq))
        };
        let entry = Envelope { v: ENTRY_VERSION, seq, prev, time_ms, block, event }.encode().unwrap();
        prev = Hash32::of(&entry);
        tile_entries.push(entry);
        if tile_entries.len() == 256 || seq + 1 == n {
            let tile = albedo_ledger::mirror::TileRef::containing(seq, n);
            let encoded = encode_tile(tile_entries.iter().map(Vec::as_slice));
            let path = root.join(tile.key(PREFIX));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, &encoded).unwrap();
            bytes += encoded.len() as u64;
            files += 1;
            tile_entries.clear();
        }
    }
    let signer = BenchSigner(sr25519::Keypair::from_secret_key([7; 32]).unwrap());
    let cp = Checkpoint::sign(n, prev, 1_764_000_000_000, &signer);
    std::fs::write(root.join(checkpoint_key(PREFIX)), cp.to_json()).unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "write: {n} entries (every {every}th a sample event) as {files} tiles, {:.0} MB ({:.0} bytes/entry), in {secs:.1} s \
         = {:.0} entries/s (generate + encode + hash + write)",
        bytes as f64 / 1e6,
        bytes as f64 / n.max(1) as f64,
        n as f64 / secs
    );
}

fn verify(root: &Path) {
    let source = DirSource::new(root);
    let start = Instant::now();
    let reader = MirrorReader::open(&source, PREFIX, None).unwrap();
    let size = reader.checkpoint().size;
    let mut count = 0u64;
    for item in reader.entries() {
        let (env, _hash) = item.unwrap();
        count += 1;
        std::hint::black_box(env);
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(count, size);
    println!(
        "verify+decode (MirrorReader::entries, one thread): {count} entries in {secs:.2} s = {:.0} entries/s",
        count as f64 / secs
    );
    println!("peak RSS of the verifying process: {:.1} MiB", vm_hwm_kb() as f64 / 1024.0);
}

fn vm_hwm_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map(|v| v.trim().trim_end_matches(" kB").trim().parse().unwrap())
        .unwrap()
}
