//! Site build cost: fold a synthetic ledger through `Views::apply`, then `render` the whole site
//! once at the end. Each size runs in its own child process (this binary re-executed with
//! `--child <events>`), so each peak RSS (VmHWM) is that size's alone and we can see whether
//! memory stays flat as the ledger grows. Prints figures; asserts nothing.
//!
//! The ledger is shaped like a real one (as `projections/benches/fold.rs`): per eval a reveal,
//! queue, admission, start, a 128-sample draw, 128 judged turns × 3 judges, then a verdict with
//! every figure the pages show (4 evals in 5) or a failure, and a crown for every accepted
//! verdict. Events are generated one eval at a time and dropped once folded.
//!
//! Run: `cargo bench -p albedo-site --bench build` (BENCH_SITE_EVENTS="100000,1000000" overrides
//! the sizes).

use std::process::Command;
use std::time::{Duration, Instant};

use albedo_ledger::event::*;
use albedo_ledger::{ENTRY_VERSION, Envelope, Event, Hash32};
use albedo_projections::views::Views;

const CHAIN_TOML: &str = include_str!("../../chain.toml");
const D: &str = "sha256:3368b0c79b619ed90dc5610c20073cf02c3a93275ebc0c5b94a9d332fea6f606";
/// 2026-11-20T12:00:00Z; each entry is written 1 s after the one before.
const START_MS: u64 = 1_795_176_000_000;

/// VmRSS and VmHWM from /proc/self/status, in MiB (0 where unavailable).
fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The fold under test, with its clock.
struct Folder {
    views: Views,
    seq: u64,
    spent: Duration,
}

impl Folder {
    fn apply(&mut self, event: Event) {
        let seq = self.seq;
        let env = Envelope {
            v: ENTRY_VERSION,
            seq,
            prev: Hash32::ZERO,
            time_ms: START_MS + seq * 1000,
            block: Some(8_326_400 + seq / 12),
            event,
        };
        let hash = Hash32::of(&seq.to_le_bytes());
        let t = Instant::now();
        self.views.apply(&env, hash);
        self.spent += t.elapsed();
        self.seq += 1;
    }
}

fn child(target: u64) {
    let genesis = ModelRef::new("teutonic/albedo-qwen3-4b-genesis", D).unwrap();
    let mut f = Folder { views: Views::new(), seq: 0, spent: Duration::ZERO };
    f.apply(Event::CompetitionStarted(CompetitionStarted {
        reset_number: 0,
        reason: StartReason::Genesis,
        netuid: 97,
        chain_toml: CHAIN_TOML.into(),
        chain_toml_sha256: Hash32::of(CHAIN_TOML.as_bytes()),
        genesis_king: genesis.clone(),
        validator_hotkey: "5V".into(),
        dataset_manifest_sha256: Hash32::of(b"m"),
        reset_snapshot: None,
    }));
    f.apply(Event::KingCrowned(KingCrowned { reign: 0, eval_id: None, hotkey: None, model: genesis, replaced: None }));
    let (mut k, mut reign) = (0u64, 0u64);
    while f.seq < target {
        k += 1;
        for e in albedo_projections::fixture::synthetic_eval(k, &mut reign) {
            f.apply(e);
        }
    }
    let Folder { views, seq, spent: fold } = f;
    let (rss_fold, _) = rss_mib();
    let t = Instant::now();
    let site = albedo_site::render(&views);
    let render = t.elapsed();
    let bytes: usize = site.files.values().map(Vec::len).sum();
    let (rss_end, peak) = rss_mib();
    println!(
        "{seq:>9} events {k:>6} evals {:>5} reigns | fold {:>6.2} s ({:>7.0} events/s) | render {:>6.2} s | \
         {:>6} files {:>8.1} MiB | RSS after fold {:>6.1} MiB, after render {:>6.1} MiB, peak {:>6.1} MiB",
        views.reigns.len(),
        fold.as_secs_f64(),
        seq as f64 / fold.as_secs_f64(),
        render.as_secs_f64(),
        site.files.len(),
        bytes as f64 / 1_048_576.0,
        rss_fold,
        rss_end,
        peak,
    );
    let index = site.files["index.html"].len();
    let largest = site.files.iter().max_by_key(|(_, b)| b.len()).map(|(p, b)| (p.clone(), b.len())).unwrap();
    println!(
        "{:>9} index.html {:.1} KiB; largest file {} ({:.1} KiB)",
        "",
        index as f64 / 1024.0,
        largest.0,
        largest.1 as f64 / 1024.0
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let n = args.get(i + 1).and_then(|n| n.parse().ok()).expect("--child <events>");
        child(n);
        return;
    }
    let sizes: Vec<u64> = std::env::var("BENCH_SITE_EVENTS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100_000, 1_000_000]);
    println!("site build: fold through Views::apply, then render once (each size in its own process)");
    let exe = std::env::current_exe().expect("the bench binary's path");
    for n in sizes {
        let status = Command::new(&exe).args(["--child", &n.to_string()]).status().expect("run the child");
        assert!(status.success(), "the child for {n} events failed: {status}");
    }
}
