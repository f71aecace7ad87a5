//! `albedo-replay verdict --dataset DIR`: the recorded sample draw is re-drawn from a real
//! Parquet dataset and compared, through the real binary against a real sled ledger.

use std::path::Path;
use std::process::{Command, Output};

use albedo_dataset::testkit::{Row, write_test_dataset};
use albedo_dataset::{Manifest, ParquetRows};
use albedo_ledger::event::SamplesDrawn;
use albedo_ledger::{Draft, ENTRY_VERSION, Envelope, Event, Hash32, Store};
use albedo_projections::decide::{self, Commitment, CompetitionInput};
use albedo_projections::scoring::sample::draw_duel_samples;
use albedo_projections::scoring::seed::Seed;
use albedo_projections::state::State;

const CHAIN_TOML: &str = include_str!("../../chain.toml");
const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
const BOB: &str = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const EVAL: &str = "eval-000001";
const N_SAMPLES: usize = 5;

fn replay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albedo-replay")).args(args).output().unwrap()
}

fn trajectory(k: usize) -> Row<'static> {
    let mut row = vec![("system", "sys"), ("user", "task")];
    for _ in 0..k {
        row.extend([("assistant", "THOUGHT: x"), ("user", "<output/>")]);
    }
    row
}

fn dataset(dir: &Path) -> Hash32 {
    write_test_dataset(
        dir,
        &[(0..6).map(|i| trajectory(i % 4)).collect(), vec![], (0..8).map(|i| trajectory(2 + i)).collect()],
    )
}

/// The pinned chain.toml with this dataset's manifest hash and a small `[duel] n_samples`.
fn chain_toml(manifest: Hash32) -> String {
    let pinned = CHAIN_TOML.lines().find(|l| l.starts_with("manifest_sha256 = ")).unwrap();
    assert_eq!(CHAIN_TOML.matches("\nn_samples = 128\n").count(), 1);
    CHAIN_TOML
        .replace(pinned, &format!("manifest_sha256 = \"{manifest}\""))
        .replace("\nn_samples = 128\n", &format!("\nn_samples = {N_SAMPLES}\n"))
}

/// Genesis, one reveal, its dispatch, then `samples_drawn` with the refs drawn from `data`
/// (`tamper` may alter them). Returns the ledger's drafts and the recorded refs.
fn ledger(data: &Path, manifest: Hash32, tamper: impl Fn(&mut SamplesDrawn)) -> (Vec<Draft>, SamplesDrawn) {
    let mut state = State::new();
    let mut drafts = Vec::new();
    let mut append = |state: &mut State, events: Vec<Event>| {
        for event in events {
            let (seq, time_ms, block) = (state.next_seq(), 1000 + drafts.len() as u64, Some(100));
            let env = Envelope { v: ENTRY_VERSION, seq, prev: Hash32::ZERO, time_ms, block, event: event.clone() };
            state.apply(&env);
            drafts.push(Draft { time_ms, block, event });
        }
    };
    let input =
        CompetitionInput { chain_toml: chain_toml(manifest), netuid: 97, validator_hotkey: ALICE.into(), reset: None };
    let events = decide::start_competition(&state, &input).unwrap();
    append(&mut state, events);
    let reveal =
        Commitment { hotkey: BOB.into(), block: 10, raw: format!("v4|miner/albedo-qwen3-4b-a|{DIGEST}").into_bytes() };
    let events = decide::scan(&state, &[reveal]).unwrap();
    append(&mut state, events);
    assert_eq!(state.queue, [EVAL]);
    let block_hash = format!("0x{}", "ab".repeat(32));
    let events = decide::dispatch(&state, EVAL, &block_hash, "http://127.0.0.1:9001").unwrap();
    append(&mut state, events);

    let (m, _) = Manifest::load(data).unwrap();
    let mut reader = ParquetRows::open(data, &m).unwrap();
    let seed = Seed::derive(&block_hash, BOB).unwrap();
    let samples = draw_duel_samples(&seed, &m.shard_rows(), N_SAMPLES, 10, &mut reader).unwrap();
    assert_eq!(samples.len(), N_SAMPLES);
    let mut drawn = SamplesDrawn { eval_id: EVAL.into(), attempt: 1, dataset_manifest_sha256: manifest, samples };
    tamper(&mut drawn);
    append(&mut state, vec![Event::SamplesDrawn(drawn.clone())]);
    (drafts, drawn)
}

fn store(dir: &Path, drafts: Vec<Draft>) -> String {
    Store::create(dir).unwrap().append_batch(drafts).unwrap();
    dir.to_str().unwrap().to_owned()
}

fn verdict(ledger: &str, data: &Path) -> (bool, String, String) {
    let out = replay(&["verdict", "--ledger", ledger, EVAL, "--dataset", data.to_str().unwrap()]);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn a_matching_draw_passes() {
    let (data, led) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let manifest = dataset(data.path());
    let (drafts, _) = ledger(data.path(), manifest, |_| {});
    let path = store(led.path(), drafts);
    let (ok, stdout, stderr) = verdict(&path, data.path());
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("sample draw: matches ({N_SAMPLES} refs)")), "{stdout}");
    assert!(stdout.contains(&format!("verdict: none recorded for {EVAL}")), "{stdout}");

    // Without --dataset the command is unchanged: no verdict is an error.
    let out = replay(&["verdict", "--ledger", &path, EVAL]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no verdict in this ledger"));
}

#[test]
fn swapped_refs_fail_naming_the_first_differing_index() {
    let (data, led) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let manifest = dataset(data.path());
    let (drafts, drawn) = ledger(data.path(), manifest, |d| d.samples.swap(1, 3));
    let path = store(led.path(), drafts);
    let (ok, stdout, stderr) = verdict(&path, data.path());
    assert!(!ok, "{stdout}\n{stderr}");
    let r = drawn.samples[1];
    let expected =
        format!("sample draw: MISMATCH at index 1: recorded (shard {}, row {}, turn {})", r.shard, r.row, r.turn);
    assert!(stdout.contains(&expected), "{stdout}");
    assert!(!stdout.contains("matches"), "{stdout}");
}

#[test]
fn a_dataset_with_another_manifest_is_refused() {
    let (data, led) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let manifest = dataset(data.path());
    let (drafts, _) = ledger(data.path(), manifest, |_| {});
    let path = store(led.path(), drafts);
    // Same rows, different manifest bytes (whitespace): another dataset as far as the pin goes.
    let file = data.path().join("manifest.json");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.push(b'\n');
    std::fs::write(&file, &bytes).unwrap();
    let (ok, stdout, stderr) = verdict(&path, data.path());
    assert!(!ok, "{stdout}\n{stderr}");
    assert!(stderr.contains(&format!("SHA-256 {}", Hash32::of(&bytes))), "{stderr}");
    assert!(stderr.contains(&format!("the competition pins dataset_manifest_sha256 {manifest}")), "{stderr}");
    assert!(stderr.contains("not this competition's dataset"), "{stderr}");
    assert!(!stdout.contains("sample draw"), "{stdout}");
}

#[test]
fn samples_drawn_from_another_dataset_than_the_competitions_are_refused() {
    let (data, led) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let manifest = dataset(data.path());
    let other = Hash32::of(b"another manifest");
    let (drafts, _) = ledger(data.path(), manifest, |d| d.dataset_manifest_sha256 = other);
    let path = store(led.path(), drafts);
    let (ok, _, stderr) = verdict(&path, data.path());
    assert!(!ok);
    assert!(stderr.contains(&format!("samples_drawn records {other}")), "{stderr}");
}
