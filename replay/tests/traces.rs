//! `albedo-replay verdict --traces`: the replies the ledger records by hash must be in the
//! published trace, byte for byte (the fixture hashes "king <eval> <turn>" / "chal <eval> <turn>").

use std::path::Path;
use std::process::{Command, Output};

use albedo_ledger::Store;
use albedo_projections::fixture::small_competition;

const EVAL: &str = "eval-000001";

fn ledger(dir: &Path) -> String {
    let mut store = Store::create(dir).unwrap();
    store.append_batch(small_competition()).unwrap();
    dir.to_str().unwrap().to_string()
}

/// A trace directory for EVAL's 24 turns; `edit` may change a (file, turn, reply) line or drop it.
fn traces(dir: &Path, edit: impl Fn(&str, u32, String) -> Option<String>) -> String {
    for (file, who) in [("responses_champion.jsonl", "king"), ("responses_challenger.jsonl", "chal")] {
        let lines: Vec<String> = (0..24)
            .filter_map(|t| edit(file, t, format!("{who} {EVAL} {t}")).map(|reply| (t, reply)))
            .map(|(t, reply)| {
                serde_json::json!({"eval_id": EVAL, "global_idx": t, "turn_idx": 1, "reply": reply}).to_string()
            })
            .collect();
        std::fs::write(dir.join(file), lines.join("\n") + "\n").unwrap();
    }
    dir.to_str().unwrap().to_string()
}

fn verdict(ledger: &str, traces: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albedo-replay"))
        .args(["verdict", "--ledger", ledger, EVAL, "--traces", traces])
        .output()
        .unwrap()
}

#[test]
fn the_published_replies_match_the_ledgers_hashes() {
    let tmp = tempfile::tempdir().unwrap();
    let l = ledger(&tmp.path().join("l"));
    let t = tmp.path().join("t");
    std::fs::create_dir(&t).unwrap();
    let out = verdict(&l, &traces(&t, |_, _, r| Some(r)));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("traces: 24 king and 24 challenger replies match"), "{stdout}");
}

/// Changes a trace line: (file, turn, reply) → the reply to write, or `None` to drop the line.
type Edit = dyn Fn(&str, u32, String) -> Option<String>;

#[test]
fn a_changed_missing_or_extra_reply_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let l = ledger(&tmp.path().join("l"));
    let cases: [(&str, Box<Edit>); 2] = [
        (
            "turn 7: the challenger reply in the trace hashes to",
            Box::new(|f, t, r| Some(if f.contains("challenger") && t == 7 { format!("{r}!") } else { r })),
        ),
        (
            "turn 3: the king reply the ledger records is missing from the trace",
            Box::new(|f, t, r| (!(f.contains("champion") && t == 3)).then_some(r)),
        ),
    ];
    for (i, (expect, edit)) in cases.into_iter().enumerate() {
        let t = tmp.path().join(format!("t{i}"));
        std::fs::create_dir(&t).unwrap();
        let out = verdict(&l, &traces(&t, edit));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "case {i}: {stdout}");
        assert!(stdout.contains(expect), "case {i}: {stdout}");
    }
    let t = tmp.path().join("extra");
    std::fs::create_dir(&t).unwrap();
    traces(&t, |_, _, r| Some(r));
    let mut king = std::fs::read_to_string(t.join("responses_champion.jsonl")).unwrap();
    king.push_str(&serde_json::json!({"eval_id": EVAL, "global_idx": 99, "reply": "x"}).to_string());
    std::fs::write(t.join("responses_champion.jsonl"), king).unwrap();
    let out = verdict(&l, t.to_str().unwrap());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("turn 99: the trace has a king reply for a turn the ledger never judged")
    );
    std::fs::write(t.join("responses_challenger.jsonl"), "{not json\n").unwrap();
    let out = verdict(&l, t.to_str().unwrap());
    assert!(String::from_utf8_lossy(&out.stderr).contains("responses_challenger.jsonl line 1: not JSON"));
    std::fs::write(t.join("responses_challenger.jsonl"), "{\"eval_id\": \"eval-000001\"}\n").unwrap();
    let out = verdict(&l, t.to_str().unwrap());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs `eval_id`, `global_idx` and `reply`"));
    std::fs::remove_file(t.join("responses_challenger.jsonl")).unwrap();
    let out = verdict(&l, t.to_str().unwrap());
    assert!(String::from_utf8_lossy(&out.stderr).contains("responses_challenger.jsonl is not in the trace directory"));
}
