//! The verdict: one function, [`derive_verdict`], from an eval's `turn_judged` entries and the
//! pinned config to every figure, gate and the winner (spec/determinism.md §5–§6, spec/eval.md
//! §9). The eval server, the validator and `albedo-replay` all call it.
//!
//! **Every decision is exact.** Scores are rational numbers over arbitrary-precision integers
//! (`BigRational`); the floor, the margin gate and the winner compare them exactly against the
//! exact fractions of the config's decimal text. Floating point enters in three places only:
//! each valid turn's delta is converted once, correctly rounded, to the bootstrap's binary64
//! input; the bootstrap itself (spec/determinism.md §6); and the published figures.
//!
//! Where spec/eval.md §9 (the Python reference) and spec/determinism.md §5 differ, determinism.md
//! decides:
//! - winner and margin compare the exact scores, not scores rounded to 4 decimals (§9.4 steps
//!   6–7, §9.6); published scores round **half away from zero** from the exact value, not
//!   ties-to-even on a binary64;
//! - deltas enter the bootstrap in `samples_drawn` order, not judge completion order (§9.5);
//! - no judge parsed any turn → the scores are absent, not 0;
//! - a failed floor is charged to the miner only when the challenger's generation failed on more
//!   than half of the drawn turns and the king's on none; otherwise it is an infra fault (§9.3
//!   charged every floor failure to the miner, §16.1 item 5).
//!
//! What this module decides where neither spec is explicit:
//! - A turn is **done** when its `turn_judged` entry records no generation error on either side;
//!   a done turn whose judges all failed counts in `n_done` (so a judge outage fails the floor as
//!   an infra fault instead of silently shrinking the duel). Drawn turns without an entry (budget
//!   skips) are neither done nor generation errors.
//! - A turn is **valid** when every judge of `[judge].models` parsed it (eval.md §9.2–§9.3).
//! - `winner` is `tie` when there are no scores.
//! - `turns` may come in any order and batching; judge entries within a turn in any order.
//!
//! The verdict also carries informational figures (position bias per judge with an exact
//! binomial p-value, a normal-approximation LCB, inter-judge agreement; defined at
//! `Table::informational`). No decision reads them. All but `normal_lcb` are exact rationals
//! rounded like the scores; `normal_lcb` takes its z quantile from statrs, whose `ln`/`exp` come
//! from the platform's libm, so on a rounding knife edge its fourth decimal could differ between
//! machines; compare verdicts on the decision figures, not on this block.
//!
//! Kept as specified although eval.md §16 calls them weak (determinism.md keeps them): scores
//! use every turn a judge parsed while the LCB uses only valid turns (§16.1 item 2), and the floor
//! has no absolute minimum (item 4).

use std::cmp::Ordering;

use albedo_ledger::event::{
    Agreement, Fault, Informational, NamedScore, PairAgreement, PositionBias, Side, TurnJudged, Verdict,
    VerdictFigures, Winner,
};
use num_bigint::{BigInt, BigUint};
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};
use statrs::distribution::{ContinuousCDF, Normal};

use super::bootstrap::paired_bootstrap;
use super::position::a_is_king;
use super::seed::Seed;
use crate::config::{Config, Decimal, METRIC_KEYS};

/// K: v1 scores exactly the five metrics of eval.md §7.1.
const K: usize = METRIC_KEYS.len();

/// Decimals of every published score (determinism.md §5).
const PUBLISHED_DECIMALS: u32 = 4;

/// A verdict as derived: the ledger's figures plus what the caller acts on.
#[derive(Clone, Debug, PartialEq)]
pub struct DerivedVerdict {
    pub figures: VerdictFigures,
    /// floor ∧ margin gate ∧ LCB gate.
    pub accepted: bool,
    /// On score alone, before the gates; `Tie` when there are no scores.
    pub winner: Winner,
    /// Set when the valid-turn floor failed, with who is at fault.
    pub floor_failure: Option<FloorFailure>,
}

/// Why the valid-turn floor failed (determinism.md §5, last bullet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FloorFailure {
    /// The challenger's generation failed on more than half of the drawn turns while the king's
    /// failed on none: a miner fault.
    ChallengerGenerationFailed,
    /// Anything else (judges unreachable or unparsable, king failures, an empty draw): an infra
    /// fault, retried without charging the miner.
    Infra { reason: String },
}

impl FloorFailure {
    pub fn fault(&self) -> Fault {
        match self {
            FloorFailure::ChallengerGenerationFailed => Fault::Miner,
            FloorFailure::Infra { .. } => Fault::Infra,
        }
    }

    /// The `eval_failed` code.
    pub fn code(&self) -> &'static str {
        match self {
            FloorFailure::ChallengerGenerationFailed => "chal_generation_failed",
            FloorFailure::Infra { .. } => "valid_turn_floor",
        }
    }
}

/// The input is not one eval's well-formed `turn_judged` entries: a programming error of whoever
/// produced them, never a judge's or a miner's fault (those are data).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerdictError {
    #[error("turn {turn} appears more than once")]
    DuplicateTurn { turn: u32 },
    #[error("turn {turn} is not one of the {n_drawn} drawn turns")]
    TurnOutOfRange { turn: u32, n_drawn: u32 },
    #[error(
        "turn {turn} belongs to eval {eval_id:?} attempt {attempt}, not {expected_eval_id:?} attempt {expected_attempt}"
    )]
    MixedEvals { turn: u32, eval_id: String, attempt: u32, expected_eval_id: String, expected_attempt: u32 },
    #[error("turn {turn} records a_is_king = {recorded}, but the seed assigns {expected} (determinism.md §4)")]
    PositionMismatch { turn: u32, recorded: bool, expected: bool },
    #[error("turn {turn}: judge {model:?} is not in [judge].models")]
    UnknownJudge { turn: u32, model: String },
    #[error("turn {turn}: judge {model:?} has more than one entry")]
    DuplicateJudge { turn: u32, model: String },
    #[error("turn {turn}: judge {model:?} has both metrics and a parse error")]
    AmbiguousJudge { turn: u32, model: String },
    #[error("turn {turn}: judge {model:?} scored a turn with a generation error")]
    JudgedWithoutReplies { turn: u32, model: String },
    #[error("turn {turn}: judge {model:?} metrics are {found:?}, not the five metrics in order {METRIC_KEYS:?}")]
    BadMetrics { turn: u32, model: String, found: Vec<String> },
}

/// The exact scores of determinism.md §5 (0–100 scale, challenger perspective).
#[derive(Clone, Debug, PartialEq)]
pub struct ExactScores {
    pub challenger: BigRational,
    /// 100 − challenger.
    pub king: BigRational,
    /// Judges that parsed at least one turn, in `[judge].models` order.
    pub by_judge: Vec<(String, BigRational)>,
    /// In metric order.
    pub by_metric: Vec<(&'static str, BigRational)>,
}

/// The one verdict function (determinism.md §5–§6, eval.md §9).
///
/// `n_drawn` is the length of `samples_drawn`; `turns` are the eval's `turn_judged` entries in
/// any order and batching. An `Err` means the entries are malformed (see [`VerdictError`]); a
/// judge that failed to parse or a side that failed to generate is data, reflected in the
/// figures.
pub fn derive_verdict(
    config: &Config,
    seed: &Seed,
    n_drawn: u32,
    turns: &[TurnJudged],
) -> Result<DerivedVerdict, VerdictError> {
    let table = Table::new(config, seed, n_drawn, turns)?;
    let duel = config.duel();
    let exact = table.exact_scores();

    let floor_ok = table.n_done >= 1 && {
        let (p, q) = duel.min_valid_turn_frac.numer_denom();
        BigInt::from(table.n_valid) * BigInt::from(q) >= BigInt::from(p) * BigInt::from(table.n_done)
    };
    let margin_ok = exact.as_ref().is_some_and(|s| {
        let two_c_minus_100 = &s.challenger * BigRational::from_integer(2.into()) - hundred();
        two_c_minus_100 >= decimal(&duel.win_margin)
    });
    let winner = match exact.as_ref().map(|s| s.challenger.cmp(&BigRational::from_integer(50.into()))) {
        Some(Ordering::Greater) => Winner::Challenger,
        Some(Ordering::Less) => Winner::King,
        Some(Ordering::Equal) | None => Winner::Tie,
    };

    let deltas: Vec<f64> = table.valid_turns().map(|t| nearest_f64(&table.delta(t))).collect();
    let boot = paired_bootstrap(&deltas, duel.bootstrap_resamples, duel.gate_alpha.as_f64(), seed);
    let lcb_ok = boot.lcb > 0.0;

    let floor_failure = (!floor_ok).then(|| table.floor_failure(&duel.min_valid_turn_frac));
    let informational = table.informational(boot.mean, boot.se, duel.gate_alpha.as_f64());
    let figures = VerdictFigures {
        n_samples: n_drawn,
        n_done: table.n_done,
        n_valid: table.n_valid,
        generation_errors: table.generation_errors,
        challenger_score: exact.as_ref().map(|s| published(&s.challenger)),
        king_score: exact.as_ref().map(|s| published(&s.king)),
        by_judge: exact.as_ref().map_or_else(Vec::new, |s| named(&s.by_judge)),
        by_metric: exact.as_ref().map_or_else(Vec::new, |s| named(&s.by_metric)),
        mean_delta: boot.mean,
        se: boot.se,
        lcb: boot.lcb,
        win_margin: duel.win_margin.text().to_owned(),
        gate_alpha: duel.gate_alpha.text().to_owned(),
        floor_ok,
        margin_ok,
        lcb_ok,
        judge_models: config.judge().models.clone(),
        informational: Some(informational),
    };
    Ok(DerivedVerdict { figures, accepted: floor_ok && margin_ok && lcb_ok, winner, floor_failure })
}

/// The exact scores [`derive_verdict`] publishes (rounded), or `None` when no judge parsed any
/// turn. Same input rules and errors as [`derive_verdict`].
pub fn exact_scores(
    config: &Config,
    seed: &Seed,
    n_drawn: u32,
    turns: &[TurnJudged],
) -> Result<Option<ExactScores>, VerdictError> {
    Ok(Table::new(config, seed, n_drawn, turns)?.exact_scores())
}

impl DerivedVerdict {
    /// The ledger's `verdict` event for this eval attempt.
    pub fn into_event(self, eval_id: String, attempt: u32) -> Verdict {
        Verdict { eval_id, attempt, figures: self.figures, accepted: self.accepted, winner: self.winner }
    }
}

// ---------------------------------------------------------------------------------------------
// The checked, sorted table of turns

/// One drawn turn that has an entry.
struct Turn {
    a_is_king: bool,
    king_failed: bool,
    challenger_failed: bool,
    /// Per judge of `[judge].models` (in that order): its s2 = 2·s ∈ {0, 1, 2} per metric
    /// (eval.md §9.1; 2 = challenger better), when it parsed this turn.
    judges: Vec<Option<[u8; K]>>,
}

impl Turn {
    fn done(&self) -> bool {
        !self.king_failed && !self.challenger_failed
    }

    fn valid(&self) -> bool {
        self.done() && self.judges.iter().all(Option::is_some)
    }
}

struct Table<'c> {
    models: &'c [String],
    /// In turn order (`samples_drawn` order).
    turns: Vec<Turn>,
    n_drawn: u32,
    n_done: u32,
    n_valid: u32,
    generation_errors: u32,
    king_errors: u32,
    challenger_errors: u32,
}

impl<'c> Table<'c> {
    fn new(config: &'c Config, seed: &Seed, n_drawn: u32, entries: &[TurnJudged]) -> Result<Table<'c>, VerdictError> {
        let models = config.judge().models.as_slice();
        let mut sorted: Vec<&TurnJudged> = entries.iter().collect();
        sorted.sort_by_key(|e| e.turn);
        let mut turns = Vec::with_capacity(sorted.len());
        for (i, e) in sorted.iter().enumerate() {
            if i > 0 && sorted[i - 1].turn == e.turn {
                return Err(VerdictError::DuplicateTurn { turn: e.turn });
            }
            turns.push(check_turn(models, seed, n_drawn, sorted[0], e)?);
        }
        let count = |f: &dyn Fn(&Turn) -> bool| turns.iter().filter(|t| f(t)).count() as u32;
        Ok(Table {
            models,
            n_drawn,
            n_done: count(&Turn::done),
            n_valid: count(&Turn::valid),
            generation_errors: count(&|t| !t.done()),
            king_errors: count(&|t| t.king_failed),
            challenger_errors: count(&|t| t.challenger_failed),
            turns,
        })
    }

    fn valid_turns(&self) -> impl Iterator<Item = &Turn> {
        self.turns.iter().filter(|t| t.valid())
    }

    /// determinism.md §5: metric means per judge over T_j, then judge scores, averaged over the
    /// m judges of J*. With S(j,k) = Σ_{t∈T_j} s2(t,j,k): metric_mean = S / (2·|T_j|).
    fn exact_scores(&self) -> Option<ExactScores> {
        let mut sums = vec![[0u64; K]; self.models.len()];
        let mut counts = vec![0u64; self.models.len()];
        for turn in &self.turns {
            for (j, scores) in turn.judges.iter().enumerate() {
                if let Some(s2) = scores {
                    counts[j] += 1;
                    for k in 0..K {
                        sums[j][k] += u64::from(s2[k]);
                    }
                }
            }
        }
        let parsed: Vec<usize> = (0..self.models.len()).filter(|&j| counts[j] > 0).collect();
        if parsed.is_empty() {
            return None;
        }
        let m = BigRational::from_integer(parsed.len().into());
        let metric_mean = |j: usize, k: usize| ratio(sums[j][k], 2 * counts[j]);
        let judge_score = |j: usize| ratio(sums[j].iter().sum(), 2 * K as u64 * counts[j]);

        let challenger = hundred() * parsed.iter().map(|&j| judge_score(j)).sum::<BigRational>() / &m;
        let king = hundred() - &challenger;
        let by_judge = parsed.iter().map(|&j| (self.models[j].clone(), hundred() * judge_score(j))).collect();
        let by_metric = (0..K)
            .map(|k| (METRIC_KEYS[k], hundred() * parsed.iter().map(|&j| metric_mean(j, k)).sum::<BigRational>() / &m))
            .collect();
        Some(ExactScores { challenger, king, by_judge, by_metric })
    }

    /// delta(t) = final_score(t) − ½, final_score the mean of judge_mean(t, j) over the judges
    /// that parsed t (all of them, on a valid turn): (U − K·m_t) / (2K·m_t) with U = Σ s2.
    fn delta(&self, turn: &Turn) -> BigRational {
        let parsed: Vec<&[u8; K]> = turn.judges.iter().flatten().collect();
        let total: u64 = parsed.iter().flat_map(|s| s.iter()).map(|&s| u64::from(s)).sum();
        let m_t = parsed.len() as u64;
        BigRational::new(BigInt::from(total) - BigInt::from(K as u64 * m_t), BigInt::from(2 * K as u64 * m_t))
    }

    fn floor_failure(&self, frac: &Decimal) -> FloorFailure {
        if 2 * u64::from(self.challenger_errors) > u64::from(self.n_drawn) && self.king_errors == 0 {
            return FloorFailure::ChallengerGenerationFailed;
        }
        let reason = if self.n_done == 0 {
            format!(
                "no turn was generated on both sides: 0 of {} drawn turns done (king errors {}, challenger errors {})",
                self.n_drawn, self.king_errors, self.challenger_errors
            )
        } else {
            format!(
                "only {} of {} done turns were parsed by every judge, below min_valid_turn_frac {} \
                 (king errors {}, challenger errors {})",
                self.n_valid,
                self.n_done,
                frac.text(),
                self.king_errors,
                self.challenger_errors
            )
        };
        FloorFailure::Infra { reason }
    }

    /// Diagnostics that no decision reads (see [`Informational`] in the ledger):
    /// - position bias, per judge in J*: over the turns it parsed, a turn *favours A* when more
    ///   of its five metrics preferred the reply shown first than the one shown second (and
    ///   *favours B* the other way round; equal counts favour neither). Turns, not metric
    ///   verdicts, are the unit because the five verdicts of one answer are not independent.
    ///   `p_value` is the exact two-sided binomial test against ½:
    ///   min(1, 2·P(X ≤ min(a, b))) with X ~ Bin(a + b, ½), computed in exact integers;
    /// - `normal_lcb` = mean_delta − z·se with z the standard normal's (1 − gate_alpha)
    ///   quantile (statrs);
    /// - agreement: over (turn, metric) pairs that ≥ 2 judges parsed, those where every parsing
    ///   judge picked the same side; pairwise, per pair of `[judge].models` in order, over the
    ///   pairs both parsed, those where the two picked the same side.
    fn informational(&self, mean: f64, se: f64, alpha: f64) -> Informational {
        let position_bias = (0..self.models.len())
            .filter_map(|j| {
                let mut favoured = [0u32; 2];
                let mut parsed_any = false;
                for turn in &self.turns {
                    let Some(s2) = turn.judges[j] else { continue };
                    parsed_any = true;
                    // s2 = 2 is the challenger, shown as A unless the king is.
                    let a_value = if turn.a_is_king { 0 } else { 2 };
                    let a = s2.iter().filter(|&&s| s == a_value).count();
                    let b = s2.iter().filter(|&&s| s == 2 - a_value).count();
                    match a.cmp(&b) {
                        Ordering::Greater => favoured[0] += 1,
                        Ordering::Less => favoured[1] += 1,
                        Ordering::Equal => {}
                    }
                }
                parsed_any.then(|| PositionBias {
                    judge: self.models[j].clone(),
                    favoured_a: favoured[0],
                    favoured_b: favoured[1],
                    a_share: share(favoured[0], favoured[0] + favoured[1]),
                    p_value: published(&binomial_two_sided(favoured[0], favoured[1])),
                })
            })
            .collect();

        let z = Normal::standard().inverse_cdf(1.0 - alpha);
        let normal_lcb = published_f64(mean - z * se);

        let (mut pairs, mut agreed) = (0u32, 0u32);
        let n = self.models.len();
        let mut pairwise = vec![(0u32, 0u32); n * n];
        for turn in &self.turns {
            let parsed: Vec<(usize, &[u8; K])> =
                turn.judges.iter().enumerate().filter_map(|(j, s)| s.as_ref().map(|s| (j, s))).collect();
            if parsed.len() < 2 {
                continue;
            }
            for k in 0..K {
                pairs += 1;
                agreed += u32::from(parsed.iter().all(|(_, s)| s[k] == parsed[0].1[k]));
            }
            for (x, &(i, si)) in parsed.iter().enumerate() {
                for &(j, sj) in &parsed[x + 1..] {
                    let cell = &mut pairwise[i * n + j];
                    cell.0 += K as u32;
                    cell.1 += (0..K).filter(|&k| si[k] == sj[k]).count() as u32;
                }
            }
        }
        let mut pairwise_agreement = Vec::new();
        for i in 0..n {
            for j in i + 1..n {
                let (pairs, agreed) = pairwise[i * n + j];
                pairwise_agreement.push(PairAgreement {
                    first: self.models[i].clone(),
                    second: self.models[j].clone(),
                    pairs,
                    agreed,
                    share: share(agreed, pairs),
                });
            }
        }
        Informational {
            position_bias,
            normal_lcb,
            agreement: Agreement { pairs, agreed, share: share(agreed, pairs) },
            pairwise_agreement,
        }
    }
}

/// Checks one entry against the first (same eval and attempt), the draw, the seed's position
/// and the judge panel, and reduces it to a [`Turn`].
fn check_turn(
    models: &[String],
    seed: &Seed,
    n_drawn: u32,
    first: &TurnJudged,
    e: &TurnJudged,
) -> Result<Turn, VerdictError> {
    let turn = e.turn;
    if e.eval_id != first.eval_id || e.attempt != first.attempt {
        return Err(VerdictError::MixedEvals {
            turn,
            eval_id: e.eval_id.clone(),
            attempt: e.attempt,
            expected_eval_id: first.eval_id.clone(),
            expected_attempt: first.attempt,
        });
    }
    if turn >= n_drawn {
        return Err(VerdictError::TurnOutOfRange { turn, n_drawn });
    }
    let expected = a_is_king(seed, turn);
    if e.a_is_king != expected {
        return Err(VerdictError::PositionMismatch { turn, recorded: e.a_is_king, expected });
    }
    let king_failed = e.king_error.is_some();
    let challenger_failed = e.challenger_error.is_some();
    let mut judges: Vec<Option<[u8; K]>> = vec![None; models.len()];
    let mut seen = vec![false; models.len()];
    for judge in &e.judges {
        let model = || judge.model.clone();
        let j = models
            .iter()
            .position(|m| *m == judge.model)
            .ok_or_else(|| VerdictError::UnknownJudge { turn, model: model() })?;
        if std::mem::replace(&mut seen[j], true) {
            return Err(VerdictError::DuplicateJudge { turn, model: model() });
        }
        let Some(metrics) = &judge.metrics else { continue };
        if judge.parse_error.is_some() {
            return Err(VerdictError::AmbiguousJudge { turn, model: model() });
        }
        if king_failed || challenger_failed {
            return Err(VerdictError::JudgedWithoutReplies { turn, model: model() });
        }
        let in_order = metrics.len() == K && metrics.iter().zip(METRIC_KEYS).all(|(m, key)| m.metric == key);
        if !in_order {
            let found = metrics.iter().map(|m| m.metric.clone()).collect();
            return Err(VerdictError::BadMetrics { turn, model: model(), found });
        }
        let mut s2 = [0u8; K];
        for (slot, m) in s2.iter_mut().zip(metrics) {
            *slot = match m.preferred {
                Side::Challenger => 2,
                Side::Tie => 1,
                Side::King => 0,
            };
        }
        judges[j] = Some(s2);
    }
    Ok(Turn { a_is_king: e.a_is_king, king_failed, challenger_failed, judges })
}

// ---------------------------------------------------------------------------------------------
// Exact numbers

fn hundred() -> BigRational {
    BigRational::from_integer(100.into())
}

fn ratio(numer: u64, denom: u64) -> BigRational {
    BigRational::new(numer.into(), denom.into())
}

/// A config decimal as its exact fraction.
fn decimal(d: &Decimal) -> BigRational {
    let (p, q) = d.numer_denom();
    BigRational::new(p.into(), q.into())
}

fn named<N: ToString>(scores: &[(N, BigRational)]) -> Vec<NamedScore> {
    scores.iter().map(|(name, score)| NamedScore { name: name.to_string(), score: published(score) }).collect()
}

/// `part / whole` published, or `None` when `whole` is 0.
fn share(part: u32, whole: u32) -> Option<f64> {
    (whole > 0).then(|| published(&ratio(part.into(), whole.into())))
}

/// Two-sided exact binomial test of `a` successes in `a + b` trials against p = ½:
/// min(1, 2·Σ_{i ≤ min(a,b)} C(a+b, i) / 2^(a+b)); 1 when there is no trial.
pub fn binomial_two_sided(a: u32, b: u32) -> BigRational {
    let n = a + b;
    let tail_end = a.min(b);
    let mut term = BigUint::one();
    let mut tail = BigUint::zero();
    for i in 0..=tail_end {
        tail += &term;
        term = term * (n - i) / (i + 1);
    }
    let p = BigRational::new(BigInt::from(tail) * 2, BigInt::one() << n as usize);
    p.min(BigRational::one())
}

/// The exact value rounded **half away from zero** to 4 decimals, as the binary64 nearest that
/// decimal (determinism.md §5, published figures).
pub fn published(x: &BigRational) -> f64 {
    nearest_f64(&round_half_away(x, PUBLISHED_DECIMALS))
}

/// [`published`] for a binary64 (informational figures): rounded from its exact value.
pub fn published_f64(x: f64) -> f64 {
    match BigRational::from_float(x) {
        Some(exact) => published(&exact),
        None => x, // NaN or ±inf: nothing to round
    }
}

/// `x` rounded half away from zero to `decimals` decimal places, exactly.
pub fn round_half_away(x: &BigRational, decimals: u32) -> BigRational {
    let scale = BigInt::from(10u32).pow(decimals);
    let scaled = x * BigRational::from_integer(scale.clone());
    let (numer, denom) = (scaled.numer().abs(), scaled.denom().clone());
    let (mut q, r) = (&numer / &denom, &numer % &denom);
    if r * 2 >= denom {
        q += 1;
    }
    if scaled.is_negative() {
        q = -q;
    }
    BigRational::new(q, scale)
}

/// The binary64 nearest `x`, ties to even (IEEE 754 round-to-nearest), computed from the exact
/// integers: never through a float division of two rounded values. Overflows to ±inf, underflows
/// through the subnormals to ±0.
pub fn nearest_f64(x: &BigRational) -> f64 {
    if x.is_zero() {
        return 0.0;
    }
    let sign = if x.is_negative() { -1.0 } else { 1.0 };
    let (n, d) = (x.numer().magnitude(), x.denom().magnitude());
    // e = floor(log2(n / d)): 2^e ≤ n/d < 2^(e+1).
    let mut e = n.bits() as i64 - d.bits() as i64;
    let at_least = |e: i64| if e >= 0 { *n >= d << e as usize } else { n << (-e) as usize >= *d };
    if !at_least(e) {
        e -= 1;
    }
    if e > 1023 {
        return sign * f64::INFINITY;
    }
    // The unit in the last place of the result: 53 significant bits, or the subnormal grid.
    let ulp = (e - 52).max(-1074);
    let (num, den) = if ulp >= 0 { (n.clone(), d << ulp as usize) } else { (n << (-ulp) as usize, d.clone()) };
    let (mut q, r) = (&num / &den, &num % &den);
    let round_up = match (r << 1usize).cmp(&den) {
        Ordering::Greater => true,
        Ordering::Equal => q.bit(0),
        Ordering::Less => false,
    };
    if round_up {
        q += 1u32;
    }
    // q ≤ 2^53, exact as a binary64; times a power of two, the product is exact unless it
    // overflows (then ±inf, as IEEE rounding would give).
    let q = q.to_u64().expect("the quotient has at most 54 bits") as f64;
    sign * (q * pow2(ulp))
}

/// 2^k for -1074 ≤ k ≤ 1023, built from its bits.
fn pow2(k: i64) -> f64 {
    if k >= -1022 { f64::from_bits(((k + 1023) as u64) << 52) } else { f64::from_bits(1u64 << (k + 1074)) }
}
