//! Ledger benchmarks: durable append throughput, verify+decode throughput, and peak memory of
//! verification as the ledger grows. Prints figures; asserts nothing (targets live in the
//! closing notes, not in flaky timed tests).
//!
//! Run: `cargo bench -p albedo-ledger --bench ledger` (BENCH_VERIFY_N overrides the 1 M
//! entries of the verify benchmark). The RSS figures come from child processes of this binary,
//! one per ledger size, so each reports its own high-water mark (VmHWM).

use std::time::Instant;

use albedo_ledger::testkit::sample_draft;
use albedo_ledger::{Draft, Store, Verifier};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    match args.first().map(String::as_str) {
        Some("create") => create(&args[1], args[2].parse().unwrap()),
        Some("verify") => verify(&args[1]),
        Some("sled-open") => {
            // sled alone: open and walk the log tree without decoding (isolates sled's memory)
            let db = sled::Config::new().path(&args[1]).cache_capacity(8 << 20).open().unwrap();
            println!("sled open only: peak RSS {} MB", vm_hwm_kb() / 1024);
            let n = db.open_tree("log").unwrap().iter().count();
            println!("sled open + walk of {n} entries: peak RSS {} MB", vm_hwm_kb() / 1024);
        }
        _ => driver(),
    }
}

fn driver() {
    let dir = tempfile::tempdir().unwrap();
    appends(dir.path());

    let n: u64 = std::env::var("BENCH_VERIFY_N").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    for size in [n / 10, n] {
        let path = dir.path().join(format!("verify-{size}"));
        let path = path.to_str().unwrap();
        run_self(&["create", path, &size.to_string()]);
        run_self(&["verify", path]);
    }
}

fn run_self(args: &[&str]) {
    let status = std::process::Command::new(std::env::current_exe().unwrap()).args(args).status().unwrap();
    assert!(status.success(), "{args:?} failed");
}

fn appends(dir: &std::path::Path) {
    let mut store = Store::create(dir.join("appends")).unwrap();
    let n = 2_000u64;
    let start = Instant::now();
    for i in 0..n {
        store.append(sample_draft(i)).unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!("append, one at a time (durable each): {n} events in {secs:.2} s = {:.0} events/s", n as f64 / secs);

    let batches = 400u64;
    let start = Instant::now();
    for b in 0..batches {
        let drafts: Vec<Draft> = (n + b * 256..n + (b + 1) * 256).map(sample_draft).collect();
        store.append_batch(drafts).unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let events = batches * 256;
    println!(
        "append, batches of 256 (one flush each): {events} events in {secs:.2} s = {:.0} events/s",
        events as f64 / secs
    );
    let size: u64 = walk_size(&dir.join("appends"));
    println!("  ledger size: {} entries, {:.1} MB on disk", store.len(), size as f64 / 1e6);
}

fn create(path: &str, n: u64) {
    let start = Instant::now();
    let mut store = Store::create(path).unwrap();
    let mut i = 0;
    while i < n {
        let end = (i + 4096).min(n);
        store.append_batch((i..end).map(sample_draft).collect()).unwrap();
        i = end;
    }
    println!("created {n} entries in {:.1} s", start.elapsed().as_secs_f64());
}

fn verify(path: &str) {
    let start = Instant::now();
    let store = Store::open(path).unwrap();
    let open_secs = start.elapsed().as_secs_f64();
    let n = store.len();

    // verify + decode, streamed from sled (what `albedo-replay verify` does minus the index)
    let start = Instant::now();
    let mut verifier = Verifier::new();
    let mut bytes = 0usize;
    for entry in store.snapshot().entries(0) {
        let entry = entry.unwrap();
        bytes += entry.bytes.len();
        verifier.check(&entry.bytes).unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(verifier.head(), store.head());
    println!(
        "verify+decode from sled: {n} entries ({:.0} MB) in {secs:.2} s = {:.0} entries/s",
        bytes as f64 / 1e6,
        n as f64 / secs
    );

    // the full audit including the idempotency index
    let start = Instant::now();
    store.verify_all().unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!("verify_all (links + index): {n} entries in {secs:.2} s = {:.0} entries/s", n as f64 / secs);
    println!("open (verifies from the last verified point): {open_secs:.2} s");
    println!(
        "peak RSS of this process after open, streamed verify and verify_all ({n} entries): {} MB",
        vm_hwm_kb() / 1024
    );

    // the same over bytes already in memory: the core's speed without sled's read path
    let in_mem: Vec<sled::IVec> = store.snapshot().entries(0).take(100_000).map(|e| e.unwrap().bytes).collect();
    let start = Instant::now();
    let mut verifier = Verifier::new();
    for b in &in_mem {
        verifier.check(b).unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "verify+decode in memory: {} entries in {secs:.2} s = {:.0} entries/s",
        in_mem.len(),
        in_mem.len() as f64 / secs
    );
    drop(in_mem);
}

fn vm_hwm_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map(|v| v.trim().trim_end_matches(" kB").trim().parse().unwrap())
        .unwrap()
}

fn walk_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() { walk_size(&e.path()) } else { e.metadata().unwrap().len() }
        })
        .sum()
}
