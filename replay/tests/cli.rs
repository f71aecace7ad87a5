//! `albedo-replay verify` and `events` run as a real binary against a real sled ledger.

use std::path::Path;
use std::process::{Command, Output};

use albedo_ledger::Store;
use albedo_ledger::testkit::sample_draft;

fn replay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albedo-replay")).args(args).output().unwrap()
}

fn ledger(dir: &Path, n: u64) -> String {
    let mut store = Store::create(dir).unwrap();
    store.append_batch((0..n).map(sample_draft).collect()).unwrap();
    dir.to_str().unwrap().to_string()
}

#[test]
fn verify_accepts_an_intact_ledger_and_names_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = ledger(dir.path(), 40);
    let out = replay(&["verify", "--ledger", &path]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("ok: 40 entries, head seq 39 hash "), "{stdout}");
}

#[test]
fn verify_fails_on_a_tampered_entry_and_names_its_seq() {
    let dir = tempfile::tempdir().unwrap();
    let path = ledger(dir.path(), 40);
    let db = loop {
        match sled::open(dir.path()) {
            Ok(db) => break db,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    };
    let log = db.open_tree("log").unwrap();
    log.remove(12u64.to_be_bytes()).unwrap();
    db.flush().unwrap();
    drop((log, db));
    let out = replay(&["verify", "--ledger", &path]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("seq 12: entry is missing"), "{stderr}");
}

#[test]
fn verify_of_a_missing_ledger_says_so() {
    let out = replay(&["verify", "--ledger", "/nonexistent/ledger"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ledger: not a ledger source"));
}

#[test]
fn events_prints_filtered_json_lines_with_hex_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let path = ledger(dir.path(), 64);
    let out = replay(&["events", "--ledger", &path, "--kind", "turn_judged", "--from", "20", "--to", "50"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // turn_judged is i % 16 in 10..=12: seqs 26, 27, 28, 42, 43, 44 within 20..=50.
    let seqs: Vec<u64> = lines.iter().map(|v| v["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [26, 27, 28, 42, 43, 44]);
    assert!(lines.iter().all(|v| v["event"]["kind"] == "turn_judged"));
    assert_eq!(lines[0]["hash"].as_str().unwrap().len(), 64);
    assert_eq!(lines[0]["prev"].as_str().unwrap().len(), 64);

    let out = replay(&["events", "--ledger", &path, "--eval", "eval-000004"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains("\"eval_queued\""));
}

#[test]
fn events_refuses_an_unknown_kind() {
    let dir = tempfile::tempdir().unwrap();
    let path = ledger(dir.path(), 4);
    let out = replay(&["events", "--ledger", &path, "--kind", "verdicts"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown kind \"verdicts\""));
}

struct TestSigner(subxt_signer::sr25519::Keypair);

impl albedo_ledger::mirror::CheckpointSigner for TestSigner {
    fn ss58(&self) -> String {
        albedo_ledger::mirror::ss58_encode(&self.0.public_key().0)
    }
    fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).0
    }
}

#[test]
fn verify_checks_that_the_ledger_extends_a_previous_checkpoint() {
    use albedo_ledger::mirror::Checkpoint;
    let dir = tempfile::tempdir().unwrap();
    let path = ledger(dir.path(), 40);
    let hash_19 = {
        let store = Store::open(dir.path()).unwrap();
        store.snapshot().get(19).unwrap().unwrap().hash()
    };
    let signer = TestSigner(subxt_signer::sr25519::Keypair::from_secret_key([5; 32]).unwrap());
    let write = |name: &str, c: &Checkpoint| {
        let p = dir.path().with_extension(name);
        std::fs::write(&p, c.to_json()).unwrap();
        p.to_str().unwrap().to_string()
    };
    let good = write("good.json", &Checkpoint::sign(20, hash_19, 1, &signer));
    let out = replay(&["verify", "--ledger", &path, "--previous", &good]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("consistent: extends the previous checkpoint of size 20"));

    let forged = write("forged.json", &Checkpoint::sign(20, albedo_ledger::Hash32::of(b"other history"), 1, &signer));
    let out = replay(&["verify", "--ledger", &path, "--previous", &forged]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("seq 19:") && stderr.contains("history was rewritten"), "{stderr}");

    let longer = write("longer.json", &Checkpoint::sign(50, hash_19, 1, &signer));
    let out = replay(&["verify", "--ledger", &path, "--previous", &longer]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("it went back"));
}
