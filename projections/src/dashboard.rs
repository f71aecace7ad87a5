//! `dashboard.json`: the model behind it, built from [`Views`], schema-compatible with the
//! reference (validator.md §14.2–§14.3).
//!
//! Every key the reference publishes keeps its name, type and meaning, so existing consumers
//! keep working. The reference's defects are fixed by *adding* fields, never by changing an
//! existing one: `reign` (absolute) beside the relative `reign_number`; `running_mean_delta`
//! beside the last-turn `mean_delta` of `current_eval`; `lcb_value` beside the boolean `lcb` of
//! a verdict record. For auditors it adds `ledger` (size, head hash, checkpoint),
//! `config_sha256`, and per verdict its seed, commitment block and sample-draw digest.
//!
//! Pure and byte-deterministic: times come from ledger entries (`updated_at` is the time of the
//! last entry folded, not the build's), maps are ordered, numbers go through serde_json.

use albedo_ledger::event::{Fault, Side, TurnJudged, Verdict, Winner};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::decide::eligible_kings;
use crate::state::{DUPLICATE_CODE, INJECTION_CODE, King};
use crate::views::{HistoryItem, Views, iso_time};

/// How many history records the dashboard mirrors (validator.md §14.2).
pub const HISTORY_LEN: usize = 50;

#[derive(Clone, Debug, Serialize)]
pub struct Dashboard {
    pub updated_at: Option<String>,
    pub chain: ChainInfo,
    pub king: Option<KingRow>,
    pub king_chain: Vec<KingRow>,
    pub queue: Vec<QueueRow>,
    pub queue_len: usize,
    pub seen_count: usize,
    pub counter: u64,
    pub current_eval: Option<CurrentEval>,
    pub stats: StatsRow,
    pub history: Vec<HistoryRecord>,
    pub ts: Option<String>,
    // Added for auditors.
    pub ledger: LedgerInfo,
    pub config_sha256: Option<String>,
    pub competition: Option<CompetitionInfo>,
    pub last_weights: Option<WeightsRow>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ChainInfo {
    pub name: String,
    pub seed_repo: String,
    pub seed_digest: String,
    pub judge_models: Vec<String>,
    pub judge_model: String,
    pub judge_tie_band: f64,
    pub dataset_repo: String,
    pub dataset_shard_glob: String,
    pub king_chain_depth: u32,
    pub netuid: u16,
    pub display_start_block: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct KingRow {
    pub hotkey: String,
    pub model_repo: String,
    pub model_digest: String,
    /// The crowning reveal's commitment block (0 for a genesis king).
    pub block: u64,
    pub crowned_block: u64,
    pub challenge_id: String,
    pub dethrone_judges: Vec<String>,
    pub crown_judges: Vec<String>,
    pub crowned_at: String,
    pub uid: Option<u16>,
    pub coldkey: String,
    pub registered: bool,
    /// The reference's relative number (king = chain length, `chain[i]` = length − 1 − i).
    pub reign_number: usize,
    pub weight: Option<f64>,
    pub weight_share: Option<f64>,
    pub judges: Vec<String>,
    /// Added: the absolute reign number (never restarts).
    pub reign: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct QueueRow {
    pub challenge_id: String,
    pub hotkey: String,
    pub uid: Option<u16>,
    pub coldkey: String,
    pub model_repo: String,
    pub model_digest: String,
    pub queued_at: String,
    pub block: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct CurrentEval {
    pub hotkey: String,
    pub block: u64,
    pub model_repo: String,
    pub model_digest: String,
    pub eval_id: String,
    /// Epoch seconds.
    pub enqueued_at: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_total: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_done: Option<u32>,
    /// The reference's meaning: the latest judged turn's delta.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_delta: Option<f64>,
    pub challenge_id: String,
    pub uid: Option<u16>,
    pub queued_at: String,
    // Added.
    pub attempt: u32,
    pub started_at: Option<String>,
    pub seed_hex: Option<String>,
    /// The mean of the judged turns' deltas so far (display only; the verdict decides).
    pub running_mean_delta: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StatsRow {
    pub queued: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub failed: u64,
    pub injection_attempts: u64,
    pub duplicates: u64,
    // Added.
    pub retried: u64,
    pub abandoned: u64,
    pub reveals_seen: u64,
    pub reveals_rejected: u64,
}

/// A history record: `type` is `verdict` or `failure`.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum HistoryRecord {
    Verdict(Box<VerdictRecord>),
    Failure(Box<FailureRecord>),
}

#[derive(Clone, Debug, Serialize)]
pub struct JudgeRow {
    pub model: String,
    pub chal_mean: f64,
    pub king_mean: f64,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct VerdictRecord {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub eval_id: String,
    pub hotkey: String,
    pub model_repo: String,
    pub model_digest: String,
    pub uid: Option<u16>,
    pub accepted: bool,
    pub judges: Vec<JudgeRow>,
    pub n_turns: u32,
    pub n_valid_turns: u32,
    pub n_vllm_errors: u32,
    pub chal_mean: f64,
    pub king_mean: f64,
    pub mean_delta: f64,
    /// The reference's meaning: the LCB gate's boolean.
    pub lcb: bool,
    pub winner: &'static str,
    pub king_hotkey: Option<String>,
    pub king_model_repo: Option<String>,
    pub king_model_digest: Option<String>,
    pub king_reign_number: Option<usize>,
    pub completed_at: String,
    pub ts: f64,
    pub verdict: Value,
    // Added.
    pub lcb_value: f64,
    pub king_reign: Option<u64>,
    pub attempt: u32,
    pub commitment_block: u64,
    pub seed_block_hash: Option<String>,
    pub seed_hex: Option<String>,
    pub samples_digest: Option<String>,
    pub seq: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct FailureRecord {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub eval_id: String,
    pub hotkey: String,
    pub uid: Option<u16>,
    pub model_repo: String,
    pub model_digest: String,
    pub block: u64,
    pub code: String,
    pub detail: String,
    pub error_code: String,
    pub error_detail: String,
    pub is_injection: bool,
    pub is_duplicate: bool,
    pub completed_at: String,
    pub ts: f64,
    // Added.
    pub fault: Fault,
    pub requeued: bool,
    pub attempt: u32,
    pub seq: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct LedgerInfo {
    /// Number of entries folded.
    pub size: u64,
    pub head_seq: Option<u64>,
    pub head_hash: Option<String>,
    pub head_time: Option<String>,
    /// The last signed mirror checkpoint (issue 6 publishes them; `null` until then).
    pub checkpoint: Option<Value>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CompetitionInfo {
    pub reset_number: u32,
    pub reason: &'static str,
    pub started_at: String,
    pub validator_hotkey: String,
    pub dataset_manifest_sha256: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct WeightsRow {
    pub block: u64,
    pub reason: String,
    pub uids: Vec<u16>,
    pub weights: Vec<u16>,
    pub outcome: &'static str,
    pub message: Option<String>,
}

fn round9(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

fn winner(w: Winner) -> &'static str {
    match w {
        Winner::Challenger => "challenger",
        Winner::King => "king",
        Winner::Tie => "tie",
    }
}

/// A turn's delta for display: the mean over parsing judges of (Σ s2 / 2K) − ½, in f64.
pub fn turn_delta(turn: &TurnJudged) -> Option<f64> {
    let mut sum = 0.0;
    let mut n = 0u32;
    for j in &turn.judges {
        if let Some(metrics) = &j.metrics
            && !metrics.is_empty()
        {
            let s2: u32 = metrics
                .iter()
                .map(|m| match m.preferred {
                    Side::Challenger => 2,
                    Side::Tie => 1,
                    Side::King => 0,
                })
                .sum();
            sum += f64::from(s2) / (2.0 * metrics.len() as f64);
            n += 1;
        }
    }
    (n > 0).then(|| sum / f64::from(n) - 0.5)
}

/// The verdict in the eval server's JSON shape (validator.md §10.7), plus our additions.
pub fn verdict_json(v: &Verdict) -> Value {
    let f = &v.figures;
    let named = |xs: &[albedo_ledger::event::NamedScore]| {
        Value::Object(xs.iter().map(|s| (s.name.clone(), Value::from(s.score))).collect::<Map<_, _>>())
    };
    let decimal = |t: &str| t.parse::<f64>().map(Value::from).unwrap_or(Value::Null);
    serde_json::json!({
        "eval_id": v.eval_id,
        "accepted": v.accepted,
        "n_done": f.n_done,
        "n_valid": f.n_valid,
        "vllm_errors": f.generation_errors,
        "challenger_score": f.challenger_score,
        "king_score": f.king_score,
        "winner": winner(v.winner),
        "by_judge": named(&f.by_judge),
        "by_metric": named(&f.by_metric),
        "win_margin": decimal(&f.win_margin),
        "margin_ok": f.margin_ok,
        "mean_delta": f.mean_delta,
        "lcb": f.lcb,
        "se": f.se,
        "gate_alpha": decimal(&f.gate_alpha),
        "gate_lcb": f.lcb_ok,
        "judge_models": f.judge_models,
        "n_samples": f.n_samples,
        "floor_ok": f.floor_ok,
        "informational": f.informational,
    })
}

impl Dashboard {
    /// Builds the dashboard from the views.
    pub fn build(views: &Views) -> Dashboard {
        let s = &views.state;
        let config = s.config();
        let comp = s.competition.as_ref();
        let depth = config.map_or(5, |c| c.duel().king_chain_depth);
        let eligible = eligible_kings(s, depth as usize);
        let share = (!eligible.is_empty()).then(|| round9(1.0 / eligible.len() as f64));
        let updated_at = views.head.map(|h| iso_time(h.time_ms));
        let chain = ChainInfo {
            name: config.map(|c| c.chain().name.clone()).unwrap_or_default(),
            seed_repo: config.map(|c| c.chain().seed_repo.clone()).unwrap_or_default(),
            seed_digest: config.map(|c| c.seed().seed_digest.clone()).unwrap_or_default(),
            judge_models: config.map(|c| c.judge().models.clone()).unwrap_or_default(),
            judge_model: config.and_then(|c| c.judge().models.first().cloned()).unwrap_or_default(),
            judge_tie_band: config.map_or(0.0, |c| c.judge().tie_band),
            dataset_repo: config.map(|c| c.dataset().repo.clone()).unwrap_or_default(),
            dataset_shard_glob: config.map(|c| c.dataset().shard_glob.clone()).unwrap_or_default(),
            king_chain_depth: depth,
            netuid: comp.map_or(0, |c| c.netuid),
            display_start_block: config.map_or(0, |c| c.chain().display_start_block),
        };
        let chain_len = s.king_chain.len();
        let king_row = |k: &King, relative: usize| {
            let hotkey = k.hotkey.clone().unwrap_or_default();
            let uid = s.metagraph.as_ref().and_then(|m| m.uids.get(&hotkey).copied());
            let coldkey = uid
                .and_then(|u| s.metagraph.as_ref().and_then(|m| m.neurons.get(&u)))
                .map(|n| n.coldkey.clone())
                .unwrap_or_default();
            let earns = eligible.iter().any(|(h, _)| *h == hotkey);
            let eval = k.eval_id.as_ref().and_then(|id| s.evals.get(id));
            let judges: Vec<String> = eval
                .and_then(|e| e.verdict.as_ref())
                .map(|v| v.figures.by_judge.iter().map(|j| j.name.clone()).collect())
                .unwrap_or_default();
            KingRow {
                hotkey,
                model_repo: k.model.repo().to_string(),
                model_digest: k.model.digest().to_string(),
                block: eval.map_or(0, |e| e.commitment_block),
                crowned_block: k.crowned_block.unwrap_or(0),
                challenge_id: k.eval_id.clone().unwrap_or_else(|| "genesis".into()),
                dethrone_judges: judges.clone(),
                crown_judges: judges.clone(),
                crowned_at: iso_time(k.crowned_time_ms),
                uid,
                coldkey,
                registered: uid.is_some(),
                reign_number: relative,
                weight: share.filter(|_| earns),
                weight_share: share.filter(|_| earns),
                judges,
                reign: k.reign,
            }
        };
        let king = s.king.as_ref().map(|k| king_row(k, chain_len));
        let king_chain = s.king_chain.iter().enumerate().map(|(i, k)| king_row(k, chain_len - 1 - i)).collect();
        let uid_of = |h: &str| s.metagraph.as_ref().and_then(|m| m.uids.get(h).copied());
        let coldkey_of = |h: &str| {
            uid_of(h)
                .and_then(|u| s.metagraph.as_ref().and_then(|m| m.neurons.get(&u)))
                .map(|n| n.coldkey.clone())
                .unwrap_or_default()
        };
        let queue: Vec<QueueRow> = s
            .queue
            .iter()
            .filter_map(|id| s.evals.get(id))
            .map(|e| QueueRow {
                challenge_id: e.eval_id.clone(),
                hotkey: e.hotkey.clone(),
                uid: uid_of(&e.hotkey),
                coldkey: coldkey_of(&e.hotkey),
                model_repo: e.challenger.repo().to_string(),
                model_digest: e.challenger.digest().to_string(),
                queued_at: iso_time(e.queued_time_ms),
                block: e.commitment_block,
            })
            .collect();
        let current_eval = s.current_eval().map(|e| {
            let deltas: Vec<f64> = e.turns.iter().filter_map(turn_delta).collect();
            let running = (!deltas.is_empty()).then(|| deltas.iter().sum::<f64>() / deltas.len() as f64);
            let streaming = e.n_drawn.is_some();
            CurrentEval {
                hotkey: e.hotkey.clone(),
                block: e.commitment_block,
                model_repo: e.challenger.repo().to_string(),
                model_digest: e.challenger.digest().to_string(),
                eval_id: e.eval_id.clone(),
                enqueued_at: e.queued_time_ms as f64 / 1000.0,
                phase: streaming.then_some("duel"),
                n_total: e.n_drawn,
                n_done: streaming.then_some(e.n_judged),
                mean_delta: streaming.then(|| e.turns.last().and_then(turn_delta).unwrap_or(0.0)),
                challenge_id: e.eval_id.clone(),
                uid: uid_of(&e.hotkey),
                queued_at: iso_time(e.queued_time_ms),
                attempt: e.attempt,
                started_at: e.started.as_ref().map(|st| iso_time(st.time_ms)),
                seed_hex: e.started.as_ref().map(|st| st.seed_hex.clone()),
                running_mean_delta: running,
            }
        });
        let st = &s.stats;
        let stats = StatsRow {
            queued: st.queued,
            accepted: st.accepted,
            rejected: st.rejected,
            failed: st.failed,
            injection_attempts: st.injection_attempts,
            duplicates: st.duplicates,
            retried: st.retried,
            abandoned: st.abandoned,
            reveals_seen: st.reveals_seen,
            reveals_rejected: st.reveals_rejected,
        };
        let history = views.history.iter().rev().take(HISTORY_LEN).map(history_record).collect();
        Dashboard {
            ts: updated_at.clone(),
            updated_at,
            chain,
            king,
            king_chain,
            queue_len: queue.len(),
            queue,
            seen_count: s.seen_hotkeys.len(),
            counter: s.eval_counter,
            current_eval,
            stats,
            history,
            ledger: LedgerInfo {
                size: views.head.map_or(0, |h| h.seq + 1),
                head_seq: views.head.map(|h| h.seq),
                head_hash: views.head.map(|h| h.hash.to_hex()),
                head_time: views.head.map(|h| iso_time(h.time_ms)),
                checkpoint: None,
            },
            config_sha256: comp.map(|c| c.chain_toml_sha256.to_hex()),
            competition: comp.map(|c| CompetitionInfo {
                reset_number: c.reset_number,
                reason: match c.reason {
                    albedo_ledger::event::StartReason::Genesis => "genesis",
                    albedo_ledger::event::StartReason::Reset => "reset",
                },
                started_at: iso_time(c.started_time_ms),
                validator_hotkey: c.validator_hotkey.clone(),
                dataset_manifest_sha256: c.dataset_manifest_sha256.to_hex(),
            }),
            last_weights: s.last_weights.as_ref().map(|w| WeightsRow {
                block: w.block,
                reason: w.reason.clone(),
                uids: w.uids.clone(),
                weights: w.weights.clone(),
                outcome: match w.outcome {
                    albedo_ledger::event::WeightsOutcome::Submitted => "submitted",
                    albedo_ledger::event::WeightsOutcome::RateLimited => "rate_limited",
                    albedo_ledger::event::WeightsOutcome::Error => "error",
                },
                message: w.message.clone(),
            }),
        }
    }

    /// The published bytes: pretty-printed JSON with a trailing newline.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("the dashboard serialises");
        out.push(b'\n');
        out
    }
}

fn history_record(h: &HistoryItem) -> HistoryRecord {
    match h {
        HistoryItem::Verdict {
            eval_id,
            hotkey,
            uid,
            challenger,
            commitment_block,
            verdict,
            king,
            seed,
            seq,
            time_ms,
        } => {
            let f = &verdict.figures;
            let judges = f
                .by_judge
                .iter()
                .map(|j| JudgeRow {
                    model: j.name.clone(),
                    chal_mean: j.score / 100.0,
                    king_mean: (100.0 - j.score) / 100.0,
                    outcome: if j.score > 50.0 {
                        "win"
                    } else if j.score < 50.0 {
                        "lose"
                    } else {
                        "tie"
                    },
                })
                .collect();
            HistoryRecord::Verdict(Box::new(VerdictRecord {
                kind: "verdict",
                eval_id: eval_id.clone(),
                hotkey: hotkey.clone(),
                model_repo: challenger.repo().to_string(),
                model_digest: challenger.digest().to_string(),
                uid: *uid,
                accepted: verdict.accepted,
                judges,
                n_turns: if f.n_valid > 0 { f.n_valid } else { f.n_done },
                n_valid_turns: f.n_valid,
                n_vllm_errors: f.generation_errors,
                chal_mean: f.challenger_score.unwrap_or(0.0) / 100.0,
                king_mean: f.king_score.unwrap_or(0.0) / 100.0,
                mean_delta: f.mean_delta,
                lcb: f.lcb_ok,
                winner: winner(verdict.winner),
                king_hotkey: king.as_ref().map(|k| k.hotkey.clone().unwrap_or_default()),
                king_model_repo: king.as_ref().map(|k| k.model.repo().to_string()),
                king_model_digest: king.as_ref().map(|k| k.model.digest().to_string()),
                king_reign_number: king.as_ref().map(|k| k.chain_len),
                completed_at: iso_time(*time_ms),
                ts: *time_ms as f64 / 1000.0,
                verdict: verdict_json(verdict),
                lcb_value: f.lcb,
                king_reign: king.as_ref().map(|k| k.reign),
                attempt: verdict.attempt,
                commitment_block: *commitment_block,
                seed_block_hash: seed.as_ref().map(|x| x.seed_block_hash.clone()),
                seed_hex: seed.as_ref().map(|x| x.seed_hex.clone()),
                samples_digest: seed.as_ref().and_then(|x| x.samples_digest).map(|d| d.to_hex()),
                seq: *seq,
            }))
        }
        HistoryItem::Failure {
            eval_id,
            hotkey,
            uid,
            challenger,
            commitment_block,
            attempt,
            fault,
            code,
            detail,
            requeued,
            seq,
            time_ms,
            ..
        } => HistoryRecord::Failure(Box::new(FailureRecord {
            kind: "failure",
            eval_id: eval_id.clone(),
            hotkey: hotkey.clone(),
            uid: *uid,
            model_repo: challenger.repo().to_string(),
            model_digest: challenger.digest().to_string(),
            block: *commitment_block,
            code: code.clone(),
            detail: detail.clone(),
            error_code: code.clone(),
            error_detail: detail.clone(),
            is_injection: code == INJECTION_CODE,
            is_duplicate: code == DUPLICATE_CODE,
            completed_at: iso_time(*time_ms),
            ts: *time_ms as f64 / 1000.0,
            fault: *fault,
            requeued: *requeued,
            attempt: *attempt,
            seq: *seq,
        })),
    }
}
