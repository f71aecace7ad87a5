//! The audit catches a validator that lies consistently: entries rewritten and the hash chain
//! re-linked, so `verify` passes, but what an entry claims no longer follows from the rest.

use std::ops::ControlFlow;
use std::path::Path;
use std::process::Command;

use albedo_ledger::event::*;
use albedo_ledger::{Draft, Event, Store};
use albedo_projections::fixture::small_competition;
use albedo_replay::audit::{Auditor, Report};
use albedo_replay::source::Source;

fn store(dir: &Path, drafts: Vec<Draft>) {
    let mut s = Store::create(dir).unwrap();
    let results = s.append_batch(drafts).unwrap();
    // Every draft of the fixture is a new fact: none may collide with another's key.
    assert!(results.iter().all(|r| matches!(r, albedo_ledger::Appended::New(_))), "{results:?}");
}

fn audit(drafts: Vec<Draft>) -> Report {
    let dir = tempfile::tempdir().unwrap();
    store(dir.path(), drafts);
    let mut auditor = Auditor::new(None);
    Source::Sled(dir.path().to_path_buf())
        .visit(None, |env, _| {
            auditor.apply(env);
            ControlFlow::Continue(())
        })
        .unwrap();
    auditor.finish()
}

/// The fixture with one event rewritten by `f` (the first for which it returns true).
fn forged(f: impl Fn(&mut Event) -> bool) -> (Vec<Draft>, u64) {
    let mut drafts = small_competition();
    let seq = drafts.iter_mut().position(|d| f(&mut d.event)).expect("the forgery applies to some event");
    (drafts, seq as u64)
}

#[test]
fn the_fixture_audits_clean_and_every_check_runs() {
    let report = audit(small_competition());
    assert!(report.ok(), "{:#?}", report.findings);
    let count = |c: &str| report.checks.get(c).map_or(0, |(p, _)| *p);
    assert_eq!(count("verdict"), 3);
    assert_eq!(count("crown"), 3, "genesis and two crowns");
    assert_eq!(count("miner charge"), 2, "the duplicate and the python files");
    assert_eq!(count("config"), 1);
    assert_eq!(count("seed"), 6, "five evals started, one of them three times but admitted twice");
    assert!(count("turn") > 80 && count("weights") >= 3, "{:?}", report.checks);
}

fn finding(report: &Report, check: &str) -> u64 {
    assert!(!report.ok(), "the forgery was not found");
    report
        .findings
        .iter()
        .find(|f| f.check == check)
        .unwrap_or_else(|| panic!("no `{check}` finding: {:#?}", report.findings))
        .seq
}

#[test]
fn a_rewritten_verdict_is_caught() {
    let (drafts, seq) = forged(|e| match e {
        Event::Verdict(v) if !v.accepted => {
            v.accepted = true; // bob's rejection turned into a win
            true
        }
        _ => false,
    });
    let report = audit(drafts);
    assert_eq!(finding(&report, "verdict"), seq);
}

#[test]
fn a_changed_score_is_caught_to_the_last_bit() {
    let (drafts, seq) = forged(|e| match e {
        Event::Verdict(v) => {
            let s = v.figures.lcb;
            v.figures.lcb = f64::from_bits(s.to_bits() + 1);
            true
        }
        _ => false,
    });
    assert_eq!(finding(&audit(drafts), "verdict"), seq);
}

#[test]
fn a_chosen_seed_is_caught() {
    let (drafts, seq) = forged(|e| match e {
        Event::EvalStarted(s) => {
            s.seed_hex = "ab".repeat(64);
            true
        }
        _ => false,
    });
    assert_eq!(finding(&audit(drafts), "seed"), seq);
}

#[test]
fn a_rewritten_judge_parse_is_caught() {
    let (drafts, seq) = forged(|e| match e {
        Event::TurnJudged(t) if t.judges.first().is_some_and(|j| j.metrics.is_some()) => {
            let m = t.judges[0].metrics.as_mut().unwrap();
            m[0].preferred = if m[0].preferred == Side::King { Side::Challenger } else { Side::King };
            true
        }
        _ => false,
    });
    assert_eq!(finding(&audit(drafts), "turn"), seq);
}

#[test]
fn an_unfounded_miner_charge_is_caught() {
    let (drafts, seq) = forged(|e| match e {
        Event::EvalFailed(f) if f.fault == Fault::Infra => {
            f.fault = Fault::Miner;
            f.code = "duplicate_model".into();
            f.requeued = false;
            true
        }
        _ => false,
    });
    assert_eq!(finding(&audit(drafts), "miner charge"), seq);
}

#[test]
fn forged_weights_are_caught() {
    let (drafts, seq) = forged(|e| match e {
        Event::WeightsSet(w) if w.uids.len() > 1 => {
            w.weights[0] = 1;
            true
        }
        _ => false,
    });
    assert_eq!(finding(&audit(drafts), "weights"), seq);
}

#[test]
fn the_cli_prints_a_table_and_its_exit_status_says_whether_everything_matched() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    store(&good, small_competition());
    let out = Command::new(env!("CARGO_BIN_EXE_albedo-replay"))
        .args(["audit", "--ledger", good.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("check") && stdout.contains("verdict") && stdout.contains("everything matched"),
        "{stdout}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_albedo-replay"))
        .args(["verdict", "--ledger", good.to_str().unwrap(), "eval-000001"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("recorded: ")
            && stdout.contains("derived:  ")
            && stdout.contains("accepted: recorded true / derived Some(true)"),
        "{stdout}"
    );

    let bad = dir.path().join("bad");
    let (drafts, seq) = forged(|e| match e {
        Event::Verdict(v) if !v.accepted => {
            v.accepted = true;
            true
        }
        _ => false,
    });
    store(&bad, drafts);
    let verify = Command::new(env!("CARGO_BIN_EXE_albedo-replay"))
        .args(["verify", "--ledger", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(verify.status.success(), "the forgery is re-linked: verify alone cannot see it");
    let out = Command::new(env!("CARGO_BIN_EXE_albedo-replay"))
        .args(["audit", "--ledger", bad.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(stdout.contains(&format!("MISMATCH seq {seq} [verdict]")), "{stdout}");
    let out = Command::new(env!("CARGO_BIN_EXE_albedo-replay"))
        .args(["verdict", "--ledger", bad.to_str().unwrap(), "eval-000009"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("eval-000009 has no verdict"));
}

#[test]
fn rebuild_checks_every_published_dashboard_against_the_ledger() {
    use albedo_projections::dashboard::Dashboard;
    use albedo_projections::views::Views;
    let mut drafts = small_competition();
    // The dashboard as it stood after the fixture: fold it, hash it, publish it.
    let mut views = Views::new();
    let dir = tempfile::tempdir().unwrap();
    store(&dir.path().join("tmp"), drafts.clone());
    Source::Sled(dir.path().join("tmp"))
        .visit(None, |env, hash| {
            views.apply(env, hash);
            ControlFlow::Continue(())
        })
        .unwrap();
    let sha = albedo_ledger::Hash32::of(&Dashboard::build(&views).to_json_bytes());
    let publish = |sha| Draft {
        time_ms: drafts.last().unwrap().time_ms + 1,
        block: None,
        event: Event::Published(Published {
            what: PublishedWhat::Dashboard,
            key: "albedo/dashboard.json".into(),
            sha256: sha,
        }),
    };
    let good = dir.path().join("good");
    let mut with_good = drafts.clone();
    with_good.push(publish(sha));
    store(&good, with_good);
    let run = |ledger: &Path| {
        Command::new(env!("CARGO_BIN_EXE_albedo-replay"))
            .args(["rebuild", "--ledger", ledger.to_str().unwrap(), "--out", dir.path().join("out").to_str().unwrap()])
            .output()
            .unwrap()
    };
    let out = run(&good);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("published dashboards: 1 match the rebuild, 0 differ"));

    let bad = dir.path().join("bad");
    drafts.push(publish(albedo_ledger::Hash32::of(b"a dashboard that says something else")));
    store(&bad, drafts);
    let out = run(&bad);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains(&format!(
            "MISMATCH seq {}: published dashboard albedo/dashboard.json",
            small_competition().len()
        )),
        "{stdout}"
    );
}
