//! Tampering with the stored log is found when the store opens, and the error names the seq.

use std::path::Path;

use albedo_ledger::testkit::sample_draft;
use albedo_ledger::{Hash32, Store};

const N: u64 = 20;

fn ledger(dir: &Path) {
    let mut store = Store::create(dir).unwrap();
    store.append_batch((0..N).map(sample_draft).collect()).unwrap();
}

struct Trees {
    db: sled::Db,
    log: sled::Tree,
    keys: sled::Tree,
    meta: sled::Tree,
}

/// Opens the raw sled database behind a closed store. sled drops its file lock from background
/// threads shortly after the store is dropped, so wait for it (as `Store::open` does).
fn raw_open(dir: &Path) -> sled::Db {
    for _ in 0..500 {
        match sled::open(dir) {
            Ok(db) => return db,
            Err(e) if e.to_string().contains("could not acquire lock") => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Err(e) => panic!("{e}"),
        }
    }
    panic!("sled lock on {} never released", dir.display());
}

/// Opens the raw sled trees behind a closed store, lets `f` change them, and flushes.
fn tamper(dir: &Path, f: impl FnOnce(&Trees)) {
    let db = raw_open(dir);
    let t = Trees {
        log: db.open_tree("log").unwrap(),
        keys: db.open_tree("keys").unwrap(),
        meta: db.open_tree("meta").unwrap(),
        db,
    };
    f(&t);
    t.db.flush().unwrap();
}

fn open_err(dir: &Path) -> String {
    match Store::open(dir) {
        Ok(_) => panic!("a tampered ledger opened"),
        Err(e) => e.to_string(),
    }
}

fn key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

#[test]
fn a_flipped_byte_anywhere_in_an_entry_is_found_and_the_seq_named() {
    let len = {
        let dir = tempfile::tempdir().unwrap();
        ledger(dir.path());
        let db = raw_open(dir.path());
        db.open_tree("log").unwrap().get(key(7)).unwrap().unwrap().len()
    };
    for pos in (0..len).step_by(5).chain([len - 1]) {
        let dir = tempfile::tempdir().unwrap();
        ledger(dir.path());
        tamper(dir.path(), |t| {
            let mut bytes = t.log.get(key(7)).unwrap().unwrap().to_vec();
            bytes[pos] ^= 0x01;
            t.log.insert(key(7), bytes).unwrap();
        });
        let err = open_err(dir.path());
        assert!(err.contains("seq 7"), "byte {pos}: {err}");
    }
}

#[test]
fn a_flipped_byte_in_the_last_entry_is_found_against_the_recorded_head() {
    let dir = tempfile::tempdir().unwrap();
    ledger(dir.path());
    tamper(dir.path(), |t| {
        let mut bytes = t.log.get(key(N - 1)).unwrap().unwrap().to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x20;
        t.log.insert(key(N - 1), bytes).unwrap();
    });
    let err = open_err(dir.path());
    assert!(err.starts_with("seq 19:"), "{err}");
}

#[test]
fn a_deleted_entry_is_named() {
    let dir = tempfile::tempdir().unwrap();
    ledger(dir.path());
    tamper(dir.path(), |t| {
        t.log.remove(key(7)).unwrap();
    });
    assert_eq!(open_err(dir.path()), "seq 7: entry is missing (the next entry stored is seq 8)");
}

#[test]
fn a_deleted_last_entry_is_named() {
    let dir = tempfile::tempdir().unwrap();
    ledger(dir.path());
    tamper(dir.path(), |t| {
        t.log.remove(key(N - 1)).unwrap();
    });
    let err = open_err(dir.path());
    assert!(err.starts_with("seq 19: missing"), "{err}");
}

#[test]
fn a_swapped_pair_is_named() {
    let dir = tempfile::tempdir().unwrap();
    ledger(dir.path());
    tamper(dir.path(), |t| {
        let a = t.log.get(key(7)).unwrap().unwrap();
        let b = t.log.get(key(8)).unwrap().unwrap();
        t.log.insert(key(7), b).unwrap();
        t.log.insert(key(8), a).unwrap();
    });
    assert_eq!(open_err(dir.path()), "seq 7: the entry stored at seq 7 says it is seq 8 (entries moved or swapped)");
}

#[test]
fn a_truncated_value_is_named() {
    let dir = tempfile::tempdir().unwrap();
    ledger(dir.path());
    tamper(dir.path(), |t| {
        let bytes = t.log.get(key(7)).unwrap().unwrap();
        t.log.insert(key(7), &bytes[..bytes.len() / 2]).unwrap();
    });
    let err = open_err(dir.path());
    assert!(err.starts_with("seq 7: entry cannot be decoded"), "{err}");
}

fn head_bytes(seq: u64, hash: Hash32) -> Vec<u8> {
    let mut v = seq.to_be_bytes().to_vec();
    v.extend_from_slice(&hash.0);
    v
}

#[test]
fn a_rewritten_meta_head_is_named() {
    // Right seq, wrong hash.
    let dir = tempfile::tempdir().unwrap();
    ledger(dir.path());
    tamper(dir.path(), |t| {
        t.meta.insert("head", head_bytes(N - 1, Hash32::of(b"forged"))).unwrap();
    });
    let err = open_err(dir.path());
    assert!(err.starts_with("seq 19: the recorded head hash"), "{err}");

    // An earlier head, consistent with that entry: the log holds entries past it.
    let dir = tempfile::tempdir().unwrap();
    ledger(dir.path());
    tamper(dir.path(), |t| {
        let hash = Hash32::of(&t.log.get(key(15)).unwrap().unwrap());
        t.meta.insert("head", head_bytes(15, hash)).unwrap();
    });
    assert_eq!(open_err(dir.path()), "seq 16: the log holds entries past the recorded head (seq 15)");

    // A later head than the log holds.
    let dir = tempfile::tempdir().unwrap();
    ledger(dir.path());
    tamper(dir.path(), |t| {
        t.meta.insert("head", head_bytes(25, Hash32::ZERO)).unwrap();
    });
    let err = open_err(dir.path());
    assert!(err.starts_with("seq 20: missing: the recorded head is seq 25"), "{err}");

    // A head record of the wrong size.
    let dir = tempfile::tempdir().unwrap();
    ledger(dir.path());
    tamper(dir.path(), |t| {
        t.meta.insert("head", &b"short"[..]).unwrap();
    });
    assert!(open_err(dir.path()).contains("\"head\" is corrupt"));
}

#[test]
fn a_removed_idempotency_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    ledger(dir.path());
    tamper(dir.path(), |t| {
        let bytes = t.log.get(key(7)).unwrap().unwrap();
        let env = albedo_ledger::Envelope::decode(7, &bytes).unwrap();
        t.keys.remove(env.event.idempotency_key().as_bytes()).unwrap();
    });
    let err = open_err(dir.path());
    assert!(err.starts_with("seq 7: idempotency index is inconsistent"), "{err}");
}

#[test]
fn open_starts_at_the_verified_point_and_verify_all_covers_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    ledger(dir.path());
    drop(Store::open(dir.path()).unwrap()); // moves the verified point to seq 19

    // The verified entry itself is re-hashed on every open.
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), copy.path());
    tamper(copy.path(), |t| {
        let mut bytes = t.log.get(key(N - 1)).unwrap().unwrap().to_vec();
        bytes[10] ^= 1;
        t.log.insert(key(N - 1), bytes).unwrap();
    });
    let err = open_err(copy.path());
    assert!(err.starts_with("seq 19: entry changed since it was verified"), "{err}");

    // Entries before the verified point are not re-read by open (that is what the point is
    // for), but the full audit finds a change there.
    tamper(dir.path(), |t| {
        let mut bytes = t.log.get(key(3)).unwrap().unwrap().to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        t.log.insert(key(3), bytes).unwrap();
    });
    let store = Store::open(dir.path()).unwrap();
    let err = store.verify_all().unwrap_err().to_string();
    assert!(err.contains("seq 3"), "{err}");
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
