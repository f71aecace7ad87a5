//! The sample draw (spec/determinism.md §3) and the probe draw (§3b): which (shard, row, turn)
//! refs a duel, or an injection probe, runs on.
//!
//! Phase 1 draws `4n` global row positions; phase 2 walks them in draw order, reading only
//! those rows, through a [`RowReader`] the shell implements over the Parquet shards. The core
//! never sees a file: the reader answers "which assistant turns does this row have", nothing
//! more, and a row it cannot produce is an infra error naming the shard and row, never a skip.

use std::collections::{BTreeMap, BTreeSet};

use albedo_ledger::event::SampleRef;

use super::seed::Seed;
use super::stream::{PROBE_DOMAIN, SAMPLE_DOMAIN, Stream};

/// Access to the dataset's rows, implemented by the shell over Parquet. Only rows named by
/// phase 1 are ever read, each at most once per draw. Before drawing, the shell checks every
/// shard's row count in its Parquet footer against the manifest (§3.5), so a missing row is an
/// infra error whichever rows a draw happens to reach.
pub trait RowReader {
    /// The `turn_idx` values (spec/eval.md §5.3) of the assistant turns of one row, ascending.
    fn assistant_turns(&mut self, shard: u32, row: u64) -> Result<Vec<u32>, RowError>;
}

/// A row the manifest promises but the reader could not produce (an infra error, §3.5).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("dataset shard {shard}, row {row}: {reason}")]
pub struct RowError {
    /// Shard index in manifest order, empty shards included.
    pub shard: u32,
    pub row: u64,
    pub reason: String,
}

/// Why a duel or probe draw gave no usable result; every variant is an infra fault, never the
/// miner's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DrawError {
    #[error(transparent)]
    Row(#[from] RowError),
    #[error("the sample draw yielded no sample: the dataset is unusable (determinism.md §3)")]
    EmptyDataset,
    #[error("the probe draw yielded {got} of the {wanted} samples asked: the dataset is unusable (determinism.md §3b)")]
    Short { wanted: usize, got: usize },
}

/// §3: `shard_rows` are the manifest's row counts in manifest order (empty shards included).
/// Returns the refs in draw order: at most `n`, fewer when the `4n` positions do not yield `n`
/// distinct eligible turns, none when `n = 0` or the dataset has no row (nothing is drawn then).
///
/// A turn is eligible when its index is below `max_turns`. Errors: whatever the reader returns,
/// a reader answer that is not strictly ascending, and row counts whose sum exceeds 2^64 − 1 (all
/// name a shard and row).
pub fn draw_samples(
    seed: &Seed,
    domain: &str,
    shard_rows: &[u64],
    n: usize,
    max_turns: u32,
    reader: &mut dyn RowReader,
) -> Result<Vec<SampleRef>, RowError> {
    // 1. Prefix sums: shard i holds the global positions ends[i-1]..ends[i].
    let mut ends = Vec::with_capacity(shard_rows.len());
    let mut total = 0u64;
    for (shard, &rows) in shard_rows.iter().enumerate() {
        total = total.checked_add(rows).ok_or_else(|| RowError {
            shard: shard_index(shard),
            row: rows,
            reason: "the manifest's row counts add up to more than 2^64 - 1".to_owned(),
        })?;
        ends.push(total);
    }
    if n == 0 || total == 0 {
        return Ok(Vec::new());
    }

    // 2. Phase 1: all 4n positions first, so phase 2's turn draws continue after them.
    let mut stream = Stream::new(domain, seed);
    let positions: Vec<u64> =
        (0..n.checked_mul(4).expect("n_samples × 4 overflows usize")).map(|_| stream.uniform(total)).collect();

    // 3. Phase 2, in draw order. A row drawn twice is read once: its eligible turns are kept.
    let mut eligible_by_row: BTreeMap<(u32, u64), Vec<u32>> = BTreeMap::new();
    let mut taken = BTreeSet::new();
    let mut samples = Vec::with_capacity(n);
    for p in positions {
        if samples.len() == n {
            break;
        }
        // The first shard whose end lies beyond p; empty shards end where the previous one does.
        let i = ends.partition_point(|&end| end <= p);
        let (shard, row) = (shard_index(i), p - if i == 0 { 0 } else { ends[i - 1] });
        let eligible = match eligible_by_row.entry((shard, row)) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(eligible_turns(reader, shard, row, max_turns)?),
        };
        if eligible.is_empty() {
            continue;
        }
        let t = stream.uniform(eligible.len() as u64) as usize;
        let sample = SampleRef { shard, row, turn: eligible[t] };
        if taken.insert(sample) {
            samples.push(sample);
        }
    }
    Ok(samples)
}

/// The duel's draw (§3, `albedo/v1/sample`); an empty result is [`DrawError::EmptyDataset`].
pub fn draw_duel_samples(
    seed: &Seed,
    shard_rows: &[u64],
    n: usize,
    max_turns: u32,
    reader: &mut dyn RowReader,
) -> Result<Vec<SampleRef>, DrawError> {
    let samples = draw_samples(seed, SAMPLE_DOMAIN, shard_rows, n, max_turns, reader)?;
    if samples.is_empty() {
        return Err(DrawError::EmptyDataset);
    }
    Ok(samples)
}

/// The injection probe's draw (§3b, `albedo/v1/probe`): `n = 0` is no probe (`Ok(empty)`);
/// fewer than `n` refs is [`DrawError::Short`].
pub fn draw_probe_samples(
    seed: &Seed,
    shard_rows: &[u64],
    n: usize,
    max_turns: u32,
    reader: &mut dyn RowReader,
) -> Result<Vec<SampleRef>, DrawError> {
    let samples = draw_samples(seed, PROBE_DOMAIN, shard_rows, n, max_turns, reader)?;
    if samples.len() < n {
        return Err(DrawError::Short { wanted: n, got: samples.len() });
    }
    Ok(samples)
}

/// The row's turns below `max_turns`, after checking the reader kept its "ascending" promise: the
/// uniform pick indexes this list, so an unordered answer would silently change the draw.
fn eligible_turns(reader: &mut dyn RowReader, shard: u32, row: u64, max_turns: u32) -> Result<Vec<u32>, RowError> {
    let turns = reader.assistant_turns(shard, row)?;
    if turns.windows(2).any(|w| w[0] >= w[1]) {
        return Err(RowError {
            shard,
            row,
            reason: format!(
                "the row reader returned assistant turn indices that are not strictly ascending: {turns:?}"
            ),
        });
    }
    Ok(turns.into_iter().filter(|&t| t < max_turns).collect())
}

fn shard_index(i: usize) -> u32 {
    // A manifest lists far fewer than 2^32 shards; its parser keeps it that way.
    u32::try_from(i).expect("more than 2^32 dataset shards")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An in-memory dataset: `rows[shard][row]` is the row's assistant turn count (turns are
    /// 0..count, as eval.md §5.3 numbers them). Records every read.
    struct MemoryRows {
        rows: Vec<Vec<u32>>,
        reads: Vec<(u32, u64)>,
        fail_at: Option<(u32, u64)>,
    }

    impl MemoryRows {
        fn new(rows: Vec<Vec<u32>>) -> MemoryRows {
            MemoryRows { rows, reads: Vec::new(), fail_at: None }
        }
        fn counts(&self) -> Vec<u64> {
            self.rows.iter().map(|s| s.len() as u64).collect()
        }
    }

    impl RowReader for MemoryRows {
        fn assistant_turns(&mut self, shard: u32, row: u64) -> Result<Vec<u32>, RowError> {
            self.reads.push((shard, row));
            if self.fail_at == Some((shard, row)) {
                return Err(RowError { shard, row, reason: "shard file has fewer rows than the manifest".into() });
            }
            Ok((0..self.rows[shard as usize][row as usize]).collect())
        }
    }

    fn seed(tag: &str) -> Seed {
        Seed::derive("0x2222222222222222222222222222222222222222222222222222222222222222", tag).unwrap()
    }

    /// Phase 1 recomputed independently: the (shard, row) of each of the 4n positions.
    fn phase1(seed: &Seed, domain: &str, counts: &[u64], n: usize) -> Vec<(u32, u64)> {
        let total: u64 = counts.iter().sum();
        let mut s = Stream::new(domain, seed);
        (0..4 * n)
            .map(|_| {
                let mut p = s.uniform(total);
                let mut shard = 0;
                while p >= counts[shard] {
                    p -= counts[shard];
                    shard += 1;
                }
                (shard as u32, p)
            })
            .collect()
    }

    #[test]
    fn reads_only_phase1_rows_in_draw_order_once_each() {
        // Shard 1 is empty, shard 3 has rows without assistant turns, shard 4 has long rows.
        let mut data = MemoryRows::new(vec![vec![3, 1, 12], vec![], vec![2; 5], vec![0, 0, 1], vec![20, 15]]);
        let counts = data.counts();
        let s = seed("reads");
        let got = draw_samples(&s, SAMPLE_DOMAIN, &counts, 6, 10, &mut data).unwrap();
        assert_eq!(got.len(), 6);
        let positions = phase1(&s, SAMPLE_DOMAIN, &counts, 6);
        // Reads are the distinct rows of a prefix of the positions, in first-seen order.
        let mut expected = Vec::new();
        for p in &positions {
            if expected.len() == data.reads.len() {
                break;
            }
            if !expected.contains(p) {
                expected.push(*p);
            }
        }
        assert_eq!(data.reads, expected);
        for r in &got {
            assert!(r.turn < 10 && r.turn < data.rows[r.shard as usize][r.row as usize]);
            assert_ne!(r.shard, 1);
        }
        let unique: BTreeSet<_> = got.iter().collect();
        assert_eq!(unique.len(), got.len());
    }

    #[test]
    fn duplicates_and_turnless_rows_are_skipped_and_the_draw_can_come_up_short() {
        // One row with two turns: at most two distinct refs exist, whatever n is.
        let mut data = MemoryRows::new(vec![vec![2]]);
        let got = draw_samples(&seed("short"), SAMPLE_DOMAIN, &[1], 5, 10, &mut data).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(BTreeSet::from_iter(got.iter().map(|r| r.turn)), BTreeSet::from([0, 1]));
        assert_eq!(data.reads, vec![(0, 0)], "a row drawn 20 times is read once");

        // max_turns hides every turn: rows are read, nothing is eligible.
        let mut data = MemoryRows::new(vec![vec![0, 3, 0]]);
        let got = draw_samples(&seed("short"), SAMPLE_DOMAIN, &[3], 4, 0, &mut data).unwrap();
        assert!(got.is_empty());
        assert!(data.reads.len() <= 3);
    }

    #[test]
    fn nothing_is_drawn_or_read_for_an_empty_dataset_or_n_zero() {
        let mut data = MemoryRows::new(vec![vec![], vec![]]);
        assert_eq!(draw_samples(&seed("e"), SAMPLE_DOMAIN, &[0, 0], 4, 10, &mut data), Ok(vec![]));
        assert_eq!(draw_samples(&seed("e"), SAMPLE_DOMAIN, &[], 4, 10, &mut data), Ok(vec![]));
        let mut data = MemoryRows::new(vec![vec![5]]);
        assert_eq!(draw_samples(&seed("e"), SAMPLE_DOMAIN, &[1], 0, 10, &mut data), Ok(vec![]));
        assert!(data.reads.is_empty());
        assert_eq!(draw_duel_samples(&seed("e"), &[0, 0], 4, 10, &mut data), Err(DrawError::EmptyDataset));
        assert_eq!(draw_probe_samples(&seed("e"), &[1], 0, 10, &mut data), Ok(vec![]));
    }

    #[test]
    fn probe_draw_uses_its_own_domain_and_must_be_complete() {
        let mut data = MemoryRows::new(vec![vec![10; 50]]);
        let duel = draw_duel_samples(&seed("p"), &[50], 3, 10, &mut data).unwrap();
        let probe = draw_probe_samples(&seed("p"), &[50], 3, 10, &mut data).unwrap();
        assert_eq!(probe, draw_samples(&seed("p"), PROBE_DOMAIN, &[50], 3, 10, &mut data).unwrap());
        assert_ne!(duel, probe);
        let mut one_turn = MemoryRows::new(vec![vec![1]]);
        let err = draw_probe_samples(&seed("p"), &[1], 2, 10, &mut one_turn).unwrap_err();
        assert_eq!(err, DrawError::Short { wanted: 2, got: 1 });
        assert!(err.to_string().contains("1 of the 2"), "{err}");
    }

    #[test]
    fn a_row_error_propagates_naming_shard_and_row() {
        let mut data = MemoryRows::new(vec![vec![], vec![4; 3]]);
        data.fail_at = Some((1, 2));
        let err = draw_duel_samples(&seed("err"), &[0, 3], 8, 10, &mut data).unwrap_err();
        assert_eq!(err.to_string(), "dataset shard 1, row 2: shard file has fewer rows than the manifest");
        assert_eq!(data.reads.last(), Some(&(1, 2)));
    }

    #[test]
    fn unordered_reader_answers_and_overflowing_manifests_are_errors() {
        struct Unordered;
        impl RowReader for Unordered {
            fn assistant_turns(&mut self, _: u32, _: u64) -> Result<Vec<u32>, RowError> {
                Ok(vec![1, 0])
            }
        }
        let err = draw_samples(&seed("u"), SAMPLE_DOMAIN, &[0, 1], 1, 10, &mut Unordered).unwrap_err();
        assert_eq!((err.shard, err.row), (1, 0));
        assert!(err.reason.contains("not strictly ascending"), "{err}");
        let err = draw_samples(&seed("u"), SAMPLE_DOMAIN, &[u64::MAX, 1], 1, 10, &mut Unordered).unwrap_err();
        assert_eq!(err.shard, 1);
    }

    #[test]
    fn draws_are_deterministic() {
        let rows = vec![vec![7; 40], vec![], vec![3; 9]];
        let a = draw_samples(&seed("d"), SAMPLE_DOMAIN, &[40, 0, 9], 10, 5, &mut MemoryRows::new(rows.clone()));
        let b = draw_samples(&seed("d"), SAMPLE_DOMAIN, &[40, 0, 9], 10, 5, &mut MemoryRows::new(rows));
        assert_eq!(a, b);
    }

    proptest! {
        #[test]
        fn draws_are_unique_and_in_bounds(
            rows in proptest::collection::vec(proptest::collection::vec(0u32..15, 0..8), 0..6),
            n in 0usize..20,
            max_turns in 0u32..12,
            tag in "[a-z]{1,8}",
        ) {
            let mut data = MemoryRows::new(rows);
            let counts = data.counts();
            let got = draw_samples(&seed(&tag), SAMPLE_DOMAIN, &counts, n, max_turns, &mut data).unwrap();
            prop_assert!(got.len() <= n);
            let unique: BTreeSet<_> = got.iter().collect();
            prop_assert_eq!(unique.len(), got.len());
            for r in &got {
                prop_assert!((r.shard as usize) < data.rows.len());
                prop_assert!(r.row < counts[r.shard as usize]);
                prop_assert!(r.turn < max_turns && r.turn < data.rows[r.shard as usize][r.row as usize]);
            }
            let distinct: BTreeSet<_> = data.reads.iter().collect();
            prop_assert_eq!(distinct.len(), data.reads.len(), "each row read at most once");
        }
    }
}
