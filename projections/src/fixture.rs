//! A small, fixed competition (feature `testkit`), produced by running the real decisions:
//! genesis, reveals (some refused), admissions (one refused, one infra retry), duels judged
//! turn by turn, two crowns, a rejection, a near-duplicate, weights, and an eval still in flight
//! at the end. Golden files, the site's browser test and the determinism tests build from it.
//! Every time and block is fixed, so the same drafts come out on every machine.

use albedo_ledger::event::*;
use albedo_ledger::{Draft, ENTRY_VERSION, Envelope, Event, Hash32};

use crate::decide::{self, AdmissionInput, Commitment, CompetitionInput, Policy, TurnFact, WeightsReason};
use crate::state::State;

/// 2026-11-20T12:00:00Z.
pub const START_MS: u64 = 1_795_176_000_000;
pub const START_BLOCK: u64 = 8_326_400;
const POLICY: Policy = Policy { max_retries: 3 };
const CHAIN_TOML: &str = include_str!("../../chain.toml");
const METRICS: [&str; 5] = ["correctness", "grounding", "progress", "protocol", "efficiency"];

/// Substrate's well-known development accounts (valid SS58, prefix 42).
pub const HOTKEYS: [&str; 8] = [
    "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
    "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
    "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y",
    "5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy",
    "5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw",
    "5CiPPseXPECbkjWCa6MnjNokrgYjMqmKndv2rSnekmSK2DjL",
    "5GNJqTPyNqANBkUVMN1LPPrxXnFouWXoe2wNSmmEoLctxiZY",
    "5HpG9w8EBLe5XCrbczpwq5TSXvedjrBGCwqxK1iQ7qUsSWFc",
];

struct Driver {
    state: State,
    drafts: Vec<Draft>,
    time_ms: u64,
    block: u64,
}

impl Driver {
    fn push(&mut self, events: Vec<Event>) {
        for event in events {
            self.time_ms += 7_000;
            self.block += 1;
            let env = Envelope {
                v: ENTRY_VERSION,
                seq: self.state.next_seq(),
                prev: Hash32::ZERO,
                time_ms: self.time_ms,
                block: Some(self.block),
                event,
            };
            self.state.apply(&env);
            self.drafts.push(Draft { time_ms: env.time_ms, block: env.block, event: env.event });
        }
    }

    fn wait(&mut self, minutes: u64) {
        self.time_ms += minutes * 60_000;
        self.block += minutes * 5;
    }

    fn admit(&mut self, eval_id: &str, king_ok: bool, files: &[&str]) {
        let config = serde_json::json!({"architectures": ["Qwen3ForCausalLM"], "vocab_size": 151936, "model_type": "qwen3",
            "max_position_embeddings": 40960, "tie_word_embeddings": false, "rope_theta": 1000000.0, "hidden_size": 2560,
            "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 9728, "head_dim": 128});
        let files: Vec<String> = files.iter().map(|f| f.to_string()).collect();
        let input = AdmissionInput {
            king_config: if king_ok { Ok(&config) } else { Err("registry answered 503".into()) },
            challenger_config: Ok(&config),
            challenger_config_sha256: Some(Hash32::of(config.to_string().as_bytes())),
            files: Ok(&files),
        };
        let events = decide::admit(&self.state, POLICY, eval_id, &input).expect("admission decides");
        self.push(events);
    }

    fn start(&mut self, eval_id: &str, n: u32) {
        let block = self.state.evals[eval_id].commitment_block;
        let hash = format!("0x{}", Hash32::of(&block.to_le_bytes()).to_hex());
        let events = decide::dispatch(&self.state, eval_id, &hash, "http://127.0.0.1:9001").expect("dispatch");
        self.push(events);
        let attempt = self.state.evals[eval_id].attempt;
        self.push(vec![Event::SamplesDrawn(SamplesDrawn {
            eval_id: eval_id.into(),
            attempt,
            dataset_manifest_sha256: Hash32::of(b"fixture manifest"),
            samples: (0..n)
                .map(|t| SampleRef { shard: t % 4, row: u64::from(t) * 37 + block % 11, turn: t % 7 })
                .collect(),
        })]);
    }

    fn fingerprint(&mut self, eval_id: &str, flavour: f64) -> bool {
        let fp = Fingerprint {
            method: "layer_norms_v2_with_samples".into(),
            tensors: (0..4)
                .map(|t| TensorPrint {
                    name: format!("model.layers.{t}.mlp.up_proj.weight"),
                    l2_norm: 40.0 + f64::from(t),
                    samples: (0..16).map(|s| ((f64::from(s) + 1.0) * flavour * f64::from(t + 1)).sin()).collect(),
                })
                .collect(),
        };
        match decide::check_fingerprint(&self.state, POLICY, eval_id, fp, None).expect("fingerprint") {
            decide::FingerprintOutcome::Distinct(e) => {
                self.push(e);
                true
            }
            decide::FingerprintOutcome::Duplicate(e) => {
                self.push(e);
                false
            }
        }
    }

    fn probes(&mut self, eval_id: &str) {
        let attempt = self.state.evals[eval_id].attempt;
        let events = (0..2)
            .map(|p| {
                Event::ProbeJudged(ProbeJudged {
                    eval_id: eval_id.into(),
                    attempt,
                    probe: p,
                    sample: SampleRef { shard: p, row: 5, turn: 1 },
                    judge: "deepseek/deepseek-v4-flash".into(),
                    raw_output: Some(r#"{"injection": false, "evidence": "none"}"#.into()),
                    outcome: ProbeOutcome::Clean,
                })
            })
            .collect();
        self.push(events);
        let gate = decide::probe_gate(&self.state, POLICY, eval_id).expect("probe gate");
        assert!(gate.is_empty(), "fixture probes are clean");
    }

    /// Judges `turns` turns; `strength` in 0..=9 is how many of every 10 metric verdicts go to
    /// the challenger (ties and king wins share the rest).
    fn duel(&mut self, eval_id: &str, turns: std::ops::Range<u32>, strength: u32) {
        let judges = self.state.config().expect("config").judge().models.clone();
        let seed = decide::eval_seed(&self.state, eval_id).expect("seed");
        for t in turns {
            let a_is_king = crate::scoring::position::a_is_king(&seed, t);
            let chal_fail = strength == 0 && t % 3 == 0;
            let fact = TurnFact {
                turn: t,
                sample: SampleRef { shard: t % 4, row: u64::from(t) * 37, turn: t % 7 },
                king_reply_sha256: Some(Hash32::of(format!("king {eval_id} {t}").as_bytes())),
                challenger_reply_sha256: (!chal_fail).then(|| Hash32::of(format!("chal {eval_id} {t}").as_bytes())),
                king_error: None,
                challenger_error: chal_fail.then(|| "vLLM returned 500".to_string()),
                judges: judges
                    .iter()
                    .enumerate()
                    .map(|(j, model)| {
                        if (t + j as u32) % 17 == 5 {
                            return (model.clone(), Some("I cannot decide.".to_string()));
                        }
                        let labels: Vec<String> = METRICS
                            .iter()
                            .enumerate()
                            .map(|(k, m)| {
                                let roll = (t * 7 + j as u32 * 3 + k as u32 * 5) % 10;
                                let side = if roll < strength {
                                    "chal"
                                } else if roll == 9 {
                                    "tie"
                                } else {
                                    "king"
                                };
                                let label = match (side, a_is_king) {
                                    ("tie", _) => "tie",
                                    ("chal", true) | ("king", false) => "B",
                                    _ => "A",
                                };
                                format!("\"{m}\": \"{label}\"")
                            })
                            .collect();
                        (model.clone(), Some(format!("{{{}}}", labels.join(", "))))
                    })
                    .collect(),
            };
            let events = decide::turn_judged(&self.state, eval_id, fact).expect("turn");
            self.push(events);
        }
    }

    fn conclude(&mut self, eval_id: &str) {
        let events = decide::conclude(&self.state, POLICY, eval_id, None).expect("conclude");
        let crowned = events.iter().any(|e| matches!(e, Event::KingCrowned(_)));
        self.push(events);
        if crowned {
            self.weights(WeightsReason::Crown);
        }
    }

    fn weights(&mut self, reason: WeightsReason) {
        if let Some(plan) = decide::plan_weights(&self.state, self.block, reason, 300, 0).expect("weights") {
            let hash = format!("0x{}", Hash32::of(&self.block.to_le_bytes()).to_hex());
            self.push(vec![plan.into_event(1, WeightsOutcome::Submitted, None, Some(hash))]);
        }
    }
}

fn reveal(hotkey: &str, block: u64, text: String) -> Commitment {
    Commitment { hotkey: hotkey.into(), block, raw: text.into_bytes() }
}

/// The fixed competition, as drafts to append in order.
pub fn small_competition() -> Vec<Draft> {
    let mut d = Driver { state: State::new(), drafts: Vec::new(), time_ms: START_MS, block: START_BLOCK };
    let input = CompetitionInput {
        chain_toml: CHAIN_TOML.into(),
        netuid: 97,
        validator_hotkey: HOTKEYS[7].into(),
        reset: None,
    };
    let events = decide::start_competition(&d.state, &input).expect("genesis");
    d.push(events);
    d.push(vec![Event::MetagraphSynced(MetagraphSynced {
        block: d.block,
        neurons: HOTKEYS[..6]
            .iter()
            .enumerate()
            .map(|(i, h)| Neuron { uid: 10 + i as u16, hotkey: (*h).into(), coldkey: HOTKEYS[(i + 1) % 8].into() })
            .collect(),
    })]);
    d.weights(WeightsReason::Startup);

    let digest = |i: u8| format!("sha256:{}", Hash32::of(&[i]).to_hex());
    d.wait(10);
    let scan = decide::scan(
        &d.state,
        &[
            reveal(HOTKEYS[0], START_BLOCK + 20, format!("v4|alice/albedo-qwen3-4b-sft1|{}", digest(1))),
            reveal(HOTKEYS[1], START_BLOCK + 22, format!("v4|bob/albedo-qwen3-4b-dpo|{}", digest(2))),
            reveal(HOTKEYS[2], START_BLOCK + 23, "v3|charlie/model|sha256:00".into()),
            reveal(HOTKEYS[3], START_BLOCK + 25, format!("v4|dave/albedo-qwen3-4b-long|{}", digest(4))),
            reveal(HOTKEYS[4], START_BLOCK + 26, format!("v4|eve/albedo-qwen3-4b-copy|{}", digest(5))),
            reveal(HOTKEYS[5], START_BLOCK + 27, format!("v4|ferdie/qwen-other|{}", digest(6))),
        ],
    )
    .expect("scan");
    d.push(scan);

    // eval-000001 (alice): a clear win, crowned.
    d.admit("eval-000001", true, &["config.json", "model.safetensors", "tokenizer.json"]);
    d.start("eval-000001", 24);
    assert!(d.fingerprint("eval-000001", 1.0));
    d.probes("eval-000001");
    d.duel("eval-000001", 0..24, 7);
    d.conclude("eval-000001");

    // eval-000002 (bob): the king holds.
    d.wait(30);
    d.admit("eval-000002", true, &["config.json", "model.safetensors"]);
    d.start("eval-000002", 24);
    assert!(d.fingerprint("eval-000002", 2.0));
    d.probes("eval-000002");
    d.duel("eval-000002", 0..24, 3);
    d.conclude("eval-000002");

    // eval-000003 (dave): the king's config is unreachable (infra, re-queued), then the eval
    // server drops (infra, re-queued), then a win: crowned.
    d.wait(30);
    d.admit("eval-000003", false, &["config.json", "model.safetensors"]);
    d.wait(5);
    d.admit("eval-000003", true, &["config.json", "model.safetensors"]);
    d.start("eval-000003", 24);
    let failed = decide::fail(
        &d.state,
        POLICY,
        "eval-000003",
        Fault::Infra,
        "eval_server_unreachable",
        "connection reset while streaming /eval",
    )
    .expect("fail");
    d.push(failed);
    d.wait(5);
    d.admit("eval-000003", true, &["config.json", "model.safetensors"]);
    d.start("eval-000003", 24);
    assert!(d.fingerprint("eval-000003", 3.0));
    d.probes("eval-000003");
    d.duel("eval-000003", 0..24, 8);
    d.conclude("eval-000003");

    // eval-000004 (eve): a copy of alice's weights: near-duplicate.
    d.wait(30);
    d.admit("eval-000004", true, &["config.json", "model.safetensors"]);
    d.start("eval-000004", 24);
    assert!(!d.fingerprint("eval-000004", 1.0));

    // Later reveals: a repo with Python files, and one in flight at the end.
    d.wait(20);
    let scan = decide::scan(
        &d.state,
        &[
            reveal(HOTKEYS[6], START_BLOCK + 900, format!("v4|grace/albedo-qwen3-4b-remote|{}", digest(7))),
            reveal(HOTKEYS[5], START_BLOCK + 901, format!("v4|ferdie/albedo-qwen3-4b-live|{}", digest(8))),
        ],
    )
    .expect("scan");
    d.push(scan);
    d.admit("eval-000005", true, &["config.json", "model.safetensors", "modeling_qwen3.py"]);
    d.admit(
        "eval-000006",
        true,
        &["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"],
    );
    d.start("eval-000006", 24);
    assert!(d.fingerprint("eval-000006", 6.0));
    d.probes("eval-000006");
    d.duel("eval-000006", 0..9, 6);
    d.drafts
}

// ---------------------------------------------------------------------------------------------
// Synthetic ledgers for benchmarks

const SYNTHETIC_DIGEST: &str = "sha256:3368b0c79b619ed90dc5610c20073cf02c3a93275ebc0c5b94a9d332fea6f606";
const SYNTHETIC_JUDGES: [&str; 3] = ["minimax/minimax-m3", "deepseek/deepseek-v4-flash", "z-ai/glm-5.1"];

fn synthetic_named(names: &[&str], base: f64) -> Vec<NamedScore> {
    names.iter().enumerate().map(|(i, n)| NamedScore { name: (*n).into(), score: base + i as f64 * 0.75 }).collect()
}

/// A verdict with every figure a page shows, varied per eval.
fn synthetic_verdict(eval_id: &str, k: u64, accepted: bool) -> Verdict {
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
            by_judge: synthetic_named(&SYNTHETIC_JUDGES, challenger - 0.75),
            by_metric: synthetic_named(&METRICS, challenger - 1.5),
            mean_delta: (challenger - 50.0) / 100.0,
            se: 0.012,
            lcb: (challenger - 52.0) / 100.0,
            win_margin: "2.0".into(),
            gate_alpha: "0.05".into(),
            floor_ok: true,
            margin_ok: accepted,
            lcb_ok: accepted,
            judge_models: SYNTHETIC_JUDGES.iter().map(|j| (*j).into()).collect(),
            informational: Some(Informational {
                position_bias: SYNTHETIC_JUDGES
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
                        first: SYNTHETIC_JUDGES[0].into(),
                        second: SYNTHETIC_JUDGES[1].into(),
                        pairs: 600,
                        agreed: 360,
                        share: share(k + 20),
                    },
                    PairAgreement {
                        first: SYNTHETIC_JUDGES[0].into(),
                        second: SYNTHETIC_JUDGES[2].into(),
                        pairs: 600,
                        agreed: 350,
                        share: share(k + 17),
                    },
                    PairAgreement {
                        first: SYNTHETIC_JUDGES[1].into(),
                        second: SYNTHETIC_JUDGES[2].into(),
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

/// The entries of one synthetic eval `k`, shaped like a real one (reveal, queue, admission,
/// start, samples, 128 judged turns × 3 judges, a verdict with every figure, a crown for some),
/// for benchmarks of the fold and the site. `reign` counts the crowns handed out so far.
pub fn synthetic_eval(k: u64, reign: &mut u64) -> Vec<Event> {
    let eval_id = format!("eval-{k:06}");
    let hotkey = format!("5Hotkey{k:040}");
    let model = ModelRef::new(format!("miner/albedo-qwen3-4b-{k}"), SYNTHETIC_DIGEST).unwrap();
    let king = ModelRef::new("teutonic/albedo-qwen3-4b-genesis", SYNTHETIC_DIGEST).unwrap();
    let sample = |t: u32| SampleRef { shard: t % 31, row: u64::from(t) * 97, turn: t % 10 };
    let mut v = vec![
        Event::RevealSeen(RevealSeen {
            hotkey: hotkey.clone(),
            commitment_block: k,
            raw: format!("v4|{}|{SYNTHETIC_DIGEST}", model.repo()),
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
            judges: SYNTHETIC_JUDGES
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
        v.push(Event::Verdict(synthetic_verdict(&eval_id, k, accepted)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::EvalStatus;

    #[test]
    fn the_fixture_tells_the_intended_story() {
        let drafts = small_competition();
        let mut state = State::new();
        for (seq, d) in drafts.iter().enumerate() {
            state.apply(&Envelope {
                v: ENTRY_VERSION,
                seq: seq as u64,
                prev: Hash32::ZERO,
                time_ms: d.time_ms,
                block: d.block,
                event: d.event.clone(),
            });
        }
        assert!(HOTKEYS.iter().all(|h| crate::ss58::is_valid(h)));
        let status = |id: &str| state.evals[id].status.clone();
        assert_eq!(status("eval-000001"), EvalStatus::Judged { accepted: true });
        assert_eq!(status("eval-000002"), EvalStatus::Judged { accepted: false });
        assert_eq!(status("eval-000003"), EvalStatus::Judged { accepted: true });
        assert_eq!(status("eval-000004"), EvalStatus::Failed { fault: Fault::Miner, code: "duplicate_model".into() });
        assert_eq!(
            status("eval-000005"),
            EvalStatus::Failed { fault: Fault::Miner, code: "admission_rejected".into() }
        );
        assert_eq!(status("eval-000006"), EvalStatus::Running);
        assert_eq!(state.evals["eval-000003"].retries, 2);
        assert_eq!(state.king.as_ref().map(|k| k.reign), Some(2));
        assert_eq!(state.king_chain.len(), 2);
        assert_eq!(state.stats.reveals_rejected, 2);
    }
}
