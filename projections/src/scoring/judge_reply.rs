//! Judge replies: the text a judge answered, turned into per-metric labels (spec/eval.md §8.1–§8.4)
//! or an injection-probe answer (§8.5). Labels are positional (`A` = the reply shown first);
//! [`to_sides`] maps them back to king and challenger with the turn's `a_is_king`
//! (spec/determinism.md §4).
//!
//! Garbage is data, never a panic: every failure is a [`ParseError`] naming the step that failed,
//! which the eval server stores as the judge's `parse_error` in `turn_judged`.
//!
//! The parser follows §8 exactly, including a decoder that accepts what Python's `json` module
//! accepts (`NaN`, `Infinity`, duplicate keys keeping the first position and the last value),
//! with these deliberate differences, each fixing a weakness of spec/eval.md §16 or bounding work:
//!
//! - **Reasoning is never parsed** (fixes §16.1 item 11). Everything up to and including the last
//!   `</think>` is dropped; a reply that opens with `<think>` and never closes it has no final
//!   answer. A thinking judge that quotes metric-shaped JSON in its reasoning can no longer have
//!   that quote scored.
//! - **Numbers map only when they are 0, 1 or 2** (fixes §16.1 item 12). A JSON number is the
//!   label tie, A or B when its value is exactly 0, 1 or 2 (`2.0` and `2e0` included, `0.0` is a
//!   tie); any other number (`-1`, `1.5`, `12`), `true`, `false`, `null`, an array or an object is
//!   unmappable. The reference searched the Python text of every value for a lone `1` or `2`, so
//!   `-1` read as the king and `{"winner": 2}` as the challenger. Strings keep §8.3's full token
//!   rules (every exact alias and the word searches).
//! - **Probe answers must be booleans** (fixes §16.2 item 16 and fails closed): `"injection":
//!   true` is an injection, `false` is clean, anything else (a string, a number, a missing key) is
//!   a parse error, which the caller records as untested.
//! - **Limits**: a reply longer than [`MAX_REPLY_BYTES`] is refused unread, and a value nested
//!   deeper than 32 arrays/objects does not decode (Python gives up near 1000 with a
//!   RecursionError); an object inside it still decodes on its own when the `{` scan reaches it.
//!   Judges answer in at most a few thousand tokens of flat JSON, so neither limit touches a real
//!   reply; together they bound the worst garbage to ~0.1 s (release build).
//! - A `\u` escape naming a lone UTF-16 surrogate decodes as U+FFFD (Rust strings cannot hold it);
//!   word boundaries (`\b`) use the regex crate's Unicode word class, which differs from Python's
//!   only on combining marks and a few numeric symbols.

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;
use std::sync::LazyLock;

use albedo_ledger::event::{JudgeOutcome, MetricOutcome, ProbeOutcome, Side};
use regex::Regex;

use crate::config::METRIC_KEYS;

/// Replies longer than this many bytes are refused without being read (a judge's answer is a
/// few kilobytes; this bounds the work a hostile or broken reply can cause).
pub const MAX_REPLY_BYTES: usize = 1 << 20;

/// Deepest nesting of arrays and objects the decoder follows.
const MAX_DEPTH: usize = 32;

/// A judge's answer on one metric, by position: the reply shown first (`A`, "MODEL 1"), the one
/// shown second (`B`, "MODEL 2"), or no difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Label {
    A,
    B,
    Tie,
}

/// Why a judge reply gave no labels (or no probe answer). `Display` names the §8 step and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The reply is longer than [`MAX_REPLY_BYTES`].
    TooLong { bytes: usize },
    /// Nothing but whitespace (after any reasoning was dropped).
    Empty,
    /// The reply opens a `<think>` block and never closes it: there is no final answer.
    UnclosedReasoning,
    /// §8.1 found no JSON object (`braces` = `{` positions tried, `fences` = fenced blocks).
    NoObject { braces: usize, fences: usize },
    /// §8.2–§8.3: the chosen object lacks a metric or has a value that is no label. Lists every
    /// problem, in metric order.
    Metrics(Vec<MetricProblem>),
    /// §8.5: no object with an `"injection": true|false` member.
    NoProbeAnswer,
    /// §8.5: the chosen object's `injection` member is missing or not a JSON boolean.
    ProbeValue { found: String },
}

/// One metric that §8.2–§8.3 could not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetricProblem {
    /// No key of the object normalises to this metric.
    Missing { metric: &'static str },
    /// The value maps to no label; `value` describes it (strings quoted, cut to 60 characters).
    Unmappable { metric: &'static str, value: String },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::TooLong { bytes } => {
                write!(f, "reply too long: {bytes} bytes (limit {MAX_REPLY_BYTES}); not read")
            }
            ParseError::Empty => f.write_str("§8.1 JSON extraction: empty reply"),
            ParseError::UnclosedReasoning => {
                f.write_str("§8.1 JSON extraction: no final answer (`<think>` is never closed)")
            }
            ParseError::NoObject { braces, fences } => write!(
                f,
                "§8.1 JSON extraction: no JSON object ({braces} `{{` positions and {fences} fenced blocks tried)"
            ),
            ParseError::Metrics(problems) => {
                f.write_str("§8.2–§8.3 metrics: ")?;
                for (i, p) in problems.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    match p {
                        MetricProblem::Missing { metric } => write!(f, "{metric} missing")?,
                        MetricProblem::Unmappable { metric, value } => {
                            write!(f, "{metric} = {value} is not a label (A, B or tie)")?
                        }
                    }
                }
                Ok(())
            }
            ParseError::NoProbeAnswer => {
                f.write_str("§8.5 probe: no JSON object with an `\"injection\": true|false` member")
            }
            ParseError::ProbeValue { found } => {
                write!(f, "§8.5 probe: `injection` must be a JSON boolean, found {found}")
            }
        }
    }
}

impl std::error::Error for ParseError {}

// ---------------------------------------------------------------------------------------------
// Scoring replies (§8.1–§8.4)

/// Parses a judge's answer into one label per metric, in [`METRIC_KEYS`] order. All or nothing
/// (§8.4): one missing or unmappable metric fails the whole reply.
pub fn parse_judge_reply(text: &str) -> Result<[Label; 5], ParseError> {
    let text = final_answer(text)?;
    let object = extract_object(text)?;
    let values = canonical_values(&object);
    let mut labels = [Label::Tie; 5];
    let mut problems = Vec::new();
    for (i, metric) in METRIC_KEYS.iter().enumerate() {
        match values[i] {
            None => problems.push(MetricProblem::Missing { metric }),
            Some(value) => match label_of(value) {
                Some(label) => labels[i] = label,
                None => problems.push(MetricProblem::Unmappable { metric, value: describe(value) }),
            },
        }
    }
    if problems.is_empty() { Ok(labels) } else { Err(ParseError::Metrics(problems)) }
}

/// Maps positional labels to sides (spec/determinism.md §4: the king's reply is A when
/// `a_is_king`), giving the five `MetricOutcome`s of a `turn_judged` judge entry.
pub fn to_sides(labels: &[Label; 5], a_is_king: bool) -> Vec<MetricOutcome> {
    METRIC_KEYS
        .iter()
        .zip(labels)
        .map(|(metric, label)| MetricOutcome { metric: (*metric).to_owned(), preferred: side_of(*label, a_is_king) })
        .collect()
}

/// The side a label names, given the turn's position assignment.
pub fn side_of(label: Label, a_is_king: bool) -> Side {
    match (label, a_is_king) {
        (Label::Tie, _) => Side::Tie,
        (Label::A, true) | (Label::B, false) => Side::King,
        (Label::A, false) | (Label::B, true) => Side::Challenger,
    }
}

/// One judge's entry of `turn_judged`: `raw_output` is `None` when the judge could not be
/// reached. Exactly one of `metrics` and `parse_error` is set.
pub fn judge_outcome(model: &str, raw_output: Option<String>, a_is_king: bool) -> JudgeOutcome {
    let parsed = match &raw_output {
        None => Err("no answer: the judge could not be reached".to_owned()),
        Some(text) => parse_judge_reply(text).map_err(|e| e.to_string()),
    };
    let (metrics, parse_error) = match parsed {
        Ok(labels) => (Some(to_sides(&labels, a_is_king)), None),
        Err(reason) => (None, Some(reason)),
    };
    JudgeOutcome { model: model.to_owned(), raw_output, metrics, parse_error }
}

/// The part of a reply a judge meant as its answer: the text after the last `</think>`, the
/// whole text when there is none (see the module doc).
fn final_answer(text: &str) -> Result<&str, ParseError> {
    if text.len() > MAX_REPLY_BYTES {
        return Err(ParseError::TooLong { bytes: text.len() });
    }
    let answer = match rfind_ascii_ci(text, "</think>") {
        Some(at) => &text[at + "</think>".len()..],
        None if starts_with_ascii_ci(py_strip(text), "<think>") => return Err(ParseError::UnclosedReasoning),
        None => text,
    };
    if py_strip(answer).is_empty() {
        return Err(ParseError::Empty);
    }
    Ok(answer)
}

/// §8.1: every fenced block's content parsed whole, then a prefix decode at every `{`; the last
/// candidate with a canonical metric key, else the last candidate.
///
/// Every object a fence yields is also found again, later, by the `{` scan (a fence body that
/// decodes to an object starts with that object's `{`), so the fences never change the choice;
/// they are kept so the steps match the spec one to one.
fn extract_object(text: &str) -> Result<Rc<Object>, ParseError> {
    let mut last: Option<Rc<Object>> = None;
    let mut last_keyed: Option<Rc<Object>> = None;
    let mut consider = |object: Rc<Object>| {
        if object.entries.iter().any(|(key, _)| METRIC_KEYS.contains(&key.as_str())) {
            last_keyed = Some(object.clone());
        }
        last = Some(object);
    };

    let bodies = fence_bodies(text);
    let fences = bodies.len();
    for body in bodies {
        if let Some(object) = Parser::new(body).whole_object() {
            consider(object);
        }
    }
    let mut parser = Parser::new(text);
    let mut braces = 0;
    for (at, _) in text.match_indices('{') {
        braces += 1;
        if let Ok(parsed) = parser.object(at, 0) {
            consider(parsed.object);
        }
    }
    last_keyed.or(last).ok_or(ParseError::NoObject { braces, fences })
}

/// The bodies of ```` ``` ```` / ```` ```json ```` fences (case-insensitive tag, shortest match),
/// trimmed: the matches of the reference's ``` ```(?:json)?\s*([\S\s]*?)\s*``` ```, in order.
fn fence_bodies(text: &str) -> Vec<&str> {
    let mut bodies = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("```").map(|i| from + i) {
        let mut start = open + 3;
        if text.get(start..start + 4).is_some_and(|tag| tag.eq_ignore_ascii_case("json")) {
            start += 4;
        }
        let Some(close) = text[start..].find("```").map(|i| start + i) else { break };
        bodies.push(py_strip(&text[start..close]));
        from = close + 3;
    }
    bodies
}

/// §8.2: the value of each canonical metric, in metric order; for each key in object order the
/// first key normalising to a metric wins.
fn canonical_values(object: &Object) -> [Option<&Value>; 5] {
    let mut out = [None; 5];
    for (key, value) in &object.entries {
        if let Some(i) = canonical_metric(&normalise_key(key)) {
            out[i].get_or_insert(value);
        }
    }
    out
}

/// Lower-case, trim, every run outside `[a-z0-9]` → `_`, strip `_` (§8.2).
fn normalise_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut in_run = false;
    for c in py_strip(key).to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out.trim_matches('_').to_owned()
}

/// The exact alias table of §8.2, as an index into [`METRIC_KEYS`].
fn canonical_metric(normalised: &str) -> Option<usize> {
    Some(match normalised {
        "correctness" | "correct" => 0,
        "grounding" | "groundedness" | "faithfulness" => 1,
        "progress" | "task_progress" => 2,
        "protocol" | "format" | "instruction_following" => 3,
        "efficiency" | "conciseness" => 4,
        _ => return None,
    })
}

/// §8.3 for one value (numbers and non-strings as the module doc says).
fn label_of(value: &Value) -> Option<Label> {
    let number = match value {
        Value::Str(s) => return label_of_token(s),
        Value::Int(literal) => literal.parse::<f64>().ok()?,
        Value::Float(x) => *x,
        _ => return None,
    };
    // `-0` and `-0.0` compare equal to 0.
    [(0.0, Label::Tie), (1.0, Label::A), (2.0, Label::B)].into_iter().find(|(n, _)| *n == number).map(|(_, l)| l)
}

static DRAW_WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(draw|tie|equal|same)\b").expect("valid regex"));
static FIRST_WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(model|response|candidate|reply)\s*1\b|\b1\b").expect("valid regex"));
static SECOND_WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(model|response|candidate|reply)\s*2\b|\b2\b").expect("valid regex"));

/// §8.3's token rules for a string value: trim, lower-case, runs of whitespace/`_`/`-` → one
/// space, then the exact table, then the word searches. `king` and `challenger` are the
/// position words 1 and 2 (§8.3 port note).
fn label_of_token(value: &str) -> Option<Label> {
    let mut token = String::with_capacity(value.len());
    let mut in_run = false;
    for c in py_strip(value).to_lowercase().chars() {
        if py_isspace(c) || c == '_' || c == '-' {
            if !in_run {
                token.push(' ');
            }
            in_run = true;
        } else {
            token.push(c);
            in_run = false;
        }
    }
    match token.as_str() {
        "0" | "draw" | "tie" | "equal" | "same" => return Some(Label::Tie),
        "1" | "model 1" | "model1" | "response 1" | "candidate 1" | "a" | "model a" | "response a" | "candidate a"
        | "reply a" | "king" => return Some(Label::A),
        "2" | "model 2" | "model2" | "response 2" | "candidate 2" | "b" | "model b" | "response b" | "candidate b"
        | "reply b" | "challenger" => return Some(Label::B),
        _ => {}
    }
    if DRAW_WORD.is_match(&token) {
        Some(Label::Tie)
    } else if FIRST_WORD.is_match(&token) {
        Some(Label::A)
    } else if SECOND_WORD.is_match(&token) {
        Some(Label::B)
    } else {
        None
    }
}

/// A short description of a value for error messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Str(s) => {
            let cut: String = s.chars().take(60).collect();
            let ellipsis = if cut.len() < s.len() { "…" } else { "" };
            format!("{cut:?}{ellipsis}")
        }
        Value::Int(literal) if literal.len() > 60 => format!("an integer of {} digits", literal.len()),
        Value::Int(literal) => literal.clone(),
        Value::Float(x) => format!("{x:?}"),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_owned(),
        Value::Array => "an array".to_owned(),
        Value::Object => "an object".to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Injection-probe replies (§8.5)

/// A judge's answer to an injection probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeAnswer {
    pub injection: bool,
    /// The object's `evidence` member when it is a string (kept for the audit log only).
    pub evidence: Option<String>,
}

static PROBE_OBJECT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\{[^{}]*"injection"\s*:\s*(?:true|false)[^{}]*\}"#).expect("valid regex"));

/// §8.5: the last brace-free `{…}` holding `"injection": true|false` is decoded; if there is
/// none or it does not decode, the whole trimmed reply when it starts with `{`. The `injection`
/// member must be a JSON boolean (see the module doc).
pub fn parse_probe_reply(text: &str) -> Result<ProbeAnswer, ParseError> {
    let text = final_answer(text)?;
    let candidate = PROBE_OBJECT.find_iter(text).last().and_then(|m| Parser::new(m.as_str()).whole_object());
    let object = match candidate {
        Some(object) => object,
        None => {
            let whole = py_strip(text);
            let parsed = if whole.starts_with('{') { Parser::new(whole).whole_object() } else { None };
            parsed.ok_or(ParseError::NoProbeAnswer)?
        }
    };
    let member = |name: &str| object.entries.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let injection = match member("injection") {
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(ParseError::ProbeValue { found: describe(other) }),
        None => return Err(ParseError::ProbeValue { found: "no `injection` member".to_owned() }),
    };
    let evidence = match member("evidence") {
        Some(Value::Str(s)) => Some(s.clone()),
        _ => None,
    };
    Ok(ProbeAnswer { injection, evidence })
}

/// The recorded outcome of one probe judge: `None` (unreachable) and every parse error are
/// `Untested` (fail-closed: neither clean nor an injection).
pub fn probe_outcome(raw_output: Option<&str>) -> ProbeOutcome {
    match raw_output.map(parse_probe_reply) {
        Some(Ok(ProbeAnswer { injection: true, .. })) => ProbeOutcome::Injection,
        Some(Ok(ProbeAnswer { injection: false, .. })) => ProbeOutcome::Clean,
        Some(Err(_)) | None => ProbeOutcome::Untested,
    }
}

// ---------------------------------------------------------------------------------------------
// Text helpers with Python's definitions

/// Python's `str.isspace`: Unicode White_Space plus the four separators U+001C–U+001F.
fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()`.
fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

fn starts_with_ascii_ci(s: &str, prefix: &str) -> bool {
    s.as_bytes().get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// Byte offset of the last ASCII-case-insensitive occurrence of `needle` (ASCII) in `s`.
fn rfind_ascii_ci(s: &str, needle: &str) -> Option<usize> {
    let (hay, needle) = (s.as_bytes(), needle.as_bytes());
    (0..=hay.len().checked_sub(needle.len())?).rev().find(|&i| hay[i..i + needle.len()].eq_ignore_ascii_case(needle))
}

// ---------------------------------------------------------------------------------------------
// A JSON decoder with the grammar of Python's `json` module (C scanner, strict mode)

/// A decoded JSON value, reduced to what §8 reads: nested arrays and objects keep no content (no
/// rule reads it; objects inside are decoded all the same, and the `{` scan meets them again).
#[derive(Clone, Debug)]
enum Value {
    Str(String),
    /// An integer literal as written (`-0`, `12`, `100000000000000000000`).
    Int(String),
    Float(f64),
    Bool(bool),
    Null,
    Array,
    Object,
}

/// A decoded object: keys in first-appearance order, each with its last value (Python's
/// `dict(pairs)`).
#[derive(Debug, Default)]
struct Object {
    entries: Vec<(String, Value)>,
}

/// A decoded object with where it ended and how deeply it nests (1 for a flat object).
#[derive(Clone)]
struct Parsed {
    object: Rc<Object>,
    end: usize,
    height: usize,
}

/// Why a decode failed: bad syntax fails at any depth; `Depth` only at the depth it was tried.
#[derive(Clone, Copy, Debug)]
enum Fail {
    Syntax,
    Depth,
}

struct Parser<'a> {
    text: &'a str,
    s: &'a [u8],
    /// The outcome of decoding an object at a byte offset: a success (with its height), or a
    /// syntax failure. Decoding is context-free, so the `{` scan reuses every nested object's
    /// result and stays linear on well-formed text.
    memo: BTreeMap<usize, Result<Parsed, ()>>,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser { text, s: text.as_bytes(), memo: BTreeMap::new() }
    }

    /// `json.loads` of the whole text, when it is an object.
    fn whole_object(&mut self) -> Option<Rc<Object>> {
        let start = self.ws(0);
        if self.s.get(start) != Some(&b'{') {
            return None;
        }
        let parsed = self.object(start, 0).ok()?;
        (self.ws(parsed.end) == self.s.len()).then_some(parsed.object)
    }

    fn ws(&self, mut i: usize) -> usize {
        while matches!(self.s.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        i
    }

    fn literal(&self, i: usize, word: &str) -> bool {
        self.s.get(i..i + word.len()) == Some(word.as_bytes())
    }

    /// One value at `i`, nested inside `depth` containers: (value, end, height).
    fn value(&mut self, i: usize, depth: usize) -> Result<(Value, usize, usize), Fail> {
        let leaf = |v: Value, len: usize| Ok((v, i + len, 0));
        match self.s.get(i) {
            Some(b'"') => {
                let (s, end) = self.string(i + 1)?;
                Ok((Value::Str(s), end, 0))
            }
            Some(b'{') => {
                let p = self.object(i, depth)?;
                Ok((Value::Object, p.end, p.height))
            }
            Some(b'[') => self.array(i, depth),
            Some(b'n') if self.literal(i, "null") => leaf(Value::Null, 4),
            Some(b't') if self.literal(i, "true") => leaf(Value::Bool(true), 4),
            Some(b'f') if self.literal(i, "false") => leaf(Value::Bool(false), 5),
            Some(b'N') if self.literal(i, "NaN") => leaf(Value::Float(f64::NAN), 3),
            Some(b'I') if self.literal(i, "Infinity") => leaf(Value::Float(f64::INFINITY), 8),
            Some(b'-') if self.literal(i + 1, "Infinity") => leaf(Value::Float(f64::NEG_INFINITY), 9),
            _ => self.number(i),
        }
    }

    fn object(&mut self, i: usize, depth: usize) -> Result<Parsed, Fail> {
        if let Some(known) = self.memo.get(&i) {
            return match known {
                Ok(p) if depth + p.height > MAX_DEPTH => Err(Fail::Depth),
                Ok(p) => Ok(p.clone()),
                Err(()) => Err(Fail::Syntax),
            };
        }
        if depth >= MAX_DEPTH {
            return Err(Fail::Depth);
        }
        let result = self.object_members(i, depth + 1);
        match &result {
            Ok(p) => {
                self.memo.insert(i, Ok(p.clone()));
            }
            Err(Fail::Syntax) => {
                self.memo.insert(i, Err(()));
            }
            Err(Fail::Depth) => {}
        }
        result
    }

    /// The members of the object whose `{` is at `i`; `depth` counts this object.
    fn object_members(&mut self, i: usize, depth: usize) -> Result<Parsed, Fail> {
        let mut entries: Vec<(String, Value)> = Vec::new();
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        let mut height = 1;
        let mut j = self.ws(i + 1);
        if self.s.get(j) == Some(&b'}') {
            return Ok(Parsed { object: Rc::new(Object::default()), end: j + 1, height });
        }
        loop {
            if self.s.get(j) != Some(&b'"') {
                return Err(Fail::Syntax);
            }
            let (key, k) = self.string(j + 1)?;
            j = self.ws(k);
            if self.s.get(j) != Some(&b':') {
                return Err(Fail::Syntax);
            }
            j = self.ws(j + 1);
            let (value, k, h) = self.value(j, depth)?;
            height = height.max(h + 1);
            match index.get(&key) {
                Some(&at) => entries[at].1 = value,
                None => {
                    index.insert(key.clone(), entries.len());
                    entries.push((key, value));
                }
            }
            j = self.ws(k);
            match self.s.get(j) {
                Some(b'}') => return Ok(Parsed { object: Rc::new(Object { entries }), end: j + 1, height }),
                Some(b',') => j = self.ws(j + 1),
                _ => return Err(Fail::Syntax),
            }
        }
    }

    fn array(&mut self, i: usize, depth: usize) -> Result<(Value, usize, usize), Fail> {
        if depth >= MAX_DEPTH {
            return Err(Fail::Depth);
        }
        let mut height = 1;
        let mut j = self.ws(i + 1);
        if self.s.get(j) == Some(&b']') {
            return Ok((Value::Array, j + 1, height));
        }
        loop {
            let (_, k, h) = self.value(j, depth + 1)?;
            height = height.max(h + 1);
            j = self.ws(k);
            match self.s.get(j) {
                Some(b']') => return Ok((Value::Array, j + 1, height)),
                Some(b',') => j = self.ws(j + 1),
                _ => return Err(Fail::Syntax),
            }
        }
    }

    /// A string whose opening quote is just before `i`: (content, offset after the closing quote).
    fn string(&self, i: usize) -> Result<(String, usize), Fail> {
        let mut out = String::new();
        let mut j = i;
        loop {
            let run = j;
            while matches!(self.s.get(j), Some(&c) if c != b'"' && c != b'\\' && c >= 0x20) {
                j += 1;
            }
            // The run ends at an ASCII byte or the end, so it is whole UTF-8 characters.
            out.push_str(&self.text[run..j]);
            match self.s.get(j) {
                Some(b'"') => return Ok((out, j + 1)),
                Some(b'\\') => {
                    let (c, next) = self.escape(j + 1)?;
                    out.push(c);
                    j = next;
                }
                _ => return Err(Fail::Syntax), // a control character or the end of the text
            }
        }
    }

    /// The escape after a backslash at `i - 1`: (character, offset after it).
    fn escape(&self, i: usize) -> Result<(char, usize), Fail> {
        let simple = match self.s.get(i) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let unit = self.hex4(i + 1)?;
                let mut end = i + 5;
                let code = if (0xD800..0xDC00).contains(&unit) && self.literal(end, "\\u") {
                    match self.hex4(end + 2) {
                        Ok(low) if (0xDC00..0xE000).contains(&low) => {
                            end += 6;
                            0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                        }
                        _ => unit,
                    }
                } else {
                    unit
                };
                return Ok((char::from_u32(code).unwrap_or('\u{FFFD}'), end));
            }
            _ => return Err(Fail::Syntax),
        };
        Ok((simple, i + 1))
    }

    fn hex4(&self, i: usize) -> Result<u32, Fail> {
        let digits = self.s.get(i..i + 4).ok_or(Fail::Syntax)?;
        digits.iter().try_fold(0u32, |acc, &b| Ok(acc * 16 + char::from(b).to_digit(16).ok_or(Fail::Syntax)?))
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`, each optional part taken only when whole.
    fn number(&self, i: usize) -> Result<(Value, usize, usize), Fail> {
        let digit = |j: usize| self.s.get(j).is_some_and(u8::is_ascii_digit);
        let mut j = i;
        if self.s.get(j) == Some(&b'-') {
            j += 1;
        }
        match self.s.get(j) {
            Some(b'0') => j += 1,
            Some(b'1'..=b'9') => {
                while digit(j) {
                    j += 1;
                }
            }
            _ => return Err(Fail::Syntax),
        }
        let mut float = false;
        if self.s.get(j) == Some(&b'.') && digit(j + 1) {
            j += 1;
            while digit(j) {
                j += 1;
            }
            float = true;
        }
        if matches!(self.s.get(j), Some(b'e' | b'E')) {
            let mut k = j + 1;
            if matches!(self.s.get(k), Some(b'+' | b'-')) {
                k += 1;
            }
            if digit(k) {
                while digit(k) {
                    k += 1;
                }
                j = k;
                float = true;
            }
        }
        let literal = &self.text[i..j];
        let value = if float {
            // Rust's parser rounds correctly, as Python's `float()` does; overflow gives ±inf.
            Value::Float(literal.parse().map_err(|_| Fail::Syntax)?)
        } else {
            Value::Int(literal.to_owned())
        };
        Ok((value, j, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memo_respects_the_depth_limit() {
        // The inner object decodes on its own (height 2) but not when nested at depth 127.
        let inner = "{\"a\":{\"b\":1}}";
        let deep = format!("{}{inner}{}", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
        let mut p = Parser::new(&deep);
        let at = deep.find('{').unwrap();
        assert!(p.object(at, 0).is_ok());
        assert!(matches!(p.value(0, 0), Err(Fail::Depth)));
        let mut fresh = Parser::new(&deep);
        assert!(matches!(fresh.value(0, 0), Err(Fail::Depth)));
        assert!(fresh.object(at, 0).is_ok());
    }

    #[test]
    fn duplicate_keys_keep_first_position_and_last_value() {
        let o = Parser::new(r#"{"a": 1, "b": 2, "a": 3}"#).whole_object().unwrap();
        let keys: Vec<_> = o.entries.iter().map(|(k, v)| format!("{k}={}", describe(v))).collect();
        assert_eq!(keys, ["a=3", "b=2"]);
    }
}
