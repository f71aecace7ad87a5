//! The competition state: the fold of every ledger entry, in order.
//!
//! [`State::apply`] is the only way state changes, and it never decides anything: refusals,
//! retries and crowns are events that the decisions in [`crate::decide`] return and the shell
//! appends. Applying the same entries always gives the same state (ordered maps only, no clock:
//! times come from the envelopes), which `State::to_canonical_json` lets tests compare byte for
//! byte.
//!
//! Memory is bounded by the competition, not by the ledger: judged turns are kept only for the
//! eval in flight (the verdict is re-derived from them), and finished evals keep a summary.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use albedo_ledger::event::*;
use albedo_ledger::{Envelope, Event, Hash32};
use serde::Serialize;

use crate::config::Config;

/// Everything the fold knows.
#[derive(Clone, Debug, Default, Serialize)]
pub struct State {
    /// The last entry applied, if any.
    pub head: Option<AppliedHead>,
    /// The competition in force (the last `competition_started`).
    pub competition: Option<Competition>,
    /// The reigning king.
    pub king: Option<King>,
    /// Previous kings, newest first, at most `[duel].king_chain_depth`.
    pub king_chain: Vec<King>,
    /// The reign number the next crown takes (absolute: never restarts).
    pub next_reign: u64,
    /// Eval ids waiting, in dispatch order.
    pub queue: VecDeque<String>,
    /// The eval in flight, if any.
    pub current: Option<String>,
    /// Every eval ever queued, by id (ids never repeat, resets included).
    pub evals: BTreeMap<String, Eval>,
    /// The highest eval number ever queued (`eval-000042` → 42).
    pub eval_counter: u64,
    /// Per competition: hotkeys that have had their one reveal accepted.
    pub seen_hotkeys: BTreeSet<String>,
    /// Per competition: repos with a verdict (judged repos are never judged again).
    pub completed_repos: BTreeSet<String>,
    /// Per hotkey, the latest commitment block whose outcome is recorded (seen or rejected).
    pub handled_commitments: BTreeMap<String, u64>,
    /// Per competition, in ledger order: fingerprints taken (for near-duplicate checks).
    pub fingerprints: Vec<FingerprintRecord>,
    /// The last metagraph recorded.
    pub metagraph: Option<Metagraph>,
    /// The last weight submission recorded, and the block the interval counts from.
    pub last_weights: Option<WeightsSet>,
    pub last_weight_block: Option<u64>,
    /// The last object published, per kind.
    pub published: BTreeMap<String, PublishedRecord>,
    /// Per competition counters.
    pub stats: Stats,
    /// Ledger-wide counters.
    pub totals: Totals,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AppliedHead {
    pub seq: u64,
    pub time_ms: u64,
    pub block: Option<u64>,
}

/// The competition in force.
#[derive(Clone, Debug, Serialize)]
pub struct Competition {
    pub reset_number: u32,
    pub reason: StartReason,
    pub netuid: u16,
    pub chain_toml_sha256: Hash32,
    pub genesis_king: ModelRef,
    pub validator_hotkey: String,
    pub dataset_manifest_sha256: Hash32,
    pub started_seq: u64,
    pub started_time_ms: u64,
    /// The pinned config, parsed from the ledger's copy of chain.toml. An entry whose text does
    /// not parse (the writer checks it, so only a foreign ledger has one) leaves this empty and
    /// the reason in `config_error`: the fold never fails, decisions refuse to run.
    #[serde(skip)]
    pub config: Option<Arc<Config>>,
    pub config_error: Option<String>,
}

/// A king, current or past.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct King {
    pub reign: u64,
    pub hotkey: Option<String>,
    pub model: ModelRef,
    pub eval_id: Option<String>,
    pub crowned_seq: u64,
    pub crowned_time_ms: u64,
    pub crowned_block: Option<u64>,
}

/// Where an eval stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EvalStatus {
    Queued,
    Running,
    /// A verdict was recorded.
    Judged {
        accepted: bool,
    },
    /// Ended by a failure that was not re-queued.
    Failed {
        fault: Fault,
        code: String,
    },
    /// Dropped by a competition reset while queued or running.
    Superseded,
}

/// One eval's record.
#[derive(Clone, Debug, Serialize)]
pub struct Eval {
    pub eval_id: String,
    pub reset_number: u32,
    pub hotkey: String,
    pub challenger: ModelRef,
    pub commitment_block: u64,
    pub queued_seq: u64,
    pub queued_time_ms: u64,
    pub status: EvalStatus,
    /// The current attempt: the last one admitted or started (0: none yet). Attempt numbers
    /// are unique per eval, since they key the attempt's entries.
    pub attempt: u32,
    /// Infra (and validator) failures that were re-queued, across attempts.
    pub retries: u32,
    pub admission: Option<AdmissionRecord>,
    pub started: Option<Started>,
    /// The `samples_drawn` count of the current attempt.
    pub n_drawn: Option<u32>,
    pub dataset_manifest_sha256: Option<Hash32>,
    /// Judged turns of the current attempt, in arrival order; cleared when the eval ends.
    #[serde(skip)]
    pub turns: Vec<TurnJudged>,
    pub n_judged: u32,
    pub probes: Vec<ProbeOutcome>,
    pub nearest_fingerprint: Option<NearestFingerprint>,
    pub verdict: Option<Verdict>,
    pub failures: Vec<FailureRecord>,
    pub ended_seq: Option<u64>,
    pub ended_time_ms: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AdmissionRecord {
    pub attempt: u32,
    pub passed: bool,
    pub failed_check: Option<Reason>,
    pub king: ModelRef,
}

#[derive(Clone, Debug, Serialize)]
pub struct Started {
    pub attempt: u32,
    pub king: ModelRef,
    pub seed_block: u64,
    pub seed_block_hash: String,
    pub seed_hex: String,
    pub eval_server: String,
    pub config_sha256: Hash32,
    pub seq: u64,
    pub time_ms: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct FailureRecord {
    pub attempt: u32,
    pub fault: Fault,
    pub code: String,
    pub detail: String,
    pub requeued: bool,
    pub seq: u64,
    pub time_ms: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct FingerprintRecord {
    pub eval_id: String,
    pub hotkey: String,
    pub model: ModelRef,
    pub fingerprint: Fingerprint,
}

#[derive(Clone, Debug, Serialize)]
pub struct Metagraph {
    pub block: u64,
    /// uid → neuron.
    pub neurons: BTreeMap<u16, Neuron>,
    /// hotkey → uid.
    pub uids: BTreeMap<String, u16>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PublishedRecord {
    pub key: String,
    pub sha256: Hash32,
    pub seq: u64,
}

/// Per competition counters (validator.md §10.9, with infra retries counted apart from
/// failures charged to miners).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub reveals_seen: u64,
    pub reveals_rejected: u64,
    pub queued: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Failures that ended an eval, charged to the miner.
    pub failed: u64,
    pub duplicates: u64,
    pub injection_attempts: u64,
    /// Failures that were re-queued (never charged).
    pub retried: u64,
    /// Evals ended by an infra or validator fault after their retry budget (not charged).
    pub abandoned: u64,
}

/// Ledger-wide counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub entries: u64,
    pub competitions: u64,
    pub by_kind: BTreeMap<&'static str, u64>,
}

/// Failure codes that count as near-duplicates or injection attempts in [`Stats`].
pub const DUPLICATE_CODE: &str = "duplicate_model";
pub const INJECTION_CODE: &str = "injection_detected";

impl State {
    pub fn new() -> State {
        State::default()
    }

    /// The pinned config of the competition in force.
    pub fn config(&self) -> Option<&Config> {
        self.competition.as_ref().and_then(|c| c.config.as_deref())
    }

    /// The next seq this state expects.
    pub fn next_seq(&self) -> u64 {
        self.head.map_or(0, |h| h.seq + 1)
    }

    /// The eval in flight, if any.
    pub fn current_eval(&self) -> Option<&Eval> {
        self.current.as_ref().and_then(|id| self.evals.get(id))
    }

    /// Folds one entry into the state. Entries must come in ledger order (the caller verified
    /// them); an entry referring to an eval that does not exist is ignored rather than
    /// panicking, since the fold must accept any ledger that verifies.
    pub fn apply(&mut self, env: &Envelope) {
        let at = AppliedHead { seq: env.seq, time_ms: env.time_ms, block: env.block };
        self.head = Some(at);
        self.totals.entries += 1;
        *self.totals.by_kind.entry(env.event.kind()).or_default() += 1;
        match &env.event {
            Event::CompetitionStarted(e) => self.competition_started(e, at),
            Event::MetagraphSynced(e) => {
                let neurons: BTreeMap<u16, Neuron> = e.neurons.iter().map(|n| (n.uid, n.clone())).collect();
                let uids = neurons.values().map(|n| (n.hotkey.clone(), n.uid)).collect();
                self.metagraph = Some(Metagraph { block: e.block, neurons, uids });
            }
            Event::RevealSeen(e) => {
                self.seen_hotkeys.insert(e.hotkey.clone());
                self.handled(&e.hotkey, e.commitment_block);
                self.stats.reveals_seen += 1;
            }
            Event::RevealRejected(e) => {
                self.handled(&e.hotkey, e.commitment_block);
                self.stats.reveals_rejected += 1;
            }
            Event::EvalQueued(e) => self.eval_queued(e, at),
            Event::AdmissionChecked(e) => {
                if let Some(eval) = self.evals.get_mut(&e.eval_id) {
                    // An attempt begins with its admission: the number is used up even when the
                    // admission fails, so every attempt's entries have keys of their own.
                    eval.attempt = eval.attempt.max(e.attempt);
                    eval.admission = Some(AdmissionRecord {
                        attempt: e.attempt,
                        passed: e.passed,
                        failed_check: e.failed_check.clone(),
                        king: e.king.clone(),
                    });
                }
            }
            Event::EvalStarted(e) => self.eval_started(e, at),
            Event::SamplesDrawn(e) => {
                if let Some(eval) = self.evals.get_mut(&e.eval_id) {
                    eval.n_drawn = Some(e.samples.len() as u32);
                    eval.dataset_manifest_sha256 = Some(e.dataset_manifest_sha256);
                }
            }
            Event::FingerprintTaken(e) => {
                if let Some(eval) = self.evals.get_mut(&e.eval_id) {
                    eval.nearest_fingerprint = e.nearest.clone();
                }
                self.fingerprints.push(FingerprintRecord {
                    eval_id: e.eval_id.clone(),
                    hotkey: e.hotkey.clone(),
                    model: e.model.clone(),
                    fingerprint: e.fingerprint.clone(),
                });
            }
            Event::ProbeJudged(e) => {
                if let Some(eval) = self.evals.get_mut(&e.eval_id) {
                    eval.probes.push(e.outcome);
                }
            }
            Event::TurnJudged(e) => {
                if let Some(eval) = self.evals.get_mut(&e.eval_id)
                    && eval.status == EvalStatus::Running
                    && e.attempt == eval.attempt
                {
                    eval.turns.push(e.clone());
                    eval.n_judged += 1;
                }
            }
            Event::Verdict(e) => self.verdict(e, at),
            Event::EvalFailed(e) => self.eval_failed(e, at),
            Event::KingCrowned(e) => self.king_crowned(e, at),
            Event::WeightsSet(e) => {
                // A submission, or a silent rate limit, starts a new interval; an error is
                // retried on the next tick (validator.md §12 step 9).
                if matches!(e.outcome, WeightsOutcome::Submitted | WeightsOutcome::RateLimited) {
                    self.last_weight_block = Some(e.block);
                }
                self.last_weights = Some(e.clone());
            }
            Event::Published(e) => {
                self.published.insert(
                    e.what.as_str().to_string(),
                    PublishedRecord { key: e.key.clone(), sha256: e.sha256, seq: env.seq },
                );
            }
        }
    }

    fn handled(&mut self, hotkey: &str, block: u64) {
        let entry = self.handled_commitments.entry(hotkey.to_string()).or_insert(block);
        *entry = (*entry).max(block);
    }

    fn competition_started(&mut self, e: &CompetitionStarted, at: AppliedHead) {
        let (config, config_error) = match Config::parse(&e.chain_toml) {
            Ok(c) => (Some(Arc::new(c)), None),
            Err(err) => (None, Some(err.to_string())),
        };
        // A reset ends everything per competition; evals still waiting or running are
        // superseded (their record stays, with that status).
        for id in self.queue.drain(..).chain(self.current.take()) {
            if let Some(eval) = self.evals.get_mut(&id) {
                eval.status = EvalStatus::Superseded;
                eval.turns.clear();
                eval.ended_seq = Some(at.seq);
                eval.ended_time_ms = Some(at.time_ms);
            }
        }
        self.king = None;
        self.king_chain.clear();
        self.seen_hotkeys.clear();
        self.completed_repos.clear();
        self.handled_commitments.clear();
        self.fingerprints.clear();
        self.stats = Stats::default();
        if let Some(snap) = &e.reset_snapshot {
            // Re-queued reveals have had their one eval; excluded ones are used up too. Their
            // `reveal_seen` belongs to an earlier competition, so the snapshot stands for it.
            self.seen_hotkeys.extend(snap.excluded_hotkeys.iter().cloned());
            for r in &snap.queued {
                self.seen_hotkeys.insert(r.hotkey.clone());
                self.handled(&r.hotkey, r.commitment_block);
            }
        }
        self.totals.competitions += 1;
        self.competition = Some(Competition {
            reset_number: e.reset_number,
            reason: e.reason,
            netuid: e.netuid,
            chain_toml_sha256: e.chain_toml_sha256,
            genesis_king: e.genesis_king.clone(),
            validator_hotkey: e.validator_hotkey.clone(),
            dataset_manifest_sha256: e.dataset_manifest_sha256,
            started_seq: at.seq,
            started_time_ms: at.time_ms,
            config,
            config_error,
        });
    }

    fn eval_queued(&mut self, e: &EvalQueued, at: AppliedHead) {
        if let Some(n) = eval_number(&e.eval_id) {
            self.eval_counter = self.eval_counter.max(n);
        }
        let reset_number = self.competition.as_ref().map_or(0, |c| c.reset_number);
        self.evals.insert(
            e.eval_id.clone(),
            Eval {
                eval_id: e.eval_id.clone(),
                reset_number,
                hotkey: e.hotkey.clone(),
                challenger: e.challenger.clone(),
                commitment_block: e.commitment_block,
                queued_seq: at.seq,
                queued_time_ms: at.time_ms,
                status: EvalStatus::Queued,
                attempt: 0,
                retries: 0,
                admission: None,
                started: None,
                n_drawn: None,
                dataset_manifest_sha256: None,
                turns: Vec::new(),
                n_judged: 0,
                probes: Vec::new(),
                nearest_fingerprint: None,
                verdict: None,
                failures: Vec::new(),
                ended_seq: None,
                ended_time_ms: None,
            },
        );
        match e.position {
            QueuePosition::Back => self.queue.push_back(e.eval_id.clone()),
            QueuePosition::Front => self.queue.push_front(e.eval_id.clone()),
        }
        self.stats.queued += 1;
    }

    fn eval_started(&mut self, e: &EvalStarted, at: AppliedHead) {
        let Some(eval) = self.evals.get_mut(&e.eval_id) else { return };
        self.queue.retain(|id| id != &e.eval_id);
        eval.status = EvalStatus::Running;
        eval.attempt = e.attempt;
        eval.turns.clear();
        eval.n_judged = 0;
        eval.n_drawn = None;
        eval.probes.clear();
        eval.started = Some(Started {
            attempt: e.attempt,
            king: e.king.clone(),
            seed_block: e.seed_block,
            seed_block_hash: e.seed_block_hash.clone(),
            seed_hex: e.seed_hex.clone(),
            eval_server: e.eval_server.clone(),
            config_sha256: e.config_sha256,
            seq: at.seq,
            time_ms: at.time_ms,
        });
        self.current = Some(e.eval_id.clone());
    }

    fn end(&mut self, eval_id: &str, at: AppliedHead) {
        if self.current.as_deref() == Some(eval_id) {
            self.current = None;
        }
        self.queue.retain(|id| id != eval_id);
        if let Some(eval) = self.evals.get_mut(eval_id) {
            eval.turns = Vec::new();
            eval.ended_seq = Some(at.seq);
            eval.ended_time_ms = Some(at.time_ms);
        }
    }

    fn verdict(&mut self, e: &Verdict, at: AppliedHead) {
        let Some(eval) = self.evals.get_mut(&e.eval_id) else { return };
        eval.status = EvalStatus::Judged { accepted: e.accepted };
        eval.verdict = Some(e.clone());
        self.completed_repos.insert(eval.challenger.repo().to_string());
        if e.accepted {
            self.stats.accepted += 1;
        } else {
            self.stats.rejected += 1;
        }
        self.end(&e.eval_id, at);
    }

    fn eval_failed(&mut self, e: &EvalFailed, at: AppliedHead) {
        let Some(eval) = self.evals.get_mut(&e.eval_id) else { return };
        eval.failures.push(FailureRecord {
            attempt: e.attempt,
            fault: e.fault,
            code: e.code.clone(),
            detail: e.detail.clone(),
            requeued: e.requeued,
            seq: at.seq,
            time_ms: at.time_ms,
        });
        if e.requeued {
            eval.retries += 1;
            eval.status = EvalStatus::Queued;
            eval.turns = Vec::new();
            self.stats.retried += 1;
            if self.current.as_deref() == Some(e.eval_id.as_str()) {
                self.current = None;
            }
            // Re-queued work goes to the front (validator.md §10.10), once.
            self.queue.retain(|id| id != &e.eval_id);
            self.queue.push_front(e.eval_id.clone());
            return;
        }
        eval.status = EvalStatus::Failed { fault: e.fault, code: e.code.clone() };
        match e.fault {
            Fault::Miner if e.code == DUPLICATE_CODE => self.stats.duplicates += 1,
            Fault::Miner if e.code == INJECTION_CODE => self.stats.injection_attempts += 1,
            Fault::Miner => self.stats.failed += 1,
            Fault::Infra | Fault::Validator => self.stats.abandoned += 1,
        }
        self.end(&e.eval_id, at);
    }

    fn king_crowned(&mut self, e: &KingCrowned, at: AppliedHead) {
        let depth = self.config().map_or(5, |c| c.duel().king_chain_depth as usize);
        let king = King {
            reign: e.reign,
            hotkey: e.hotkey.clone(),
            model: e.model.clone(),
            eval_id: e.eval_id.clone(),
            crowned_seq: at.seq,
            crowned_time_ms: at.time_ms,
            crowned_block: at.block,
        };
        if let Some(old) = self.king.replace(king) {
            self.king_chain.insert(0, old);
            self.king_chain.truncate(depth);
        }
        self.next_reign = self.next_reign.max(e.reign + 1);
    }

    /// The state as canonical JSON: equal states give equal bytes.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("the state serialises")
    }
}

/// `eval-000042` → 42.
pub fn eval_number(eval_id: &str) -> Option<u64> {
    eval_id.strip_prefix("eval-").and_then(|n| n.parse().ok())
}

/// The id of the `n`th eval: `eval-` and at least 6 digits (validator.md §2.3).
pub fn eval_id(n: u64) -> String {
    format!("eval-{n:06}")
}
