//! The mirror writer (`albedo_commands::mirror::sync`) against real stores: a directory, and
//! s3s-fs behind a TCP fault proxy that cuts the network mid-upload, with a server crash and
//! restart in between. Every mirror is read back with the ledger's own `MirrorReader`, which
//! verifies the checkpoint's signature and every link, and compared with the store byte for
//! byte.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use albedo_commands::adapters::object_store::{
    BoxFuture, FsStore, ObjectStore, ObjectStoreError, RetryPolicy, S3Config, S3Store, S3Timeouts,
};
use albedo_commands::mirror::{self, MirrorError, SyncReport};
use albedo_ledger::mirror::{
    Checkpoint, CheckpointSigner, DirSource, MirrorReader, TileRef, TileSource, checkpoint_key, ss58_encode,
};
use albedo_ledger::{Hash32, Store, testkit::sample_draft};
use albedo_tests::harness::{S3Server, TcpProxy};
use subxt_signer::sr25519::Keypair;

const PREFIX: &str = "albedo";
const BUCKET: &str = "albedo-mirror";
const NOW_MS: u64 = 1_764_000_000_000;

/// The test hotkey: a fixed sr25519 key.
struct TestSigner(Keypair);

impl TestSigner {
    fn new() -> TestSigner {
        TestSigner(Keypair::from_secret_key([7u8; 32]).expect("a valid secret key"))
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

/// A ledger in a temp dir holding `sample_draft(0 .. n)`.
fn ledger(n: u64) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::create(dir.path().join("ledger")).unwrap();
    append(&mut store, n);
    (dir, store)
}

/// Appends `sample_draft(len .. len + more)`.
fn append(store: &mut Store, more: u64) {
    let from = store.len();
    store.append_batch((from..from + more).map(sample_draft).collect()).unwrap();
    assert_eq!(store.len(), from + more, "every sample draft has its own idempotency key");
}

/// Runs one pass from the store's cursor and, on success, records the new cursor (what the
/// validator does).
async fn pass(store: &Store, objects: &dyn ObjectStore, signer: &TestSigner) -> Result<SyncReport, MirrorError> {
    let report = mirror::sync(&store.snapshot(), store.mirror_cursor()?, objects, PREFIX, signer, NOW_MS).await?;
    store.set_mirror_cursor(report.size)?;
    Ok(report)
}

/// Reads the whole mirror through `MirrorReader` (signature, every link, head = checkpoint) and
/// checks it equals the store: same envelopes, same hashes, same stored bytes.
fn assert_mirror_equals_store(source: &dyn TileSource, store: &Store, signer: &TestSigner) {
    let reader = MirrorReader::open(source, PREFIX, Some(&signer.ss58())).expect("the checkpoint verifies");
    let snapshot = store.snapshot();
    assert_eq!(reader.checkpoint().size, snapshot.len());
    assert_eq!(reader.checkpoint().head_hash, snapshot.head().unwrap().hash);
    let mut expected = snapshot.entries(0);
    let mut n = 0;
    for (read, raw) in reader.entries().zip(reader.raw_entries()) {
        let (envelope, hash) = read.expect("the mirror verifies");
        let (seq, bytes) = raw.expect("the mirror verifies");
        let entry = expected.next().expect("the mirror has no extra entry").unwrap();
        assert_eq!((seq, &bytes[..]), (entry.seq, &entry.bytes[..]), "seq {seq}: stored bytes");
        assert_eq!(hash, entry.hash(), "seq {seq}: hash");
        assert_eq!(envelope, entry.decode().unwrap(), "seq {seq}: envelope");
        n += 1;
    }
    assert!(expected.next().is_none(), "the mirror holds only {n} of {} entries", snapshot.len());
}

/// The keys a mirror of these sizes, synced one after another, must hold: every full tile, each
/// size's partial tile (kept for readers of its checkpoint), and the checkpoint.
fn expected_keys(sizes: &[u64]) -> BTreeSet<String> {
    let mut keys = BTreeSet::from([checkpoint_key(PREFIX)]);
    for &size in sizes {
        for tile in albedo_ledger::mirror::tiles_for(size) {
            keys.insert(tile.key(PREFIX));
        }
    }
    keys
}

fn tile_refs(report: &SyncReport) -> Vec<(u64, u64)> {
    report.tiles.iter().map(|t: &TileRef| (t.n, t.width)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_mirror_reads_back_as_the_store() {
    let signer = TestSigner::new();
    let (_dir, mut store) = ledger(600);
    let out = tempfile::tempdir().unwrap();
    let objects = FsStore::create(out.path()).unwrap();

    let report = pass(&store, &objects, &signer).await.unwrap();
    assert_eq!((report.from, report.size), (0, 600));
    assert_eq!(tile_refs(&report), [(0, 256), (1, 256), (2, 88)]);
    assert_eq!(store.mirror_cursor().unwrap(), 600);
    let keys: BTreeSet<String> = objects.list("").await.unwrap().into_iter().collect();
    assert_eq!(keys, expected_keys(&[600]));
    assert_mirror_equals_store(&DirSource::new(out.path()), &store, &signer);

    // The checkpoint object is the signed statement of the store's head.
    let checkpoint = Checkpoint::from_json(&objects.get(&checkpoint_key(PREFIX)).await.unwrap().unwrap()).unwrap();
    checkpoint.verify_signature().unwrap();
    assert_eq!(Some(&checkpoint), report.checkpoint.as_ref());
    assert_eq!((checkpoint.size, checkpoint.time_ms, &checkpoint.signer), (600, NOW_MS, &signer.ss58()));

    // Nothing new: a pass writes nothing.
    let again = pass(&store, &objects, &signer).await.unwrap();
    assert_eq!((again.size, again.tiles.len(), again.checkpoint), (600, 0, None));

    // 900 more: the pass starts at the cursor's tile (2), fills it, and adds a wider partial;
    // the old partial 2.p/88 stays for readers of the old checkpoint.
    append(&mut store, 900);
    let report = pass(&store, &objects, &signer).await.unwrap();
    assert_eq!((report.from, report.size), (600, 1500));
    assert_eq!(tile_refs(&report), [(2, 256), (3, 256), (4, 256), (5, 220)]);
    let keys: BTreeSet<String> = objects.list("").await.unwrap().into_iter().collect();
    assert_eq!(keys, expected_keys(&[600, 1500]));
    assert_mirror_equals_store(&DirSource::new(out.path()), &store, &signer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_can_run_in_its_own_task_beside_the_writer() {
    let signer = Arc::new(TestSigner::new());
    let (_dir, mut store) = ledger(300);
    let out = tempfile::tempdir().unwrap();
    let objects: Arc<dyn ObjectStore> = Arc::new(FsStore::create(out.path()).unwrap());
    // The pass owns a snapshot; the writer keeps appending meanwhile.
    let snapshot = store.snapshot();
    let cursor = store.mirror_cursor().unwrap();
    let task = {
        let (objects, signer) = (Arc::clone(&objects), Arc::clone(&signer));
        tokio::spawn(async move { mirror::sync(&snapshot, cursor, &*objects, PREFIX, &*signer, NOW_MS).await })
    };
    append(&mut store, 100);
    let report = task.await.unwrap().unwrap();
    assert_eq!(report.size, 300, "the pass mirrors its snapshot, not the appends made since");
    store.set_mirror_cursor(report.size).unwrap();
    assert_eq!(pass(&store, &*objects, &signer).await.unwrap().size, 400);
    assert_mirror_equals_store(&DirSource::new(out.path()), &store, &signer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exact_tile_boundary_leaves_no_partial() {
    let signer = TestSigner::new();
    let (_dir, mut store) = ledger(512);
    let out = tempfile::tempdir().unwrap();
    let objects = FsStore::create(out.path()).unwrap();
    assert_eq!(tile_refs(&pass(&store, &objects, &signer).await.unwrap()), [(0, 256), (1, 256)]);
    append(&mut store, 1);
    // The cursor (512) is on a boundary: the pass starts at tile 2, not at tile 1 again.
    assert_eq!(tile_refs(&pass(&store, &objects, &signer).await.unwrap()), [(2, 1)]);
    assert_mirror_equals_store(&DirSource::new(out.path()), &store, &signer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tile_that_differs_stops_the_pass_before_the_checkpoint() {
    let signer = TestSigner::new();
    let (_dir, store) = ledger(600);
    let out = tempfile::tempdir().unwrap();
    let objects = FsStore::create(out.path()).unwrap();
    let key = albedo_ledger::mirror::tile_key(PREFIX, 1);
    objects.put_immutable(&key, b"someone else's tile").await.unwrap();

    let error = pass(&store, &objects, &signer).await.unwrap_err();
    assert!(matches!(error, MirrorError::Store(ObjectStoreError::Immutable { .. })), "{error}");
    assert!(error.to_string().contains(&key), "names the key: {error}");
    assert_eq!(objects.get(&key).await.unwrap().as_deref(), Some(&b"someone else's tile"[..]), "left as it was");
    assert_eq!(objects.get(&checkpoint_key(PREFIX)).await.unwrap(), None, "no checkpoint over a bad tile");
    assert_eq!(store.mirror_cursor().unwrap(), 0, "the cursor stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mirror_never_goes_back() {
    let signer = TestSigner::new();
    let out = tempfile::tempdir().unwrap();
    let objects = FsStore::create(out.path()).unwrap();
    let (_big_dir, big) = ledger(1500);
    pass(&big, &objects, &signer).await.unwrap();
    let published = objects.get(&checkpoint_key(PREFIX)).await.unwrap();

    // A ledger holding only the first 600 of those entries (a restored backup, say): its tiles
    // are identical, but its checkpoint would take the mirror back. Refused.
    let (_small_dir, small) = ledger(600);
    let error = pass(&small, &objects, &signer).await.unwrap_err();
    assert!(matches!(error, MirrorError::Diverged { .. }), "{error}");
    assert!(error.to_string().contains("size 1500"), "{error}");
    assert_eq!(objects.get(&checkpoint_key(PREFIX)).await.unwrap(), published, "left as it was");

    // And a cursor past the head is refused before anything is read.
    let error = mirror::sync(&small.snapshot(), 601, &objects, PREFIX, &signer, NOW_MS).await.unwrap_err();
    assert!(matches!(error, MirrorError::CursorAhead { cursor: 601, size: 600 }), "{error}");
}

/// Reads a mirror from S3 for `MirrorReader` (a blocking `TileSource`): each `get` blocks on the
/// async store. Use it from a blocking thread (`spawn_blocking`), never on a runtime worker.
struct S3Source {
    store: S3Store,
    runtime: tokio::runtime::Handle,
}

impl TileSource for S3Source {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.runtime.block_on(self.store.get(key)).map_err(|e| e.to_string())
    }
}

/// Passes everything through to `inner`, and cuts the proxy as soon as the first tile has
/// landed: the outage then hits the pass in the middle of its uploads.
struct CutAfterFirstTile {
    inner: S3Store,
    proxy: Arc<TcpProxy>,
    landed: AtomicUsize,
}

impl ObjectStore for CutAfterFirstTile {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn put_immutable<'a>(&'a self, key: &'a str, bytes: &'a [u8]) -> BoxFuture<'a, Result<(), ObjectStoreError>> {
        Box::pin(async move {
            let result = self.inner.put_immutable(key, bytes).await;
            if result.is_ok() && self.landed.fetch_add(1, Ordering::SeqCst) == 0 {
                self.proxy.cut();
            }
            result
        })
    }

    fn put_mutable<'a>(&'a self, key: &'a str, bytes: &'a [u8]) -> BoxFuture<'a, Result<(), ObjectStoreError>> {
        self.inner.put_mutable(key, bytes)
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, ObjectStoreError>> {
        self.inner.get(key)
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, ObjectStoreError>> {
        self.inner.list(prefix)
    }
}

fn s3_store(server: &S3Server, endpoint: &str) -> S3Store {
    let config = S3Config::new(endpoint, BUCKET, server.access_key(), server.secret_key())
        .with_region(server.region())
        .with_timeouts(S3Timeouts {
            connect: Duration::from_secs(1),
            read: Duration::from_secs(2),
            attempt: Duration::from_secs(10),
        })
        .with_retry(RetryPolicy {
            attempts: 3,
            first_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
        });
    S3Store::new(config).unwrap()
}

/// The published checkpoint, read straight from the server (not through the proxy).
async fn published_size(direct: &S3Store) -> u64 {
    let bytes = direct.get(&checkpoint_key(PREFIX)).await.unwrap().expect("a checkpoint");
    Checkpoint::from_json(&bytes).unwrap().size
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_outage_mid_upload_and_a_server_restart_then_the_mirror_catches_up() {
    let signer = TestSigner::new();
    let mut server = S3Server::start();
    let proxy = Arc::new(TcpProxy::to_port(server.port()));
    let through_proxy = s3_store(&server, &proxy.endpoint());
    let direct = s3_store(&server, &server.endpoint());
    direct.ensure_bucket().await.unwrap();

    // 600 entries mirrored through the proxy.
    let (_dir, mut store) = ledger(600);
    let report = pass(&store, &through_proxy, &signer).await.unwrap();
    assert_eq!((report.size, report.tiles.len()), (600, 3));
    assert_eq!(published_size(&direct).await, 600);

    // 900 more; the network is cut as soon as the first new tile has landed.
    append(&mut store, 900);
    let cutting = CutAfterFirstTile { inner: through_proxy.clone(), proxy: Arc::clone(&proxy), landed: 0.into() };
    let error = pass(&store, &cutting, &signer).await.unwrap_err();
    assert!(matches!(error, MirrorError::Store(ObjectStoreError::Unavailable { attempts: 3, .. })), "{error}");
    assert!(error.to_string().contains(&proxy.endpoint()), "names the endpoint: {error}");
    assert!(cutting.landed.load(Ordering::SeqCst) >= 1, "a tile landed before the cut");
    assert_eq!(store.mirror_cursor().unwrap(), 600, "a failed pass leaves the cursor");
    assert_eq!(published_size(&direct).await, 600, "the checkpoint still names only what is complete");
    let partway: BTreeSet<String> = direct.list("").await.unwrap().into_iter().collect();
    assert!(partway.len() > expected_keys(&[600]).len(), "some of the new tiles are there: {partway:?}");
    // Appends go on while the mirror is down.
    append(&mut store, 10);

    // The server itself crashes (SIGKILL) while the network comes back: still failing.
    server.stop();
    proxy.restore();
    let error = pass(&store, &through_proxy, &signer).await.unwrap_err();
    assert!(matches!(error, MirrorError::Store(ObjectStoreError::Unavailable { .. })), "{error}");
    assert_eq!(store.mirror_cursor().unwrap(), 600);

    // It restarts over the same data: the next pass catches up, re-putting the tiles that
    // landed before the cut as no-ops.
    server.restart();
    let report = pass(&store, &through_proxy, &signer).await.unwrap();
    assert_eq!((report.from, report.size), (600, 1510));
    assert_eq!(tile_refs(&report), [(2, 256), (3, 256), (4, 256), (5, 230)]);
    assert_eq!(store.mirror_cursor().unwrap(), 1510);
    assert_eq!(published_size(&direct).await, 1510);

    // Exactly the expected objects: every full tile once, the partial of each checkpointed size
    // (600, 1510), the checkpoint; and at most one more: the partial 5.p/220 of the pass cut at
    // 1500, if it landed before the cut (an orphan no checkpoint names; mirror.rs crash windows).
    let keys = direct.list("").await.unwrap();
    let unique: BTreeSet<String> = keys.iter().cloned().collect();
    assert_eq!(keys.len(), unique.len(), "no key twice: {keys:?}");
    let required = expected_keys(&[600, 1510]);
    let orphan = albedo_ledger::mirror::partial_tile_key(PREFIX, 5, 220);
    assert!(unique.is_superset(&required), "missing: {:?}", required.difference(&unique).collect::<Vec<_>>());
    let extra: Vec<&String> = unique.difference(&required).collect();
    assert!(extra.is_empty() || extra == [&orphan], "unexpected objects: {extra:?}");
    if extra.is_empty() {
        assert!(!partway.contains(&orphan), "an object stored before the cut disappeared");
    }

    // Read back from S3 through MirrorReader: the store's entries, byte for byte.
    let source = S3Source { store: direct.clone(), runtime: tokio::runtime::Handle::current() };
    let reader_store = store.snapshot();
    let signer_ss58 = signer.ss58();
    let head = reader_store.head().unwrap().hash;
    tokio::task::spawn_blocking(move || {
        assert_mirror_equals_store(&source, &store, &TestSigner::new());
        let reader = MirrorReader::open(&source, PREFIX, Some(&signer_ss58)).unwrap();
        assert_eq!(reader.checkpoint().head_hash, head);
        assert_ne!(head, Hash32::ZERO);
    })
    .await
    .unwrap();
}
