//! Benchmark of the paired bootstrap (spec/determinism.md §6) at the live size, n = 128 turns and
//! B = 10 000 resamples (1.28 M uniform draws), with its floor: the raw ChaCha20 keystream
//! (§2) and `uniform` draws. Prints figures, asserts nothing.
//!
//!     cargo bench -p albedo-projections --bench bootstrap

use std::hint::black_box;
use std::time::{Duration, Instant};

use albedo_projections::scoring::bootstrap::paired_bootstrap;
use albedo_projections::scoring::seed::Seed;
use albedo_projections::scoring::stream::{BOOTSTRAP_DOMAIN, Stream};

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn main() {
    let seed = Seed::derive(
        "0x8f9a2f5b0c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccdd0",
        "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
    )
    .expect("valid seed inputs");
    // Realistic deltas: (k − 15) / 30 for 3 judges × 5 metrics.
    let deltas: Vec<f64> = (0..128).map(|i| ((i * 37 + 11) % 31) as f64 / 30.0 - 0.5).collect();

    // Keystream throughput: 64 MiB in 1 MiB reads.
    let mut stream = Stream::new(BOOTSTRAP_DOMAIN, &seed);
    let mut buf = vec![0u8; 1 << 20];
    stream.fill(&mut buf);
    let start = Instant::now();
    for _ in 0..64 {
        stream.fill(&mut buf);
        black_box(&buf);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "keystream:        {:6.2} GB/s ({} MiB in {:.1} ms)",
        64.0 * (1 << 20) as f64 / secs / 1e9,
        64,
        secs * 1e3
    );

    // uniform(128), the bootstrap's draw, and uniform(n) for an n that rejects ~25 % of reads.
    for n in [128u64, 3 * (1 << 30) + 1] {
        let draws = 16_000_000u64;
        let start = Instant::now();
        let mut acc = 0u64;
        for _ in 0..draws {
            acc = acc.wrapping_add(stream.uniform(n));
        }
        black_box(acc);
        let secs = start.elapsed().as_secs_f64();
        println!(
            "uniform({n:>10}): {:6.1} M draws/s ({:.2} ns/draw)",
            draws as f64 / secs / 1e6,
            secs * 1e9 / draws as f64
        );
    }

    // The bootstrap itself: median of 200 calls after 20 warm-up calls.
    for _ in 0..20 {
        black_box(paired_bootstrap(black_box(&deltas), 10_000, 0.05, &seed));
    }
    let times: Vec<Duration> = (0..200)
        .map(|_| {
            let start = Instant::now();
            black_box(paired_bootstrap(black_box(&deltas), 10_000, 0.05, &seed));
            start.elapsed()
        })
        .collect();
    let (min, med) = (*times.iter().min().expect("200 calls"), median(times));
    println!(
        "paired_bootstrap(n = 128, B = 10 000): median {:.3} ms, min {:.3} ms ({:.2} ns per draw)",
        med.as_secs_f64() * 1e3,
        min.as_secs_f64() * 1e3,
        med.as_secs_f64() * 1e9 / 1.28e6
    );
}
