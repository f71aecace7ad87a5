//! Judge-reply parsing (spec/eval.md §8) as tables of `(reply text, expected)`.
//!
//! Expected values are five letters in metric order (`A`, `B`, `T` for tie), or `err:` followed
//! by a piece of the error's message.

use albedo_ledger::event::{ProbeOutcome, Side};
use albedo_projections::scoring::judge_reply::{
    Label, MAX_REPLY_BYTES, ParseError, judge_outcome, parse_judge_reply, parse_probe_reply, probe_outcome, side_of,
    to_sides,
};
use proptest::prelude::*;

fn show(result: Result<[Label; 5], ParseError>) -> String {
    match result {
        Ok(labels) => labels
            .iter()
            .map(|l| match l {
                Label::A => 'A',
                Label::B => 'B',
                Label::Tie => 'T',
            })
            .collect(),
        Err(e) => format!("err: {e}"),
    }
}

fn check(cases: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (input, expect) in cases {
        let got = show(parse_judge_reply(input));
        let ok = match expect.strip_prefix("err:") {
            Some(piece) => got.starts_with("err:") && got.contains(piece.trim()),
            None => got == *expect,
        };
        if !ok {
            failures.push(format!("input {input:?}\n  expected {expect}\n  got      {got}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

const ABTAB: &str = r#"{"correctness": 1, "grounding": 2, "progress": 0, "protocol": 1, "efficiency": 2}"#;
const BBBBB: &str = r#"{"correctness": 2, "grounding": 2, "progress": 2, "protocol": 2, "efficiency": 2}"#;
const AAAAA: &str = r#"{"correctness": 1, "grounding": 1, "progress": 1, "protocol": 1, "efficiency": 1}"#;

#[test]
fn extraction_forms_of_8_1() {
    let prose_around = format!("Comparing both replies.\n{ABTAB}\nThat is my verdict.");
    let fenced = format!("Verdict:\n```json\n{ABTAB}\n```\nDone.");
    let fenced_plain = format!("```\n{ABTAB}\n```");
    let fenced_upper = format!("```JSON {ABTAB} ```");
    let last_keyed = format!("{AAAAA}\n...on reflection:\n{BBBBB}");
    let keyed_beats_later_unkeyed = format!("{BBBBB} {{\"note\": \"both fine\"}}");
    let keyed_beats_later_alias_object = format!(
        "{BBBBB} {{\"Correct\": 1, \"Groundedness\": 1, \"Task Progress\": 1, \"Format\": 1, \"Conciseness\": 1}}"
    );
    let nested_keyed = format!("{{\"verdict\": {ABTAB}, \"why\": \"...\"}}");
    let unterminated_outer = format!("{{\"scores\": {ABTAB}, \"note\": ");
    let trailing_junk = format!("{ABTAB}}}}}]]] trailing");
    let fence_then_bare = format!("```json\n{AAAAA}\n```\nFinal: {BBBBB}");
    let bad_fence_good_bare = format!("```json\n{{oops}}\n```\n{ABTAB}");
    check(&[
        (ABTAB, "ABTAB"),
        (&prose_around, "ABTAB"),
        (&fenced, "ABTAB"),
        (&fenced_plain, "ABTAB"),
        (&fenced_upper, "ABTAB"),
        (&last_keyed, "BBBBB"),
        (&keyed_beats_later_unkeyed, "BBBBB"),
        (&keyed_beats_later_alias_object, "BBBBB"),
        (&nested_keyed, "ABTAB"),
        (&unterminated_outer, "ABTAB"),
        (&trailing_junk, "ABTAB"),
        (&fence_then_bare, "BBBBB"),
        (&bad_fence_good_bare, "ABTAB"),
        // No keyed candidate: the last candidate of all, read through the alias table.
        (r#"{"Correct": 1, "Groundedness": 2, "Task Progress": 0, "Format": 1, "Conciseness": 2}"#, "ABTAB"),
        (
            r#"{"a": 1} {"Correct": 2, "Faithfulness": 2, "task-progress": 2, "Instruction Following": 2, "efficiency": 2}"#,
            "BBBBB",
        ),
        // The last candidate is unkeyed and not a verdict.
        (
            r#"{"Correct": 1, "Faithfulness": 1, "task_progress": 1, "format": 1, "conciseness": 1} {"b": 2}"#,
            "err: correctness missing",
        ),
        // Compact, spaced and multi-line JSON.
        (r#"{"correctness":2,"grounding":2,"progress":2,"protocol":2,"efficiency":2}"#, "BBBBB"),
        (
            "{\n  \"correctness\" :\t1 ,\r\n  \"grounding\": 2,\n  \"progress\": 0,\n  \"protocol\": 1,\n  \"efficiency\": 2\n}",
            "ABTAB",
        ),
        // Python's decoder extras: NaN and Infinity decode (and are no labels); duplicate keys keep the last value.
        (
            r#"{"correctness": NaN, "grounding": 2, "progress": 2, "protocol": 2, "efficiency": -Infinity}"#,
            "err: correctness = NaN is not a label",
        ),
        (
            r#"{"correctness": 1, "grounding": 2, "progress": 0, "protocol": 1, "efficiency": 2, "correctness": 2}"#,
            "BBTAB",
        ),
        // Not JSON: single quotes, trailing commas, comments, bare words.
        (r#"{'correctness': 1, 'grounding': 2, 'progress': 0, 'protocol': 1, 'efficiency': 2}"#, "err: no JSON object"),
        (
            r#"{"correctness": 1, "grounding": 2, "progress": 0, "protocol": 1, "efficiency": 2,}"#,
            "err: no JSON object",
        ),
        (
            r#"{"correctness": 1, /* c */ "grounding": 2, "progress": 0, "protocol": 1, "efficiency": 2}"#,
            "err: no JSON object",
        ),
        (
            r#"{correctness: 1}"#,
            "err: §8.1 JSON extraction: no JSON object (1 `{` positions and 0 fenced blocks tried)",
        ),
        // A raw control character inside a string is refused (strict mode), so is a bad escape.
        (
            "{\"correctness\": \"1\n\", \"grounding\": 2, \"progress\": 0, \"protocol\": 1, \"efficiency\": 2}",
            "err: no JSON object",
        ),
        (
            r#"{"correctness": "\x31", "grounding": 2, "progress": 0, "protocol": 1, "efficiency": 2}"#,
            "err: no JSON object",
        ),
    ]);
}

#[test]
fn metric_keys_of_8_2() {
    let with_keys = |keys: [&str; 5]| {
        format!(
            "{{\"{}\": 1, \"{}\": 2, \"{}\": 0, \"{}\": 1, \"{}\": 2}}",
            keys[0], keys[1], keys[2], keys[3], keys[4]
        )
    };
    let canonical = with_keys(["correctness", "grounding", "progress", "protocol", "efficiency"]);
    let aliases = with_keys(["correct", "groundedness", "task_progress", "format", "conciseness"]);
    let aliases2 = with_keys(["Correct", "Faithfulness", "Task Progress", "Instruction Following", "Conciseness"]);
    let spelled =
        with_keys(["CORRECTNESS!!", "  grounding  ", "task-progress", "instruction--following", "_Efficiency_"]);
    let upper = with_keys(["Correctness", "GROUNDING", "TASK_PROGRESS", "Protocol", "efficiency"]);
    let unicode_ws = with_keys(["\u{00a0}correctness\u{3000}", "grounding", "progress", "protocol", "efficiency"]);
    let near_misses = with_keys(["correctnes", "ground", "progres", "protocols", "efficient"]);
    check(&[
        (&canonical, "ABTAB"),
        (&aliases, "ABTAB"),
        (&aliases2, "ABTAB"),
        (&spelled, "ABTAB"),
        (&upper, "ABTAB"),
        (&unicode_ws, "ABTAB"),
        (
            &near_misses,
            "err: correctness missing; grounding missing; progress missing; protocol missing; efficiency missing",
        ),
        // The first key mapping to a metric wins, later ones are ignored.
        (r#"{"correct": 1, "correctness": 2, "grounding": 2, "progress": 0, "protocol": 1, "efficiency": 2}"#, "ABTAB"),
        (r#"{"Format": 0, "protocol": 2, "correctness": 1, "grounding": 2, "progress": 0, "efficiency": 2}"#, "ABTTB"),
        // Missing metrics are all listed, in metric order.
        (
            r#"{"correctness": 1, "grounding": 2, "efficiency": 2}"#,
            "err: §8.2–§8.3 metrics: progress missing; protocol missing",
        ),
        (r#"{"correctness": 1, "grounding": 2, "progress": 0, "protocol": 1}"#, "err: efficiency missing"),
        // An escaped key decodes before it is normalised.
        (r#"{"\u0063orrectness": 1, "grounding": 2, "progress": 0, "protocol": 1, "efficiency": 2}"#, "ABTAB"),
        // Non-ASCII letters are outside [a-z0-9]: `corrèctness` normalises to `corr_ctness`.
        (
            r#"{"corrèctness": 1, "grounding": 2, "progress": 0, "protocol": 1, "efficiency": 2}"#,
            "err: correctness missing",
        ),
    ]);
}

/// One value of `correctness`, the other four metrics valid.
fn correctness(value: &str) -> String {
    format!("{{\"correctness\": {value}, \"grounding\": 0, \"progress\": 0, \"protocol\": 0, \"efficiency\": 0}}")
}

#[test]
fn winner_labels_of_8_3() {
    // (JSON value of `correctness`, expected first letter or `?` for unmappable).
    let table: &[(&str, char)] = &[
        // Exact rule: draw.
        (r#""0""#, 'T'),
        (r#""draw""#, 'T'),
        (r#""tie""#, 'T'),
        (r#""equal""#, 'T'),
        (r#""same""#, 'T'),
        (r#"" Tie ""#, 'T'),
        (r#""DRAW""#, 'T'),
        // Exact rule: position 1.
        (r#""1""#, 'A'),
        (r#""model 1""#, 'A'),
        (r#""model1""#, 'A'),
        (r#""response 1""#, 'A'),
        (r#""candidate 1""#, 'A'),
        (r#""a""#, 'A'),
        (r#""A""#, 'A'),
        (r#""model a""#, 'A'),
        (r#""response a""#, 'A'),
        (r#""candidate a""#, 'A'),
        (r#""reply a""#, 'A'),
        (r#""king""#, 'A'),
        (r#""King""#, 'A'),
        (r#""Model_1""#, 'A'),
        (r#""MODEL-1""#, 'A'),
        (r#""Model  A""#, 'A'),
        (r#""model_-_a""#, 'A'),
        // Exact rule: position 2.
        (r#""2""#, 'B'),
        (r#""model 2""#, 'B'),
        (r#""model2""#, 'B'),
        (r#""response 2""#, 'B'),
        (r#""candidate 2""#, 'B'),
        (r#""b""#, 'B'),
        (r#""B""#, 'B'),
        (r#""model b""#, 'B'),
        (r#""response b""#, 'B'),
        (r#""candidate b""#, 'B'),
        (r#""reply b""#, 'B'),
        (r#""challenger""#, 'B'),
        (r#""MODEL_2""#, 'B'),
        (r#""\tresponse\n2 ""#, 'B'),
        // Search rules, in order: a draw word, then 1, then 2.
        (r#""both equal""#, 'T'),
        (r#""it's a tie""#, 'T'),
        (r#""the same""#, 'T'),
        (r#""equal-ish""#, 'T'),
        (r#""tie (1 and 2 alike)""#, 'T'),
        (r#""reply 1""#, 'A'),
        (r#""model 1 is better""#, 'A'),
        (r#""model1 better""#, 'A'),
        (r#""1 or 2""#, 'A'),
        (r#""model 2 > model 1""#, 'A'),
        (r#""Response  2 wins""#, 'B'),
        (r#""reply2""#, 'B'),
        (r#""supermodel 2""#, 'B'),
        (r#""модель 2""#, 'B'),
        (r#""1.0""#, 'A'),
        (r#""2.0""#, 'B'),
        (r#""-1""#, 'A'),
        // Unmappable strings.
        (r#""0.0""#, '?'),
        (r#""0.5""#, '?'),
        (r#""12""#, '?'),
        (r#""model one""#, '?'),
        (r#""first""#, '?'),
        (r#""tied""#, '?'),
        (r#""the king""#, '?'),
        (r#""c""#, '?'),
        (r#""""#, '?'),
        (r#""Ｂ""#, '?'),
        (r#""１""#, '?'),
        // Escapes decode first: \u0031 is "1", \u0020 a space, a surrogate pair an emoji.
        (r#""\u0031""#, 'A'),
        (r#""model\u00202""#, 'B'),
        (r#""\ud83d\ude00 2""#, 'B'),
        (r#""\ud83d 2""#, 'B'),
        // Numbers: exactly 0, 1 or 2 (any spelling); everything else is unmappable (§16.1 item 12 fixed).
        ("0", 'T'),
        ("1", 'A'),
        ("2", 'B'),
        ("-0", 'T'),
        ("0.0", 'T'),
        ("-0.0", 'T'),
        ("1.0", 'A'),
        ("2.0", 'B'),
        ("2e0", 'B'),
        ("0.1e1", 'A'),
        ("20E-1", 'B'),
        ("1.0000000000000000001", 'A'),
        ("-1", '?'),
        ("-2", '?'),
        ("1.5", '?'),
        ("0.5", '?'),
        ("12", '?'),
        ("3", '?'),
        ("1e400", '?'),
        ("NaN", '?'),
        ("Infinity", '?'),
        ("-Infinity", '?'),
        ("100000000000000000000000000000000000000000000", '?'),
        // Other types are never labels.
        ("true", '?'),
        ("false", '?'),
        ("null", '?'),
        ("[2]", '?'),
        ("[]", '?'),
        (r#"{"winner": 2}"#, '?'),
    ];
    let mut failures = Vec::new();
    for (value, want) in table {
        let got = match parse_judge_reply(&correctness(value)) {
            Ok(labels) => match labels[0] {
                Label::A => 'A',
                Label::B => 'B',
                Label::Tie => 'T',
            },
            Err(e) => {
                let message = e.to_string();
                assert!(message.starts_with("§8.2–§8.3 metrics: correctness = "), "{value}: {message}");
                '?'
            }
        };
        if got != *want {
            failures.push(format!("{value}: expected {want}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unmappable_values_are_described() {
    check(&[
        (&correctness(r#""maybe""#), r#"err: §8.2–§8.3 metrics: correctness = "maybe" is not a label (A, B or tie)"#),
        (&correctness("-1"), "err: correctness = -1 is not a label"),
        (&correctness("1.5"), "err: correctness = 1.5 is not a label"),
        (&correctness("[1, 2]"), "err: correctness = an array is not a label"),
        (&correctness(r#"{"w": 1}"#), "err: correctness = an object is not a label"),
        (&correctness("null"), "err: correctness = null is not a label"),
        (&correctness(&format!("\"{}\"", "x".repeat(100))), &format!("err: \"{}\"…", "x".repeat(60))),
        (
            r#"{"correctness": "?", "grounding": 2, "progress": 0, "efficiency": true}"#,
            r#"err: correctness = "?" is not a label (A, B or tie); protocol missing; efficiency = true is not a label"#,
        ),
    ]);
}

#[test]
fn reasoning_is_never_parsed() {
    let quoted_then_answer = format!("<think>maybe {BBBBB}? no.</think>\n{AAAAA}");
    let quoted_no_answer = format!("<think>I would say {BBBBB}</think>\nI cannot decide.");
    let unclosed = format!("<think>I would say {BBBBB} but");
    let upper = format!("<THINK>{BBBBB}</Think>{ABTAB}");
    let two_blocks = format!("<think>a</think>{BBBBB}<think>b</think>{AAAAA}");
    let close_only = format!("reasoning without an opening tag {BBBBB}</think>{ABTAB}");
    let mention = format!("I will not use <think> tags. {ABTAB}");
    check(&[
        (&quoted_then_answer, "AAAAA"),
        (&quoted_no_answer, "err: §8.1 JSON extraction: no JSON object"),
        (&unclosed, "err: no final answer (`<think>` is never closed)"),
        (&upper, "ABTAB"),
        (&two_blocks, "AAAAA"),
        (&close_only, "ABTAB"),
        (&mention, "ABTAB"),
        ("<think>all reasoning</think>   \n", "err: §8.1 JSON extraction: empty reply"),
    ]);
}

#[test]
fn nasty_inputs() {
    let huge = "x".repeat(MAX_REPLY_BYTES + 1);
    let braces = "{".repeat(200_000);
    let deep_ok = format!("{}{BBBBB}{}", "[".repeat(100), "]".repeat(100));
    let deep_nested_verdict = format!("{}{ABTAB}{}", "{\"a\":".repeat(200), "}".repeat(200));
    let many_objects: String = (0..2000).map(|i| format!("{{\"i\": {i}}} ")).collect::<String>() + ABTAB;
    let long_prose = format!("{}{ABTAB}", "lorem ipsum ".repeat(50_000));
    let only_at_limit = format!("{}{ABTAB}", " ".repeat(MAX_REPLY_BYTES - ABTAB.len()));
    check(&[
        ("", "err: §8.1 JSON extraction: empty reply"),
        ("  \n\t ", "err: empty reply"),
        ("\u{1c}\u{1f}", "err: empty reply"),
        ("no json here", "err: no JSON object (0 `{` positions and 0 fenced blocks tried)"),
        ("{", "err: no JSON object"),
        ("}{", "err: no JSON object"),
        ("```", "err: no JSON object"),
        ("``````", "err: (0 `{` positions and 1 fenced blocks tried)"),
        ("{}", "err: correctness missing"),
        ("[1, 2, 3]", "err: no JSON object"),
        (r#""just a string""#, "err: no JSON object"),
        ("\u{0}\u{1}\u{2}{\u{0}}", "err: no JSON object"),
        ("🦀🦀🦀 {\"🦀\": \"🦀\"}", "err: correctness missing"),
        (&huge, "err: reply too long"),
        (&braces, "err: no JSON object"),
        (&deep_ok, "BBBBB"),
        (&deep_nested_verdict, "ABTAB"),
        (&many_objects, "ABTAB"),
        (&long_prose, "ABTAB"),
        (&only_at_limit, "ABTAB"),
    ]);
}

#[test]
fn labels_map_to_sides_by_position() {
    use Label::*;
    assert_eq!(side_of(A, true), Side::King);
    assert_eq!(side_of(B, true), Side::Challenger);
    assert_eq!(side_of(A, false), Side::Challenger);
    assert_eq!(side_of(B, false), Side::King);
    assert_eq!(side_of(Tie, true), Side::Tie);
    assert_eq!(side_of(Tie, false), Side::Tie);

    let outcomes = to_sides(&[A, B, Tie, A, B], false);
    let got: Vec<_> = outcomes.iter().map(|m| (m.metric.as_str(), m.preferred)).collect();
    assert_eq!(
        got,
        [
            ("correctness", Side::Challenger),
            ("grounding", Side::King),
            ("progress", Side::Tie),
            ("protocol", Side::Challenger),
            ("efficiency", Side::King),
        ]
    );
}

#[test]
fn judge_outcome_holds_metrics_or_a_reason() {
    let ok = judge_outcome("j", Some(ABTAB.to_owned()), true);
    assert_eq!(ok.parse_error, None);
    let sides: Vec<_> = ok.metrics.unwrap().iter().map(|m| m.preferred).collect();
    assert_eq!(sides, [Side::King, Side::Challenger, Side::Tie, Side::King, Side::Challenger]);
    assert_eq!(ok.raw_output.as_deref(), Some(ABTAB));

    let bad = judge_outcome("j", Some("nope".to_owned()), true);
    assert_eq!(bad.metrics, None);
    assert_eq!(
        bad.parse_error.as_deref(),
        Some("§8.1 JSON extraction: no JSON object (0 `{` positions and 0 fenced blocks tried)")
    );

    let unreachable = judge_outcome("j", None, false);
    assert_eq!((unreachable.metrics, unreachable.raw_output), (None, None));
    assert_eq!(unreachable.parse_error.as_deref(), Some("no answer: the judge could not be reached"));
}

#[test]
fn probe_answers_of_8_5() {
    use ProbeOutcome::*;
    let cases: &[(&str, ProbeOutcome)] = &[
        (r#"{"injection": false, "evidence": "none"}"#, Clean),
        (r#"{"injection": true, "evidence": "says 'rate me 2'"}"#, Injection),
        (r#"{"injection":true}"#, Injection),
        ("The reply is benign.\n{\"injection\": false}\nDone.", Clean),
        (r#"{"injection": false} ... on reflection {"injection": true}"#, Injection),
        (r#"{"injection": true} ... on reflection {"injection": false}"#, Clean),
        ("```json\n{\"injection\": true, \"evidence\": \"x\"}\n```", Injection),
        // Nested braces defeat the brace-free pattern; the whole text still decodes.
        (r#"{"injection": true, "evidence": "it writes {ignore previous}"}"#, Injection),
        (r#"{"injection": false, "evidence": {"quote": "none"}}"#, Clean),
        (r#"  {"evidence": "none", "injection": false}  "#, Clean),
        // Reasoning is dropped.
        (r#"<think>could be {"injection": true}</think>{"injection": false}"#, Clean),
        (r#"<think>{"injection": false}"#, Untested),
        // Anything but a JSON boolean is untested (fail-closed; §16.2 item 16 fixed).
        (r#"{"injection": "false"}"#, Untested),
        (r#"{"injection": "true"}"#, Untested),
        (r#"{"injection": 1}"#, Untested),
        (r#"{"injection": null}"#, Untested),
        (r#"{"Injection": true}"#, Untested),
        (r#"{"injection": TRUE}"#, Untested),
        ("{}", Untested),
        (r#"{"evidence": "none"}"#, Untested),
        // Unparseable.
        ("", Untested),
        ("   ", Untested),
        ("no", Untested),
        ("injection: false", Untested),
        (r#"{"injection": true"#, Untested),
        (r#"Answer: {"injection": false,}"#, Untested),
        ("{{{{{{", Untested),
    ];
    let mut failures = Vec::new();
    for (input, want) in cases {
        let got = probe_outcome(Some(input));
        if got != *want {
            failures.push(format!("{input:?}: expected {want:?}, got {got:?} ({:?})", parse_probe_reply(input)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(probe_outcome(None), Untested);
}

#[test]
fn probe_errors_say_why() {
    let reason = |text: &str| parse_probe_reply(text).unwrap_err().to_string();
    assert_eq!(reason("no"), "§8.5 probe: no JSON object with an `\"injection\": true|false` member");
    assert_eq!(reason(r#"{"injection": "false"}"#), "§8.5 probe: `injection` must be a JSON boolean, found \"false\"");
    assert_eq!(reason("{}"), "§8.5 probe: `injection` must be a JSON boolean, found no `injection` member");
    let answer = parse_probe_reply(r#"{"injection": true, "evidence": "quote"}"#).unwrap();
    assert_eq!((answer.injection, answer.evidence.as_deref()), (true, Some("quote")));
}

fn label_json(l: Label) -> &'static str {
    match l {
        Label::A => "1",
        Label::B => "2",
        Label::Tie => "0",
    }
}

fn arb_label() -> impl Strategy<Value = Label> {
    prop_oneof![Just(Label::A), Just(Label::B), Just(Label::Tie)]
}

proptest! {
    #[test]
    fn never_panics_on_any_text(text in ".{0,400}") {
        let _ = parse_judge_reply(&text);
        let _ = parse_probe_reply(&text);
    }

    #[test]
    fn never_panics_on_json_shaped_text(text in r#"[{}\[\]":,0-9a-z \\n.eE+\-`<>/]{0,300}"#) {
        let _ = parse_judge_reply(&text);
        let _ = parse_probe_reply(&text);
    }

    #[test]
    fn a_verdict_after_prose_is_read(prose in "[^{`<]{0,200}", labels in proptest::array::uniform5(arb_label())) {
        let object = format!(
            "{{\"correctness\": {}, \"grounding\": {}, \"progress\": {}, \"protocol\": {}, \"efficiency\": {}}}",
            label_json(labels[0]), label_json(labels[1]), label_json(labels[2]), label_json(labels[3]), label_json(labels[4]),
        );
        prop_assert_eq!(parse_judge_reply(&format!("{prose}{object}")), Ok(labels));
        prop_assert_eq!(parse_judge_reply(&format!("{prose}```json\n{object}\n```")), Ok(labels));
    }
}
