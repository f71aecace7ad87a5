//! The competition config as the binary loads it: `chain.toml` (embedded, or the file named by
//! `ALBEDO_CHAIN_OVERRIDE`) plus the environment overrides, read once at start-up.
//!
//! Parsing and checking are the pure core's (`albedo_projections::config`); this module only
//! finds the text and the environment. A relative `ALBEDO_CHAIN_OVERRIDE` is resolved against
//! the current directory (the reference resolved it against its repository root, which an
//! installed binary does not have).

use std::path::{Path, PathBuf};

use albedo_projections::config::{Config, EnvOverrides};
use anyhow::Context;

/// The `chain.toml` at the repository root, built into the binary: the embedded default.
pub const EMBEDDED_CHAIN_TOML: &str = include_str!("../../chain.toml");

/// The variable that names a `chain.toml` to use instead of the embedded one.
pub const CHAIN_OVERRIDE_VAR: &str = "ALBEDO_CHAIN_OVERRIDE";

/// Where the config text came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Embedded,
    File(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Embedded => f.write_str("embedded chain.toml"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A checked config and where its text came from.
pub struct Loaded {
    pub config: Config,
    pub source: Source,
}

/// Loads the config from the process environment. Call once, at start-up.
pub fn load_from_env() -> anyhow::Result<Loaded> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    load(std::env::vars().collect(), &cwd)
}

/// Loads the config given the environment's variables and the directory relative paths start
/// from.
pub fn load(vars: Vec<(String, String)>, cwd: &Path) -> anyhow::Result<Loaded> {
    let override_path = vars.iter().rev().find(|(k, _)| k == CHAIN_OVERRIDE_VAR).map(|(_, v)| v.clone());
    let (text, source) = match override_path {
        Some(p) if p.is_empty() => anyhow::bail!("{CHAIN_OVERRIDE_VAR} is set but empty"),
        Some(p) => {
            let path = cwd.join(p);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("{CHAIN_OVERRIDE_VAR}: cannot read {}", path.display()))?;
            (text, Source::File(path))
        }
        None => (EMBEDDED_CHAIN_TOML.to_string(), Source::Embedded),
    };
    let config = Config::parse(&text).with_context(|| format!("in {source}"))?;
    let overrides = EnvOverrides::from_vars(vars)?;
    Ok(Loaded { config: config.with_overrides(&overrides), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_embedded_config_loads_without_environment() {
        let loaded = load(vec![], Path::new("/")).unwrap();
        assert_eq!(loaded.source, Source::Embedded);
        assert_eq!(loaded.config.text(), EMBEDDED_CHAIN_TOML);
        assert!(loaded.config.overrides_applied().is_empty());
    }

    #[test]
    fn the_override_path_is_resolved_against_the_current_directory() {
        let dir = tempfile::tempdir().unwrap();
        let text = EMBEDDED_CHAIN_TOML.replace("n_samples = 128", "n_samples = 16");
        assert_ne!(text, EMBEDDED_CHAIN_TOML, "the test must change the file");
        std::fs::write(dir.path().join("alt.toml"), &text).unwrap();
        let loaded = load(vars(&[(CHAIN_OVERRIDE_VAR, "alt.toml")]), dir.path()).unwrap();
        assert_eq!(loaded.source, Source::File(dir.path().join("alt.toml")));
        assert_eq!(loaded.config.duel().n_samples, 16);
        assert_eq!(loaded.config.text(), text);
    }

    #[test]
    fn a_missing_override_file_names_the_variable_and_the_path() {
        let err = load(vars(&[(CHAIN_OVERRIDE_VAR, "nope.toml")]), Path::new("/nonexistent")).err().unwrap();
        assert!(format!("{err:#}").starts_with("ALBEDO_CHAIN_OVERRIDE: cannot read /nonexistent/nope.toml"), "{err:#}");
    }

    #[test]
    fn a_bad_override_file_names_the_file_and_the_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("bad.toml"),
            EMBEDDED_CHAIN_TOML.replace("n_samples = 128", "n_samples = \"many\""),
        )
        .unwrap();
        let err = load(vars(&[(CHAIN_OVERRIDE_VAR, "bad.toml")]), dir.path()).err().unwrap();
        let msg = format!("{err:#}");
        assert!(msg.contains("bad.toml") && msg.contains("n_samples") && msg.contains("line"), "{msg}");
    }

    #[test]
    fn environment_overrides_are_applied_once_and_recorded() {
        let loaded = load(vars(&[("ALBEDO_DUEL_BUDGET_S", "600"), ("PATH", "/bin")]), Path::new("/")).unwrap();
        assert_eq!(loaded.config.duel().duel_budget_s, 600.0);
        let applied = loaded.config.overrides_applied();
        assert_eq!(applied.len(), 1);
        assert_eq!(applied[0].var, "ALBEDO_DUEL_BUDGET_S");
        // The pinned text and its hash are untouched: overrides are operational only.
        assert_eq!(loaded.config.text(), EMBEDDED_CHAIN_TOML);
    }

    #[test]
    fn a_malformed_environment_override_is_refused() {
        let err = load(vars(&[("ALBEDO_DUEL_BUDGET_S", "soon")]), Path::new("/")).err().unwrap();
        assert!(format!("{err:#}").contains("ALBEDO_DUEL_BUDGET_S"), "{err:#}");
    }
}
