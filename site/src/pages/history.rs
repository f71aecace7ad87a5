//! `history.html`: every verdict and every failed attempt, newest first.

use askama::Template;

use super::{Ctx, FailureRow, Layout, Section, VerdictRow, html};

#[derive(Template)]
#[template(path = "history.html", whitespace = "minimize")]
pub struct HistoryPage {
    pub layout: Layout,
    pub verdicts: Vec<VerdictRow>,
    pub verdict_caption: String,
    pub failures: Vec<FailureRow>,
    pub failure_caption: String,
    pub chart_margin: String,
    pub chart_agreement: String,
}

pub fn history_page(ctx: &Ctx) -> Vec<u8> {
    let root = "";
    let verdicts = ctx.verdict_rows(root, usize::MAX);
    let failures = ctx.failure_rows(root, usize::MAX);
    let page = HistoryPage {
        layout: ctx.layout("History", root, Section::History),
        verdict_caption: format!("All {} verdicts, newest first.", verdicts.len()),
        verdicts,
        failure_caption: format!("All {} failed attempts, newest first.", failures.len()),
        failures,
        chart_margin: ctx.margin_chart("chart-margin", super::FULL_WIDTH, root),
        chart_agreement: ctx.agreement_chart("chart-agreement", super::FULL_WIDTH),
    };
    html(&page)
}
