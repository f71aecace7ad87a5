//! `evals/<eval id>.html`: one eval, ended or not. Its verdict with every figure and gate, the
//! informational figures, each failed attempt, the seed and draw, and how to check them.
//!
//! Judged turns are not in the views (memory follows the competition, not the ledger), so the
//! page says where they are instead of showing them.

use albedo_ledger::event::{ProbeOutcome, Verdict, Winner};
use albedo_projections::state::{Eval, EvalStatus};
use albedo_projections::views::{HistoryItem, KingFaced};
use askama::Template;

use super::{Ctx, Hotkey, Layout, Link, Model, Section, fault_text, html};
use crate::charts::{self, SplitRow};
use crate::format::{Time, fixed, percent, signed};

pub struct Status {
    /// CSS class of the badge: `accepted`, `rejected`, `fail` or empty.
    pub class: &'static str,
    pub text: String,
    /// One sentence on what happened.
    pub sentence: String,
}

pub struct KingLine {
    pub reign: u64,
    pub model: Model,
    pub hotkey: Option<Hotkey>,
}

pub struct Named {
    pub name: String,
    pub challenger: String,
    pub king: String,
    pub outcome: &'static str,
}

pub struct Gate {
    pub name: &'static str,
    pub ok: bool,
    pub figure: String,
    pub rule: String,
}

pub struct BiasRow {
    pub judge: String,
    pub favoured_a: u32,
    pub favoured_b: u32,
    pub a_share: String,
    pub p_value: String,
}

pub struct PairRow {
    pub first: String,
    pub second: String,
    pub pairs: u32,
    pub agreed: u32,
    pub share: String,
}

pub struct Info {
    pub bias: Vec<BiasRow>,
    pub normal_lcb: String,
    pub bootstrap_lcb: String,
    pub pairs: u32,
    pub agreed: u32,
    pub share: String,
    pub pairwise: Vec<PairRow>,
}

pub struct VerdictView {
    pub time: Time,
    pub attempt: u32,
    pub winner: &'static str,
    pub challenger_score: String,
    pub king_score: String,
    pub chart: String,
    pub gates: Vec<Gate>,
    pub n_samples: u32,
    pub n_done: u32,
    pub n_valid: u32,
    pub generation_errors: u32,
    pub mean_delta: String,
    pub se: String,
    pub by_judge: Vec<Named>,
    pub by_metric: Vec<Named>,
    pub info: Option<Info>,
}

pub struct AttemptRow {
    pub attempt: u32,
    pub time: Time,
    pub fault: &'static str,
    pub miner_fault: bool,
    pub code: String,
    pub detail: String,
    pub requeued: bool,
    pub king: String,
}

pub struct SeedView {
    pub attempt: u32,
    pub block: u64,
    pub block_hash: String,
    pub hotkey: String,
    pub seed_hex: String,
    pub samples_digest: String,
    pub n_drawn: String,
    pub dataset_manifest: String,
    pub eval_server: String,
    pub config_sha256: String,
    pub king: String,
}

pub struct Checks {
    pub admission: Option<String>,
    pub admission_ok: bool,
    pub fingerprint: Option<String>,
    pub probes: Option<String>,
}

#[derive(Template)]
#[template(path = "eval.html", whitespace = "minimize")]
pub struct EvalPage {
    pub layout: Layout,
    pub eval_id: String,
    pub status: Status,
    pub model: Model,
    pub hotkey: Hotkey,
    pub uid: Option<u16>,
    pub commitment_block: u64,
    pub queued: Time,
    pub ended: Option<Time>,
    pub attempts: u32,
    pub retries: u32,
    pub king: Option<KingLine>,
    pub crowned: Option<Link>,
    pub verdict: Option<VerdictView>,
    pub failures: Vec<AttemptRow>,
    pub checks: Checks,
    pub seed: Option<SeedView>,
    pub cmd_verdict: String,
    pub cmd_turns: String,
    pub cmd_draw: String,
    pub cmd_seed: Option<String>,
}

fn outcome(score: f64) -> &'static str {
    // The reference's per-judge outcome (validator.md §14.3): no tie band.
    if score > 50.0 {
        "challenger"
    } else if score < 50.0 {
        "king"
    } else {
        "tie"
    }
}

fn named(xs: &[albedo_ledger::event::NamedScore]) -> Vec<Named> {
    xs.iter()
        .map(|s| Named {
            name: s.name.clone(),
            challenger: fixed(s.score, 4),
            king: fixed(100.0 - s.score, 4),
            outcome: outcome(s.score),
        })
        .collect()
}

fn verdict_view(ctx: &Ctx, eval: &Eval, v: &Verdict, time_ms: u64) -> VerdictView {
    let f = &v.figures;
    let margin = match (f.challenger_score, f.king_score) {
        (Some(c), Some(k)) => format!("{} points", signed(c - k, 4)),
        _ => "no scores".into(),
    };
    // The floor's threshold is in the pinned config, not in the verdict: show it only when the
    // eval ran under the config in force.
    let same_competition = ctx.views.state.competition.as_ref().is_some_and(|c| c.reset_number == eval.reset_number);
    let min_frac = same_competition
        .then(|| ctx.views.state.config().map(|c| c.duel().min_valid_turn_frac.text().to_string()))
        .flatten();
    let valid_share = if f.n_done > 0 { percent(f64::from(f.n_valid) / f64::from(f.n_done), 1) } else { "n/a".into() };
    let gates = vec![
        Gate {
            name: "Margin gate",
            ok: f.margin_ok,
            figure: margin,
            rule: format!("Challenger minus king must reach the win margin, {} points.", f.win_margin),
        },
        Gate {
            name: "LCB gate",
            ok: f.lcb_ok,
            figure: signed(f.lcb, 4),
            rule: format!(
                "The bootstrap lower confidence bound (α = {}) of the mean turn delta must be above 0.",
                f.gate_alpha
            ),
        },
        Gate {
            name: "Valid-turn floor",
            ok: f.floor_ok,
            figure: format!("{} of {} valid ({valid_share})", f.n_valid, f.n_done),
            rule: match min_frac {
                Some(m) => format!("Valid turns over turns done must be at least {m}."),
                None => "Valid turns over turns done must reach the pinned min_valid_turn_frac.".into(),
            },
        },
    ];
    let mut split: Vec<SplitRow> =
        f.by_judge.iter().map(|j| SplitRow { name: j.name.clone(), challenger: j.score }).collect();
    if let Some(c) = f.challenger_score {
        split.push(SplitRow { name: "overall".into(), challenger: c });
    }
    let info = f.informational.as_ref().map(|i| Info {
        bias: i
            .position_bias
            .iter()
            .map(|b| BiasRow {
                judge: b.judge.clone(),
                favoured_a: b.favoured_a,
                favoured_b: b.favoured_b,
                a_share: b.a_share.map_or_else(|| "—".into(), |s| percent(s, 1)),
                p_value: fixed(b.p_value, 4),
            })
            .collect(),
        normal_lcb: signed(i.normal_lcb, 4),
        bootstrap_lcb: signed(f.lcb, 4),
        pairs: i.agreement.pairs,
        agreed: i.agreement.agreed,
        share: i.agreement.share.map_or_else(|| "—".into(), |s| percent(s, 1)),
        pairwise: i
            .pairwise_agreement
            .iter()
            .map(|p| PairRow {
                first: p.first.clone(),
                second: p.second.clone(),
                pairs: p.pairs,
                agreed: p.agreed,
                share: p.share.map_or_else(|| "—".into(), |s| percent(s, 1)),
            })
            .collect(),
    });
    VerdictView {
        time: Time::of(time_ms),
        attempt: v.attempt,
        winner: match v.winner {
            Winner::Challenger => "the challenger",
            Winner::King => "the king",
            Winner::Tie => "neither (a tie)",
        },
        challenger_score: super::opt_fixed(f.challenger_score, 4),
        king_score: super::opt_fixed(f.king_score, 4),
        chart: if split.is_empty() {
            String::new()
        } else {
            charts::score_split("chart-split", super::FULL_WIDTH, &split)
        },
        gates,
        n_samples: f.n_samples,
        n_done: f.n_done,
        n_valid: f.n_valid,
        generation_errors: f.generation_errors,
        mean_delta: signed(f.mean_delta, 4),
        se: fixed(f.se, 4),
        by_judge: named(&f.by_judge),
        by_metric: named(&f.by_metric),
        info,
    }
}

/// The shell line that recomputes the seed with coreutils' `b2sum` (BLAKE2b-512 by default),
/// when both texts are plain enough to quote safely.
fn seed_command(block_hash: &str, hotkey: &str) -> Option<String> {
    let plain = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric());
    (plain(block_hash) && plain(hotkey)).then(|| format!("printf '%s%s' '{block_hash}' '{hotkey}' | b2sum"))
}

fn king_text(k: Option<&KingFaced>) -> String {
    k.map_or_else(|| "—".into(), |k| format!("reign {} · {}", k.reign, k.model.repo()))
}

pub fn eval_page(ctx: &Ctx, eval_id: &str) -> Vec<u8> {
    let root = "../";
    let items = ctx.by_eval.get(eval_id).map(Vec::as_slice).unwrap_or_default();
    let eval = ctx.views.state.evals.get(eval_id);
    let verdict_item = items.iter().find_map(|h| match h {
        HistoryItem::Verdict { verdict, king, seed, time_ms, .. } => Some((verdict, king, seed, *time_ms)),
        HistoryItem::Failure { .. } => None,
    });
    // The eval record is always there for an item of the history; fall back to the item itself
    // for a ledger that says otherwise.
    let (hotkey, model, commitment_block) = match (eval, items.first()) {
        (Some(e), _) => (e.hotkey.clone(), Model::of(&e.challenger), e.commitment_block),
        (None, Some(HistoryItem::Verdict { hotkey, challenger, commitment_block, .. }))
        | (None, Some(HistoryItem::Failure { hotkey, challenger, commitment_block, .. })) => {
            (hotkey.clone(), Model::of(challenger), *commitment_block)
        }
        (None, None) => (String::new(), Model::unknown(), 0),
    };
    let crowned = ctx.crowned_by.get(eval_id).copied();
    let status = match (eval.map(|e| &e.status), verdict_item) {
        (_, Some((v, ..))) if v.accepted => Status {
            class: "accepted",
            text: "accepted".into(),
            sentence: match crowned {
                Some(r) => format!("The challenger passed every gate and was crowned: reign {r}."),
                None => "The challenger passed every gate.".into(),
            },
        },
        (_, Some(_)) => Status {
            class: "rejected",
            text: "rejected".into(),
            sentence: "The king held: the challenger did not pass every gate.".into(),
        },
        (Some(EvalStatus::Failed { fault, code }), None) => Status {
            class: "fail",
            text: format!("failed · {}", fault_text(*fault)),
            sentence: format!(
                "The eval ended with {code}; {}.",
                if *fault == albedo_ledger::event::Fault::Miner {
                    "the miner is charged"
                } else {
                    "the miner is not charged"
                }
            ),
        },
        (Some(EvalStatus::Running), None) => Status {
            class: "",
            text: "running".into(),
            sentence: "An earlier attempt failed and was retried; this attempt is running.".into(),
        },
        (Some(EvalStatus::Queued), None) => Status {
            class: "",
            text: "queued again".into(),
            sentence: "An attempt failed on the infrastructure side; the eval waits in the queue for another.".into(),
        },
        (Some(EvalStatus::Superseded), None) => Status {
            class: "",
            text: "superseded".into(),
            sentence: "A competition reset dropped this eval before it ended.".into(),
        },
        _ => Status { class: "", text: "unknown".into(), sentence: String::new() },
    };
    let king_faced = verdict_item.and_then(|(_, k, ..)| k.as_ref()).or_else(|| {
        items.iter().rev().find_map(|h| match h {
            HistoryItem::Failure { king, .. } => king.as_ref(),
            HistoryItem::Verdict { .. } => None,
        })
    });
    let king = king_faced.map(|k| KingLine {
        reign: k.reign,
        model: Model::of(&k.model),
        hotkey: k.hotkey.as_deref().map(|h| ctx.hotkey(h, root)),
    });
    let failures = items
        .iter()
        .filter_map(|h| match h {
            HistoryItem::Failure { attempt, fault, code, detail, requeued, king, time_ms, .. } => Some(AttemptRow {
                attempt: *attempt,
                time: Time::of(*time_ms),
                fault: fault_text(*fault),
                miner_fault: *fault == albedo_ledger::event::Fault::Miner,
                code: code.clone(),
                detail: detail.clone(),
                requeued: *requeued,
                king: king_text(king.as_ref()),
            }),
            HistoryItem::Verdict { .. } => None,
        })
        .collect();
    let seed = eval.and_then(|e| e.started.as_ref()).map(|s| {
        let from_verdict = verdict_item.and_then(|(_, _, seed, _)| seed.as_ref());
        SeedView {
            attempt: s.attempt,
            block: s.seed_block,
            block_hash: s.seed_block_hash.clone(),
            hotkey: hotkey.clone(),
            seed_hex: s.seed_hex.clone(),
            samples_digest: from_verdict
                .and_then(|x| x.samples_digest)
                .or_else(|| ctx.views.sample_digests.get(eval_id).copied())
                .map_or_else(|| "— (no draw recorded)".into(), |d| d.to_hex()),
            n_drawn: eval.and_then(|e| e.n_drawn).map_or_else(|| "—".into(), |n| n.to_string()),
            dataset_manifest: eval.and_then(|e| e.dataset_manifest_sha256).map_or_else(|| "—".into(), |d| d.to_hex()),
            eval_server: s.eval_server.clone(),
            config_sha256: s.config_sha256.to_hex(),
            king: s.king.to_string(),
        }
    });
    let checks = Checks {
        admission: eval.and_then(|e| e.admission.as_ref()).map(|a| match &a.failed_check {
            None if a.passed => format!("passed (attempt {}), against {}", a.attempt, a.king.repo()),
            Some(r) => format!("refused (attempt {}): {}: {}", a.attempt, r.code, r.detail),
            None => format!("refused (attempt {})", a.attempt),
        }),
        admission_ok: eval.and_then(|e| e.admission.as_ref()).is_some_and(|a| a.passed),
        fingerprint: eval.and_then(|e| e.nearest_fingerprint.as_ref()).map(|n| {
            format!("nearest earlier model: {} ({}), similarity {}", n.model.repo(), n.eval_id, fixed(n.similarity, 4))
        }),
        probes: eval.filter(|e| !e.probes.is_empty()).map(|e| {
            let count = |o| e.probes.iter().filter(|p| **p == o).count();
            format!(
                "{} probes: {} clean, {} injection, {} untested",
                e.probes.len(),
                count(ProbeOutcome::Clean),
                count(ProbeOutcome::Injection),
                count(ProbeOutcome::Untested)
            )
        }),
    };
    let page = EvalPage {
        layout: ctx.layout(eval_id, root, Section::None),
        eval_id: eval_id.to_string(),
        status,
        model,
        hotkey: ctx.hotkey(&hotkey, root),
        uid: ctx.views.state.metagraph.as_ref().and_then(|m| m.uids.get(&hotkey).copied()),
        commitment_block,
        queued: Time::of(eval.map_or(0, |e| e.queued_time_ms)),
        ended: eval.and_then(|e| e.ended_time_ms).map(Time::of),
        attempts: eval.map_or(0, |e| e.attempt),
        retries: eval.map_or(0, |e| e.retries),
        king,
        crowned: crowned
            .map(|r| Link { text: format!("reign {r}"), href: Some(format!("{root}kings.html#reign-{r}")) }),
        verdict: match (eval, verdict_item) {
            (Some(e), Some((v, _, _, t))) => Some(verdict_view(ctx, e, v, t)),
            _ => None,
        },
        failures,
        checks,
        cmd_seed: seed.as_ref().and_then(|s| seed_command(&s.block_hash, &s.hotkey)),
        seed,
        cmd_verdict: format!("albedo-replay verdict --ledger LEDGER {eval_id}"),
        cmd_turns: format!("albedo-replay events --ledger <dir> --eval {eval_id} --kind turn_judged"),
        cmd_draw: format!("albedo-replay events --ledger <dir> --eval {eval_id} --kind samples_drawn"),
    };
    html(&page)
}
