//! Typed reads from the spanned TOML tree, with errors that name the key and its line.
//!
//! We walk `toml::de::DeTable` (every key and value carries its byte span) instead of deriving
//! `Deserialize`: serde's errors name neither the table nor a line for a missing key, and the
//! exact decimals need the literal text of their value. A [`Table`] with fixed keys is given
//! its key list when it is opened and reports an unknown key first (a misspelt key then reads
//! as "unknown `n_sample`", not as "missing `n_samples`"); [`Table::finish`] checks in debug
//! builds that the reader asked for every listed key.

use std::collections::BTreeSet;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::decimal::Decimal;
use super::error::ConfigError;

type Value<'i> = Spanned<DeValue<'i>>;

/// The document text, to turn byte offsets into 1-based line numbers.
#[derive(Clone, Copy)]
pub(super) struct Source<'t> {
    text: &'t str,
}

impl<'t> Source<'t> {
    pub(super) fn new(text: &'t str) -> Self {
        Source { text }
    }

    pub(super) fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|b| **b == b'\n').count() + 1
    }

    /// The last line of the text: where a missing top-level section would be appended.
    pub(super) fn last_line(&self) -> usize {
        self.line(self.text.trim_end_matches('\n').len())
    }

    pub(super) fn slice(&self, span: std::ops::Range<usize>) -> &'t str {
        self.text.get(span).unwrap_or("")
    }
}

/// One string of an array, with the line it sits on (for cross-reference errors).
pub(super) struct Item {
    pub(super) value: String,
    pub(super) line: usize,
}

/// The keys a table may hold.
pub(super) type Keys = &'static [&'static str];

/// A TOML table being read. `path` is the dotted table path (`""` for the document).
pub(super) struct Table<'a, 'i> {
    src: Source<'a>,
    path: String,
    line: usize,
    map: &'a DeTable<'i>,
    /// `None` for a table whose keys are data (judge ids); the caller checks those.
    keys: Option<Keys>,
    read: BTreeSet<&'a str>,
}

impl<'a, 'i> Table<'a, 'i> {
    /// The document, whose keys are the sections `keys`.
    pub(super) fn root(src: Source<'a>, map: &'a DeTable<'i>, keys: Keys) -> Result<Self, ConfigError> {
        Table { src, path: String::new(), line: src.last_line(), map, keys: Some(keys), read: BTreeSet::new() }
            .checked()
    }

    /// Fails on the first key (by position in the file) not in the key list.
    fn checked(self) -> Result<Self, ConfigError> {
        let Some(keys) = self.keys else {
            return Ok(self);
        };
        let unknown =
            self.map.iter().filter(|(k, _)| !keys.contains(&k.get_ref().as_ref())).min_by_key(|(k, _)| k.span().start);
        let Some((key, value)) = unknown else {
            return Ok(self);
        };
        let line = self.src.line(key.span().start);
        let name = key.get_ref().to_string();
        // A `[header]` (or any table at the top level) reads as a section; `x = {…}` inside a
        // section is just an unknown key.
        let is_section = matches!(value.get_ref(), DeValue::Table(_))
            && (self.path.is_empty() || !self.src.slice(value.span()).starts_with('{'));
        if is_section {
            Err(ConfigError::UnknownSection { line, section: self.child_path(&name) })
        } else {
            Err(ConfigError::UnknownKey { line, key: name, table: self.path })
        }
    }

    /// The line of `key` (which must exist), else of the table header.
    pub(super) fn line_of(&self, key: &str) -> usize {
        self.map.get_key_value(key).map_or(self.line, |(k, _)| self.src.line(k.span().start))
    }

    fn child_path(&self, key: &str) -> String {
        let segment = if !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            key.to_owned()
        } else {
            format!("{key:?}")
        };
        if self.path.is_empty() { segment } else { format!("{}.{segment}", self.path) }
    }

    fn get(&mut self, key: &'static str) -> Result<(usize, &'a Value<'i>), ConfigError> {
        debug_assert!(
            self.keys.is_none_or(|keys| keys.contains(&key)),
            "[{}]: `{key}` is read but not in the key list",
            self.path
        );
        match self.map.get_key_value(key) {
            Some((k, v)) => {
                self.read.insert(key);
                Ok((self.src.line(k.span().start), v))
            }
            None => Err(ConfigError::MissingKey { line: self.line, key: key.to_owned(), table: self.path.clone() }),
        }
    }

    pub(super) fn wrong_type(
        &self,
        line: usize,
        key: &str,
        expected: &'static str,
        found: &DeValue<'_>,
    ) -> ConfigError {
        ConfigError::WrongType {
            line,
            key: key.to_owned(),
            table: self.path.clone(),
            expected,
            found: found_desc(found).to_owned(),
        }
    }

    pub(super) fn invalid(&self, line: usize, key: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { line, key: key.to_owned(), table: self.path.clone(), reason: reason.into() }
    }

    /// Returns `value` if `ok`, else an `Invalid` error on `key`'s line: "`rule`, found `value`".
    pub(super) fn check<T: std::fmt::Display>(
        &self,
        key: &str,
        value: T,
        ok: bool,
        rule: &str,
    ) -> Result<T, ConfigError> {
        if ok { Ok(value) } else { Err(self.invalid(self.line_of(key), key, format!("{rule}, found {value}"))) }
    }

    /// A required sub-table (a `[header]`, an implicit table or an inline table) holding
    /// `keys`, or data keys when `keys` is `None`.
    pub(super) fn table(&mut self, key: &'static str, keys: Option<Keys>) -> Result<Table<'a, 'i>, ConfigError> {
        let path = self.child_path(key);
        let (line, value) =
            self.get(key).map_err(|_| ConfigError::MissingSection { line: self.line, section: path.clone() })?;
        match value.get_ref() {
            DeValue::Table(map) => {
                Table { src: self.src, path, line: self.src.line(value.span().start), map, keys, read: BTreeSet::new() }
                    .checked()
            }
            other => Err(self.wrong_type(line, key, "a table", other)),
        }
    }

    pub(super) fn string(&mut self, key: &'static str) -> Result<String, ConfigError> {
        let (line, value) = self.get(key)?;
        match value.get_ref() {
            DeValue::String(s) => Ok(s.to_string()),
            other => Err(self.wrong_type(line, key, "a string", other)),
        }
    }

    pub(super) fn boolean(&mut self, key: &'static str) -> Result<bool, ConfigError> {
        let (line, value) = self.get(key)?;
        match value.get_ref() {
            DeValue::Boolean(b) => Ok(*b),
            other => Err(self.wrong_type(line, key, "a boolean", other)),
        }
    }

    /// An array of strings, each with its line.
    pub(super) fn strings(&mut self, key: &'static str) -> Result<Vec<Item>, ConfigError> {
        let (line, value) = self.get(key)?;
        let DeValue::Array(items) = value.get_ref() else {
            return Err(self.wrong_type(line, key, "an array of strings", value.get_ref()));
        };
        items
            .iter()
            .map(|item| match item.get_ref() {
                DeValue::String(s) => Ok(Item { value: s.to_string(), line: self.src.line(item.span().start) }),
                other => Err(ConfigError::WrongType {
                    line: self.src.line(item.span().start),
                    key: key.to_owned(),
                    table: self.path.clone(),
                    expected: "an array of strings",
                    found: format!("an array holding {}", found_desc(other)),
                }),
            })
            .collect()
    }

    fn integer(&mut self, key: &'static str) -> Result<(usize, i128), ConfigError> {
        let (line, value) = self.get(key)?;
        let DeValue::Integer(int) = value.get_ref() else {
            return Err(self.wrong_type(line, key, "an integer", value.get_ref()));
        };
        i128::from_str_radix(int.as_str(), int.radix())
            .map(|n| (line, n))
            .map_err(|_| self.invalid(line, key, format!("integer out of range, found {int}")))
    }

    pub(super) fn u32(&mut self, key: &'static str) -> Result<u32, ConfigError> {
        let (line, n) = self.integer(key)?;
        u32::try_from(n)
            .map_err(|_| self.invalid(line, key, format!("must be an integer between 0 and {}, found {n}", u32::MAX)))
    }

    pub(super) fn u64(&mut self, key: &'static str) -> Result<u64, ConfigError> {
        let (line, n) = self.integer(key)?;
        u64::try_from(n)
            .map_err(|_| self.invalid(line, key, format!("must be an integer between 0 and {}, found {n}", u64::MAX)))
    }

    /// A finite number. An integer literal is accepted and converted (`300` reads as 300.0):
    /// TOML distinguishes the two, the quantities do not.
    pub(super) fn f64(&mut self, key: &'static str) -> Result<f64, ConfigError> {
        let (line, value) = self.get(key)?;
        let x = match value.get_ref() {
            DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
            DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix()).ok().map(|n| n as f64),
            other => return Err(self.wrong_type(line, key, "a number", other)),
        };
        match x {
            Some(x) if x.is_finite() => Ok(x),
            _ => {
                Err(self.invalid(line, key, format!("must be a finite number, found {}", self.src.slice(value.span()))))
            }
        }
    }

    /// A plain decimal literal, read from the file text (see [`Decimal`]).
    pub(super) fn decimal(&mut self, key: &'static str) -> Result<Decimal, ConfigError> {
        let (line, value) = self.get(key)?;
        if !matches!(value.get_ref(), DeValue::Float(_) | DeValue::Integer(_)) {
            return Err(self.wrong_type(line, key, "a decimal number", value.get_ref()));
        }
        let literal = self.src.slice(value.span());
        Decimal::parse(literal).map_err(|e| self.invalid(line, key, format!("{e}, found {literal}")))
    }

    /// Every entry of a table whose keys are data (judge ids), in file order, so the first
    /// bad one in the file is the one reported. Marks them all read: the caller checks each.
    pub(super) fn entries(&mut self) -> Vec<(&'a str, usize, &'a Value<'i>)> {
        let mut entries: Vec<_> = self.map.iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        let entries: Vec<_> =
            entries.into_iter().map(|(k, v)| (k.get_ref().as_ref(), self.src.line(k.span().start), v)).collect();
        self.read.extend(entries.iter().map(|(k, _, _)| *k));
        entries
    }

    /// A table value found by [`Table::entries`], to be read as a sub-table holding `keys`.
    pub(super) fn entry_table(
        &self,
        key: &str,
        line: usize,
        value: &'a Value<'i>,
        keys: Keys,
    ) -> Result<Table<'a, 'i>, ConfigError> {
        match value.get_ref() {
            DeValue::Table(map) => Table {
                src: self.src,
                path: self.child_path(key),
                line: self.src.line(value.span().start),
                map,
                keys: Some(keys),
                read: BTreeSet::new(),
            }
            .checked(),
            other => Err(self.wrong_type(line, key, "a table", other)),
        }
    }

    /// Ends the read. Unknown keys were refused when the table was opened; this checks, in
    /// debug builds, that the reader asked for every key of its list.
    pub(super) fn finish(self) {
        if let Some(keys) = self.keys {
            debug_assert!(
                keys.iter().all(|k| self.read.contains(k)),
                "[{}]: keys listed but never read: {:?}",
                self.path,
                keys.iter().filter(|k| !self.read.contains(*k)).collect::<Vec<_>>()
            );
        }
    }
}

fn found_desc(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}
