//! `docs/verify_mirror.py`, the auditor's Python verifier, against a mirror of the fixture
//! competition written with the ledger's own API: it must accept the mirror, re-derive the
//! verdicts of eval-000001 (crowned) and eval-000002 (rejected) from the ledger alone, and
//! refuse a tampered tile (naming the seq), a forged checkpoint and an unexpected signer.
//!
//! Python comes from `harness::python_path()`: the venv of `./scripts/test`, which installs
//! `cryptography` and `py-sr25519-bindings`. The test insists that the signature was checked.

use std::path::{Path, PathBuf};
use std::process::Command;

use albedo_ledger::event::{Published, PublishedWhat};
use albedo_ledger::mirror::{
    Checkpoint, CheckpointSigner, DirSource, MirrorReader, checkpoint_key, encode_tile, ss58_encode, tiles_for,
};
use albedo_ledger::{Appended, Draft, Event, Hash32, Store};
use albedo_projections::fixture::small_competition;
use albedo_tests::harness::python_path;
use subxt_signer::sr25519::Keypair;

/// A fixed test key: never a real one.
struct TestSigner(Keypair);

impl TestSigner {
    fn new(seed: u8) -> TestSigner {
        TestSigner(Keypair::from_secret_key([seed; 32]).expect("a valid sr25519 mini secret"))
    }
}

impl CheckpointSigner for TestSigner {
    fn ss58(&self) -> String {
        ss58_encode(&self.0.public_key().0)
    }
    fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).0
    }
}

const TIME_MS: u64 = 1_764_000_000_000;

/// Entries in the mirror: the fixture competition, then `published` entries up to this size, so
/// that the mirror has a full tile and a partial one.
const SIZE: usize = 300;

/// The fixture competition (and filler) appended to a sled store, mirrored to `dir` (empty
/// prefix). Returns every entry's stored bytes.
fn write_mirror(dir: &Path, signer: &TestSigner) -> Vec<Vec<u8>> {
    let store_dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::create(store_dir.path().join("ledger")).expect("create the store");
    let mut drafts = small_competition();
    let last = drafts.last().expect("a non-empty fixture").clone();
    for i in drafts.len()..SIZE {
        let event = Event::Published(Published {
            what: PublishedWhat::Dashboard,
            key: "dashboard.json".into(),
            sha256: Hash32::of(&i.to_le_bytes()),
        });
        drafts.push(Draft { time_ms: last.time_ms + i as u64, block: last.block, event });
    }
    let appended = store.append_batch(drafts).expect("append the fixture");
    assert!(appended.iter().all(|a| matches!(a, Appended::New(_))));
    let entries: Vec<Vec<u8>> = store.snapshot().entries(0).map(|e| e.expect("read an entry").bytes.to_vec()).collect();
    let size = entries.len() as u64;
    for tile in tiles_for(size) {
        let bytes = encode_tile(entries[tile.first_seq() as usize..tile.end_seq() as usize].iter().map(Vec::as_slice));
        write(&dir.join(tile.key("")), &bytes);
    }
    let head = store.head().expect("a non-empty store").hash;
    write(&dir.join(checkpoint_key("")), &Checkpoint::sign(size, head, TIME_MS, signer).to_json());
    entries
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/verify_mirror.py")
}

/// Runs the script; returns (exit code, stdout + stderr).
fn verify(mirror: &Path, args: &[&str]) -> (i32, String) {
    let python = python_path();
    let out = Command::new(&python)
        .arg(script())
        .arg(mirror)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e} (run ./scripts/test --install-only)", python.display()));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().expect("not killed by a signal"), text)
}

/// Copies the mirror directory `from` to `to`.
fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn the_python_verifier_accepts_the_fixture_mirror_and_rederives_its_verdicts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = TestSigner::new(9);
    let ss58 = signer.ss58();
    let entries = write_mirror(dir.path(), &signer);
    let size = entries.len();
    assert_eq!(tiles_for(size as u64).len(), 2, "a full tile and a partial one");

    // The Rust reader accepts the same mirror: the test writes what the validator would.
    let source = DirSource::new(dir.path());
    let reader = MirrorReader::open(&source, "", Some(&ss58)).expect("the checkpoint verifies");
    let verified = reader.entries().collect::<Result<Vec<_>, _>>().expect("every entry verifies");
    assert_eq!(verified.len(), size);

    for eval in ["eval-000001", "eval-000002"] {
        let (code, out) = verify(dir.path(), &["--signer", &ss58, "--verdict", eval]);
        assert_eq!(code, 0, "{eval}:\n{out}");
        assert!(
            out.contains("signature: ok"),
            "the signature was not checked: this Python lacks py-sr25519-bindings (run ./scripts/test, which installs it \
             into its venv and sets ALBEDO_PYTHON):\n{out}"
        );
        assert!(out.contains(&format!("entries: {size} verified")), "{out}");
        assert!(out.contains(&format!("verdict {eval}: every figure matches")), "{out}");
    }
}

#[test]
fn the_python_verifier_refuses_a_tampered_mirror() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = TestSigner::new(9);
    let ss58 = signer.ss58();
    let entries = write_mirror(dir.path(), &signer);

    // One byte flipped inside the `kind` text of entry 5 (tile 0): the entry still decodes, so
    // the break shows at seq 6, whose `prev` no longer matches.
    let tampered = tempfile::tempdir().expect("tempdir");
    copy_dir(dir.path(), tampered.path());
    let tile0 = tampered.path().join(tiles_for(entries.len() as u64)[0].key(""));
    let mut bytes = std::fs::read(&tile0).expect("tile 0");
    let entry_at: usize = entries[..5].iter().map(|e| 4 + e.len()).sum::<usize>() + 4;
    let kind_at = entries[5].windows(5).position(|w| w == b"\xa4kind").expect("the event's kind key") + 6;
    bytes[entry_at + kind_at] ^= 0x20; // the kind's first letter in upper case
    std::fs::write(&tile0, &bytes).expect("write tile 0");
    let (code, out) = verify(tampered.path(), &["--signer", &ss58]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED: seq 6: prev is "), "{out}");

    // A checkpoint whose fields were changed after signing.
    let forged = tempfile::tempdir().expect("tempdir");
    copy_dir(dir.path(), forged.path());
    let key = forged.path().join(checkpoint_key(""));
    let json = std::fs::read_to_string(&key).expect("checkpoint");
    std::fs::write(&key, json.replace(&TIME_MS.to_string(), &(TIME_MS + 1).to_string())).expect("write");
    let (code, out) = verify(forged.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED: the checkpoint's signature does not verify"), "{out}");

    // A valid checkpoint, but not signed by the expected key.
    let other = TestSigner::new(10).ss58();
    let (code, out) = verify(dir.path(), &["--signer", &other]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("FAILED: the checkpoint is signed by {ss58}, not by the expected {other}")), "{out}");
}
