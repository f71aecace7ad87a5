//! The object store's contract (`albedo_commands::adapters::object_store::ObjectStore`), one
//! suite run against both implementations: [`FsStore`] over a temp dir and [`S3Store`] over a
//! real s3s-fs (SigV4 checked) on loopback. Then what only S3 can get wrong: a dead endpoint, a
//! hanging one, bad credentials, a missing bucket.

use std::time::{Duration, Instant};

use albedo_commands::adapters::object_store::{
    FsStore, ObjectStore, ObjectStoreError, RetryPolicy, S3Config, S3Store, S3Timeouts,
};
use albedo_tests::harness::{S3Server, TcpProxy, free_port};

const BUCKET: &str = "albedo-contract";

/// Quick retries and short deadlines, so failure tests take seconds.
fn fast_retry() -> RetryPolicy {
    RetryPolicy { attempts: 3, first_backoff: Duration::from_millis(50), max_backoff: Duration::from_millis(200) }
}

fn fast_timeouts() -> S3Timeouts {
    S3Timeouts { connect: Duration::from_secs(1), read: Duration::from_secs(2), attempt: Duration::from_secs(10) }
}

fn s3_config(endpoint: &str, server: &S3Server) -> S3Config {
    S3Config::new(endpoint, BUCKET, server.access_key(), server.secret_key())
        .with_region(server.region())
        .with_timeouts(fast_timeouts())
        .with_retry(fast_retry())
}

async fn s3_store(server: &S3Server) -> S3Store {
    let store = S3Store::new(s3_config(&server.endpoint(), server)).expect("S3 config");
    store.ensure_bucket().await.expect("create the bucket");
    store
}

/// Every clause of the trait's contract that can be observed from outside.
async fn check_contract(store: &dyn ObjectStore) {
    let who = store.describe();

    // Absent is `None`, not an error.
    assert_eq!(store.get("m/ledger/v1/tile/0").await.unwrap(), None, "{who}");

    // Immutable: stored once; identical re-put is a no-op; different bytes are refused by key.
    let tile = b"tile zero".repeat(100);
    store.put_immutable("m/ledger/v1/tile/0", &tile).await.unwrap();
    assert_eq!(store.get("m/ledger/v1/tile/0").await.unwrap().as_deref(), Some(&tile[..]), "{who}");
    store.put_immutable("m/ledger/v1/tile/0", &tile).await.expect("identical re-put is a no-op");
    let error = store.put_immutable("m/ledger/v1/tile/0", b"other bytes").await.unwrap_err();
    assert!(matches!(error, ObjectStoreError::Immutable { .. }), "{who}: {error}");
    assert!(error.to_string().contains("m/ledger/v1/tile/0"), "the error names the key: {error}");
    assert_eq!(error.key(), Some("m/ledger/v1/tile/0"));
    assert_eq!(store.get("m/ledger/v1/tile/0").await.unwrap().as_deref(), Some(&tile[..]), "left as it was");
    // Shorter bytes that are a prefix of the stored ones are different bytes too.
    let error = store.put_immutable("m/ledger/v1/tile/0", &tile[..10]).await.unwrap_err();
    assert!(matches!(error, ObjectStoreError::Immutable { .. }), "{who}: {error}");

    // Mutable: replaced whole, every time.
    for round in 0..3u8 {
        let body = vec![round; 1000 + usize::from(round)];
        store.put_mutable("m/ledger/v1/checkpoint", &body).await.unwrap();
        assert_eq!(store.get("m/ledger/v1/checkpoint").await.unwrap(), Some(body), "{who}");
    }

    // Empty and large objects round-trip.
    store.put_immutable("m/empty", b"").await.unwrap();
    assert_eq!(store.get("m/empty").await.unwrap(), Some(Vec::new()), "{who}");
    let large: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    store.put_immutable("m/large", &large).await.unwrap();
    assert_eq!(store.get("m/large").await.unwrap().as_deref(), Some(&large[..]), "{who}");

    // Concurrent puts of different keys all land (the store is safe to share).
    let puts = (0..16u32).map(|i| {
        let key = format!("m/ledger/v1/tile/{}", i + 1);
        async move {
            let body = format!("tile {}", i + 1).into_bytes();
            store.put_immutable(&key, &body).await
        }
    });
    for result in join_all::<Result<(), ObjectStoreError>>(puts.map(|f| Box::pin(f) as _).collect()).await {
        result.unwrap();
    }
    store.put_immutable("m/ledger/v1/tile/3.p/17", b"partial").await.unwrap();
    store.put_immutable("other/x", b"x").await.unwrap();

    // list: plain string prefix, sorted, complete.
    let tiles = store.list("m/ledger/v1/tile/").await.unwrap();
    let mut expected: Vec<String> = (0..=16).map(|n| format!("m/ledger/v1/tile/{n}")).collect();
    expected.push("m/ledger/v1/tile/3.p/17".into());
    expected.sort();
    assert_eq!(tiles, expected, "{who}");
    assert_eq!(
        store.list("m/ledger/v1/tile/1").await.unwrap(),
        expected.iter().filter(|k| k.starts_with("m/ledger/v1/tile/1")).cloned().collect::<Vec<_>>(),
        "{who}: a prefix that ends inside a name"
    );
    assert_eq!(store.list("m/ledger/v1/tile/3.p").await.unwrap(), ["m/ledger/v1/tile/3.p/17"]);
    let all = store.list("").await.unwrap();
    assert_eq!(all.len(), expected.len() + 4, "{who}: {all:?}");
    assert!(all.windows(2).all(|w| w[0] < w[1]), "{who}: sorted and unique: {all:?}");
    assert!(all.contains(&"other/x".to_string()) && all.contains(&"m/ledger/v1/checkpoint".to_string()));
    assert_eq!(store.list("nothing/here/").await.unwrap(), Vec::<String>::new(), "{who}");

    // Keys that could escape the root or have two spellings are refused before any I/O.
    for bad in ["../escape", "m/../../escape", "/absolute", "m//double", "m/trailing/", "m/./dot", ""] {
        let error = store.put_immutable(bad, b"x").await.unwrap_err();
        assert!(matches!(error, ObjectStoreError::InvalidKey { .. }), "{who}: {bad:?}: {error}");
        assert!(store.get(bad).await.is_err(), "{who}: get {bad:?}");
        assert!(store.put_mutable(bad, b"x").await.is_err(), "{who}: put_mutable {bad:?}");
    }
}

/// A minimal join: polls every future until all are done; outputs in input order.
async fn join_all<T>(mut futures: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + '_>>>) -> Vec<T> {
    let mut outputs: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, future) in futures.iter_mut().enumerate() {
            if outputs[i].is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(output) => outputs[i] = Some(output),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("all done")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_store_honours_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::create(dir.path().join("objects")).unwrap().with_retry(fast_retry());
    check_contract(&store).await;
    // Nothing but objects is left in the directory: no temporary file survives a put.
    let mut stack = vec![store.root().to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            assert!(!name.starts_with(".albedo-tmp"), "temporary file left: {}", entry.path().display());
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_store_honours_the_contract() {
    let server = S3Server::start();
    let store = s3_store(&server).await;
    check_contract(&store).await;
    // The objects really are in the server's bucket, under the keys given.
    let on_disk = server.data_dir().join(BUCKET).join("m/ledger/v1/tile/3.p/17");
    assert_eq!(std::fs::read(&on_disk).unwrap(), b"partial");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_stores_with_prefixes_share_a_bucket_without_seeing_each_other() {
    let server = S3Server::start();
    let a = S3Store::new(s3_config(&server.endpoint(), &server).with_prefix("a")).unwrap();
    let ab = S3Store::new(s3_config(&server.endpoint(), &server).with_prefix("ab/")).unwrap();
    a.ensure_bucket().await.unwrap();
    a.put_immutable("k/1", b"from a").await.unwrap();
    ab.put_immutable("k/1", b"from ab").await.unwrap();
    assert_eq!(a.list("").await.unwrap(), ["k/1"]);
    assert_eq!(ab.list("k/").await.unwrap(), ["k/1"]);
    assert_eq!(a.get("k/1").await.unwrap().as_deref(), Some(&b"from a"[..]));
    assert_eq!(ab.get("k/1").await.unwrap().as_deref(), Some(&b"from ab"[..]));
    assert!(server.data_dir().join(BUCKET).join("ab/k/1").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_endpoint_fails_after_the_retries_naming_endpoint_and_key() {
    let server = S3Server::start();
    // Nobody listens on this port.
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let store = S3Store::new(s3_config(&endpoint, &server)).unwrap();
    let started = Instant::now();
    let error = store.put_immutable("m/ledger/v1/tile/0", b"x").await.unwrap_err();
    let elapsed = started.elapsed();
    let text = error.to_string();
    assert!(matches!(error, ObjectStoreError::Unavailable { attempts: 3, .. }), "{text}");
    assert!(text.contains(&endpoint) && text.contains("m/ledger/v1/tile/0"), "{text}");
    assert!(text.to_lowercase().contains("refused") || text.contains("connect"), "says why: {text}");
    // Not a timed assertion of speed: a guard against hanging (each attempt is bounded).
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
    let error = store.get("m/x").await.unwrap_err().to_string();
    assert!(error.contains("get `m/x`") && error.contains(&endpoint), "{error}");
    let error = store.list("m/").await.unwrap_err().to_string();
    assert!(error.contains("list `m/`"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_endpoint_times_out_instead_of_hanging() {
    let server = S3Server::start();
    let proxy = TcpProxy::to_port(server.port());
    let store = S3Store::new(s3_config(&proxy.endpoint(), &server)).unwrap();
    store.ensure_bucket().await.unwrap();
    store.put_immutable("m/a", b"a").await.unwrap();
    proxy.stall();
    let started = Instant::now();
    let error = store.get("m/a").await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(error, ObjectStoreError::Unavailable { attempts: 3, .. }), "{error}");
    assert!(error.to_string().contains("m/a"), "{error}");
    assert!(elapsed < Duration::from_secs(60), "each attempt is bounded by the read timeout: {elapsed:?}");
    assert!(proxy.connections_accepted() >= 3, "the attempts reached the proxy");
    // Back to normal: the same store works again (its dead pooled connections are not reused).
    proxy.restore();
    assert_eq!(store.get("m/a").await.unwrap().as_deref(), Some(&b"a"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_a_clear_auth_error_and_are_not_retried() {
    let server = S3Server::start();
    s3_store(&server).await.put_immutable("m/a", b"a").await.unwrap();
    let config = S3Config::new(server.endpoint(), BUCKET, server.access_key(), "not-the-secret")
        .with_region(server.region())
        .with_timeouts(fast_timeouts())
        .with_retry(RetryPolicy {
            attempts: 3,
            first_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(2),
        });
    let store = S3Store::new(config).unwrap();
    let started = Instant::now();
    for error in [
        store.put_immutable("m/b", b"b").await.unwrap_err(),
        store.get("m/a").await.unwrap_err(),
        store.list("m/").await.unwrap_err(),
    ] {
        let text = error.to_string();
        assert!(matches!(error, ObjectStoreError::Auth { .. }), "{text}");
        assert!(text.contains("credentials") && text.contains("403"), "{text}");
        assert!(!text.contains("not-the-secret"), "never prints the secret: {text}");
    }
    assert!(started.elapsed() < Duration::from_secs(2), "a refusal is final: no backoff was waited");
    let error = store.put_mutable("m/c", b"c").await.unwrap_err().to_string();
    assert!(error.contains("put `m/c` was refused") && error.contains("SignatureDoesNotMatch"), "{error}");
    let error = store.put_immutable("m/d", b"d").await.unwrap_err().to_string();
    assert!(error.contains("put `m/d`"), "a put names itself even when its first read fails: {error}");
    // Unknown access key too.
    let config = S3Config::new(server.endpoint(), BUCKET, "nobody", server.secret_key()).with_region(server.region());
    let error = S3Store::new(config).unwrap().get("m/a").await.unwrap_err();
    assert!(matches!(error, ObjectStoreError::Auth { .. }), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_is_a_permanent_error_naming_it() {
    let server = S3Server::start();
    let mut config = s3_config(&server.endpoint(), &server);
    config.bucket = "no-such-bucket".into();
    config.retry =
        RetryPolicy { attempts: 3, first_backoff: Duration::from_secs(2), max_backoff: Duration::from_secs(2) };
    let store = S3Store::new(config).unwrap();
    // (s3s-fs creates a bucket on PUT and answers NoSuchKey on GET; listing checks the bucket.)
    let started = Instant::now();
    let error = store.list("m/").await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, ObjectStoreError::Failed { .. }), "{text}");
    assert!(text.contains("no-such-bucket") && text.contains("NoSuchBucket"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(2), "a 404 is final: no backoff was waited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_config_from_env_builds_a_working_store() {
    let server = S3Server::start();
    let endpoint = server.endpoint();
    let vars = |name: &str| -> Option<String> {
        match name {
            "ALBEDO_R2_ENDPOINT" => Some(endpoint.clone()),
            "ALBEDO_R2_BUCKET" => Some(BUCKET.into()),
            "ALBEDO_R2_ACCESS_KEY" => Some(S3Server::ACCESS_KEY.into()),
            "ALBEDO_R2_SECRET_KEY" => Some(S3Server::SECRET_KEY.into()),
            "ALBEDO_R2_PREFIX" => Some("albedo".into()),
            _ => None,
        }
    };
    let store = S3Store::new(S3Config::from_env(&vars).unwrap()).unwrap();
    store.ensure_bucket().await.unwrap();
    store.put_immutable("ledger/v1/tile/0", b"t").await.unwrap();
    assert!(server.data_dir().join(BUCKET).join("albedo/ledger/v1/tile/0").is_file());
    let missing = |name: &str| if name == "ALBEDO_R2_SECRET_KEY" { None } else { vars(name) };
    let error = S3Config::from_env(&missing).unwrap_err().to_string();
    assert!(error.contains("ALBEDO_R2_SECRET_KEY"), "{error}");
}
