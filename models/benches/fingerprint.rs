//! Fingerprint throughput and memory on a large bf16 safetensors file (eval.md §10.1).
//!
//! Writes a synthetic single-file model (2 GB, or `ALBEDO_BENCH_FP_BYTES` bytes) into a temp dir,
//! then fingerprints it in a fresh child process (this binary re-executed with
//! `ALBEDO_BENCH_FP_CHILD=<dir>`), so the child's peak RSS measures the fingerprint alone, not the
//! writer. Prints figures; asserts nothing about speed. The file was just written, so it is read
//! from the page cache: the figures are a warm-cache upper bound on throughput.
//!
//! Run: `cargo bench -p albedo-models --bench fingerprint`.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use albedo_models::fingerprint::fingerprint_dir;
use albedo_models::testkit::synthetic_safetensors;

const CHILD_ENV: &str = "ALBEDO_BENCH_FP_CHILD";
const BYTES_ENV: &str = "ALBEDO_BENCH_FP_BYTES";
const DEFAULT_BYTES: u64 = 2_000_000_000;
const RUNS: usize = 3;

fn main() {
    match std::env::var_os(CHILD_ENV) {
        Some(dir) => child(Path::new(&dir)),
        None => parent(),
    }
}

fn parent() {
    let bytes = match std::env::var(BYTES_ENV) {
        Ok(v) => v.parse().unwrap_or_else(|e| panic!("{BYTES_ENV}={v:?}: {e}")),
        Err(_) => DEFAULT_BYTES,
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("model.safetensors");

    let start = Instant::now();
    synthetic_safetensors(&path, bytes, 42).expect("write the synthetic model");
    let write = start.elapsed().as_secs_f64();
    let size = std::fs::metadata(&path).expect("stat").len();
    println!("file:   {} ({:.3} GB)", path.display(), gb(size));
    println!("write:  {write:.2} s ({:.2} GB/s), writer peak RSS {}", gb(size) / write, kib(status("VmHWM")));

    for run in 1..=RUNS {
        let out = Command::new(std::env::current_exe().expect("own path"))
            .env(CHILD_ENV, dir.path())
            .output()
            .expect("run the child");
        assert!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
        let line = String::from_utf8_lossy(&out.stdout);
        let figures: Vec<f64> = line.split_whitespace().map(|f| f.parse().expect("a figure")).collect();
        let [secs, hwm_before, hwm_after, tensors] = figures[..] else { panic!("child printed {line:?}") };
        println!(
            "run {run}: fingerprint {secs:.3} s, {:.2} GB/s, {tensors} tensors; child peak RSS {} before, {} after \
             ({:.2} % of the file)",
            gb(size) / secs,
            kib(hwm_before as u64),
            kib(hwm_after as u64),
            100.0 * hwm_after * 1024.0 / size as f64,
        );
    }
}

/// Prints: wall seconds, VmHWM (KiB) before, VmHWM (KiB) after, number of tensors.
fn child(dir: &Path) {
    let before = status("VmHWM");
    let start = Instant::now();
    let fp = fingerprint_dir(dir).expect("fingerprint");
    let secs = start.elapsed().as_secs_f64();
    let after = status("VmHWM");
    println!("{secs} {before} {after} {}", fp.tensors.len());
}

/// A `kB` field of /proc/self/status, in KiB (0 where there is none, e.g. off Linux).
fn status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

fn gb(bytes: u64) -> f64 {
    bytes as f64 / 1e9
}

fn kib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
