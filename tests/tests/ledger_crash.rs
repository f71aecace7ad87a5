//! Crash test: SIGKILL a writer at random moments; every acknowledged entry must survive, byte
//! for byte, with no gap and no duplicate, and the store must open and verify every time.
//!
//! `ALBEDO_CRASH_KILLS` sets the number of kills (default 200); `ALBEDO_CRASH_SEED` replays a
//! failing run (the seed is printed on failure).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use albedo_ledger::testkit::sample_event;
use albedo_ledger::{Hash32, Store};
use rand::{Rng, SeedableRng};

#[test]
fn acknowledged_entries_survive_sigkill() {
    let kills: u32 = std::env::var("ALBEDO_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let seed: u64 = std::env::var("ALBEDO_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    eprintln!("crash test: {kills} kills, ALBEDO_CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    let mut acked: BTreeMap<u64, Hash32> = BTreeMap::new();
    let mut checked_up_to = 0u64; // entries below this were compared with their sample event
    let mut killed_mid_run = 0;

    for round in 0..kills {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-appender"))
            .arg(&path)
            .arg(rng.random::<u64>().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        assert!(first.starts_with("open "), "round {round} (seed {seed}): child did not open: {first:?}");
        // Kill at a random moment while it appends (up to ~25 ms in).
        std::thread::sleep(Duration::from_micros(rng.random_range(0..25_000)));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        assert!(stderr.is_empty(), "round {round} (seed {seed}): child reported: {stderr}");
        if status.code().is_none() {
            killed_mid_run += 1;
        }
        for line in lines {
            let line = line.unwrap();
            let mut parts = line.split(' ');
            // A line cut by the kill is ignored: an ack counts only when printed whole.
            if let (Some("ack"), Some(seq), Some(hash), None) = (parts.next(), parts.next(), parts.next(), parts.next())
                && let (Ok(seq), Some(hash)) = (seq.parse::<u64>(), Hash32::from_hex(hash))
            {
                let prior = acked.insert(seq, hash);
                assert!(
                    prior.is_none_or(|p| p == hash),
                    "round {round}: seq {seq} acknowledged twice with different bytes"
                );
            }
        }

        let store = Store::open(&path)
            .unwrap_or_else(|e| panic!("round {round} (seed {seed}): the store does not open after SIGKILL: {e}"));
        let snapshot = store.snapshot();
        if let Some((&last, _)) = acked.last_key_value() {
            assert!(
                store.len() > last,
                "round {round} (seed {seed}): acknowledged seq {last} lost; ledger has {}",
                store.len()
            );
        }
        for (&seq, hash) in acked.range(checked_up_to.saturating_sub(300)..) {
            let entry = snapshot.get(seq).unwrap().unwrap();
            assert_eq!(entry.hash(), *hash, "round {round} (seed {seed}): acknowledged entry {seq} changed");
        }
        // No duplicate and no stray entry: entry seq holds exactly sample event seq.
        for entry in snapshot.entries(checked_up_to) {
            let entry = entry.unwrap();
            assert_eq!(
                entry.decode().unwrap().event,
                sample_event(entry.seq),
                "round {round} (seed {seed}): entry {}",
                entry.seq
            );
        }
        checked_up_to = store.len();
    }

    let store = Store::open(&path).unwrap();
    assert_eq!(store.verify_all().unwrap(), store.head());
    let snapshot = store.snapshot();
    for (&seq, hash) in &acked {
        assert_eq!(snapshot.get(seq).unwrap().unwrap().hash(), *hash, "acknowledged entry {seq} changed");
    }
    eprintln!(
        "crash test: {} entries, {} acknowledged, {killed_mid_run} of {kills} kills hit a running writer",
        store.len(),
        acked.len()
    );
    assert!(killed_mid_run > kills / 2, "most kills should land while the writer runs");
}
