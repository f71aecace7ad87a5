//! Fold throughput: `State::apply` over a synthetic ledger shaped like a real one (per eval:
//! reveal, queue, admission, start, samples, 128 judged turns × 3 judges, an end, and a crown
//! for every third). Prints figures; asserts nothing.
//!
//! Run: `cargo bench -p albedo-projections --bench fold` (BENCH_FOLD_EVENTS overrides 1 M).

use std::time::{Duration, Instant};

use albedo_ledger::event::*;
use albedo_ledger::{ENTRY_VERSION, Envelope, Event, Hash32};
use albedo_projections::state::State;

const CHAIN_TOML: &str = include_str!("../../chain.toml");
const D: &str = "sha256:3368b0c79b619ed90dc5610c20073cf02c3a93275ebc0c5b94a9d332fea6f606";
const JUDGES: [&str; 3] = ["minimax/minimax-m3", "deepseek/deepseek-v4-flash", "z-ai/glm-5.1"];
const METRICS: [&str; 5] = ["correctness", "grounding", "progress", "protocol", "efficiency"];

fn eval_events(k: u64) -> Vec<Event> {
    let eval_id = format!("eval-{k:06}");
    let hotkey = format!("5Hotkey{k:040}");
    let model = ModelRef::new(format!("miner/albedo-qwen3-4b-{k}"), D).unwrap();
    let king = ModelRef::new("teutonic/albedo-qwen3-4b-genesis", D).unwrap();
    let mut v = vec![
        Event::RevealSeen(RevealSeen {
            hotkey: hotkey.clone(),
            commitment_block: k,
            raw: format!("v4|{}|{D}", model.repo()),
            model: model.clone(),
        }),
        Event::EvalQueued(EvalQueued {
            eval_id: eval_id.clone(),
            hotkey: hotkey.clone(),
            challenger: model.clone(),
            commitment_block: k,
            position: QueuePosition::Back,
        }),
        Event::AdmissionChecked(AdmissionChecked {
            eval_id: eval_id.clone(),
            attempt: 1,
            passed: true,
            failed_check: None,
            king: king.clone(),
            challenger_config_sha256: Some(Hash32::of(b"c")),
            files: vec!["config.json".into(), "model.safetensors".into()],
        }),
        Event::EvalStarted(EvalStarted {
            eval_id: eval_id.clone(),
            attempt: 1,
            hotkey: hotkey.clone(),
            challenger: model.clone(),
            king,
            seed_block: k,
            seed_block_hash: format!("0x{}", "ab".repeat(32)),
            seed_hex: "cd".repeat(64),
            eval_server: "http://127.0.0.1:9001".into(),
            config_sha256: Hash32::of(b"chain"),
        }),
        Event::SamplesDrawn(SamplesDrawn {
            eval_id: eval_id.clone(),
            attempt: 1,
            dataset_manifest_sha256: Hash32::of(b"m"),
            samples: (0..128).map(|t| SampleRef { shard: t % 31, row: u64::from(t) * 97, turn: t % 10 }).collect(),
        }),
    ];
    for t in 0..128u32 {
        v.push(Event::TurnJudged(TurnJudged {
            eval_id: eval_id.clone(),
            attempt: 1,
            turn: t,
            sample: SampleRef { shard: t % 31, row: u64::from(t) * 97, turn: t % 10 },
            a_is_king: t % 2 == 0,
            king_reply_sha256: Some(Hash32::of(b"k")),
            challenger_reply_sha256: Some(Hash32::of(b"c")),
            king_error: None,
            challenger_error: None,
            judges: JUDGES
                .iter()
                .map(|m| JudgeOutcome {
                    model: (*m).into(),
                    raw_output: Some(
                        r#"{"correctness":"A","grounding":"B","progress":"tie","protocol":"A","efficiency":"A"}"#
                            .into(),
                    ),
                    metrics: Some(
                        METRICS
                            .iter()
                            .map(|x| MetricOutcome { metric: (*x).into(), preferred: Side::Challenger })
                            .collect(),
                    ),
                    parse_error: None,
                })
                .collect(),
        }));
    }
    v.push(Event::EvalFailed(EvalFailed {
        eval_id,
        attempt: 1,
        fault: Fault::Miner,
        code: "x".into(),
        detail: "y".into(),
        requeued: false,
    }));
    if k.is_multiple_of(3) {
        v.push(Event::KingCrowned(KingCrowned {
            reign: k + 1,
            eval_id: None,
            hotkey: Some(hotkey),
            model,
            replaced: None,
        }));
    }
    v
}

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
    let (mut k, mut n) = (0u64, 1u64);
    while n < target {
        k += 1;
        for e in eval_events(k) {
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
