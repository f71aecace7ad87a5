//! Environment overrides of operational keys (spec/validator.md §1.2, spec/eval.md §1.2).
//!
//! Pure parsing: the binary hands in the variables once at start-up, this module picks the
//! five it knows, checks them, and [`Config::with_overrides`](super::Config::with_overrides)
//! applies them. Each target key is operational: transport limits, the soft duel budget, the
//! OpenRouter switch and a display cut-off. None can change a decision `albedo-replay`
//! re-derives from the ledger, which is why they may differ from the pinned file; the config's
//! SHA-256 stays that of the file text, and the config lists what was overridden.

use std::collections::BTreeMap;

use super::error::ConfigError;

/// `ALBEDO_DISPLAY_START_BLOCK` → `[chain].display_start_block` (site display cut-off).
pub const DISPLAY_START_BLOCK: &str = "ALBEDO_DISPLAY_START_BLOCK";
/// `ALBEDO_JUDGE_MODEL_MAX_CONCURRENCY` → `[judge].max_concurrency_per_model`.
pub const JUDGE_MODEL_MAX_CONCURRENCY: &str = "ALBEDO_JUDGE_MODEL_MAX_CONCURRENCY";
/// `ALBEDO_JUDGE_MODEL_MIN_INTERVAL_S` → `[judge].min_interval_s_per_model`.
pub const JUDGE_MODEL_MIN_INTERVAL_S: &str = "ALBEDO_JUDGE_MODEL_MIN_INTERVAL_S";
/// `ALBEDO_DUEL_BUDGET_S` → `[duel].duel_budget_s`.
pub const DUEL_BUDGET_S: &str = "ALBEDO_DUEL_BUDGET_S";
/// `ALBEDO_JUDGE_FALLBACK` → `[judge.fallback].enabled`.
pub const JUDGE_FALLBACK: &str = "ALBEDO_JUDGE_FALLBACK";

/// Every variable [`EnvOverrides::from_vars`] reads, in the order overrides are applied.
pub const ENV_VARS: [&str; 5] =
    [DISPLAY_START_BLOCK, JUDGE_MODEL_MAX_CONCURRENCY, JUDGE_MODEL_MIN_INTERVAL_S, DUEL_BUDGET_S, JUDGE_FALLBACK];

/// A checked value for one override target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Target {
    DisplayStartBlock(u64),
    JudgeMaxConcurrency(u32),
    JudgeMinIntervalS(f64),
    DuelBudgetS(f64),
    JudgeFallback(bool),
}

impl Target {
    /// The `[table].key` the variable overrides.
    pub(super) fn key(&self) -> &'static str {
        match self {
            Target::DisplayStartBlock(_) => "[chain].display_start_block",
            Target::JudgeMaxConcurrency(_) => "[judge].max_concurrency_per_model",
            Target::JudgeMinIntervalS(_) => "[judge].min_interval_s_per_model",
            Target::DuelBudgetS(_) => "[duel].duel_budget_s",
            Target::JudgeFallback(_) => "[judge.fallback].enabled",
        }
    }
}

/// The overrides found in an environment, checked but not yet applied.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnvOverrides {
    /// variable → (value as given, checked target); ordered for a deterministic apply.
    found: BTreeMap<&'static str, (String, Target)>,
}

/// One override a [`Config`](super::Config) applied, for the operator's start-up log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedOverride {
    /// The overridden key, written `[table].key`.
    pub key: &'static str,
    /// The environment variable that set it.
    pub var: &'static str,
    /// The variable's value as given.
    pub value: String,
    /// The value the file had, as written by Rust's `Debug` (`11500.0`, `true`, `6`).
    pub file_value: String,
}

impl EnvOverrides {
    /// Picks the variables of [`ENV_VARS`] out of `vars` and checks their values; every other
    /// pair is ignored. A variable given twice keeps its last value. Errors name the variable
    /// and its value.
    pub fn from_vars<I>(vars: I) -> Result<EnvOverrides, ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut found = BTreeMap::new();
        for (name, value) in vars {
            let Some(var) = ENV_VARS.iter().copied().find(|v| *v == name) else {
                continue;
            };
            let target = parse(var, &value)?;
            found.insert(var, (value, target));
        }
        Ok(EnvOverrides { found })
    }

    /// No override found.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// The overrides in [`ENV_VARS`] order: (variable, value as given, target).
    pub(super) fn targets(&self) -> impl Iterator<Item = (&'static str, &str, Target)> + '_ {
        ENV_VARS.iter().filter_map(|var| self.found.get(var).map(|(value, target)| (*var, value.as_str(), *target)))
    }
}

fn parse(var: &'static str, value: &str) -> Result<Target, ConfigError> {
    let err =
        |reason: &str| ConfigError::Env { var: var.to_owned(), value: value.to_owned(), reason: reason.to_owned() };
    let trimmed = value.trim();
    match var {
        DISPLAY_START_BLOCK => trimmed
            .parse::<u64>()
            .map(Target::DisplayStartBlock)
            .map_err(|_| err("must be a block number (a non-negative integer)")),
        JUDGE_MODEL_MAX_CONCURRENCY => match trimmed.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(Target::JudgeMaxConcurrency(n)),
            _ => Err(err("must be an integer of at least 1")),
        },
        JUDGE_MODEL_MIN_INTERVAL_S => seconds(trimmed)
            .map(Target::JudgeMinIntervalS)
            .ok_or_else(|| err("must be a finite, non-negative number of seconds")),
        DUEL_BUDGET_S => seconds(trimmed)
            .map(Target::DuelBudgetS)
            .ok_or_else(|| err("must be a finite, non-negative number of seconds")),
        // spec/eval.md §1.2: `0`, `false`, `no` or empty switch OpenRouter off; anything else
        // switches it on. Case-insensitive, surrounding blanks ignored.
        JUDGE_FALLBACK => {
            let off = matches!(trimmed.to_ascii_lowercase().as_str(), "" | "0" | "false" | "no");
            Ok(Target::JudgeFallback(!off))
        }
        // Only names from ENV_VARS reach here; each has an arm above.
        _ => Err(err("is not an override this config knows")),
    }
}

fn seconds(text: &str) -> Option<f64> {
    let x: f64 = text.parse().ok()?;
    (x.is_finite() && x >= 0.0).then_some(x)
}
