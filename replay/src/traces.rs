//! Checking the published traces against the ledger: every reply the ledger records by its
//! SHA-256 must be in the trace, byte for byte, and the trace must hold no reply the ledger does
//! not record.
//!
//! The trace contract (eval.md §11, kept by our eval server): an eval's trace directory holds
//! `responses_champion.jsonl` (the king's replies) and `responses_challenger.jsonl`, one JSON
//! object per judged turn with `eval_id`, `global_idx` (the turn's position in `samples_drawn`,
//! the ledger's `turn`) and `reply` (the raw reply text, whose UTF-8 bytes the ledger hashes).

use std::collections::BTreeMap;

use albedo_ledger::Event;
use albedo_ledger::Hash32;
use albedo_ledger::mirror::TileSource;

/// The reply hashes of an eval's latest attempt, collected while the ledger streams.
#[derive(Debug, Default)]
pub struct ReplyHashes {
    attempt: Option<u32>,
    /// turn → (king reply hash, challenger reply hash)
    turns: BTreeMap<u32, (Option<Hash32>, Option<Hash32>)>,
}

impl ReplyHashes {
    pub fn see(&mut self, eval_id: &str, event: &Event) {
        match event {
            Event::EvalStarted(e) if e.eval_id == eval_id => {
                self.attempt = Some(e.attempt);
                self.turns.clear();
            }
            Event::TurnJudged(t) if t.eval_id == eval_id && Some(t.attempt) == self.attempt => {
                self.turns.insert(t.turn, (t.king_reply_sha256, t.challenger_reply_sha256));
            }
            _ => {}
        }
    }
}

/// The outcome of a trace check.
#[derive(Debug, Default, PartialEq)]
pub struct TraceReport {
    pub king_matched: usize,
    pub challenger_matched: usize,
    pub problems: Vec<String>,
}

/// Compares the trace objects in `traces` (a directory or URL of one eval's trace directory)
/// with the reply hashes the ledger recorded for `eval_id`.
pub fn check_traces(eval_id: &str, traces: &dyn TileSource, hashes: &ReplyHashes) -> anyhow::Result<TraceReport> {
    let mut report = TraceReport::default();
    for (file, king) in [("responses_champion.jsonl", true), ("responses_challenger.jsonl", false)] {
        let bytes = traces
            .get(file)
            .map_err(|e| anyhow::anyhow!("{file}: {e}"))?
            .ok_or_else(|| anyhow::anyhow!("{file} is not in the trace directory"))?;
        let mut published: BTreeMap<u32, Hash32> = BTreeMap::new();
        for (n, line) in String::from_utf8_lossy(&bytes).lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| anyhow::anyhow!("{file} line {}: not JSON: {e}", n + 1))?;
            let (Some(id), Some(turn), Some(reply)) =
                (v["eval_id"].as_str(), v["global_idx"].as_u64(), v["reply"].as_str())
            else {
                anyhow::bail!("{file} line {}: needs `eval_id`, `global_idx` and `reply`", n + 1);
            };
            if id != eval_id {
                report.problems.push(format!("{file} line {}: belongs to {id}, not {eval_id}", n + 1));
                continue;
            }
            let turn = u32::try_from(turn)
                .map_err(|_| anyhow::anyhow!("{file} line {}: global_idx {turn} is too large", n + 1))?;
            if published.insert(turn, Hash32::of(reply.as_bytes())).is_some() {
                report.problems.push(format!("{file}: turn {turn} appears twice"));
            }
        }
        let side = if king { "king" } else { "challenger" };
        for (turn, (k, c)) in &hashes.turns {
            let recorded = if king { k } else { c };
            match (recorded, published.remove(turn)) {
                (Some(r), Some(p)) if *r == p => {
                    if king {
                        report.king_matched += 1;
                    } else {
                        report.challenger_matched += 1;
                    }
                }
                (Some(r), Some(p)) => report
                    .problems
                    .push(format!("turn {turn}: the {side} reply in the trace hashes to {p}, the ledger records {r}")),
                (Some(_), None) => report
                    .problems
                    .push(format!("turn {turn}: the {side} reply the ledger records is missing from the trace")),
                (None, Some(_)) => report
                    .problems
                    .push(format!("turn {turn}: the trace has a {side} reply the ledger records none for")),
                (None, None) => {}
            }
        }
        for turn in published.keys() {
            report
                .problems
                .push(format!("turn {turn}: the trace has a {side} reply for a turn the ledger never judged"));
        }
    }
    Ok(report)
}
