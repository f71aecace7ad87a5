//! The paired bootstrap lower confidence bound (spec/determinism.md §6): mean, standard error and
//! the type-7 `alpha` quantile of `B` resampled means, drawn from `stream("albedo/v1/bootstrap")`.
//!
//! Every float operation is the spec's, in the spec's order: sums run left to right from `+0.0`,
//! means divide by `n` (never multiply by `1/n`), nothing is fused or reassociated. Speed comes
//! only from things that cannot change a bit:
//! - the indices of several resamples are drawn first (in stream order), then their sums run
//!   interleaved, so independent left-to-right chains overlap instead of waiting on each other;
//! - `r mod n` uses a precomputed exact reduction (`stream::Uniform32`), not a division;
//! - the quantile needs only the order statistics `m_k` and `m_{k+1}`, found by selection
//!   rather than a full sort (under `f64::total_cmp` equal keys are identical bits, so any
//!   correct selection returns the same values as a sort).

use super::seed::Seed;
use super::stream::{BOOTSTRAP_DOMAIN, Stream};

/// §6's outputs, as binary64; `verdict` publishes them unrounded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bootstrap {
    pub mean: f64,
    pub se: f64,
    pub lcb: f64,
}

/// Resamples whose sums are interleaved (independent add chains in flight at once).
const LANES: usize = 8;

/// §6 over `deltas` in turn order, with `resamples` = B and `alpha` = `[duel].gate_alpha`.
///
/// `n = 0` gives all zeros without drawing; `n = 1` gives `se = 0`.
///
/// # Panics
/// If `resamples == 0` or `alpha` is not in `[0, 1]`: the config rejects both (determinism.md §5),
/// so either is a programming error here.
pub fn paired_bootstrap(deltas: &[f64], resamples: u32, alpha: f64, seed: &Seed) -> Bootstrap {
    assert!(resamples >= 1, "paired_bootstrap: bootstrap_resamples must be >= 1 (determinism.md §5)");
    assert!((0.0..=1.0).contains(&alpha), "paired_bootstrap: gate_alpha {alpha} is not in [0, 1] (determinism.md §5)");
    let n = deltas.len();
    if n == 0 {
        return Bootstrap { mean: 0.0, se: 0.0, lcb: 0.0 };
    }
    let nf = n as f64;
    let mean = sum_left_to_right(deltas.iter().copied()) / nf;
    let se = if n == 1 {
        0.0
    } else {
        let squares = sum_left_to_right(deltas.iter().map(|&d| {
            let e = d - mean;
            e * e
        }));
        (squares / (n - 1) as f64).sqrt() / nf.sqrt()
    };
    let mut means = resampled_means(deltas, resamples as usize, seed);
    Bootstrap { mean, se, lcb: type7_quantile(&mut means, alpha) }
}

/// `Σ` of §6: `((0 + x_0) + x_1) + …`. Starting from `+0.0` also means a sum is never `-0.0`.
fn sum_left_to_right(xs: impl Iterator<Item = f64>) -> f64 {
    let mut acc = 0.0;
    for x in xs {
        acc += x;
    }
    acc
}

/// `m_b = (Σ_j d[uniform(n)]) / n` for b = 0..B−1, indices drawn in order from one stream.
fn resampled_means(deltas: &[f64], resamples: usize, seed: &Seed) -> Vec<f64> {
    let n = deltas.len();
    let nf = n as f64;
    let mut stream = Stream::new(BOOTSTRAP_DOMAIN, seed);
    let mut means = Vec::with_capacity(resamples);
    // Resample r of a chunk uses indices[r*n .. (r+1)*n], in stream order.
    let mut indices = vec![0usize; LANES * n];
    let full_chunks = resamples / LANES;
    for _ in 0..full_chunks {
        stream.uniform_into(n as u64, &mut indices);
        let mut acc = [0.0f64; LANES];
        for j in 0..n {
            for (r, a) in acc.iter_mut().enumerate() {
                *a += deltas[indices[r * n + j]];
            }
        }
        means.extend(acc.iter().map(|a| a / nf));
    }
    for _ in full_chunks * LANES..resamples {
        let one = &mut indices[..n];
        stream.uniform_into(n as u64, one);
        means.push(sum_left_to_right(one.iter().map(|&i| deltas[i])) / nf);
    }
    means
}

/// §6's quantile of the sorted means: `h = (B − 1) × alpha`, `k = floor(h)`,
/// `m_k + (h − k) × (m_{k+1} − m_k)`, or `m_k` when `k = B − 1`.
fn type7_quantile(means: &mut [f64], alpha: f64) -> f64 {
    let last = means.len() - 1;
    let h = last as f64 * alpha;
    let k = h.floor() as usize; // 0 ≤ h ≤ B − 1 since 0 ≤ alpha ≤ 1
    let (_, &mut m_k, above) = means.select_nth_unstable_by(k, f64::total_cmp);
    if k == last {
        return m_k;
    }
    let m_k1 = above.iter().copied().min_by(f64::total_cmp).expect("k < B - 1 leaves a mean above m_k");
    m_k + (h - k as f64) * (m_k1 - m_k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seed() -> Seed {
        Seed::from_hex(&"5a".repeat(64)).unwrap()
    }

    /// §6 written the slow, obvious way: one mean at a time, full sort.
    fn reference(deltas: &[f64], b: u32, alpha: f64, seed: &Seed) -> Bootstrap {
        let n = deltas.len();
        if n == 0 {
            return Bootstrap { mean: 0.0, se: 0.0, lcb: 0.0 };
        }
        let mut sum = 0.0;
        for d in deltas {
            sum += d;
        }
        let mean = sum / n as f64;
        let mut sq = 0.0;
        for d in deltas {
            sq += (d - mean) * (d - mean);
        }
        let se = if n == 1 { 0.0 } else { (sq / (n - 1) as f64).sqrt() / (n as f64).sqrt() };
        let mut s = Stream::new(BOOTSTRAP_DOMAIN, seed);
        let mut m: Vec<f64> = (0..b)
            .map(|_| {
                let mut acc = 0.0;
                for _ in 0..n {
                    acc += deltas[s.uniform(n as u64) as usize];
                }
                acc / n as f64
            })
            .collect();
        m.sort_by(f64::total_cmp);
        let h = (b - 1) as f64 * alpha;
        let k = h.floor() as usize;
        let lcb = if k == b as usize - 1 { m[k] } else { m[k] + (h - k as f64) * (m[k + 1] - m[k]) };
        Bootstrap { mean, se, lcb }
    }

    fn deltas(n: usize) -> Vec<f64> {
        (0..n).map(|i| ((i * 37 + 11) % 31) as f64 / 30.0 - 0.5).collect()
    }

    #[test]
    fn empty_and_single() {
        assert_eq!(paired_bootstrap(&[], 1000, 0.05, &seed()), Bootstrap { mean: 0.0, se: 0.0, lcb: 0.0 });
        let one = paired_bootstrap(&[0.25], 1000, 0.05, &seed());
        assert_eq!(one, Bootstrap { mean: 0.25, se: 0.0, lcb: 0.25 });
    }

    #[test]
    fn constant_deltas_give_lcb_equal_to_mean() {
        for d in [0.1, -1.0 / 30.0, 0.5] {
            let b = paired_bootstrap(&[d; 13], 999, 0.05, &seed());
            assert_eq!(b.lcb, b.mean);
            assert_eq!(b.se, 0.0);
        }
    }

    #[test]
    fn matches_the_obvious_implementation() {
        for (n, b, alpha) in [(2, 1, 0.05), (5, 7, 0.05), (8, 1000, 0.05), (9, 17, 0.5), (128, 2001, 0.1), (3, 9, 0.0)]
        {
            let d = deltas(n);
            assert_eq!(paired_bootstrap(&d, b, alpha, &seed()), reference(&d, b, alpha, &seed()), "n={n} B={b}");
        }
    }

    #[test]
    fn alpha_one_takes_the_largest_mean() {
        // k = B − 1: no interpolation, m_{k+1} does not exist.
        let d = deltas(6);
        let top = paired_bootstrap(&d, 50, 1.0, &seed());
        assert_eq!(top, reference(&d, 50, 1.0, &seed()));
        let mut means = resampled_means(&d, 50, &seed());
        assert_eq!(top.lcb, means.iter().copied().fold(f64::MIN, f64::max));
        // Just below 1: k = B − 2, interpolating towards the maximum.
        let below = paired_bootstrap(&d, 50, 1.0 - f64::EPSILON, &seed());
        means.sort_by(f64::total_cmp);
        assert_eq!(below.lcb, means[48] + (49.0 * (1.0 - f64::EPSILON) - 48.0) * (means[49] - means[48]));
        // B = 1: h = 0, k = 0 = B − 1.
        assert_eq!(paired_bootstrap(&d, 1, 0.05, &seed()).lcb, resampled_means(&d, 1, &seed())[0]);
    }

    #[test]
    #[should_panic(expected = "bootstrap_resamples")]
    fn zero_resamples_is_a_programming_error() {
        paired_bootstrap(&[0.1], 0, 0.05, &seed());
    }

    proptest! {
        #[test]
        fn never_panics_and_lcb_is_at_most_the_largest_delta(
            d in proptest::collection::vec(-0.5f64..=0.5, 0..40),
            b in 1u32..300,
            alpha in 0.0f64..=1.0,
        ) {
            let r = paired_bootstrap(&d, b, alpha, &seed());
            // Rounding can lift a mean of equal values one ulp above them (0.1 + 0.1 + 0.1 > 0.3),
            // so "at most the largest delta" holds up to a few ulps, not exactly.
            let max = d.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            prop_assert!(d.is_empty() || r.lcb <= max + 1e-15, "lcb {} > max {}", r.lcb, max);
            prop_assert_eq!(r, reference(&d, b, alpha, &seed()));
        }
    }
}
