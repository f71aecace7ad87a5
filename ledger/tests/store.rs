//! The store's contract: durable appends, idempotency, batches, snapshots, reopen.

use albedo_ledger::testkit::{published_event, sample_draft, sample_event};
use albedo_ledger::{Appended, Draft, Envelope, Error, Hash32, Store, Verifier};

fn draft(i: u64) -> Draft {
    sample_draft(i)
}

#[test]
fn appends_get_contiguous_seqs_and_link_to_their_predecessor() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::create(dir.path()).unwrap();
    for i in 0..40 {
        assert_eq!(store.append(draft(i)).unwrap(), Appended::New(i));
    }
    let snap = store.snapshot();
    let mut prev = Hash32::ZERO;
    for (i, entry) in snap.entries(0).enumerate() {
        let entry = entry.unwrap();
        let env = entry.decode().unwrap();
        assert_eq!(env.seq, i as u64);
        assert_eq!(env.prev, prev);
        assert_eq!(env.event, sample_event(i as u64));
        prev = entry.hash();
    }
    assert_eq!(store.head().unwrap().hash, prev);
    assert_eq!(store.len(), 40);
}

#[test]
fn an_event_whose_key_exists_writes_nothing_and_returns_the_existing_seq() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::create(dir.path()).unwrap();
    store.append(draft(0)).unwrap();
    store.append(draft(1)).unwrap();
    let head = store.head();
    // Same key (same event), different clock: still the existing entry.
    let again = Draft { time_ms: 99, block: None, event: sample_event(1) };
    assert_eq!(store.append(again).unwrap(), Appended::Existing(1));
    assert_eq!(store.head(), head);
    assert_eq!(store.len(), 2);
    assert_eq!(store.seq_of_key(&sample_event(1).idempotency_key()).unwrap(), Some(1));
}

#[test]
fn a_batch_is_all_written_dedups_within_itself_and_against_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::create(dir.path()).unwrap();
    store.append(draft(0)).unwrap();
    let batch = vec![draft(1), draft(0), draft(2), draft(1), draft(3)];
    let got = store.append_batch(batch).unwrap();
    assert_eq!(
        got,
        vec![Appended::New(1), Appended::Existing(0), Appended::New(2), Appended::Existing(1), Appended::New(3)]
    );
    assert_eq!(store.len(), 4);
    assert_eq!(store.append_batch(vec![]).unwrap(), vec![]);
    assert_eq!(store.append_batch(vec![draft(2)]).unwrap(), vec![Appended::Existing(2)]);
    assert_eq!(store.len(), 4);
}

#[test]
fn reopen_keeps_everything_and_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let head = {
        let mut store = Store::create(dir.path()).unwrap();
        store.append_batch((0..100).map(draft).collect()).unwrap();
        store.head()
    };
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(store.head(), head);
    assert_eq!(store.append(draft(5)).unwrap(), Appended::Existing(5));
    assert_eq!(store.append(draft(100)).unwrap(), Appended::New(100));
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.len(), 101);
    assert_eq!(store.verify_all().unwrap(), store.head());
}

#[test]
fn a_snapshot_does_not_see_later_appends() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::create(dir.path()).unwrap();
    store.append_batch((0..10).map(draft).collect()).unwrap();
    let snap = store.snapshot();
    store.append_batch((10..20).map(draft).collect()).unwrap();
    assert_eq!(snap.len(), 10);
    assert_eq!(snap.entries(0).count(), 10);
    assert_eq!(snap.entries(7).count(), 3);
    assert_eq!(snap.entries(10).count(), 0);
    assert_eq!(snap.entries(u64::MAX).count(), 0);
    assert!(snap.get(10).unwrap().is_none());
    assert_eq!(store.snapshot().entries(7).count(), 13);
}

#[test]
fn a_snapshot_streams_a_large_log_through_the_verifier() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::create(dir.path()).unwrap();
    for chunk in (0..5_000u64).collect::<Vec<_>>().chunks(256) {
        let drafts = chunk.iter().map(|&i| Draft { time_ms: i, block: None, event: published_event(i) }).collect();
        store.append_batch(drafts).unwrap();
    }
    let mut verifier = Verifier::new();
    for entry in store.snapshot().entries(0) {
        verifier.check(&entry.unwrap().bytes).unwrap();
    }
    assert_eq!(verifier.head(), store.head());
}

#[test]
fn create_refuses_an_existing_ledger_and_open_refuses_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    let err = Store::open(&path).err().unwrap();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    assert!(!path.exists(), "open must not create a ledger");
    drop(Store::create(&path).unwrap());
    let err = Store::create(&path).err().unwrap();
    assert!(matches!(err, Error::AlreadyExists(_)), "{err}");
    assert!(Store::open(&path).unwrap().is_empty());
}

#[test]
fn open_refuses_a_sled_database_that_is_not_a_ledger() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("meta").unwrap().insert("format", "something-else").unwrap();
        db.flush().unwrap();
    }
    let err = Store::open(dir.path()).err().unwrap();
    assert!(err.to_string().contains("not an Albedo ledger"), "{err}");
}

#[test]
fn entries_of_a_newer_format_are_refused_with_their_version() {
    let mut env = Envelope { v: 2, seq: 0, prev: Hash32::ZERO, time_ms: 0, block: None, event: sample_event(3) };
    let bytes = env.encode().unwrap();
    let err = Verifier::new().check(&bytes).unwrap_err();
    assert_eq!(err.to_string(), "seq 0: entry has format version 2, this build reads version 1");
    env.v = 1;
    assert!(Verifier::new().check(&env.encode().unwrap()).is_ok());
}

#[test]
fn unknown_fields_are_ignored_when_decoding() {
    // A newer writer added a field to the envelope and one to the event: still readable.
    #[derive(serde::Serialize)]
    struct Future<'a> {
        v: u32,
        seq: u64,
        #[serde(with = "serde_bytes")]
        prev: &'a [u8],
        time_ms: u64,
        block: Option<u64>,
        witness: &'a str,
        event: FutureEvent<'a>,
    }
    #[derive(serde::Serialize)]
    struct FutureEvent<'a> {
        kind: &'a str,
        what: &'a str,
        key: &'a str,
        #[serde(with = "serde_bytes")]
        sha256: &'a [u8],
        region: &'a str,
    }
    let bytes = rmp_serde::to_vec_named(&Future {
        v: 1,
        seq: 0,
        prev: &[0; 32],
        time_ms: 5,
        block: None,
        witness: "cosigned",
        event: FutureEvent { kind: "published", what: "site", key: "k", sha256: &[7; 32], region: "eu" },
    })
    .unwrap();
    let (env, _) = Verifier::new().check(&bytes).unwrap();
    assert_eq!(env.event.kind(), "published");
}

#[test]
fn the_mirror_cursor_is_durable_and_only_moves_forward_within_the_log() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = Store::create(dir.path()).unwrap();
        assert_eq!(store.mirror_cursor().unwrap(), 0);
        store.append_batch((0..10).map(draft).collect()).unwrap();
        store.set_mirror_cursor(6).unwrap();
        assert!(store.set_mirror_cursor(5).unwrap_err().to_string().contains("from 6 to 5"));
        assert!(store.set_mirror_cursor(11).unwrap_err().to_string().contains("ledger holds 10"));
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.mirror_cursor().unwrap(), 6);
}
