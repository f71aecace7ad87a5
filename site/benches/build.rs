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
const JUDGES: [&str; 3] = ["minimax/minimax-m3", "deepseek/deepseek-v4-flash", "z-ai/glm-5.1"];
const METRICS: [&str; 5] = ["correctness", "grounding", "progress", "protocol", "efficiency"];
/// 2026-11-20T12:00:00Z; each entry is written 1 s after the one before.
const START_MS: u64 = 1_795_176_000_000;

fn named(names: &[&str], base: f64) -> Vec<NamedScore> {
    names.iter().enumerate().map(|(i, n)| NamedScore { name: (*n).into(), score: base + i as f64 * 0.75 }).collect()
}

/// A verdict with every figure a page shows, varied per eval.
fn verdict(eval_id: &str, k: u64, accepted: bool) -> Verdict {
    let challenger = if accepted { 55.0 + (k % 20) as f64 } else { 30.0 + (k % 22) as f64 };
    let share = |n: u64| Some(0.3 + (n % 50) as f64 / 100.0);
    Verdict {
        eval_id: eval_id.into(),
        attempt: 1,
        figures: VerdictFigures {
            n_samples: 128,
            n_done: 128,
            n_valid: 120,
            generation_errors: 0,
            challenger_score: Some(challenger),
            king_score: Some(100.0 - challenger),
            by_judge: named(&JUDGES, challenger - 0.75),
            by_metric: named(&METRICS, challenger - 1.5),
            mean_delta: (challenger - 50.0) / 100.0,
            se: 0.012,
            lcb: (challenger - 52.0) / 100.0,
            win_margin: "2.0".into(),
            gate_alpha: "0.05".into(),
            floor_ok: true,
            margin_ok: accepted,
            lcb_ok: accepted,
            judge_models: JUDGES.iter().map(|j| (*j).into()).collect(),
            informational: Some(Informational {
                position_bias: JUDGES
                    .iter()
                    .map(|j| PositionBias {
                        judge: (*j).into(),
                        favoured_a: 60,
                        favoured_b: 58,
                        a_share: Some(0.5085),
                        p_value: 0.9267,
                    })
                    .collect(),
                normal_lcb: (challenger - 52.1) / 100.0,
                agreement: Agreement { pairs: 600, agreed: 300, share: share(k) },
                pairwise_agreement: vec![
                    PairAgreement {
                        first: JUDGES[0].into(),
                        second: JUDGES[1].into(),
                        pairs: 600,
                        agreed: 360,
                        share: share(k + 20),
                    },
                    PairAgreement {
                        first: JUDGES[0].into(),
                        second: JUDGES[2].into(),
                        pairs: 600,
                        agreed: 350,
                        share: share(k + 17),
                    },
                    PairAgreement {
                        first: JUDGES[1].into(),
                        second: JUDGES[2].into(),
                        pairs: 600,
                        agreed: 370,
                        share: share(k + 23),
                    },
                ],
            }),
        },
        accepted,
        winner: if challenger > 50.0 { Winner::Challenger } else { Winner::King },
    }
}

fn eval_events(k: u64, reign: &mut u64) -> Vec<Event> {
    let eval_id = format!("eval-{k:06}");
    let hotkey = format!("5Hotkey{k:040}");
    let model = ModelRef::new(format!("miner/albedo-qwen3-4b-{k}"), D).unwrap();
    let king = ModelRef::new("teutonic/albedo-qwen3-4b-genesis", D).unwrap();
    let sample = |t: u32| SampleRef { shard: t % 31, row: u64::from(t) * 97, turn: t % 10 };
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
            seed_block_hash: format!("0x{}", Hash32::of(&k.to_le_bytes()).to_hex()),
            seed_hex: "cd".repeat(64),
            eval_server: "http://127.0.0.1:9001".into(),
            config_sha256: Hash32::of(CHAIN_TOML.as_bytes()),
        }),
        Event::SamplesDrawn(SamplesDrawn {
            eval_id: eval_id.clone(),
            attempt: 1,
            dataset_manifest_sha256: Hash32::of(b"m"),
            samples: (0..128).map(sample).collect(),
        }),
    ];
    for t in 0..128u32 {
        v.push(Event::TurnJudged(TurnJudged {
            eval_id: eval_id.clone(),
            attempt: 1,
            turn: t,
            sample: sample(t),
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
    if k.is_multiple_of(5) {
        v.push(Event::EvalFailed(EvalFailed {
            eval_id,
            attempt: 1,
            fault: if k.is_multiple_of(10) { Fault::Infra } else { Fault::Miner },
            code: "generation_failed".into(),
            detail: "the challenger produced no reply on most turns".into(),
            requeued: false,
        }));
    } else {
        let accepted = k.is_multiple_of(3);
        v.push(Event::Verdict(verdict(&eval_id, k, accepted)));
        if accepted {
            *reign += 1;
            v.push(Event::KingCrowned(KingCrowned {
                reign: *reign,
                eval_id: Some(eval_id),
                hotkey: Some(hotkey),
                model,
                replaced: None,
            }));
        }
    }
    v
}

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
        for e in eval_events(k, &mut reign) {
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
