//! The one error type of the config model. Every variant carries what the operator needs to
//! fix the file: the 1-based line, the key and the table it belongs to.

/// Why a `chain.toml` text or an environment override was refused.
///
/// `table` fields hold the dotted table path without brackets (`duel`, `judge.fallback`,
/// `judge.rate_limits."z-ai/glm-5.1"`); the empty path is the top level of the file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not TOML at all (unclosed table, duplicate key, bad string…), as the toml crate says.
    #[error("chain.toml line {line}: syntax error: {message}")]
    Syntax { line: usize, message: String },
    /// A table header (or an inline table at the top level) the config model does not know.
    #[error("chain.toml line {line}: unknown section [{section}]")]
    UnknownSection { line: usize, section: String },
    /// A key the config model does not know.
    #[error("chain.toml line {line}: unknown key `{key}` {}", in_table(.table))]
    UnknownKey { line: usize, key: String, table: String },
    /// A required table is absent. `line` is the header of its parent table, or the last
    /// line of the file for a top-level section (where it would be appended).
    #[error("chain.toml line {line}: missing section [{section}]")]
    MissingSection { line: usize, section: String },
    /// A required key is absent; `line` is the header of its table.
    #[error("chain.toml line {line}: missing key `{key}` {}", in_table(.table))]
    MissingKey { line: usize, key: String, table: String },
    /// A key holds a value of the wrong TOML type.
    #[error("chain.toml line {line}: `{key}` {} must be {expected}, found {found}", in_table(.table))]
    WrongType { line: usize, key: String, table: String, expected: &'static str, found: String },
    /// A key is well typed but its value breaks a rule (range, format, cross-reference).
    #[error("chain.toml line {line}: invalid `{key}` {}: {reason}", in_table(.table))]
    Invalid { line: usize, key: String, table: String, reason: String },
    /// An environment override holds a value that does not parse or breaks the key's rule.
    #[error("environment variable {var}={value:?}: {reason}")]
    Env { var: String, value: String, reason: String },
}

impl ConfigError {
    /// The 1-based line in `chain.toml` the error points at; `None` for environment errors.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Syntax { line, .. }
            | ConfigError::UnknownSection { line, .. }
            | ConfigError::UnknownKey { line, .. }
            | ConfigError::MissingSection { line, .. }
            | ConfigError::MissingKey { line, .. }
            | ConfigError::WrongType { line, .. }
            | ConfigError::Invalid { line, .. } => Some(*line),
            ConfigError::Env { .. } => None,
        }
    }
}

fn in_table(table: &str) -> String {
    if table.is_empty() { "at the top level (before any [section])".to_owned() } else { format!("in [{table}]") }
}
