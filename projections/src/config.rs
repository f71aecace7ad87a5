//! The competition's configuration: `chain.toml` text in, a checked [`Config`] or a
//! [`ConfigError`] out.
//!
//! - **Pure.** No file, no environment, no clock: the binary reads the file and the
//!   environment once at start-up and hands the text and the variables in
//!   ([`Config::parse`], [`EnvOverrides::from_vars`], [`Config::with_overrides`]).
//! - **Every key is required.** The file's text and SHA-256 go into the ledger's
//!   `competition_started`, and `albedo-replay` re-derives every decision from that copy. A
//!   code default would make the meaning of a pinned file depend on the code version reading
//!   it, so the file must say everything; unknown keys are errors too, so a typo never becomes
//!   a silently ignored setting. The reference's aliases (`retry_timeout_s`,
//!   `retry_max_backoff_s`) are not accepted.
//! - **Errors name the key and the line** (1-based; a missing key points at its table header).
//! - **Exact decimals.** `min_valid_turn_frac`, `win_margin` and `gate_alpha` feed exact
//!   comparisons (spec/determinism.md §5), so they are kept as [`Decimal`]: the literal text of
//!   the file plus its reduced fraction. They must be plain decimal literals.
//! - **Overrides** from the environment reach only operational keys (see [`EnvOverrides`]);
//!   the SHA-256 stays that of the file text and the config lists what was overridden.
//! - Maps are `BTreeMap`, so anything iterating them is deterministic.

mod decimal;
mod env;
mod error;
mod read;

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use toml::de::{DeTable, DeValue};

pub use decimal::{Decimal, DecimalError};
pub use env::{AppliedOverride, ENV_VARS, EnvOverrides};
pub use error::ConfigError;

use env::Target;
use read::{Item, Keys, Source, Table};

/// `config.json` keys every challenger must share with the king before the ones of
/// `[arch].extra_lock_keys` (spec/validator.md §1.2 COMPAT_KEYS; hard-coded, not configurable).
pub const COMPAT_LOCK_KEYS: [&str; 2] = ["vocab_size", "model_type"];

/// The rubric's metrics in order. v1 scoring has exactly these (K = 5, spec/determinism.md §5,
/// spec/eval.md §7.1); `[judge].metric_keys` must equal this list.
pub const METRIC_KEYS: [&str; 5] = ["correctness", "grounding", "progress", "protocol", "efficiency"];

/// The checked competition configuration, with the exact text it came from.
///
/// Built only by [`Config::parse`]; the sections are read through getters, so the values and
/// the text (and its hash) cannot drift apart. No `Default`: the pinned file says everything.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    text: String,
    sha256: [u8; 32],
    chain: ChainSection,
    arch: ArchSection,
    seed: SeedSection,
    judge: JudgeSection,
    duel: DuelSection,
    preeval: PreevalSection,
    dataset: DatasetSection,
    overrides: Vec<AppliedOverride>,
}

/// `[chain]`: the competition's identity and the challenger naming rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSection {
    /// Competition name (display).
    pub name: String,
    /// Hippius repository of the genesis king.
    pub seed_repo: String,
    /// Regular expression a challenger repo must match at admission; non-empty. Compiled by
    /// the caller (this crate has no regex engine).
    pub repo_pattern: String,
    /// First block the dashboard shows; env `ALBEDO_DISPLAY_START_BLOCK` overrides it.
    pub display_start_block: u64,
}

/// `[arch]`: the architecture lock of admission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchSection {
    /// Python import path of the reference's architecture shim.
    pub module: String,
    /// Lock keys checked after [`COMPAT_LOCK_KEYS`], in order.
    pub extra_lock_keys: Vec<String>,
}

/// `[seed]`: the genesis king's digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedSection {
    /// `sha256:` + 64 lowercase hex digits.
    pub seed_digest: String,
    /// Tokenizer of the seed model (unused by the reference).
    pub tokenizer_repo: String,
}

/// `[judge]`, with `[judge.rate_limits]` and `[judge.fallback]`: the judge panel and its
/// transport. Times are seconds, budgets are tokens.
#[derive(Clone, Debug, PartialEq)]
pub struct JudgeSection {
    /// The panel, in order; non-empty, no duplicates.
    pub models: Vec<String>,
    pub base_url_env: String,
    pub api_key_env: String,
    pub temperature: f64,
    pub max_tokens: u32,
    pub score_max_tokens: u32,
    pub thinking_max_tokens: u32,
    /// Each one of `models`.
    pub thinking_models: Vec<String>,
    /// Always [`METRIC_KEYS`].
    pub metric_keys: Vec<String>,
    pub tie_band: f64,
    pub call_timeout_s: f64,
    pub max_429_wait_s: f64,
    pub max_429_retries: u32,
    pub retry_max: u32,
    pub retry_initial_backoff_s: f64,
    /// ≥ 1; env `ALBEDO_JUDGE_MODEL_MAX_CONCURRENCY` overrides it.
    pub max_concurrency_per_model: u32,
    /// env `ALBEDO_JUDGE_MODEL_MIN_INTERVAL_S` overrides it.
    pub min_interval_s_per_model: f64,
    pub chutes_try_s: f64,
    pub chutes_max_s: f64,
    pub or_timeout_s: f64,
    pub or_retries: u32,
    pub judge_total_s: f64,
    pub chutes_giveup_tasks: u32,
    /// `[judge.rate_limits]`: judge model (one of `models`) → its limits.
    pub rate_limits: BTreeMap<String, RateLimit>,
    /// `[judge.fallback]`.
    pub fallback: FallbackSection,
}

/// One entry of `[judge.rate_limits]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// OpenRouter semaphore size; ≥ 1.
    pub max_concurrency: u32,
    /// Spacing between requests, seconds (not implemented by the reference).
    pub min_interval_s: f64,
}

/// `[judge.fallback]` and `[judge.fallback.model_map]`: the OpenRouter provider.
#[derive(Clone, Debug, PartialEq)]
pub struct FallbackSection {
    /// env `ALBEDO_JUDGE_FALLBACK` overrides it.
    pub enabled: bool,
    pub base_url: String,
    pub api_key_env: String,
    pub chutes_429_grace_s: f64,
    /// Judges allowed to reason on OpenRouter; each one of `[judge].models`.
    pub reasoning_models: Vec<String>,
    /// Judge id (one of `[judge].models`) → OpenRouter model id.
    pub model_map: BTreeMap<String, String>,
}

/// `[duel]`: sampling, generation and the verdict's gates.
#[derive(Clone, Debug, PartialEq)]
pub struct DuelSection {
    /// ≥ 1.
    pub n_samples: u32,
    /// ≥ 1.
    pub max_turns_per_sample: u32,
    /// In (0, 1); validated but unused, as in the reference.
    pub alpha: f64,
    /// In (0, 1), exact.
    pub gate_alpha: Decimal,
    /// In [1, 1 000 000].
    pub bootstrap_resamples: u32,
    pub gen_temperature: f64,
    /// ≥ 1.
    pub gen_max_tokens: u32,
    /// ≥ 1.
    pub gen_max_model_len: u32,
    /// ≥ 1.
    pub king_chain_depth: u32,
    /// Seconds; env `ALBEDO_DUEL_BUDGET_S` overrides it.
    pub duel_budget_s: f64,
    /// In [0, 100] points, exact.
    pub win_margin: Decimal,
    /// In (0, 1], exact.
    pub min_valid_turn_frac: Decimal,
    /// In [1, 5].
    pub rescore_passes: u32,
}

/// `[preeval]`: duplicate detection and the injection probe.
#[derive(Clone, Debug, PartialEq)]
pub struct PreevalSection {
    /// In (0, 1].
    pub similarity_threshold: f64,
    pub injection_probes: u32,
    /// Each one of `[judge].models`; empty means all of them (see
    /// [`Config::injection_judges`]).
    pub injection_judges: Vec<String>,
}

/// `[dataset]`: where the SWE-ZERO shards come from and the manifest pin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetSection {
    pub repo: String,
    pub shard_glob: String,
    /// 64 lowercase hex digits.
    pub manifest_sha256: String,
}

impl Config {
    /// Parses and checks a `chain.toml` text. The first problem found is returned.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let src = Source::new(text);
        let doc = DeTable::parse(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let mut message = e.message().trim().to_owned();
            // The toml crate's span of a duplicate key is the key itself: name it.
            if message == "duplicate key" && !span.is_empty() {
                message = format!("duplicate key `{}`", src.slice(span.clone()));
            }
            ConfigError::Syntax { line: src.line(span.start), message }
        })?;
        let mut root = Table::root(src, doc.get_ref(), SECTIONS)?;
        let chain = chain(root.table("chain", Some(CHAIN_KEYS))?)?;
        let arch = arch(root.table("arch", Some(ARCH_KEYS))?)?;
        let seed = seed(root.table("seed", Some(SEED_KEYS))?)?;
        let judge = judge(root.table("judge", Some(JUDGE_KEYS))?)?;
        let duel = duel(root.table("duel", Some(DUEL_KEYS))?)?;
        let preeval = preeval(root.table("preeval", Some(PREEVAL_KEYS))?, &judge.models)?;
        let dataset = dataset(root.table("dataset", Some(DATASET_KEYS))?)?;
        root.finish();
        Ok(Config {
            text: text.to_owned(),
            sha256: Sha256::digest(text.as_bytes()).into(),
            chain,
            arch,
            seed,
            judge,
            duel,
            preeval,
            dataset,
            overrides: Vec::new(),
        })
    }

    /// Applies environment overrides (operational keys only; see [`EnvOverrides`]) and
    /// records each in [`Config::overrides_applied`]. The text and SHA-256 do not change.
    ///
    /// Invariant: every target below is an operational key. An override of a verdict-affecting
    /// key would make the pinned text (and its hash in the ledger) lie about the competition,
    /// and `albedo-replay`, which has no environment, would reach other decisions.
    pub fn with_overrides(mut self, env: &EnvOverrides) -> Config {
        for (var, value, target) in env.targets() {
            let file_value = match target {
                Target::DisplayStartBlock(v) => std::mem::replace(&mut self.chain.display_start_block, v).to_string(),
                Target::JudgeMaxConcurrency(v) => {
                    std::mem::replace(&mut self.judge.max_concurrency_per_model, v).to_string()
                }
                Target::JudgeMinIntervalS(v) => {
                    format!("{:?}", std::mem::replace(&mut self.judge.min_interval_s_per_model, v))
                }
                Target::DuelBudgetS(v) => {
                    format!("{:?}", std::mem::replace(&mut self.duel.duel_budget_s, v))
                }
                Target::JudgeFallback(v) => std::mem::replace(&mut self.judge.fallback.enabled, v).to_string(),
            };
            self.overrides.push(AppliedOverride { key: target.key(), var, value: value.to_owned(), file_value });
        }
        self
    }

    /// The exact text parsed; the ledger's `competition_started` carries it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// SHA-256 of the exact text bytes (never of a re-serialisation, never of overrides).
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// [`Config::sha256`] as 64 lowercase hex digits.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// The environment overrides applied, in application order.
    pub fn overrides_applied(&self) -> &[AppliedOverride] {
        &self.overrides
    }

    pub fn chain(&self) -> &ChainSection {
        &self.chain
    }
    pub fn arch(&self) -> &ArchSection {
        &self.arch
    }
    pub fn seed(&self) -> &SeedSection {
        &self.seed
    }
    pub fn judge(&self) -> &JudgeSection {
        &self.judge
    }
    pub fn duel(&self) -> &DuelSection {
        &self.duel
    }
    pub fn preeval(&self) -> &PreevalSection {
        &self.preeval
    }
    pub fn dataset(&self) -> &DatasetSection {
        &self.dataset
    }

    /// The injection-probe panel: `[preeval].injection_judges`, or all of `[judge].models`
    /// when that list is empty (spec/eval.md §1.2).
    pub fn injection_judges(&self) -> &[String] {
        if self.preeval.injection_judges.is_empty() { &self.judge.models } else { &self.preeval.injection_judges }
    }

    /// All admission lock keys: [`COMPAT_LOCK_KEYS`] then `[arch].extra_lock_keys`.
    pub fn all_lock_keys(&self) -> Vec<&str> {
        COMPAT_LOCK_KEYS.iter().copied().chain(self.arch.extra_lock_keys.iter().map(String::as_str)).collect()
    }
}

// The keys of each table, in file order. Every one is required (see the module doc).
const SECTIONS: Keys = &["chain", "arch", "seed", "judge", "duel", "preeval", "dataset"];
const CHAIN_KEYS: Keys = &["name", "seed_repo", "repo_pattern", "display_start_block"];
const ARCH_KEYS: Keys = &["module", "extra_lock_keys"];
const SEED_KEYS: Keys = &["seed_digest", "tokenizer_repo"];
const JUDGE_KEYS: Keys = &[
    "models",
    "base_url_env",
    "api_key_env",
    "temperature",
    "max_tokens",
    "score_max_tokens",
    "thinking_max_tokens",
    "thinking_models",
    "metric_keys",
    "tie_band",
    "call_timeout_s",
    "max_429_wait_s",
    "max_429_retries",
    "retry_max",
    "retry_initial_backoff_s",
    "max_concurrency_per_model",
    "min_interval_s_per_model",
    "chutes_try_s",
    "chutes_max_s",
    "or_timeout_s",
    "or_retries",
    "judge_total_s",
    "chutes_giveup_tasks",
    "rate_limits",
    "fallback",
];
const RATE_LIMIT_KEYS: Keys = &["max_concurrency", "min_interval_s"];
const FALLBACK_KEYS: Keys =
    &["enabled", "base_url", "api_key_env", "chutes_429_grace_s", "reasoning_models", "model_map"];
const DUEL_KEYS: Keys = &[
    "n_samples",
    "max_turns_per_sample",
    "alpha",
    "gate_alpha",
    "bootstrap_resamples",
    "gen_temperature",
    "gen_max_tokens",
    "gen_max_model_len",
    "king_chain_depth",
    "duel_budget_s",
    "win_margin",
    "min_valid_turn_frac",
    "rescore_passes",
];
const PREEVAL_KEYS: Keys = &["similarity_threshold", "injection_probes", "injection_judges"];
const DATASET_KEYS: Keys = &["repo", "shard_glob", "manifest_sha256"];

fn chain(mut t: Table) -> Result<ChainSection, ConfigError> {
    let name = t.string("name")?;
    let seed_repo = t.string("seed_repo")?;
    let repo_pattern = t.string("repo_pattern")?;
    t.check("repo_pattern", "an empty string", !repo_pattern.is_empty(), "must not be empty")?;
    let display_start_block = t.u64("display_start_block")?;
    t.finish();
    Ok(ChainSection { name, seed_repo, repo_pattern, display_start_block })
}

fn arch(mut t: Table) -> Result<ArchSection, ConfigError> {
    let module = t.string("module")?;
    let extra_lock_keys = values(t.strings("extra_lock_keys")?);
    t.finish();
    Ok(ArchSection { module, extra_lock_keys })
}

fn seed(mut t: Table) -> Result<SeedSection, ConfigError> {
    let seed_digest = t.string("seed_digest")?;
    let ok = seed_digest.strip_prefix("sha256:").is_some_and(is_lower_hex_64);
    t.check("seed_digest", format!("`{seed_digest}`"), ok, "must be `sha256:` followed by 64 lowercase hex digits")?;
    let tokenizer_repo = t.string("tokenizer_repo")?;
    t.finish();
    Ok(SeedSection { seed_digest, tokenizer_repo })
}

fn judge(mut t: Table) -> Result<JudgeSection, ConfigError> {
    let model_items = t.strings("models")?;
    let models_line = t.line_of("models");
    if model_items.is_empty() {
        return Err(t.invalid(models_line, "models", "must list at least one judge"));
    }
    let mut seen = BTreeSet::new();
    for item in &model_items {
        if !seen.insert(item.value.as_str()) {
            return Err(t.invalid(item.line, "models", format!("lists `{}` more than once", item.value)));
        }
    }
    let models = values(model_items);

    let base_url_env = t.string("base_url_env")?;
    let api_key_env = t.string("api_key_env")?;
    let temperature = non_negative(&mut t, "temperature")?;
    let max_tokens = at_least_one(&mut t, "max_tokens")?;
    let score_max_tokens = at_least_one(&mut t, "score_max_tokens")?;
    let thinking_max_tokens = at_least_one(&mut t, "thinking_max_tokens")?;
    let thinking_items = t.strings("thinking_models")?;
    let thinking_models = judges_subset(&t, "thinking_models", thinking_items, &models)?;

    let metric_keys = values(t.strings("metric_keys")?);
    t.check(
        "metric_keys",
        format!("{metric_keys:?}"),
        metric_keys == METRIC_KEYS,
        &format!("must be exactly {METRIC_KEYS:?}, in that order (v1 scoring has K = 5)"),
    )?;

    let tie_band = non_negative(&mut t, "tie_band")?;
    let call_timeout_s = non_negative(&mut t, "call_timeout_s")?;
    let max_429_wait_s = non_negative(&mut t, "max_429_wait_s")?;
    let max_429_retries = t.u32("max_429_retries")?;
    let retry_max = t.u32("retry_max")?;
    let retry_initial_backoff_s = non_negative(&mut t, "retry_initial_backoff_s")?;
    let max_concurrency_per_model = at_least_one(&mut t, "max_concurrency_per_model")?;
    let min_interval_s_per_model = non_negative(&mut t, "min_interval_s_per_model")?;
    let chutes_try_s = non_negative(&mut t, "chutes_try_s")?;
    let chutes_max_s = non_negative(&mut t, "chutes_max_s")?;
    let or_timeout_s = non_negative(&mut t, "or_timeout_s")?;
    let or_retries = t.u32("or_retries")?;
    let judge_total_s = non_negative(&mut t, "judge_total_s")?;
    let chutes_giveup_tasks = t.u32("chutes_giveup_tasks")?;
    let rate_limits = rate_limits(t.table("rate_limits", None)?, &models)?;
    let fallback = fallback(t.table("fallback", Some(FALLBACK_KEYS))?, &models)?;
    t.finish();
    Ok(JudgeSection {
        models,
        base_url_env,
        api_key_env,
        temperature,
        max_tokens,
        score_max_tokens,
        thinking_max_tokens,
        thinking_models,
        metric_keys,
        tie_band,
        call_timeout_s,
        max_429_wait_s,
        max_429_retries,
        retry_max,
        retry_initial_backoff_s,
        max_concurrency_per_model,
        min_interval_s_per_model,
        chutes_try_s,
        chutes_max_s,
        or_timeout_s,
        or_retries,
        judge_total_s,
        chutes_giveup_tasks,
        rate_limits,
        fallback,
    })
}

fn rate_limits(mut t: Table, models: &[String]) -> Result<BTreeMap<String, RateLimit>, ConfigError> {
    let mut limits = BTreeMap::new();
    for (model, line, value) in t.entries() {
        if !models.iter().any(|m| m == model) {
            return Err(t.invalid(line, model, "not one of [judge].models"));
        }
        let mut entry = t.entry_table(model, line, value, RATE_LIMIT_KEYS)?;
        let max_concurrency = at_least_one(&mut entry, "max_concurrency")?;
        let min_interval_s = non_negative(&mut entry, "min_interval_s")?;
        entry.finish();
        limits.insert(model.to_owned(), RateLimit { max_concurrency, min_interval_s });
    }
    t.finish();
    Ok(limits)
}

fn fallback(mut t: Table, models: &[String]) -> Result<FallbackSection, ConfigError> {
    let enabled = t.boolean("enabled")?;
    let base_url = t.string("base_url")?;
    let api_key_env = t.string("api_key_env")?;
    let chutes_429_grace_s = non_negative(&mut t, "chutes_429_grace_s")?;
    let reasoning_items = t.strings("reasoning_models")?;
    let reasoning_models = judges_subset(&t, "reasoning_models", reasoning_items, models)?;

    let mut map_table = t.table("model_map", None)?;
    let mut model_map = BTreeMap::new();
    for (model, line, value) in map_table.entries() {
        if !models.iter().any(|m| m == model) {
            return Err(map_table.invalid(line, model, "not one of [judge].models"));
        }
        let DeValue::String(target) = value.get_ref() else {
            return Err(map_table.wrong_type(line, model, "a string", value.get_ref()));
        };
        model_map.insert(model.to_owned(), target.to_string());
    }
    map_table.finish();
    t.finish();
    Ok(FallbackSection { enabled, base_url, api_key_env, chutes_429_grace_s, reasoning_models, model_map })
}

fn duel(mut t: Table) -> Result<DuelSection, ConfigError> {
    let n_samples = at_least_one(&mut t, "n_samples")?;
    let max_turns_per_sample = at_least_one(&mut t, "max_turns_per_sample")?;
    let alpha = t.f64("alpha")?;
    t.check("alpha", alpha, alpha > 0.0 && alpha < 1.0, "must be in (0, 1)")?;
    // spec/validator.md §1.1 rejects gate_alpha outside (0, 1); spec/determinism.md §5 only
    // [0, 1]. We keep the stricter (0, 1): 0 or 1 would make the LCB gate degenerate.
    let gate_alpha = t.decimal("gate_alpha")?;
    let ok = gate_alpha.cmp_int(0).is_gt() && gate_alpha.cmp_int(1).is_lt();
    t.check("gate_alpha", &gate_alpha, ok, "must be in (0, 1)")?;
    let bootstrap_resamples = t.u32("bootstrap_resamples")?;
    t.check(
        "bootstrap_resamples",
        bootstrap_resamples,
        (1..=1_000_000).contains(&bootstrap_resamples),
        "must be between 1 and 1000000",
    )?;
    let gen_temperature = non_negative(&mut t, "gen_temperature")?;
    let gen_max_tokens = at_least_one(&mut t, "gen_max_tokens")?;
    let gen_max_model_len = at_least_one(&mut t, "gen_max_model_len")?;
    let king_chain_depth = at_least_one(&mut t, "king_chain_depth")?;
    let duel_budget_s = non_negative(&mut t, "duel_budget_s")?;
    // Not in the specs: a negative margin would crown losers, one above 100 nobody.
    let win_margin = t.decimal("win_margin")?;
    let ok = win_margin.cmp_int(0).is_ge() && win_margin.cmp_int(100).is_le();
    t.check("win_margin", &win_margin, ok, "must be in [0, 100] points")?;
    let min_valid_turn_frac = t.decimal("min_valid_turn_frac")?;
    let ok = min_valid_turn_frac.cmp_int(0).is_gt() && min_valid_turn_frac.cmp_int(1).is_le();
    t.check("min_valid_turn_frac", &min_valid_turn_frac, ok, "must be in (0, 1]")?;
    let rescore_passes = t.u32("rescore_passes")?;
    t.check("rescore_passes", rescore_passes, (1..=5).contains(&rescore_passes), "must be between 1 and 5")?;
    t.finish();
    Ok(DuelSection {
        n_samples,
        max_turns_per_sample,
        alpha,
        gate_alpha,
        bootstrap_resamples,
        gen_temperature,
        gen_max_tokens,
        gen_max_model_len,
        king_chain_depth,
        duel_budget_s,
        win_margin,
        min_valid_turn_frac,
        rescore_passes,
    })
}

fn preeval(mut t: Table, models: &[String]) -> Result<PreevalSection, ConfigError> {
    let similarity_threshold = t.f64("similarity_threshold")?;
    t.check(
        "similarity_threshold",
        similarity_threshold,
        similarity_threshold > 0.0 && similarity_threshold <= 1.0,
        "must be in (0, 1]",
    )?;
    let injection_probes = t.u32("injection_probes")?;
    let items = t.strings("injection_judges")?;
    let injection_judges = judges_subset(&t, "injection_judges", items, models)?;
    t.finish();
    Ok(PreevalSection { similarity_threshold, injection_probes, injection_judges })
}

fn dataset(mut t: Table) -> Result<DatasetSection, ConfigError> {
    let repo = t.string("repo")?;
    let shard_glob = t.string("shard_glob")?;
    let manifest_sha256 = t.string("manifest_sha256")?;
    t.check(
        "manifest_sha256",
        format!("`{manifest_sha256}`"),
        is_lower_hex_64(&manifest_sha256),
        "must be 64 lowercase hex digits",
    )?;
    t.finish();
    Ok(DatasetSection { repo, shard_glob, manifest_sha256 })
}

/// A count that must be at least 1 (a sample count, a token budget, a semaphore size).
fn at_least_one(t: &mut Table, key: &'static str) -> Result<u32, ConfigError> {
    let n = t.u32(key)?;
    t.check(key, n, n >= 1, "must be at least 1")
}

/// A finite number ≥ 0 (seconds, temperatures, bands).
fn non_negative(t: &mut Table, key: &'static str) -> Result<f64, ConfigError> {
    let x = t.f64(key)?;
    t.check(key, x, x >= 0.0, "must not be negative")
}

/// A list of judge ids, each one of `[judge].models`; the error points at the offending item.
fn judges_subset(
    t: &Table,
    key: &'static str,
    items: Vec<Item>,
    models: &[String],
) -> Result<Vec<String>, ConfigError> {
    if let Some(item) = items.iter().find(|i| !models.contains(&i.value)) {
        return Err(t.invalid(item.line, key, format!("`{}` is not one of [judge].models", item.value)));
    }
    Ok(values(items))
}

fn values(items: Vec<Item>) -> Vec<String> {
    items.into_iter().map(|i| i.value).collect()
}

fn is_lower_hex_64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
