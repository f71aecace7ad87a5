//! `index.html`: the competition now. The king, the chain of kings who still earn, the live
//! eval, the queue, recent verdicts and failures, the charts, counters and the ledger head.

use albedo_projections::dashboard::KingRow;
use askama::Template;

use super::{Ctx, FailureRow, Hotkey, Layout, Link, Model, RECENT_ROWS, Section, VerdictRow, html};
use crate::format::{Time, duration, percent, short_digest, signed};

pub struct KingCard {
    pub reign: u64,
    pub model: Model,
    pub hotkey: Option<Hotkey>,
    pub uid: Option<u16>,
    pub crowned: Time,
    pub crowned_block: Option<u64>,
    pub reigning_for: String,
    /// The crowning eval and its score, `None` for a genesis king.
    pub crowning: Option<Crowning>,
}

pub struct Crowning {
    pub eval: Link,
    pub challenger_score: String,
    pub king_score: String,
}

pub struct ChainRow {
    pub reign: u64,
    pub current: bool,
    pub model: Model,
    pub hotkey: Option<Hotkey>,
    pub uid: Option<u16>,
    pub crowned: Time,
    /// `50.0%`, or `—` for a king that no longer earns.
    pub share: String,
    /// Still paid by the weights policy.
    pub earns: bool,
}

pub struct Live {
    pub eval_id: String,
    pub attempt: u32,
    pub model: Model,
    pub hotkey: Hotkey,
    pub started: Option<Time>,
    pub n_done: u32,
    pub n_total: Option<u32>,
    /// `37.5%` of the drawn turns, or empty before the draw.
    pub progress: String,
    pub running_mean_delta: String,
    pub seed_hex: Option<String>,
    pub king: String,
}

pub struct QueueItem {
    pub position: usize,
    pub eval_id: String,
    pub model: Model,
    pub hotkey: Hotkey,
    pub queued: Time,
    pub block: u64,
}

pub struct Counter {
    pub label: &'static str,
    pub value: u64,
    pub note: &'static str,
}

pub struct LedgerBox {
    pub size: u64,
    pub head_seq: String,
    pub head_hash: String,
    pub head_time: Option<Time>,
    pub config_sha256: String,
    pub competition: Option<CompetitionBox>,
    pub last_weights: Option<String>,
}

pub struct CompetitionBox {
    pub reset_number: u32,
    pub reason: &'static str,
    pub started: Time,
    pub validator: String,
    pub dataset_manifest: String,
}

#[derive(Template)]
#[template(path = "index.html", whitespace = "minimize")]
pub struct IndexPage {
    pub layout: Layout,
    pub netuid: u16,
    pub king: Option<KingCard>,
    pub chain: Vec<ChainRow>,
    pub chain_depth: u32,
    pub live: Option<Live>,
    pub queue: Vec<QueueItem>,
    pub verdicts: Vec<VerdictRow>,
    pub verdict_caption: String,
    pub failures: Vec<FailureRow>,
    pub failure_caption: String,
    pub counters: Vec<Counter>,
    pub ledger: LedgerBox,
    pub chart_margin: String,
    pub chart_reigns: String,
    pub chart_agreement: String,
}

fn chain_row(ctx: &Ctx, k: &KingRow, current: bool) -> ChainRow {
    let root = "";
    ChainRow {
        reign: k.reign,
        current,
        model: Model {
            repo: k.model_repo.clone(),
            digest: k.model_digest.clone(),
            digest_short: short_digest(&k.model_digest),
        },
        hotkey: (!k.hotkey.is_empty()).then(|| ctx.hotkey(&k.hotkey, root)),
        uid: k.uid,
        crowned: Time::of(ctx.views.reigns.iter().find(|r| r.reign == k.reign).map_or(0, |r| r.crowned_time_ms)),
        share: k.weight_share.map_or_else(|| "—".into(), |s| percent(s, 1)),
        earns: k.weight_share.is_some(),
    }
}

pub fn index_page(ctx: &Ctx) -> Vec<u8> {
    let root = "";
    let views = ctx.views;
    let state = &views.state;
    let dash = ctx.dash;
    let king = state.king.as_ref().map(|k| {
        let eval = k.eval_id.as_ref().and_then(|id| state.evals.get(id));
        KingCard {
            reign: k.reign,
            model: Model::of(&k.model),
            hotkey: k.hotkey.as_deref().map(|h| ctx.hotkey(h, root)),
            uid: k.hotkey.as_deref().and_then(|h| state.metagraph.as_ref().and_then(|m| m.uids.get(h).copied())),
            crowned: Time::of(k.crowned_time_ms),
            crowned_block: k.crowned_block,
            reigning_for: duration(ctx.now_ms.saturating_sub(k.crowned_time_ms)),
            crowning: k.eval_id.as_ref().map(|id| Crowning {
                eval: ctx.eval_link(id, root),
                challenger_score: super::opt_fixed(
                    eval.and_then(|e| e.verdict.as_ref()).and_then(|v| v.figures.challenger_score),
                    2,
                ),
                king_score: super::opt_fixed(
                    eval.and_then(|e| e.verdict.as_ref()).and_then(|v| v.figures.king_score),
                    2,
                ),
            }),
        }
    });
    let mut chain: Vec<ChainRow> = dash.king.iter().map(|k| chain_row(ctx, k, true)).collect();
    chain.extend(dash.king_chain.iter().map(|k| chain_row(ctx, k, false)));
    let live = state.current_eval().map(|e| {
        let cur = dash.current_eval.as_ref();
        let n_total = cur.and_then(|c| c.n_total);
        Live {
            eval_id: e.eval_id.clone(),
            attempt: e.attempt,
            model: Model::of(&e.challenger),
            hotkey: ctx.hotkey(&e.hotkey, root),
            started: e.started.as_ref().map(|s| Time::of(s.time_ms)),
            n_done: e.n_judged,
            n_total,
            progress: n_total
                .filter(|n| *n > 0)
                .map(|n| percent(f64::from(e.n_judged) / f64::from(n), 1))
                .unwrap_or_default(),
            running_mean_delta: cur.and_then(|c| c.running_mean_delta).map_or_else(|| "—".into(), |d| signed(d, 4)),
            seed_hex: e.started.as_ref().map(|s| s.seed_hex.clone()),
            king: e.started.as_ref().map_or_else(
                || state.king.as_ref().map_or_else(|| "—".into(), |k| k.model.repo().to_string()),
                |s| s.king.repo().to_string(),
            ),
        }
    });
    let queue = state
        .queue
        .iter()
        .filter_map(|id| state.evals.get(id))
        .enumerate()
        .map(|(i, e)| QueueItem {
            position: i + 1,
            eval_id: e.eval_id.clone(),
            model: Model::of(&e.challenger),
            hotkey: ctx.hotkey(&e.hotkey, root),
            queued: Time::of(e.queued_time_ms),
            block: e.commitment_block,
        })
        .collect();
    let (n_verdicts, n_failures) = ctx.counts();
    let verdicts = ctx.verdict_rows(root, RECENT_ROWS);
    let failures = ctx.failure_rows(root, RECENT_ROWS);
    let st = &dash.stats;
    let counters = vec![
        Counter { label: "Reveals seen", value: st.reveals_seen, note: "valid commitments read from chain" },
        Counter { label: "Reveals rejected", value: st.reveals_rejected, note: "refused, each with a reason" },
        Counter { label: "Queued", value: st.queued, note: "evals entered the queue" },
        Counter { label: "Accepted", value: st.accepted, note: "verdicts that crowned" },
        Counter { label: "Rejected", value: st.rejected, note: "verdicts where the king held" },
        Counter { label: "Failed", value: st.failed, note: "ended and charged to the miner" },
        Counter { label: "Duplicates", value: st.duplicates, note: "near-copies of earlier models" },
        Counter { label: "Injection attempts", value: st.injection_attempts, note: "caught by the probes" },
        Counter { label: "Retried", value: st.retried, note: "infra failures, re-queued" },
        Counter { label: "Abandoned", value: st.abandoned, note: "infra failures past the retry budget" },
        Counter { label: "Hotkeys seen", value: dash.seen_count as u64, note: "one reveal each per competition" },
        Counter { label: "Eval counter", value: dash.counter, note: "ids never restart" },
    ];
    let ledger = LedgerBox {
        size: dash.ledger.size,
        head_seq: dash.ledger.head_seq.map_or_else(|| "—".into(), |s| s.to_string()),
        head_hash: dash.ledger.head_hash.clone().unwrap_or_else(|| "—".into()),
        head_time: views.head.map(|h| Time::of(h.time_ms)),
        config_sha256: dash.config_sha256.clone().unwrap_or_else(|| "—".into()),
        competition: state.competition.as_ref().map(|c| CompetitionBox {
            reset_number: c.reset_number,
            reason: match c.reason {
                albedo_ledger::event::StartReason::Genesis => "genesis",
                albedo_ledger::event::StartReason::Reset => "reset",
            },
            started: Time::of(c.started_time_ms),
            validator: c.validator_hotkey.clone(),
            dataset_manifest: c.dataset_manifest_sha256.to_hex(),
        }),
        last_weights: dash.last_weights.as_ref().map(|w| {
            let uids: Vec<String> = w.uids.iter().map(u16::to_string).collect();
            format!(
                "block {} · {} · {} · uids {}",
                w.block,
                w.reason,
                w.outcome,
                if uids.is_empty() { "none".into() } else { uids.join(", ") }
            )
        }),
    };
    let caption = |what: &str, shown: usize, total: usize| {
        if shown < total {
            format!("The latest {shown} of {total} {what}, newest first.")
        } else {
            format!("All {total} {what}, newest first.")
        }
    };
    let page = IndexPage {
        layout: ctx.layout("Overview", root, Section::Overview),
        netuid: dash.chain.netuid,
        king,
        chain,
        chain_depth: dash.chain.king_chain_depth,
        live,
        queue,
        verdict_caption: caption("verdicts", verdicts.len(), n_verdicts),
        verdicts,
        failure_caption: caption("failed attempts", failures.len(), n_failures),
        failures,
        counters,
        ledger,
        chart_margin: ctx.margin_chart("chart-margin", super::FULL_WIDTH, root),
        chart_reigns: ctx.reign_chart("chart-reigns", super::HALF_WIDTH, super::CHART_REIGNS),
        chart_agreement: ctx.agreement_chart("chart-agreement", super::HALF_WIDTH),
    };
    html(&page)
}
