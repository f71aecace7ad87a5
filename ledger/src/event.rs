//! The events of ledger format v1 (design.md §3.2), fully typed.
//!
//! Rules that keep the format evolvable:
//! - [`Event`] is internally tagged by `kind` (snake_case). A kind never changes meaning once
//!   released: a new meaning is a new variant.
//! - Decoding ignores unknown fields, and a missing `Option` field decodes as `None`, so a
//!   later version may add optional fields without breaking older entries.
//! - Open-ended reasons (why a reveal was refused, why an eval failed) are a stable snake_case
//!   `code` plus a human `detail`, not an enum: the set of codes grows with the rules in
//!   projections, and an old reader must still decode a new code.
//! - Closed sets the design fixes (fault classes, probe outcomes, winners…) are enums.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Hash32;

/// One state change, as recorded in the ledger.
///
/// Encoded as a map whose first entry is `kind` (serde's internal tagging writes it first). The
/// decoder relies on that order: it reads `kind`, then decodes the rest of the map straight into
/// the variant, without buffering the whole event first (3x faster than serde's generic
/// internally-tagged path). An event map that does not start with `kind` is refused.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    CompetitionStarted(CompetitionStarted),
    MetagraphSynced(MetagraphSynced),
    RevealSeen(RevealSeen),
    RevealRejected(RevealRejected),
    EvalQueued(EvalQueued),
    AdmissionChecked(AdmissionChecked),
    EvalStarted(EvalStarted),
    SamplesDrawn(SamplesDrawn),
    FingerprintTaken(FingerprintTaken),
    ProbeJudged(ProbeJudged),
    TurnJudged(TurnJudged),
    Verdict(Verdict),
    EvalFailed(EvalFailed),
    KingCrowned(KingCrowned),
    WeightsSet(WeightsSet),
    Published(Published),
}

macro_rules! decode_event {
    ($($kind:literal => $variant:ident),* $(,)?) => {
        impl<'de> Deserialize<'de> for Event {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Event, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = Event;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("an event map starting with `kind`")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
                        use serde::de::Error;
                        let first: Option<std::borrow::Cow<'de, str>> = map.next_key()?;
                        if first.as_deref() != Some("kind") {
                            return Err(A::Error::custom(format!("event map must start with `kind`, found {first:?}")));
                        }
                        let kind: std::borrow::Cow<'de, str> = map.next_value()?;
                        let rest = serde::de::value::MapAccessDeserializer::new(map);
                        match kind.as_ref() {
                            $($kind => Deserialize::deserialize(rest).map(Event::$variant),)*
                            other => Err(A::Error::unknown_variant(other, &KINDS)),
                        }
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

decode_event! {
    "competition_started" => CompetitionStarted,
    "metagraph_synced" => MetagraphSynced,
    "reveal_seen" => RevealSeen,
    "reveal_rejected" => RevealRejected,
    "eval_queued" => EvalQueued,
    "admission_checked" => AdmissionChecked,
    "eval_started" => EvalStarted,
    "samples_drawn" => SamplesDrawn,
    "fingerprint_taken" => FingerprintTaken,
    "probe_judged" => ProbeJudged,
    "turn_judged" => TurnJudged,
    "verdict" => Verdict,
    "eval_failed" => EvalFailed,
    "king_crowned" => KingCrowned,
    "weights_set" => WeightsSet,
    "published" => Published,
}

/// Every `kind` string, in declaration order (for filters, docs and tests).
pub const KINDS: [&str; 16] = [
    "competition_started",
    "metagraph_synced",
    "reveal_seen",
    "reveal_rejected",
    "eval_queued",
    "admission_checked",
    "eval_started",
    "samples_drawn",
    "fingerprint_taken",
    "probe_judged",
    "turn_judged",
    "verdict",
    "eval_failed",
    "king_crowned",
    "weights_set",
    "published",
];

/// The idempotency key of an event: appending an event whose key is already in the ledger
/// writes nothing and returns the existing entry's seq, so a crashed step can be retried.
///
/// Encoding: the key's family, then each part, separated by a 0x00 byte; numbers in decimal.
/// Parts never contain 0x00 in practice (hotkeys, eval ids, reasons), and a part that did would
/// only make two keys collide within one family, never across families.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdempotencyKey(Vec<u8>);

impl IdempotencyKey {
    fn new(family: &str, parts: &[&dyn fmt::Display]) -> IdempotencyKey {
        let mut out = family.as_bytes().to_vec();
        for part in parts {
            out.push(0);
            out.extend_from_slice(part.to_string().as_bytes());
        }
        IdempotencyKey(out)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = String::from_utf8_lossy(&self.0).replace('\0', "/");
        write!(f, "IdempotencyKey({text})")
    }
}

impl Event {
    /// The `kind` tag this event is encoded with.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::CompetitionStarted(_) => "competition_started",
            Event::MetagraphSynced(_) => "metagraph_synced",
            Event::RevealSeen(_) => "reveal_seen",
            Event::RevealRejected(_) => "reveal_rejected",
            Event::EvalQueued(_) => "eval_queued",
            Event::AdmissionChecked(_) => "admission_checked",
            Event::EvalStarted(_) => "eval_started",
            Event::SamplesDrawn(_) => "samples_drawn",
            Event::FingerprintTaken(_) => "fingerprint_taken",
            Event::ProbeJudged(_) => "probe_judged",
            Event::TurnJudged(_) => "turn_judged",
            Event::Verdict(_) => "verdict",
            Event::EvalFailed(_) => "eval_failed",
            Event::KingCrowned(_) => "king_crowned",
            Event::WeightsSet(_) => "weights_set",
            Event::Published(_) => "published",
        }
    }

    /// The eval this event belongs to, if any.
    pub fn eval_id(&self) -> Option<&str> {
        match self {
            Event::EvalQueued(e) => Some(&e.eval_id),
            Event::AdmissionChecked(e) => Some(&e.eval_id),
            Event::EvalStarted(e) => Some(&e.eval_id),
            Event::SamplesDrawn(e) => Some(&e.eval_id),
            Event::FingerprintTaken(e) => Some(&e.eval_id),
            Event::ProbeJudged(e) => Some(&e.eval_id),
            Event::TurnJudged(e) => Some(&e.eval_id),
            Event::Verdict(e) => Some(&e.eval_id),
            Event::EvalFailed(e) => Some(&e.eval_id),
            Event::KingCrowned(e) => e.eval_id.as_deref(),
            _ => None,
        }
    }

    /// The key that makes appending this event idempotent (design.md §3.2, "key" column).
    ///
    /// `reveal_seen` and `reveal_rejected` share the family `reveal`: a commitment (hotkey,
    /// commitment block) gets exactly one outcome, seen or rejected, never both.
    pub fn idempotency_key(&self) -> IdempotencyKey {
        use IdempotencyKey as K;
        match self {
            Event::CompetitionStarted(e) => K::new("competition_started", &[&e.reset_number]),
            Event::MetagraphSynced(e) => K::new("metagraph_synced", &[&e.block]),
            Event::RevealSeen(e) => K::new("reveal", &[&e.hotkey, &e.commitment_block]),
            Event::RevealRejected(e) => K::new("reveal", &[&e.hotkey, &e.commitment_block]),
            Event::EvalQueued(e) => K::new("eval_queued", &[&e.eval_id]),
            Event::AdmissionChecked(e) => K::new("admission_checked", &[&e.eval_id, &e.attempt]),
            Event::EvalStarted(e) => K::new("eval_started", &[&e.eval_id, &e.attempt]),
            Event::SamplesDrawn(e) => K::new("samples_drawn", &[&e.eval_id, &e.attempt]),
            Event::FingerprintTaken(e) => K::new("fingerprint_taken", &[&e.eval_id, &e.attempt]),
            Event::ProbeJudged(e) => K::new("probe_judged", &[&e.eval_id, &e.attempt, &e.probe]),
            Event::TurnJudged(e) => K::new("turn_judged", &[&e.eval_id, &e.attempt, &e.turn]),
            Event::Verdict(e) => K::new("verdict", &[&e.eval_id]),
            Event::EvalFailed(e) => K::new("eval_failed", &[&e.eval_id, &e.attempt]),
            Event::KingCrowned(e) => K::new("king_crowned", &[&e.reign]),
            Event::WeightsSet(e) => K::new("weights_set", &[&e.block, &e.reason]),
            Event::Published(e) => K::new("published", &[&e.what.as_str(), &e.sha256]),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared value types

/// An immutable model reference `<repo>@<digest>` (validator.md §2.1). It exists only after
/// both parts have been checked, including when decoded from the ledger.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawModelRef", into = "RawModelRef")]
pub struct ModelRef {
    repo: String,
    digest: String,
}

#[derive(Serialize, Deserialize)]
struct RawModelRef {
    repo: String,
    digest: String,
}

impl ModelRef {
    /// Checks `repo` against `^[a-z0-9][a-z0-9._-]*/[a-z0-9][a-z0-9._/-]*$` (without the
    /// Python regex's tolerance of a trailing newline) and `digest` against
    /// `^sha256:[0-9a-f]{64}$`. Path segments `.` and `..` and empty segments are refused too:
    /// OCI repository names cannot contain them, and a repo name becomes a cache path.
    pub fn new(repo: impl Into<String>, digest: impl Into<String>) -> Result<ModelRef, String> {
        let (repo, digest) = (repo.into(), digest.into());
        check_repo(&repo)?;
        check_digest(&digest)?;
        Ok(ModelRef { repo, digest })
    }

    pub fn repo(&self) -> &str {
        &self.repo
    }

    pub fn digest(&self) -> &str {
        &self.digest
    }
}

fn check_repo(repo: &str) -> Result<(), String> {
    let bad = || format!("repo {repo:?} is not a lowercase `namespace/name`");
    let (namespace, name) = repo.split_once('/').ok_or_else(bad)?;
    let lead = |s: &str| s.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let body = |b: u8, slash: bool| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_' || b == b'-' || (slash && b == b'/')
    };
    if !lead(namespace) || !namespace.bytes().all(|b| body(b, false)) {
        return Err(bad());
    }
    if !lead(name) || !name.bytes().all(|b| body(b, true)) {
        return Err(bad());
    }
    if name.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..") {
        return Err(format!("repo {repo:?} has an empty, `.` or `..` path segment"));
    }
    Ok(())
}

fn check_digest(digest: &str) -> Result<(), String> {
    match digest.strip_prefix("sha256:") {
        Some(hex) if Hash32::from_hex(hex).is_some() => Ok(()),
        _ => Err(format!("digest {digest:?} is not `sha256:` followed by 64 lowercase hex digits")),
    }
}

impl TryFrom<RawModelRef> for ModelRef {
    type Error = String;
    fn try_from(raw: RawModelRef) -> Result<Self, String> {
        ModelRef::new(raw.repo, raw.digest)
    }
}

impl From<ModelRef> for RawModelRef {
    fn from(m: ModelRef) -> Self {
        RawModelRef { repo: m.repo, digest: m.digest }
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.repo, self.digest)
    }
}

impl fmt::Debug for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModelRef({self})")
    }
}

/// Why something was refused or failed: a stable snake_case code plus a human sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub detail: String,
}

/// One drawn sample: a row of a dataset shard and an assistant turn within it
/// (determinism.md §3: shard index in manifest order including empty shards).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SampleRef {
    pub shard: u32,
    pub row: u64,
    pub turn: u32,
}

// ---------------------------------------------------------------------------------------------
// Competition and chain

/// Why a competition (re)started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartReason {
    Genesis,
    Reset,
}

/// The start of a competition: the first entry of a ledger, and the entry of each reset.
/// Key: the reset number (0 for genesis).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompetitionStarted {
    pub reset_number: u32,
    pub reason: StartReason,
    pub netuid: u16,
    /// The exact text of `chain.toml` in force, and its SHA-256: the pinned config every
    /// decision after this entry is re-derived with.
    pub chain_toml: String,
    pub chain_toml_sha256: Hash32,
    pub genesis_king: ModelRef,
    pub validator_hotkey: String,
    pub dataset_manifest_sha256: Hash32,
    /// Present on a reset: the chain snapshot the reset was computed from.
    pub reset_snapshot: Option<ResetSnapshot>,
}

/// What a reset saw on chain (validator.md §13).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResetSnapshot {
    /// The chain block the commitments were read at.
    pub block: u64,
    /// Hotkeys excluded from the new competition.
    pub excluded_hotkeys: Vec<String>,
    /// The reveals re-queued by the reset, in commitment-block order.
    pub queued: Vec<SnapshotReveal>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotReveal {
    pub hotkey: String,
    pub commitment_block: u64,
    #[serde(with = "serde_bytes")]
    pub raw: Vec<u8>,
}

/// The subnet's uid table at a block; recorded only when it changed. Key: block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetagraphSynced {
    pub block: u64,
    /// Sorted by uid.
    pub neurons: Vec<Neuron>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Neuron {
    pub uid: u16,
    pub hotkey: String,
    pub coldkey: String,
}

/// A valid reveal read from `Commitments.CommitmentOf`. Key: (hotkey, commitment block),
/// shared with [`RevealRejected`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RevealSeen {
    pub hotkey: String,
    pub commitment_block: u64,
    /// The commitment exactly as read from chain (valid UTF-8, or it would have been rejected).
    pub raw: String,
    pub model: ModelRef,
}

/// A commitment that was refused, with its reason (no silent burns). Key: (hotkey,
/// commitment block), shared with [`RevealSeen`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RevealRejected {
    pub hotkey: String,
    pub commitment_block: u64,
    /// The raw commitment bytes (they may not be UTF-8: that is one reason to refuse).
    #[serde(with = "serde_bytes")]
    pub raw: Vec<u8>,
    pub reason: Reason,
}

// ---------------------------------------------------------------------------------------------
// Evals

/// Where a queued eval goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueuePosition {
    /// The normal case: behind every eval queued before it.
    Back,
    /// Ahead of the queue (e.g. the reset's re-queued reveals, kept in commitment order).
    Front,
}

/// An eval entered the queue. Key: eval id (unique across resets).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalQueued {
    pub eval_id: String,
    pub hotkey: String,
    pub challenger: ModelRef,
    pub commitment_block: u64,
    pub position: QueuePosition,
}

/// The admission gate's result for one attempt (validator.md §10.2). Key: (eval id, attempt).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdmissionChecked {
    pub eval_id: String,
    pub attempt: u32,
    pub passed: bool,
    /// The first check that failed, when one did.
    pub failed_check: Option<Reason>,
    /// The king the challenger was compared against.
    pub king: ModelRef,
    /// SHA-256 of the challenger's `config.json` as fetched, when it could be fetched.
    pub challenger_config_sha256: Option<Hash32>,
    /// The challenger's file list (layer titles), sorted.
    pub files: Vec<String>,
}

/// An eval was dispatched to an eval server. Key: (eval id, attempt).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalStarted {
    pub eval_id: String,
    pub attempt: u32,
    pub hotkey: String,
    pub challenger: ModelRef,
    pub king: ModelRef,
    /// determinism.md §1: the commitment block and its hash, the seed's inputs.
    pub seed_block: u64,
    /// `0x` + 64 lowercase hex digits, exactly as the chain returned it.
    pub seed_block_hash: String,
    /// BLAKE2b-512(block hash text || hotkey text), 128 lowercase hex digits.
    pub seed_hex: String,
    /// The eval server's base URL.
    pub eval_server: String,
    pub config_sha256: Hash32,
}

/// The duel's samples in turn order. Key: (eval id, attempt).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplesDrawn {
    pub eval_id: String,
    pub attempt: u32,
    pub dataset_manifest_sha256: Hash32,
    pub samples: Vec<SampleRef>,
}

/// A model's fingerprint (eval.md §10.1). Key: (eval id, attempt).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FingerprintTaken {
    pub eval_id: String,
    pub attempt: u32,
    pub model: ModelRef,
    pub hotkey: String,
    pub fingerprint: Fingerprint,
    /// The most similar earlier fingerprint in the ledger (other hotkeys only), if any.
    pub nearest: Option<NearestFingerprint>,
    /// The files the fingerprint was taken of, after tokenizer hygiene; absent in entries
    /// written before it was recorded.
    pub evaluated: Option<EvaluatedFiles>,
}

/// The model's files as the eval server evaluated them, after tokenizer hygiene (validator.md
/// §23.2 items 18–19): what changed from the committed digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvaluatedFiles {
    /// Every file loaded, sorted by path.
    pub files: Vec<EvaluatedFile>,
    /// Paths of the committed manifest that were removed before evaluation, sorted.
    pub removed: Vec<String>,
    /// What tokenizer hygiene changed, one sentence each, in the order applied.
    pub changes: Vec<String>,
}

/// One file as evaluated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluatedFile {
    /// Relative to the model folder, '/'-separated.
    pub path: String,
    pub size: u64,
    /// SHA-256 of the bytes as evaluated.
    pub sha256: Hash32,
    /// The committed manifest layer's digest for this path (equal to `sha256` unless hygiene
    /// rewrote it); None if the file is not in the manifest.
    pub committed_sha256: Option<Hash32>,
}

/// Method `layer_norms_v2_with_samples`: per tensor, sorted by name, its L2 norm and 16 values
/// at name-derived indices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub method: String,
    pub tensors: Vec<TensorPrint>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorPrint {
    pub name: String,
    pub l2_norm: f64,
    pub samples: Vec<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NearestFingerprint {
    pub eval_id: String,
    pub hotkey: String,
    pub model: ModelRef,
    pub similarity: f64,
}

/// The parsed result of one injection probe (eval.md §10.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeOutcome {
    Clean,
    Injection,
    /// The judge could not be resolved or its answer parsed: neither clean nor an injection.
    Untested,
}

/// One injection probe judged. Key: (eval id, attempt, probe index).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeJudged {
    pub eval_id: String,
    pub attempt: u32,
    pub probe: u32,
    pub sample: SampleRef,
    pub judge: String,
    /// The judge's raw answer; absent when the judge could not be reached.
    pub raw_output: Option<String>,
    pub outcome: ProbeOutcome,
}

/// Which reply a judge preferred on one metric, mapped back to the duel's sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Challenger,
    King,
    Tie,
}

/// One judged turn of a duel. Key: (eval id, attempt, turn index).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TurnJudged {
    pub eval_id: String,
    pub attempt: u32,
    /// The turn's position in `samples_drawn` (0-based).
    pub turn: u32,
    pub sample: SampleRef,
    /// determinism.md §4: true when the judges saw the king's reply as A.
    pub a_is_king: bool,
    /// SHA-256 of each reply's text; the texts live in the published traces.
    pub king_reply_sha256: Option<Hash32>,
    pub challenger_reply_sha256: Option<Hash32>,
    /// Generation errors, when a side produced no reply.
    pub king_error: Option<String>,
    pub challenger_error: Option<String>,
    /// One entry per judge of `[judge].models`, in that order.
    pub judges: Vec<JudgeOutcome>,
}

/// One judge's answer on one turn: its raw output, and either the parsed metrics or why
/// parsing failed (exactly one of `metrics` and `parse_error` is present).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgeOutcome {
    pub model: String,
    /// Absent when the judge could not be reached at all.
    pub raw_output: Option<String>,
    /// In metric order.
    pub metrics: Option<Vec<MetricOutcome>>,
    pub parse_error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricOutcome {
    pub metric: String,
    pub preferred: Side,
}

/// Who won a duel on score (before the gates).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Winner {
    Challenger,
    King,
    Tie,
}

/// The verdict the validator derived from the eval's `turn_judged` entries. Key: eval id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub eval_id: String,
    pub attempt: u32,
    pub figures: VerdictFigures,
    pub accepted: bool,
    pub winner: Winner,
}

/// Every figure of a verdict (eval.md §9.7, determinism.md §5–§6). Scores are absent when no
/// judge parsed any turn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerdictFigures {
    pub n_samples: u32,
    pub n_done: u32,
    pub n_valid: u32,
    pub generation_errors: u32,
    pub challenger_score: Option<f64>,
    pub king_score: Option<f64>,
    /// In `[judge].models` order, judges that parsed at least one turn.
    pub by_judge: Vec<NamedScore>,
    /// In metric order.
    pub by_metric: Vec<NamedScore>,
    pub mean_delta: f64,
    pub se: f64,
    pub lcb: f64,
    /// The gate parameters as their decimal text from the pinned config.
    pub win_margin: String,
    pub gate_alpha: String,
    pub floor_ok: bool,
    pub margin_ok: bool,
    pub lcb_ok: bool,
    pub judge_models: Vec<String>,
    /// Figures published for information only (no decision reads them); absent in entries
    /// written before they existed.
    pub informational: Option<Informational>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedScore {
    pub name: String,
    pub score: f64,
}

/// Diagnostics of a verdict: judge position bias, a normal-approximation LCB and inter-judge
/// agreement. Never an input to a decision. Shares and p-values are rounded half away from zero
/// to 4 decimals; a share is absent when its count is 0. The exact definitions live with the
/// code that computes them (`albedo_projections::scoring::verdict`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Informational {
    /// Per judge that parsed at least one turn, in `[judge].models` order.
    pub position_bias: Vec<PositionBias>,
    /// `mean_delta − z(1 − gate_alpha) · se`, next to the bootstrap's `lcb`.
    pub normal_lcb: f64,
    /// Over (turn, metric) pairs that at least two judges parsed: how many all agreed on.
    pub agreement: Agreement,
    /// Per pair of judges of `[judge].models` (in that order, first < second): over the
    /// (turn, metric) pairs both parsed, how many they agreed on.
    pub pairwise_agreement: Vec<PairAgreement>,
}

/// How often one judge favoured the reply shown first (position A), over the turns it parsed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PositionBias {
    pub judge: String,
    /// Turns where more metrics preferred A than B.
    pub favoured_a: u32,
    /// Turns where more metrics preferred B than A.
    pub favoured_b: u32,
    /// favoured_a / (favoured_a + favoured_b).
    pub a_share: Option<f64>,
    /// Two-sided exact binomial test of favoured_a against p = 1/2 (1 when there is no turn).
    pub p_value: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub pairs: u32,
    pub agreed: u32,
    /// agreed / pairs.
    pub share: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairAgreement {
    pub first: String,
    pub second: String,
    pub pairs: u32,
    pub agreed: u32,
    /// agreed / pairs.
    pub share: Option<f64>,
}

/// Who is charged with a failure (validator.md §11, with the §23 fixes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// The challenger is at fault: the eval ends and the miner is charged.
    Miner,
    /// The infrastructure failed: retried, never charged to the miner.
    Infra,
    /// The validator itself is wrong (e.g. a verdict mismatch): never charged to the miner.
    Validator,
}

/// An attempt of an eval failed. Key: (eval id, attempt).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalFailed {
    pub eval_id: String,
    pub attempt: u32,
    pub fault: Fault,
    pub code: String,
    pub detail: String,
    /// Whether the eval went back into the queue; false ends it (abandoned or charged).
    pub requeued: bool,
}

/// A king as it stood in the chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KingRef {
    pub reign: u64,
    pub hotkey: Option<String>,
    pub model: ModelRef,
}

/// A new king. Reign numbers are absolute: they never restart, resets included. Key: reign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KingCrowned {
    pub reign: u64,
    /// The eval that crowned it; absent for a genesis king.
    pub eval_id: Option<String>,
    /// The challenger's hotkey; absent for a genesis king.
    pub hotkey: Option<String>,
    pub model: ModelRef,
    /// The king it replaced, if any.
    pub replaced: Option<KingRef>,
}

/// How a weight submission ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightsOutcome {
    Submitted,
    RateLimited,
    Error,
}

/// A weight submission and its outcome. Key: (block, reason).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightsSet {
    pub block: u64,
    /// Why weights were set now (`startup`, `crown`, `interval`, …).
    pub reason: String,
    pub uids: Vec<u16>,
    /// u16-normalised weights, one per uid.
    pub weights: Vec<u16>,
    pub version_key: u64,
    pub outcome: WeightsOutcome,
    /// The chain's or client's message on a rate limit or error.
    pub message: Option<String>,
    pub extrinsic_hash: Option<String>,
}

/// What a `published` entry published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublishedWhat {
    Dashboard,
    Site,
    Traces,
    Checkpoint,
}

impl PublishedWhat {
    pub fn as_str(&self) -> &'static str {
        match self {
            PublishedWhat::Dashboard => "dashboard",
            PublishedWhat::Site => "site",
            PublishedWhat::Traces => "traces",
            PublishedWhat::Checkpoint => "checkpoint",
        }
    }
}

/// An object the validator published. Key: (what, sha256).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Published {
    pub what: PublishedWhat,
    pub key: String,
    pub sha256: Hash32,
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:3368b0c79b619ed90dc5610c20073cf02c3a93275ebc0c5b94a9d332fea6f606";

    #[test]
    fn model_ref_accepts_the_spec_forms() {
        for repo in ["teutonic/albedo-qwen3-4b-genesis", "a/b", "0x/a.b_c-d/e", "miner/albedo-qwen3-4b-v1"] {
            ModelRef::new(repo, D).unwrap_or_else(|e| panic!("{repo}: {e}"));
        }
    }

    #[test]
    fn model_ref_refuses_bad_repos_and_digests() {
        for repo in ["A/b", "a", "/b", "a/", "a/-b", "-a/b", "a/b\n", "a/b c", "a/b/../c", "a/b//c", "a/b/."] {
            assert!(ModelRef::new(repo, D).is_err(), "{repo:?} should be refused");
        }
        for digest in ["", "sha256:", "sha256:ABC", &D.to_uppercase(), &D[..70], &format!("{D}0"), "hf:abc"] {
            assert!(ModelRef::new("a/b", digest).is_err(), "{digest:?} should be refused");
        }
    }

    #[test]
    fn model_ref_is_checked_when_decoded() {
        let raw = RawModelRef { repo: "a/b".into(), digest: "sha256:00".into() };
        let bytes = rmp_serde::to_vec_named(&raw).unwrap();
        let err = rmp_serde::from_slice::<ModelRef>(&bytes).unwrap_err();
        assert!(err.to_string().contains("digest"), "{err}");
    }

    #[test]
    fn verdict_figures_without_informational_still_decode() {
        // The shape of `VerdictFigures` before `informational` existed.
        #[derive(Serialize)]
        struct Before {
            n_samples: u32,
            n_done: u32,
            n_valid: u32,
            generation_errors: u32,
            challenger_score: Option<f64>,
            king_score: Option<f64>,
            by_judge: Vec<NamedScore>,
            by_metric: Vec<NamedScore>,
            mean_delta: f64,
            se: f64,
            lcb: f64,
            win_margin: String,
            gate_alpha: String,
            floor_ok: bool,
            margin_ok: bool,
            lcb_ok: bool,
            judge_models: Vec<String>,
        }
        let before = Before {
            n_samples: 2,
            n_done: 2,
            n_valid: 2,
            generation_errors: 0,
            challenger_score: Some(55.0),
            king_score: Some(45.0),
            by_judge: vec![],
            by_metric: vec![],
            mean_delta: 0.05,
            se: 0.01,
            lcb: 0.02,
            win_margin: "2.0".into(),
            gate_alpha: "0.05".into(),
            floor_ok: true,
            margin_ok: true,
            lcb_ok: true,
            judge_models: vec!["j".into()],
        };
        let bytes = rmp_serde::to_vec_named(&before).unwrap();
        let figures: VerdictFigures = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!((figures.informational, figures.challenger_score), (None, Some(55.0)));
    }

    #[test]
    fn fingerprint_taken_without_evaluated_still_decodes() {
        // The shape of a `fingerprint_taken` event before `evaluated` existed, kind first.
        #[derive(Serialize)]
        struct Before {
            kind: &'static str,
            eval_id: String,
            attempt: u32,
            model: ModelRef,
            hotkey: String,
            fingerprint: Fingerprint,
            nearest: Option<NearestFingerprint>,
        }
        let before = Before {
            kind: "fingerprint_taken",
            eval_id: "eval-000001".into(),
            attempt: 1,
            model: ModelRef::new("a/b", D).unwrap(),
            hotkey: "5H".into(),
            fingerprint: Fingerprint { method: "layer_norms_v2_with_samples".into(), tensors: vec![] },
            nearest: None,
        };
        let bytes = rmp_serde::to_vec_named(&before).unwrap();
        let Event::FingerprintTaken(taken) = rmp_serde::from_slice::<Event>(&bytes).unwrap() else {
            panic!("decoded as another kind")
        };
        assert_eq!((taken.evaluated, taken.attempt), (None, 1));
    }

    #[test]
    fn evaluated_files_round_trip() {
        let evaluated = EvaluatedFiles {
            files: vec![EvaluatedFile {
                path: "tokenizer_config.json".into(),
                size: 9,
                sha256: Hash32::of(b"rewritten"),
                committed_sha256: Some(Hash32::of(b"committed")),
            }],
            removed: vec!["chat_template.jinja".into()],
            changes: vec!["deleted auto_map".into()],
        };
        let bytes = rmp_serde::to_vec_named(&evaluated).unwrap();
        assert_eq!(rmp_serde::from_slice::<EvaluatedFiles>(&bytes).unwrap(), evaluated);
    }

    #[test]
    fn reveal_outcomes_share_one_key() {
        let seen = Event::RevealSeen(RevealSeen {
            hotkey: "5H".into(),
            commitment_block: 7,
            raw: "v4|a/b|x".into(),
            model: ModelRef::new("a/b", D).unwrap(),
        });
        let rejected = Event::RevealRejected(RevealRejected {
            hotkey: "5H".into(),
            commitment_block: 7,
            raw: vec![0xff],
            reason: Reason { code: "not_utf8".into(), detail: "…".into() },
        });
        assert_eq!(seen.idempotency_key(), rejected.idempotency_key());
        assert_eq!(format!("{:?}", seen.idempotency_key()), "IdempotencyKey(reveal/5H/7)");
    }
}
