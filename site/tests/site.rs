//! The site over the fixed fixture competition: golden files, determinism (fake chain and a
//! real sled ledger), cheap accessibility checks, links, and what the pages must say.
//!
//! `UPDATE_GOLDEN=1 cargo test -p albedo-site` rewrites the golden files.

use std::collections::BTreeSet;
use std::path::Path;

use albedo_ledger::{ENTRY_VERSION, Envelope, Hash32, Store, Verifier};
use albedo_projections::fixture::small_competition;
use albedo_projections::views::Views;
use albedo_site::{Site, render};

/// The fixture folded over a fake chain (hash of each seq): enough for pure render tests.
fn fixture_views() -> Views {
    let mut views = Views::new();
    for (seq, d) in small_competition().into_iter().enumerate() {
        let env = Envelope {
            v: ENTRY_VERSION,
            seq: seq as u64,
            prev: Hash32::ZERO,
            time_ms: d.time_ms,
            block: d.block,
            event: d.event,
        };
        views.apply(&env, Hash32::of(&seq.to_le_bytes()));
    }
    views
}

/// The fixture appended to a real store in `dir`, then streamed back through the verifier.
fn views_from_store(dir: &Path) -> (Views, Hash32) {
    let mut store = Store::create(dir.join("ledger")).expect("create the ledger");
    store.append_batch(small_competition()).expect("append the fixture");
    let mut verifier = Verifier::new();
    let mut views = Views::new();
    for entry in store.snapshot().entries(0) {
        let entry = entry.expect("read an entry");
        let (env, hash) = verifier.check(&entry.bytes).expect("the entry verifies");
        views.apply(&env, hash);
    }
    (views, store.head().expect("a head").hash)
}

fn text<'a>(site: &'a Site, path: &str) -> &'a str {
    let bytes = site.files.get(path).unwrap_or_else(|| panic!("the site has no {path}"));
    std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{path} is not UTF-8: {e}"))
}

fn html_pages(site: &Site) -> impl Iterator<Item = (&String, &str)> {
    site.files.iter().filter(|(p, _)| p.ends_with(".html")).map(|(p, b)| (p, std::str::from_utf8(b).expect("UTF-8")))
}

// ---------------------------------------------------------------------------------------------
// Golden files

/// Compares `actual` with `tests/golden/<name>`, or rewrites it under `UPDATE_GOLDEN=1`.
fn check_golden(name: &str, actual: &[u8]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!("cannot read {}: {e}; run UPDATE_GOLDEN=1 cargo test -p albedo-site", path.display())
    });
    if let Some(diff) = first_difference(&expected, actual) {
        panic!(
            "{name} differs from its golden file {}:\n{diff}\n\
             (if the change is intended: UPDATE_GOLDEN=1 cargo test -p albedo-site)",
            path.display()
        );
    }
}

/// The first line where `actual` differs from `expected`, both shown; `None` when equal.
fn first_difference(expected: &[u8], actual: &[u8]) -> Option<String> {
    if expected == actual {
        return None;
    }
    let (exp, act) = (String::from_utf8_lossy(expected), String::from_utf8_lossy(actual));
    let (mut exp_lines, mut act_lines) = (exp.split('\n'), act.split('\n'));
    let mut n = 1;
    loop {
        match (exp_lines.next(), act_lines.next()) {
            (Some(e), Some(a)) if e == a => n += 1,
            (e, a) => {
                return Some(format!(
                    "  line {n}\n  expected: {}\n  actual:   {}",
                    e.unwrap_or("<end of file>"),
                    a.unwrap_or("<end of file>")
                ));
            }
        }
    }
}

#[test]
fn golden_dashboard_index_and_eval_page() {
    let site = render(&fixture_views());
    check_golden("dashboard.json", &site.files["dashboard.json"]);
    check_golden("index.html", &site.files["index.html"]);
    check_golden("eval-000001.html", &site.files["evals/eval-000001.html"]);
}

#[test]
fn the_golden_check_names_the_first_differing_line() {
    let site = render(&fixture_views());
    let golden = &site.files["index.html"];
    let mut changed = golden.clone();
    let at = changed.windows(7).position(|w| w == b"Reign 2").expect("the index names the reign");
    changed[at] = b'r';
    let diff = first_difference(golden, &changed).expect("a changed page must not match");
    let line = 1 + golden[..at].iter().filter(|b| **b == b'\n').count();
    assert!(diff.contains(&format!("line {line}\n")), "{diff}");
    assert!(diff.contains(">Reign 2<") && diff.contains(">reign 2<"), "{diff}");
    assert_eq!(first_difference(golden, golden), None);
    let shorter = &golden[..golden.len() - 1];
    assert!(first_difference(golden, shorter).is_some());
}

// ---------------------------------------------------------------------------------------------
// Determinism

#[test]
fn rendering_twice_gives_identical_bytes() {
    let views = fixture_views();
    let (a, b) = (render(&views), render(&views));
    assert_eq!(a.files.keys().collect::<Vec<_>>(), b.files.keys().collect::<Vec<_>>());
    for (path, bytes) in &a.files {
        assert!(bytes == &b.files[path], "{path} differs between two renders");
    }
    // And a fresh fold of the same drafts renders the same too.
    assert_eq!(render(&fixture_views()), a);
}

#[test]
fn a_real_ledger_renders_the_same_twice() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (views_a, head_a) = views_from_store(dir_a.path());
    let (views_b, head_b) = views_from_store(dir_b.path());
    assert_eq!(head_a, head_b, "the same drafts give the same chain");
    let (a, b) = (render(&views_a), render(&views_b));
    assert_eq!(a, b);
    assert_eq!(render(&views_a), a);
    // The pages name the real head, not the fake chain's.
    assert!(text(&a, "index.html").contains(&head_a.to_hex()));
    assert!(text(&a, "dashboard.json").contains(&head_a.to_hex()));
    assert_ne!(render(&fixture_views()).files["index.html"], a.files["index.html"]);
}

// ---------------------------------------------------------------------------------------------
// Accessibility, cheaply

/// The level of every heading, in document order.
fn heading_levels(html: &str) -> Vec<u8> {
    let bytes = html.as_bytes();
    (0..bytes.len().saturating_sub(3))
        .filter(|&i| bytes[i] == b'<' && bytes[i + 1] == b'h' && (b'1'..=b'6').contains(&bytes[i + 2]))
        .filter(|&i| matches!(bytes[i + 3], b'>' | b' '))
        .map(|i| bytes[i + 2] - b'0')
        .collect()
}

#[test]
fn every_page_passes_the_cheap_accessibility_checks() {
    let site = render(&fixture_views());
    let mut svgs = 0;
    for (path, html) in html_pages(&site) {
        assert!(html.starts_with("<!doctype html>\n<html lang=\"en\">"), "{path}: doctype and lang=\"en\"");
        assert_eq!(html.matches("<h1").count(), 1, "{path}: exactly one <h1>");
        assert_eq!(html.matches("<main").count(), 1, "{path}: exactly one <main>");
        assert!(html.contains("<nav aria-label=\"Site\">") && html.contains("<footer"), "{path}: landmarks");
        let levels = heading_levels(html);
        assert_eq!(levels.first(), Some(&1), "{path}: the first heading is the <h1>");
        for pair in levels.windows(2) {
            assert!(pair[1] <= pair[0] + 1, "{path}: heading h{} follows h{}", pair[1], pair[0]);
        }
        for (i, _) in html.match_indices("<table") {
            let rest = &html[i..];
            let open_end = rest.find('>').unwrap();
            assert!(
                rest[open_end + 1..].trim_start().starts_with("<caption>"),
                "{path}: a <table> without a <caption>"
            );
        }
        for (i, _) in html.match_indices("<th") {
            let tag = &html[i..i + html[i..].find('>').unwrap()];
            if tag.starts_with("<th ") || tag == "<th" {
                assert!(tag.contains("scope=\"col\"") || tag.contains("scope=\"row\""), "{path}: {tag}> has no scope");
            }
        }
        for (i, _) in html.match_indices("<svg") {
            let end = html[i..].find("</svg>").expect("closed svg");
            let svg = &html[i..i + end];
            let open = &svg[..svg.find('>').unwrap()];
            assert!(open.contains("role=\"img\""), "{path}: an <svg> without role=\"img\"");
            assert!(open.contains("aria-labelledby="), "{path}: an <svg> without aria-labelledby");
            assert!(svg.contains("<title id=") && svg.contains("<desc id="), "{path}: an <svg> without <title>/<desc>");
            svgs += 1;
        }
        assert!(!html.contains("<img"), "{path}: images need alt text; the site draws SVG instead");
        assert!(!html.contains("<script"), "{path}: no script is needed to read the site");
    }
    assert!(svgs >= 6, "charts went missing: {svgs} <svg> in the site");
}

#[test]
fn the_accessibility_checks_can_fail() {
    assert_eq!(heading_levels("<h1>a</h1><h2 id=x>b</h2><h4>c</h4><header>"), vec![1, 2, 4]);
}

/// Every relative link points at a file of the site, and every fragment at an id on its page.
#[test]
fn every_link_resolves() {
    let site = render(&fixture_views());
    let mut checked = 0;
    for (path, html) in html_pages(&site) {
        let dir: Vec<&str> = path.split('/').collect::<Vec<_>>()[..path.matches('/').count()].to_vec();
        for (i, _) in html.match_indices("href=\"") {
            let href = &html[i + 6..i + 6 + html[i + 6..].find('"').unwrap()];
            if href.starts_with("data:") || href.starts_with("http") {
                continue;
            }
            let (file, fragment) = href.split_once('#').unwrap_or((href, ""));
            let mut parts = dir.clone();
            for seg in file.split('/').filter(|s| !s.is_empty()) {
                if seg == ".." {
                    assert!(parts.pop().is_some(), "{path}: {href} climbs out of the site");
                } else {
                    parts.push(seg);
                }
            }
            let target = if file.is_empty() { path.clone() } else { parts.join("/") };
            assert!(site.files.contains_key(&target), "{path}: {href} → {target} is not a file of the site");
            if !fragment.is_empty() {
                assert!(text(&site, &target).contains(&format!("id=\"{fragment}\"")), "{path}: {href} has no target");
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} links checked");
}

// ---------------------------------------------------------------------------------------------
// What the pages say

#[test]
fn the_site_has_a_page_per_ended_eval_and_per_miner() {
    let views = fixture_views();
    let site = render(&views);
    let evals: BTreeSet<&str> = site.files.keys().filter_map(|p| p.strip_prefix("evals/")).collect();
    let expected: BTreeSet<&str> =
        ["eval-000001.html", "eval-000002.html", "eval-000003.html", "eval-000004.html", "eval-000005.html"].into();
    assert_eq!(evals, expected, "eval-000006 is still running without a failure: no page yet");
    let miners: BTreeSet<String> =
        site.files.keys().filter_map(|p| p.strip_prefix("miners/")).map(String::from).collect();
    let expected: BTreeSet<String> = views.miners.keys().map(|h| format!("{h}.html")).collect();
    assert_eq!(miners, expected);
    for fixed in ["dashboard.json", "style.css", "index.html", "kings.html", "history.html"] {
        assert!(site.files.contains_key(fixed), "{fixed} missing");
    }
    assert_eq!(albedo_site::content_type("evals/eval-000001.html"), "text/html; charset=utf-8");
    assert_eq!(albedo_site::content_type("dashboard.json"), "application/json");
}

#[test]
fn the_dashboard_is_published_as_built() {
    let views = fixture_views();
    let site = render(&views);
    assert_eq!(site.files["dashboard.json"], albedo_projections::dashboard::Dashboard::build(&views).to_json_bytes());
}

#[test]
fn the_index_shows_the_king_the_live_eval_and_the_ledger() {
    let views = fixture_views();
    let site = render(&views);
    let index = text(&site, "index.html");
    let king_card = &index[index.find("id=\"king-h\"").unwrap()..index.find("id=\"live-h\"").unwrap()];
    assert!(king_card.contains("Reign 2") && king_card.contains("dave/albedo-qwen3-4b-long"), "{king_card}");
    assert!(king_card.contains("href=\"evals/eval-000003.html\">eval-000003</a>"));
    assert!(king_card.contains("84.85 : 15.15"));
    assert!(index.contains("eval-000006 · attempt 1") && index.contains("9 of 24"), "the live eval's progress");
    let head = views.head.unwrap();
    assert!(index.contains(&head.hash.to_hex()), "the head hash");
    let sha = views.state.competition.as_ref().unwrap().chain_toml_sha256.to_hex();
    assert!(index.contains(&sha), "the config sha256");
    // Verdicts newest first.
    let (v3, v1) = (index.find(">eval-000003</a>").unwrap(), index.rfind(">eval-000001</a>").unwrap());
    assert!(v3 < v1);
    // Times are the ledger's: the footer names the last entry's.
    assert!(index.contains(&albedo_projections::views::iso_time(head.time_ms)));
}

#[test]
fn an_eval_page_has_every_figure_and_says_where_the_turns_are() {
    let views = fixture_views();
    let site = render(&views);
    let page = text(&site, "evals/eval-000001.html");
    for needle in [
        "73.9394",
        "26.0606",
        "+47.8788 points",
        "18 of 24 valid (75.0%)",
        "minimax/minimax-m3",
        "correctness",
        "A-share",
        "0.8318",
        "18 of 120 (turn, metric) pairs (15.0%)",
        "albedo-replay verdict --ledger LEDGER eval-000001",
        "--eval eval-000001 --kind turn_judged",
        "BLAKE2b-512(block hash text ‖ hotkey text)",
        "| b2sum",
    ] {
        assert!(page.contains(needle), "eval-000001 lacks {needle:?}");
    }
    let eval = &views.state.evals["eval-000001"];
    let started = eval.started.as_ref().unwrap();
    assert!(page.contains(&started.seed_hex) && page.contains(&started.seed_block_hash));
    assert!(page.contains(&views.sample_digests["eval-000001"].to_hex()), "the samples digest");

    let retried = text(&site, "evals/eval-000003.html");
    assert!(retried.contains("eval_server_unreachable") && retried.contains("king_config_unavailable"));
    assert!(retried.contains("crowned as <a href=\"../kings.html#reign-2\">reign 2</a>"));
    let duplicate = text(&site, "evals/eval-000004.html");
    assert!(duplicate.contains("failed · miner") && duplicate.contains("duplicate_model"));
}

#[test]
fn kings_and_miner_pages_tell_their_story() {
    let site = render(&fixture_views());
    let kings = text(&site, "kings.html");
    for reign in ["id=\"reign-0\"", "id=\"reign-1\"", "id=\"reign-2\""] {
        assert!(kings.contains(reign), "kings.html lacks {reign}");
    }
    assert!(kings.contains("1 h 18 min") && kings.contains("genesis"));
    // charlie's v3 commitment was refused, with its reason.
    let charlie = text(&site, "miners/5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y.html");
    assert!(charlie.contains("refused") && charlie.contains("v3|charlie/model|sha256:00"), "{charlie}");
    let dave = text(&site, "miners/5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy.html");
    assert!(dave.contains("reign 2") && dave.contains("(requeued)") && dave.contains("accepted"));
}

#[test]
fn an_empty_ledger_still_renders_a_site() {
    let site = render(&Views::new());
    let index = text(&site, "index.html");
    assert!(index.contains("No king yet.") && index.contains("The ledger is empty."));
    assert_eq!(site.files.keys().filter(|p| p.contains('/')).count(), 0);
}

// ---------------------------------------------------------------------------------------------
// House rules

/// The site is pure: its manifest names no dependency beyond these (design.md §5).
#[test]
fn the_site_depends_only_on_the_pure_crates() {
    let allowed = ["albedo-projections", "albedo-ledger", "askama", "serde_json"];
    let manifest = include_str!("../Cargo.toml");
    let mut section = "";
    let mut seen = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if section == "[dependencies]" && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.', ' ']).next().unwrap_or("");
            assert!(allowed.contains(&name), "albedo-site depends on `{name}`: the site must stay pure");
            seen.push(name);
        }
    }
    assert!(seen.contains(&"askama"), "the check did not see the [dependencies] section");
}
