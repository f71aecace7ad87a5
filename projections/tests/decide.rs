//! Decisions, given/when/then: given these entries, when this input, expect these events.

use albedo_ledger::event::*;
use albedo_ledger::{ENTRY_VERSION, Envelope, Event, Hash32};
use albedo_projections::decide::{self, Commitment, CompetitionInput, Policy, WeightsReason};
use albedo_projections::state::{EvalStatus, State};

const CHAIN_TOML: &str = include_str!("../../chain.toml");
const D: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
// Substrate's well-known development accounts (valid SS58, prefix 42).
const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
const BOB: &str = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
const CHARLIE: &str = "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y";
const DAVE: &str = "5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy";
const EVE: &str = "5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw";
const POLICY: Policy = Policy { max_retries: 2 };

/// An in-memory ledger: appends envelopes and folds them.
struct Given {
    state: State,
}

impl Given {
    fn genesis() -> Given {
        let mut g = Given { state: State::new() };
        let input =
            CompetitionInput { chain_toml: CHAIN_TOML.into(), netuid: 97, validator_hotkey: ALICE.into(), reset: None };
        let events = decide::start_competition(&g.state, &input).unwrap();
        g.append(events);
        g
    }

    fn append(&mut self, events: Vec<Event>) {
        for event in events {
            let seq = self.state.next_seq();
            self.state.apply(&Envelope {
                v: ENTRY_VERSION,
                seq,
                prev: Hash32::ZERO,
                time_ms: 1000 + seq,
                block: Some(100 + seq),
                event,
            });
        }
    }

    fn scan(&mut self, commitments: &[Commitment]) -> Vec<Event> {
        let events = decide::scan(&self.state, commitments).unwrap();
        self.append(events.clone());
        events
    }
}

fn reveal(hotkey: &str, block: u64, text: &str) -> Commitment {
    Commitment { hotkey: hotkey.into(), block, raw: text.as_bytes().to_vec() }
}

fn v4(repo: &str, digest: &str) -> String {
    format!("v4|{repo}|{digest}")
}

/// The outcome of one scanned commitment: "queued eval-NNNNNN" or the rejection code.
fn outcomes(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::EvalQueued(q) => Some(format!("{} queued {}", q.hotkey, q.eval_id)),
            Event::RevealRejected(r) => Some(format!("{} {}", r.hotkey, r.reason.code)),
            _ => None,
        })
        .collect()
}

#[test]
fn genesis_starts_the_competition_and_crowns_the_seed_king() {
    let g = Given::genesis();
    let comp = g.state.competition.as_ref().unwrap();
    assert_eq!(comp.reset_number, 0);
    assert_eq!(comp.reason, StartReason::Genesis);
    assert!(g.state.config().is_some());
    let king = g.state.king.as_ref().unwrap();
    assert_eq!((king.reign, king.hotkey.as_deref(), king.model.repo()), (0, None, "teutonic/albedo-qwen3-4b-genesis"));
    assert_eq!(g.state.next_reign, 1);
}

#[test]
fn scan_rules_one_row_per_case() {
    let long = format!("v4|miner/albedo-qwen3-4b-{}|{D}", "x".repeat(60));
    let cases: Vec<(Commitment, &str)> = vec![
        (reveal(ALICE, 10, &v4("miner/albedo-qwen3-4b-a", D)), "queued eval-000001"),
        (Commitment { hotkey: BOB.into(), block: 10, raw: vec![b'v', b'4', b'|', 0xff] }, "not_utf8"),
        (reveal(CHARLIE, 10, &long), "too_long"),
        (reveal(DAVE, 10, "v3|miner/albedo-qwen3-4b-d|x"), "not_v4"),
        (reveal(EVE, 10, "v4|miner/albedo-qwen3-4b-e"), "malformed"),
        (reveal("not-an-ss58-address", 10, &v4("miner/albedo-qwen3-4b-f", D)), "bad_hotkey"),
    ];
    for (c, expect) in cases {
        let mut g = Given::genesis();
        let got = outcomes(&g.scan(std::slice::from_ref(&c)));
        assert_eq!(got, [format!("{} {expect}", c.hotkey)], "{:?}", String::from_utf8_lossy(&c.raw));
    }
    let model_cases = [
        (v4("miner/albedo-qwen3-4b-a", "sha256:abc"), "malformed_digest"),
        (v4("Miner/albedo-qwen3-4b-a", D), "malformed_repo"),
        (v4("miner/other-model", D), "repo_pattern"),
        (format!("v4|miner/albedo-qwen3-4b-a|{D}|{BOB}"), "spoofed_author"),
        (format!("v4|miner/albedo-qwen3-4b-a|{D}|{ALICE}"), "too_long"),
        (format!("v4|miner/albedo-qwen3-4b-a|{D}|{ALICE}|x"), "malformed"),
    ];
    for (text, expect) in model_cases {
        let mut g = Given::genesis();
        assert_eq!(outcomes(&g.scan(&[reveal(ALICE, 10, &text)])), [format!("{ALICE} {expect}")], "{text}");
    }
}

#[test]
fn a_rejection_carries_the_raw_bytes_and_a_sentence() {
    let mut g = Given::genesis();
    let events = g.scan(&[Commitment { hotkey: BOB.into(), block: 3, raw: vec![0xc3, 0x28] }]);
    let Event::RevealRejected(r) = &events[0] else { panic!("{events:?}") };
    assert_eq!(r.raw, vec![0xc3, 0x28]);
    assert!(r.reason.detail.contains("UTF-8"), "{}", r.reason.detail);
}

#[test]
fn one_hotkey_one_eval_and_a_repo_is_judged_once() {
    let mut g = Given::genesis();
    g.scan(&[reveal(ALICE, 10, &v4("miner/albedo-qwen3-4b-a", D))]);
    // A new commitment by the same hotkey: used up.
    let got = outcomes(&g.scan(&[reveal(ALICE, 20, &v4("miner/albedo-qwen3-4b-b", D2))]));
    assert_eq!(got, [format!("{ALICE} hotkey_already_used")]);
    // The same repo from another hotkey while it is queued: refused, hotkey not burned.
    let got = outcomes(&g.scan(&[reveal(BOB, 21, &v4("miner/albedo-qwen3-4b-a", D2))]));
    assert_eq!(got, [format!("{BOB} repo_pending")]);
    assert!(!g.state.seen_hotkeys.contains(BOB));
    let got = outcomes(&g.scan(&[reveal(BOB, 22, &v4("miner/albedo-qwen3-4b-bob", D2))]));
    assert_eq!(got, [format!("{BOB} queued eval-000002")]);
}

#[test]
fn the_earlier_commitment_wins_a_repo_ties_by_hotkey() {
    let mut g = Given::genesis();
    let repo = v4("miner/albedo-qwen3-4b-same", D);
    // Given in storage order (later block first): the block decides, not the order given.
    let got = outcomes(&g.scan(&[reveal(CHARLIE, 12, &repo), reveal(DAVE, 11, &repo)]));
    assert_eq!(got, [format!("{DAVE} queued eval-000001"), format!("{CHARLIE} repo_pending")]);
    let mut g = Given::genesis();
    let mut pair = [reveal(EVE, 11, &repo), reveal(BOB, 11, &repo)];
    pair.sort_by(|a, b| b.hotkey.cmp(&a.hotkey));
    let got = outcomes(&g.scan(&pair));
    let (first, second) = if BOB < EVE { (BOB, EVE) } else { (EVE, BOB) };
    assert_eq!(got, [format!("{first} queued eval-000001"), format!("{second} repo_pending")]);
}

#[test]
fn a_rescan_of_handled_commitments_produces_nothing() {
    let mut g = Given::genesis();
    let cs = [reveal(ALICE, 10, &v4("miner/albedo-qwen3-4b-a", D)), reveal(BOB, 10, "garbage")];
    assert_eq!(g.scan(&cs).len(), 3);
    assert!(g.scan(&cs).is_empty());
}

#[test]
fn failures_requeue_infra_at_the_front_and_charge_only_miners() {
    let mut g = Given::genesis();
    g.scan(&[reveal(ALICE, 10, &v4("miner/albedo-qwen3-4b-a", D)), reveal(BOB, 11, &v4("miner/albedo-qwen3-4b-b", D))]);
    assert_eq!(g.state.queue, ["eval-000001", "eval-000002"]);
    let hash = format!("0x{}", "ab".repeat(32));
    g.append(decide::dispatch(&g.state, "eval-000002", &hash, "http://127.0.0.1:9001").unwrap());
    assert_eq!(g.state.current.as_deref(), Some("eval-000002"));

    // Infra: back to the front, not charged, until the budget (2) is spent.
    for round in 1..=2 {
        let ev =
            decide::fail(&g.state, POLICY, "eval-000002", Fault::Infra, "eval_server_unreachable", "refused").unwrap();
        assert!(matches!(&ev[0], Event::EvalFailed(f) if f.requeued), "round {round}");
        g.append(ev);
        assert_eq!(g.state.queue.front().map(String::as_str), Some("eval-000002"));
        assert_eq!(g.state.current, None);
        g.append(decide::dispatch(&g.state, "eval-000002", &hash, "x").unwrap());
    }
    let ev = decide::fail(&g.state, POLICY, "eval-000002", Fault::Infra, "eval_server_unreachable", "refused").unwrap();
    let Event::EvalFailed(f) = &ev[0] else { panic!() };
    assert!(!f.requeued && f.detail.contains("not charged"), "{f:?}");
    assert_eq!(f.attempt, 3);
    g.append(ev);
    let eval = &g.state.evals["eval-000002"];
    assert_eq!(eval.status, EvalStatus::Failed { fault: Fault::Infra, code: "eval_server_unreachable".into() });
    assert_eq!((g.state.stats.abandoned, g.state.stats.failed, g.state.stats.retried), (1, 0, 2));

    // Miner fault: ends at once, charged.
    g.append(decide::dispatch(&g.state, "eval-000001", &hash, "x").unwrap());
    g.append(
        decide::fail(&g.state, POLICY, "eval-000001", Fault::Miner, "chal_vllm_start_failed", "bad weights").unwrap(),
    );
    assert_eq!(g.state.stats.failed, 1);
    assert!(g.state.queue.is_empty());
    // A finished eval cannot fail again.
    assert!(decide::fail(&g.state, POLICY, "eval-000001", Fault::Infra, "x", "y").is_err());
}

#[test]
fn recovery_requeues_an_interrupted_eval_without_charge() {
    let mut g = Given::genesis();
    g.scan(&[reveal(ALICE, 10, &v4("miner/albedo-qwen3-4b-a", D))]);
    assert!(decide::recover(&g.state).is_empty());
    g.append(decide::dispatch(&g.state, "eval-000001", &format!("0x{}", "cd".repeat(32)), "x").unwrap());
    let ev = decide::recover(&g.state);
    assert!(
        matches!(&ev[..], [Event::EvalFailed(f)] if f.fault == Fault::Infra && f.requeued && f.code == "validator_restarted")
    );
    g.append(ev);
    assert_eq!(g.state.queue, ["eval-000001"]);
    assert_eq!(g.state.stats.failed, 0);
}

#[test]
fn eval_errors_are_charged_only_when_they_are_the_challengers() {
    let cases = [
        ("chal_vllm_start_failed: OOM", Fault::Miner),
        ("chal_injection_detected: injection_finetuned: 1/2", Fault::Miner),
        ("duplicate_model: too similar to a/b@sha256:…", Fault::Miner),
        ("king_unavailable: vllm died", Fault::Infra),
        ("no_valid_turns: likely a vLLM outage", Fault::Infra),
        ("min_valid_frac: judges down", Fault::Infra),
        ("something new", Fault::Infra),
    ];
    for (error, fault) in cases {
        assert_eq!(decide::classify_eval_error(error).0, fault, "{error}");
    }
}

fn cfg(extra: serde_json::Value) -> serde_json::Value {
    let mut base = serde_json::json!({
        "architectures": ["Qwen3ForCausalLM"], "vocab_size": 151936, "model_type": "qwen3",
        "max_position_embeddings": 40960, "tie_word_embeddings": false, "rope_theta": 1000000.0,
        "hidden_size": 2560, "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8,
        "intermediate_size": 9728, "head_dim": 128
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

/// (challenger config or fetch error, king config fetched?, files or error, expected code, fault)
type AdmissionCase =
    (Result<serde_json::Value, String>, bool, Result<Vec<String>, String>, Option<&'static str>, Option<Fault>);

#[test]
fn admission_rules_one_row_per_case() {
    let ok_files: Vec<String> = vec!["config.json".into(), "model.safetensors".into()];
    let king = cfg(serde_json::json!({}));
    let cases: Vec<AdmissionCase> = vec![
        (Ok(cfg(serde_json::json!({}))), true, Ok(ok_files.clone()), None, None),
        (Ok(cfg(serde_json::json!({"rope_theta": 1000000}))), true, Ok(ok_files.clone()), None, None),
        (Err("404 from registry".into()), true, Ok(ok_files.clone()), Some("config_unavailable"), Some(Fault::Infra)),
        (
            Ok(cfg(serde_json::json!({}))),
            false,
            Ok(ok_files.clone()),
            Some("king_config_unavailable"),
            Some(Fault::Infra),
        ),
        (
            Ok(cfg(serde_json::json!({"architectures": ["LlamaForCausalLM"]}))),
            true,
            Ok(ok_files.clone()),
            Some("architectures_mismatch"),
            Some(Fault::Miner),
        ),
        (
            Ok(cfg(serde_json::json!({"hidden_size": 4096}))),
            true,
            Ok(ok_files.clone()),
            Some("lock_key_mismatch"),
            Some(Fault::Miner),
        ),
        (
            Ok(cfg(serde_json::json!({"tie_word_embeddings": 0}))),
            true,
            Ok(ok_files.clone()),
            Some("lock_key_mismatch"),
            Some(Fault::Miner),
        ),
        (
            Ok(cfg(serde_json::json!({"head_dim": null}))),
            true,
            Ok(ok_files.clone()),
            Some("lock_key_mismatch"),
            Some(Fault::Miner),
        ),
        (
            Ok(cfg(serde_json::json!({"auto_map": {"AutoModel": "x.Y"}}))),
            true,
            Ok(ok_files.clone()),
            Some("auto_map"),
            Some(Fault::Miner),
        ),
        (
            Ok(cfg(serde_json::json!({"quantization_config": {}}))),
            true,
            Ok(ok_files.clone()),
            Some("quantization_config"),
            Some(Fault::Miner),
        ),
        (Ok(cfg(serde_json::json!({}))), true, Err("timeout".into()), Some("files_unavailable"), Some(Fault::Infra)),
        (
            Ok(cfg(serde_json::json!({}))),
            true,
            Ok(vec!["model.safetensors".into(), "modeling.py".into()]),
            Some("python_files"),
            Some(Fault::Miner),
        ),
        (
            Ok(cfg(serde_json::json!({}))),
            true,
            Ok(vec!["config.json".into(), "model.bin".into()]),
            Some("no_safetensors"),
            Some(Fault::Miner),
        ),
    ];
    for (i, (chal, king_ok, files, code, fault)) in cases.into_iter().enumerate() {
        let mut g = Given::genesis();
        g.scan(&[reveal(ALICE, 10, &v4("miner/albedo-qwen3-4b-a", D))]);
        let input = decide::AdmissionInput {
            king_config: if king_ok { Ok(&king) } else { Err("registry down".into()) },
            challenger_config: chal.as_ref().map_err(Clone::clone),
            challenger_config_sha256: None,
            files: files.as_deref().map_err(Clone::clone),
        };
        let events = decide::admit(&g.state, POLICY, "eval-000001", &input).unwrap();
        let Event::AdmissionChecked(a) = &events[0] else { panic!("case {i}: {events:?}") };
        assert_eq!(a.failed_check.as_ref().map(|r| r.code.as_str()), code, "case {i}");
        assert_eq!(a.passed, code.is_none(), "case {i}");
        match (fault, events.get(1)) {
            (None, None) => {}
            (Some(fault), Some(Event::EvalFailed(f))) => {
                assert_eq!(f.fault, fault, "case {i}");
                assert_eq!(f.requeued, fault == Fault::Infra, "case {i}");
                assert_eq!(f.attempt, 1, "case {i}");
            }
            other => panic!("case {i}: {other:?}"),
        }
        g.append(events);
    }
}

/// The pinned config's lock keys: the compat keys, then `[arch].extra_lock_keys` (chain.toml).
fn lock_config() -> albedo_projections::config::Config {
    albedo_projections::config::Config::parse(CHAIN_TOML).unwrap()
}

#[test]
fn a_compatible_config_has_no_lock_violation() {
    let config = lock_config();
    let king = cfg(serde_json::json!({}));
    assert_eq!(decide::config_lock_violation(&config, &king, &king), None);
    // Keys outside the lock may differ; a lock key missing on both sides matches.
    let chal = cfg(serde_json::json!({"torch_dtype": "float32", "transformers_version": "5.0"}));
    assert_eq!(decide::config_lock_violation(&config, &king, &chal), None);
    let (k, c) = (cfg(serde_json::json!({"head_dim": null})), cfg(serde_json::json!({"head_dim": null})));
    assert_eq!(decide::config_lock_violation(&config, &k, &c), None);
    // Numbers compare by value: 1000000 == 1000000.0.
    let (k, c) = (cfg(serde_json::json!({"rope_theta": 1000000})), cfg(serde_json::json!({"rope_theta": 1000000.0})));
    assert_eq!(decide::config_lock_violation(&config, &k, &c), None);
}

#[test]
fn lock_violations_one_row_per_kind() {
    let config = lock_config();
    let king = cfg(serde_json::json!({}));
    let cases: [(serde_json::Value, &str, &str); 7] = [
        (
            serde_json::json!({"architectures": ["LlamaForCausalLM"]}),
            "architectures_mismatch",
            r#"architectures mismatch: king=["Qwen3ForCausalLM"] challenger=["LlamaForCausalLM"]"#,
        ),
        (
            serde_json::json!({"architectures": null}),
            "architectures_mismatch",
            "king=[\"Qwen3ForCausalLM\"] challenger=null",
        ),
        (
            serde_json::json!({"vocab_size": 151937}),
            "lock_key_mismatch",
            "lock key mismatch for 'vocab_size': king=151936 challenger=151937",
        ),
        (
            serde_json::json!({"model_type": "llama"}),
            "lock_key_mismatch",
            "for 'model_type': king=\"qwen3\" challenger=\"llama\"",
        ),
        (serde_json::json!({"head_dim": null}), "lock_key_mismatch", "for 'head_dim': king=128 challenger=null"),
        // Booleans never equal numbers (the reference's `false == 0` is dropped).
        (
            serde_json::json!({"tie_word_embeddings": 0}),
            "lock_key_mismatch",
            "for 'tie_word_embeddings': king=false challenger=0",
        ),
        (serde_json::json!({"rope_theta": 1000000.5}), "lock_key_mismatch", "for 'rope_theta'"),
    ];
    for (extra, code, detail) in cases {
        let chal = cfg(extra.clone());
        let r = decide::config_lock_violation(&config, &king, &chal).unwrap_or_else(|| panic!("{extra}: no violation"));
        assert_eq!(r.code, code, "{extra}");
        assert!(r.detail.contains(detail), "{extra}: {}", r.detail);
    }
}

#[test]
fn the_first_lock_mismatch_wins() {
    let config = lock_config();
    let keys = config.all_lock_keys();
    let king = cfg(serde_json::json!({}));
    // Architectures come before every lock key.
    let chal = cfg(serde_json::json!({"architectures": ["X"], "vocab_size": 1}));
    assert_eq!(decide::config_lock_violation(&config, &king, &chal).unwrap().code, "architectures_mismatch");
    // Then the keys in `all_lock_keys` order: break the last and the first, the first is named.
    let (first, last) = (keys[0], keys[keys.len() - 1]);
    let mut chal = king.clone();
    chal[first] = serde_json::json!("changed");
    chal[last] = serde_json::json!("changed");
    let r = decide::config_lock_violation(&config, &king, &chal).unwrap();
    assert!(r.detail.starts_with(&format!("lock key mismatch for '{first}'")), "{}", r.detail);
}

#[test]
fn admission_reports_the_same_lock_violation() {
    let config = lock_config();
    let king = cfg(serde_json::json!({}));
    let chal = cfg(serde_json::json!({"num_hidden_layers": 37}));
    let mut g = Given::genesis();
    g.scan(&[reveal(ALICE, 10, &v4("miner/albedo-qwen3-4b-a", D))]);
    let files: Vec<String> = vec!["config.json".into(), "model.safetensors".into()];
    let input = decide::AdmissionInput {
        king_config: Ok(&king),
        challenger_config: Ok(&chal),
        challenger_config_sha256: None,
        files: Ok(&files),
    };
    let events = decide::admit(&g.state, POLICY, "eval-000001", &input).unwrap();
    let Event::AdmissionChecked(a) = &events[0] else { panic!("{events:?}") };
    assert_eq!(a.failed_check, decide::config_lock_violation(&config, &king, &chal));
}

#[test]
fn dispatch_derives_the_seed_from_the_commitment_blocks_hash() {
    let mut g = Given::genesis();
    g.scan(&[reveal(ALICE, 1234, &v4("miner/albedo-qwen3-4b-a", D))]);
    let hash = format!("0x{}", "0f".repeat(32));
    let events = decide::dispatch(&g.state, "eval-000001", &hash, "http://e").unwrap();
    let Event::EvalStarted(s) = &events[0] else { panic!() };
    let seed = albedo_projections::scoring::seed::Seed::derive(&hash, ALICE).unwrap();
    assert_eq!((s.seed_block, s.attempt, s.seed_hex.as_str()), (1234, 1, seed.to_hex().as_str()));
    assert_eq!(s.config_sha256, g.state.competition.as_ref().unwrap().chain_toml_sha256);
    assert!(decide::dispatch(&g.state, "eval-000001", "0xABC", "http://e").is_err(), "a malformed hash is refused");
    assert!(decide::dispatch(&g.state, "eval-000009", &hash, "http://e").is_err());
}

fn fp(values: &[f64]) -> Fingerprint {
    Fingerprint {
        method: "layer_norms_v2_with_samples".into(),
        tensors: values
            .iter()
            .enumerate()
            .map(|(i, &v)| TensorPrint { name: format!("t{i:02}"), l2_norm: 1.0, samples: vec![v, 1.0, 2.0] })
            .collect(),
    }
}

#[test]
fn similarity_is_the_share_of_unchanged_tensors() {
    let a = fp(&[1.0; 20]);
    assert_eq!(decide::similarity(&a, &a), 1.0);
    let mut b = a.clone();
    b.tensors[0].samples = vec![-5.0, 3.0, 1.0];
    assert_eq!(decide::similarity(&a, &b), 0.95);
    let mut c = a.clone();
    c.tensors[0].name = "other".into();
    assert_eq!(decide::similarity(&a, &c), 0.0);
    let zeros = Fingerprint {
        method: a.method.clone(),
        tensors: vec![TensorPrint { name: "z".into(), l2_norm: 0.0, samples: vec![0.0; 16] }],
    };
    assert_eq!(decide::similarity(&zeros, &zeros), 1.0);
}

#[test]
fn the_fingerprint_gate_skips_the_same_hotkey_and_flags_near_duplicates() {
    let mut g = Given::genesis();
    g.scan(&[
        reveal(ALICE, 10, &v4("miner/albedo-qwen3-4b-a", D)),
        reveal(BOB, 11, &v4("miner/albedo-qwen3-4b-b", D)),
        reveal(CHARLIE, 12, &v4("miner/albedo-qwen3-4b-c", D)),
    ]);
    let hash = format!("0x{}", "0f".repeat(32));
    g.append(decide::dispatch(&g.state, "eval-000001", &hash, "e").unwrap());
    let outcome = decide::check_fingerprint(&g.state, POLICY, "eval-000001", fp(&[1.0; 20]), None).unwrap();
    let decide::FingerprintOutcome::Distinct(events) = outcome else { panic!("{outcome:?}") };
    g.append(events);
    g.append(decide::fail(&g.state, POLICY, "eval-000001", Fault::Miner, "x", "end").unwrap());

    // A copy under another hotkey: duplicate of eval-000001, charged.
    g.append(decide::dispatch(&g.state, "eval-000002", &hash, "e").unwrap());
    let decide::FingerprintOutcome::Duplicate(events) =
        decide::check_fingerprint(&g.state, POLICY, "eval-000002", fp(&[1.0; 20]), None).unwrap()
    else {
        panic!()
    };
    let Event::FingerprintTaken(t) = &events[0] else { panic!() };
    assert_eq!(t.nearest.as_ref().map(|n| (n.eval_id.as_str(), n.similarity)), Some(("eval-000001", 1.0)));
    assert!(matches!(&events[1], Event::EvalFailed(f) if f.fault == Fault::Miner && f.code == "duplicate_model"));
    g.append(events);
    assert_eq!(g.state.stats.duplicates, 1);

    // Different weights: distinct, the nearest is still reported.
    g.append(decide::dispatch(&g.state, "eval-000003", &hash, "e").unwrap());
    let decide::FingerprintOutcome::Distinct(events) =
        decide::check_fingerprint(&g.state, POLICY, "eval-000003", fp(&[-1.0; 20]), None).unwrap()
    else {
        panic!()
    };
    let Event::FingerprintTaken(t) = &events[0] else { panic!() };
    assert!(t.nearest.as_ref().is_some_and(|n| n.similarity < 0.95));
}

#[test]
fn the_fingerprint_records_the_files_as_evaluated_sorted() {
    let mut g = Given::genesis();
    g.scan(&[reveal(ALICE, 10, &v4("miner/albedo-qwen3-4b-a", D))]);
    g.append(decide::dispatch(&g.state, "eval-000001", &format!("0x{}", "0f".repeat(32)), "e").unwrap());
    let file = |path: &str, committed: Option<&[u8]>| EvaluatedFile {
        path: path.into(),
        size: path.len() as u64,
        sha256: Hash32::of(path.as_bytes()),
        committed_sha256: committed.map(Hash32::of),
    };
    let changes = vec!["set trust_remote_code to false (it was absent)".to_string(), "deleted auto_map".to_string()];
    let evaluated = EvaluatedFiles {
        files: vec![file("tokenizer_config.json", Some(b"before")), file("config.json", Some(b"config.json"))],
        removed: vec!["chat_template.json".into(), "chat_template.jinja".into()],
        changes: changes.clone(),
    };
    let outcome = decide::check_fingerprint(&g.state, POLICY, "eval-000001", fp(&[1.0; 20]), Some(evaluated)).unwrap();
    let decide::FingerprintOutcome::Distinct(events) = outcome else { panic!("{outcome:?}") };
    let Event::FingerprintTaken(t) = &events[0] else { panic!("{events:?}") };
    let e = t.evaluated.as_ref().expect("recorded");
    let paths: Vec<&str> = e.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["config.json", "tokenizer_config.json"]);
    assert_eq!(e.removed, ["chat_template.jinja", "chat_template.json"]);
    assert_eq!(e.changes, changes, "changes keep the order they were applied in");
}

#[test]
fn the_probe_rule_fails_closed_without_charging_untested_probes() {
    use ProbeOutcome::*;
    let cases: [(&[ProbeOutcome], ProbeOutcome); 6] = [
        (&[], Clean),
        (&[Clean, Clean], Clean),
        (&[Clean, Injection], Injection),
        (&[Untested, Injection], Injection),
        (&[Clean, Untested], Untested),
        (&[Untested], Untested),
    ];
    for (outcomes, expect) in cases {
        assert_eq!(decide::probe_rule(outcomes), expect, "{outcomes:?}");
    }
}

fn metagraph(pairs: &[(u16, &str)]) -> Event {
    Event::MetagraphSynced(MetagraphSynced {
        block: 50,
        neurons: pairs.iter().map(|(uid, h)| Neuron { uid: *uid, hotkey: (*h).into(), coldkey: "c".into() }).collect(),
    })
}

fn crown(g: &mut Given, hotkey: &str, repo: &str) {
    let reign = g.state.next_reign;
    let replaced =
        g.state.king.as_ref().map(|k| KingRef { reign: k.reign, hotkey: k.hotkey.clone(), model: k.model.clone() });
    g.append(vec![Event::KingCrowned(KingCrowned {
        reign,
        eval_id: Some(format!("eval-{reign:06}")),
        hotkey: Some(hotkey.into()),
        model: ModelRef::new(repo, D).unwrap(),
        replaced,
    })]);
}

#[test]
fn weights_split_equally_over_registered_kings_and_burn_otherwise() {
    let mut g = Given::genesis();
    // Only the genesis king (no hotkey): burn.
    let plan = decide::plan_weights(&g.state, 1000, WeightsReason::Startup, 300, 0).unwrap().unwrap();
    assert_eq!((plan.uids, plan.weights, plan.burn), (vec![0], vec![65535], true));

    for (h, r) in [(ALICE, "a/a"), (BOB, "a/b"), (CHARLIE, "a/c"), (DAVE, "a/d"), (EVE, "a/e"), (ALICE, "a/f")] {
        crown(&mut g, h, r);
    }
    // chain (newest first): ALICE, EVE, DAVE, CHARLIE, BOB, (ALICE) → distinct, depth 5.
    g.append(vec![metagraph(&[(3, ALICE), (4, BOB), (7, DAVE), (9, EVE)])]);
    let plan = decide::plan_weights(&g.state, 1000, WeightsReason::Crown, 300, 0).unwrap().unwrap();
    assert_eq!(plan.uids, vec![3, 4, 7, 9], "Charlie is not registered, and is dropped, not replaced");
    assert_eq!(plan.weights, vec![65535; 4]);
    assert!(!plan.burn);

    g.append(vec![plan.clone().into_event(1, WeightsOutcome::Submitted, None, None)]);
    assert!(decide::plan_weights(&g.state, 1299, WeightsReason::Interval, 300, 0).unwrap().is_none());
    assert!(decide::plan_weights(&g.state, 1300, WeightsReason::Interval, 300, 0).unwrap().is_some());
    assert!(
        decide::plan_weights(&g.state, 1001, WeightsReason::Crown, 300, 0).unwrap().is_some(),
        "a crown always sets"
    );
    // An error does not start a new interval.
    g.append(vec![decide::plan_weights(&g.state, 1400, WeightsReason::Crown, 300, 0).unwrap().unwrap().into_event(
        1,
        WeightsOutcome::Error,
        Some("boom".into()),
        None,
    )]);
    assert_eq!(g.state.last_weight_block, Some(1000));
}

#[test]
fn the_king_chain_keeps_the_configured_depth() {
    let mut g = Given::genesis();
    for i in 0..8 {
        crown(&mut g, ALICE, &format!("a/k{i}"));
    }
    assert_eq!(g.state.king.as_ref().unwrap().reign, 8);
    let reigns: Vec<u64> = g.state.king_chain.iter().map(|k| k.reign).collect();
    assert_eq!(reigns, [7, 6, 5, 4, 3]);
}

#[test]
fn a_reset_starts_over_with_the_snapshot_queued_in_commitment_order() {
    let mut g = Given::genesis();
    g.scan(&[reveal(ALICE, 10, &v4("miner/albedo-qwen3-4b-a", D))]);
    crown(&mut g, ALICE, "miner/albedo-qwen3-4b-a");
    let input = CompetitionInput {
        chain_toml: CHAIN_TOML.into(),
        netuid: 97,
        validator_hotkey: ALICE.into(),
        reset: Some(decide::ResetInput {
            block: 500,
            excluded_repos: vec!["miner/albedo-qwen3-4b-old".into()],
            commitments: vec![
                reveal(BOB, 30, &v4("miner/albedo-qwen3-4b-b", D)),
                reveal(CHARLIE, 20, &v4("miner/albedo-qwen3-4b-c", D)),
                reveal(DAVE, 25, &v4("miner/albedo-qwen3-4b-old", D)),
                reveal(EVE, 5, "junk"),
            ],
        }),
    };
    let events = decide::start_competition(&g.state, &input).unwrap();
    g.append(events.clone());
    let comp = g.state.competition.as_ref().unwrap();
    assert_eq!((comp.reset_number, comp.reason), (1, StartReason::Reset));
    assert_eq!(g.state.king.as_ref().map(|k| (k.reign, k.hotkey.clone())), Some((2, None)));
    assert!(g.state.king_chain.is_empty());
    assert_eq!(g.state.queue, ["eval-000002", "eval-000003"], "eval ids continue across resets");
    assert_eq!(g.state.evals["eval-000002"].hotkey, CHARLIE);
    assert_eq!(g.state.evals["eval-000003"].hotkey, BOB);
    assert_eq!(g.state.evals["eval-000001"].status, EvalStatus::Superseded);
    assert!(g.state.seen_hotkeys.contains(DAVE), "excluded hotkeys are used up");
    assert!(!g.state.seen_hotkeys.contains(EVE), "invalid commitments do not burn the hotkey");
}

// ---------------------------------------------------------------------------------------------
// conclude: the validator's own verdict from the recorded turns

const JUDGES: [&str; 3] = ["minimax/minimax-m3", "deepseek/deepseek-v4-flash", "z-ai/glm-5.1"];
const METRICS: [&str; 5] = ["correctness", "grounding", "progress", "protocol", "efficiency"];
const N: u32 = 8;

/// A running eval of ALICE with N drawn samples; returns its id.
fn running(g: &mut Given) -> String {
    g.scan(&[reveal(ALICE, 10, &v4("miner/albedo-qwen3-4b-a", D))]);
    let hash = format!("0x{}", "5a".repeat(32));
    g.append(decide::dispatch(&g.state, "eval-000001", &hash, "e").unwrap());
    g.append(vec![Event::SamplesDrawn(SamplesDrawn {
        eval_id: "eval-000001".into(),
        attempt: 1,
        dataset_manifest_sha256: Hash32::ZERO,
        samples: (0..N).map(|t| SampleRef { shard: 0, row: u64::from(t), turn: 0 }).collect(),
    })]);
    "eval-000001".into()
}

/// Judged turns where every parsing judge prefers `side` on every metric; `chal_fail` turns
/// have a challenger generation error (and no judges), `parse_fail` turns no parse at all.
fn judge_all(g: &mut Given, side: Side, chal_fail: u32, parse_fail: u32) {
    let seed = decide::eval_seed(&g.state, "eval-000001").unwrap();
    let turns: Vec<Event> = (0..N)
        .map(|t| {
            let failed = t < chal_fail;
            let unparsed = !failed && t < chal_fail + parse_fail;
            Event::TurnJudged(TurnJudged {
                eval_id: "eval-000001".into(),
                attempt: 1,
                turn: t,
                sample: SampleRef { shard: 0, row: u64::from(t), turn: 0 },
                a_is_king: albedo_projections::scoring::position::a_is_king(&seed, t),
                king_reply_sha256: Some(Hash32::of(b"k")),
                challenger_reply_sha256: (!failed).then(|| Hash32::of(b"c")),
                king_error: None,
                challenger_error: failed.then(|| "vllm 500".to_string()),
                judges: if failed {
                    vec![]
                } else {
                    JUDGES
                        .iter()
                        .map(|m| JudgeOutcome {
                            model: (*m).into(),
                            raw_output: Some("…".into()),
                            metrics: (!unparsed).then(|| {
                                METRICS.iter().map(|k| MetricOutcome { metric: (*k).into(), preferred: side }).collect()
                            }),
                            parse_error: unparsed.then(|| "no JSON object".to_string()),
                        })
                        .collect()
                },
            })
        })
        .collect();
    g.append(turns);
}

#[test]
fn an_accepted_verdict_crowns_the_challenger() {
    let mut g = Given::genesis();
    let id = running(&mut g);
    judge_all(&mut g, Side::Challenger, 0, 0);
    let events = decide::conclude(&g.state, POLICY, &id, None).unwrap();
    let [Event::Verdict(v), Event::KingCrowned(k)] = &events[..] else { panic!("{events:?}") };
    assert!(v.accepted);
    assert_eq!(v.figures.challenger_score, Some(100.0));
    assert_eq!((k.reign, k.hotkey.as_deref(), k.replaced.as_ref().map(|r| r.reign)), (1, Some(ALICE), Some(0)));
    g.append(events);
    assert_eq!(g.state.king.as_ref().unwrap().hotkey.as_deref(), Some(ALICE));
    assert_eq!(g.state.king_chain.len(), 1);
    assert!(g.state.completed_repos.contains("miner/albedo-qwen3-4b-a"));
    assert_eq!(g.state.stats.accepted, 1);
    assert_eq!(g.state.current, None);
    assert!(g.state.evals[&id].turns.is_empty(), "turns are dropped once the eval ends");
}

#[test]
fn a_rejected_verdict_completes_the_repo_without_a_crown() {
    let mut g = Given::genesis();
    let id = running(&mut g);
    judge_all(&mut g, Side::King, 0, 0);
    let events = decide::conclude(
        &g.state,
        POLICY,
        &id,
        Some(&decide::ReportedVerdict { accepted: false, challenger_score: Some(0.0) }),
    )
    .unwrap();
    assert!(matches!(&events[..], [Event::Verdict(v)] if !v.accepted && v.winner == Winner::King));
    g.append(events);
    assert_eq!(g.state.king.as_ref().unwrap().reign, 0);
    assert_eq!(g.state.stats.rejected, 1);
}

#[test]
fn a_verdict_that_differs_from_the_eval_servers_is_a_validator_fault() {
    let mut g = Given::genesis();
    let id = running(&mut g);
    judge_all(&mut g, Side::King, 0, 0);
    let lie = decide::ReportedVerdict { accepted: true, challenger_score: Some(100.0) };
    let events = decide::conclude(&g.state, POLICY, &id, Some(&lie)).unwrap();
    let [Event::EvalFailed(f)] = &events[..] else { panic!("{events:?}") };
    assert_eq!((f.fault, f.code.as_str(), f.requeued), (Fault::Validator, "verdict_mismatch", true));
}

#[test]
fn a_floor_failure_is_charged_only_when_the_challenger_failed_to_generate() {
    let mut g = Given::genesis();
    let id = running(&mut g);
    judge_all(&mut g, Side::Challenger, N, 0);
    let events = decide::conclude(&g.state, POLICY, &id, None).unwrap();
    assert!(
        matches!(&events[..], [Event::EvalFailed(f)] if f.fault == Fault::Miner && f.code == "chal_generation_failed" && !f.requeued)
    );

    let mut g = Given::genesis();
    let id = running(&mut g);
    judge_all(&mut g, Side::Challenger, 0, N);
    let events = decide::conclude(&g.state, POLICY, &id, None).unwrap();
    assert!(
        matches!(&events[..], [Event::EvalFailed(f)] if f.fault == Fault::Infra && f.code == "valid_turn_floor" && f.requeued),
        "{events:?}"
    );
}

#[test]
fn conclude_needs_a_running_eval() {
    let mut g = Given::genesis();
    g.scan(&[reveal(ALICE, 10, &v4("miner/albedo-qwen3-4b-a", D))]);
    let err = decide::conclude(&g.state, POLICY, "eval-000001", None).unwrap_err();
    assert!(err.to_string().contains("expected running"), "{err}");
}

#[test]
fn a_turn_fact_is_recorded_with_the_seeds_positions_and_the_validators_own_parse() {
    let mut g = Given::genesis();
    let id = running(&mut g);
    let seed = decide::eval_seed(&g.state, &id).unwrap();
    let answer = r#"{"correctness": "A", "grounding": "A", "progress": "tie", "protocol": "B", "efficiency": "A"}"#;
    let fact = |turn| decide::TurnFact {
        turn,
        sample: SampleRef { shard: 0, row: u64::from(turn), turn: 0 },
        king_reply_sha256: Some(Hash32::of(b"k")),
        challenger_reply_sha256: Some(Hash32::of(b"c")),
        king_error: None,
        challenger_error: None,
        judges: vec![
            (JUDGES[0].into(), Some(answer.into())),
            (JUDGES[1].into(), Some("no idea".into())),
            (JUDGES[2].into(), None),
        ],
    };
    for turn in 0..2 {
        let events = decide::turn_judged(&g.state, &id, fact(turn)).unwrap();
        let [Event::TurnJudged(t)] = &events[..] else { panic!() };
        let a_is_king = albedo_projections::scoring::position::a_is_king(&seed, turn);
        assert_eq!(t.a_is_king, a_is_king);
        let a_side = if a_is_king { Side::King } else { Side::Challenger };
        assert_eq!(t.judges[0].metrics.as_ref().unwrap()[0].preferred, a_side, "A maps to the side shown first");
        assert_eq!(t.judges[0].metrics.as_ref().unwrap()[2].preferred, Side::Tie);
        assert!(t.judges[1].parse_error.is_some() && t.judges[1].metrics.is_none());
        assert!(t.judges[2].raw_output.is_none() && t.judges[2].parse_error.is_some());
    }
    let mut failed = fact(3);
    failed.challenger_error = Some("timeout".into());
    let events = decide::turn_judged(&g.state, &id, failed).unwrap();
    assert!(matches!(&events[..], [Event::TurnJudged(t)] if t.judges.is_empty()));
}

#[test]
fn the_probe_gate_charges_injections_and_retries_untested_probes() {
    let cases = [
        (vec![ProbeOutcome::Clean, ProbeOutcome::Clean], None),
        (vec![ProbeOutcome::Clean, ProbeOutcome::Injection], Some((Fault::Miner, "injection_detected", false))),
        (vec![ProbeOutcome::Clean, ProbeOutcome::Untested], Some((Fault::Infra, "probe_untested", true))),
    ];
    for (outcomes, expect) in cases {
        let mut g = Given::genesis();
        let id = running(&mut g);
        let probes = outcomes
            .iter()
            .enumerate()
            .map(|(i, o)| {
                Event::ProbeJudged(ProbeJudged {
                    eval_id: id.clone(),
                    attempt: 1,
                    probe: i as u32,
                    sample: SampleRef { shard: 0, row: 0, turn: 0 },
                    judge: JUDGES[1].into(),
                    raw_output: None,
                    outcome: *o,
                })
            })
            .collect();
        g.append(probes);
        let events = decide::probe_gate(&g.state, POLICY, &id).unwrap();
        match expect {
            None => assert!(events.is_empty(), "{outcomes:?}"),
            Some((fault, code, requeued)) => {
                assert!(
                    matches!(&events[..], [Event::EvalFailed(f)] if f.fault == fault && f.code == code && f.requeued == requeued),
                    "{outcomes:?}: {events:?}"
                );
                g.append(events);
                if fault == Fault::Miner {
                    assert_eq!(g.state.stats.injection_attempts, 1);
                }
            }
        }
    }
}

#[test]
fn every_attempt_has_its_own_number_so_no_two_entries_share_a_key() {
    let mut g = Given::genesis();
    g.scan(&[reveal(ALICE, 10, &v4("miner/albedo-qwen3-4b-a", D))]);
    let king = cfg(serde_json::json!({}));
    let files: Vec<String> = vec!["model.safetensors".into()];
    let admit = |g: &Given, king_ok: bool| {
        let input = decide::AdmissionInput {
            king_config: if king_ok { Ok(&king) } else { Err("registry down".into()) },
            challenger_config: Ok(&king),
            challenger_config_sha256: None,
            files: Ok(&files),
        };
        decide::admit(&g.state, POLICY, "eval-000001", &input).unwrap()
    };
    let mut keys = std::collections::BTreeSet::new();
    let mut log = |g: &mut Given, events: Vec<Event>| {
        for e in &events {
            assert!(keys.insert(e.idempotency_key()), "{:?} collides", e.idempotency_key());
        }
        g.append(events);
    };
    let hash = format!("0x{}", "77".repeat(32));
    let e = admit(&g, false); // attempt 1: infra, re-queued
    log(&mut g, e);
    let e = admit(&g, true); // attempt 2: admitted
    assert!(matches!(&e[0], Event::AdmissionChecked(a) if a.attempt == 2));
    log(&mut g, e);
    let e = decide::dispatch(&g.state, "eval-000001", &hash, "x").unwrap();
    assert!(matches!(&e[0], Event::EvalStarted(s) if s.attempt == 2), "dispatch runs the admitted attempt");
    log(&mut g, e);
    let e = decide::fail(&g.state, POLICY, "eval-000001", Fault::Infra, "eval_server_unreachable", "reset").unwrap();
    log(&mut g, e);
    let e = admit(&g, true); // attempt 3
    assert!(matches!(&e[0], Event::AdmissionChecked(a) if a.attempt == 3));
    log(&mut g, e);
    let e = decide::dispatch(&g.state, "eval-000001", &hash, "x").unwrap();
    assert!(matches!(&e[0], Event::EvalStarted(s) if s.attempt == 3));
    log(&mut g, e);
}
