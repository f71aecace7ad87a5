//! The audit: re-derive every decision the ledger records, from the ledger alone.
//!
//! [`Auditor`] folds entries like the validator does, and before applying each one it checks
//! the entry against what the pure core derives from the state so far:
//! - `competition_started`: the recorded SHA-256 is the text's, and the text parses;
//! - `eval_started`: the seed is BLAKE2b-512(block hash text ‖ hotkey) of the commitment block,
//!   the king is the reigning king, the config hash is the competition's;
//! - `turn_judged`: the A/B assignment is the seed's, and each judge's parse is what the
//!   parser gives for its raw answer;
//! - `verdict`: `derive_verdict` over the eval's recorded turns gives exactly the recorded
//!   verdict, every figure bit for bit;
//! - `king_crowned`: the reign follows, the replaced king is the reigning one, and the crown
//!   follows an accepted verdict (or is the competition's genesis king);
//! - `weights_set`: the uids and weights are the policy's for the kings at that point;
//! - `eval_failed` charged to a miner: the ledger holds the evidence (a refused admission, a
//!   near-duplicate fingerprint, an injection probe, a floor failure caused by the challenger).

use std::collections::BTreeMap;

use albedo_ledger::event::*;
use albedo_ledger::{Envelope, Event, Hash32};
use albedo_projections::decide::{self, WeightsReason};
use albedo_projections::scoring::judge_reply::{parse_judge_reply, to_sides};
use albedo_projections::scoring::position::a_is_king;
use albedo_projections::scoring::seed::Seed;
use albedo_projections::scoring::verdict::{FloorFailure, derive_verdict};
use albedo_projections::state::State;

/// One check that failed.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub seq: u64,
    pub check: &'static str,
    pub detail: String,
}

/// The result of an audit.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub entries: u64,
    /// check → (passed, failed)
    pub checks: BTreeMap<&'static str, (u64, u64)>,
    pub findings: Vec<Finding>,
    /// For `verdict <eval_id>`: the recorded and re-derived verdicts.
    pub verdicts: Vec<(Verdict, Option<Verdict>)>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Folds entries and checks each against the pure core.
pub struct Auditor {
    state: State,
    report: Report,
    only_eval: Option<String>,
}

impl Auditor {
    /// An auditor of everything, or (with `only_eval`) of one eval's seed, turns and verdict.
    pub fn new(only_eval: Option<String>) -> Auditor {
        Auditor { state: State::new(), report: Report::default(), only_eval }
    }

    fn record(&mut self, seq: u64, check: &'static str, result: Result<(), String>) {
        let counts = self.report.checks.entry(check).or_default();
        match result {
            Ok(()) => counts.0 += 1,
            Err(detail) => {
                counts.1 += 1;
                self.report.findings.push(Finding { seq, check, detail });
            }
        }
    }

    fn wanted(&self, eval_id: Option<&str>) -> bool {
        match (&self.only_eval, eval_id) {
            (None, _) => true,
            (Some(want), Some(id)) => want == id,
            (Some(_), None) => false,
        }
    }

    /// Checks one entry against the state so far, then folds it.
    pub fn apply(&mut self, env: &Envelope) {
        self.report.entries += 1;
        let seq = env.seq;
        if self.wanted(env.event.eval_id()) {
            match &env.event {
                Event::CompetitionStarted(e) if self.only_eval.is_none() => {
                    let r = if Hash32::of(e.chain_toml.as_bytes()) != e.chain_toml_sha256 {
                        Err("the recorded chain.toml SHA-256 is not the text's".to_string())
                    } else {
                        albedo_projections::config::Config::parse(&e.chain_toml).map(|_| ()).map_err(|e| e.to_string())
                    };
                    self.record(seq, "config", r);
                }
                Event::EvalStarted(e) => {
                    let r = self.check_started(e);
                    self.record(seq, "seed", r);
                }
                Event::TurnJudged(e) => {
                    let r = self.check_turn(e);
                    self.record(seq, "turn", r);
                }
                Event::Verdict(e) => {
                    let derived = self.derive(e);
                    let r = match &derived {
                        Ok(d) if d == e => Ok(()),
                        Ok(d) => Err(format!(
                            "re-derived verdict differs:\n  recorded: {}\n  derived:  {}",
                            serde_json::to_string(e).unwrap_or_default(),
                            serde_json::to_string(d).unwrap_or_default()
                        )),
                        Err(msg) => Err(msg.clone()),
                    };
                    self.report.verdicts.push((e.clone(), derived.ok()));
                    self.record(seq, "verdict", r);
                }
                Event::EvalFailed(e) if e.fault == Fault::Miner => {
                    let r = self.check_charge(e);
                    self.record(seq, "miner charge", r);
                }
                Event::KingCrowned(e) if self.only_eval.is_none() => {
                    let r = self.check_crown(e);
                    self.record(seq, "crown", r);
                }
                Event::WeightsSet(e) if self.only_eval.is_none() => {
                    let r = self.check_weights(e);
                    self.record(seq, "weights", r);
                }
                _ => {}
            }
        }
        self.state.apply(env);
    }

    pub fn finish(self) -> Report {
        self.report
    }

    fn eval(&self, id: &str) -> Result<&albedo_projections::state::Eval, String> {
        self.state.evals.get(id).ok_or_else(|| format!("{id} was never queued"))
    }

    fn check_started(&self, e: &EvalStarted) -> Result<(), String> {
        let eval = self.eval(&e.eval_id)?;
        if e.seed_block != eval.commitment_block {
            return Err(format!(
                "seeded from block {}, but the reveal was committed at block {}",
                e.seed_block, eval.commitment_block
            ));
        }
        let seed = Seed::derive(&e.seed_block_hash, &e.hotkey).map_err(|err| err.to_string())?;
        if seed.to_hex() != e.seed_hex || e.hotkey != eval.hotkey {
            return Err(format!("seed_hex is not BLAKE2b-512({:?} ‖ {:?})", e.seed_block_hash, eval.hotkey));
        }
        let king = self.state.king.as_ref().map(|k| &k.model);
        if king != Some(&e.king) {
            return Err(format!("dueled king {}, but the reigning king was {king:?}", e.king));
        }
        match &self.state.competition {
            Some(c) if c.chain_toml_sha256 == e.config_sha256 => Ok(()),
            _ => Err(format!("config_sha256 {} is not the competition's", e.config_sha256)),
        }
    }

    fn check_turn(&self, t: &TurnJudged) -> Result<(), String> {
        let eval = self.eval(&t.eval_id)?;
        let started = eval.started.as_ref().ok_or("turn of an eval that never started")?;
        let seed = Seed::from_hex(&started.seed_hex).map_err(|e| e.to_string())?;
        if t.a_is_king != a_is_king(&seed, t.turn) {
            return Err(format!("turn {}: a_is_king = {} but the seed assigns {}", t.turn, t.a_is_king, !t.a_is_king));
        }
        for j in &t.judges {
            let reparsed = j.raw_output.as_deref().map(parse_judge_reply);
            match (reparsed, &j.metrics) {
                (Some(Ok(labels)), Some(m)) if to_sides(&labels, t.a_is_king) == *m => {}
                (Some(Err(_)) | None, None) => {}
                (got, _) => {
                    return Err(format!(
                        "turn {}: judge {}'s recorded parse is not the parser's ({got:?})",
                        t.turn, j.model
                    ));
                }
            }
        }
        Ok(())
    }

    fn derive(&self, v: &Verdict) -> Result<Verdict, String> {
        let config = self.state.config().ok_or("no pinned config")?;
        let eval = self.eval(&v.eval_id)?;
        let started = eval.started.as_ref().ok_or("verdict of an eval that never started")?;
        let seed = Seed::from_hex(&started.seed_hex).map_err(|e| e.to_string())?;
        let derived =
            derive_verdict(config, &seed, eval.n_drawn.unwrap_or(0), &eval.turns).map_err(|e| e.to_string())?;
        Ok(derived.into_event(v.eval_id.clone(), eval.attempt))
    }

    fn check_charge(&self, f: &EvalFailed) -> Result<(), String> {
        let eval = self.eval(&f.eval_id)?;
        let evidence = match f.code.as_str() {
            "admission_rejected" => eval.admission.as_ref().is_some_and(|a| {
                a.attempt == f.attempt
                    && !a.passed
                    && a.failed_check.as_ref().is_some_and(|r| !r.code.ends_with("_unavailable"))
            }),
            "duplicate_model" => {
                let threshold = self.state.config().map_or(1.0, |c| c.preeval().similarity_threshold);
                eval.nearest_fingerprint.as_ref().is_some_and(|n| n.similarity >= threshold && n.hotkey != eval.hotkey)
            }
            "injection_detected" => eval.probes.contains(&ProbeOutcome::Injection),
            "chal_generation_failed" => {
                let (config, started) = (self.state.config(), eval.started.as_ref());
                match (config, started.and_then(|s| Seed::from_hex(&s.seed_hex).ok())) {
                    (Some(c), Some(seed)) => derive_verdict(c, &seed, eval.n_drawn.unwrap_or(0), &eval.turns)
                        .is_ok_and(|d| d.floor_failure == Some(FloorFailure::ChallengerGenerationFailed)),
                    _ => false,
                }
            }
            // Reported by the eval server about the challenger's own model; the ledger holds no
            // more than its word (the trace does).
            "chal_vllm_start_failed" => return Ok(()),
            other => return Err(format!("a miner was charged with `{other}`, which no rule charges to miners")),
        };
        if evidence {
            Ok(())
        } else {
            Err(format!("the miner was charged with `{}` but the ledger holds no evidence for it", f.code))
        }
    }

    fn check_crown(&self, k: &KingCrowned) -> Result<(), String> {
        if k.reign != self.state.next_reign {
            return Err(format!("reign {} follows reign {}", k.reign, self.state.next_reign.saturating_sub(1)));
        }
        let reigning = self.state.king.as_ref().map(|r| (r.reign, &r.model));
        let replaced = k.replaced.as_ref().map(|r| (r.reign, &r.model));
        if reigning != replaced {
            return Err(format!("it replaced {replaced:?}, but {reigning:?} reigned"));
        }
        match &k.eval_id {
            None => match &self.state.competition {
                Some(c) if c.genesis_king == k.model => Ok(()),
                _ => Err("a genesis crown of a model that is not the competition's genesis king".into()),
            },
            Some(id) => {
                let eval = self.eval(id)?;
                let accepted = eval.verdict.as_ref().is_some_and(|v| v.accepted);
                if !accepted || eval.challenger != k.model || k.hotkey.as_deref() != Some(eval.hotkey.as_str()) {
                    return Err(format!("{id} did not win with {} for {:?}", k.model, k.hotkey));
                }
                Ok(())
            }
        }
    }

    fn check_weights(&self, w: &WeightsSet) -> Result<(), String> {
        let plan =
            decide::plan_weights(&self.state, w.block, WeightsReason::Startup, 0, 0).map_err(|e| e.to_string())?;
        let Some(plan) = plan else { return Err("no plan".into()) };
        let ok = if plan.burn {
            // The burn uid is an operator setting: any single uid with the full weight.
            w.uids.len() == 1 && w.weights == [u16::MAX]
        } else {
            w.uids == plan.uids && w.weights == plan.weights
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "set uids {:?} weights {:?}, but the policy gives uids {:?} weights {:?}",
                w.uids, w.weights, plan.uids, plan.weights
            ))
        }
    }
}
