//! Benchmark of `derive_verdict` at the live size: 128 turns × 3 judges with the shipped
//! `chain.toml` (B = 10 000 bootstrap resamples, which dominate), plus the verdict without the
//! bootstrap's share for reference. Target: ≤ 2 ms per call. Prints figures, asserts nothing.
//!
//!     cargo bench -p albedo-projections --bench verdict

use std::hint::black_box;
use std::time::{Duration, Instant};

use albedo_ledger::event::{JudgeOutcome, MetricOutcome, SampleRef, Side, TurnJudged};
use albedo_projections::config::{Config, METRIC_KEYS};
use albedo_projections::scoring::bootstrap::paired_bootstrap;
use albedo_projections::scoring::position::a_is_king;
use albedo_projections::scoring::seed::Seed;
use albedo_projections::scoring::verdict::{derive_verdict, exact_scores};

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

/// Runs `f` `rounds` times after a warm-up and returns the median time of one call.
fn time(rounds: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..3 {
        f();
    }
    median(
        (0..rounds)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let config = Config::parse(include_str!("../../chain.toml")).expect("the shipped chain.toml parses");
    let seed = Seed::derive(
        "0x8f9a2f5b0c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccdd0",
        "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
    )
    .expect("valid seed inputs");
    let n_drawn = config.duel().n_samples;
    let models = &config.judge().models;
    // Every 17th judge answer fails to parse and every 41st turn has a challenger error; the
    // rest lean slightly towards the challenger.
    let turns: Vec<TurnJudged> = (0..n_drawn)
        .map(|t| {
            let generation_failed = t % 41 == 40;
            let judges = models
                .iter()
                .enumerate()
                .map(|(j, model)| {
                    let n = t as usize * models.len() + j;
                    let parsed = !generation_failed && n % 17 != 16;
                    let metrics = parsed.then(|| {
                        METRIC_KEYS
                            .iter()
                            .enumerate()
                            .map(|(k, metric)| MetricOutcome {
                                metric: (*metric).into(),
                                preferred: match (n * 2_654_435_761 + k * 40_503) / 97 % 7 {
                                    0..=2 => Side::Challenger,
                                    3..=4 => Side::King,
                                    _ => Side::Tie,
                                },
                            })
                            .collect()
                    });
                    JudgeOutcome {
                        model: model.clone(),
                        raw_output: Some("{…}".into()),
                        parse_error: (!parsed).then(|| "no JSON object".into()),
                        metrics,
                    }
                })
                .collect();
            TurnJudged {
                eval_id: "eval-000001".into(),
                attempt: 1,
                turn: t,
                sample: SampleRef { shard: 0, row: u64::from(t), turn: 1 },
                a_is_king: a_is_king(&seed, t),
                king_reply_sha256: None,
                challenger_reply_sha256: None,
                king_error: None,
                challenger_error: generation_failed.then(|| "chal_vllm_timeout".into()),
                judges,
            }
        })
        .collect();

    let v = derive_verdict(&config, &seed, n_drawn, &turns).expect("well-formed turns");
    let f = &v.figures;
    println!(
        "input: {} turns × {} judges, B = {}; verdict: done {} valid {} challenger {:?} lcb {:.4} accepted {}",
        n_drawn,
        models.len(),
        config.duel().bootstrap_resamples,
        f.n_done,
        f.n_valid,
        f.challenger_score,
        f.lcb,
        v.accepted
    );

    let whole = time(200, || {
        black_box(derive_verdict(&config, &seed, n_drawn, black_box(&turns)).unwrap());
    });
    let exact = time(200, || {
        black_box(exact_scores(&config, &seed, n_drawn, black_box(&turns)).unwrap());
    });
    let deltas: Vec<f64> = vec![0.1; f.n_valid as usize];
    let boot = time(200, || {
        black_box(paired_bootstrap(black_box(&deltas), config.duel().bootstrap_resamples, 0.05, &seed));
    });
    println!("derive_verdict:          {:8.3} ms per call (target ≤ 2 ms)", whole.as_secs_f64() * 1e3);
    println!(
        "  of which bootstrap:    {:8.3} ms (paired_bootstrap alone, n = {})",
        boot.as_secs_f64() * 1e3,
        f.n_valid
    );
    println!("  exact scores only:     {:8.3} ms (checks, sort, exact aggregation)", exact.as_secs_f64() * 1e3);
}
