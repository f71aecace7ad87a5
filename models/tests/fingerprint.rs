//! The live fingerprint (eval.md §10.1) on tiny Qwen3-shaped models: what the duplicate gate
//! catches, what it misses, and how malformed files fail.

use std::path::Path;

use albedo_ledger::event::Fingerprint;
use albedo_models::fingerprint::{FingerprintError, METHOD, SAMPLES_PER_TENSOR, fingerprint_dir, sample_indices};
use albedo_models::testkit::{
    TestDtype, add_noise, perturb_tensors, read_safetensors, tiny_qwen3, upcast_to_f32, write_safetensors,
};
use albedo_projections::decide::similarity;
use proptest::prelude::*;
use tempfile::TempDir;

/// `[dedup].similarity_threshold` (eval.md §10.1 "Check").
const THRESHOLD: f64 = 0.95;

/// `tiny_qwen3` writes 25 tensors: embeddings, 11 per layer × 2, final norm, lm_head.
const TENSORS: usize = 25;

fn model(seed: u64) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    tiny_qwen3(dir.path(), seed).unwrap();
    dir
}

fn fingerprint(dir: &Path) -> Fingerprint {
    fingerprint_dir(dir).unwrap()
}

/// A safetensors file written by hand, for dtypes the testkit does not write: (name, dtype as in
/// the header, shape, raw little-endian bytes).
fn write_raw(path: &Path, tensors: &[(&str, &str, Vec<usize>, Vec<u8>)]) {
    let mut header = serde_json::Map::new();
    let mut offset = 0;
    for (name, dtype, shape, bytes) in tensors {
        let entry =
            serde_json::json!({ "dtype": dtype, "shape": shape, "data_offsets": [offset, offset + bytes.len()] });
        header.insert(name.to_string(), entry);
        offset += bytes.len();
    }
    let mut header = serde_json::to_string(&header).unwrap();
    while !header.len().is_multiple_of(8) {
        header.push(' ');
    }
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    tensors.iter().for_each(|t| file.extend_from_slice(&t.3));
    std::fs::write(path, file).unwrap();
}

// --- the duplicate gate -------------------------------------------------------------------------

#[test]
fn identical_weights_give_identical_fingerprints_and_similarity_one() {
    let (a, b) = (model(1), model(1));
    let (fa, fb) = (fingerprint(a.path()), fingerprint(b.path()));
    assert_eq!(fa, fb);
    assert_eq!(similarity(&fa, &fb), 1.0);
    assert_eq!(fingerprint(a.path()), fa, "deterministic");

    assert_eq!(fa.method, METHOD);
    assert_eq!(fa.tensors.len(), TENSORS);
    let names: Vec<&str> = fa.tensors.iter().map(|t| t.name.as_str()).collect();
    assert!(names.is_sorted(), "sorted by name: {names:?}");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.path().join("model.safetensors.index.json")).unwrap()).unwrap();
    let mut indexed: Vec<&str> = index["weight_map"].as_object().unwrap().keys().map(String::as_str).collect();
    indexed.sort();
    assert_eq!(names, indexed, "both shards are read");
    assert!(fa.tensors.iter().all(|t| t.samples.len() == SAMPLES_PER_TENSOR && t.l2_norm > 0.0));
}

#[test]
fn one_changed_tensor_of_25_is_still_a_duplicate() {
    let (king, copy) = (model(1), model(1));
    perturb_tensors(copy.path(), &["model.layers.0.self_attn.q_proj.weight"], 0.1).unwrap();
    let (fk, fc) = (fingerprint(king.path()), fingerprint(copy.path()));
    let changed: Vec<&str> =
        fk.tensors.iter().zip(&fc.tensors).filter(|(k, c)| k != c).map(|(k, _)| k.name.as_str()).collect();
    assert_eq!(changed, ["model.layers.0.self_attn.q_proj.weight"]);
    // 24 of 25 tensors unchanged: 0.96, above the threshold, so the copy is flagged.
    let s = similarity(&fk, &fc);
    assert_eq!(s, 24.0 / 25.0);
    assert!(s >= THRESHOLD);
}

#[test]
fn similarity_is_the_fraction_of_unchanged_tensors() {
    let king = model(1);
    let fk = fingerprint(king.path());
    let names = [
        "model.layers.0.self_attn.q_proj.weight",
        "model.layers.1.mlp.down_proj.weight",
        "lm_head.weight",
        "model.embed_tokens.weight",
        "model.layers.1.self_attn.o_proj.weight",
    ];
    for changed in 2..=names.len() {
        let copy = model(1);
        perturb_tensors(copy.path(), &names[..changed], 0.1).unwrap();
        let s = similarity(&fk, &fingerprint(copy.path()));
        assert_eq!(s, (TENSORS - changed) as f64 / TENSORS as f64, "{changed} changed");
        // Two changed tensors of 25 already fall below 0.95: the copy passes as new.
        assert!(s < THRESHOLD);
    }
}

/// eval.md §10.1 [WEAK]: the gate asks whether ≥ 95 % of tensors are essentially untouched, so the
/// miner stub's tiny noise on every tensor hides a copy. The only tensors that still count as
/// unchanged are the norm weights: at ≈ 1.0 a bf16 step is 2⁻⁷ ≈ 0.008, so noise of 1e-3 mostly
/// rounds away, and where it does not, a shift that small leaves the cosine above 1 − 1e-6.
#[test]
fn noise_on_every_tensor_evades_the_gate() {
    let (king, copy) = (model(1), model(1));
    add_noise(copy.path(), 99, 1e-3).unwrap();
    let (fk, fc) = (fingerprint(king.path()), fingerprint(copy.path()));
    let s = similarity(&fk, &fc);
    assert!(s < THRESHOLD, "similarity {s}");
    // Exactly the 9 norm vectors (4 per layer and the final one) survive, 16 matrices do not.
    let norms = fk.tensors.iter().filter(|t| t.name.contains("norm")).count();
    assert_eq!(norms, 9);
    assert_eq!(s, norms as f64 / TENSORS as f64);
    for (k, c) in fk.tensors.iter().zip(&fc.tensors) {
        if !k.name.contains("norm") {
            assert_ne!(k.samples, c.samples, "{}", k.name);
        }
    }
}

#[test]
fn a_different_model_is_not_a_duplicate() {
    let s = similarity(&fingerprint(model(1).path()), &fingerprint(model(2).path()));
    assert_eq!(s, 0.0);
}

#[test]
fn an_f32_upcast_of_bf16_weights_has_the_same_fingerprint() {
    let king = model(1);
    let upcast = tempfile::tempdir().unwrap();
    upcast_to_f32(king.path(), upcast.path()).unwrap();
    let shard = read_safetensors(&upcast.path().join("model-00001-of-00002.safetensors")).unwrap();
    assert!(shard.iter().all(|t| t.1 == TestDtype::F32));
    let (fk, fu) = (fingerprint(king.path()), fingerprint(upcast.path()));
    assert_eq!(fk, fu, "samples and norms are bit-identical: bf16 → f32 is exact");
    assert_eq!(similarity(&fk, &fu), 1.0);
}

// --- sample indices -----------------------------------------------------------------------------

/// From Python: `struct.unpack(">16I", hashlib.blake2b(name.encode(), digest_size=64).digest())`.
const EMBED_WORDS: [u64; 16] = [
    3000063426, 3468145920, 864691064, 2453942149, 1310458434, 4146532622, 4191530463, 3448121387, 752902936,
    1409558623, 1572684617, 3400851082, 3465801115, 4179643667, 2590831108, 4002974653,
];

#[test]
fn sample_indices_are_blake2b_words_mod_numel() {
    let name = "model.embed_tokens.weight";
    // Above u32::MAX elements, `mod` changes nothing: the raw words.
    assert_eq!(sample_indices(name, 1 << 40), EMBED_WORDS);
    // Python: [w % 1000 for w in words]
    assert_eq!(
        sample_indices(name, 1000),
        [426, 920, 64, 149, 434, 622, 463, 387, 936, 623, 617, 82, 115, 667, 108, 653]
    );
    // The tiny model's [256, 64] embeddings.
    assert_eq!(
        sample_indices(name, 256 * 64),
        [5570, 13568, 9080, 12165, 578, 4366, 11743, 10283, 8984, 10335, 841, 7818, 11675, 3347, 12804, 3005]
    );
    assert_eq!(sample_indices(name, 1), [0; 16]);
    assert_eq!(
        sample_indices("lm_head.weight", 1000),
        [339, 211, 894, 558, 489, 957, 485, 476, 746, 471, 218, 145, 178, 611, 745, 19]
    );
}

proptest! {
    #[test]
    fn sample_indices_stay_below_numel(name in ".{0,40}", numel in 1u64..) {
        let indices = sample_indices(&name, numel);
        prop_assert!(indices.iter().all(|&i| i < numel));
        let words = sample_indices(&name, u64::MAX);
        prop_assert_eq!(indices, words.map(|w| w % numel));
    }
}

// --- values and norms ---------------------------------------------------------------------------

#[test]
fn samples_are_the_values_at_the_indices_and_the_norm_is_exact() {
    let king = model(3);
    let fp = fingerprint(king.path());
    let mut checked = 0;
    for file in ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"] {
        for (name, _, _, values) in read_safetensors(&king.path().join(file)).unwrap() {
            let print = fp.tensors.iter().find(|t| t.name == name).unwrap();
            let expected: Vec<f64> =
                sample_indices(&name, values.len() as u64).iter().map(|&i| f64::from(values[i as usize])).collect();
            assert_eq!(print.samples, expected, "{name}");
            let norm = values.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
            assert!((print.l2_norm - norm).abs() <= 1e-12 * norm, "{name}: {} vs {norm}", print.l2_norm);
            checked += 1;
        }
    }
    assert_eq!(checked, TENSORS);
}

#[test]
fn f16_and_f32_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<f32> = (0..300).map(|i| (i as f32 * 0.731).sin() * 3.0).collect();
    write_safetensors(
        &dir.path().join("model.safetensors"),
        &[
            ("half".to_string(), TestDtype::F16, vec![3, 100], values.clone()),
            ("single".to_string(), TestDtype::F32, vec![300], values.clone()),
        ],
    )
    .unwrap();
    let fp = fingerprint(dir.path());
    let round_f16 = |v: f32| half::f16::from_f32(v).to_f32();
    let [half_print, single_print] = &fp.tensors[..] else { panic!("two tensors: {fp:?}") };
    for (print, round) in [(half_print, &round_f16 as &dyn Fn(f32) -> f32), (single_print, &|v| v)] {
        let expected: Vec<f64> =
            sample_indices(&print.name, 300).iter().map(|&i| f64::from(round(values[i as usize]))).collect();
        assert_eq!(print.samples, expected, "{}", print.name);
        let norm = values.iter().map(|&v| f64::from(round(v)).powi(2)).sum::<f64>().sqrt();
        assert!((print.l2_norm - norm).abs() <= 1e-12 * norm);
    }
}

#[test]
fn f64_values_are_rounded_to_f32() {
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<f64> = (0..50).map(|i| 0.1 + f64::from(i) / 3.0).collect();
    let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_raw(&dir.path().join("model.safetensors"), &[("double", "F64", vec![5, 10], bytes)]);
    let fp = fingerprint(dir.path());
    let expected: Vec<f64> =
        sample_indices("double", 50).iter().map(|&i| f64::from(values[i as usize] as f32)).collect();
    assert_eq!(fp.tensors[0].samples, expected);
    assert_ne!(expected, sample_indices("double", 50).iter().map(|&i| values[i as usize]).collect::<Vec<_>>());
    let norm = values.iter().map(|&v| f64::from(v as f32).powi(2)).sum::<f64>().sqrt();
    assert!((fp.tensors[0].l2_norm - norm).abs() <= 1e-12 * norm);
}

#[test]
fn a_scalar_tensor_has_sixteen_copies_of_its_value() {
    let dir = tempfile::tempdir().unwrap();
    write_safetensors(&dir.path().join("m.safetensors"), &[("s".to_string(), TestDtype::F32, vec![], vec![-2.5])])
        .unwrap();
    let fp = fingerprint(dir.path());
    assert_eq!(fp.tensors[0].samples, vec![-2.5; 16]);
    assert_eq!(fp.tensors[0].l2_norm, 2.5);
}

// --- which files ----------------------------------------------------------------------------------

#[test]
fn later_files_overwrite_duplicate_tensor_names() {
    let dir = tempfile::tempdir().unwrap();
    let tensor = |v: f32| vec![("w".to_string(), TestDtype::F32, vec![4], vec![v; 4])];
    // Written out of order: files are taken by name, not by creation.
    write_safetensors(&dir.path().join("b.safetensors"), &tensor(2.0)).unwrap();
    write_safetensors(&dir.path().join("a.safetensors"), &tensor(1.0)).unwrap();
    write_safetensors(&dir.path().join("a2.safetensors"), &[("v".to_string(), TestDtype::F32, vec![1], vec![7.0])])
        .unwrap();
    let fp = fingerprint(dir.path());
    let names: Vec<&str> = fp.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["v", "w"]);
    assert_eq!(fp.tensors[1].samples, vec![2.0; 16]);
    assert_eq!(fp.tensors[1].l2_norm, 4.0);
}

#[test]
fn only_top_level_safetensors_files_are_read() {
    let dir = model(1);
    let expected = fingerprint(dir.path());
    let sub = dir.path().join("checkpoint-100");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("model.safetensors"), b"garbage").unwrap();
    std::fs::create_dir(dir.path().join("extra.safetensors")).unwrap();
    std::fs::write(dir.path().join("model.safetensors.bak"), b"garbage").unwrap();
    assert_eq!(fingerprint(dir.path()), expected);
}

// --- errors -------------------------------------------------------------------------------------

#[test]
fn a_directory_without_safetensors_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), "{}").unwrap();
    let err = fingerprint_dir(dir.path()).unwrap_err();
    assert!(matches!(err, FingerprintError::NoSafetensors { .. }), "{err:?}");
    assert!(err.to_string().contains(&dir.path().display().to_string()), "{err}");

    let missing = dir.path().join("missing");
    let err = fingerprint_dir(&missing).unwrap_err();
    assert!(matches!(&err, FingerprintError::Io { path, .. } if *path == missing), "{err:?}");
    assert!(!err.is_model_fault(), "a local I/O error is not the model's fault");
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn integer_and_bool_tensors_are_read_as_torch_converts_them() {
    let dir = tempfile::tempdir().unwrap();
    let ints: Vec<u8> = [3i32, -4, 0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let big: Vec<u8> = [(1i64 << 40) + 1].iter().flat_map(|v| v.to_le_bytes()).collect();
    write_raw(
        &dir.path().join("model.safetensors"),
        &[
            ("position_ids", "I32", vec![3], ints),
            ("mask", "BOOL", vec![2], vec![0, 7]),
            ("big", "I64", vec![1], big),
            ("bytes", "U8", vec![2], vec![255, 1]),
        ],
    );
    let fp = fingerprint_dir(dir.path()).unwrap();
    let t = |name: &str| fp.tensors.iter().find(|t| t.name == name).unwrap().clone();
    assert_eq!(t("position_ids").l2_norm, 5.0);
    assert_eq!(t("mask").l2_norm, 1.0, "a nonzero bool is 1.0");
    assert_eq!(t("big").samples[0], ((1i64 << 40) + 1) as f32 as f64);
    assert_eq!(t("bytes").l2_norm, (255.0f64 * 255.0 + 1.0).sqrt());
    for s in t("position_ids").samples {
        assert!([3.0, -4.0, 0.0].contains(&s), "{s}");
    }
}

#[test]
fn an_unsupported_dtype_names_the_tensor_and_the_dtype() {
    let dir = tempfile::tempdir().unwrap();
    write_raw(
        &dir.path().join("model.safetensors"),
        &[("fine", "F32", vec![1], 1.0f32.to_le_bytes().to_vec()), ("scales", "F8_E4M3", vec![3], vec![1, 2, 3])],
    );
    let err = fingerprint_dir(dir.path()).unwrap_err();
    assert!(err.is_model_fault());
    let FingerprintError::UnsupportedDtype { file, tensor, dtype } = &err else { panic!("{err:?}") };
    assert_eq!(
        (file.file_name().unwrap().to_str(), tensor.as_str(), dtype.as_str()),
        (Some("model.safetensors"), "scales", "F8_E4M3")
    );
    let message = err.to_string();
    assert!(["model.safetensors", "scales", "F8_E4M3"].iter().all(|s| message.contains(s)), "{message}");
}

#[test]
fn an_empty_tensor_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write_raw(&dir.path().join("model.safetensors"), &[("nothing", "BF16", vec![0, 4], vec![])]);
    let err = fingerprint_dir(dir.path()).unwrap_err();
    assert!(matches!(&err, FingerprintError::EmptyTensor { tensor, .. } if tensor == "nothing"), "{err:?}");
    assert!(err.to_string().contains("model.safetensors") && err.to_string().contains("nothing"), "{err}");
}

/// Fingerprints a directory holding one valid shard and `bytes` as `broken.safetensors`; expects a
/// header error that names the broken file.
fn assert_bad_file(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    write_safetensors(&dir.path().join("a.safetensors"), &[("w".to_string(), TestDtype::F32, vec![2], vec![1.0, 2.0])])
        .unwrap();
    std::fs::write(dir.path().join("broken.safetensors"), bytes).unwrap();
    let err = fingerprint_dir(dir.path()).unwrap_err();
    assert!(
        matches!(&err, FingerprintError::BadHeader { file, .. } if file.ends_with("broken.safetensors")),
        "{err:?}"
    );
    assert!(err.to_string().contains("broken.safetensors"), "{err}");
}

fn valid_file() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    let tensors = [
        ("a".to_string(), TestDtype::Bf16, vec![8, 8], vec![0.5; 64]),
        ("b".to_string(), TestDtype::F32, vec![16], vec![-1.0; 16]),
    ];
    write_safetensors(&path, &tensors).unwrap();
    std::fs::read(path).unwrap()
}

#[test]
fn malformed_files_are_errors_naming_the_file() {
    let valid = valid_file();
    // empty, shorter than the length prefix, cut in the header, cut in the data
    for cut in [0, 3, 20, valid.len() - 1] {
        assert_bad_file(&valid[..cut]);
    }
    // trailing bytes the offsets do not cover
    assert_bad_file(&[valid.as_slice(), &[0; 8]].concat());
    // garbage header
    let mut garbage = 16u64.to_le_bytes().to_vec();
    garbage.extend_from_slice(b"not json at all!");
    assert_bad_file(&garbage);
    // a header length far beyond the end of the file
    let mut huge = u64::MAX.to_le_bytes().to_vec();
    huge.extend_from_slice(b"{}");
    assert_bad_file(&huge);
    // offsets beyond the end of the file
    let header = br#"{"w":{"dtype":"F32","shape":[1000],"data_offsets":[0,4000]}}  "#;
    let mut beyond = (header.len() as u64).to_le_bytes().to_vec();
    beyond.extend_from_slice(header);
    beyond.extend_from_slice(&[0; 16]);
    assert_bad_file(&beyond);
    // offsets that disagree with the shape
    let header = br#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#;
    let mut short = (header.len() as u64).to_le_bytes().to_vec();
    short.extend_from_slice(header);
    short.extend_from_slice(&[0; 4]);
    assert_bad_file(&short);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any truncation or single-byte corruption of a valid file fails cleanly or still parses; it
    /// never panics.
    #[test]
    fn damaged_files_never_panic(cut in any::<prop::sample::Index>(), flip in any::<prop::sample::Index>(), byte: u8) {
        let valid = valid_file();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");

        std::fs::write(&path, &valid[..cut.index(valid.len())]).unwrap();
        let truncated = fingerprint_dir(dir.path());
        prop_assert!(matches!(truncated, Err(FingerprintError::BadHeader { .. })), "{:?}", truncated);

        let mut corrupt = valid.clone();
        corrupt[flip.index(valid.len())] = byte;
        std::fs::write(&path, &corrupt).unwrap();
        let _ = fingerprint_dir(dir.path());
    }
}
