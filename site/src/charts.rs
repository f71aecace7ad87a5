//! The site's charts, drawn as inline SVG in Rust: no script, readable without CSS.
//!
//! Every chart is an `<svg role="img">` labelled by its own `<title>` and `<desc>` (the desc
//! says what is plotted and over which window), with presentation attributes instead of CSS so
//! it draws the same without the stylesheet. Coordinates are printed with one decimal and axis
//! ticks come from a fixed list of steps, so the markup is byte-deterministic; no libm function
//! is called.

use std::fmt::Write as _;

use crate::format::{fixed, signed};

const LEFT: f64 = 52.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 40.0;
const FONT: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Liberation Sans', Arial, sans-serif";

// The palette (style.css uses the same values). Blue/orange stay apart for colour-blind readers;
// green marks an accepted verdict and is always paired with a distinct shape.
const INK: &str = "#1f2328";
const MUTED: &str = "#59636e";
const GRID: &str = "#e6e9ed";
const AXIS: &str = "#8c959f";
const BLUE: &str = "#0b61c4";
const ORANGE: &str = "#b35900";
const GREEN: &str = "#1a7f37";
const KING_GREY: &str = "#d5dae0";

/// One verdict of the score-margin chart.
#[derive(Clone, Debug)]
pub struct MarginPoint {
    pub eval_id: String,
    pub href: String,
    /// challenger_score − king_score, in points.
    pub margin: f64,
    /// The verdict's `win_margin`, parsed from its decimal text.
    pub win_margin: Option<f64>,
    /// The decimal text itself, for the label.
    pub win_margin_text: String,
    pub accepted: bool,
}

/// One reign of the reign-length chart.
#[derive(Clone, Debug)]
pub struct ReignBar {
    pub reign: u64,
    pub hours: f64,
    /// Still reigning: measured up to the ledger head.
    pub ongoing: bool,
    pub label: String,
}

/// One verdict of the agreement chart.
#[derive(Clone, Debug)]
pub struct AgreementPoint {
    pub eval_id: String,
    /// Share of (turn, metric) pairs on which every judge agreed.
    pub overall: Option<f64>,
    /// Mean over judge pairs of the share each pair agreed on.
    pub pairwise: Option<f64>,
}

/// One row of the per-judge score split on an eval page.
#[derive(Clone, Debug)]
pub struct SplitRow {
    pub name: String,
    /// The challenger's score, 0–100.
    pub challenger: f64,
}

/// Escapes text for SVG (and HTML) content and attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate: one decimal.
fn c(x: f64) -> String {
    fixed(x, 1)
}

fn open(out: &mut String, id: &str, w: f64, height: f64, title: &str, desc: &str) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" role=\"img\" viewBox=\"0 0 {w} {h}\" \
         width=\"{w}\" height=\"{h}\" aria-labelledby=\"{id}-title {id}-desc\" font-family=\"{FONT}\" \
         font-size=\"12\" fill=\"{INK}\">\n<title id=\"{id}-title\">{}</title>\n<desc id=\"{id}-desc\">{}</desc>\n",
        esc(title),
        esc(desc),
        w = c(w),
        h = c(height),
    );
}

fn close(out: &mut String) {
    out.push_str("</svg>");
}

fn empty(out: &mut String, w: f64, height: f64, message: &str) {
    let _ = writeln!(
        out,
        "<rect x=\"0.5\" y=\"0.5\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"{GRID}\"/>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{MUTED}\">{}</text>",
        c(w - 1.0),
        c(height - 1.0),
        c(w / 2.0),
        c(height / 2.0),
        esc(message)
    );
}

/// A y axis: `lo..=hi` in `step`s.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Scale {
    lo: f64,
    hi: f64,
    step: f64,
    decimals: usize,
}

/// The smallest step of 1, 2, 2.5 or 5 × 10ⁿ that covers `min..=max` in at most `ticks`
/// intervals, with both ends on a step. Built by multiplication only (no `log10`/`powi`).
fn nice_scale(min: f64, max: f64, ticks: f64) -> Scale {
    let (mut min, mut max) = if min.is_finite() && max.is_finite() { (min, max) } else { (0.0, 1.0) };
    if max - min < 1e-9 {
        min -= 1.0;
        max += 1.0;
    }
    let mut decade = 0.001;
    let mut decimals = 3usize;
    loop {
        for (m, extra) in [(1.0, 0), (2.0, 0), (2.5, 1), (5.0, 0)] {
            let step = decade * m;
            let lo = (min / step).floor() * step;
            let hi = (max / step).ceil() * step;
            if (hi - lo) / step <= ticks + 1e-9 || decade > 1e15 {
                return Scale { lo, hi, step, decimals: decimals + extra };
            }
        }
        decade *= 10.0;
        decimals = decimals.saturating_sub(1);
    }
}

impl Scale {
    fn ticks(&self) -> impl Iterator<Item = f64> + '_ {
        let n = ((self.hi - self.lo) / self.step).round() as usize;
        (0..=n).map(move |i| self.lo + self.step * i as f64)
    }

    /// The y pixel of `v` in a plot of `height` px starting at `top`.
    fn y(&self, v: f64, top: f64, height: f64) -> f64 {
        top + (self.hi - v) / (self.hi - self.lo) * height
    }
}

fn y_axis(out: &mut String, scale: &Scale, w: f64, plot_h: f64, unit: &str) {
    for t in scale.ticks() {
        let y = scale.y(t, TOP, plot_h);
        let _ = writeln!(
            out,
            "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{GRID}\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"{MUTED}\">{}{unit}</text>",
            c(LEFT),
            c(w - RIGHT),
            c(LEFT - 8.0),
            c(y + 4.0),
            fixed(t, scale.decimals),
            y = c(y),
        );
    }
}

/// The x centre of the `i`th of `n` evenly spaced slots.
fn slot_x(i: usize, n: usize, w: f64) -> f64 {
    LEFT + (i as f64 + 0.5) * (w - LEFT - RIGHT) / n as f64
}

fn x_caption(out: &mut String, w: f64, height: f64, first: &str, last: &str, middle: &str) {
    let y = c(height - 12.0);
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{y}\" fill=\"{MUTED}\">{}</text>\
         <text x=\"{}\" y=\"{y}\" text-anchor=\"middle\" fill=\"{MUTED}\">{}</text>\
         <text x=\"{}\" y=\"{y}\" text-anchor=\"end\" fill=\"{MUTED}\">{}</text>",
        c(LEFT),
        esc(first),
        c((LEFT + w - RIGHT) / 2.0),
        esc(middle),
        c(w - RIGHT),
        esc(last),
    );
}

fn triangle(x: f64, y: f64, r: f64) -> String {
    format!("M{},{}L{},{}L{},{}Z", c(x), c(y - r), c(x + r), c(y + r * 0.8), c(x - r), c(y + r * 0.8))
}

/// (a) challenger − king per verdict, oldest to newest, with the win margin dashed. Accepted
/// verdicts are green triangles, the others hollow grey circles; each links to its eval page.
pub fn score_margin(id: &str, w: f64, points: &[MarginPoint], total: usize, first: &str, last: &str) -> String {
    let height = 280.0;
    let plot_h = height - TOP - BOTTOM;
    let window = if points.len() < total {
        format!("the latest {} of {total} verdicts", points.len())
    } else {
        format!("all {total} verdicts")
    };
    let accepted = points.iter().filter(|p| p.accepted).count();
    let desc = format!(
        "Challenger score minus king score, in points, for {window}, oldest on the left. {accepted} accepted \
         (green triangles), {} rejected (hollow grey circles). The dashed line is the win margin the \
         challenger had to reach.",
        points.len() - accepted
    );
    let mut out = String::new();
    open(&mut out, id, w, height, "Challenger minus king score per verdict", &desc);
    if points.is_empty() {
        empty(&mut out, w, height, "No verdict yet");
        close(&mut out);
        return out;
    }
    let margins = points.iter().map(|p| p.margin).chain(points.iter().filter_map(|p| p.win_margin)).chain([0.0]);
    let (min, max) = margins.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let scale = nice_scale(min, max, 6.0);
    let _ = writeln!(out, "<text x=\"{}\" y=\"16\" fill=\"{MUTED}\">points</text>", c(LEFT - 8.0));
    y_axis(&mut out, &scale, w, plot_h, "");
    let zero = scale.y(0.0, TOP, plot_h);
    let _ = writeln!(
        out,
        "<line x1=\"{}\" y1=\"{z}\" x2=\"{}\" y2=\"{z}\" stroke=\"{AXIS}\"/>",
        c(LEFT),
        c(w - RIGHT),
        z = c(zero)
    );
    // The win margin, one dashed segment per run of verdicts sharing it.
    let n = points.len();
    let half = (w - LEFT - RIGHT) / n as f64 / 2.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && points[j + 1].win_margin_text == points[i].win_margin_text {
            j += 1;
        }
        if let Some(wm) = points[i].win_margin {
            let y = c(scale.y(wm, TOP, plot_h));
            let _ = writeln!(
                out,
                "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{ORANGE}\" stroke-width=\"1.5\" \
                 stroke-dasharray=\"6 4\"><title>win margin {}</title></line>",
                c(slot_x(i, n, w) - half),
                c(slot_x(j, n, w) + half),
                esc(&points[i].win_margin_text),
            );
        }
        i = j + 1;
    }
    let r = if n > 80 { 3.0 } else { 5.0 };
    for (i, p) in points.iter().enumerate() {
        let (x, y) = (slot_x(i, n, w), scale.y(p.margin, TOP, plot_h));
        let label = format!(
            "{}: {} points, {}",
            p.eval_id,
            signed(p.margin, 2),
            if p.accepted { "accepted" } else { "rejected" }
        );
        let shape = if p.accepted {
            format!("<path d=\"{}\" fill=\"{GREEN}\"/>", triangle(x, y, r + 1.0))
        } else {
            format!(
                "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"#ffffff\" stroke=\"{MUTED}\" stroke-width=\"1.5\"/>",
                c(x),
                c(y),
                c(r - 0.5)
            )
        };
        let _ = writeln!(out, "<a href=\"{}\"><title>{}</title>{shape}</a>", esc(&p.href), esc(&label));
    }
    // Legend, top right.
    let lx = w - RIGHT - 330.0;
    let _ = writeln!(
        out,
        "<g fill=\"{MUTED}\"><path d=\"{}\" fill=\"{GREEN}\"/><text x=\"{}\" y=\"20\">accepted</text>\
         <circle cx=\"{}\" cy=\"16\" r=\"4.5\" fill=\"#ffffff\" stroke=\"{MUTED}\" stroke-width=\"1.5\"/>\
         <text x=\"{}\" y=\"20\">rejected</text>\
         <line x1=\"{}\" y1=\"16\" x2=\"{}\" y2=\"16\" stroke=\"{ORANGE}\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\
         <text x=\"{}\" y=\"20\">win margin {}</text></g>",
        triangle(lx, 16.0, 6.0),
        c(lx + 10.0),
        c(lx + 90.0),
        c(lx + 100.0),
        c(lx + 172.0),
        c(lx + 200.0),
        c(lx + 206.0),
        esc(&points[n - 1].win_margin_text),
    );
    x_caption(&mut out, w, height, first, last, "verdicts, oldest → newest");
    close(&mut out);
    out
}

/// (b) how long each reign lasted, in hours; the reign still running is a dashed outline
/// measured to the ledger head.
pub fn reign_lengths(id: &str, w: f64, bars: &[ReignBar], total: usize) -> String {
    let height = 260.0;
    let plot_h = height - TOP - BOTTOM;
    let window = if bars.len() < total {
        format!("the latest {} of {total} reigns", bars.len())
    } else {
        format!("all {total} reigns")
    };
    let desc = format!(
        "Length of each reign in hours, for {window}, oldest on the left, labelled by reign number. The \
         reign still running is drawn as a dashed outline, measured up to the last ledger entry."
    );
    let mut out = String::new();
    open(&mut out, id, w, height, "Reign lengths", &desc);
    if bars.is_empty() {
        empty(&mut out, w, height, "No king yet");
        close(&mut out);
        return out;
    }
    let max = bars.iter().map(|b| b.hours).fold(0.0, f64::max);
    let scale = nice_scale(0.0, max, 5.0);
    let _ = writeln!(out, "<text x=\"{}\" y=\"16\" fill=\"{MUTED}\">hours</text>", c(LEFT - 8.0));
    y_axis(&mut out, &scale, w, plot_h, "");
    let n = bars.len();
    let slot = (w - LEFT - RIGHT) / n as f64;
    let bar_w = (slot * 0.7).min(48.0);
    let every = n.div_ceil(24);
    let base = scale.y(0.0, TOP, plot_h);
    for (i, b) in bars.iter().enumerate() {
        let x = slot_x(i, n, w) - bar_w / 2.0;
        let y = scale.y(b.hours.max(0.0), TOP, plot_h);
        let h = (base - y).max(1.0);
        let paint = if b.ongoing {
            format!("fill=\"#ffffff\" stroke=\"{BLUE}\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"")
        } else {
            format!("fill=\"{BLUE}\"")
        };
        let _ = writeln!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" {paint}><title>{}</title></rect>",
            c(x),
            c(base - h),
            c(bar_w),
            c(h),
            esc(&b.label)
        );
        if i % every == 0 || i + 1 == n {
            let _ = writeln!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{MUTED}\">{}</text>",
                c(slot_x(i, n, w)),
                c(base + 16.0),
                b.reign
            );
        }
    }
    let _ = writeln!(
        out,
        "<line x1=\"{}\" y1=\"{b}\" x2=\"{}\" y2=\"{b}\" stroke=\"{AXIS}\"/>",
        c(LEFT),
        c(w - RIGHT),
        b = c(base)
    );
    let lx = w - RIGHT - 250.0;
    let _ = writeln!(
        out,
        "<g fill=\"{MUTED}\"><rect x=\"{}\" y=\"10\" width=\"12\" height=\"12\" fill=\"{BLUE}\"/>\
         <text x=\"{}\" y=\"20\">ended</text>\
         <rect x=\"{}\" y=\"10.5\" width=\"11\" height=\"11\" fill=\"#ffffff\" stroke=\"{BLUE}\" \
         stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/><text x=\"{}\" y=\"20\">still reigning</text></g>",
        c(lx),
        c(lx + 18.0),
        c(lx + 80.0),
        c(lx + 98.0),
    );
    x_caption(&mut out, w, height, "", "", "reign number");
    close(&mut out);
    out
}

/// (c) judge agreement per verdict: the share of (turn, metric) pairs all judges agreed on
/// (solid blue, dots) and the mean pairwise share (dashed orange, squares).
pub fn agreement(id: &str, w: f64, points: &[AgreementPoint], total: usize, first: &str, last: &str) -> String {
    let height = 260.0;
    let plot_h = height - TOP - BOTTOM;
    let window = if points.len() < total {
        format!("the latest {} of {total} verdicts", points.len())
    } else {
        format!("all {total} verdicts")
    };
    let desc = format!(
        "Inter-judge agreement for {window}, oldest on the left, as a percentage of the (turn, metric) pairs \
         judged: all judges agreeing (solid blue line, dots) and the mean over judge pairs (dashed orange \
         line, squares). Informational only; no decision reads it. Verdicts recorded without these \
         figures leave a gap."
    );
    let mut out = String::new();
    open(&mut out, id, w, height, "Judge agreement per verdict", &desc);
    if points.iter().all(|p| p.overall.is_none() && p.pairwise.is_none()) {
        empty(&mut out, w, height, "No agreement figures yet");
        close(&mut out);
        return out;
    }
    let scale = Scale { lo: 0.0, hi: 100.0, step: 25.0, decimals: 0 };
    y_axis(&mut out, &scale, w, plot_h, "%");
    let n = points.len();
    let series = |pick: &dyn Fn(&AgreementPoint) -> Option<f64>| -> Vec<Vec<(f64, f64)>> {
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (i, p) in points.iter().enumerate() {
            match pick(p).filter(|v| v.is_finite()) {
                Some(v) => runs.last_mut().expect("one run").push((slot_x(i, n, w), scale.y(v * 100.0, TOP, plot_h))),
                None => runs.push(Vec::new()),
            }
        }
        runs.retain(|r| !r.is_empty());
        runs
    };
    let line =
        |run: &[(f64, f64)]| run.iter().map(|(x, y)| format!("{},{}", c(*x), c(*y))).collect::<Vec<_>>().join(" ");
    let small = n > 80;
    for run in series(&|p| p.pairwise) {
        let _ = writeln!(
            out,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{ORANGE}\" stroke-width=\"1.5\" stroke-dasharray=\"5 4\"/>",
            line(&run)
        );
        if !small {
            for (x, y) in &run {
                let _ = writeln!(
                    out,
                    "<rect x=\"{}\" y=\"{}\" width=\"7\" height=\"7\" fill=\"{ORANGE}\"/>",
                    c(x - 3.5),
                    c(y - 3.5)
                );
            }
        }
    }
    for run in series(&|p| p.overall) {
        let _ =
            writeln!(out, "<polyline points=\"{}\" fill=\"none\" stroke=\"{BLUE}\" stroke-width=\"2\"/>", line(&run));
        if !small {
            for (x, y) in &run {
                let _ = writeln!(out, "<circle cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"{BLUE}\"/>", c(*x), c(*y));
            }
        }
    }
    for (i, p) in points.iter().enumerate() {
        let text = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |v| format!("{}%", fixed(v * 100.0, 1)));
        let x = slot_x(i, n, w);
        let w = (w - LEFT - RIGHT) / n as f64;
        let _ = writeln!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"transparent\"><title>{}: all judges {}, \
             pairs {}</title></rect>",
            c(x - w / 2.0),
            c(TOP),
            c(w),
            c(plot_h),
            esc(&p.eval_id),
            text(p.overall),
            text(p.pairwise)
        );
    }
    let lx = w - RIGHT - 330.0;
    let _ = writeln!(
        out,
        "<g fill=\"{MUTED}\"><line x1=\"{}\" y1=\"16\" x2=\"{}\" y2=\"16\" stroke=\"{BLUE}\" stroke-width=\"2\"/>\
         <circle cx=\"{}\" cy=\"16\" r=\"4\" fill=\"{BLUE}\"/><text x=\"{}\" y=\"20\">all judges agree</text>\
         <line x1=\"{}\" y1=\"16\" x2=\"{}\" y2=\"16\" stroke=\"{ORANGE}\" stroke-width=\"1.5\" stroke-dasharray=\"5 4\"/>\
         <rect x=\"{}\" y=\"12.5\" width=\"7\" height=\"7\" fill=\"{ORANGE}\"/><text x=\"{}\" y=\"20\">judge pairs agree (mean)</text></g>",
        c(lx),
        c(lx + 24.0),
        c(lx + 12.0),
        c(lx + 30.0),
        c(lx + 140.0),
        c(lx + 164.0),
        c(lx + 148.5),
        c(lx + 170.0),
    );
    x_caption(&mut out, w, height, first, last, "verdicts, oldest → newest");
    close(&mut out);
    out
}

/// The score split of one verdict: per judge (and overall), the challenger's share of 100 as a
/// blue bar and the king's as grey, with the 50-point line.
pub fn score_split(id: &str, w: f64, rows: &[SplitRow]) -> String {
    let label_w = 210.0;
    let row_h = 30.0;
    let top = 12.0;
    let height = top + row_h * rows.len() as f64 + 30.0;
    let x0 = label_w;
    let bar_w = w - label_w - 120.0;
    let names: Vec<String> = rows.iter().map(|r| format!("{} {}", r.name, fixed(r.challenger, 2))).collect();
    let desc = format!(
        "For each judge and overall, the challenger's score (blue, from the left) against the king's (grey, \
         the rest of 100). Challenger scores: {}.",
        names.join("; ")
    );
    let mut out = String::new();
    open(&mut out, id, w, height, "Challenger and king scores by judge", &desc);
    for (i, r) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let s = if r.challenger.is_finite() { r.challenger.clamp(0.0, 100.0) } else { 0.0 };
        let w = bar_w * s / 100.0;
        let weight = if i + 1 == rows.len() { " font-weight=\"600\"" } else { "" };
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\"{weight}>{}</text>\
             <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"18\" fill=\"{BLUE}\"/>\
             <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"18\" fill=\"{KING_GREY}\"/>\
             <text x=\"{}\" y=\"{}\" fill=\"{MUTED}\">{} : {}</text>",
            c(x0 - 10.0),
            c(y + 14.0),
            esc(&r.name),
            c(x0),
            c(y + 1.0),
            c(w),
            c(x0 + w),
            c(y + 1.0),
            c(bar_w - w),
            c(x0 + bar_w + 10.0),
            c(y + 14.0),
            fixed(r.challenger, 2),
            fixed(100.0 - r.challenger, 2),
        );
    }
    let mid = c(x0 + bar_w / 2.0);
    let bottom = top + row_h * rows.len() as f64;
    let _ = writeln!(
        out,
        "<line x1=\"{mid}\" y1=\"{}\" x2=\"{mid}\" y2=\"{}\" stroke=\"{INK}\" stroke-dasharray=\"3 3\"/>\
         <text x=\"{mid}\" y=\"{}\" text-anchor=\"middle\" fill=\"{MUTED}\">50 : 50</text>\
         <text x=\"{}\" y=\"{}\" fill=\"{MUTED}\">← challenger</text>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"{MUTED}\">king →</text>",
        c(top - 6.0),
        c(bottom),
        c(bottom + 16.0),
        c(x0),
        c(bottom + 16.0),
        c(x0 + bar_w),
        c(bottom + 16.0),
    );
    close(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_cover_the_data_with_round_steps() {
        assert_eq!(nice_scale(0.0, 69.7, 6.0), Scale { lo: 0.0, hi: 80.0, step: 20.0, decimals: 0 });
        assert_eq!(nice_scale(-7.3, 2.0, 6.0), Scale { lo: -8.0, hi: 2.0, step: 2.0, decimals: 0 });
        let s = nice_scale(0.0, 0.3, 5.0);
        assert_eq!((s.step, s.decimals), (0.1, 1));
        // Degenerate ranges still make an axis.
        let s = nice_scale(0.0, 0.0, 5.0);
        assert!(s.lo < 0.0 && s.hi > 0.0);
    }

    #[test]
    fn every_chart_is_an_image_with_a_title_even_when_empty() {
        for svg in [
            score_margin("a", 720.0, &[], 0, "", ""),
            reign_lengths("b", 720.0, &[], 0),
            agreement("c", 720.0, &[], 0, "", ""),
            score_split("d", 720.0, &[]),
        ] {
            assert!(svg.starts_with("<svg ") && svg.contains("role=\"img\"") && svg.contains("<title id="), "{svg}");
            assert!(svg.ends_with("</svg>"));
        }
    }

    #[test]
    fn accepted_and_rejected_points_differ_in_shape_and_colour() {
        let point = |accepted| MarginPoint {
            eval_id: "eval-000001".into(),
            href: "evals/eval-000001.html".into(),
            margin: 10.0,
            win_margin: Some(2.0),
            win_margin_text: "2.0".into(),
            accepted,
        };
        let svg = score_margin("m", 720.0, &[point(true), point(false)], 2, "a", "b");
        assert!(svg.contains(&format!("fill=\"{GREEN}\"")));
        assert!(svg.contains("<circle") && svg.contains("<path d=\"M"));
        assert!(svg.contains("stroke-dasharray=\"6 4\"><title>win margin 2.0</title>"));
        assert!(svg.contains("eval-000001: +10.00 points, accepted"));
    }
}
