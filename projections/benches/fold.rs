//! Fold throughput: `State::apply` over a synthetic ledger shaped like a real one
//! (`fixture::synthetic_eval`: per eval reveal, queue, admission, start, samples, 128 judged
//! turns × 3 judges, a verdict, and crowns). Prints figures; asserts nothing.
//!
//! Run: `cargo bench -p albedo-projections --bench fold` (BENCH_FOLD_EVENTS overrides 1 M).

use std::time::{Duration, Instant};

use albedo_ledger::event::*;
use albedo_ledger::{ENTRY_VERSION, Envelope, Event, Hash32};
use albedo_projections::state::State;

const CHAIN_TOML: &str = include_str!("../../chain.toml");
const D: &str = "sha256:3368b0c79b619ed90dc5610c20073cf02c3a93275ebc0c5b94a9d332fea6f606";

fn main() {
    let target: u64 = std::env::var("BENCH_FOLD_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let mut state = State::new();
    let mut seq = 0u64;
    let mut spent = Duration::ZERO;
    let mut apply = |state: &mut State, event: Event| {
        let env = Envelope { v: ENTRY_VERSION, seq, prev: Hash32::ZERO, time_ms: seq, block: Some(seq / 10), event };
        let t = Instant::now();
        state.apply(&env);
        spent += t.elapsed();
        seq += 1;
    };
    apply(
        &mut state,
        Event::CompetitionStarted(CompetitionStarted {
            reset_number: 0,
            reason: StartReason::Genesis,
            netuid: 97,
            chain_toml: CHAIN_TOML.into(),
            chain_toml_sha256: Hash32::of(CHAIN_TOML.as_bytes()),
            genesis_king: ModelRef::new("teutonic/albedo-qwen3-4b-genesis", D).unwrap(),
            validator_hotkey: "5V".into(),
            dataset_manifest_sha256: Hash32::of(b"m"),
            reset_snapshot: None,
        }),
    );
    let (mut k, mut n, mut reign) = (0u64, 1u64, 0u64);
    while n < target {
        k += 1;
        for e in albedo_projections::fixture::synthetic_eval(k, &mut reign) {
            apply(&mut state, e);
            n += 1;
        }
    }

    let secs = spent.as_secs_f64();
    println!(
        "fold: {n} events ({k} evals) applied in {secs:.3} s = {:.0} events/s (building the events is not timed)",
        n as f64 / secs
    );
    println!(
        "  state: {} evals, king reign {:?}, chain {}",
        state.evals.len(),
        state.king.as_ref().map(|k| k.reign),
        state.king_chain.len()
    );
}
