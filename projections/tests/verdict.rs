//! `derive_verdict` (spec/determinism.md §5–§6, spec/eval.md §9) as `check(turns, expect)`
//! tables: each case builds an eval's `turn_judged` entries from a compact notation and compares
//! a rendering of every figure with the expected text.
//!
//! Notation: a turn is one string per judge of `[judge].models` (J1, J2, J3 in that order), five
//! letters in metric order from the challenger's side: `C` challenger better, `K` king better,
//! `T` tie; `-` is a judge whose answer did not parse, `x` one that could not be reached.

use albedo_ledger::event::{JudgeOutcome, MetricOutcome, SampleRef, Side, TurnJudged, Winner};
use albedo_projections::config::{Config, METRIC_KEYS};
use albedo_projections::scoring::position::a_is_king;
use albedo_projections::scoring::seed::Seed;
use albedo_projections::scoring::verdict::{
    DerivedVerdict, FloorFailure, VerdictError, binomial_two_sided, derive_verdict, exact_scores, nearest_f64,
    published, published_f64, round_half_away,
};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, ToPrimitive, Zero};
use proptest::prelude::*;

const SHIPPED: &str = include_str!("../../chain.toml");

/// The shipped config with some lines replaced (each `from` must occur exactly once).
fn config_with(replacements: &[(&str, &str)]) -> Config {
    let mut text = SHIPPED.to_owned();
    for (from, to) in replacements {
        assert_eq!(text.matches(from).count(), 1, "{from:?} must occur once in chain.toml");
        text = text.replacen(from, to, 1);
    }
    Config::parse(&text).expect("the modified chain.toml parses")
}

fn shipped() -> Config {
    config_with(&[])
}

fn seed() -> Seed {
    Seed::from_hex(&"00".repeat(64)).unwrap()
}

fn side(c: char) -> Side {
    match c {
        'C' => Side::Challenger,
        'K' => Side::King,
        'T' => Side::Tie,
        other => panic!("bad side {other:?}"),
    }
}

fn judge(model: &str, notation: &str) -> JudgeOutcome {
    match notation {
        "-" => JudgeOutcome {
            model: model.into(),
            raw_output: Some("I think the first one.".into()),
            metrics: None,
            parse_error: Some("§8.1 JSON extraction: no JSON object".into()),
        },
        "x" => JudgeOutcome {
            model: model.into(),
            raw_output: None,
            metrics: None,
            parse_error: Some("no answer: the judge could not be reached".into()),
        },
        letters => {
            assert_eq!(letters.len(), 5, "{letters:?}");
            let metrics = METRIC_KEYS
                .iter()
                .zip(letters.chars())
                .map(|(m, c)| MetricOutcome { metric: (*m).into(), preferred: side(c) })
                .collect();
            JudgeOutcome {
                model: model.into(),
                raw_output: Some("{…}".into()),
                metrics: Some(metrics),
                parse_error: None,
            }
        }
    }
}

fn base_turn(seed: &Seed, turn: u32) -> TurnJudged {
    TurnJudged {
        eval_id: "eval-000042".into(),
        attempt: 1,
        turn,
        sample: SampleRef { shard: 0, row: u64::from(turn) * 10, turn: 1 },
        a_is_king: a_is_king(seed, turn),
        king_reply_sha256: None,
        challenger_reply_sha256: None,
        king_error: None,
        challenger_error: None,
        judges: Vec::new(),
    }
}

/// A judged turn: one notation per judge of `config`'s panel, in order.
fn turn(config: &Config, seed: &Seed, index: u32, judges: &[&str]) -> TurnJudged {
    let models = &config.judge().models;
    assert_eq!(judges.len(), models.len());
    let mut t = base_turn(seed, index);
    t.judges = models.iter().zip(judges).map(|(m, n)| judge(m, n)).collect();
    t
}

/// A turn where generation failed (`king`, `challenger` or `both`); no judge was asked.
fn failed(seed: &Seed, index: u32, who: &str) -> TurnJudged {
    let mut t = base_turn(seed, index);
    let (k, c) = match who {
        "king" => (true, false),
        "challenger" => (false, true),
        "both" => (true, true),
        other => panic!("{other}"),
    };
    t.king_error = k.then(|| "king_vllm_timeout: no reply in 300 s".into());
    t.challenger_error = c.then(|| "chal_vllm_timeout: no reply in 300 s".into());
    t
}

/// Every figure of a derived verdict as text (judges as J1, J2, J3; informational apart).
fn render(config: &Config, v: &DerivedVerdict) -> String {
    let short = |name: &str| match config.judge().models.iter().position(|m| m == name) {
        Some(i) => format!("J{}", i + 1),
        None => name.to_owned(),
    };
    let f = &v.figures;
    let list = |scores: &[albedo_ledger::event::NamedScore], judges: bool| -> String {
        scores
            .iter()
            .map(|s| format!(" {}={:?}", if judges { short(&s.name) } else { s.name.clone() }, s.score))
            .collect()
    };
    [
        format!(
            "counts: samples {} done {} valid {} generation_errors {}",
            f.n_samples, f.n_done, f.n_valid, f.generation_errors
        ),
        format!("scores: challenger {:?} king {:?} winner {:?}", f.challenger_score, f.king_score, v.winner),
        format!("by_judge:{}", list(&f.by_judge, true)),
        format!("by_metric:{}", list(&f.by_metric, false)),
        format!("bootstrap: mean_delta {:?} se {:?} lcb {:?}", f.mean_delta, f.se, f.lcb),
        format!(
            "gates: floor {} margin {} ({}) lcb {} (alpha {}) accepted {}",
            f.floor_ok, f.margin_ok, f.win_margin, f.lcb_ok, f.gate_alpha, v.accepted
        ),
        format!("floor_failure: {:?}", v.floor_failure),
    ]
    .join("\n")
}

fn check(config: &Config, n_drawn: u32, turns: &[TurnJudged], expect: &str) -> DerivedVerdict {
    let v = derive_verdict(config, &seed(), n_drawn, turns).expect("well-formed turns");
    let got = render(config, &v);
    let want: Vec<&str> = expect.trim().lines().map(str::trim).collect();
    assert_eq!(got, want.join("\n"), "\n--- got ---\n{got}\n");
    assert_eq!(v.figures.judge_models, config.judge().models);
    v
}

/// The turns of spec/eval.md §9.8's worked example, challenger perspective: the raw labels
/// there are positional with the king always first (1 = king, 2 = challenger, 0 = draw).
fn worked_example(config: &Config) -> Vec<TurnJudged> {
    let s = seed();
    vec![
        turn(config, &s, 0, &["CCTKC", "CCCTK", "TTTTT"]),
        turn(config, &s, 1, &["KKKKK", "TKTKT", "KKTKK"]),
        turn(config, &s, 2, &["CCCCC", "x", "CCTCC"]),
        turn(config, &s, 3, &["CTCTC", "CCTTT", "CCCTK"]),
        failed(&s, 4, "challenger"),
    ]
}

/// eval.md §9.8 under determinism.md §5: the same scores, by_judge, by_metric, counts, gates and
/// acceptance as the reference. Where the figures differ:
/// - `generation_errors` counts the dropped turn (the reference's `vllm_errors` = 1);
/// - mean_delta is 9.25e-18, not 0.0: §6 sums the three correctly rounded deltas
///   (0.13333333333333333, −0.36666666666666664, 0.23333333333333334) left to right, numpy
///   summed pairwise; se differs in the last bit (…742 vs …744) for the same reason;
/// - lcb comes from our bootstrap stream, not numpy's; both land on the resample mean
///   (2·(−11/30) + 2/15)/3 = −0.2 (1/27 of resamples average −0.3667, the next 3/27 −0.2), here
///   −0.19999999999999998 where the reference printed −0.20000000000000004.
#[test]
fn worked_example_of_eval_9_8() {
    let config = shipped();
    check(
        &config,
        5,
        &worked_example(&config),
        "
        counts: samples 5 done 4 valid 3 generation_errors 1
        scores: challenger Some(58.0556) king Some(41.9444) winner Challenger
        by_judge: J1=62.5 J2=56.6667 J3=55.0
        by_metric: correctness=73.6111 grounding=63.8889 progress=63.8889 protocol=40.2778 efficiency=48.6111
        bootstrap: mean_delta 9.25185853854297e-18 se 0.18559214542766742 lcb -0.19999999999999998
        gates: floor true margin true (2.0) lcb false (alpha 0.05) accepted false
        floor_failure: None
        ",
    );
}

#[test]
fn all_challenger_wins_are_accepted() {
    let config = shipped();
    let s = seed();
    let turns: Vec<_> = (0..10).map(|i| turn(&config, &s, i, &["CCCCC", "CCCCC", "CCCCC"])).collect();
    check(
        &config,
        10,
        &turns,
        "
        counts: samples 10 done 10 valid 10 generation_errors 0
        scores: challenger Some(100.0) king Some(0.0) winner Challenger
        by_judge: J1=100.0 J2=100.0 J3=100.0
        by_metric: correctness=100.0 grounding=100.0 progress=100.0 protocol=100.0 efficiency=100.0
        bootstrap: mean_delta 0.5 se 0.0 lcb 0.5
        gates: floor true margin true (2.0) lcb true (alpha 0.05) accepted true
        floor_failure: None
        ",
    );
}

#[test]
fn all_king_wins_are_rejected() {
    let config = shipped();
    let s = seed();
    let turns: Vec<_> = (0..4).map(|i| turn(&config, &s, i, &["KKKKK", "KKKKK", "KKKKK"])).collect();
    check(
        &config,
        4,
        &turns,
        "
        counts: samples 4 done 4 valid 4 generation_errors 0
        scores: challenger Some(0.0) king Some(100.0) winner King
        by_judge: J1=0.0 J2=0.0 J3=0.0
        by_metric: correctness=0.0 grounding=0.0 progress=0.0 protocol=0.0 efficiency=0.0
        bootstrap: mean_delta -0.5 se 0.0 lcb -0.5
        gates: floor true margin false (2.0) lcb false (alpha 0.05) accepted false
        floor_failure: None
        ",
    );
}

/// Exactly 50: the winner is a tie, the margin (0 ≥ 2) fails, every delta is 0 so lcb = 0 fails.
#[test]
fn all_ties_are_an_exact_tie() {
    let config = shipped();
    let s = seed();
    let mut turns: Vec<_> = (0..6).map(|i| turn(&config, &s, i, &["TTTTT", "TTTTT", "TTTTT"])).collect();
    // Balanced wins are a tie too (for every judge; not per metric).
    turns.push(turn(&config, &s, 6, &["CCKKT", "CKCKT", "KCKCT"]));
    check(
        &config,
        7,
        &turns,
        "
        counts: samples 7 done 7 valid 7 generation_errors 0
        scores: challenger Some(50.0) king Some(50.0) winner Tie
        by_judge: J1=50.0 J2=50.0 J3=50.0
        by_metric: correctness=52.381 grounding=52.381 progress=47.619 protocol=47.619 efficiency=50.0
        bootstrap: mean_delta 0.0 se 0.0 lcb 0.0
        gates: floor true margin false (2.0) lcb false (alpha 0.05) accepted false
        floor_failure: None
        ",
    );
}

/// Ten turns whose judges all give `s2` totals of 51 (one challenger win among ties):
/// challenger = 51 exactly, so challenger − king = 2 = win_margin.
fn margin_edge_turns(config: &Config) -> Vec<TurnJudged> {
    let s = seed();
    (0..10)
        .map(|i| if i == 0 { ["CTTTT"; 3] } else { ["TTTTT"; 3] })
        .enumerate()
        .map(|(i, j)| turn(config, &s, i as u32, &j))
        .collect()
}

#[test]
fn margin_exactly_at_win_margin_passes() {
    let config = shipped();
    let v = check(
        &config,
        10,
        &margin_edge_turns(&config),
        "
        counts: samples 10 done 10 valid 10 generation_errors 0
        scores: challenger Some(51.0) king Some(49.0) winner Challenger
        by_judge: J1=51.0 J2=51.0 J3=51.0
        by_metric: correctness=55.0 grounding=50.0 progress=50.0 protocol=50.0 efficiency=50.0
        bootstrap: mean_delta 0.01 se 0.009999999999999997 lcb 0.0
        gates: floor true margin true (2.0) lcb false (alpha 0.05) accepted false
        floor_failure: None
        ",
    );
    assert!(!v.accepted, "the LCB gate still needs lcb > 0");

    let stricter = config_with(&[("win_margin = 2.0", "win_margin = 2.0001")]);
    let v = derive_verdict(&stricter, &seed(), 10, &margin_edge_turns(&stricter)).unwrap();
    assert!(!v.figures.margin_ok);
    assert_eq!(v.figures.win_margin, "2.0001");
}

/// challenger = 1307690/25641 = 50.99996… publishes as 51.0 (king 49.0). The reference compared
/// the rounded scores (51.0 − 49.0 ≥ 2 → margin ok); the exact comparison says 1.99992 < 2.
#[test]
fn margin_compares_exact_scores_not_published_ones() {
    let config = shipped();
    let s = seed();
    // Judge j parses the first n_j turns with s2 total S_j: (n, S) = (21, 16), (22, 104), (37, 363).
    let column = |n: usize, total: usize| -> Vec<String> {
        let mut letters: Vec<char> = vec!['K'; 5 * n];
        for (i, l) in letters.iter_mut().enumerate() {
            *l = if 2 * (i + 1) <= total {
                'C'
            } else if 2 * i < total {
                'T'
            } else {
                'K'
            };
        }
        letters.chunks(5).map(|c| c.iter().collect()).collect()
    };
    let cols = [column(21, 16), column(22, 104), column(37, 363)];
    let turns: Vec<_> = (0..37)
        .map(|i| {
            let pick = |c: &Vec<String>| c.get(i).cloned().unwrap_or_else(|| "-".into());
            let js = [pick(&cols[0]), pick(&cols[1]), pick(&cols[2])];
            turn(&config, &s, i as u32, &[js[0].as_str(), js[1].as_str(), js[2].as_str()])
        })
        .collect();
    let exact = exact_scores(&config, &s, 37, &turns).unwrap().unwrap();
    assert_eq!(exact.challenger, BigRational::new(1307690.into(), 25641.into()));
    let v = derive_verdict(&config, &s, 37, &turns).unwrap();
    assert_eq!((v.figures.challenger_score, v.figures.king_score), (Some(51.0), Some(49.0)));
    assert_eq!(v.winner, Winner::Challenger);
    assert!(!v.figures.margin_ok, "2·challenger − 100 = 1.99992… < 2");
    assert!(v.figures.floor_ok, "21 of 37 turns valid");
}

/// n_valid · q ≥ p · n_done, exactly: at the fraction the floor passes, one turn less fails.
#[test]
fn floor_knife_edges() {
    let s = seed();
    // (min_valid_turn_frac, valid turns, done turns, floor_ok)
    let cases = [
        ("0.5", 2, 4, true),
        ("0.5", 1, 3, false),
        ("0.5", 1, 2, true),
        ("0.75", 3, 4, true),
        ("0.75", 2, 4, false),
        ("0.333", 1, 3, true),
        ("0.334", 1, 3, false),
        ("1.0", 5, 5, true),
        ("1.0", 4, 5, false),
        ("0.001", 0, 5, false),
    ];
    for (frac, valid, done, want) in cases {
        let config = config_with(&[("min_valid_turn_frac = 0.5", &format!("min_valid_turn_frac = {frac}"))]);
        let turns: Vec<_> = (0..done)
            .map(|i| turn(&config, &s, i, if i < valid { &["CCCCC"; 3] } else { &["CCCCC", "-", "CCCCC"] }))
            .collect();
        let v = derive_verdict(&config, &s, done, &turns).unwrap();
        assert_eq!((v.figures.n_valid, v.figures.n_done), (valid, done));
        assert_eq!(v.figures.floor_ok, want, "frac {frac}: {valid}/{done}");
        assert_eq!(v.floor_failure.is_none(), want);
        if !want {
            assert!(!v.accepted);
            assert_eq!(v.floor_failure.unwrap().code(), "valid_turn_floor");
        }
    }
}

/// A judge that parsed a turn counts even where another failed (eval.md §9.1), a judge that
/// parsed nothing is left out of the scores, and only turns every judge parsed are valid.
#[test]
fn judges_failing_on_some_turns() {
    let config = shipped();
    let s = seed();
    let turns = vec![
        turn(&config, &s, 0, &["CCCCC", "x", "KKKKK"]),
        turn(&config, &s, 1, &["CCCCC", "-", "CCCCC"]),
        turn(&config, &s, 2, &["TTTTT", "x", "-"]),
        turn(&config, &s, 3, &["-", "-", "-"]),
    ];
    check(
        &config,
        4,
        &turns,
        "
        counts: samples 4 done 4 valid 0 generation_errors 0
        scores: challenger Some(66.6667) king Some(33.3333) winner Challenger
        by_judge: J1=83.3333 J3=50.0
        by_metric: correctness=66.6667 grounding=66.6667 progress=66.6667 protocol=66.6667 efficiency=66.6667
        bootstrap: mean_delta 0.0 se 0.0 lcb 0.0
        gates: floor false margin true (2.0) lcb false (alpha 0.05) accepted false
        floor_failure: Some(Infra { reason: \"only 0 of 4 done turns were parsed by every judge, below min_valid_turn_frac 0.5 (king errors 0, challenger errors 0)\" })
        ",
    );
}

#[test]
fn no_judge_parsed_anything() {
    let config = shipped();
    let s = seed();
    let turns: Vec<_> = (0..5).map(|i| turn(&config, &s, i, &["-", "x", "-"])).collect();
    check(
        &config,
        5,
        &turns,
        "
        counts: samples 5 done 5 valid 0 generation_errors 0
        scores: challenger None king None winner Tie
        by_judge: 
        by_metric: 
        bootstrap: mean_delta 0.0 se 0.0 lcb 0.0
        gates: floor false margin false (2.0) lcb false (alpha 0.05) accepted false
        floor_failure: Some(Infra { reason: \"only 0 of 5 done turns were parsed by every judge, below min_valid_turn_frac 0.5 (king errors 0, challenger errors 0)\" })
        ",
    );
    assert_eq!(exact_scores(&config, &s, 5, &turns).unwrap(), None);
    // No entry at all (nothing drawn, or nothing reached judging) is an infra fault too.
    check(
        &config,
        0,
        &[],
        "
        counts: samples 0 done 0 valid 0 generation_errors 0
        scores: challenger None king None winner Tie
        by_judge: 
        by_metric: 
        bootstrap: mean_delta 0.0 se 0.0 lcb 0.0
        gates: floor false margin false (2.0) lcb false (alpha 0.05) accepted false
        floor_failure: Some(Infra { reason: \"no turn was generated on both sides: 0 of 0 drawn turns done (king errors 0, challenger errors 0)\" })
        ",
    );
}

/// Generation errors drop a turn for both sides; the floor counts done turns only.
#[test]
fn generation_errors_on_each_side() {
    let config = shipped();
    let s = seed();
    let mut turns: Vec<_> = (0..6).map(|i| failed(&s, i, "challenger")).collect();
    turns.extend((6..10).map(|i| turn(&config, &s, i, &["CCCCC"; 3])));
    // Six challenger failures of ten, but the four done turns are valid: the floor passes.
    check(
        &config,
        10,
        &turns,
        "
        counts: samples 10 done 4 valid 4 generation_errors 6
        scores: challenger Some(100.0) king Some(0.0) winner Challenger
        by_judge: J1=100.0 J2=100.0 J3=100.0
        by_metric: correctness=100.0 grounding=100.0 progress=100.0 protocol=100.0 efficiency=100.0
        bootstrap: mean_delta 0.5 se 0.0 lcb 0.5
        gates: floor true margin true (2.0) lcb true (alpha 0.05) accepted true
        floor_failure: None
        ",
    );
    let turns = vec![failed(&s, 0, "king"), failed(&s, 1, "both"), turn(&config, &s, 2, &["KKKKK"; 3])];
    check(
        &config,
        3,
        &turns,
        "
        counts: samples 3 done 1 valid 1 generation_errors 2
        scores: challenger Some(0.0) king Some(100.0) winner King
        by_judge: J1=0.0 J2=0.0 J3=0.0
        by_metric: correctness=0.0 grounding=0.0 progress=0.0 protocol=0.0 efficiency=0.0
        bootstrap: mean_delta -0.5 se 0.0 lcb -0.5
        gates: floor true margin false (2.0) lcb false (alpha 0.05) accepted false
        floor_failure: None
        ",
    );
}

/// determinism.md §5: a failed floor is the miner's fault only when the challenger's generation
/// failed on more than half of the drawn turns and the king's on none.
#[test]
fn floor_failure_classification() {
    let config = shipped();
    let s = seed();
    let classify = |n_drawn: u32, turns: &[TurnJudged]| {
        let v = derive_verdict(&config, &s, n_drawn, turns).unwrap();
        assert!(!v.figures.floor_ok && !v.accepted);
        v.floor_failure.expect("the floor failed")
    };
    let chal = |range: std::ops::Range<u32>| range.map(|i| failed(&s, i, "challenger")).collect::<Vec<_>>();
    let unparsed = |range: std::ops::Range<u32>| range.map(|i| turn(&config, &s, i, &["-"; 3])).collect::<Vec<_>>();

    // Every turn failed on the challenger's side: nothing done.
    assert_eq!(classify(10, &chal(0..10)), FloorFailure::ChallengerGenerationFailed);
    // 6 of 10 drawn, the other four unparsed.
    assert_eq!(classify(10, &[chal(0..6), unparsed(6..10)].concat()), FloorFailure::ChallengerGenerationFailed);
    // 6 of 11 drawn: turns without an entry count in the drawn total; 12 > 11.
    assert_eq!(classify(11, &[chal(0..6), unparsed(6..8)].concat()), FloorFailure::ChallengerGenerationFailed);
    // Exactly half is not more than half.
    let half = classify(10, &[chal(0..5), unparsed(5..10)].concat());
    assert_eq!(half.code(), "valid_turn_floor");
    // One king failure makes it infra, whatever the challenger did.
    let king_too = classify(10, &[chal(0..8), vec![failed(&s, 8, "king"), failed(&s, 9, "both")]].concat());
    assert_eq!(
        king_too,
        FloorFailure::Infra {
            reason:
                "no turn was generated on both sides: 0 of 10 drawn turns done (king errors 2, challenger errors 9)"
                    .into()
        }
    );
    // The king failing everywhere is infra.
    let king = classify(4, &(0..4).map(|i| failed(&s, i, "king")).collect::<Vec<_>>());
    assert_eq!((king.code(), king.fault()), ("valid_turn_floor", albedo_ledger::event::Fault::Infra));
    assert_eq!(FloorFailure::ChallengerGenerationFailed.fault(), albedo_ledger::event::Fault::Miner);
    assert_eq!(FloorFailure::ChallengerGenerationFailed.code(), "chal_generation_failed");
}

/// One judge parses 64 turns with a single tie among king wins: challenger = 100/640 = 0.15625,
/// published 0.1563 (half away from zero; Python's round gives 0.1562), king 99.84375 → 99.8438,
/// so challenger + king reads 100.0001.
#[test]
fn published_scores_round_half_away_from_zero() {
    let config = shipped();
    let s = seed();
    let turns: Vec<_> =
        (0..64).map(|i| turn(&config, &s, i, &[if i == 0 { "TKKKK" } else { "KKKKK" }, "-", "x"])).collect();
    check(
        &config,
        64,
        &turns,
        "
        counts: samples 64 done 64 valid 0 generation_errors 0
        scores: challenger Some(0.1563) king Some(99.8438) winner King
        by_judge: J1=0.1563
        by_metric: correctness=0.7813 grounding=0.0 progress=0.0 protocol=0.0 efficiency=0.0
        bootstrap: mean_delta 0.0 se 0.0 lcb 0.0
        gates: floor false margin false (2.0) lcb false (alpha 0.05) accepted false
        floor_failure: Some(Infra { reason: \"only 0 of 64 done turns were parsed by every judge, below min_valid_turn_frac 0.5 (king errors 0, challenger errors 0)\" })
        ",
    );
}

fn q(n: i64, d: i64) -> BigRational {
    BigRational::new(n.into(), d.into())
}

#[test]
fn rounding_table() {
    // (exact value, published)
    let cases: &[(BigRational, f64)] = &[
        (q(15625, 100000), 0.1563),
        (q(-15625, 100000), -0.1563),
        (q(200005, 100000), 2.0001),
        (q(-200005, 100000), -2.0001),
        (q(200004999, 100000000), 2.0),
        (q(1, 3), 0.3333),
        (q(2, 3), 0.6667),
        (q(5, 100000), 0.0001),
        (q(-4, 100000), 0.0),
        (q(1045, 18), 58.0556),
        (q(0, 1), 0.0),
        (q(100, 1), 100.0),
        (q(9999995, 100000), 100.0),
        (q(9999994, 100000), 99.9999),
    ];
    for (x, want) in cases {
        assert_eq!(published(x), *want, "{x}");
    }
    assert_eq!(round_half_away(&q(-25, 10), 0), q(-3, 1));
    assert_eq!(round_half_away(&q(25, 10), 0), q(3, 1));
    assert_eq!(round_half_away(&q(-24, 10), 0), q(-2, 1));
    // From a binary64: 0.15625 is exact in binary, so it rounds up; 0.00015 is a hair below.
    assert_eq!(published_f64(0.15625), 0.1563);
    assert_eq!(published_f64(-0.15625), -0.1563);
    assert_eq!(published_f64(0.00015), 0.0001);
    assert!(published_f64(f64::NAN).is_nan());
}

fn pow2(k: i32) -> BigRational {
    if k >= 0 {
        BigRational::from_integer(BigInt::one() << k as usize)
    } else {
        BigRational::new(BigInt::one(), BigInt::one() << (-k) as usize)
    }
}

/// Correct rounding (ties to even) on knife edges, checked against the bits.
#[test]
fn nearest_f64_knife_edges() {
    let one = BigRational::one();
    let ulp = pow2(-52);
    let half_ulp = pow2(-53);
    let cases: Vec<(BigRational, f64)> = vec![
        (one.clone() + &half_ulp, 1.0), // tie → even (1.0)
        (one.clone() + &half_ulp * BigRational::from_integer(3.into()), 1.0 + 2.0 * f64::EPSILON), // tie → even
        (one.clone() + &half_ulp + pow2(-200), 1.0 + f64::EPSILON), // just above the tie
        (one.clone() + &half_ulp - pow2(-200), 1.0), // just below
        (one.clone() - pow2(-54), 1.0), // tie below 1 → even (1.0)
        (one.clone() - pow2(-54) - pow2(-300), 1.0 - f64::EPSILON / 2.0),
        (one.clone() + &ulp, 1.0 + f64::EPSILON),
        (pow2(-1075), 0.0),                                                // tie → even (0)
        (pow2(-1075) * BigRational::from_integer(3.into()), 2.0 * 5e-324), // tie → even (2·2^-1074)
        (pow2(-1075) + pow2(-1200), 5e-324),
        (pow2(-1074), 5e-324),
        (pow2(-1022), f64::MIN_POSITIVE),
        (pow2(-1022) - pow2(-1074), f64::MIN_POSITIVE - 5e-324),
        (pow2(-2000), 0.0),
        (pow2(1023) * (BigRational::from_integer(2.into()) - pow2(-52)), f64::MAX),
        (pow2(1023) * (BigRational::from_integer(2.into()) - pow2(-53)), f64::INFINITY), // tie → even overflows
        (pow2(1024), f64::INFINITY),
        (q(1, 10), 0.1),
        (q(1, 3), 1.0 / 3.0),
        (q(-7, 30), -7.0 / 30.0),
        (q(2, 15), 2.0 / 15.0),
    ];
    for (x, want) in &cases {
        let got = nearest_f64(x);
        assert_eq!(got.to_bits(), want.to_bits(), "{x}: got {got:e}, want {want:e}");
        let neg = nearest_f64(&-x.clone());
        assert_eq!(neg.to_bits(), (-want).to_bits(), "-{x}");
        // num-rational's own conversion, for the record: it agrees on these.
        if want.is_finite() && *want != 0.0 {
            assert_eq!(x.to_f64().map(f64::to_bits), Some(want.to_bits()), "num-rational on {x}");
        }
    }
    assert_eq!(nearest_f64(&BigRational::zero()).to_bits(), 0.0f64.to_bits());
}

#[test]
fn binomial_p_values_match_statrs() {
    use statrs::distribution::{Binomial, DiscreteCDF};
    // (a, b, exact p)
    let table: &[(u32, u32, BigRational)] = &[
        (0, 0, q(1, 1)),
        (5, 5, q(1, 1)),
        (10, 0, q(2, 1024)),
        (0, 10, q(2, 1024)),
        (7, 3, q(352, 1024)),
        (6, 5, q(1, 1)),
        (1, 0, q(1, 1)),
    ];
    for (a, b, want) in table {
        assert_eq!(binomial_two_sided(*a, *b), *want, "{a} vs {b}");
    }
    for n in 1..=128u32 {
        let dist = Binomial::new(0.5, u64::from(n)).unwrap();
        for a in 0..=n {
            let exact = binomial_two_sided(a, n - a).to_f64().unwrap();
            let approx = (2.0 * dist.cdf(u64::from(a.min(n - a)))).min(1.0);
            assert!((exact - approx).abs() < 1e-9, "n {n} a {a}: {exact} vs {approx}");
        }
    }
}

/// The informational block on the worked example, recounted from the notation:
/// - position bias from each turn's recorded `a_is_king` (seed 00…);
/// - agreement: turns 0, 1, 3 have three judges, turn 2 two (J1, J3): 20 (turn, metric) pairs;
/// - the normal-approximation LCB from mean_delta and se.
#[test]
fn informational_figures() {
    let config = shipped();
    let s = seed();
    let turns = worked_example(&config);
    let v = derive_verdict(&config, &s, 5, &turns).unwrap();
    let info = v.figures.informational.as_ref().unwrap();

    // Recount position bias from the notation and the recorded a_is_king.
    let notation = [
        ["CCTKC", "CCCTK", "TTTTT"],
        ["KKKKK", "TKTKT", "KKTKK"],
        ["CCCCC", "x", "CCTCC"],
        ["CTCTC", "CCTTT", "CCCTK"],
    ];
    for (j, bias) in info.position_bias.iter().enumerate() {
        assert_eq!(bias.judge, config.judge().models[j]);
        let (mut fa, mut fb) = (0, 0);
        for (t, row) in notation.iter().enumerate() {
            if row[j].len() != 5 {
                continue;
            }
            let a_side = if turns[t].a_is_king { 'K' } else { 'C' };
            let b_side = if turns[t].a_is_king { 'C' } else { 'K' };
            let a = row[j].chars().filter(|&c| c == a_side).count();
            let b = row[j].chars().filter(|&c| c == b_side).count();
            fa += u32::from(a > b);
            fb += u32::from(b > a);
        }
        assert_eq!((bias.favoured_a, bias.favoured_b), (fa, fb), "{}", bias.judge);
        let n = fa + fb;
        assert_eq!(bias.a_share, (n > 0).then(|| published(&q(i64::from(fa), i64::from(n)))));
        assert_eq!(bias.p_value, published(&binomial_two_sided(fa, fb)));
    }
    assert_eq!(info.position_bias.len(), 3);

    // Agreement, counted by hand from the notation:
    // t0: c C,C,T no; g C,C,T no; p T,C,T no; pr K,T,T no; e C,K,T no → 0
    // t1: K,T,K no; K,K,K yes; K,T,T no; K,K,K yes; K,T,K no → 2
    // t2 (J1, J3): C,C yes; C,C yes; C,T no; C,C yes; C,C yes → 4
    // t3: C,C,C yes; T,C,C no; C,T,C no; T,T,T yes; C,T,K no → 2
    assert_eq!((info.agreement.pairs, info.agreement.agreed, info.agreement.share), (20, 8, Some(0.4)));
    let pairs: Vec<_> = info.pairwise_agreement.iter().map(|p| (p.pairs, p.agreed, p.share)).collect();
    let count = |x: usize, y: usize| {
        let (mut n, mut a) = (0u32, 0u32);
        for row in &notation {
            if row[x].len() == 5 && row[y].len() == 5 {
                n += 5;
                a += row[x].chars().zip(row[y].chars()).filter(|(p, q)| p == q).count() as u32;
            }
        }
        (n, a, (n > 0).then(|| published(&q(i64::from(a), i64::from(n)))))
    };
    assert_eq!(pairs, vec![count(0, 1), count(0, 2), count(1, 2)]);
    assert_eq!(pairs[0].0, 15);
    assert_eq!(pairs[1].0, 20);
    let names: Vec<_> = info.pairwise_agreement.iter().map(|p| (p.first.as_str(), p.second.as_str())).collect();
    let m = &config.judge().models;
    assert_eq!(names, [(m[0].as_str(), m[1].as_str()), (m[0].as_str(), m[2].as_str()), (m[1].as_str(), m[2].as_str())]);

    // normal_lcb = mean − z_{0.95}·se = 0 − 1.6448536…·0.1855921… = −0.30527…
    assert_eq!(info.normal_lcb, -0.3053);
}

fn error(n_drawn: u32, turns: &[TurnJudged]) -> String {
    derive_verdict(&shipped(), &seed(), n_drawn, turns).unwrap_err().to_string()
}

#[test]
fn malformed_entries_are_errors() {
    let config = shipped();
    let s = seed();
    let ok = |i| turn(&config, &s, i, &["CCCCC"; 3]);
    let m = config.judge().models.clone();

    assert_eq!(error(3, &[ok(0), ok(1), ok(1)]), "turn 1 appears more than once");
    assert_eq!(error(2, &[ok(0), ok(2)]), "turn 2 is not one of the 2 drawn turns");

    let mut other = ok(1);
    other.attempt = 2;
    assert_eq!(
        error(2, &[ok(0), other]),
        "turn 1 belongs to eval \"eval-000042\" attempt 2, not \"eval-000042\" attempt 1"
    );

    let mut flipped = ok(0);
    flipped.a_is_king = !flipped.a_is_king;
    let e = derive_verdict(&config, &s, 1, &[flipped]).unwrap_err();
    assert!(matches!(e, VerdictError::PositionMismatch { turn: 0, .. }), "{e}");

    let mut stranger = ok(0);
    stranger.judges[1].model = "openai/gpt-9".into();
    assert_eq!(error(1, &[stranger]), "turn 0: judge \"openai/gpt-9\" is not in [judge].models");

    let mut twice = ok(0);
    twice.judges[1].model = m[0].clone();
    assert_eq!(error(1, &[twice]), format!("turn 0: judge {:?} has more than one entry", m[0]));

    let mut both = ok(0);
    both.judges[2].parse_error = Some("also failed?".into());
    assert_eq!(error(1, &[both]), format!("turn 0: judge {:?} has both metrics and a parse error", m[2]));

    let mut judged = ok(0);
    judged.challenger_error = Some("chal_vllm_timeout".into());
    assert_eq!(error(1, &[judged]), format!("turn 0: judge {:?} scored a turn with a generation error", m[0]));

    let mut four = ok(0);
    four.judges[0].metrics.as_mut().unwrap().pop();
    assert!(
        error(1, &[four])
            .contains("metrics are [\"correctness\", \"grounding\", \"progress\", \"protocol\"], not the five")
    );

    let mut swapped = ok(0);
    swapped.judges[0].metrics.as_mut().unwrap().swap(0, 1);
    assert!(matches!(
        derive_verdict(&config, &s, 1, &[swapped]).unwrap_err(),
        VerdictError::BadMetrics { turn: 0, .. }
    ));

    // Judge entries in any order, and a judge absent from a turn, are fine.
    let mut reordered = ok(0);
    reordered.judges.reverse();
    reordered.judges.pop();
    let v = derive_verdict(&config, &s, 1, &[reordered]).unwrap();
    assert_eq!((v.figures.n_done, v.figures.n_valid, v.figures.by_judge.len()), (1, 0, 2));
}

// ---------------------------------------------------------------------------------------------
// Properties

/// A config with fewer bootstrap resamples, so properties run quickly in debug builds.
fn quick() -> Config {
    config_with(&[("bootstrap_resamples = 10000", "bootstrap_resamples = 200")])
}

/// One judge's notation: unparsed, unreachable, or five sides.
fn arb_judge() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("-".to_owned()),
        1 => Just("x".to_owned()),
        6 => "[CKT]{5}",
    ]
}

/// (n_drawn, turns): a random subset of the drawn turns, each with a generation error or a
/// panel of judge answers, some judges possibly missing from the entry.
fn arb_eval() -> impl Strategy<Value = (u32, Vec<TurnJudged>)> {
    let config = quick();
    (1u32..24).prop_flat_map(move |n_drawn| {
        let config = config.clone();
        let entry = (any::<bool>(), 0u8..12, proptest::collection::vec(arb_judge(), 3), any::<bool>());
        proptest::collection::vec(entry, n_drawn as usize).prop_map(move |entries| {
            let s = seed();
            let turns = entries
                .into_iter()
                .enumerate()
                .filter(|(_, (present, ..))| *present)
                .map(|(i, (_, fate, judges, drop_one))| match fate {
                    0 => failed(&s, i as u32, "king"),
                    1 => failed(&s, i as u32, "challenger"),
                    2 => failed(&s, i as u32, "both"),
                    _ => {
                        let js: Vec<&str> = judges.iter().map(String::as_str).collect();
                        let mut t = turn(&config, &s, i as u32, &js);
                        if drop_one {
                            t.judges.remove(i % 3);
                        }
                        t
                    }
                })
                .collect();
            (n_drawn, turns)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn order_and_batching_do_not_matter((n_drawn, turns) in arb_eval(), shuffle in any::<u64>()) {
        let config = quick();
        let s = seed();
        let base = derive_verdict(&config, &s, n_drawn, &turns).unwrap();
        // A deterministic shuffle from `shuffle`, then the batches concatenated in reverse.
        let mut shuffled = turns.clone();
        let mut x = shuffle | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let batches: Vec<Vec<TurnJudged>> = shuffled.chunks(3).map(<[TurnJudged]>::to_vec).collect();
        let rebatched: Vec<TurnJudged> = batches.into_iter().rev().flatten().collect();
        let other = derive_verdict(&config, &s, n_drawn, &rebatched).unwrap();
        prop_assert_eq!(base, other);
    }

    #[test]
    fn means_of_by_judge_and_by_metric_equal_the_challenger_exactly((n_drawn, turns) in arb_eval()) {
        let config = quick();
        let s = seed();
        let v = derive_verdict(&config, &s, n_drawn, &turns).unwrap();
        match exact_scores(&config, &s, n_drawn, &turns).unwrap() {
            None => {
                prop_assert_eq!(v.figures.challenger_score, None);
                prop_assert!(v.figures.by_judge.is_empty() && v.figures.by_metric.is_empty());
                prop_assert_eq!(v.winner, Winner::Tie);
            }
            Some(exact) => {
                let mean = |xs: Vec<&BigRational>| {
                    let n = BigRational::from_integer(xs.len().into());
                    xs.into_iter().sum::<BigRational>() / n
                };
                prop_assert_eq!(&mean(exact.by_judge.iter().map(|(_, x)| x).collect()), &exact.challenger);
                prop_assert_eq!(&mean(exact.by_metric.iter().map(|(_, x)| x).collect()), &exact.challenger);
                prop_assert_eq!(&exact.king, &(BigRational::from_integer(100.into()) - &exact.challenger));
                prop_assert_eq!(v.figures.challenger_score, Some(published(&exact.challenger)));
                prop_assert_eq!(v.figures.by_judge.len(), exact.by_judge.len());
            }
        }
        // Gates and counts are consistent.
        let f = &v.figures;
        prop_assert!(f.n_valid <= f.n_done && f.n_done + f.generation_errors <= n_drawn);
        prop_assert_eq!(v.accepted, f.floor_ok && f.margin_ok && f.lcb_ok);
        prop_assert_eq!(v.floor_failure.is_some(), !f.floor_ok);
        prop_assert_eq!(f.lcb_ok, f.lcb > 0.0);
    }

    #[test]
    fn nearest_f64_agrees_with_ieee_division(n in -(1i64 << 53)..(1i64 << 53), d in 1i64..(1i64 << 53)) {
        // Both operands are exact binary64s, so IEEE division is the correctly rounded quotient.
        let want = n as f64 / d as f64;
        prop_assert_eq!(nearest_f64(&q(n, d)).to_bits(), want.to_bits());
    }

    #[test]
    fn nearest_f64_of_a_float_is_itself(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
        let exact = BigRational::from_float(x).unwrap();
        let back = nearest_f64(&exact);
        prop_assert!(back == x, "{x:e} → {back:e}");
    }
}
