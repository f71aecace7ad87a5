//! What the dashboard and the site show, folded from the ledger in one streaming pass.
//!
//! [`Views`] wraps the competition [`State`] and adds the histories pages need and the state
//! does not keep: every reign, every verdict and failure (with the king faced and the seed),
//! each miner's reveals and outcomes, and the score series for charts. Like the state, it is a
//! pure fold: the same entries give the same views. It grows with evals and reveals, not with
//! judged turns, so memory stays flat however long the ledger is.

use std::collections::BTreeMap;

use albedo_ledger::event::*;
use albedo_ledger::{Envelope, Event, Hash32};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::state::State;

/// The fold behind `dashboard.json` and the site.
#[derive(Clone, Debug, Default)]
pub struct Views {
    pub state: State,
    /// The last entry folded: its seq, hash and time.
    pub head: Option<LedgerHead>,
    /// Every reign ever, oldest first (absolute reign numbers, resets included).
    pub reigns: Vec<Reign>,
    /// Verdicts and failures, oldest first.
    pub history: Vec<HistoryItem>,
    /// Per hotkey, in ledger order.
    pub miners: BTreeMap<String, Vec<MinerItem>>,
    /// Per eval id: the SHA-256 of its current attempt's sample draw (see [`samples_digest`]).
    pub sample_digests: BTreeMap<String, Hash32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LedgerHead {
    pub seq: u64,
    pub hash: Hash32,
    pub time_ms: u64,
    pub block: Option<u64>,
}

/// One reign.
#[derive(Clone, Debug, Serialize)]
pub struct Reign {
    pub reign: u64,
    pub reset_number: u32,
    pub hotkey: Option<String>,
    pub model: ModelRef,
    /// The crowning eval; `None` for a genesis king.
    pub eval_id: Option<String>,
    pub crowned_seq: u64,
    pub crowned_time_ms: u64,
    pub crowned_block: Option<u64>,
    /// When the next king replaced it (`None` while it reigns).
    pub ended_time_ms: Option<u64>,
    pub ended_block: Option<u64>,
    /// The crowning verdict's figures, when crowned by an eval.
    pub crowning: Option<VerdictFigures>,
}

/// The king an eval's challenger faced.
#[derive(Clone, Debug, Serialize)]
pub struct KingFaced {
    pub reign: u64,
    pub hotkey: Option<String>,
    pub model: ModelRef,
    /// Past kings in the chain at the time (the reference's relative reign number).
    pub chain_len: usize,
}

/// The seed and draw of an eval's attempt: what a verifier needs to recompute it.
#[derive(Clone, Debug, Serialize)]
pub struct SeedInfo {
    pub seed_block: u64,
    pub seed_block_hash: String,
    pub seed_hex: String,
    pub samples_digest: Option<Hash32>,
    pub n_drawn: Option<u32>,
}

/// A verdict or a failure, as the history shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HistoryItem {
    Verdict {
        eval_id: String,
        hotkey: String,
        uid: Option<u16>,
        challenger: ModelRef,
        commitment_block: u64,
        verdict: Box<Verdict>,
        king: Option<KingFaced>,
        seed: Option<SeedInfo>,
        seq: u64,
        time_ms: u64,
    },
    Failure {
        eval_id: String,
        hotkey: String,
        uid: Option<u16>,
        challenger: ModelRef,
        commitment_block: u64,
        attempt: u32,
        fault: Fault,
        code: String,
        detail: String,
        requeued: bool,
        king: Option<KingFaced>,
        seq: u64,
        time_ms: u64,
    },
}

impl HistoryItem {
    pub fn eval_id(&self) -> &str {
        match self {
            HistoryItem::Verdict { eval_id, .. } | HistoryItem::Failure { eval_id, .. } => eval_id,
        }
    }

    pub fn time_ms(&self) -> u64 {
        match self {
            HistoryItem::Verdict { time_ms, .. } | HistoryItem::Failure { time_ms, .. } => *time_ms,
        }
    }
}

/// One thing that happened to a miner's hotkey.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum MinerItem {
    RevealSeen { commitment_block: u64, model: ModelRef, time_ms: u64 },
    RevealRejected { commitment_block: u64, raw: String, code: String, detail: String, time_ms: u64 },
    Queued { eval_id: String, model: ModelRef, time_ms: u64 },
    Verdict { eval_id: String, accepted: bool, challenger_score: Option<f64>, time_ms: u64 },
    Failed { eval_id: String, fault: Fault, code: String, detail: String, requeued: bool, time_ms: u64 },
    Crowned { reign: u64, eval_id: Option<String>, time_ms: u64 },
}

/// SHA-256 of a sample draw: each ref as shard (u32 LE), row (u64 LE), turn (u32 LE), in draw
/// order. Lets anyone check a published draw against the ledger in one comparison.
pub fn samples_digest(samples: &[SampleRef]) -> Hash32 {
    let mut h = Sha256::new();
    for s in samples {
        h.update(s.shard.to_le_bytes());
        h.update(s.row.to_le_bytes());
        h.update(s.turn.to_le_bytes());
    }
    Hash32(h.finalize().into())
}

impl Views {
    pub fn new() -> Views {
        Views::default()
    }

    fn uid(&self, hotkey: &str) -> Option<u16> {
        self.state.metagraph.as_ref().and_then(|m| m.uids.get(hotkey).copied())
    }

    fn king_faced(&self) -> Option<KingFaced> {
        self.state.king.as_ref().map(|k| KingFaced {
            reign: k.reign,
            hotkey: k.hotkey.clone(),
            model: k.model.clone(),
            chain_len: self.state.king_chain.len(),
        })
    }

    fn miner(&mut self, hotkey: &str, item: MinerItem) {
        self.miners.entry(hotkey.to_string()).or_default().push(item);
    }

    /// Folds one verified entry; `hash` is its entry hash.
    pub fn apply(&mut self, env: &Envelope, hash: Hash32) {
        let t = env.time_ms;
        // What the views record is read from the state *before* the entry changes it (the king
        // a challenger faced is the one reigning when its verdict came in).
        match &env.event {
            Event::RevealSeen(e) => self.miner(
                &e.hotkey,
                MinerItem::RevealSeen { commitment_block: e.commitment_block, model: e.model.clone(), time_ms: t },
            ),
            Event::RevealRejected(e) => self.miner(
                &e.hotkey,
                MinerItem::RevealRejected {
                    commitment_block: e.commitment_block,
                    raw: String::from_utf8_lossy(&e.raw).into_owned(),
                    code: e.reason.code.clone(),
                    detail: e.reason.detail.clone(),
                    time_ms: t,
                },
            ),
            Event::EvalQueued(e) => self.miner(
                &e.hotkey,
                MinerItem::Queued { eval_id: e.eval_id.clone(), model: e.challenger.clone(), time_ms: t },
            ),
            Event::SamplesDrawn(e) => {
                self.sample_digests.insert(e.eval_id.clone(), samples_digest(&e.samples));
            }
            Event::Verdict(e) => {
                if let Some(eval) = self.state.evals.get(&e.eval_id) {
                    let seed = eval.started.as_ref().map(|s| SeedInfo {
                        seed_block: s.seed_block,
                        seed_block_hash: s.seed_block_hash.clone(),
                        seed_hex: s.seed_hex.clone(),
                        samples_digest: self.sample_digests.get(&e.eval_id).copied(),
                        n_drawn: eval.n_drawn,
                    });
                    let item = HistoryItem::Verdict {
                        eval_id: e.eval_id.clone(),
                        hotkey: eval.hotkey.clone(),
                        uid: self.uid(&eval.hotkey),
                        challenger: eval.challenger.clone(),
                        commitment_block: eval.commitment_block,
                        verdict: Box::new(e.clone()),
                        king: self.king_faced(),
                        seed,
                        seq: env.seq,
                        time_ms: t,
                    };
                    let hotkey = eval.hotkey.clone();
                    self.history.push(item);
                    self.miner(
                        &hotkey,
                        MinerItem::Verdict {
                            eval_id: e.eval_id.clone(),
                            accepted: e.accepted,
                            challenger_score: e.figures.challenger_score,
                            time_ms: t,
                        },
                    );
                }
            }
            Event::EvalFailed(e) => {
                if let Some(eval) = self.state.evals.get(&e.eval_id) {
                    let item = HistoryItem::Failure {
                        eval_id: e.eval_id.clone(),
                        hotkey: eval.hotkey.clone(),
                        uid: self.uid(&eval.hotkey),
                        challenger: eval.challenger.clone(),
                        commitment_block: eval.commitment_block,
                        attempt: e.attempt,
                        fault: e.fault,
                        code: e.code.clone(),
                        detail: e.detail.clone(),
                        requeued: e.requeued,
                        king: self.king_faced(),
                        seq: env.seq,
                        time_ms: t,
                    };
                    let hotkey = eval.hotkey.clone();
                    self.history.push(item);
                    self.miner(
                        &hotkey,
                        MinerItem::Failed {
                            eval_id: e.eval_id.clone(),
                            fault: e.fault,
                            code: e.code.clone(),
                            detail: e.detail.clone(),
                            requeued: e.requeued,
                            time_ms: t,
                        },
                    );
                }
            }
            Event::KingCrowned(e) => {
                if let Some(last) = self.reigns.last_mut()
                    && last.ended_time_ms.is_none()
                {
                    last.ended_time_ms = Some(t);
                    last.ended_block = env.block;
                }
                let crowning = e
                    .eval_id
                    .as_ref()
                    .and_then(|id| self.state.evals.get(id))
                    .and_then(|ev| ev.verdict.as_ref())
                    .map(|v| v.figures.clone());
                self.reigns.push(Reign {
                    reign: e.reign,
                    reset_number: self.state.competition.as_ref().map_or(0, |c| c.reset_number),
                    hotkey: e.hotkey.clone(),
                    model: e.model.clone(),
                    eval_id: e.eval_id.clone(),
                    crowned_seq: env.seq,
                    crowned_time_ms: t,
                    crowned_block: env.block,
                    ended_time_ms: None,
                    ended_block: None,
                    crowning,
                });
                if let Some(h) = &e.hotkey {
                    self.miner(h, MinerItem::Crowned { reign: e.reign, eval_id: e.eval_id.clone(), time_ms: t });
                }
            }
            _ => {}
        }
        self.state.apply(env);
        self.head = Some(LedgerHead { seq: env.seq, hash, time_ms: t, block: env.block });
    }

    /// Verdicts only, oldest first.
    pub fn verdicts(&self) -> impl Iterator<Item = &HistoryItem> {
        self.history.iter().filter(|h| matches!(h, HistoryItem::Verdict { .. }))
    }
}

/// `ms` since the UNIX epoch as the reference's ISO text: `2026-05-28T20:26:40+00:00`, with
/// `.ffffff` microseconds when not zero. Pure arithmetic (no clock, no time zone database).
pub fn iso_time(ms: u64) -> String {
    let secs = ms / 1000;
    let micros = (ms % 1000) * 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let base = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, (rem % 3600) / 60, rem % 60);
    if micros == 0 { format!("{base}+00:00") } else { format!("{base}.{micros:06}+00:00") }
}

/// The date part of [`iso_time`]: `2026-05-28`.
pub fn iso_date(ms: u64) -> String {
    let (y, m, d) = civil_from_days((ms / 1000 / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_time_matches_the_references_format() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(iso_time(1_780_000_000_500), "2026-05-28T20:26:40.500000+00:00");
        assert_eq!(iso_time(951_782_400_000), "2000-02-29T00:00:00+00:00");
        assert_eq!(iso_time(4_107_542_399_999), "2100-02-28T23:59:59.999000+00:00");
        assert_eq!(iso_date(1_780_000_000_500), "2026-05-28");
    }

    #[test]
    fn the_samples_digest_depends_on_order() {
        let a = SampleRef { shard: 1, row: 2, turn: 3 };
        let b = SampleRef { shard: 3, row: 2, turn: 1 };
        assert_ne!(samples_digest(&[a, b]), samples_digest(&[b, a]));
        assert_eq!(samples_digest(&[]), Hash32::of(b""));
    }
}

/// Where a rebuild stops: after the entry with this seq, or after the last entry at or before
/// this time (ms since the epoch). Time travel: the views as they stood at that point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    Seq(u64),
    TimeMs(u64),
}

impl Until {
    /// Parses `--until`: a seq (digits) or an RFC 3339 UTC time (`2026-11-20T12:30:00Z`,
    /// fractional seconds and a `+00:00` offset allowed; other offsets are refused so a time
    /// always means one instant).
    pub fn parse(text: &str) -> Result<Until, String> {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return text.parse().map(Until::Seq).map_err(|e| format!("--until {text:?}: {e}"));
        }
        parse_rfc3339_ms(text).map(Until::TimeMs).ok_or_else(|| {
            format!("--until {text:?} is neither a seq nor an RFC 3339 UTC time such as 2026-11-20T12:30:00Z")
        })
    }

    /// Whether `env` is at or before the stopping point.
    pub fn includes(&self, env: &Envelope) -> bool {
        match *self {
            Until::Seq(s) => env.seq <= s,
            Until::TimeMs(t) => env.time_ms <= t,
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+00:00)` → ms since the epoch (fraction truncated to ms).
pub fn parse_rfc3339_ms(text: &str) -> Option<u64> {
    let body = text.strip_suffix('Z').or_else(|| text.strip_suffix("+00:00"))?;
    let (date, time) = body.split_once('T').or_else(|| body.split_once(' '))?;
    let num = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u64>().ok()).flatten()
    };
    let mut d = date.split('-');
    let (y, m, day) = (num(d.next()?, 4)?, num(d.next()?, 2)?, num(d.next()?, 2)?);
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let (hms, frac) = time.split_once('.').map_or((time, ""), |(a, b)| (a, b));
    let mut t = hms.split(':');
    let (hh, mm, ss) = (num(t.next()?, 2)?, num(t.next()?, 2)?, num(t.next()?, 2)?);
    if t.next().is_some() || hh > 23 || mm > 59 || ss > 60 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ms_frac = format!("{frac:0<3}")[..3].parse::<u64>().ok()?;
    let days = days_from_civil(y as i64, m as u32, day as u32);
    if days < 0 || iso_date(days as u64 * 86_400_000) != date {
        return None; // e.g. 2026-02-30
    }
    Some(((days as u64 * 86_400 + hh * 3600 + mm * 60 + ss) * 1000) + ms_frac)
}

/// Howard Hinnant's `days_from_civil`: (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Views {
    /// Folds verified entries in order, stopping after `until` (the rest is never read). The
    /// iterator yields each entry's envelope and hash (e.g. a store snapshot through a
    /// `Verifier`); its first error stops the fold.
    pub fn fold<I, E>(entries: I, until: Option<Until>) -> Result<Views, E>
    where
        I: IntoIterator<Item = Result<(Envelope, Hash32), E>>,
    {
        let mut views = Views::new();
        for entry in entries {
            let (env, hash) = entry?;
            if until.is_some_and(|u| !u.includes(&env)) {
                break;
            }
            views.apply(&env, hash);
        }
        Ok(views)
    }
}

#[cfg(test)]
mod until_tests {
    use super::*;

    #[test]
    fn until_parses_seqs_and_utc_times_and_refuses_the_rest() {
        assert_eq!(Until::parse("42"), Ok(Until::Seq(42)));
        assert_eq!(Until::parse("2026-11-20T12:00:00Z"), Ok(Until::TimeMs(1_795_176_000_000)));
        assert_eq!(Until::parse("2026-11-20T12:00:00.25+00:00"), Ok(Until::TimeMs(1_795_176_000_250)));
        for bad in [
            "",
            "-1",
            "2026-11-20",
            "2026-11-20T12:00:00+02:00",
            "2026-02-30T00:00:00Z",
            "2026-11-20T25:00:00Z",
            "yesterday",
        ] {
            let err = Until::parse(bad).unwrap_err();
            assert!(err.contains("--until"), "{bad}: {err}");
        }
        for ms in [0, 951_782_400_000, 1_795_176_000_123] {
            assert_eq!(parse_rfc3339_ms(&iso_time(ms)), Some(ms), "{}", iso_time(ms));
        }
    }
}
