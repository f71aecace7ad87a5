//! dashboard.json stays schema-compatible with the reference (validator.md §14.2–§14.3): every
//! key a consumer reads is there, with its type. Checked on the fixture competition's output.

use albedo_ledger::{ENTRY_VERSION, Envelope, Hash32};
use albedo_projections::dashboard::Dashboard;
use albedo_projections::fixture::small_competition;
use albedo_projections::views::{Until, Views};
use serde_json::Value;

fn views(until: Option<Until>) -> Views {
    let entries = small_competition().into_iter().enumerate().map(|(seq, d)| {
        let env = Envelope {
            v: ENTRY_VERSION,
            seq: seq as u64,
            prev: Hash32::ZERO,
            time_ms: d.time_ms,
            block: d.block,
            event: d.event,
        };
        Ok::<_, ()>((env, Hash32::of(&seq.to_le_bytes())))
    });
    Views::fold(entries, until).unwrap()
}

fn dashboard() -> Value {
    serde_json::from_slice(&Dashboard::build(&views(None)).to_json_bytes()).unwrap()
}

#[derive(Clone, Copy, Debug)]
enum T {
    Str,
    Int,
    Num,
    Bool,
    Arr,
    Obj,
    StrOrNull,
    IntOrNull,
    NumOrNull,
    ObjOrNull,
}

fn has_type(v: &Value, t: T) -> bool {
    match t {
        T::Str => v.is_string(),
        T::Int => v.is_u64() || v.is_i64(),
        T::Num => v.is_number(),
        T::Bool => v.is_boolean(),
        T::Arr => v.is_array(),
        T::Obj => v.is_object(),
        T::StrOrNull => v.is_string() || v.is_null(),
        T::IntOrNull => v.is_u64() || v.is_null(),
        T::NumOrNull => v.is_number() || v.is_null(),
        T::ObjOrNull => v.is_object() || v.is_null(),
    }
}

fn check(obj: &Value, what: &str, keys: &[(&str, T)]) {
    for (key, t) in keys {
        let v = obj.get(*key).unwrap_or_else(|| panic!("{what} lacks `{key}`: {obj:#}"));
        assert!(has_type(v, *t), "{what}.{key} should be {t:?}, is {v}");
    }
}

const KING_ROW: [(&str, T); 16] = [
    ("hotkey", T::Str),
    ("model_repo", T::Str),
    ("model_digest", T::Str),
    ("block", T::Int),
    ("crowned_block", T::Int),
    ("challenge_id", T::Str),
    ("dethrone_judges", T::Arr),
    ("crown_judges", T::Arr),
    ("crowned_at", T::Str),
    ("uid", T::IntOrNull),
    ("coldkey", T::Str),
    ("registered", T::Bool),
    ("reign_number", T::Int),
    ("weight", T::NumOrNull),
    ("weight_share", T::NumOrNull),
    ("judges", T::Arr),
];

#[test]
fn every_reference_key_is_there_with_its_type() {
    let d = dashboard();
    check(
        &d,
        "dashboard",
        &[
            ("updated_at", T::Str),
            ("chain", T::Obj),
            ("king", T::ObjOrNull),
            ("king_chain", T::Arr),
            ("queue", T::Arr),
            ("queue_len", T::Int),
            ("seen_count", T::Int),
            ("counter", T::Int),
            ("current_eval", T::ObjOrNull),
            ("stats", T::Obj),
            ("history", T::Arr),
            ("ts", T::Str),
        ],
    );
    check(
        &d["chain"],
        "chain",
        &[
            ("name", T::Str),
            ("seed_repo", T::Str),
            ("seed_digest", T::Str),
            ("judge_models", T::Arr),
            ("judge_model", T::Str),
            ("judge_tie_band", T::Num),
            ("dataset_repo", T::Str),
            ("dataset_shard_glob", T::Str),
            ("king_chain_depth", T::Int),
            ("netuid", T::Int),
            ("display_start_block", T::Int),
        ],
    );
    check(&d["king"], "king", &KING_ROW);
    for k in d["king_chain"].as_array().unwrap() {
        check(k, "king_chain[]", &KING_ROW);
    }
    check(
        &d["stats"],
        "stats",
        &[
            ("queued", T::Int),
            ("accepted", T::Int),
            ("rejected", T::Int),
            ("failed", T::Int),
            ("injection_attempts", T::Int),
            ("duplicates", T::Int),
        ],
    );
    check(
        &d["current_eval"],
        "current_eval",
        &[
            ("hotkey", T::Str),
            ("block", T::Int),
            ("model_repo", T::Str),
            ("model_digest", T::Str),
            ("eval_id", T::Str),
            ("enqueued_at", T::Num),
            ("phase", T::Str),
            ("n_total", T::Int),
            ("n_done", T::Int),
            ("mean_delta", T::Num),
            ("challenge_id", T::Str),
            ("uid", T::IntOrNull),
            ("queued_at", T::Str),
        ],
    );
    let history = d["history"].as_array().unwrap();
    let verdicts: Vec<&Value> = history.iter().filter(|h| h["type"] == "verdict").collect();
    let failures: Vec<&Value> = history.iter().filter(|h| h["type"] == "failure").collect();
    assert_eq!(verdicts.len() + failures.len(), history.len(), "every record is a verdict or a failure");
    assert!(!verdicts.is_empty() && !failures.is_empty());
    for v in verdicts {
        check(
            v,
            "verdict record",
            &[
                ("type", T::Str),
                ("eval_id", T::Str),
                ("hotkey", T::Str),
                ("model_repo", T::Str),
                ("model_digest", T::Str),
                ("uid", T::IntOrNull),
                ("accepted", T::Bool),
                ("judges", T::Arr),
                ("n_turns", T::Int),
                ("n_valid_turns", T::Int),
                ("n_vllm_errors", T::Int),
                ("chal_mean", T::Num),
                ("king_mean", T::Num),
                ("mean_delta", T::Num),
                ("lcb", T::Bool),
                ("winner", T::Str),
                ("king_hotkey", T::StrOrNull),
                ("king_model_repo", T::StrOrNull),
                ("king_model_digest", T::StrOrNull),
                ("king_reign_number", T::IntOrNull),
                ("completed_at", T::Str),
                ("ts", T::Num),
                ("verdict", T::Obj),
            ],
        );
        for j in v["judges"].as_array().unwrap() {
            check(
                j,
                "verdict record judge",
                &[("model", T::Str), ("chal_mean", T::Num), ("king_mean", T::Num), ("outcome", T::Str)],
            );
        }
        check(
            &v["verdict"],
            "verdict",
            &[
                ("eval_id", T::Str),
                ("accepted", T::Bool),
                ("n_done", T::Int),
                ("n_valid", T::Int),
                ("vllm_errors", T::Int),
                ("challenger_score", T::NumOrNull),
                ("king_score", T::NumOrNull),
                ("winner", T::Str),
                ("by_judge", T::Obj),
                ("by_metric", T::Obj),
                ("win_margin", T::Num),
                ("margin_ok", T::Bool),
                ("mean_delta", T::Num),
                ("lcb", T::Num),
                ("se", T::Num),
                ("gate_alpha", T::Num),
                ("gate_lcb", T::Bool),
                ("judge_models", T::Arr),
            ],
        );
        // The additions auditors need.
        check(
            v,
            "verdict record",
            &[
                ("lcb_value", T::Num),
                ("seed_hex", T::Str),
                ("seed_block_hash", T::Str),
                ("samples_digest", T::Str),
                ("commitment_block", T::Int),
            ],
        );
    }
    for f in failures {
        check(
            f,
            "failure record",
            &[
                ("type", T::Str),
                ("eval_id", T::Str),
                ("hotkey", T::Str),
                ("uid", T::IntOrNull),
                ("model_repo", T::Str),
                ("model_digest", T::Str),
                ("block", T::Int),
                ("code", T::Str),
                ("detail", T::Str),
                ("error_code", T::Str),
                ("error_detail", T::Str),
                ("is_injection", T::Bool),
                ("is_duplicate", T::Bool),
                ("completed_at", T::Str),
                ("ts", T::Num),
            ],
        );
    }
    check(
        &d["ledger"],
        "ledger",
        &[("size", T::Int), ("head_seq", T::Int), ("head_hash", T::Str), ("checkpoint", T::ObjOrNull)],
    );
    check(&d, "dashboard", &[("config_sha256", T::Str)]);
}

#[test]
fn the_fixture_dashboard_says_what_happened() {
    let d = dashboard();
    assert_eq!(d["king"]["model_repo"], "dave/albedo-qwen3-4b-long");
    assert_eq!(d["king"]["reign"], 2);
    assert_eq!(d["king"]["reign_number"], 2, "relative: two past kings in the chain");
    assert_eq!(d["king_chain"][0]["model_repo"], "alice/albedo-qwen3-4b-sft1");
    assert_eq!(d["king_chain"][1]["challenge_id"], "genesis");
    assert_eq!(d["king_chain"][1]["hotkey"], "", "the genesis king has no hotkey and never earns");
    assert_eq!(d["king_chain"][1]["weight"], Value::Null);
    assert_eq!(d["king"]["weight_share"], 0.5);
    assert_eq!(d["current_eval"]["eval_id"], "eval-000006");
    assert_eq!(d["current_eval"]["n_done"], 9);
    assert_eq!(d["current_eval"]["n_total"], 24);
    assert_eq!(d["history"][0]["type"], "failure", "newest first: the Python-files refusal");
    assert_eq!(d["history"][0]["code"], "admission_rejected");
    let dup = d["history"].as_array().unwrap().iter().find(|h| h["code"] == "duplicate_model").unwrap();
    assert_eq!(dup["is_duplicate"], true);
    assert_eq!(d["stats"]["accepted"], 2);
    assert_eq!(d["stats"]["duplicates"], 1);
    assert_eq!(d["queue_len"], 0);
    assert_eq!(d["updated_at"], d["ts"]);
}

#[test]
fn until_rebuilds_the_dashboard_as_it_stood() {
    let full = small_competition().len() as u64;
    let at_end = Dashboard::build(&views(Some(Until::Seq(full - 1)))).to_json_bytes();
    assert_eq!(at_end, Dashboard::build(&views(None)).to_json_bytes(), "--until at the last seq equals a full build");
    // Before the first crown, the genesis king reigns.
    let early: Value = serde_json::from_slice(&Dashboard::build(&views(Some(Until::Seq(12)))).to_json_bytes()).unwrap();
    assert_eq!(early["king"]["challenge_id"], "genesis");
    assert_eq!(early["ledger"]["size"], 13);
    // By time: one minute after the start, only the first entries.
    let t = albedo_projections::fixture::START_MS + 60_000;
    let by_time: Value =
        serde_json::from_slice(&Dashboard::build(&views(Some(Until::TimeMs(t)))).to_json_bytes()).unwrap();
    assert!(by_time["ledger"]["size"].as_u64().unwrap() < 10);
}
