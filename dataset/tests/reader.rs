//! The dataset reader against real Parquet files written by the testkit.

use std::collections::BTreeMap;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use albedo_dataset::testkit::{Row, write_test_dataset, write_test_dataset_grouped};
use albedo_dataset::{DatasetError, Manifest, ParquetRows};
use albedo_ledger::Hash32;
use albedo_projections::scoring::sample::{RowError, RowReader, draw_duel_samples};
use albedo_projections::scoring::seed::Seed;

/// A trajectory with `k` assistant turns: system, user task, then assistant/user pairs.
fn trajectory(k: usize) -> Row<'static> {
    let mut row = vec![("system", "You are a helpful assistant."), ("user", "Fix the bug.")];
    for _ in 0..k {
        row.push(("assistant", "THOUGHT: look\n```bash\nls\n```"));
        row.push(("user", "<returncode>0</returncode>"));
    }
    row
}

/// Shards of rows with varied turn counts (including none), plus an empty shard.
fn shards() -> Vec<Vec<Row<'static>>> {
    vec![
        (0..7).map(|i| trajectory((i * 3) % 13)).collect(),
        vec![],
        (0..5).map(|i| trajectory(i % 2 * 12)).collect(),
        (0..9).map(|i| trajectory(1 + i)).collect(),
    ]
}

fn open(dir: &Path) -> (Manifest, Hash32, ParquetRows) {
    let (manifest, hash) = Manifest::load(dir).unwrap();
    let rows = ParquetRows::open(dir, &manifest).unwrap();
    (manifest, hash, rows)
}

#[test]
fn the_manifest_round_trips_with_the_hash_of_its_exact_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let hash = write_test_dataset(dir.path(), &shards());
    let (manifest, loaded) = Manifest::load(dir.path()).unwrap();
    assert_eq!(loaded, hash);
    assert_eq!(hash, Hash32::of(&std::fs::read(dir.path().join("manifest.json")).unwrap()));
    assert_eq!(manifest.shard_rows(), vec![7, 0, 5, 9]);
    assert_eq!(manifest.total_rows, 21);
    assert_eq!(manifest.shards[3].name, "data/train-00003-of-00004.parquet");
}

#[test]
fn manifest_errors_name_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let err = |text: &str| {
        std::fs::write(dir.path().join("manifest.json"), text).unwrap();
        Manifest::load(dir.path()).unwrap_err().to_string()
    };
    let e = err("{\"shards\": [");
    assert!(e.contains("manifest.json: not valid JSON"), "{e}");
    let e = err(r#"{"total_rows":0}"#);
    assert!(e.contains("manifest.json: `shards`: missing"), "{e}");
    let e = err(r#"{"shards":[{"name":"a.parquet","rows":1},{"name":"b.parquet"}],"total_rows":1}"#);
    assert!(e.contains("manifest.json: `shards[1].rows`: missing"), "{e}");
    let e = err(r#"{"shards":[{"rows":1}],"total_rows":1}"#);
    assert!(e.contains("`shards[0].name`: missing"), "{e}");
    let e = err(r#"{"shards":[{"name":"a","rows":-1}],"total_rows":1}"#);
    assert!(e.contains("`shards[0].rows`: not a non-negative integer"), "{e}");
    let e = err(r#"{"shards":[{"name":"a","rows":1}]}"#);
    assert!(e.contains("`total_rows`: missing"), "{e}");
    let e = err(r#"{"shards":[{"name":"a","rows":1}],"total_rows":2}"#);
    assert!(e.contains("`total_rows`: 2 is not the sum"), "{e}");
    std::fs::remove_file(dir.path().join("manifest.json")).unwrap();
    let e = Manifest::load(dir.path()).unwrap_err();
    assert!(matches!(e, DatasetError::Io { .. }) && e.to_string().contains("manifest.json"), "{e}");
}

#[test]
fn a_footer_row_count_differing_from_the_manifest_is_refused_naming_the_shard() {
    let dir = tempfile::tempdir().unwrap();
    write_test_dataset(dir.path(), &shards());
    let (mut manifest, _) = Manifest::load(dir.path()).unwrap();
    manifest.shards[2].rows = 6;
    manifest.total_rows += 1;
    let e = ParquetRows::open(dir.path(), &manifest).err().unwrap().to_string();
    assert!(e.starts_with("dataset shard 2 ("), "{e}");
    assert!(e.contains("train-00002-of-00004.parquet"), "{e}");
    assert!(e.contains("footer says 5 rows, the manifest 6"), "{e}");

    // A missing shard file is named too.
    std::fs::remove_file(dir.path().join("data/train-00003-of-00004.parquet")).unwrap();
    let (manifest, _) = Manifest::load(dir.path()).unwrap();
    let e = ParquetRows::open(dir.path(), &manifest).err().unwrap().to_string();
    assert!(e.starts_with("dataset shard 3 (") && e.contains("cannot open"), "{e}");
}

#[test]
fn a_shard_is_found_by_its_basename_when_the_name_path_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    write_test_dataset(dir.path(), &shards());
    for i in 0..4 {
        let name = format!("train-{i:05}-of-00004.parquet");
        std::fs::rename(dir.path().join("data").join(&name), dir.path().join(&name)).unwrap();
    }
    let (_, _, mut rows) = open(dir.path());
    assert_eq!(rows.assistant_turns(3, 4).unwrap(), (0..5).collect::<Vec<u32>>());
}

#[test]
fn assistant_turns_of_known_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut odd = vec![("system", "s"), ("assistant", "a0"), ("Assistant", "not a turn"), ("user", "u")];
    odd.extend([("tool", "t"), ("assistant", "a1"), ("assistant", "a2")]);
    write_test_dataset(dir.path(), &[vec![trajectory(3), odd, vec![], trajectory(0)]]);
    let (_, _, mut rows) = open(dir.path());
    assert_eq!(rows.assistant_turns(0, 0).unwrap(), vec![0, 1, 2]);
    assert_eq!(rows.assistant_turns(0, 1).unwrap(), vec![0, 1, 2], "roles are case-sensitive");
    assert_eq!(rows.roles(0, 1).unwrap()[2].as_deref(), Some("Assistant"));
    assert_eq!(rows.assistant_turns(0, 2).unwrap(), Vec::<u32>::new());
    assert_eq!(rows.assistant_turns(0, 3).unwrap(), Vec::<u32>::new());
    // A row the manifest does not promise is a RowError naming shard and row.
    let e: RowError = rows.assistant_turns(0, 4).unwrap_err();
    assert_eq!((e.shard, e.row), (0, 4));
    assert!(e.to_string().starts_with("dataset shard 0, row 4: "), "{e}");
    let e = rows.assistant_turns(1, 0).unwrap_err();
    assert_eq!((e.shard, e.row), (1, 0));
}

#[test]
fn only_the_row_group_holding_the_row_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<Row> = (0..12).map(trajectory).collect();
    write_test_dataset_grouped(dir.path(), &[rows], 3);
    let (manifest, _) = Manifest::load(dir.path()).unwrap();
    let shard = manifest.shard_file(dir.path(), 0);

    // Corrupt the data of every row group except group 2 (rows 6..9); the footer stays intact.
    let meta = {
        let f = std::fs::File::open(&shard).unwrap();
        parquet::file::reader::SerializedFileReader::new(f).unwrap()
    };
    let meta = parquet::file::reader::FileReader::metadata(&meta).clone();
    assert_eq!(meta.num_row_groups(), 4);
    let mut f = std::fs::OpenOptions::new().write(true).open(&shard).unwrap();
    for (g, group) in meta.row_groups().iter().enumerate() {
        if g == 2 {
            continue;
        }
        for col in group.columns() {
            let (start, len) = col.byte_range();
            f.seek(SeekFrom::Start(start)).unwrap();
            f.write_all(&vec![0xA5; len as usize]).unwrap();
        }
    }
    drop(f);

    let mut reader = ParquetRows::open(dir.path(), &manifest).unwrap();
    for row in 6..9u64 {
        assert_eq!(reader.assistant_turns(0, row).unwrap(), (0..row as u32).collect::<Vec<_>>());
    }
    assert_eq!(reader.row_groups_read(), &[(0, 2), (0, 2), (0, 2)]);
    // The corruption is real: a row in another group cannot be read.
    let e = reader.assistant_turns(0, 9).unwrap_err();
    assert_eq!((e.shard, e.row), (0, 9));
    assert!(e.reason.contains("row group 3"), "{e}");
}

/// The turns of every row, in memory.
struct MemoryRows(BTreeMap<(u32, u64), Vec<u32>>);

impl RowReader for MemoryRows {
    fn assistant_turns(&mut self, shard: u32, row: u64) -> Result<Vec<u32>, RowError> {
        Ok(self.0[&(shard, row)].clone())
    }
}

#[test]
fn the_draw_over_parquet_equals_the_draw_over_memory() {
    let dir = tempfile::tempdir().unwrap();
    let data = shards();
    write_test_dataset_grouped(dir.path(), &data, 2);
    let (manifest, _, mut parquet) = open(dir.path());
    let mut memory = MemoryRows(BTreeMap::new());
    for (s, rows) in data.iter().enumerate() {
        for (r, row) in rows.iter().enumerate() {
            let k = row.iter().filter(|m| m.0 == "assistant").count() as u32;
            memory.0.insert((s as u32, r as u64), (0..k).collect());
        }
    }
    let counts = manifest.shard_rows();
    for tag in ["a", "b", "c", "d"] {
        let seed = Seed::derive("0x3333333333333333333333333333333333333333333333333333333333333333", tag).unwrap();
        let from_parquet = draw_duel_samples(&seed, &counts, 6, 10, &mut parquet).unwrap();
        let from_memory = draw_duel_samples(&seed, &counts, 6, 10, &mut memory).unwrap();
        assert_eq!(from_parquet, from_memory, "seed tag {tag}");
        assert!(!from_parquet.is_empty());
    }
    assert!(parquet.row_groups_read().iter().all(|&(s, _)| s != 1), "the empty shard is never read");
}
