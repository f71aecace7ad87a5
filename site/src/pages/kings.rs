//! `kings.html`: every reign since the first entry, resets included, with absolute numbers.

use askama::Template;

use super::{Ctx, Hotkey, Layout, Link, Model, Section, html};
use crate::format::{Time, duration};

pub struct ReignRow {
    pub reign: u64,
    pub reset_number: u32,
    pub current: bool,
    pub model: Model,
    pub hotkey: Option<Hotkey>,
    pub crowned: Time,
    pub crowned_block: Option<u64>,
    pub ended: Option<Time>,
    pub duration: String,
    /// The crowning eval, `None` for a genesis king.
    pub eval: Option<Link>,
    /// `84.85 : 15.15`, or empty.
    pub score: String,
}

#[derive(Template)]
#[template(path = "kings.html", whitespace = "minimize")]
pub struct KingsPage {
    pub layout: Layout,
    pub reigns: Vec<ReignRow>,
    pub chart: String,
}

pub fn kings_page(ctx: &Ctx) -> Vec<u8> {
    let root = "";
    let reigns = ctx
        .views
        .reigns
        .iter()
        .rev()
        .map(|r| {
            let end = r.ended_time_ms.unwrap_or(ctx.now_ms);
            let score = r
                .crowning
                .as_ref()
                .map(|f| format!("{} : {}", super::opt_fixed(f.challenger_score, 2), super::opt_fixed(f.king_score, 2)))
                .unwrap_or_default();
            ReignRow {
                reign: r.reign,
                reset_number: r.reset_number,
                current: r.ended_time_ms.is_none(),
                model: Model::of(&r.model),
                hotkey: r.hotkey.as_deref().map(|h| ctx.hotkey(h, root)),
                crowned: Time::of(r.crowned_time_ms),
                crowned_block: r.crowned_block,
                ended: r.ended_time_ms.map(Time::of),
                duration: duration(end.saturating_sub(r.crowned_time_ms)),
                eval: r.eval_id.as_deref().map(|id| ctx.eval_link(id, root)),
                score,
            }
        })
        .collect();
    let page = KingsPage {
        layout: ctx.layout("Kings", root, Section::Kings),
        reigns,
        chart: ctx.reign_chart("chart-reigns", super::FULL_WIDTH, usize::MAX),
    };
    html(&page)
}
