//! Decisions: pure functions `(&State, input) -> Vec<Event>` (design.md §4).
//!
//! The shell does the I/O (reads the chain, fetches configs, streams the eval server, submits
//! weights), calls one of these, appends what it returns and applies it. Nothing here mutates
//! the state or reads a clock: a time, when needed, is an argument.
//!
//! Fixes of the reference's weaknesses (validator.md §23) made here, each tested:
//! - every refused reveal is an event with a reason (no silent burns), and a refusal at
//!   enqueue does not burn the hotkey (§23.3 item 21);
//! - reveals are handled in (commitment block, hotkey) order, not storage-hash order (item 20);
//! - the 4-part reveal's author check is live (§2.2);
//! - admission fails closed: a king config that cannot be fetched is an infra fault (item 24);
//! - a miner is never charged for an infra fault; unknown eval-server errors are infra (item 14);
//! - the seed comes from the commitment block's hash, recorded in `eval_started` (item 12);
//! - the validator re-derives the verdict and records its own result (item 13).

use albedo_ledger::Event;
use albedo_ledger::event::*;

use crate::config::Config;
use crate::scoring::seed::Seed;
use crate::scoring::verdict::{DerivedVerdict, FloorFailure, derive_verdict};
use crate::state::{DUPLICATE_CODE, Eval, EvalStatus, INJECTION_CODE, State, eval_id};

/// Why a decision could not be made. These are the shell's mistakes or a ledger without a
/// competition, never bad outside input (bad input becomes an event with a reason).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecideError {
    #[error("no competition has started (the ledger has no competition_started)")]
    NoCompetition,
    #[error("the pinned chain.toml in the ledger does not parse: {0}")]
    BadPinnedConfig(String),
    #[error("unknown eval {0}")]
    UnknownEval(String),
    #[error("eval {eval_id} is {status}, expected {expected}")]
    WrongStatus { eval_id: String, status: String, expected: &'static str },
    #[error("the eval's seed is unusable: {0}")]
    Seed(String),
    #[error("verdict derivation failed: {0}")]
    Verdict(String),
}

fn config(state: &State) -> Result<&Config, DecideError> {
    let comp = state.competition.as_ref().ok_or(DecideError::NoCompetition)?;
    comp.config.as_deref().ok_or_else(|| DecideError::BadPinnedConfig(comp.config_error.clone().unwrap_or_default()))
}

fn reason(code: &str, detail: impl Into<String>) -> Reason {
    Reason { code: code.to_string(), detail: detail.into() }
}

/// The eval `eval_id`, which must exist and have one of the statuses `ok` accepts.
fn eval_in<'a>(
    state: &'a State,
    eval_id: &str,
    ok: fn(&EvalStatus) -> bool,
    expected: &'static str,
) -> Result<&'a Eval, DecideError> {
    let eval = state.evals.get(eval_id).ok_or_else(|| DecideError::UnknownEval(eval_id.into()))?;
    if !ok(&eval.status) {
        return Err(DecideError::WrongStatus {
            eval_id: eval_id.into(),
            status: format!("{:?}", eval.status),
            expected,
        });
    }
    Ok(eval)
}

fn is_running(s: &EvalStatus) -> bool {
    *s == EvalStatus::Running
}

// ---------------------------------------------------------------------------------------------
// Genesis and reset (validator.md §13)

/// What the operator starts a competition with.
#[derive(Clone, Debug)]
pub struct CompetitionInput {
    pub chain_toml: String,
    pub netuid: u16,
    pub validator_hotkey: String,
    /// Present on a reset: what the chain held, already read by the shell.
    pub reset: Option<ResetInput>,
}

#[derive(Clone, Debug)]
pub struct ResetInput {
    pub block: u64,
    /// Repos excluded from the new competition (e.g. already judged in the old one).
    pub excluded_repos: Vec<String>,
    /// Every commitment on chain at `block`.
    pub commitments: Vec<Commitment>,
}

/// Starts the first competition (genesis) or a new one (reset): `competition_started`, the
/// genesis king's `king_crowned`, and on a reset the valid reveals re-queued in commitment-block
/// order (ties by hotkey). A reset is one-shot by construction: its key is the reset number.
pub fn start_competition(state: &State, input: &CompetitionInput) -> Result<Vec<Event>, DecideError> {
    let config = Config::parse(&input.chain_toml).map_err(|e| DecideError::BadPinnedConfig(e.to_string()))?;
    let genesis_king = ModelRef::new(config.chain().seed_repo.clone(), config.seed().seed_digest.clone())
        .map_err(DecideError::BadPinnedConfig)?;
    let manifest = albedo_ledger::Hash32::from_hex(&config.dataset().manifest_sha256)
        .ok_or_else(|| DecideError::BadPinnedConfig("dataset.manifest_sha256 is not hex".into()))?;
    let reset_number = state.competition.as_ref().map_or(0, |c| c.reset_number + 1);
    let is_reset = state.competition.is_some();
    let mut queued = Vec::new();
    let mut excluded_hotkeys = Vec::new();
    if let (true, Some(reset)) = (is_reset, &input.reset) {
        let mut rows: Vec<&Commitment> = reset.commitments.iter().collect();
        rows.sort_by(|a, b| (a.block, &a.hotkey).cmp(&(b.block, &b.hotkey)));
        let mut repos = std::collections::BTreeSet::new();
        for c in rows {
            match parse_reveal(&config, c) {
                Ok(model) if reset.excluded_repos.iter().any(|r| r == model.repo()) => {
                    excluded_hotkeys.push(c.hotkey.clone())
                }
                Ok(model) if repos.insert(model.repo().to_string()) => queued.push((c, model)),
                _ => {}
            }
        }
    }
    let snapshot = match (is_reset, &input.reset) {
        (true, Some(r)) => Some(ResetSnapshot {
            block: r.block,
            excluded_hotkeys,
            queued: queued
                .iter()
                .map(|(c, _)| SnapshotReveal {
                    hotkey: c.hotkey.clone(),
                    commitment_block: c.block,
                    raw: c.raw.clone(),
                })
                .collect(),
        }),
        _ => None,
    };
    let mut events = vec![Event::CompetitionStarted(CompetitionStarted {
        reset_number,
        reason: if is_reset { StartReason::Reset } else { StartReason::Genesis },
        netuid: input.netuid,
        chain_toml: input.chain_toml.clone(),
        chain_toml_sha256: albedo_ledger::Hash32(config.sha256()),
        genesis_king: genesis_king.clone(),
        validator_hotkey: input.validator_hotkey.clone(),
        dataset_manifest_sha256: manifest,
        reset_snapshot: snapshot,
    })];
    events.push(Event::KingCrowned(KingCrowned {
        reign: state.next_reign,
        eval_id: None,
        hotkey: None,
        model: genesis_king,
        replaced: state.king.as_ref().map(|k| KingRef {
            reign: k.reign,
            hotkey: k.hotkey.clone(),
            model: k.model.clone(),
        }),
    }));
    let mut counter = state.eval_counter;
    for (c, model) in queued {
        counter += 1;
        events.push(Event::EvalQueued(EvalQueued {
            eval_id: eval_id(counter),
            hotkey: c.hotkey.clone(),
            challenger: model,
            commitment_block: c.block,
            position: QueuePosition::Back,
        }));
    }
    Ok(events)
}

// ---------------------------------------------------------------------------------------------
// Chain scan and enqueue (validator.md §8–§9, §10.11)

/// One commitment as read from `Commitments.CommitmentOf`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commitment {
    pub hotkey: String,
    /// The block the commitment was made at (`CommitmentOf.block`).
    pub block: u64,
    pub raw: Vec<u8>,
}

/// The largest commitment a `Raw` field holds (validator.md §2.2).
pub const MAX_REVEAL_BYTES: usize = 128;

/// Reason codes of `reveal_rejected` (stable; the site and scripts key on them).
pub mod reveal_codes {
    pub const BAD_HOTKEY: &str = "bad_hotkey";
    pub const NOT_UTF8: &str = "not_utf8";
    pub const TOO_LONG: &str = "too_long";
    pub const NOT_V4: &str = "not_v4";
    pub const MALFORMED: &str = "malformed";
    pub const MALFORMED_REPO: &str = "malformed_repo";
    pub const MALFORMED_DIGEST: &str = "malformed_digest";
    pub const SPOOFED_AUTHOR: &str = "spoofed_author";
    pub const REPO_PATTERN: &str = "repo_pattern";
    pub const KING_HOTKEY: &str = "king_hotkey";
    pub const HOTKEY_ALREADY_USED: &str = "hotkey_already_used";
    pub const REPO_ALREADY_JUDGED: &str = "repo_already_judged";
    pub const REPO_PENDING: &str = "repo_pending";
}

/// Parses a reveal's text (`v4|repo|digest` or `v4|repo|digest|author`); the error is a
/// reason for `reveal_rejected`. Checks the hotkey, encoding, size, shape, author, model ref
/// and repo pattern; not the state-dependent rules.
pub fn parse_reveal(config: &Config, c: &Commitment) -> Result<ModelRef, Reason> {
    use reveal_codes::*;
    if !crate::ss58::is_valid(&c.hotkey) {
        return Err(reason(BAD_HOTKEY, format!("the committing hotkey {:?} is not a valid SS58 address", c.hotkey)));
    }
    let text =
        std::str::from_utf8(&c.raw).map_err(|e| reason(NOT_UTF8, format!("the commitment is not valid UTF-8: {e}")))?;
    if !text.starts_with("v4|") {
        return Err(reason(NOT_V4, "the commitment does not start with `v4|`"));
    }
    let parts: Vec<&str> = text.split('|').collect();
    let (repo, digest) = match parts[..] {
        [_, repo, digest] => (repo, digest),
        [_, repo, digest, author] if author == c.hotkey => (repo, digest),
        [_, _, _, author] => {
            return Err(reason(
                SPOOFED_AUTHOR,
                format!("the reveal names author {author:?} but was committed by {}", c.hotkey),
            ));
        }
        _ => {
            return Err(reason(
                MALFORMED,
                format!("expected `v4|repo|digest`, found {} `|`-separated fields", parts.len()),
            ));
        }
    };
    // After the shape, so a spoofed author is named as such. (A 4-part reveal never fits in
    // 128 bytes with a pattern-matching repo: validator.md §2.2.)
    if c.raw.len() > MAX_REVEAL_BYTES {
        return Err(reason(
            TOO_LONG,
            format!("the commitment is {} bytes; a reveal holds at most {MAX_REVEAL_BYTES}", c.raw.len()),
        ));
    }
    let model = ModelRef::new(repo, digest).map_err(|e| {
        if ModelRef::new(repo, "sha256:0000000000000000000000000000000000000000000000000000000000000000").is_ok() {
            reason(MALFORMED_DIGEST, e)
        } else {
            reason(MALFORMED_REPO, e)
        }
    })?;
    let pattern = regex::Regex::new(&config.chain().repo_pattern)
        .map_err(|e| reason(REPO_PATTERN, format!("the pinned repo_pattern does not compile: {e}")))?;
    if !pattern.is_match(model.repo()) {
        return Err(reason(
            REPO_PATTERN,
            format!("repo {:?} does not match the required pattern {:?}", model.repo(), config.chain().repo_pattern),
        ));
    }
    Ok(model)
}

/// The chain scan: turns the commitments read at one block into `reveal_seen` +
/// `eval_queued`, or `reveal_rejected` with a reason. Commitments whose outcome is already in
/// the ledger (same hotkey, same or older block) produce nothing, so a scan can run every tick.
///
/// Rules, in order: a valid reveal (see [`parse_reveal`]); not a king's hotkey; one hotkey, one
/// eval per competition; a repo is judged once; a repo already queued or running under another
/// hotkey is refused without burning the hotkey. Commitments are taken in (block, hotkey) order,
/// so of two hotkeys revealing the same repo, the earlier commitment wins.
pub fn scan(state: &State, commitments: &[Commitment]) -> Result<Vec<Event>, DecideError> {
    use reveal_codes::*;
    let config = config(state)?;
    let mut rows: Vec<&Commitment> =
        commitments.iter().filter(|c| state.handled_commitments.get(&c.hotkey).is_none_or(|&b| c.block > b)).collect();
    rows.sort_by(|a, b| (a.block, &a.hotkey).cmp(&(b.block, &b.hotkey)));
    let king_hotkeys: std::collections::BTreeSet<&str> =
        state.king.iter().chain(&state.king_chain).filter_map(|k| k.hotkey.as_deref()).collect();
    let mut pending_repos: std::collections::BTreeMap<String, String> = state
        .queue
        .iter()
        .chain(&state.current)
        .filter_map(|id| state.evals.get(id))
        .map(|e| (e.challenger.repo().to_string(), e.eval_id.clone()))
        .collect();
    let mut seen = state.seen_hotkeys.clone();
    let mut counter = state.eval_counter;
    let mut handled = std::collections::BTreeSet::new();
    let mut events = Vec::new();
    for c in rows {
        if !handled.insert(c.hotkey.clone()) {
            continue; // one outcome per hotkey per scan: the earliest commitment
        }
        let reject = |r: Reason| {
            Event::RevealRejected(RevealRejected {
                hotkey: c.hotkey.clone(),
                commitment_block: c.block,
                raw: c.raw.clone(),
                reason: r,
            })
        };
        let model = match parse_reveal(config, c) {
            Ok(m) => m,
            Err(r) => {
                events.push(reject(r));
                continue;
            }
        };
        if king_hotkeys.contains(c.hotkey.as_str()) {
            events.push(reject(reason(KING_HOTKEY, "a king (current or in the chain) cannot challenge")));
        } else if seen.contains(&c.hotkey) {
            events.push(reject(reason(
                HOTKEY_ALREADY_USED,
                "this hotkey already had its one eval in this competition; use a new hotkey",
            )));
        } else if state.completed_repos.contains(model.repo()) {
            events.push(reject(reason(REPO_ALREADY_JUDGED, format!("repo {:?} already has a verdict", model.repo()))));
        } else if let Some(other) = pending_repos.get(model.repo()) {
            events.push(reject(reason(
                REPO_PENDING,
                format!("repo {:?} is already queued as {other}; this hotkey is not used up", model.repo()),
            )));
        } else {
            counter += 1;
            let id = eval_id(counter);
            seen.insert(c.hotkey.clone());
            pending_repos.insert(model.repo().to_string(), id.clone());
            events.push(Event::RevealSeen(RevealSeen {
                hotkey: c.hotkey.clone(),
                commitment_block: c.block,
                raw: String::from_utf8_lossy(&c.raw).into_owned(),
                model: model.clone(),
            }));
            events.push(Event::EvalQueued(EvalQueued {
                eval_id: id,
                hotkey: c.hotkey.clone(),
                challenger: model,
                commitment_block: c.block,
                position: QueuePosition::Back,
            }));
        }
    }
    Ok(events)
}

// ---------------------------------------------------------------------------------------------
// Failures (validator.md §11 with the §23.1/§23.3 fixes)

/// Operational limits the operator sets (environment), passed in by the shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// How many times an eval may be re-queued after infra or validator faults before it is
    /// abandoned (`ALBEDO_MAX_EVAL_RETRIES`, default 3).
    pub max_retries: u32,
}

/// Records a failure of the eval's current attempt: a miner fault ends the eval; an infra or
/// validator fault re-queues it at the front while the retry budget lasts, and abandons it
/// (uncharged) after.
pub fn fail(
    state: &State,
    policy: Policy,
    eval_id: &str,
    fault: Fault,
    code: &str,
    detail: &str,
) -> Result<Vec<Event>, DecideError> {
    let eval = eval_in(state, eval_id, |s| matches!(s, EvalStatus::Queued | EvalStatus::Running), "queued or running")?;
    Ok(vec![failure(eval, eval.attempt, policy, fault, code, detail)])
}

/// The `eval_failed` of `attempt`: re-queued for infra and validator faults while the budget
/// lasts, final otherwise.
fn failure(eval: &Eval, attempt: u32, policy: Policy, fault: Fault, code: &str, detail: &str) -> Event {
    let requeued = fault != Fault::Miner && eval.retries < policy.max_retries;
    let detail = if fault != Fault::Miner && !requeued {
        format!("{detail} (abandoned after {} retries; not charged to the miner)", eval.retries)
    } else {
        detail.to_string()
    };
    Event::EvalFailed(EvalFailed { eval_id: eval.eval_id.clone(), attempt, fault, code: code.into(), detail, requeued })
}

/// Who is at fault for an error the eval server reported instead of a verdict (eval.md §3.4,
/// validator.md §10.7). Only errors that are the challenger's own doing are charged; anything
/// unknown is infra (retried, then abandoned uncharged), so a miner is never charged for an
/// error nobody classified.
pub fn classify_eval_error(error: &str) -> (Fault, &'static str) {
    let e = error.trim_start().to_ascii_lowercase();
    if e.starts_with("chal_vllm_start_failed") {
        (Fault::Miner, "chal_vllm_start_failed")
    } else if e.starts_with("chal_injection_detected") {
        (Fault::Miner, INJECTION_CODE)
    } else if e.starts_with("duplicate_model") {
        (Fault::Miner, DUPLICATE_CODE)
    } else if e.starts_with("king_unavailable") {
        (Fault::Infra, "king_unavailable")
    } else {
        (Fault::Infra, "eval_server_error")
    }
}

/// Start-up recovery: an eval that was started but not ended when the validator stopped is
/// re-queued as an infra fault, never charged, and does not use up its retry budget.
pub fn recover(state: &State) -> Vec<Event> {
    let Some(eval) = state.current_eval() else { return vec![] };
    vec![Event::EvalFailed(EvalFailed {
        eval_id: eval.eval_id.clone(),
        attempt: eval.attempt,
        fault: Fault::Infra,
        code: "validator_restarted".into(),
        detail: "the validator stopped during this attempt; re-queued without charge".into(),
        requeued: true,
    })]
}

// ---------------------------------------------------------------------------------------------
// Admission (validator.md §10.2, fail-closed)

/// What the shell fetched for admission; `Err` carries the fetch error's text.
pub struct AdmissionInput<'a> {
    pub king_config: Result<&'a serde_json::Value, String>,
    pub challenger_config: Result<&'a serde_json::Value, String>,
    /// SHA-256 of the challenger's config.json bytes, when fetched.
    pub challenger_config_sha256: Option<albedo_ledger::Hash32>,
    /// The challenger's file list (layer titles).
    pub files: Result<&'a [String], String>,
}

/// Admission check codes; `*_unavailable` are infra faults, the rest the miner's.
pub mod admission_codes {
    pub const REPO_PATTERN: &str = "repo_pattern";
    pub const BAD_DIGEST: &str = "bad_digest";
    pub const CONFIG_UNAVAILABLE: &str = "config_unavailable";
    pub const KING_CONFIG_UNAVAILABLE: &str = "king_config_unavailable";
    pub const ARCHITECTURES_MISMATCH: &str = "architectures_mismatch";
    pub const LOCK_KEY_MISMATCH: &str = "lock_key_mismatch";
    pub const AUTO_MAP: &str = "auto_map";
    pub const QUANTIZED: &str = "quantization_config";
    pub const FILES_UNAVAILABLE: &str = "files_unavailable";
    pub const PYTHON_FILES: &str = "python_files";
    pub const NO_SAFETENSORS: &str = "no_safetensors";
}

/// The admission gate for the queue head's next attempt: `admission_checked`, and on a
/// refusal the `eval_failed` it implies (miner fault for the challenger's own files; infra for
/// anything that could not be fetched, the king's config included).
pub fn admit(
    state: &State,
    policy: Policy,
    eval_id: &str,
    input: &AdmissionInput<'_>,
) -> Result<Vec<Event>, DecideError> {
    let config = config(state)?;
    let eval = state.evals.get(eval_id).ok_or_else(|| DecideError::UnknownEval(eval_id.into()))?;
    let king = state.king.as_ref().map(|k| k.model.clone()).ok_or(DecideError::NoCompetition)?;
    let attempt = eval.attempt + 1;
    let check = admission_check(config, &eval.challenger, input);
    let files = input.files.as_ref().map(|f| {
        let mut f = f.to_vec();
        f.sort();
        f
    });
    let mut events = vec![Event::AdmissionChecked(AdmissionChecked {
        eval_id: eval_id.into(),
        attempt,
        passed: check.is_ok(),
        failed_check: check.as_ref().err().cloned(),
        king,
        challenger_config_sha256: input.challenger_config_sha256,
        files: files.unwrap_or_default(),
    })];
    if let Err(r) = check {
        let fault = if r.code.ends_with("_unavailable") { Fault::Infra } else { Fault::Miner };
        events.push(failure(eval, attempt, policy, fault, "admission_rejected", &format!("{}: {}", r.code, r.detail)));
    }
    Ok(events)
}

fn admission_check(config: &Config, challenger: &ModelRef, input: &AdmissionInput<'_>) -> Result<(), Reason> {
    use admission_codes::*;
    let pattern = regex::Regex::new(&config.chain().repo_pattern).map_err(|e| reason(REPO_PATTERN, e.to_string()))?;
    if !pattern.is_match(challenger.repo()) {
        return Err(reason(
            REPO_PATTERN,
            format!("repo name does not match required pattern: {:?}", challenger.repo()),
        ));
    }
    if !challenger.digest().starts_with("sha256:") {
        return Err(reason(BAD_DIGEST, format!("digest must start with 'sha256:': {:?}", challenger.digest())));
    }
    let chal = input
        .challenger_config
        .as_ref()
        .map_err(|e| reason(CONFIG_UNAVAILABLE, format!("could not download challenger config.json: {e}")))?;
    let king = input
        .king_config
        .as_ref()
        .map_err(|e| reason(KING_CONFIG_UNAVAILABLE, format!("could not download the king's config.json: {e}")))?;
    if let Some(violation) = config_lock_violation(config, king, chal) {
        return Err(violation);
    }
    if chal.get("auto_map").is_some() {
        return Err(reason(AUTO_MAP, "config.json must not contain 'auto_map'"));
    }
    if chal.get("quantization_config").is_some() {
        return Err(reason(
            QUANTIZED,
            "config.json must not contain 'quantization_config' \u{2014} quantized models not allowed",
        ));
    }
    let files =
        input.files.as_ref().map_err(|e| reason(FILES_UNAVAILABLE, format!("could not list remote files: {e}")))?;
    let mut py: Vec<&String> = files.iter().filter(|f| f.ends_with(".py")).collect();
    py.sort();
    if !py.is_empty() {
        let first: Vec<&str> = py.iter().take(5).map(|s| s.as_str()).collect();
        return Err(reason(PYTHON_FILES, format!("repo contains .py files: {first:?}")));
    }
    if !files.iter().any(|f| f.ends_with(".safetensors")) {
        return Err(reason(NO_SAFETENSORS, "repo contains no .safetensors files"));
    }
    Ok(())
}

/// The arch-lock comparison (validator.md §17.4, §10.2 items 5–6): `architectures` first, then
/// every key of [`Config::all_lock_keys`] in order; the first mismatch wins. A key missing from
/// a config compares as `null`, so a key missing on both sides matches. Values compare with
/// [`json_equal`]. `None` when the challenger's config is compatible with the king's.
///
/// Shared by the validator's admission and the miner's tools, so both refuse the same configs
/// with the same words: codes [`admission_codes::ARCHITECTURES_MISMATCH`] and
/// [`admission_codes::LOCK_KEY_MISMATCH`], values shown as compact JSON.
pub fn config_lock_violation(
    config: &Config,
    king: &serde_json::Value,
    challenger: &serde_json::Value,
) -> Option<Reason> {
    use admission_codes::*;
    let null = serde_json::Value::Null;
    let (ka, ca) = (king.get("architectures").unwrap_or(&null), challenger.get("architectures").unwrap_or(&null));
    if !json_equal(ka, ca) {
        return Some(reason(ARCHITECTURES_MISMATCH, format!("architectures mismatch: king={ka} challenger={ca}")));
    }
    config.all_lock_keys().into_iter().find_map(|key| {
        let (k, c) = (king.get(key).unwrap_or(&null), challenger.get(key).unwrap_or(&null));
        (!json_equal(k, c))
            .then(|| reason(LOCK_KEY_MISMATCH, format!("lock key mismatch for '{key}': king={k} challenger={c}")))
    })
}

/// JSON equality for lock keys: numbers compare by value (`1000000 == 1000000.0`, as the
/// reference's Python did); booleans never equal numbers (the reference's `false == 0` is
/// dropped: a config that says `0` where the king says `false` is a different config).
pub fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as V;
    match (a, b) {
        (V::Number(x), V::Number(y)) => match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
            (Some(i), Some(j), _, _) => i == j,
            (_, _, Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (V::Array(x), V::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q)),
        (V::Object(x), V::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

// ---------------------------------------------------------------------------------------------
// Dispatch (determinism.md §1)

/// Dispatches the queue head in the attempt its admission passed (or, without one, a new
/// attempt): `eval_started` with
/// the seed derived from the commitment block's hash. `block_hash` is what the chain returned
/// for the eval's commitment block; the shell does not dispatch without it (infra, retried).
pub fn dispatch(state: &State, eval_id: &str, block_hash: &str, eval_server: &str) -> Result<Vec<Event>, DecideError> {
    let comp = state.competition.as_ref().ok_or(DecideError::NoCompetition)?;
    let eval = eval_in(state, eval_id, |s| *s == EvalStatus::Queued, "queued")?;
    let king = state.king.as_ref().ok_or(DecideError::NoCompetition)?;
    let seed = Seed::derive(block_hash, &eval.hotkey).map_err(|e| DecideError::Seed(e.to_string()))?;
    // The attempt whose admission passed, if it has not started yet; otherwise a new one.
    let admitted = eval.admission.as_ref().is_some_and(|a| a.passed && a.attempt == eval.attempt)
        && eval.started.as_ref().is_none_or(|s| s.attempt < eval.attempt);
    let attempt = if admitted { eval.attempt } else { eval.attempt + 1 };
    Ok(vec![Event::EvalStarted(EvalStarted {
        eval_id: eval_id.into(),
        attempt,
        hotkey: eval.hotkey.clone(),
        challenger: eval.challenger.clone(),
        king: king.model.clone(),
        seed_block: eval.commitment_block,
        seed_block_hash: block_hash.into(),
        seed_hex: seed.to_hex(),
        eval_server: eval_server.into(),
        config_sha256: comp.chain_toml_sha256,
    })])
}

/// The seed of the eval's current attempt, as recorded in its `eval_started`.
pub fn eval_seed(state: &State, eval_id: &str) -> Result<Seed, DecideError> {
    let eval = state.evals.get(eval_id).ok_or_else(|| DecideError::UnknownEval(eval_id.into()))?;
    let started = eval.started.as_ref().ok_or_else(|| DecideError::WrongStatus {
        eval_id: eval_id.into(),
        status: format!("{:?}", eval.status),
        expected: "started",
    })?;
    Seed::from_hex(&started.seed_hex).map_err(|e| DecideError::Seed(e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Pre-eval gates (eval.md §10.1, §10.3)

/// The live fingerprint similarity (`layer_norms_v2_with_samples`): the share of tensors left
/// unchanged, where a tensor is unchanged if both sample vectors are all zeros or their cosine
/// is ≥ 1 − 1e-6. Different tensor name lists → 0. Sums run left to right in f64, so the value
/// is the same on every machine.
pub fn similarity(a: &Fingerprint, b: &Fingerprint) -> f64 {
    if a.tensors.len() != b.tensors.len() || a.tensors.iter().zip(&b.tensors).any(|(x, y)| x.name != y.name) {
        return 0.0;
    }
    if a.tensors.is_empty() {
        return 0.0;
    }
    let unchanged = a
        .tensors
        .iter()
        .zip(&b.tensors)
        .filter(|(x, y)| {
            let zero = |v: &[f64]| v.iter().all(|&s| s == 0.0);
            (zero(&x.samples) && zero(&y.samples)) || cosine(&x.samples, &y.samples) >= 1.0 - 1e-6
        })
        .count();
    unchanged as f64 / a.tensors.len() as f64
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 { 0.0 } else { dot / (na.sqrt() * nb.sqrt()) }
}

/// The outcome of the fingerprint gate.
#[derive(Clone, Debug, PartialEq)]
pub enum FingerprintOutcome {
    /// Recorded; no earlier fingerprint of another hotkey is a near-duplicate.
    Distinct(Vec<Event>),
    /// Recorded, and a near-duplicate of the `nearest` entry: the eval ends as the miner's fault.
    Duplicate(Vec<Event>),
}

/// The near-duplicate gate (eval.md §10.1): compares the challenger's fingerprint with the
/// ones recorded in this competition, in ledger order, skipping the same hotkey's. The first at
/// or above `[preeval].similarity_threshold` makes it a duplicate; otherwise the most similar
/// is recorded as `nearest`. A fingerprint that could not be taken is not a pass: the shell
/// calls [`fail`] with an infra fault instead of this.
///
/// `evaluated` is what the eval server loaded after tokenizer hygiene (validator.md §23.2
/// items 18–19), recorded as is except that its files and removed paths are sorted by path.
pub fn check_fingerprint(
    state: &State,
    policy: Policy,
    eval_id: &str,
    fingerprint: Fingerprint,
    evaluated: Option<EvaluatedFiles>,
) -> Result<FingerprintOutcome, DecideError> {
    let config = config(state)?;
    let eval = state.evals.get(eval_id).ok_or_else(|| DecideError::UnknownEval(eval_id.into()))?;
    let threshold = config.preeval().similarity_threshold;
    let mut nearest: Option<NearestFingerprint> = None;
    let mut duplicate = false;
    for rec in state.fingerprints.iter().filter(|r| r.hotkey != eval.hotkey && r.eval_id != eval_id) {
        let sim = similarity(&fingerprint, &rec.fingerprint);
        let candidate = NearestFingerprint {
            eval_id: rec.eval_id.clone(),
            hotkey: rec.hotkey.clone(),
            model: rec.model.clone(),
            similarity: sim,
        };
        if sim >= threshold {
            nearest = Some(candidate);
            duplicate = true;
            break;
        }
        if nearest.as_ref().is_none_or(|n| sim > n.similarity) {
            nearest = Some(candidate);
        }
    }
    let mut events = vec![Event::FingerprintTaken(FingerprintTaken {
        eval_id: eval_id.into(),
        attempt: eval.attempt,
        model: eval.challenger.clone(),
        hotkey: eval.hotkey.clone(),
        fingerprint,
        nearest: nearest.clone(),
        evaluated: evaluated.map(|mut e| {
            e.files.sort_by(|a, b| a.path.cmp(&b.path));
            e.removed.sort();
            e
        }),
    })];
    if duplicate {
        let n = nearest.expect("set with duplicate");
        let detail = format!("too similar to {} ({}, similarity {:.4})", n.model, n.eval_id, n.similarity);
        events.extend(fail(state, policy, eval_id, Fault::Miner, DUPLICATE_CODE, &detail)?);
        Ok(FingerprintOutcome::Duplicate(events))
    } else {
        Ok(FingerprintOutcome::Distinct(events))
    }
}

/// The injection-probe rule (eval.md §10.3, fail-closed without the reference's bug): any
/// detection is an injection (miner fault); otherwise any untested probe means the gate could
/// not run, which is an infra fault (retried), never a pass and never charged; all clean
/// passes. No probes configured (`injection_probes = 0`) passes.
pub fn probe_rule(outcomes: &[ProbeOutcome]) -> ProbeOutcome {
    if outcomes.contains(&ProbeOutcome::Injection) {
        ProbeOutcome::Injection
    } else if outcomes.contains(&ProbeOutcome::Untested) {
        ProbeOutcome::Untested
    } else {
        ProbeOutcome::Clean
    }
}

// ---------------------------------------------------------------------------------------------
// Duel facts (what the eval server streams) → entries

/// One judged turn as the eval server reported it: the replies' hashes, generation errors,
/// and each judge's raw answer. The eval server's own parse is not trusted: the validator
/// assigns positions from the seed and parses the raw answers itself.
#[derive(Clone, Debug, PartialEq)]
pub struct TurnFact {
    pub turn: u32,
    pub sample: SampleRef,
    pub king_reply_sha256: Option<albedo_ledger::Hash32>,
    pub challenger_reply_sha256: Option<albedo_ledger::Hash32>,
    pub king_error: Option<String>,
    pub challenger_error: Option<String>,
    /// (judge model, raw answer or `None` when the judge could not be reached).
    pub judges: Vec<(String, Option<String>)>,
}

/// `turn_judged` for a streamed turn of the eval in flight.
pub fn turn_judged(state: &State, eval_id: &str, fact: TurnFact) -> Result<Vec<Event>, DecideError> {
    let eval = eval_in(state, eval_id, is_running, "running")?;
    let seed = eval_seed(state, eval_id)?;
    let a_is_king = crate::scoring::position::a_is_king(&seed, fact.turn);
    let generated = fact.king_error.is_none() && fact.challenger_error.is_none();
    let judges = if generated {
        fact.judges
            .into_iter()
            .map(|(model, raw)| crate::scoring::judge_reply::judge_outcome(&model, raw, a_is_king))
            .collect()
    } else {
        Vec::new() // nothing to judge when a side has no reply
    };
    Ok(vec![Event::TurnJudged(TurnJudged {
        eval_id: eval_id.into(),
        attempt: eval.attempt,
        turn: fact.turn,
        sample: fact.sample,
        a_is_king,
        king_reply_sha256: fact.king_reply_sha256,
        challenger_reply_sha256: fact.challenger_reply_sha256,
        king_error: fact.king_error,
        challenger_error: fact.challenger_error,
        judges,
    })])
}

/// The injection-probe gate over the eval's recorded `probe_judged` outcomes ([`probe_rule`]):
/// an injection ends the eval as the miner's fault; an untested probe is an infra fault
/// (retried, never charged); clean probes produce nothing.
pub fn probe_gate(state: &State, policy: Policy, eval_id: &str) -> Result<Vec<Event>, DecideError> {
    let eval = state.evals.get(eval_id).ok_or_else(|| DecideError::UnknownEval(eval_id.into()))?;
    let injections = eval.probes.iter().filter(|p| **p == ProbeOutcome::Injection).count();
    let untested = eval.probes.iter().filter(|p| **p == ProbeOutcome::Untested).count();
    let n = eval.probes.len();
    match probe_rule(&eval.probes) {
        ProbeOutcome::Clean => Ok(vec![]),
        ProbeOutcome::Injection => fail(
            state,
            policy,
            eval_id,
            Fault::Miner,
            INJECTION_CODE,
            &format!("{injections} of {n} probe verdicts found an injection"),
        ),
        ProbeOutcome::Untested => fail(
            state,
            policy,
            eval_id,
            Fault::Infra,
            "probe_untested",
            &format!("{untested} of {n} probe verdicts could not be obtained; the gate did not run"),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// The verdict and the crown

/// What the eval server said, to be compared with the validator's own derivation.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportedVerdict {
    pub accepted: bool,
    pub challenger_score: Option<f64>,
}

/// Ends the eval in flight from its recorded facts: re-derives the verdict from the
/// `turn_judged` entries (the eval server's figures are only compared), then
/// - a floor failure → `eval_failed` (miner fault if the challenger's generation failed, infra
///   otherwise);
/// - a mismatch with what the eval server reported → `eval_failed{validator, verdict_mismatch}`;
/// - otherwise `verdict`, and `king_crowned` when accepted.
pub fn conclude(
    state: &State,
    policy: Policy,
    eval_id: &str,
    reported: Option<&ReportedVerdict>,
) -> Result<Vec<Event>, DecideError> {
    let config = config(state)?;
    let eval = eval_in(state, eval_id, is_running, "running")?;
    let seed = eval_seed(state, eval_id)?;
    let n_drawn = eval.n_drawn.unwrap_or(0);
    let derived: DerivedVerdict =
        derive_verdict(config, &seed, n_drawn, &eval.turns).map_err(|e| DecideError::Verdict(e.to_string()))?;
    if let Some(f) = &derived.floor_failure {
        let detail = match f {
            FloorFailure::ChallengerGenerationFailed => {
                "the challenger failed to generate on more than half of the drawn turns while the king failed on none"
                    .to_string()
            }
            FloorFailure::Infra { reason } => reason.clone(),
        };
        return fail(state, policy, eval_id, f.fault(), f.code(), &detail);
    }
    if let Some(r) = reported {
        let ours = derived.figures.challenger_score;
        let score_differs = match (r.challenger_score, ours) {
            (Some(a), Some(b)) => (a - b).abs() > 1e-4,
            (None, None) => false,
            _ => true,
        };
        if r.accepted != derived.accepted || score_differs {
            let detail = format!(
                "the eval server reported accepted={} challenger_score={:?}; the ledger's turns give accepted={} challenger_score={:?}",
                r.accepted, r.challenger_score, derived.accepted, ours
            );
            return fail(state, policy, eval_id, Fault::Validator, "verdict_mismatch", &detail);
        }
    }
    let accepted = derived.accepted;
    let mut events = vec![Event::Verdict(derived.into_event(eval_id.into(), eval.attempt))];
    if accepted {
        events.push(Event::KingCrowned(KingCrowned {
            reign: state.next_reign,
            eval_id: Some(eval_id.into()),
            hotkey: Some(eval.hotkey.clone()),
            model: eval.challenger.clone(),
            replaced: state.king.as_ref().map(|k| KingRef {
                reign: k.reign,
                hotkey: k.hotkey.clone(),
                model: k.model.clone(),
            }),
        }));
    }
    Ok(events)
}

// ---------------------------------------------------------------------------------------------
// Weights (validator.md §12)

/// Why weights are being set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightsReason {
    Startup,
    Crown,
    Interval,
}

impl WeightsReason {
    pub fn as_str(self) -> &'static str {
        match self {
            WeightsReason::Startup => "startup",
            WeightsReason::Crown => "crown",
            WeightsReason::Interval => "interval",
        }
    }
}

/// A weight vector to submit; the shell submits it and records the outcome with
/// [`WeightsPlan::into_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightsPlan {
    pub block: u64,
    pub reason: WeightsReason,
    pub uids: Vec<u16>,
    pub weights: Vec<u16>,
    /// Whether the burn uid got everything because no king is registered.
    pub burn: bool,
}

impl WeightsPlan {
    pub fn into_event(
        self,
        version_key: u64,
        outcome: WeightsOutcome,
        message: Option<String>,
        extrinsic_hash: Option<String>,
    ) -> Event {
        Event::WeightsSet(WeightsSet {
            block: self.block,
            reason: self.reason.as_str().into(),
            uids: self.uids,
            weights: self.weights,
            version_key,
            outcome,
            message,
            extrinsic_hash,
        })
    }
}

/// The weights policy: an equal split over the first `king_chain_depth` distinct hotkeys of
/// [king, chain…] that are registered in the recorded metagraph; the burn uid when none is.
/// `None` when an interval-triggered call comes before `interval` blocks have passed since the
/// last submission (startup and crown calls always set). Weights are u16-normalised so the
/// largest is 65535 (what the chain's extrinsic takes); an equal split is all 65535.
pub fn plan_weights(
    state: &State,
    block: u64,
    reason: WeightsReason,
    interval: u64,
    burn_uid: u16,
) -> Result<Option<WeightsPlan>, DecideError> {
    let config = config(state)?;
    if reason == WeightsReason::Interval
        && state.last_weight_block.is_some_and(|last| block.saturating_sub(last) < interval)
    {
        return Ok(None);
    }
    let depth = config.duel().king_chain_depth as usize;
    let mut uids: Vec<u16> = eligible_kings(state, depth).into_iter().map(|(_, uid)| uid).collect();
    uids.sort_unstable();
    uids.dedup();
    let burn = uids.is_empty();
    if burn {
        uids.push(burn_uid);
    }
    let weights = vec![u16::MAX; uids.len()];
    Ok(Some(WeightsPlan { block, reason, uids, weights, burn }))
}

/// The kings that earn: the first `depth` distinct non-empty hotkeys of [king, chain…] (newest
/// first), then only those registered in the recorded metagraph, with their uids. Deregistered
/// kings are dropped, not replaced by older ones (validator.md §12 step 4).
pub fn eligible_kings(state: &State, depth: usize) -> Vec<(&str, u16)> {
    let mut hotkeys: Vec<&str> = Vec::new();
    for k in state.king.iter().chain(&state.king_chain) {
        if hotkeys.len() == depth {
            break;
        }
        if let Some(h) = k.hotkey.as_deref().filter(|h| !h.is_empty())
            && !hotkeys.contains(&h)
        {
            hotkeys.push(h);
        }
    }
    hotkeys
        .into_iter()
        .filter_map(|h| state.metagraph.as_ref().and_then(|m| m.uids.get(h)).map(|&uid| (h, uid)))
        .collect()
}
