//! `miners/<hotkey>.html`: one hotkey's story. Its reveals (seen, or refused with the reason),
//! its evals and how each ended, and the reigns it won.

use albedo_projections::views::MinerItem;
use askama::Template;

use super::{Ctx, Layout, Link, Model, Section, fault_text, html};
use crate::format::{Time, score};

pub struct RevealRow {
    pub time: Time,
    pub commitment_block: u64,
    pub seen: bool,
    /// The model for a reveal seen; the raw commitment for one refused.
    pub model: Option<Model>,
    pub raw: String,
    pub code: String,
    pub detail: String,
}

pub struct Outcome {
    pub time: Time,
    /// CSS class of the badge.
    pub class: &'static str,
    pub badge: String,
    pub text: String,
}

pub struct EvalRow {
    pub eval: Link,
    pub queued: Option<Time>,
    pub model: Option<Model>,
    pub outcomes: Vec<Outcome>,
}

#[derive(Template)]
#[template(path = "miner.html", whitespace = "minimize")]
pub struct MinerPage {
    pub layout: Layout,
    pub hotkey: String,
    pub uid: Option<u16>,
    pub coldkey: Option<String>,
    pub reveals: Vec<RevealRow>,
    pub evals: Vec<EvalRow>,
    pub reigns: Vec<Link>,
}

pub fn miner_page(ctx: &Ctx, hotkey: &str) -> Vec<u8> {
    let root = "../";
    let items = ctx.views.miners.get(hotkey).map(Vec::as_slice).unwrap_or_default();
    let mut reveals = Vec::new();
    let mut evals: Vec<EvalRow> = Vec::new();
    let mut reigns = Vec::new();
    // Outcomes go to the row of their eval, made on first sight (a row exists before its
    // outcome in any ledger the validator wrote; a foreign one still renders).
    fn row<'r>(evals: &'r mut Vec<EvalRow>, ctx: &Ctx, eval_id: &str, root: &str) -> &'r mut EvalRow {
        match evals.iter().position(|r| r.eval.text == eval_id) {
            Some(i) => &mut evals[i],
            None => {
                evals.push(EvalRow {
                    eval: ctx.eval_link(eval_id, root),
                    queued: None,
                    model: None,
                    outcomes: Vec::new(),
                });
                evals.last_mut().expect("just pushed")
            }
        }
    }
    for item in items {
        match item {
            MinerItem::RevealSeen { commitment_block, model, time_ms } => reveals.push(RevealRow {
                time: Time::of(*time_ms),
                commitment_block: *commitment_block,
                seen: true,
                model: Some(Model::of(model)),
                raw: String::new(),
                code: String::new(),
                detail: String::new(),
            }),
            MinerItem::RevealRejected { commitment_block, raw, code, detail, time_ms } => reveals.push(RevealRow {
                time: Time::of(*time_ms),
                commitment_block: *commitment_block,
                seen: false,
                model: None,
                raw: raw.clone(),
                code: code.clone(),
                detail: detail.clone(),
            }),
            MinerItem::Queued { eval_id, model, time_ms } => {
                let r = row(&mut evals, ctx, eval_id, root);
                r.queued = Some(Time::of(*time_ms));
                r.model = Some(Model::of(model));
            }
            MinerItem::Verdict { eval_id, accepted, challenger_score, time_ms } => {
                row(&mut evals, ctx, eval_id, root).outcomes.push(Outcome {
                    time: Time::of(*time_ms),
                    class: if *accepted { "accepted" } else { "rejected" },
                    badge: if *accepted { "accepted".into() } else { "rejected".into() },
                    text: format!("challenger score {}", score(*challenger_score, 2)),
                })
            }
            MinerItem::Failed { eval_id, fault, code, detail, requeued, time_ms } => {
                row(&mut evals, ctx, eval_id, root).outcomes.push(Outcome {
                    time: Time::of(*time_ms),
                    class: if *fault == albedo_ledger::event::Fault::Miner { "fault-miner" } else { "fault-infra" },
                    badge: format!("failed · {}", fault_text(*fault)),
                    text: format!("{code}: {detail}{}", if *requeued { " (requeued)" } else { "" }),
                })
            }
            MinerItem::Crowned { reign, eval_id, time_ms } => {
                reigns.push(Link {
                    text: format!("reign {reign}"),
                    href: Some(format!("{root}kings.html#reign-{reign}")),
                });
                if let Some(id) = eval_id {
                    row(&mut evals, ctx, id, root).outcomes.push(Outcome {
                        time: Time::of(*time_ms),
                        class: "crowned",
                        badge: "crowned".into(),
                        text: format!("reign {reign}"),
                    });
                }
            }
        }
    }
    let metagraph = ctx.views.state.metagraph.as_ref();
    let uid = metagraph.and_then(|m| m.uids.get(hotkey).copied());
    let page = MinerPage {
        layout: ctx.layout(format!("Miner {}", crate::format::short_hotkey(hotkey)), root, Section::None),
        hotkey: hotkey.to_string(),
        uid,
        coldkey: uid.and_then(|u| metagraph.and_then(|m| m.neurons.get(&u))).map(|n| n.coldkey.clone()),
        reveals,
        evals,
        reigns,
    };
    html(&page)
}
