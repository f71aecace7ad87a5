//! The pages: a view model per page, built from the views, and its askama template.
//!
//! Templates only place text; every number, time and link is formatted here (see
//! [`crate::format`]), so what a page says is decided in Rust and tested there. Pages link to
//! each other relatively (`root` is `""` at the top and `"../"` one directory down), so the site
//! works from any prefix of a bucket or from a directory on disk.

mod eval;
mod history;
mod index;
mod kings;
mod miner;

use std::collections::BTreeMap;

use albedo_ledger::event::{Fault, ModelRef};
use albedo_projections::dashboard::Dashboard;
use albedo_projections::views::{HistoryItem, Views};
use askama::Template;

use crate::charts::{self, AgreementPoint, MarginPoint, ReignBar};
use crate::format::{Time, duration, fixed, page_name, score, short_digest, short_hotkey, signed};

pub use eval::eval_page;
pub use history::history_page;
pub use index::index_page;
pub use kings::kings_page;
pub use miner::miner_page;

/// How many verdicts and failures the overview lists, and how far back its charts look.
const RECENT_ROWS: usize = 20;
const CHART_VERDICTS: usize = 200;
const CHART_REIGNS: usize = 60;

/// Chart widths in CSS pixels: the content column at a 1280 px window, and half of it. Wider
/// screens keep them at this size; narrower ones scale them down.
const FULL_WIDTH: f64 = 1104.0;
const HALF_WIDTH: f64 = 540.0;

/// Renders a template. Rendering into a `String` fails only if a `Display` impl fails, and ours
/// are all `String`s and integers.
fn html(t: &impl Template) -> Vec<u8> {
    t.render().expect("templates render into a String").into_bytes()
}

/// What every page's frame needs.
pub struct Layout {
    pub title: String,
    /// `""` at the top, `"../"` one directory down.
    pub root: &'static str,
    pub nav: Vec<NavItem>,
    pub head: Option<HeadInfo>,
}

pub struct NavItem {
    pub href: String,
    pub text: &'static str,
    pub current: bool,
}

/// The last ledger entry folded: every page says which ledger state it shows.
#[derive(Clone)]
pub struct HeadInfo {
    pub seq: u64,
    pub size: u64,
    pub hash: String,
    pub hash_short: String,
    pub time: Time,
}

/// Which top-level page a page belongs under.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Overview,
    Kings,
    History,
    None,
}

/// A link, or plain text when there is no page to link to.
#[derive(Clone)]
pub struct Link {
    pub text: String,
    pub href: Option<String>,
}

/// A model: its repo and its digest, full and shortened.
#[derive(Clone)]
pub struct Model {
    pub repo: String,
    pub digest: String,
    pub digest_short: String,
}

impl Model {
    fn of(m: &ModelRef) -> Model {
        Model { repo: m.repo().to_string(), digest: m.digest().to_string(), digest_short: short_digest(m.digest()) }
    }

    fn unknown() -> Model {
        Model { repo: "unknown".into(), digest: String::new(), digest_short: String::new() }
    }
}

/// A hotkey: shortened for tables, full for titles, linked to its miner page when it has one.
#[derive(Clone)]
pub struct Hotkey {
    pub full: String,
    pub short: String,
    pub href: Option<String>,
}

/// One verdict in a table.
pub struct VerdictRow {
    pub eval: Link,
    pub time: Time,
    pub model: Model,
    pub hotkey: Hotkey,
    /// The king faced: its repo (or `—`) and reign.
    pub king_repo: String,
    pub king_reign: Option<u64>,
    pub challenger_score: String,
    pub king_score: String,
    pub margin: String,
    pub lcb: String,
    pub lcb_ok: bool,
    pub accepted: bool,
    /// The reign this verdict crowned, if it did.
    pub crowned: Option<u64>,
}

/// One failed attempt in a table.
pub struct FailureRow {
    pub eval: Link,
    pub time: Time,
    pub model: Model,
    pub hotkey: Hotkey,
    pub attempt: u32,
    pub code: String,
    pub detail: String,
    /// `miner`, `infra` or `validator`.
    pub fault: &'static str,
    pub miner_fault: bool,
    pub requeued: bool,
}

pub fn fault_text(f: Fault) -> &'static str {
    match f {
        Fault::Miner => "miner",
        Fault::Infra => "infra",
        Fault::Validator => "validator",
    }
}

/// Everything the pages share: the views, the dashboard model, and lookups built once.
pub struct Ctx<'a> {
    pub views: &'a Views,
    pub dash: &'a Dashboard,
    /// Eval id → its verdict and failures, oldest first. Exactly these evals get a page.
    pub by_eval: BTreeMap<&'a str, Vec<&'a HistoryItem>>,
    /// Eval id → the reign it crowned.
    pub crowned_by: BTreeMap<&'a str, u64>,
    pub head: Option<HeadInfo>,
    /// The time "now" means on every page: the last entry's, never the build's.
    pub now_ms: u64,
}

impl<'a> Ctx<'a> {
    pub fn new(views: &'a Views, dash: &'a Dashboard) -> Ctx<'a> {
        let mut by_eval: BTreeMap<&str, Vec<&HistoryItem>> = BTreeMap::new();
        for item in &views.history {
            by_eval.entry(item.eval_id()).or_default().push(item);
        }
        let crowned_by = views.reigns.iter().filter_map(|r| r.eval_id.as_deref().map(|id| (id, r.reign))).collect();
        let head = views.head.map(|h| HeadInfo {
            seq: h.seq,
            size: h.seq + 1,
            hash: h.hash.to_hex(),
            hash_short: crate::format::short(&h.hash.to_hex(), 12),
            time: Time::of(h.time_ms),
        });
        let now_ms = views.head.map_or(0, |h| h.time_ms);
        Ctx { views, dash, by_eval, crowned_by, head, now_ms }
    }

    fn layout(&self, title: impl Into<String>, root: &'static str, section: Section) -> Layout {
        let item = |file: &str, text, s| NavItem {
            href: format!("{root}{file}"),
            text,
            current: section == s && s != Section::None,
        };
        Layout {
            title: title.into(),
            root,
            nav: vec![
                item("index.html", "Overview", Section::Overview),
                item("kings.html", "Kings", Section::Kings),
                item("history.html", "History", Section::History),
                item("dashboard.json", "dashboard.json", Section::None),
            ],
            head: self.head.clone(),
        }
    }

    /// The eval's page, when it has one (a verdict or a failure).
    fn eval_link(&self, eval_id: &str, root: &str) -> Link {
        Link {
            text: eval_id.to_string(),
            href: self.by_eval.contains_key(eval_id).then(|| format!("{root}evals/{}.html", page_name(eval_id))),
        }
    }

    fn hotkey(&self, hotkey: &str, root: &str) -> Hotkey {
        Hotkey {
            full: hotkey.to_string(),
            short: short_hotkey(hotkey),
            href: self.views.miners.contains_key(hotkey).then(|| format!("{root}miners/{}.html", page_name(hotkey))),
        }
    }

    fn verdict_row(&self, item: &HistoryItem, root: &str) -> Option<VerdictRow> {
        let HistoryItem::Verdict { eval_id, hotkey, challenger, verdict, king, time_ms, .. } = item else {
            return None;
        };
        let f = &verdict.figures;
        let margin = match (f.challenger_score, f.king_score) {
            (Some(c), Some(k)) => signed(c - k, 2),
            _ => "—".into(),
        };
        Some(VerdictRow {
            eval: self.eval_link(eval_id, root),
            time: Time::of(*time_ms),
            model: Model::of(challenger),
            hotkey: self.hotkey(hotkey, root),
            king_repo: king.as_ref().map_or_else(|| "—".into(), |k| k.model.repo().to_string()),
            king_reign: king.as_ref().map(|k| k.reign),
            challenger_score: score(f.challenger_score, 2),
            king_score: score(f.king_score, 2),
            margin,
            lcb: signed(f.lcb, 4),
            lcb_ok: f.lcb_ok,
            accepted: verdict.accepted,
            crowned: self.crowned_by.get(eval_id.as_str()).copied(),
        })
    }

    fn failure_row(&self, item: &HistoryItem, root: &str) -> Option<FailureRow> {
        let HistoryItem::Failure {
            eval_id, hotkey, challenger, attempt, fault, code, detail, requeued, time_ms, ..
        } = item
        else {
            return None;
        };
        Some(FailureRow {
            eval: self.eval_link(eval_id, root),
            time: Time::of(*time_ms),
            model: Model::of(challenger),
            hotkey: self.hotkey(hotkey, root),
            attempt: *attempt,
            code: code.clone(),
            detail: detail.clone(),
            fault: fault_text(*fault),
            miner_fault: *fault == Fault::Miner,
            requeued: *requeued,
        })
    }

    /// Verdict rows, newest first, at most `limit`.
    fn verdict_rows(&self, root: &str, limit: usize) -> Vec<VerdictRow> {
        self.views.history.iter().rev().filter_map(|h| self.verdict_row(h, root)).take(limit).collect()
    }

    fn failure_rows(&self, root: &str, limit: usize) -> Vec<FailureRow> {
        self.views.history.iter().rev().filter_map(|h| self.failure_row(h, root)).take(limit).collect()
    }

    fn counts(&self) -> (usize, usize) {
        let verdicts = self.views.verdicts().count();
        (verdicts, self.views.history.len() - verdicts)
    }

    /// Chart (a) over the latest [`CHART_VERDICTS`] verdicts.
    fn margin_chart(&self, id: &str, width: f64, root: &str) -> String {
        let all: Vec<(&HistoryItem, MarginPoint)> = self
            .views
            .verdicts()
            .filter_map(|h| {
                let HistoryItem::Verdict { eval_id, verdict, .. } = h else { return None };
                let f = &verdict.figures;
                let margin = f.challenger_score? - f.king_score?;
                Some((
                    h,
                    MarginPoint {
                        eval_id: eval_id.clone(),
                        href: format!("{root}evals/{}.html", page_name(eval_id)),
                        margin,
                        win_margin: f.win_margin.parse::<f64>().ok().filter(|x| x.is_finite()),
                        win_margin_text: f.win_margin.clone(),
                        accepted: verdict.accepted,
                    },
                ))
            })
            .collect();
        let total = all.len();
        let window = &all[total.saturating_sub(CHART_VERDICTS)..];
        let date = |h: Option<&&HistoryItem>| h.map(|h| Time::of(h.time_ms()).text).unwrap_or_default();
        let points: Vec<MarginPoint> = window.iter().map(|(_, p)| p.clone()).collect();
        charts::score_margin(
            id,
            width,
            &points,
            total,
            &date(window.first().map(|(h, _)| h)),
            &date(window.last().map(|(h, _)| h)),
        )
    }

    /// Chart (b) over the latest `limit` reigns.
    fn reign_chart(&self, id: &str, width: f64, limit: usize) -> String {
        let reigns = &self.views.reigns;
        let window = &reigns[reigns.len().saturating_sub(limit)..];
        let bars: Vec<ReignBar> = window
            .iter()
            .map(|r| {
                let end = r.ended_time_ms.unwrap_or(self.now_ms);
                let ms = end.saturating_sub(r.crowned_time_ms);
                ReignBar {
                    reign: r.reign,
                    hours: ms as f64 / 3_600_000.0,
                    ongoing: r.ended_time_ms.is_none(),
                    label: format!(
                        "Reign {}: {} · {}{}",
                        r.reign,
                        r.model.repo(),
                        duration(ms),
                        if r.ended_time_ms.is_none() { " so far" } else { "" }
                    ),
                }
            })
            .collect();
        charts::reign_lengths(id, width, &bars, reigns.len())
    }

    /// Chart (c) over the latest [`CHART_VERDICTS`] verdicts.
    fn agreement_chart(&self, id: &str, width: f64) -> String {
        let all: Vec<&HistoryItem> = self.views.verdicts().collect();
        let total = all.len();
        let window = &all[total.saturating_sub(CHART_VERDICTS)..];
        let points: Vec<AgreementPoint> = window
            .iter()
            .filter_map(|h| {
                let HistoryItem::Verdict { eval_id, verdict, .. } = h else { return None };
                let info = verdict.figures.informational.as_ref();
                let shares: Vec<f64> =
                    info.map(|i| i.pairwise_agreement.iter().filter_map(|p| p.share).collect()).unwrap_or_default();
                Some(AgreementPoint {
                    eval_id: eval_id.clone(),
                    overall: info.and_then(|i| i.agreement.share),
                    // Summed left to right, in judge-pair order.
                    pairwise: (!shares.is_empty()).then(|| shares.iter().sum::<f64>() / shares.len() as f64),
                })
            })
            .collect();
        let date = |h: Option<&&HistoryItem>| h.map(|h| Time::of(h.time_ms()).text).unwrap_or_default();
        charts::agreement(id, width, &points, total, &date(window.first()), &date(window.last()))
    }
}

/// A fixed-decimals score or a dash, for templates.
fn opt_fixed(x: Option<f64>, decimals: usize) -> String {
    x.map_or_else(|| "—".into(), |x| fixed(x, decimals))
}
