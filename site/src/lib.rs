//! `dashboard.json` and the static HTML site, rendered from the projections of the ledger.
//!
//! [`render`] turns [`Views`] (the fold of the ledger) into every file of the site, by relative
//! path: `dashboard.json`, `style.css`, `index.html`, `kings.html`, `history.html`, one
//! `evals/<eval id>.html` per eval with a verdict or a failure, and one `miners/<hotkey>.html`
//! per hotkey the ledger names. The pages are static HTML with inline SVG charts: no script is
//! needed to read them, and they read without CSS too.
//!
//! Architecture invariant: output is a pure function of the views. No clock (every time shown
//! is a ledger entry's, through [`iso_time`](albedo_projections::views::iso_time)), no
//! environment, no I/O, only ordered maps, and numbers printed with fixed rules (module
//! `format`: fixed decimals, no negative zero, no libm). The same ledger gives the same bytes on
//! any machine; the caller writes the files.

mod charts;
mod format;
mod pages;

use std::collections::BTreeMap;

use albedo_projections::dashboard::Dashboard;
use albedo_projections::views::Views;

use crate::format::page_name;

/// The stylesheet, one small hand-written file.
const STYLE: &str = include_str!("../assets/style.css");

/// Every file of the site, by relative path ('/'-separated), including "dashboard.json".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Renders the whole site. Pure and byte-deterministic: no clock, no env, no I/O, no HashMap
/// iteration; numbers formatted with fixed rules.
pub fn render(views: &Views) -> Site {
    let dashboard = Dashboard::build(views);
    let ctx = pages::Ctx::new(views, &dashboard);
    let mut files = BTreeMap::new();
    files.insert("dashboard.json".to_string(), dashboard.to_json_bytes());
    files.insert("style.css".to_string(), STYLE.as_bytes().to_vec());
    files.insert("index.html".to_string(), pages::index_page(&ctx));
    files.insert("kings.html".to_string(), pages::kings_page(&ctx));
    files.insert("history.html".to_string(), pages::history_page(&ctx));
    for eval_id in ctx.by_eval.keys() {
        files.insert(format!("evals/{}.html", page_name(eval_id)), pages::eval_page(&ctx, eval_id));
    }
    for hotkey in views.miners.keys() {
        files.insert(format!("miners/{}.html", page_name(hotkey)), pages::miner_page(&ctx, hotkey));
    }
    Site { files }
}

/// The `Content-Type` a file of the site is served with, by its extension.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
