//! The config model against the shipped `chain.toml` and against one broken variant of it per
//! rule. Every error test asserts the whole message, so a wrong line or key name fails.

use albedo_projections::config::{AppliedOverride, Config, ENV_VARS, EnvOverrides, METRIC_KEYS};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const SHIPPED: &str = include_str!("../../chain.toml");
const COMPACT: &str = include_str!("fixtures/compact.toml");

const PLAIN: &str = "must be a plain decimal literal (digits with at most one `.`; no exponent, \
                     underscore, `+`, inf or nan)";

fn shipped() -> Config {
    Config::parse(SHIPPED).expect("the shipped chain.toml parses")
}

fn error(text: &str) -> String {
    match Config::parse(text) {
        Ok(_) => panic!("expected an error, the text parsed"),
        Err(e) => e.to_string(),
    }
}

/// 1-based line of the first line of `text` whose trimmed form starts with `prefix`.
fn line_of(text: &str, prefix: &str) -> usize {
    text.lines()
        .position(|l| l.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starts with {prefix:?}"))
        + 1
}

/// Index range (0-based lines) of the body of `[section]`: from its header to the next header.
fn section_lines(lines: &[&str], section: &str) -> (usize, usize) {
    let header = format!("[{section}]");
    let start = lines.iter().position(|l| l.trim() == header).unwrap_or_else(|| panic!("no {header}"));
    let end = lines[start + 1..].iter().position(|l| l.starts_with('[')).map_or(lines.len(), |i| start + 1 + i);
    (start, end)
}

/// The shipped text with `key = …` in `[section]` replaced by `replacement` (which may be
/// empty to delete it); a multi-line array value is replaced whole. Returns the new text and
/// the 1-based line the key was on.
fn edit(section: &str, key: &str, replacement: &str) -> (String, usize) {
    let lines: Vec<&str> = SHIPPED.lines().collect();
    let (start, end) = section_lines(&lines, section);
    let at = (start + 1..end)
        .find(|&i| {
            let l = lines[i];
            l.starts_with(&format!("{key} ")) || l.starts_with(&format!("{key}="))
        })
        .unwrap_or_else(|| panic!("no {key} in [{section}]"));
    let mut last = at;
    if lines[at].trim_end().ends_with('[') {
        while lines[last].trim() != "]" {
            last += 1;
        }
    }
    let mut out: Vec<&str> = lines[..at].to_vec();
    if !replacement.is_empty() {
        out.push(replacement);
    }
    out.extend_from_slice(&lines[last + 1..]);
    (out.join("\n") + "\n", at + 1)
}

/// The shipped text with `key` in `[section]` set to `value`; returns the text and its line.
fn set(section: &str, key: &str, value: &str) -> (String, usize) {
    edit(section, key, &format!("{key} = {value}"))
}

/// The shipped text without `[section]` (header and body).
fn without_section(section: &str) -> String {
    let lines: Vec<&str> = SHIPPED.lines().collect();
    let (start, end) = section_lines(&lines, section);
    let mut out = lines[..start].to_vec();
    out.extend_from_slice(&lines[end..]);
    out.join("\n") + "\n"
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

// ---- the shipped file -------------------------------------------------------------------

#[test]
fn shipped_file_parses_with_the_live_values() {
    let c = shipped();
    assert_eq!(c.chain().seed_repo, "teutonic/albedo-qwen3-4b-genesis");
    assert_eq!(c.chain().repo_pattern, "^[^/]+/albedo-qwen3-4b-.+$");
    assert_eq!(c.chain().display_start_block, 0);
    assert_eq!(c.seed().seed_digest, "sha256:3368b0c79b619ed90dc5610c20073cf02c3a93275ebc0c5b94a9d332fea6f606");
    assert_eq!(c.dataset().manifest_sha256, "982a92bd85d122d287b15f2ddb4e2050b9e345fb3921aa9a63382c7af022bd7f");
    assert_eq!(c.judge().models, ["minimax/minimax-m3", "deepseek/deepseek-v4-flash", "z-ai/glm-5.1"]);
    assert_eq!(c.judge().metric_keys, METRIC_KEYS);
    assert_eq!(c.judge().max_concurrency_per_model, 6);
    assert_eq!(c.judge().rate_limits.len(), 3);
    assert!(c.judge().rate_limits.values().all(|r| r.max_concurrency == 8));
    assert!(c.judge().fallback.enabled);
    assert_eq!(c.judge().fallback.reasoning_models, ["deepseek/deepseek-v4-flash"]);
    assert_eq!(c.judge().fallback.model_map.len(), 3);
    assert!(c.judge().fallback.model_map.iter().all(|(k, v)| k == v));

    let d = c.duel();
    assert_eq!(d.n_samples, 128);
    assert_eq!(d.king_chain_depth, 5);
    assert_eq!(d.bootstrap_resamples, 10_000);
    assert_eq!(d.rescore_passes, 2);
    assert_eq!(d.duel_budget_s, 11500.0);
    assert_eq!(d.win_margin.text(), "2.0");
    assert_eq!(d.win_margin.numer_denom(), (2, 1));
    assert_eq!(d.min_valid_turn_frac.text(), "0.5");
    assert_eq!(d.min_valid_turn_frac.numer_denom(), (1, 2));
    assert_eq!(d.gate_alpha.numer_denom(), (1, 20));
    assert_eq!(d.gate_alpha.as_f64(), 0.05);

    assert!(c.preeval().injection_judges.is_empty());
    assert_eq!(c.injection_judges(), c.judge().models.as_slice());
    assert_eq!(c.all_lock_keys().len(), 11);
    assert_eq!(c.all_lock_keys()[..3], ["vocab_size", "model_type", "max_position_embeddings"]);
}

#[test]
fn the_hash_is_of_the_exact_text() {
    let c = shipped();
    let want: [u8; 32] = Sha256::digest(SHIPPED.as_bytes()).into();
    assert_eq!(c.sha256(), want);
    assert_eq!(c.sha256_hex(), hex::encode(want));
    assert_eq!(c.text(), SHIPPED);
    // A comment is part of the pinned text.
    let commented = format!("{SHIPPED}# a comment\n");
    let c2 = Config::parse(&commented).unwrap();
    assert_ne!(c2.sha256(), c.sha256());
    assert_eq!(c2.duel(), c.duel());
}

#[test]
fn another_layout_gives_the_same_values_and_another_hash() {
    let a = shipped();
    let b = Config::parse(COMPACT).expect("the compact fixture parses");
    assert_eq!(a.chain(), b.chain());
    assert_eq!(a.arch(), b.arch());
    assert_eq!(a.seed(), b.seed());
    assert_eq!(a.judge(), b.judge());
    assert_eq!(a.preeval(), b.preeval());
    assert_eq!(a.dataset(), b.dataset());
    // The decimals keep their own text but have the same exact value.
    let (da, db) = (a.duel(), b.duel());
    assert_eq!(db.win_margin.text(), "2");
    assert_eq!(da.win_margin.numer_denom(), db.win_margin.numer_denom());
    assert_eq!(db.min_valid_turn_frac.text(), "0.50");
    assert_eq!(da.min_valid_turn_frac.numer_denom(), db.min_valid_turn_frac.numer_denom());
    assert_eq!(da.gate_alpha.numer_denom(), db.gate_alpha.numer_denom());
    assert_eq!(db.n_samples, 128);
    assert_ne!(a.sha256(), b.sha256());
}

// ---- structure: unknown, missing, mistyped ----------------------------------------------

#[test]
fn unknown_key_names_key_table_and_line() {
    let (text, line) = edit("duel", "rescore_passes", "rescore_passes = 2\nfoo = 1");
    assert_eq!(error(&text), format!("chain.toml line {}: unknown key `foo` in [duel]", line + 1));
    // A misspelt key is reported as unknown, not as the key it was meant to be.
    let (text, line) = edit("duel", "n_samples", "n_sample = 128");
    assert_eq!(error(&text), format!("chain.toml line {line}: unknown key `n_sample` in [duel]"));
    // The reference's aliases are not accepted.
    let (text, line) = edit("judge", "call_timeout_s", "retry_timeout_s = 300.0");
    assert_eq!(error(&text), format!("chain.toml line {line}: unknown key `retry_timeout_s` in [judge]"));
    let text = format!("foo = 1\n{SHIPPED}");
    assert_eq!(error(&text), "chain.toml line 1: unknown key `foo` at the top level (before any [section])");
    let text = SHIPPED.replacen(
        "\"z-ai/glm-5.1\" = { max_concurrency = 8, min_interval_s = 0.0 }",
        "\"z-ai/glm-5.1\" = { max_concurrency = 8, min_interval_s = 0.0, burst = 2 }",
        1,
    );
    assert_eq!(
        error(&text),
        format!(
            "chain.toml line {}: unknown key `burst` in [judge.rate_limits.\"z-ai/glm-5.1\"]",
            line_of(SHIPPED, "\"z-ai/glm-5.1\" = { max_concurrency")
        )
    );
}

#[test]
fn unknown_section_names_section_and_line() {
    let text = format!("{SHIPPED}\n[extra]\nx = 1\n");
    let line = SHIPPED.lines().count() + 2;
    assert_eq!(error(&text), format!("chain.toml line {line}: unknown section [extra]"));
    let text = SHIPPED.replace("[preeval]", "[preevals]");
    assert_eq!(error(&text), format!("chain.toml line {}: unknown section [preevals]", line_of(SHIPPED, "[preeval]")));
    let text = SHIPPED.replace("[judge.fallback]", "[judge.fallbacks]");
    assert_eq!(
        error(&text),
        format!("chain.toml line {}: unknown section [judge.fallbacks]", line_of(SHIPPED, "[judge.fallback]"))
    );
}

#[test]
fn missing_key_points_at_the_table_header() {
    let (text, _) = edit("duel", "n_samples", "");
    assert_eq!(
        error(&text),
        format!("chain.toml line {}: missing key `n_samples` in [duel]", line_of(SHIPPED, "[duel]"))
    );
    let (text, _) = edit("judge.fallback", "enabled", "");
    assert_eq!(
        error(&text),
        format!("chain.toml line {}: missing key `enabled` in [judge.fallback]", line_of(SHIPPED, "[judge.fallback]"))
    );
    // display_start_block has no code default either: the pinned file says it.
    let (text, _) = edit("chain", "display_start_block", "");
    assert_eq!(
        error(&text),
        format!("chain.toml line {}: missing key `display_start_block` in [chain]", line_of(SHIPPED, "[chain]"))
    );
    let text = SHIPPED.replacen(
        "\"z-ai/glm-5.1\" = { max_concurrency = 8, min_interval_s = 0.0 }",
        "\"z-ai/glm-5.1\" = { max_concurrency = 8 }",
        1,
    );
    assert_eq!(
        error(&text),
        format!(
            "chain.toml line {}: missing key `min_interval_s` in [judge.rate_limits.\"z-ai/glm-5.1\"]",
            line_of(SHIPPED, "\"z-ai/glm-5.1\" = { max_concurrency")
        )
    );
}

#[test]
fn missing_section_names_section_and_line() {
    let text = without_section("preeval");
    assert_eq!(error(&text), format!("chain.toml line {}: missing section [preeval]", text.lines().count()));
    let text = without_section("judge.fallback.model_map");
    assert_eq!(
        error(&text),
        format!("chain.toml line {}: missing section [judge.fallback.model_map]", line_of(SHIPPED, "[judge.fallback]"))
    );
    let text = without_section("judge.rate_limits");
    assert_eq!(
        error(&text),
        format!("chain.toml line {}: missing section [judge.rate_limits]", line_of(SHIPPED, "[judge]"))
    );
}

#[test]
fn wrong_type_names_key_expected_found_and_line() {
    let cases = [
        ("duel", "n_samples", "\"128\"", "must be an integer, found a string"),
        ("duel", "alpha", "\"0.001\"", "must be a number, found a string"),
        ("duel", "win_margin", "\"2.0\"", "must be a decimal number, found a string"),
        ("judge.fallback", "enabled", "\"yes\"", "must be a boolean, found a string"),
        ("chain", "name", "1", "must be a string, found an integer"),
        ("judge", "models", "\"minimax/minimax-m3\"", "must be an array of strings, found a string"),
        ("preeval", "injection_judges", "[1]", "must be an array of strings, found an array holding an integer"),
        ("judge", "fallback", "1", "must be a table, found an integer"),
    ];
    for (section, key, value, want) in cases {
        let text = if key == "fallback" {
            // Replace the [judge.fallback] tables by a plain value in [judge].
            let t = without_section("judge.fallback.model_map");
            let lines: Vec<&str> = t.lines().collect();
            let (start, end) = section_lines(&lines, "judge.fallback");
            let mut out = lines[..start].to_vec();
            out.extend_from_slice(&lines[end..]);
            out.join("\n").replace("chutes_giveup_tasks = 2", "chutes_giveup_tasks = 2\nfallback = 1")
        } else {
            set(section, key, value).0
        };
        let line =
            if key == "fallback" { line_of(SHIPPED, "chutes_giveup_tasks") + 1 } else { set(section, key, value).1 };
        assert_eq!(
            error(&text),
            format!("chain.toml line {line}: `{key}` in [{section}] {want}"),
            "{section}.{key} = {value}"
        );
    }
    // An item of a multi-line array is reported on its own line.
    let text = SHIPPED.replacen("    \"z-ai/glm-5.1\",\n]\n# Names", "    3,\n]\n# Names", 1);
    assert_eq!(
        error(&text),
        format!(
            "chain.toml line {}: `models` in [judge] must be an array of strings, found an array holding an integer",
            line_of(SHIPPED, "models = [") + 3
        )
    );
    // A model_map value must be a string.
    let text = SHIPPED.replacen("\"z-ai/glm-5.1\" = \"z-ai/glm-5.1\"", "\"z-ai/glm-5.1\" = 5", 1);
    assert_eq!(
        error(&text),
        format!(
            "chain.toml line {}: `z-ai/glm-5.1` in [judge.fallback.model_map] must be a string, found an integer",
            line_of(SHIPPED, "\"z-ai/glm-5.1\" = \"z-ai")
        )
    );
}

#[test]
fn integers_out_of_range_are_invalid() {
    let (text, line) = set("duel", "n_samples", "-1");
    assert_eq!(
        error(&text),
        format!(
            "chain.toml line {line}: invalid `n_samples` in [duel]: must be an integer between 0 and 4294967295, found -1"
        )
    );
    let (text, line) = set("chain", "display_start_block", "-5");
    assert_eq!(
        error(&text),
        format!(
            "chain.toml line {line}: invalid `display_start_block` in [chain]: must be an integer between 0 and 18446744073709551615, found -5"
        )
    );
}

#[test]
fn syntax_errors_name_the_line() {
    let text = SHIPPED.replace("[duel]", "[duel");
    assert_eq!(
        error(&text),
        format!("chain.toml line {}: syntax error: unclosed table, expected `]`", line_of(SHIPPED, "[duel]"))
    );
    let (text, line) = edit("duel", "n_samples", "n_samples = 128\nn_samples = 64");
    assert_eq!(error(&text), format!("chain.toml line {}: syntax error: duplicate key `n_samples`", line + 1));
}

// ---- validation rules -------------------------------------------------------------------

/// (section, key, bad value, expected reason). The reason follows
/// "chain.toml line N: invalid `key` in [section]: ".
const INVALID: &[(&str, &str, &str, &str)] = &[
    (
        "seed",
        "seed_digest",
        "\"3368b0c79b619ed90dc5610c20073cf02c3a93275ebc0c5b94a9d332fea6f606\"",
        "must be `sha256:` followed by 64 lowercase hex digits, found `3368b0c79b619ed90dc5610c20073cf02c3a93275ebc0c5b94a9d332fea6f606`",
    ),
    (
        "seed",
        "seed_digest",
        "\"sha256:3368B0C79B619ED90DC5610C20073CF02C3A93275EBC0C5B94A9D332FEA6F606\"",
        "must be `sha256:` followed by 64 lowercase hex digits, found `sha256:3368B0C79B619ED90DC5610C20073CF02C3A93275EBC0C5B94A9D332FEA6F606`",
    ),
    (
        "seed",
        "seed_digest",
        "\"sha256:abc\"",
        "must be `sha256:` followed by 64 lowercase hex digits, found `sha256:abc`",
    ),
    ("seed", "seed_digest", "\"\"", "must be `sha256:` followed by 64 lowercase hex digits, found ``"),
    (
        "dataset",
        "manifest_sha256",
        "\"982a92bd85d122d287b15f2ddb4e2050b9e345fb3921aa9a63382c7af022bd7\"",
        "must be 64 lowercase hex digits, found `982a92bd85d122d287b15f2ddb4e2050b9e345fb3921aa9a63382c7af022bd7`",
    ),
    (
        "dataset",
        "manifest_sha256",
        "\"982A92BD85D122D287B15F2DDB4E2050B9E345FB3921AA9A63382C7AF022BD7F\"",
        "must be 64 lowercase hex digits, found `982A92BD85D122D287B15F2DDB4E2050B9E345FB3921AA9A63382C7AF022BD7F`",
    ),
    ("duel", "min_valid_turn_frac", "0.0", "must be in (0, 1], found 0.0"),
    ("duel", "min_valid_turn_frac", "1.01", "must be in (0, 1], found 1.01"),
    ("duel", "min_valid_turn_frac", "-0.5", "must be in (0, 1], found -0.5"),
    ("duel", "rescore_passes", "0", "must be between 1 and 5, found 0"),
    ("duel", "rescore_passes", "6", "must be between 1 and 5, found 6"),
    ("duel", "alpha", "0.0", "must be in (0, 1), found 0"),
    ("duel", "alpha", "1.0", "must be in (0, 1), found 1"),
    ("duel", "gate_alpha", "0.0", "must be in (0, 1), found 0.0"),
    ("duel", "gate_alpha", "1", "must be in (0, 1), found 1"),
    ("duel", "bootstrap_resamples", "0", "must be between 1 and 1000000, found 0"),
    ("duel", "bootstrap_resamples", "1000001", "must be between 1 and 1000000, found 1000001"),
    ("duel", "king_chain_depth", "0", "must be at least 1, found 0"),
    ("duel", "n_samples", "0", "must be at least 1, found 0"),
    ("duel", "max_turns_per_sample", "0", "must be at least 1, found 0"),
    ("duel", "win_margin", "-1.0", "must be in [0, 100] points, found -1.0"),
    ("duel", "win_margin", "100.5", "must be in [0, 100] points, found 100.5"),
    ("duel", "duel_budget_s", "-1.0", "must not be negative, found -1"),
    ("judge", "or_timeout_s", "inf", "must be a finite number, found inf"),
    ("judge", "judge_total_s", "nan", "must be a finite number, found nan"),
    ("judge", "max_concurrency_per_model", "0", "must be at least 1, found 0"),
    ("judge", "models", "[]", "must list at least one judge"),
    (
        "judge",
        "models",
        "[\"minimax/minimax-m3\", \"z-ai/glm-5.1\", \"minimax/minimax-m3\", \"deepseek/deepseek-v4-flash\"]",
        "lists `minimax/minimax-m3` more than once",
    ),
    (
        "judge",
        "metric_keys",
        "[\"grounding\", \"correctness\", \"progress\", \"protocol\", \"efficiency\"]",
        "must be exactly [\"correctness\", \"grounding\", \"progress\", \"protocol\", \"efficiency\"], in that order (v1 scoring has K = 5), found [\"grounding\", \"correctness\", \"progress\", \"protocol\", \"efficiency\"]",
    ),
    (
        "judge",
        "metric_keys",
        "[\"correctness\", \"grounding\", \"progress\", \"protocol\"]",
        "must be exactly [\"correctness\", \"grounding\", \"progress\", \"protocol\", \"efficiency\"], in that order (v1 scoring has K = 5), found [\"correctness\", \"grounding\", \"progress\", \"protocol\"]",
    ),
    (
        "judge",
        "thinking_models",
        "[\"minimax/minimax-m3\", \"openai/gpt-x\"]",
        "`openai/gpt-x` is not one of [judge].models",
    ),
    (
        "judge.fallback",
        "reasoning_models",
        "[\"deepseek/deepseek-v3\"]",
        "`deepseek/deepseek-v3` is not one of [judge].models",
    ),
    ("chain", "repo_pattern", "\"\"", "must not be empty, found an empty string"),
    (
        "preeval",
        "injection_judges",
        "[\"deepseek/deepseek-v4-flash\", \"z-ai/glm-5\"]",
        "`z-ai/glm-5` is not one of [judge].models",
    ),
    ("preeval", "similarity_threshold", "0.0", "must be in (0, 1], found 0"),
    ("preeval", "similarity_threshold", "1.5", "must be in (0, 1], found 1.5"),
];

#[test]
fn each_validation_rule_names_key_line_and_reason() {
    for (section, key, value, reason) in INVALID {
        let (text, line) = set(section, key, value);
        assert_eq!(
            error(&text),
            format!("chain.toml line {line}: invalid `{key}` in [{section}]: {reason}"),
            "{section}.{key} = {value}"
        );
    }
}

#[test]
fn boundary_values_are_accepted() {
    for (section, key, value) in [
        ("duel", "min_valid_turn_frac", "1.0"),
        ("duel", "min_valid_turn_frac", "0.001"),
        ("duel", "rescore_passes", "1"),
        ("duel", "rescore_passes", "5"),
        ("duel", "bootstrap_resamples", "1"),
        ("duel", "bootstrap_resamples", "1000000"),
        ("duel", "gate_alpha", "0.999"),
        ("duel", "win_margin", "0"),
        ("duel", "win_margin", "100.0"),
        ("duel", "king_chain_depth", "1"),
        ("preeval", "similarity_threshold", "1.0"),
        ("preeval", "injection_judges", "[\"z-ai/glm-5.1\"]"),
        (
            "judge",
            "models",
            "[\"minimax/minimax-m3\", \"deepseek/deepseek-v4-flash\", \"z-ai/glm-5.1\", \"other/judge\"]",
        ),
    ] {
        let (text, _) = set(section, key, value);
        if let Err(e) = Config::parse(&text) {
            panic!("{section}.{key} = {value} was refused: {e}");
        }
    }
    let (text, _) = set("preeval", "injection_judges", "[\"z-ai/glm-5.1\"]");
    assert_eq!(Config::parse(&text).unwrap().injection_judges(), ["z-ai/glm-5.1"]);
}

#[test]
fn rate_limit_and_model_map_keys_must_be_judges() {
    let text = SHIPPED.replacen(
        "\"z-ai/glm-5.1\" = { max_concurrency = 8, min_interval_s = 0.0 }",
        "\"z-ai/glm-5\" = { max_concurrency = 8, min_interval_s = 0.0 }",
        1,
    );
    assert_eq!(
        error(&text),
        format!(
            "chain.toml line {}: invalid `z-ai/glm-5` in [judge.rate_limits]: not one of [judge].models",
            line_of(SHIPPED, "\"z-ai/glm-5.1\" = { max_concurrency")
        )
    );
    let text = SHIPPED.replacen("\"z-ai/glm-5.1\" = \"z-ai/glm-5.1\"", "\"z-ai/glm-5\" = \"z-ai/glm-5.1\"", 1);
    assert_eq!(
        error(&text),
        format!(
            "chain.toml line {}: invalid `z-ai/glm-5` in [judge.fallback.model_map]: not one of [judge].models",
            line_of(SHIPPED, "\"z-ai/glm-5.1\" = \"z-ai")
        )
    );
    let text =
        SHIPPED.replacen("\"z-ai/glm-5.1\" = { max_concurrency = 8,", "\"z-ai/glm-5.1\" = { max_concurrency = 0,", 1);
    assert_eq!(
        error(&text),
        format!(
            "chain.toml line {}: invalid `max_concurrency` in [judge.rate_limits.\"z-ai/glm-5.1\"]: must be at least 1, found 0",
            line_of(SHIPPED, "\"z-ai/glm-5.1\" = { max_concurrency")
        )
    );
    // A judge may go without a rate-limit entry or an OpenRouter mapping.
    let text = SHIPPED.replacen("\"z-ai/glm-5.1\" = \"z-ai/glm-5.1\"\n", "", 1);
    assert_eq!(Config::parse(&text).unwrap().judge().fallback.model_map.len(), 2);
}

#[test]
fn decimals_must_be_plain_literals() {
    for (key, value) in [
        ("min_valid_turn_frac", "1e-2"),
        ("min_valid_turn_frac", "5E-1"),
        ("win_margin", "0.5_0"),
        ("win_margin", "1_0"),
        ("gate_alpha", "inf"),
        ("gate_alpha", "nan"),
        ("gate_alpha", "+0.05"),
        ("win_margin", "0x2"),
    ] {
        let (text, line) = set("duel", key, value);
        assert_eq!(error(&text), format!("chain.toml line {line}: invalid `{key}` in [duel]: {PLAIN}, found {value}"),);
    }
    let long = format!("0.{}5", "0".repeat(40));
    let (text, line) = set("duel", "min_valid_turn_frac", &long);
    assert_eq!(
        error(&text),
        format!(
            "chain.toml line {line}: invalid `min_valid_turn_frac` in [duel]: has too many digits to be held exactly (at most 38 significant digits), found {long}"
        )
    );
}

// ---- environment overrides --------------------------------------------------------------

#[test]
fn overrides_are_applied_and_recorded_and_the_hash_stays() {
    let vars = env(&[
        ("ALBEDO_DISPLAY_START_BLOCK", "8326394"),
        ("ALBEDO_JUDGE_MODEL_MAX_CONCURRENCY", "3"),
        ("ALBEDO_JUDGE_MODEL_MIN_INTERVAL_S", "0.25"),
        ("ALBEDO_DUEL_BUDGET_S", "11000"),
        ("ALBEDO_JUDGE_FALLBACK", "0"),
    ]);
    let overrides = EnvOverrides::from_vars(vars).unwrap();
    let base = shipped();
    let c = base.clone().with_overrides(&overrides);
    assert_eq!(c.chain().display_start_block, 8_326_394);
    assert_eq!(c.judge().max_concurrency_per_model, 3);
    assert_eq!(c.judge().min_interval_s_per_model, 0.25);
    assert_eq!(c.duel().duel_budget_s, 11000.0);
    assert!(!c.judge().fallback.enabled);
    assert_eq!(c.sha256(), base.sha256());
    assert_eq!(c.text(), base.text());
    // Verdict-affecting values are untouched.
    assert_eq!(c.duel().n_samples, base.duel().n_samples);
    assert_eq!(c.duel().win_margin, base.duel().win_margin);

    let applied = |key, var, value: &str, file_value: &str| AppliedOverride {
        key,
        var,
        value: value.to_owned(),
        file_value: file_value.to_owned(),
    };
    assert_eq!(
        c.overrides_applied(),
        [
            applied("[chain].display_start_block", "ALBEDO_DISPLAY_START_BLOCK", "8326394", "0"),
            applied("[judge].max_concurrency_per_model", "ALBEDO_JUDGE_MODEL_MAX_CONCURRENCY", "3", "6"),
            applied("[judge].min_interval_s_per_model", "ALBEDO_JUDGE_MODEL_MIN_INTERVAL_S", "0.25", "0.0"),
            applied("[duel].duel_budget_s", "ALBEDO_DUEL_BUDGET_S", "11000", "11500.0"),
            applied("[judge.fallback].enabled", "ALBEDO_JUDGE_FALLBACK", "0", "true"),
        ]
    );
    assert!(base.overrides_applied().is_empty());
    assert_eq!(ENV_VARS.len(), 5);
}

#[test]
fn irrelevant_variables_are_ignored() {
    let vars = env(&[
        ("PATH", "/usr/bin"),
        ("ALBEDO_NETUID", "97"),
        ("ALBEDO_DUEL_BUDGET", "oops"),
        ("albedo_duel_budget_s", "oops"),
        ("OPENROUTER_API_KEY", ""),
    ]);
    let overrides = EnvOverrides::from_vars(vars).unwrap();
    assert!(overrides.is_empty());
    let c = shipped().with_overrides(&overrides);
    assert!(c.overrides_applied().is_empty());
    assert_eq!(c, shipped());
}

#[test]
fn malformed_override_names_variable_and_value() {
    let cases = [
        ("ALBEDO_DISPLAY_START_BLOCK", "83e5", "must be a block number (a non-negative integer)"),
        ("ALBEDO_DISPLAY_START_BLOCK", "-1", "must be a block number (a non-negative integer)"),
        ("ALBEDO_DISPLAY_START_BLOCK", "", "must be a block number (a non-negative integer)"),
        ("ALBEDO_JUDGE_MODEL_MAX_CONCURRENCY", "0", "must be an integer of at least 1"),
        ("ALBEDO_JUDGE_MODEL_MAX_CONCURRENCY", "six", "must be an integer of at least 1"),
        ("ALBEDO_JUDGE_MODEL_MIN_INTERVAL_S", "-0.5", "must be a finite, non-negative number of seconds"),
        ("ALBEDO_DUEL_BUDGET_S", "inf", "must be a finite, non-negative number of seconds"),
        ("ALBEDO_DUEL_BUDGET_S", "11500s", "must be a finite, non-negative number of seconds"),
    ];
    for (var, value, reason) in cases {
        let err = EnvOverrides::from_vars(env(&[("HOME", "/root"), (var, value)])).unwrap_err();
        assert_eq!(err.line(), None);
        assert_eq!(err.to_string(), format!("environment variable {var}={value:?}: {reason}"));
    }
}

#[test]
fn fallback_switch_follows_the_reference_truthiness() {
    for (value, enabled) in [
        ("0", false),
        ("false", false),
        ("FALSE", false),
        ("No", false),
        ("", false),
        (" no ", false),
        ("1", true),
        ("true", true),
        ("yes", true),
        ("off", true), // only `0`, `false`, `no` and empty switch it off (spec/eval.md §1.2)
    ] {
        let o = EnvOverrides::from_vars(env(&[("ALBEDO_JUDGE_FALLBACK", value)])).unwrap();
        let c = shipped().with_overrides(&o);
        assert_eq!(c.judge().fallback.enabled, enabled, "{value:?}");
    }
}

// ---- robustness --------------------------------------------------------------------------

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = Config::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_the_shipped_text_with_one_byte_changed(
        at in 0..SHIPPED.len(),
        byte in any::<u8>(),
    ) {
        let mut bytes = SHIPPED.as_bytes().to_vec();
        bytes[at] = byte;
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = Config::parse(&text) {
            // Every file error points at a line of the text.
            let line = e.line().expect("a file error has a line");
            prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "{e}");
        }
    }

    #[test]
    fn any_override_value_parses_or_names_the_variable(value in ".*", var in 0..5usize) {
        let name = ENV_VARS[var];
        match EnvOverrides::from_vars([(name.to_owned(), value.clone())]) {
            Ok(o) => { let _ = shipped().with_overrides(&o); }
            Err(e) => {
                let prefix = format!("environment variable {name}=");
                prop_assert!(e.to_string().starts_with(&prefix), "{}", e);
            }
        }
    }
}
