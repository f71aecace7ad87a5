//! Tokenizer hygiene (validator.md §17.2, eval.md §12.2): the plan for a model folder, one
//! change at a time and all together, its byte format, errors, and idempotence.

use albedo_ledger::Hash32;
use albedo_projections::hygiene::{
    HygieneError, HygienePlan, QWEN3_CHAT_TEMPLATE, encode_tokenizer_config, evaluated_files, is_template_override,
    plan_hygiene,
};
use serde_json::{Value, json};

const T: &str = "{{ canonical }}";

fn files(paths: &[&str]) -> Vec<String> {
    paths.iter().map(|p| p.to_string()).collect()
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// A config hygiene leaves alone.
fn clean() -> Value {
    json!({"chat_template": T, "trust_remote_code": false, "model_max_length": 131072, "eos_token": "<|im_end|>"})
}

fn plan(config: &Value) -> HygienePlan {
    plan_hygiene(&files(&["config.json", "tokenizer_config.json"]), Some(&bytes(config)), T).unwrap()
}

/// The rewritten config, parsed back.
fn rewritten(plan: &HygienePlan) -> Value {
    serde_json::from_slice(plan.tokenizer_config.as_deref().expect("a rewrite")).unwrap()
}

fn with(mut base: Value, key: &str, value: Option<Value>) -> Value {
    match value {
        Some(v) => base[key] = v,
        None => {
            base.as_object_mut().unwrap().remove(key);
        }
    }
    base
}

#[test]
fn the_canonical_template_is_pinned() {
    // validator.md §17.2: the template every evaluated model gets. Changing it changes every
    // evaluation: a new file is a deliberate change of this hash.
    assert_eq!(
        Hash32::of(QWEN3_CHAT_TEMPLATE.as_bytes()).to_hex(),
        "a55ee1b1660128b7098723e0abcd92caa0788061051c62d51cbe87d9cf1974d8"
    );
    assert_eq!(QWEN3_CHAT_TEMPLATE.len(), 4168);
    assert!(QWEN3_CHAT_TEMPLATE.starts_with("{%- if tools %}"));
    assert!(QWEN3_CHAT_TEMPLATE.ends_with("{%- endif %}"), "no trailing newline");
    for needle in [
        "ns.multi_step_tool",
        "ns.last_query_index",
        "reasoning_content",
        "{{- '<|im_start|>assistant\\n' }}",
        concat!(
            "{%- if enable_thinking is defined and enable_thinking is false %}\n",
            "        {{- '<think>\\n\\n</think>\\n\\n' }}"
        ),
    ] {
        assert!(QWEN3_CHAT_TEMPLATE.contains(needle), "{needle}");
    }
}

#[test]
fn an_already_clean_folder_needs_nothing() {
    let p = plan(&clean());
    assert_eq!(p, HygienePlan { tokenizer_config: None, remove: vec![], changes: vec![] });
    assert!(p.is_noop());
}

#[test]
fn each_change_alone() {
    let d = Hash32::of(T.as_bytes());
    let old = Hash32::of(b"{{ miner }}");
    // (config, the one change sentence, the rewritten config)
    let cases: Vec<(Value, String)> = vec![
        (
            with(clean(), "chat_template", Some(json!("{{ miner }}"))),
            format!(
                "set chat_template to the canonical template, SHA-256 {d} (it was a different template, SHA-256 {old})"
            ),
        ),
        (
            with(clean(), "chat_template", None),
            format!("set chat_template to the canonical template, SHA-256 {d} (it was absent)"),
        ),
        (
            with(clean(), "chat_template", Some(json!([{"name": "default", "template": "x"}]))),
            format!("set chat_template to the canonical template, SHA-256 {d} (it was not a string but an array)"),
        ),
        (
            with(clean(), "auto_map", Some(json!({"AutoTokenizer": ["tok.Tok", null]}))),
            r#"deleted auto_map (it was {"AutoTokenizer":["tok.Tok",null]})"#.to_string(),
        ),
        (with(clean(), "auto_map", Some(Value::Null)), "deleted auto_map (it was null)".to_string()),
        (with(clean(), "trust_remote_code", None), "set trust_remote_code to false (it was absent)".to_string()),
        (
            with(clean(), "trust_remote_code", Some(json!(true))),
            "set trust_remote_code to false (it was true)".to_string(),
        ),
        // Only the JSON boolean false is false: 0, "false" and null are replaced.
        (with(clean(), "trust_remote_code", Some(json!(0))), "set trust_remote_code to false (it was 0)".to_string()),
        (
            with(clean(), "trust_remote_code", Some(json!("false"))),
            r#"set trust_remote_code to false (it was "false")"#.to_string(),
        ),
        (
            with(clean(), "trust_remote_code", Some(Value::Null)),
            "set trust_remote_code to false (it was null)".to_string(),
        ),
    ];
    for (config, sentence) in cases {
        let p = plan(&config);
        assert_eq!(p.changes, [sentence], "{config}");
        assert!(p.remove.is_empty());
        assert_eq!(rewritten(&p), clean(), "{config}");
    }
}

#[test]
fn all_changes_together_in_the_references_order() {
    let config = json!({
        "chat_template": "{{ miner }}", "auto_map": {"AutoTokenizer": "x.Y"}, "trust_remote_code": true,
        "model_max_length": 131072, "eos_token": "<|im_end|>",
    });
    let p = plan_hygiene(
        &files(&["tokenizer_config.json", "chat_template.jinja", "model.safetensors", "chat_template.json"]),
        Some(&bytes(&config)),
        T,
    )
    .unwrap();
    assert_eq!(rewritten(&p), clean());
    assert_eq!(p.remove, ["chat_template.jinja", "chat_template.json"]);
    let starts: Vec<String> = p.changes.iter().map(|c| c.split(' ').take(2).collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(
        starts,
        [
            "set chat_template",
            "deleted auto_map",
            "set trust_remote_code",
            "deleted chat_template.jinja:",
            "deleted chat_template.json:"
        ]
    );
    assert_eq!(
        p.changes[3],
        "deleted chat_template.jinja: a template file overrides the chat_template of tokenizer_config.json"
    );
}

#[test]
fn override_files_are_listed_sorted_even_when_the_config_is_clean() {
    let folder = files(&[
        "model-00002-of-00002.safetensors",
        "additional_chat_templates/tool_use.jinja",
        "chat_template.json",
        "tokenizer_config.json",
        "additional_chat_templates/a.jinja",
        "chat_template.jinja",
        "nested/chat_template.jinja",
        "chat_template.jinja.bak",
        "additional_chat_templates/a.jinja",
    ]);
    let p = plan_hygiene(&folder, Some(&bytes(&clean())), T).unwrap();
    assert_eq!(p.tokenizer_config, None, "the config is left as downloaded");
    assert_eq!(
        p.remove,
        [
            "additional_chat_templates/a.jinja",
            "additional_chat_templates/tool_use.jinja",
            "chat_template.jinja",
            "chat_template.json",
        ]
    );
    assert_eq!(p.changes.len(), 4);
    assert!(!p.is_noop());
}

#[test]
fn template_overrides_are_root_files_only() {
    for (path, is) in [
        ("chat_template.jinja", true),
        ("chat_template.json", true),
        ("additional_chat_templates/x.jinja", true),
        ("additional_chat_templates/", false),
        ("additional_chat_templates", false),
        ("sub/chat_template.jinja", false),
        ("tokenizer_config.json", false),
        ("chat_template.jinja2", false),
    ] {
        assert_eq!(is_template_override(path), is, "{path}");
    }
}

#[test]
fn the_rewrite_is_two_space_sorted_utf8_json_without_a_trailing_newline() {
    let config =
        json!({"zeta": 1, "chat_template": "{{ miner }}", "alpha": {"b": [1, 2.5, {"y": null, "x": true}], "a": {}}});
    let p = plan(&config);
    let text = String::from_utf8(p.tokenizer_config.unwrap()).unwrap();
    let expected = [
        "{",
        "  \"alpha\": {",
        "    \"a\": {},",
        "    \"b\": [",
        "      1,",
        "      2.5,",
        "      {",
        "        \"x\": true,",
        "        \"y\": null",
        "      }",
        "    ]",
        "  },",
        &format!("  \"chat_template\": {},", serde_json::to_string(T).unwrap()),
        "  \"trust_remote_code\": false,",
        "  \"zeta\": 1",
        "}",
    ]
    .join("\n");
    assert_eq!(text, expected);
}

#[test]
fn non_ascii_is_kept_as_utf8() {
    let config = with(clean(), "trust_remote_code", None);
    let config = with(config, "bos_token", Some(json!("«ü» 中文 😀 \u{2028}")));
    let p = plan(&config);
    let text = String::from_utf8(p.tokenizer_config.clone().unwrap()).unwrap();
    assert!(text.contains("\"bos_token\": \"«ü» 中文 😀 \u{2028}\""), "{text}");
    assert!(!text.contains("\\u"), "no \\u escapes: {text}");
    assert_eq!(rewritten(&p)["bos_token"], json!("«ü» 中文 😀 \u{2028}"));
}

#[test]
fn the_canonical_template_survives_the_round_trip_exactly() {
    let config = json!({"chat_template": "{{ miner }}", "trust_remote_code": false});
    let p = plan_hygiene(&files(&["tokenizer_config.json"]), Some(&bytes(&config)), QWEN3_CHAT_TEMPLATE).unwrap();
    assert_eq!(rewritten(&p)["chat_template"].as_str(), Some(QWEN3_CHAT_TEMPLATE));
}

#[test]
fn errors_name_the_tokenizer_config() {
    let folder = files(&["config.json", "chat_template.jinja"]);
    let cases: [(Option<&[u8]>, HygieneError); 5] = [
        (None, HygieneError::MissingTokenizerConfig),
        (Some(b"[1, 2]"), HygieneError::NotObject),
        (Some(b"\"text\""), HygieneError::NotObject),
        (Some(b"null"), HygieneError::NotObject),
        (Some(b""), HygieneError::NotJson { message: String::new() }),
    ];
    for (input, expected) in cases {
        let err = plan_hygiene(&folder, input, T).unwrap_err();
        assert_eq!(std::mem::discriminant(&err), std::mem::discriminant(&expected), "{err}");
        assert!(err.to_string().contains("tokenizer_config.json"), "{err}");
    }
    for garbage in
        [&b"{\"chat_template\": "[..], b"{'single': 1}", b"{\"a\": NaN}", b"\xef\xbb\xbf{}", b"{} {}", b"\xff"]
    {
        match plan_hygiene(&folder, Some(garbage), T) {
            Err(HygieneError::NotJson { message }) => assert!(!message.is_empty()),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(garbage)),
        }
    }
    assert_eq!(HygieneError::MissingTokenizerConfig.to_string(), "the model has no tokenizer_config.json");
    assert_eq!(HygieneError::NotObject.to_string(), "tokenizer_config.json is not a JSON object");
    let e = plan_hygiene(&folder, Some(b"{"), T).unwrap_err();
    assert!(e.to_string().starts_with("tokenizer_config.json is not JSON: EOF while parsing"), "{e}");
}

#[test]
fn hygiene_is_idempotent_and_deterministic() {
    let configs = [
        json!({"chat_template": "{{ miner }}", "auto_map": {"a": "b"}, "trust_remote_code": true, "x": "ü"}),
        json!({}),
        json!({"nested": {"z": 1, "a": [{"k": 1e-6}]}, "trust_remote_code": 1}),
        clean(),
    ];
    let folder = files(&["tokenizer_config.json", "chat_template.jinja"]);
    for config in configs {
        let first = plan_hygiene(&folder, Some(&bytes(&config)), QWEN3_CHAT_TEMPLATE).unwrap();
        assert_eq!(plan_hygiene(&folder, Some(&bytes(&config)), QWEN3_CHAT_TEMPLATE).unwrap(), first, "{config}");
        // Apply the plan: write the config, delete the files; planning again finds nothing.
        let after = first.tokenizer_config.clone().unwrap_or_else(|| bytes(&config));
        let left: Vec<String> = folder.iter().filter(|f| !first.remove.contains(f)).cloned().collect();
        let again = plan_hygiene(&left, Some(&after), QWEN3_CHAT_TEMPLATE).unwrap();
        assert!(again.is_noop(), "{config}: {again:?}");
        assert!(again.changes.is_empty());
    }
}

#[test]
fn key_order_of_the_input_does_not_change_the_output() {
    let a = br#"{"b": 1, "a": {"y": 2, "x": 3}, "trust_remote_code": true}"#;
    let b = br#"{"a": {"x": 3, "y": 2}, "trust_remote_code": true, "b": 1}"#;
    let (pa, pb) = (plan_hygiene(&[], Some(a), T).unwrap(), plan_hygiene(&[], Some(b), T).unwrap());
    assert_eq!(pa, pb);
    let config: serde_json::Map<String, Value> = serde_json::from_slice(a).unwrap();
    assert!(encode_tokenizer_config(&config).starts_with(b"{\n  \"a\": {\n    \"x\": 3,"));
}

#[test]
fn the_evaluated_files_record_what_changed_from_the_manifest() {
    let h = |s: &str| Hash32::of(s.as_bytes());
    let committed = vec![
        ("tokenizer_config.json".to_string(), h("committed config")),
        ("model.safetensors".to_string(), h("weights")),
        ("chat_template.jinja".to_string(), h("miner template")),
        ("config.json".to_string(), h("config")),
    ];
    let loaded = vec![
        ("tokenizer_config.json".to_string(), 10, h("rewritten config")),
        ("model.safetensors".to_string(), 8, h("weights")),
        ("config.json".to_string(), 6, h("config")),
        ("extra.txt".to_string(), 1, h("?")),
    ];
    let changes = vec!["set trust_remote_code to false (it was absent)".to_string()];
    let e = evaluated_files(&committed, &loaded, &changes);
    let rows: Vec<(&str, u64, bool, Option<bool>)> = e
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.size, f.sha256 == h("weights"), f.committed_sha256.map(|c| c == f.sha256)))
        .collect();
    assert_eq!(
        rows,
        [
            ("config.json", 6, false, Some(true)),
            ("extra.txt", 1, false, None),
            ("model.safetensors", 8, true, Some(true)),
            ("tokenizer_config.json", 10, false, Some(false)),
        ]
    );
    assert_eq!(e.removed, ["chat_template.jinja"]);
    assert_eq!(e.changes, changes);
}
