//! The public mirror's format: the layout table, tile framing, the signed checkpoint, and the
//! reader over a mirror written here from a real store, including tampering, each found and
//! named by seq or object key.

use std::path::Path;
use std::sync::OnceLock;

use albedo_ledger::mirror::{
    Checkpoint, CheckpointSigner, DirSource, MirrorReader, TILE_WIDTH, TileRef, check_consistency, checkpoint_key,
    decode_tile, encode_tile, parse_key, partial_tile_key, ss58_encode, tile_key, tiles_for,
};
use albedo_ledger::testkit::sample_draft;
use albedo_ledger::{Draft, Envelope, Error, Hash32, Store, Verifier};
use subxt_signer::sr25519;

// ---------------------------------------------------------------------------------------------
// layout

fn t(n: u64, width: u64) -> TileRef {
    TileRef { n, width }
}

#[test]
fn layout_table() {
    let table: [(u64, Vec<TileRef>, Vec<&str>); 7] = [
        (0, vec![], vec![]),
        (1, vec![t(0, 1)], vec!["albedo/ledger/v1/tile/0.p/1"]),
        (255, vec![t(0, 255)], vec!["albedo/ledger/v1/tile/0.p/255"]),
        (256, vec![t(0, 256)], vec!["albedo/ledger/v1/tile/0"]),
        (257, vec![t(0, 256), t(1, 1)], vec!["albedo/ledger/v1/tile/0", "albedo/ledger/v1/tile/1.p/1"]),
        (512, vec![t(0, 256), t(1, 256)], vec!["albedo/ledger/v1/tile/0", "albedo/ledger/v1/tile/1"]),
        (
            513,
            vec![t(0, 256), t(1, 256), t(2, 1)],
            vec!["albedo/ledger/v1/tile/0", "albedo/ledger/v1/tile/1", "albedo/ledger/v1/tile/2.p/1"],
        ),
    ];
    for (size, tiles, keys) in table {
        assert_eq!(tiles_for(size), tiles, "size {size}");
        let got: Vec<String> = tiles.iter().map(|t| t.key("albedo")).collect();
        assert_eq!(got, keys, "size {size}");
        // The tiles cover 0..size exactly, in order.
        let mut next = 0;
        for tile in &tiles {
            assert_eq!(tile.first_seq(), next, "size {size}");
            next += tile.width;
        }
        assert_eq!(next, size);
    }
}

#[test]
fn keys_with_and_without_a_prefix() {
    assert_eq!(tile_key("", 7), "ledger/v1/tile/7");
    assert_eq!(tile_key("albedo", 7), "albedo/ledger/v1/tile/7");
    assert_eq!(tile_key("albedo/", 7), "albedo/ledger/v1/tile/7");
    assert_eq!(tile_key("a/b/", 1234), "a/b/ledger/v1/tile/1234");
    assert_eq!(partial_tile_key("", 3, 17), "ledger/v1/tile/3.p/17");
    assert_eq!(partial_tile_key("albedo/", 0, 255), "albedo/ledger/v1/tile/0.p/255");
    assert_eq!(checkpoint_key(""), "ledger/v1/checkpoint");
    assert_eq!(checkpoint_key("albedo/"), "albedo/ledger/v1/checkpoint");
    assert_eq!(t(2, 256).first_seq(), 512);
    assert_eq!(t(2, 10).first_seq(), 512);
    assert_eq!(t(2, 10).key(""), "ledger/v1/tile/2.p/10");
}

#[test]
#[should_panic(expected = "1..=255")]
fn a_partial_tile_of_width_256_has_no_partial_key() {
    partial_tile_key("", 0, TILE_WIDTH);
}

#[test]
#[should_panic(expected = "1..=255")]
fn an_empty_partial_tile_has_no_key() {
    partial_tile_key("", 0, 0);
}

#[test]
fn parse_key_inverts_the_layout() {
    let big = u64::MAX / TILE_WIDTH - 1;
    for prefix in ["", "albedo", "albedo/", "a/b"] {
        for tile in [t(0, 256), t(0, 1), t(0, 255), t(1, 256), t(9, 128), t(1234, 256), t(big, 256), t(big, 3)] {
            assert_eq!(parse_key(prefix, &tile.key(prefix)), Some(tile), "{prefix:?} {tile:?}");
        }
        for size in [1, 255, 256, 257, 512, 513, 100_000] {
            for tile in tiles_for(size) {
                assert_eq!(parse_key(prefix, &tile.key(prefix)), Some(tile));
            }
        }
    }
}

#[test]
fn junk_keys_parse_to_none() {
    for key in [
        "",
        "ledger/v1/tile/",
        "ledger/v1/tile/x",
        "ledger/v1/tile/01",
        "ledger/v1/tile/+1",
        "ledger/v1/tile/-1",
        "ledger/v1/tile/1 ",
        "ledger/v1/tile/1/",
        "ledger/v1/tile/1.p/",
        "ledger/v1/tile/1.p/0",
        "ledger/v1/tile/1.p/256",
        "ledger/v1/tile/1.p/300",
        "ledger/v1/tile/1.p/07",
        "ledger/v1/tile/1.p/7/8",
        "ledger/v1/tile/1.p7",
        "ledger/v1/tile/18446744073709551615",
        "ledger/v1/checkpoint",
        "ledger/v2/tile/1",
        "/ledger/v1/tile/1",
        "other/ledger/v1/tile/1",
        "ledger/v1/tile/0/ledger/v1/tile/1",
    ] {
        assert_eq!(parse_key("", key), None, "{key:?}");
    }
    // A key under another prefix, or with none when one is expected.
    assert_eq!(parse_key("albedo", "ledger/v1/tile/1"), None);
    assert_eq!(parse_key("albedo", "albedox/ledger/v1/tile/1"), None);
    assert_eq!(parse_key("", "albedo/ledger/v1/tile/1"), None);
}

// ---------------------------------------------------------------------------------------------
// tiles

const ENTRIES: [&[u8]; 3] = [b"hello", b"abc", b"albedo!"];

fn tile_err(bytes: &[u8], first_seq: u64, width: u64) -> (u64, String) {
    match decode_tile(bytes, first_seq, width) {
        Err(e @ Error::Tile { seq, .. }) => (seq, e.to_string()),
        other => panic!("expected a tile error, got {other:?}"),
    }
}

#[test]
fn tile_round_trip() {
    let tile = encode_tile(ENTRIES);
    assert_eq!(&tile[..9], b"\0\0\0\x05hello");
    assert_eq!(tile.len(), 3 * 4 + 5 + 3 + 7);
    assert_eq!(decode_tile(&tile, 512, 3).unwrap(), ENTRIES.to_vec());
    // An empty entry frames too (the verifier then refuses it, not the framing).
    let tile = encode_tile([&b""[..], b"x"]);
    assert_eq!(decode_tile(&tile, 0, 2).unwrap(), vec![&b""[..], b"x"]);
}

#[test]
fn tile_decode_errors_name_the_seq() {
    let tile = encode_tile(ENTRIES);
    // Entry 513 ("abc") starts at byte 9: its length prefix is bytes 9..13, its body 13..16.
    let (seq, msg) = tile_err(&tile[..11], 512, 3);
    assert_eq!(seq, 513);
    assert!(msg.starts_with("seq 513: ") && msg.contains("length prefix (2 of 4 bytes)"), "{msg}");

    let (seq, msg) = tile_err(&tile[..14], 512, 3);
    assert_eq!(seq, 513);
    assert!(msg.contains("truncated: its length prefix says 3 bytes, the tile has 1 left"), "{msg}");

    let mut trailing = tile.clone();
    trailing.push(0xff);
    let (seq, msg) = tile_err(&trailing, 512, 3);
    assert_eq!(seq, 514);
    assert!(msg.contains("1 trailing bytes after this entry"), "{msg}");

    let (seq, msg) = tile_err(&tile, 512, 4);
    assert_eq!(seq, 515);
    assert!(msg.contains("ends after 3 entries but should hold 4"), "{msg}");

    let (seq, msg) = tile_err(&tile, 512, 2);
    assert_eq!(seq, 514);
    assert!(msg.contains("holds more than 2 entries"), "{msg}");

    let mut extra = tile.clone();
    extra.extend_from_slice(&encode_tile([&b"more"[..]]));
    let (seq, msg) = tile_err(&extra, 512, 3);
    assert_eq!(seq, 515);
    assert!(msg.contains("holds more than 3 entries"), "{msg}");

    let (seq, _) = tile_err(&[], 256, 1);
    assert_eq!(seq, 256);
}

// ---------------------------------------------------------------------------------------------
// checkpoints

/// A fixed test key: never a real one.
struct TestSigner(sr25519::Keypair);

impl TestSigner {
    fn new(seed: u8) -> TestSigner {
        TestSigner(sr25519::Keypair::from_secret_key([seed; 32]).unwrap())
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

fn head() -> Hash32 {
    Hash32::of(b"entry 599")
}

#[test]
fn the_signer_address_is_the_keys_ss58() {
    // chain.md §11.4: the seed 0x0101…01 has this address.
    assert_eq!(TestSigner::new(1).ss58(), "5CcyqxXnJucaCnQQvvUg5EPzj1uoNAxACZvzArHw5aVDvgNH");
}

#[test]
fn the_signed_message_is_five_lines() {
    let msg = Checkpoint::signed_message(600, &head(), 1_764_000_000_000, "5Signer");
    assert_eq!(
        String::from_utf8(msg).unwrap(),
        format!("albedo-ledger/v1 checkpoint\n600\n{}\n1764000000000\n5Signer\n", head().to_hex())
    );
}

#[test]
fn a_signed_checkpoint_verifies_with_any_sr25519_implementation() {
    let signer = TestSigner::new(7);
    let cp = Checkpoint::sign(600, head(), 1_764_000_000_000, &signer);
    assert_eq!(cp.signer, signer.ss58());
    assert!(cp.signature.starts_with("0x") && cp.signature.len() == 130);
    cp.verify_signature().unwrap();
    // Re-created from the documented format, checked without our code.
    let message = format!("albedo-ledger/v1 checkpoint\n600\n{}\n1764000000000\n{}\n", head().to_hex(), cp.signer);
    let sig: [u8; 64] = hex::decode(&cp.signature[2..]).unwrap().try_into().unwrap();
    assert!(sr25519::verify(&sr25519::Signature(sig), message.as_bytes(), &signer.0.public_key()));
}

#[test]
fn checkpoint_json_layout_and_round_trip() {
    let cp = Checkpoint {
        size: 600,
        head_hash: head(),
        time_ms: 1_764_000_000_000,
        signer: "5CcyqxXnJucaCnQQvvUg5EPzj1uoNAxACZvzArHw5aVDvgNH".into(),
        signature: format!("0x{}", "ab".repeat(64)),
    };
    let json = String::from_utf8(cp.to_json()).unwrap();
    assert_eq!(
        json,
        format!(
            "{{\n  \"size\": 600,\n  \"head_hash\": \"{}\",\n  \"time_ms\": 1764000000000,\n  \
             \"signer\": \"5CcyqxXnJucaCnQQvvUg5EPzj1uoNAxACZvzArHw5aVDvgNH\",\n  \"signature\": \"0x{}\"\n}}\n",
            head().to_hex(),
            "ab".repeat(64)
        )
    );
    assert_eq!(Checkpoint::from_json(json.as_bytes()).unwrap(), cp);
    let signed = Checkpoint::sign(3, head(), 5, &TestSigner::new(7));
    assert_eq!(Checkpoint::from_json(&signed.to_json()).unwrap(), signed);
    // Unknown fields are ignored (later versions may add some); missing ones are refused.
    let with_extra = json.replacen("{\n", "{\n  \"cosignatures\": [],\n", 1);
    assert_eq!(Checkpoint::from_json(with_extra.as_bytes()).unwrap(), cp);
    let err = Checkpoint::from_json(json.replace("  \"size\": 600,\n", "").as_bytes()).unwrap_err().to_string();
    assert!(err.starts_with("bad mirror checkpoint: ") && err.contains("size"), "{err}");
    let err = Checkpoint::from_json(b"not json").unwrap_err().to_string();
    assert!(err.starts_with("bad mirror checkpoint: "), "{err}");
}

fn bad_signature(cp: &Checkpoint) -> String {
    match cp.verify_signature() {
        Err(Error::BadSignature { signer }) => {
            assert_eq!(signer, cp.signer);
            cp.verify_signature().unwrap_err().to_string()
        }
        other => panic!("expected a bad signature, got {other:?}"),
    }
}

#[test]
fn a_changed_checkpoint_fails_its_signature_naming_the_signer() {
    let signer = TestSigner::new(7);
    let cp = Checkpoint::sign(600, head(), 1_764_000_000_000, &signer);

    let mut forged = cp.clone();
    let last = if forged.signature.ends_with('0') { "1" } else { "0" };
    forged.signature.replace_range(129.., last);
    let msg = bad_signature(&forged);
    assert_eq!(msg, format!("mirror checkpoint signature does not verify for signer {}", cp.signer));

    bad_signature(&Checkpoint { size: 601, ..cp.clone() });
    bad_signature(&Checkpoint { head_hash: Hash32::of(b"other"), ..cp.clone() });
    bad_signature(&Checkpoint { time_ms: cp.time_ms + 1, ..cp.clone() });
    let other = TestSigner::new(8).ss58();
    let msg = bad_signature(&Checkpoint { signer: other.clone(), ..cp.clone() });
    assert!(msg.contains(&other), "{msg}");

    // Malformed fields are named as such.
    let err = Checkpoint { signature: "0xzz".into(), ..cp.clone() }.verify_signature().unwrap_err().to_string();
    assert!(err.contains("is not 0x + 128 lowercase hex digits"), "{err}");
    let err = Checkpoint { signer: "5Gnot".into(), ..cp.clone() }.verify_signature().unwrap_err().to_string();
    assert!(err.contains("signer \"5Gnot\" is not an SS58 address"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// the reader, over a mirror written from a real store

const N: u64 = 600;
const PREFIX: &str = "albedo";

/// The stored bytes of a store filled with `sample_draft(0..N)`, built once.
fn log() -> &'static [Vec<u8>] {
    static LOG: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    LOG.get_or_init(|| stored(&(0..N).map(sample_draft).collect::<Vec<_>>()))
}

fn stored(drafts: &[Draft]) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::create(dir.path().join("ledger")).unwrap();
    store.append_batch(drafts.to_vec()).unwrap();
    store.snapshot().entries(0).map(|e| e.unwrap().bytes.to_vec()).collect()
}

/// Writes the tiles of `entries` and a checkpoint over them (signed with `signer`).
fn write_mirror(root: &Path, entries: &[Vec<u8>], signer: &TestSigner) -> Checkpoint {
    for tile in tiles_for(entries.len() as u64) {
        let bytes = encode_tile(entries[tile.first_seq() as usize..tile.end_seq() as usize].iter().map(Vec::as_slice));
        put(root, &tile.key(PREFIX), &bytes);
    }
    let head = entries.last().map(|e| Hash32::of(e)).unwrap_or(Hash32::ZERO);
    let cp = Checkpoint::sign(entries.len() as u64, head, 1_764_000_000_000, signer);
    put(root, &checkpoint_key(PREFIX), &cp.to_json());
    cp
}

fn put(root: &Path, key: &str, bytes: &[u8]) {
    let path = root.join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn mirror() -> (tempfile::TempDir, Checkpoint) {
    let dir = tempfile::tempdir().unwrap();
    let cp = write_mirror(dir.path(), log(), &TestSigner::new(7));
    (dir, cp)
}

/// Reads a tile's entries, lets `f` change them, and writes the tile back re-encoded.
fn edit_tile(root: &Path, key: &str, f: impl FnOnce(&mut Vec<Vec<u8>>)) {
    let bytes = std::fs::read(root.join(key)).unwrap();
    let tile = parse_key(PREFIX, key).unwrap();
    let mut entries: Vec<Vec<u8>> =
        decode_tile(&bytes, tile.first_seq(), tile.width).unwrap().into_iter().map(<[u8]>::to_vec).collect();
    f(&mut entries);
    put(root, key, &encode_tile(entries.iter().map(Vec::as_slice)));
}

/// Streams the whole mirror and returns the error, after checking every entry before the
/// named seq verified.
fn read_err(root: &Path) -> String {
    let source = DirSource::new(root);
    let reader = MirrorReader::open(&source, PREFIX, None).unwrap();
    let mut ok = 0u64;
    for item in reader.entries() {
        match item {
            Ok((env, _)) => {
                assert_eq!(env.seq, ok);
                ok += 1;
            }
            Err(e) => return e.to_string(),
        }
    }
    panic!("a tampered mirror verified ({ok} entries)");
}

fn open_err(root: &Path, expected_signer: Option<&str>) -> String {
    let source = DirSource::new(root);
    match MirrorReader::open(&source, PREFIX, expected_signer) {
        Ok(_) => panic!("a bad checkpoint opened"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_reader_yields_exactly_the_stores_entries() {
    let (dir, cp) = mirror();
    assert_eq!(tiles_for(N).len(), 3, "two full tiles and a partial");
    assert!(dir.path().join("albedo/ledger/v1/tile/2.p/88").is_file());

    let mut verifier = Verifier::new();
    let expected: Vec<(Envelope, Hash32)> = log().iter().map(|b| verifier.check(b).unwrap()).collect();
    let source = DirSource::new(dir.path());
    let reader = MirrorReader::open(&source, PREFIX, Some(&TestSigner::new(7).ss58())).unwrap();
    assert_eq!(reader.checkpoint(), &cp);
    let got: Vec<(Envelope, Hash32)> = reader.entries().map(Result::unwrap).collect();
    assert_eq!(got.len() as u64, N);
    assert!(got == expected);
    assert_eq!(cp.head_hash, expected.last().unwrap().1);

    let raw: Vec<(u64, Vec<u8>)> = reader.raw_entries().map(Result::unwrap).collect();
    assert_eq!(raw.len() as u64, N);
    for (i, (seq, bytes)) in raw.iter().enumerate() {
        assert_eq!((*seq, bytes), (i as u64, &log()[i]));
    }
}

#[test]
fn mirrors_of_every_layout_size_verify() {
    for size in [0usize, 1, 255, 256, 257, 512, 513] {
        let dir = tempfile::tempdir().unwrap();
        write_mirror(dir.path(), &log()[..size], &TestSigner::new(7));
        let source = DirSource::new(dir.path());
        let reader = MirrorReader::open(&source, PREFIX, None).unwrap();
        assert_eq!(reader.entries().map(Result::unwrap).count(), size, "size {size}");
    }
}

#[test]
fn an_in_memory_source_reads_the_same() {
    let (dir, _) = mirror();
    let mut objects = std::collections::BTreeMap::new();
    for key in tiles_for(N).iter().map(|t| t.key(PREFIX)).chain([checkpoint_key(PREFIX)]) {
        objects.insert(key.clone(), std::fs::read(dir.path().join(&key)).unwrap());
    }
    let reader = MirrorReader::open(&objects, PREFIX, None).unwrap();
    assert_eq!(reader.entries().map(Result::unwrap).count() as u64, N);
}

#[test]
fn a_flipped_byte_inside_an_entry_is_found_and_the_seq_named() {
    let len = log()[300].len();
    for pos in (0..len).step_by(7).chain([len - 1]) {
        let (dir, _) = mirror();
        edit_tile(dir.path(), "albedo/ledger/v1/tile/1", |entries| entries[300 - 256][pos] ^= 0x01);
        let err = read_err(dir.path());
        assert!(err.contains("seq 300"), "byte {pos}: {err}");
    }
    // In the last entry, only the checkpoint's head can tell.
    let (dir, _) = mirror();
    edit_tile(dir.path(), "albedo/ledger/v1/tile/2.p/88", |entries| entries[87][10] ^= 0x01);
    let err = read_err(dir.path());
    assert!(err.starts_with("seq 599: "), "{err}");
}

#[test]
fn a_missing_tile_is_named_by_key() {
    let (dir, _) = mirror();
    std::fs::remove_file(dir.path().join("albedo/ledger/v1/tile/1")).unwrap();
    let err = read_err(dir.path());
    assert_eq!(
        err,
        "mirror object albedo/ledger/v1/tile/1 is missing (the checkpoint names entries whose tile is not there)"
    );
}

#[test]
fn a_deleted_entry_is_named_where_the_gap_is() {
    let (dir, _) = mirror();
    edit_tile(dir.path(), "albedo/ledger/v1/tile/1", |entries| {
        entries.remove(300 - 256);
    });
    let err = read_err(dir.path());
    assert!(err.starts_with("seq 300: the entry stored at seq 300 says it is seq 301"), "{err}");

    // The same in the partial tile.
    let (dir, _) = mirror();
    edit_tile(dir.path(), "albedo/ledger/v1/tile/2.p/88", |entries| {
        entries.remove(550 - 512);
    });
    let err = read_err(dir.path());
    assert!(err.starts_with("seq 550: "), "{err}");

    // The last entry of a tile: every entry present links, so the framing names the gap.
    let (dir, _) = mirror();
    edit_tile(dir.path(), "albedo/ledger/v1/tile/0", |entries| {
        entries.pop();
    });
    let err = read_err(dir.path());
    assert!(err.starts_with("seq 255: bad mirror tile: albedo/ledger/v1/tile/0: the tile ends after 255"), "{err}");
}

#[test]
fn a_duplicated_entry_is_named() {
    let (dir, _) = mirror();
    edit_tile(dir.path(), "albedo/ledger/v1/tile/1", |entries| {
        let dup = entries[300 - 256].clone();
        entries.insert(301 - 256, dup);
    });
    let err = read_err(dir.path());
    assert!(err.starts_with("seq 301: the entry stored at seq 301 says it is seq 300"), "{err}");

    // Duplicating the last entry of a tile leaves every entry in place: the extra one is named.
    let (dir, _) = mirror();
    edit_tile(dir.path(), "albedo/ledger/v1/tile/1", |entries| {
        let dup = entries[255].clone();
        entries.push(dup);
    });
    let err = read_err(dir.path());
    assert!(err.starts_with("seq 512: bad mirror tile: albedo/ledger/v1/tile/1: "), "{err}");
    assert!(err.contains("holds more than 256 entries"), "{err}");
}

#[test]
fn swapped_entries_are_named() {
    let (dir, _) = mirror();
    edit_tile(dir.path(), "albedo/ledger/v1/tile/1", |entries| entries.swap(300 - 256, 301 - 256));
    let err = read_err(dir.path());
    assert!(err.starts_with("seq 300: the entry stored at seq 300 says it is seq 301"), "{err}");
}

#[test]
fn a_truncated_tile_is_named_at_the_cut_entry() {
    let (dir, _) = mirror();
    let path = dir.path().join("albedo/ledger/v1/tile/1");
    let bytes = std::fs::read(&path).unwrap();
    // Cut in the middle of entry 400's body: the tile's entries before it are 256..400.
    let start_400: usize = log()[256..400].iter().map(|e| 4 + e.len()).sum();
    std::fs::write(&path, &bytes[..start_400 + 4 + 3]).unwrap();
    let err = read_err(dir.path());
    assert!(err.starts_with("seq 400: bad mirror tile: albedo/ledger/v1/tile/1: the entry is truncated"), "{err}");

    // Cut inside a length prefix.
    std::fs::write(&path, &bytes[..start_400 + 2]).unwrap();
    let err = read_err(dir.path());
    assert!(err.starts_with("seq 400: ") && err.contains("length prefix"), "{err}");

    // Trailing garbage after the last entry.
    let mut long = bytes.clone();
    long.extend_from_slice(b"xy");
    std::fs::write(&path, &long).unwrap();
    let err = read_err(dir.path());
    assert!(err.starts_with("seq 511: ") && err.contains("2 trailing bytes"), "{err}");
}

#[test]
fn a_checkpoint_that_does_not_match_the_tiles_is_named() {
    let signer = TestSigner::new(7);
    // A wrong head hash, properly signed: found after the last entry.
    let (dir, _) = mirror();
    let cp = Checkpoint::sign(N, Hash32::of(b"not the head"), 1, &signer);
    put(dir.path(), &checkpoint_key(PREFIX), &cp.to_json());
    let err = read_err(dir.path());
    assert!(err.starts_with("seq 599: the mirror's last entry hashes to "), "{err}");
    assert!(err.contains(&format!("checkpoint's head_hash is {}", Hash32::of(b"not the head"))), "{err}");

    // A smaller size that ends on full tiles: the head is not entry 511's hash.
    let cp = Checkpoint::sign(512, Hash32::of(&log()[599]), 1, &signer);
    put(dir.path(), &checkpoint_key(PREFIX), &cp.to_json());
    let err = read_err(dir.path());
    assert!(err.starts_with("seq 511: the mirror's last entry hashes to "), "{err}");

    // A larger size: its partial tile does not exist.
    let cp = Checkpoint::sign(601, Hash32::of(&log()[599]), 1, &signer);
    put(dir.path(), &checkpoint_key(PREFIX), &cp.to_json());
    let err = read_err(dir.path());
    assert!(err.starts_with("mirror object albedo/ledger/v1/tile/2.p/89 is missing"), "{err}");

    // Size 0 with a head hash.
    let cp = Checkpoint::sign(0, Hash32::of(b"x"), 1, &signer);
    put(dir.path(), &checkpoint_key(PREFIX), &cp.to_json());
    let err = open_err(dir.path(), None);
    assert!(err.contains("size is 0 but head_hash is not the zero hash"), "{err}");
}

#[test]
fn a_forged_checkpoint_signature_is_refused_at_open() {
    let (dir, cp) = mirror();
    let forged = Checkpoint { size: 512, head_hash: Hash32::of(&log()[511]), ..cp.clone() };
    put(dir.path(), &checkpoint_key(PREFIX), &forged.to_json());
    let err = open_err(dir.path(), None);
    assert_eq!(err, format!("mirror checkpoint signature does not verify for signer {}", cp.signer));
}

#[test]
fn a_checkpoint_by_another_key_is_refused_when_the_signer_is_expected() {
    let dir = tempfile::tempdir().unwrap();
    let impostor = TestSigner::new(9);
    write_mirror(dir.path(), log(), &impostor);
    let validator = TestSigner::new(7).ss58();
    let err = open_err(dir.path(), Some(&validator));
    assert_eq!(
        err,
        format!("mirror checkpoint is signed by {}, but the expected signer is {validator}", impostor.ss58())
    );
    // Without an expected signer it opens: the signature itself is valid.
    let source = DirSource::new(dir.path());
    MirrorReader::open(&source, PREFIX, None).unwrap();
}

#[test]
fn a_missing_or_broken_checkpoint_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = open_err(dir.path(), None);
    assert_eq!(err, "bad mirror checkpoint: no checkpoint at albedo/ledger/v1/checkpoint (nothing mirrored yet?)");
    put(dir.path(), &checkpoint_key(PREFIX), b"{\"size\": 1}");
    let err = open_err(dir.path(), None);
    assert!(err.starts_with("bad mirror checkpoint: albedo/ledger/v1/checkpoint: not a checkpoint object: "), "{err}");
}

#[test]
fn transport_trouble_names_the_key() {
    struct Down;
    impl albedo_ledger::mirror::TileSource for Down {
        fn get(&self, _key: &str) -> Result<Option<Vec<u8>>, String> {
            Err("connection refused".into())
        }
    }
    let err = MirrorReader::open(&Down, "p", None).err().unwrap().to_string();
    assert_eq!(err, "cannot read mirror object p/ledger/v1/checkpoint: connection refused");
}

// ---------------------------------------------------------------------------------------------
// consistency between checkpoints

/// The hash of each entry of `entries`, as a lookup for `check_consistency`.
fn hashes(entries: &[Vec<u8>]) -> impl Fn(u64) -> Result<Hash32, Error> + '_ {
    |seq| Ok(Hash32::of(&entries[seq as usize]))
}

#[test]
fn a_newer_checkpoint_that_extends_the_older_one_passes() {
    let signer = TestSigner::new(7);
    let older = Checkpoint::sign(300, Hash32::of(&log()[299]), 1, &signer);
    let (dir, newer) = mirror();
    check_consistency(&older, &newer, hashes(log())).unwrap();
    check_consistency(&newer, &newer, |_| panic!("same size: no lookup needed")).unwrap();
    let empty = Checkpoint::sign(0, Hash32::ZERO, 1, &signer);
    check_consistency(&empty, &newer, |_| panic!("an empty log is a prefix of any")).unwrap();

    let source = DirSource::new(dir.path());
    let reader = MirrorReader::open(&source, PREFIX, None).unwrap();
    for size in [1u64, 255, 256, 257, 300, 512, 513, 599, 600] {
        let older = Checkpoint::sign(size, Hash32::of(&log()[size as usize - 1]), 1, &signer);
        reader.check_extends(&older).unwrap_or_else(|e| panic!("size {size}: {e}"));
    }
    reader.check_extends(&empty).unwrap();
}

#[test]
fn a_newer_checkpoint_over_rewritten_history_fails() {
    let signer = TestSigner::new(7);
    let older = Checkpoint::sign(300, Hash32::of(&log()[299]), 1, &signer);
    // The same log, except entry 150 was replaced: every hash from there on differs.
    let drafts: Vec<Draft> = (0..N).map(|i| if i == 150 { sample_draft(10_000) } else { sample_draft(i) }).collect();
    let rewritten = stored(&drafts);
    assert_eq!(rewritten[149], log()[149]);
    assert_ne!(rewritten[299], log()[299]);

    let dir = tempfile::tempdir().unwrap();
    let newer = write_mirror(dir.path(), &rewritten, &signer);
    let err = check_consistency(&older, &newer, hashes(&rewritten)).unwrap_err().to_string();
    assert!(err.starts_with("mirror checkpoints are inconsistent: seq 299: "), "{err}");
    assert!(err.contains("history was rewritten"), "{err}");

    // The whole rewritten mirror verifies on its own; only the comparison finds the fork.
    let source = DirSource::new(dir.path());
    let reader = MirrorReader::open(&source, PREFIX, None).unwrap();
    assert_eq!(reader.entries().map(Result::unwrap).count() as u64, N);
    let err = reader.check_extends(&older).unwrap_err().to_string();
    assert!(err.starts_with("mirror checkpoints are inconsistent: seq 299: "), "{err}");
    assert!(err.contains("history was rewritten"), "{err}");

    // A shrunk log, and the same size with another head.
    let err = check_consistency(&newer, &older, hashes(log())).unwrap_err().to_string();
    assert!(err.contains("the newer checkpoint has 300 entries, fewer than the older one's 600"), "{err}");
    let (_dir, original) = mirror();
    let err = check_consistency(&original, &newer, |_| unreachable!()).unwrap_err().to_string();
    assert!(err.starts_with("mirror checkpoints are inconsistent: seq 599: "), "{err}");
    let err = reader.check_extends(&original).unwrap_err().to_string();
    assert!(err.starts_with("mirror checkpoints are inconsistent: seq 599: "), "{err}");
}
