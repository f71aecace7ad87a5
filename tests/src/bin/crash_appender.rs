//! The crash test's child process: appends sample events to a ledger until it is killed.
//!
//! Usage: `crash-appender <ledger dir> <rng seed>`.
//!
//! Entry `seq` always holds `testkit::sample_event(seq)`, so the parent can check every entry.
//! On start it re-appends the last entries it finds (which must come back as existing: a retried
//! step writes nothing), then appends forever, alternating single appends and batches of 1–256,
//! and prints `ack <seq> <sha256>` for each entry once its append has returned (is durable).

use std::io::Write;

use albedo_ledger::testkit::sample_draft;
use albedo_ledger::{Appended, Store};
use rand::{Rng, SeedableRng};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: crash-appender <ledger dir> <seed>");
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).expect("usage: crash-appender <ledger dir> <seed>");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut store = Store::open_or_create(&path).unwrap_or_else(|e| fail(&format!("open: {e}")));
    let out = std::io::stdout();
    let mut out = out.lock();
    writeln!(out, "open {}", store.len()).unwrap();
    out.flush().unwrap();

    for i in store.len().saturating_sub(3)..store.len() {
        match store.append(sample_draft(i)) {
            Ok(Appended::Existing(seq)) if seq == i => {}
            other => fail(&format!("re-appending entry {i} gave {other:?}, expected Existing({i})")),
        }
    }

    loop {
        let next = store.len();
        let size = if rng.random_bool(0.5) { 1 } else { rng.random_range(1..=256u64) };
        let drafts = (next..next + size).map(sample_draft).collect();
        let results = store.append_batch(drafts).unwrap_or_else(|e| fail(&format!("append: {e}")));
        let snapshot = store.snapshot();
        for (offset, r) in results.iter().enumerate() {
            let seq = next + offset as u64;
            if *r != Appended::New(seq) {
                fail(&format!("append of entry {seq} gave {r:?}"));
            }
            let entry = snapshot.get(seq).unwrap().unwrap_or_else(|| fail(&format!("entry {seq} not readable")));
            writeln!(out, "ack {seq} {}", entry.hash()).unwrap();
        }
        out.flush().unwrap();
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("crash-appender: {msg}");
    std::process::exit(3);
}
