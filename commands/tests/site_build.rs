//! `albedo site build` as a real binary over real sled ledgers: same ledger, same bytes.

use std::path::Path;
use std::process::{Command, Output};

use albedo_ledger::{Draft, Store, Verifier};
use albedo_projections::fixture::small_competition;

fn albedo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albedo")).args(args).output().unwrap()
}

fn build(ledger: &Path, out: &Path, until: Option<&str>) {
    let mut args = vec!["site", "build", "--ledger", ledger.to_str().unwrap(), "--out", out.to_str().unwrap()];
    if let Some(u) = until {
        args.extend(["--until", u]);
    }
    let o = albedo(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("wrote "), "{}", String::from_utf8_lossy(&o.stdout));
}

use albedo_tests::read_tree as files;

fn ledger(dir: &Path, drafts: Vec<Draft>, batch: usize) {
    let mut store = Store::create(dir).unwrap();
    let mut drafts = drafts.into_iter().peekable();
    while drafts.peek().is_some() {
        store.append_batch(drafts.by_ref().take(batch).collect()).unwrap();
    }
}

#[test]
fn the_same_ledger_gives_the_same_bytes_every_time() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, c) = (tmp.path().join("a"), tmp.path().join("c"));
    ledger(&a, small_competition(), 1);
    // Ledger c is rebuilt by replaying ledger a's events, in other batch sizes.
    let replayed: Vec<Draft> = {
        let store = Store::open(&a).unwrap();
        let mut v = Verifier::new();
        store
            .snapshot()
            .entries(0)
            .map(|e| {
                let (env, _) = v.check(&e.unwrap().bytes).unwrap();
                Draft { time_ms: env.time_ms, block: env.block, event: env.event }
            })
            .collect()
    };
    ledger(&c, replayed, 17);

    let (o1, o2, o3, o4) = (tmp.path().join("o1"), tmp.path().join("o2"), tmp.path().join("o3"), tmp.path().join("o4"));
    build(&a, &o1, None);
    build(&a, &o2, None);
    build(&c, &o3, None);
    let last = (small_competition().len() - 1).to_string();
    build(&a, &o4, Some(&last));
    let first = files(&o1);
    assert!(
        first.contains_key("dashboard.json") && first.contains_key("index.html"),
        "{:?}",
        first.keys().collect::<Vec<_>>()
    );
    assert!(first.len() > 5);
    assert_eq!(first, files(&o2), "two builds of one ledger differ");
    assert_eq!(first, files(&o3), "a ledger rebuilt from the same events gives other bytes");
    assert_eq!(first, files(&o4), "--until at the last seq differs from a full build");

    let (o5, o6) = (tmp.path().join("o5"), tmp.path().join("o6"));
    build(&a, &o5, Some("12"));
    build(
        &a,
        &o6,
        Some(
            &albedo_projections::views::iso_time(albedo_projections::fixture::START_MS + 60_000).replace("+00:00", "Z"),
        ),
    );
    let early = files(&o5);
    assert_ne!(early["dashboard.json"], first["dashboard.json"]);
    let d: serde_json::Value = serde_json::from_slice(&early["dashboard.json"]).unwrap();
    assert_eq!(d["ledger"]["size"], 13);
    assert_eq!(d["king"]["challenge_id"], "genesis");
}

#[test]
fn bad_arguments_say_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = albedo(&["site", "build", "--ledger", "/nonexistent/ledger", "--out", out.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no ledger at /nonexistent/ledger"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = albedo(&["site", "build", "--ledger", "/x", "--out", "/y", "--until", "last tuesday"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("neither a seq nor an RFC 3339 UTC time"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_tampered_ledger_is_refused_not_rendered() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    ledger(&a, small_competition(), 8);
    let db = loop {
        match sled::open(&a) {
            Ok(db) => break db,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    };
    let log = db.open_tree("log").unwrap();
    let mut bytes = log.get(30u64.to_be_bytes()).unwrap().unwrap().to_vec();
    let n = bytes.len();
    bytes[n - 2] ^= 1;
    log.insert(30u64.to_be_bytes(), bytes).unwrap();
    db.flush().unwrap();
    drop((log, db));
    let out = tmp.path().join("out");
    let o = albedo(&["site", "build", "--ledger", a.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("seq 30"), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!out.exists(), "nothing is written from a ledger that does not verify");
}
