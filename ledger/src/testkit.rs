//! Test material (feature `testkit`): deterministic sample events of every kind, and proptest
//! strategies. Used by tests, benchmarks and the crash test's child process; never by
//! production code, which is why it sits behind a feature.

use proptest::prelude::*;

use crate::event::*;
use crate::{Draft, Hash32};

const DIGEST: &str = "sha256:3368b0c79b619ed90dc5610c20073cf02c3a93275ebc0c5b94a9d332fea6f606";

fn model(n: u64) -> ModelRef {
    ModelRef::new(format!("miner{}/albedo-qwen3-4b-v{n}", n % 7), DIGEST).expect("valid test ref")
}

/// A deterministic event for index `i`, cycling through every kind, with a unique idempotency
/// key per `i`. Sizes are close to real ones (a `turn_judged` carries three judge answers).
pub fn sample_event(i: u64) -> Event {
    let eval_id = format!("eval-{i:06}");
    let hotkey = format!("5Hotkey{i:040}");
    let sample = SampleRef { shard: (i % 31) as u32, row: i * 7919, turn: (i % 10) as u32 };
    match i % 16 {
        0 => Event::CompetitionStarted(CompetitionStarted {
            reset_number: i as u32,
            reason: if i == 0 { StartReason::Genesis } else { StartReason::Reset },
            netuid: 97,
            chain_toml: "[chain]\nname = \"Albedo\"\n".into(),
            chain_toml_sha256: Hash32::of(b"chain.toml"),
            genesis_king: model(i),
            validator_hotkey: hotkey,
            dataset_manifest_sha256: Hash32::of(b"manifest"),
            reset_snapshot: (i > 0).then(|| ResetSnapshot {
                block: i,
                excluded_hotkeys: vec!["5Excluded".into()],
                queued: vec![SnapshotReveal { hotkey: "5Q".into(), commitment_block: i, raw: b"v4|a/b|c".to_vec() }],
            }),
        }),
        1 => Event::MetagraphSynced(MetagraphSynced {
            block: i,
            neurons: (0..4).map(|u| Neuron { uid: u, hotkey: format!("5H{u}"), coldkey: format!("5C{u}") }).collect(),
        }),
        2 => Event::RevealSeen(RevealSeen {
            hotkey,
            commitment_block: i,
            raw: format!("v4|{}|{DIGEST}", model(i).repo()),
            model: model(i),
        }),
        3 => Event::RevealRejected(RevealRejected {
            hotkey,
            commitment_block: i,
            raw: vec![0xff, 0xfe, b'v', b'4'],
            reason: Reason { code: "not_utf8".into(), detail: "the commitment is not valid UTF-8".into() },
        }),
        4 => Event::EvalQueued(EvalQueued {
            eval_id,
            hotkey,
            challenger: model(i),
            commitment_block: i,
            position: QueuePosition::Back,
        }),
        5 => Event::AdmissionChecked(AdmissionChecked {
            eval_id,
            attempt: 1,
            passed: true,
            failed_check: None,
            king: model(i + 1),
            challenger_config_sha256: Some(Hash32::of(b"config.json")),
            files: vec!["config.json".into(), "model.safetensors".into(), "tokenizer.json".into()],
        }),
        6 => Event::EvalStarted(EvalStarted {
            eval_id,
            attempt: 1,
            hotkey,
            challenger: model(i),
            king: model(i + 1),
            seed_block: i,
            seed_block_hash: format!("0x{}", Hash32::of(&i.to_le_bytes()).to_hex()),
            seed_hex: format!("{}{}", Hash32::of(b"a").to_hex(), Hash32::of(b"b").to_hex()),
            eval_server: "http://127.0.0.1:9001".into(),
            config_sha256: Hash32::of(b"chain.toml"),
        }),
        7 => Event::SamplesDrawn(SamplesDrawn {
            eval_id,
            attempt: 1,
            dataset_manifest_sha256: Hash32::of(b"manifest"),
            samples: (0..8).map(|t| SampleRef { shard: t, row: i + u64::from(t), turn: t % 10 }).collect(),
        }),
        8 => Event::FingerprintTaken(FingerprintTaken {
            eval_id,
            attempt: 1,
            model: model(i),
            hotkey,
            fingerprint: Fingerprint {
                method: "layer_norms_v2_with_samples".into(),
                tensors: (0..3)
                    .map(|t| TensorPrint {
                        name: format!("model.layers.{t}.mlp.up_proj.weight"),
                        l2_norm: 12.5 + f64::from(t),
                        samples: (0..16).map(|s| f64::from(s) * 0.001).collect(),
                    })
                    .collect(),
            },
            nearest: None,
            // Every other fingerprint records the files as evaluated (older entries have none).
            evaluated: (i / 16).is_multiple_of(2).then(|| EvaluatedFiles {
                files: ["config.json", "model.safetensors", "tokenizer_config.json"]
                    .into_iter()
                    .map(|path| {
                        // Hygiene rewrote the tokenizer config: its committed digest differs.
                        let rewritten = path == "tokenizer_config.json";
                        let committed: &[u8] = if rewritten { b"as committed" } else { path.as_bytes() };
                        EvaluatedFile {
                            path: path.into(),
                            size: 1000 + path.len() as u64,
                            sha256: Hash32::of(path.as_bytes()),
                            committed_sha256: Some(Hash32::of(committed)),
                        }
                    })
                    .collect(),
                removed: vec!["chat_template.jinja".into()],
                changes: vec!["deleted auto_map".into()],
            }),
        }),
        9 => Event::ProbeJudged(ProbeJudged {
            eval_id,
            attempt: 1,
            probe: 0,
            sample,
            judge: "deepseek/deepseek-v4-flash".into(),
            raw_output: Some("{\"injection\": false}".into()),
            outcome: ProbeOutcome::Clean,
        }),
        10..=12 => Event::TurnJudged(TurnJudged {
            eval_id,
            attempt: 1,
            turn: (i % 128) as u32,
            sample,
            a_is_king: i.is_multiple_of(2),
            king_reply_sha256: Some(Hash32::of(b"king reply")),
            challenger_reply_sha256: Some(Hash32::of(b"challenger reply")),
            king_error: None,
            challenger_error: None,
            judges: ["minimax/minimax-m3", "deepseek/deepseek-v4-flash", "z-ai/glm-5.1"]
                .iter()
                .map(|m| JudgeOutcome {
                    model: (*m).into(),
                    raw_output: Some(
                        "{\"correctness\": \"A\", \"grounding\": \"B\", \"progress\": \"tie\", \"protocol\": \"A\", \"efficiency\": \"A\"}".into(),
                    ),
                    metrics: Some(
                        ["correctness", "grounding", "progress", "protocol", "efficiency"]
                            .iter()
                            .map(|k| MetricOutcome { metric: (*k).into(), preferred: Side::Challenger })
                            .collect(),
                    ),
                    parse_error: None,
                })
                .collect(),
        }),
        13 => Event::EvalFailed(EvalFailed {
            eval_id,
            attempt: 1,
            fault: Fault::Infra,
            code: "eval_server_unreachable".into(),
            detail: "connection refused".into(),
            requeued: true,
        }),
        14 => Event::KingCrowned(KingCrowned {
            reign: i,
            eval_id: Some(eval_id),
            hotkey: Some(hotkey),
            model: model(i),
            replaced: Some(KingRef { reign: i - 1, hotkey: None, model: model(i - 1) }),
        }),
        _ => {
            if (i / 16) % 3 == 1 {
                published_event(i)
            } else if (i / 16) % 3 == 2 {
                Event::WeightsSet(WeightsSet {
                    block: i,
                    reason: "interval".into(),
                    uids: vec![0, 3, 5],
                    weights: vec![21845, 21845, 21845],
                    version_key: 1,
                    outcome: WeightsOutcome::Submitted,
                    message: None,
                    extrinsic_hash: Some(format!("0x{}", Hash32::of(&i.to_be_bytes()).to_hex())),
                })
            } else {
                Event::Verdict(Verdict {
                    eval_id,
                    attempt: 1,
                    figures: VerdictFigures {
                        n_samples: 128,
                        n_done: 128,
                        n_valid: 120,
                        generation_errors: 1,
                        challenger_score: Some(56.2),
                        king_score: Some(43.8),
                        by_judge: vec![NamedScore { name: "z-ai/glm-5.1".into(), score: 57.4 }],
                        by_metric: vec![NamedScore { name: "correctness".into(), score: 55.1 }],
                        mean_delta: 0.062,
                        se: 0.018,
                        lcb: 0.031,
                        win_margin: "2.0".into(),
                        gate_alpha: "0.05".into(),
                        floor_ok: true,
                        margin_ok: true,
                        lcb_ok: true,
                        judge_models: vec!["z-ai/glm-5.1".into()],
                        informational: Some(Informational {
                            position_bias: vec![PositionBias {
                                judge: "z-ai/glm-5.1".into(),
                                favoured_a: 61,
                                favoured_b: 55,
                                a_share: Some(0.5259),
                                p_value: 0.6425,
                            }],
                            normal_lcb: 0.0324,
                            agreement: Agreement { pairs: 0, agreed: 0, share: None },
                            pairwise_agreement: vec![],
                        }),
                    },
                    accepted: true,
                    winner: Winner::Challenger,
                })
            }
        }
    }
}

/// [`sample_event`] wrapped in a draft with a deterministic clock and block.
pub fn sample_draft(i: u64) -> Draft {
    Draft { time_ms: 1_764_000_000_000 + i, block: Some(8_326_394 + i / 12), event: sample_event(i) }
}

/// A published-entry event whose key is unique per `i` (cheap filler for large ledgers).
pub fn published_event(i: u64) -> Event {
    Event::Published(Published {
        what: PublishedWhat::Dashboard,
        key: format!("albedo/dashboard-{i}.json"),
        sha256: Hash32::of(&i.to_le_bytes()),
    })
}

// ---------------------------------------------------------------------------------------------
// proptest strategies

fn text() -> impl Strategy<Value = String> {
    ".{0,12}"
}

fn num() -> impl Strategy<Value = f64> {
    prop_oneof![-1e9..1e9f64, Just(0.0), Just(-0.0), Just(f64::MAX), Just(f64::MIN_POSITIVE)]
}

fn hash() -> impl Strategy<Value = Hash32> {
    any::<[u8; 32]>().prop_map(Hash32)
}

/// Any valid model reference.
pub fn arb_model() -> impl Strategy<Value = ModelRef> {
    ("[a-z0-9][a-z0-9._-]{0,6}", "[a-z0-9][a-z0-9_-]{0,6}(/[a-z0-9][a-z0-9_-]{0,4})?", any::<[u8; 32]>()).prop_map(
        |(ns, name, d)| {
            ModelRef::new(format!("{ns}/{name}"), format!("sha256:{}", hex::encode(d)))
                .expect("strategy makes valid refs")
        },
    )
}

fn reason() -> impl Strategy<Value = Reason> {
    ("[a-z_]{1,12}", text()).prop_map(|(code, detail)| Reason { code, detail })
}

fn sample_ref() -> impl Strategy<Value = SampleRef> {
    (any::<u32>(), any::<u64>(), any::<u32>()).prop_map(|(shard, row, turn)| SampleRef { shard, row, turn })
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Challenger), Just(Side::King), Just(Side::Tie)]
}

fn judge_outcome() -> impl Strategy<Value = JudgeOutcome> {
    (
        text(),
        proptest::option::of(text()),
        proptest::option::of(proptest::collection::vec((text(), side()), 0..5)),
        proptest::option::of(text()),
    )
        .prop_map(|(model, raw_output, metrics, parse_error)| JudgeOutcome {
            model,
            raw_output,
            metrics: metrics
                .map(|m| m.into_iter().map(|(metric, preferred)| MetricOutcome { metric, preferred }).collect()),
            parse_error,
        })
}

fn named() -> impl Strategy<Value = Vec<NamedScore>> {
    proptest::collection::vec((text(), num()).prop_map(|(name, score)| NamedScore { name, score }), 0..4)
}

fn informational() -> impl Strategy<Value = Option<Informational>> {
    let bias = (text(), any::<u32>(), any::<u32>(), proptest::option::of(num()), num()).prop_map(
        |(judge, favoured_a, favoured_b, a_share, p_value)| PositionBias {
            judge,
            favoured_a,
            favoured_b,
            a_share,
            p_value,
        },
    );
    let agreement = (any::<u32>(), any::<u32>(), proptest::option::of(num()))
        .prop_map(|(pairs, agreed, share)| Agreement { pairs, agreed, share });
    let pair = (text(), text(), any::<u32>(), any::<u32>(), proptest::option::of(num()))
        .prop_map(|(first, second, pairs, agreed, share)| PairAgreement { first, second, pairs, agreed, share });
    proptest::option::of(
        (proptest::collection::vec(bias, 0..3), num(), agreement, proptest::collection::vec(pair, 0..3)).prop_map(
            |(position_bias, normal_lcb, agreement, pairwise_agreement)| Informational {
                position_bias,
                normal_lcb,
                agreement,
                pairwise_agreement,
            },
        ),
    )
}

fn evaluated() -> impl Strategy<Value = Option<EvaluatedFiles>> {
    let file = (text(), any::<u64>(), hash(), proptest::option::of(hash()))
        .prop_map(|(path, size, sha256, committed_sha256)| EvaluatedFile { path, size, sha256, committed_sha256 });
    proptest::option::of(
        (
            proptest::collection::vec(file, 0..4),
            proptest::collection::vec(text(), 0..3),
            proptest::collection::vec(text(), 0..3),
        )
            .prop_map(|(files, removed, changes)| EvaluatedFiles { files, removed, changes }),
    )
}

/// Any event of any kind.
pub fn arb_event() -> impl Strategy<Value = Event> {
    let competition = (
        any::<u32>(),
        any::<bool>(),
        any::<u16>(),
        text(),
        hash(),
        arb_model(),
        text(),
        hash(),
        proptest::option::of((
            any::<u64>(),
            proptest::collection::vec(text(), 0..3),
            proptest::collection::vec((text(), any::<u64>(), proptest::collection::vec(any::<u8>(), 0..8)), 0..3),
        )),
    )
        .prop_map(|(reset_number, genesis, netuid, chain_toml, sha, king, hotkey, manifest, snap)| {
            Event::CompetitionStarted(CompetitionStarted {
                reset_number,
                reason: if genesis { StartReason::Genesis } else { StartReason::Reset },
                netuid,
                chain_toml,
                chain_toml_sha256: sha,
                genesis_king: king,
                validator_hotkey: hotkey,
                dataset_manifest_sha256: manifest,
                reset_snapshot: snap.map(|(block, excluded_hotkeys, q)| ResetSnapshot {
                    block,
                    excluded_hotkeys,
                    queued: q
                        .into_iter()
                        .map(|(hotkey, commitment_block, raw)| SnapshotReveal { hotkey, commitment_block, raw })
                        .collect(),
                }),
            })
        });
    let metagraph =
        (any::<u64>(), proptest::collection::vec((any::<u16>(), text(), text()), 0..4)).prop_map(|(block, n)| {
            Event::MetagraphSynced(MetagraphSynced {
                block,
                neurons: n.into_iter().map(|(uid, hotkey, coldkey)| Neuron { uid, hotkey, coldkey }).collect(),
            })
        });
    let seen = (text(), any::<u64>(), text(), arb_model()).prop_map(|(hotkey, commitment_block, raw, model)| {
        Event::RevealSeen(RevealSeen { hotkey, commitment_block, raw, model })
    });
    let rejected = (text(), any::<u64>(), proptest::collection::vec(any::<u8>(), 0..16), reason()).prop_map(
        |(hotkey, commitment_block, raw, reason)| {
            Event::RevealRejected(RevealRejected { hotkey, commitment_block, raw, reason })
        },
    );
    let queued = (text(), text(), arb_model(), any::<u64>(), any::<bool>()).prop_map(
        |(eval_id, hotkey, challenger, commitment_block, front)| {
            Event::EvalQueued(EvalQueued {
                eval_id,
                hotkey,
                challenger,
                commitment_block,
                position: if front { QueuePosition::Front } else { QueuePosition::Back },
            })
        },
    );
    let admission = (
        text(),
        any::<u32>(),
        any::<bool>(),
        proptest::option::of(reason()),
        arb_model(),
        proptest::option::of(hash()),
        proptest::collection::vec(text(), 0..4),
    )
        .prop_map(|(eval_id, attempt, passed, failed_check, king, cfg, files)| {
            Event::AdmissionChecked(AdmissionChecked {
                eval_id,
                attempt,
                passed,
                failed_check,
                king,
                challenger_config_sha256: cfg,
                files,
            })
        });
    let started =
        (text(), any::<u32>(), text(), arb_model(), arb_model(), any::<u64>(), text(), text(), text(), hash())
            .prop_map(
                |(
                    eval_id,
                    attempt,
                    hotkey,
                    challenger,
                    king,
                    seed_block,
                    seed_block_hash,
                    seed_hex,
                    eval_server,
                    config_sha256,
                )| {
                    Event::EvalStarted(EvalStarted {
                        eval_id,
                        attempt,
                        hotkey,
                        challenger,
                        king,
                        seed_block,
                        seed_block_hash,
                        seed_hex,
                        eval_server,
                        config_sha256,
                    })
                },
            );
    let drawn = (text(), any::<u32>(), hash(), proptest::collection::vec(sample_ref(), 0..6)).prop_map(
        |(eval_id, attempt, m, samples)| {
            Event::SamplesDrawn(SamplesDrawn { eval_id, attempt, dataset_manifest_sha256: m, samples })
        },
    );
    let fingerprint = (
        text(),
        any::<u32>(),
        arb_model(),
        text(),
        proptest::collection::vec((text(), num(), proptest::collection::vec(num(), 0..16)), 0..3),
        proptest::option::of((text(), text(), arb_model(), num())),
        evaluated(),
    )
        .prop_map(|(eval_id, attempt, model, hotkey, tensors, nearest, evaluated)| {
            Event::FingerprintTaken(FingerprintTaken {
                eval_id,
                attempt,
                model,
                hotkey,
                fingerprint: Fingerprint {
                    method: "layer_norms_v2_with_samples".into(),
                    tensors: tensors
                        .into_iter()
                        .map(|(name, l2_norm, samples)| TensorPrint { name, l2_norm, samples })
                        .collect(),
                },
                nearest: nearest.map(|(eval_id, hotkey, model, similarity)| NearestFingerprint {
                    eval_id,
                    hotkey,
                    model,
                    similarity,
                }),
                evaluated,
            })
        });
    let probe = (text(), any::<u32>(), any::<u32>(), sample_ref(), text(), proptest::option::of(text()), 0..3u8)
        .prop_map(|(eval_id, attempt, probe, sample, judge, raw_output, o)| {
            let outcome = [ProbeOutcome::Clean, ProbeOutcome::Injection, ProbeOutcome::Untested][usize::from(o)];
            Event::ProbeJudged(ProbeJudged { eval_id, attempt, probe, sample, judge, raw_output, outcome })
        });
    let turn = (
        text(),
        any::<u32>(),
        any::<u32>(),
        sample_ref(),
        any::<bool>(),
        proptest::option::of(hash()),
        proptest::option::of(hash()),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::collection::vec(judge_outcome(), 0..4),
    )
        .prop_map(|(eval_id, attempt, turn, sample, a_is_king, k, c, king_error, challenger_error, judges)| {
            Event::TurnJudged(TurnJudged {
                eval_id,
                attempt,
                turn,
                sample,
                a_is_king,
                king_reply_sha256: k,
                challenger_reply_sha256: c,
                king_error,
                challenger_error,
                judges,
            })
        });
    let verdict = (
        text(),
        any::<u32>(),
        any::<(u32, u32, u32, u32)>(),
        proptest::option::of(num()),
        proptest::option::of(num()),
        named(),
        named(),
        (num(), num(), num()),
        any::<(bool, bool, bool, bool)>(),
        0..3u8,
        informational(),
    )
        .prop_map(
            |(
                eval_id,
                attempt,
                (n_samples, n_done, n_valid, generation_errors),
                c,
                k,
                by_judge,
                by_metric,
                (mean_delta, se, lcb),
                (f, m, l, accepted),
                w,
                informational,
            )| {
                Event::Verdict(Verdict {
                    eval_id,
                    attempt,
                    figures: VerdictFigures {
                        n_samples,
                        n_done,
                        n_valid,
                        generation_errors,
                        challenger_score: c,
                        king_score: k,
                        by_judge,
                        by_metric,
                        mean_delta,
                        se,
                        lcb,
                        win_margin: "2.0".into(),
                        gate_alpha: "0.05".into(),
                        floor_ok: f,
                        margin_ok: m,
                        lcb_ok: l,
                        judge_models: vec!["a".into()],
                        informational,
                    },
                    accepted,
                    winner: [Winner::Challenger, Winner::King, Winner::Tie][usize::from(w)],
                })
            },
        );
    let failed = (text(), any::<u32>(), 0..3u8, text(), text(), any::<bool>()).prop_map(
        |(eval_id, attempt, f, code, detail, requeued)| {
            Event::EvalFailed(EvalFailed {
                eval_id,
                attempt,
                fault: [Fault::Miner, Fault::Infra, Fault::Validator][usize::from(f)],
                code,
                detail,
                requeued,
            })
        },
    );
    let crowned = (
        any::<u64>(),
        proptest::option::of(text()),
        proptest::option::of(text()),
        arb_model(),
        proptest::option::of((any::<u64>(), proptest::option::of(text()), arb_model())),
    )
        .prop_map(|(reign, eval_id, hotkey, model, replaced)| {
            Event::KingCrowned(KingCrowned {
                reign,
                eval_id,
                hotkey,
                model,
                replaced: replaced.map(|(reign, hotkey, model)| KingRef { reign, hotkey, model }),
            })
        });
    let weights = (
        any::<u64>(),
        text(),
        proptest::collection::vec(any::<u16>(), 0..5),
        proptest::collection::vec(any::<u16>(), 0..5),
        any::<u64>(),
        0..3u8,
        proptest::option::of(text()),
        proptest::option::of(text()),
    )
        .prop_map(|(block, reason, uids, weights, version_key, o, message, extrinsic_hash)| {
            Event::WeightsSet(WeightsSet {
                block,
                reason,
                uids,
                weights,
                version_key,
                outcome: [WeightsOutcome::Submitted, WeightsOutcome::RateLimited, WeightsOutcome::Error]
                    [usize::from(o)],
                message,
                extrinsic_hash,
            })
        });
    let published = (0..4u8, text(), hash()).prop_map(|(w, key, sha256)| {
        let what = [PublishedWhat::Dashboard, PublishedWhat::Site, PublishedWhat::Traces, PublishedWhat::Checkpoint]
            [usize::from(w)];
        Event::Published(Published { what, key, sha256 })
    });
    prop_oneof![
        competition,
        metagraph,
        seen,
        rejected,
        queued,
        admission,
        started,
        drawn,
        fingerprint,
        probe,
        turn,
        verdict,
        failed,
        crowned,
        weights,
        published
    ]
}
