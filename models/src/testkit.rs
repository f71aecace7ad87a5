//! Tiny Qwen3-shaped models and safetensors helpers for tests and benches (feature `testkit`).
//!
//! Everything is deterministic in its seed: a splitmix64 stream, no `rand`. Files are written by
//! hand in the safetensors format (8-byte little-endian header length, a JSON header padded with
//! spaces to a multiple of 8, then the data), which lets [`synthetic_safetensors`] stream a file
//! larger than memory.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};
use serde_json::json;

/// The element types the testkit writes and reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestDtype {
    Bf16,
    F16,
    F32,
}

impl TestDtype {
    fn header_name(self) -> &'static str {
        match self {
            TestDtype::Bf16 => "BF16",
            TestDtype::F16 => "F16",
            TestDtype::F32 => "F32",
        }
    }

    fn size(self) -> usize {
        match self {
            TestDtype::Bf16 | TestDtype::F16 => 2,
            TestDtype::F32 => 4,
        }
    }

    fn encode(self, value: f32, out: &mut Vec<u8>) {
        match self {
            TestDtype::Bf16 => out.extend_from_slice(&half::bf16::from_f32(value).to_le_bytes()),
            TestDtype::F16 => out.extend_from_slice(&half::f16::from_f32(value).to_le_bytes()),
            TestDtype::F32 => out.extend_from_slice(&value.to_le_bytes()),
        }
    }

    fn decode(self, bytes: &[u8]) -> Vec<f32> {
        match self {
            TestDtype::Bf16 => {
                bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect()
            }
            TestDtype::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            TestDtype::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        }
    }
}

/// One tensor as the testkit handles it: name, dtype, shape, values as f32.
pub type TestTensor = (String, TestDtype, Vec<usize>, Vec<f32>);

/// Writes a safetensors file from (name, dtype, shape, f32 values) — values rounded to the dtype.
/// Tensors written in the given order.
pub fn write_safetensors(path: &Path, tensors: &[TestTensor]) -> io::Result<()> {
    let mut layout = Vec::with_capacity(tensors.len());
    for (name, dtype, shape, values) in tensors {
        if shape.iter().product::<usize>() != values.len() {
            let message = format!("{name}: shape {shape:?} does not hold {} values", values.len());
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        }
        layout.push((name.as_str(), dtype.header_name(), shape.as_slice(), values.len() * dtype.size()));
    }
    let mut out = BufWriter::new(File::create(path)?);
    write_header(&mut out, &layout)?;
    let mut bytes = Vec::new();
    for (_, dtype, _, values) in tensors {
        bytes.clear();
        for &value in values {
            dtype.encode(value, &mut bytes);
        }
        out.write_all(&bytes)?;
    }
    out.into_inner().map_err(io::IntoInnerError::into_error)?.sync_all()
}

/// Writes the length prefix and the JSON header for tensors (name, dtype, shape, byte length)
/// laid out back to back in the given order.
fn write_header(out: &mut impl Write, tensors: &[(&str, &str, &[usize], usize)]) -> io::Result<()> {
    let mut header = String::from("{");
    let mut offset = 0;
    for (i, (name, dtype, shape, len)) in tensors.iter().enumerate() {
        let entry = json!({ "dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len] });
        let separator = if i == 0 { "" } else { "," };
        header.push_str(&format!("{separator}{}:{entry}", serde_json::to_string(name)?));
        offset += len;
    }
    header.push('}');
    while !header.len().is_multiple_of(8) {
        header.push(' ');
    }
    out.write_all(&(header.len() as u64).to_le_bytes())?;
    out.write_all(header.as_bytes())
}

/// Reads back every tensor of a safetensors file as (name, dtype, shape, f32 values), in file
/// order.
pub fn read_safetensors(path: &Path) -> io::Result<Vec<TestTensor>> {
    let bytes = std::fs::read(path)?;
    let invalid =
        |message: String| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {message}", path.display()));
    let (header_len, metadata) = SafeTensors::read_metadata(&bytes).map_err(|e| invalid(e.to_string()))?;
    let data = &bytes[8 + header_len..];
    let mut tensors = Vec::new();
    for name in metadata.offset_keys() {
        let info = metadata.info(&name).ok_or_else(|| invalid(format!("tensor {name:?} vanished")))?;
        let dtype = match info.dtype {
            Dtype::BF16 => TestDtype::Bf16,
            Dtype::F16 => TestDtype::F16,
            Dtype::F32 => TestDtype::F32,
            other => return Err(invalid(format!("tensor {name:?}: dtype {other} is not a TestDtype"))),
        };
        let (start, end) = info.data_offsets;
        tensors.push((name, dtype, info.shape.clone(), dtype.decode(&data[start..end])));
    }
    Ok(tensors)
}

/// The dimensions of [`tiny_qwen3`] (the config.json it writes).
const VOCAB: usize = 256;
const HIDDEN: usize = 64;
const INTERMEDIATE: usize = 128;
const LAYERS: usize = 2;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const HEAD_DIM: usize = 16;

/// A tiny Qwen3-shaped model folder (deterministic in `seed`): config.json, generation_config.json,
/// tokenizer_config.json (a non-canonical `chat_template`, `auto_map` and `trust_remote_code`, for
/// the hygiene step), a small byte-level tokenizer.json, and bf16 weights split over
/// `model-00001-of-00002.safetensors` (embeddings and layer 0) and
/// `model-00002-of-00002.safetensors` (the rest) with `model.safetensors.index.json`.
///
/// 25 tensors: `model.embed_tokens.weight`, per layer the q/k/v/o projections, q/k norms,
/// gate/up/down projections and the two layer norms, then `model.norm.weight` and
/// `lm_head.weight`. Matrices are normal-ish values of standard deviation 0.02; norm weights are
/// 1.0 plus the same noise.
pub fn tiny_qwen3(dir: &Path, seed: u64) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_json(&dir.join("config.json"), &qwen3_config())?;
    write_json(&dir.join("generation_config.json"), &generation_config())?;
    write_json(&dir.join("tokenizer_config.json"), &tokenizer_config())?;
    write_json(&dir.join("tokenizer.json"), &tokenizer())?;

    let mut rng = SplitMix64::new(seed);
    let mut matrix = |name: String, rows: usize, cols: usize| {
        let values = (0..rows * cols).map(|_| 0.02 * rng.normal()).collect();
        (name, TestDtype::Bf16, vec![rows, cols], values)
    };
    let mut first = vec![matrix("model.embed_tokens.weight".into(), VOCAB, HIDDEN)];
    let mut second = Vec::new();
    let mut norms = Vec::new();
    for layer in 0..LAYERS {
        let shard = if layer == 0 { &mut first } else { &mut second };
        let p = format!("model.layers.{layer}");
        shard.push(matrix(format!("{p}.self_attn.q_proj.weight"), HEADS * HEAD_DIM, HIDDEN));
        shard.push(matrix(format!("{p}.self_attn.k_proj.weight"), KV_HEADS * HEAD_DIM, HIDDEN));
        shard.push(matrix(format!("{p}.self_attn.v_proj.weight"), KV_HEADS * HEAD_DIM, HIDDEN));
        shard.push(matrix(format!("{p}.self_attn.o_proj.weight"), HIDDEN, HEADS * HEAD_DIM));
        shard.push(matrix(format!("{p}.mlp.gate_proj.weight"), INTERMEDIATE, HIDDEN));
        shard.push(matrix(format!("{p}.mlp.up_proj.weight"), INTERMEDIATE, HIDDEN));
        shard.push(matrix(format!("{p}.mlp.down_proj.weight"), HIDDEN, INTERMEDIATE));
        norms.push((layer, format!("{p}.self_attn.q_norm.weight"), HEAD_DIM));
        norms.push((layer, format!("{p}.self_attn.k_norm.weight"), HEAD_DIM));
        norms.push((layer, format!("{p}.input_layernorm.weight"), HIDDEN));
        norms.push((layer, format!("{p}.post_attention_layernorm.weight"), HIDDEN));
    }
    second.push(matrix("lm_head.weight".into(), VOCAB, HIDDEN));
    norms.push((LAYERS, "model.norm.weight".into(), HIDDEN));
    for (layer, name, len) in norms {
        let values = (0..len).map(|_| 1.0 + 0.02 * rng.normal()).collect();
        let shard = if layer == 0 { &mut first } else { &mut second };
        shard.push((name, TestDtype::Bf16, vec![len], values));
    }

    let shards = [("model-00001-of-00002.safetensors", first), ("model-00002-of-00002.safetensors", second)];
    let mut weight_map = serde_json::Map::new();
    let mut total_size = 0;
    for (file, tensors) in &shards {
        write_safetensors(&dir.join(file), tensors)?;
        for (name, dtype, _, values) in tensors {
            weight_map.insert(name.clone(), json!(file));
            total_size += values.len() * dtype.size();
        }
    }
    let index = json!({ "metadata": { "total_size": total_size }, "weight_map": weight_map });
    write_json(&dir.join("model.safetensors.index.json"), &index)
}

fn qwen3_config() -> serde_json::Value {
    json!({
        "architectures": ["Qwen3ForCausalLM"],
        "attention_bias": false,
        "attention_dropout": 0.0,
        "bos_token_id": 253,
        "eos_token_id": 255,
        "head_dim": HEAD_DIM,
        "hidden_act": "silu",
        "hidden_size": HIDDEN,
        "initializer_range": 0.02,
        "intermediate_size": INTERMEDIATE,
        "max_position_embeddings": 40960,
        "max_window_layers": LAYERS,
        "model_type": "qwen3",
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "num_key_value_heads": KV_HEADS,
        "rms_norm_eps": 1e-6,
        "rope_scaling": null,
        "rope_theta": 1000000.0,
        "sliding_window": null,
        "tie_word_embeddings": false,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.51.0",
        "use_cache": true,
        "use_sliding_window": false,
        "vocab_size": VOCAB
    })
}

fn generation_config() -> serde_json::Value {
    json!({
        "bos_token_id": 253,
        "do_sample": true,
        "eos_token_id": [255, 253],
        "pad_token_id": 253,
        "temperature": 0.6,
        "top_k": 20,
        "top_p": 0.95,
        "transformers_version": "4.51.0"
    })
}

/// The special tokens, at the ids of the three bytes that never occur in UTF-8 (0xFD..=0xFF).
const SPECIAL_TOKENS: [(u32, &str); 3] = [(253, "<|endoftext|>"), (254, "<|im_start|>"), (255, "<|im_end|>")];

/// Deliberately not the canonical Qwen3 template (hygiene must replace it); the ellipsis checks
/// that a rewrite keeps non-ASCII text as UTF-8.
const CHAT_TEMPLATE: &str = concat!(
    "{#- tiny test template … not canonical #}",
    "{% for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}",
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
);

fn tokenizer_config() -> serde_json::Value {
    let added: serde_json::Map<_, _> = SPECIAL_TOKENS
        .iter()
        .map(|(id, content)| {
            let token = json!({
                "content": content, "lstrip": false, "normalized": false, "rstrip": false,
                "single_word": false, "special": true
            });
            (id.to_string(), token)
        })
        .collect();
    json!({
        "add_bos_token": false,
        "add_prefix_space": false,
        "added_tokens_decoder": added,
        "auto_map": { "AutoTokenizer": ["tokenization_x.Tok", null] },
        "bos_token": null,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": false,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 40960,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": false,
        "tokenizer_class": "Qwen2Tokenizer",
        "trust_remote_code": true,
        "unk_token": null
    })
}

/// A byte-level BPE tokenizer with no merges: ids 0..=252 are the bytes 0x00..=0xFC (in GPT-2's
/// byte-to-character alphabet), 253..=255 the special tokens.
fn tokenizer() -> serde_json::Value {
    let mut vocab = serde_json::Map::new();
    for byte in 0..=252u8 {
        vocab.insert(byte_char(byte).to_string(), json!(byte));
    }
    for (id, content) in SPECIAL_TOKENS {
        vocab.insert(content.to_string(), json!(id));
    }
    let added: Vec<_> = SPECIAL_TOKENS
        .iter()
        .map(|(id, content)| {
            json!({
                "id": id, "content": content, "single_word": false, "lstrip": false, "rstrip": false,
                "normalized": false, "special": true
            })
        })
        .collect();
    let byte_level =
        json!({ "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": true });
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": byte_level,
        "post_processor": byte_level,
        "decoder": byte_level,
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "",
            "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab, "merges": []
        }
    })
}

/// GPT-2's `bytes_to_unicode`: printable Latin-1 bytes stand for themselves, the others map to
/// U+0100 onwards in byte order.
fn byte_char(byte: u8) -> char {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    if printable(byte) {
        return char::from(byte);
    }
    let rank = (0..byte).filter(|&b| !printable(b)).count() as u32;
    char::from_u32(256 + rank).expect("U+0100..U+0144 are chars")
}

fn write_json(path: &Path, value: &serde_json::Value) -> io::Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(value)? + "\n")
}

/// The top-level `*.safetensors` files of `dir`, sorted by name.
fn safetensors_in(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "safetensors") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Rewrites the named tensors of every *.safetensors file in `dir` in place, adding `delta` to
/// every element (keeps dtypes). A name found in no file is an error (`NotFound`), so a typo
/// cannot make a test vacuous.
pub fn perturb_tensors(dir: &Path, names: &[&str], delta: f32) -> io::Result<()> {
    let mut found = vec![false; names.len()];
    for path in safetensors_in(dir)? {
        let mut tensors = read_safetensors(&path)?;
        let mut changed = false;
        for (name, _, _, values) in &mut tensors {
            if let Some(i) = names.iter().position(|n| n == name) {
                found[i] = true;
                changed = true;
                values.iter_mut().for_each(|v| *v += delta);
            }
        }
        if changed {
            write_safetensors(&path, &tensors)?;
        }
    }
    match names.iter().zip(&found).find(|(_, found)| !**found) {
        Some((name, _)) => {
            Err(io::Error::new(io::ErrorKind::NotFound, format!("{}: no tensor {name:?}", dir.display())))
        }
        None => Ok(()),
    }
}

/// Adds deterministic noise of standard deviation `scale` to every tensor of every *.safetensors
/// file in dir (the miner stub's "train_or_perturb"). Each tensor's noise depends only on `seed`
/// and the tensor's name, not on file order.
pub fn add_noise(dir: &Path, seed: u64, scale: f32) -> io::Result<()> {
    for path in safetensors_in(dir)? {
        let mut tensors = read_safetensors(&path)?;
        for (name, _, _, values) in &mut tensors {
            let mut rng = SplitMix64::new(seed ^ fnv1a(name.as_bytes()));
            values.iter_mut().for_each(|v| *v += scale * rng.normal());
        }
        write_safetensors(&path, &tensors)?;
    }
    Ok(())
}

/// Copies every file of src to dst, with every safetensors tensor upcast to F32 (exact for bf16).
/// Only top-level regular files are copied; `model.safetensors.index.json` is copied as is (its
/// `total_size` then understates the F32 weights).
pub fn upcast_to_f32(src: &Path, dst: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for entry in std::fs::read_dir(src)? {
        let path = entry?.path();
        if !path.is_file() {
            continue;
        }
        let target = dst.join(path.file_name().expect("a read_dir entry has a name"));
        if path.extension().is_some_and(|e| e == "safetensors") {
            let mut tensors = read_safetensors(&path)?;
            tensors.iter_mut().for_each(|t| t.1 = TestDtype::F32);
            write_safetensors(&target, &tensors)?;
        } else {
            std::fs::copy(&path, &target)?;
        }
    }
    Ok(())
}

/// Elements per tensor of [`synthetic_safetensors`]: 2 Mi bf16 values, 4 MiB.
const SYNTHETIC_ROWS: usize = 1024;
const SYNTHETIC_COLS: usize = 2048;

/// Writes a large single-file bf16 safetensors of about `bytes` bytes (many tensors of a few MiB
/// each, streamed to disk: never holds more than one tensor in memory), for the benchmark.
///
/// Tensors `synthetic.{i:06}.weight` of shape [1024, 2048], plus one smaller 1-D tensor for the
/// remainder; values of magnitude in [2⁻¹⁰, 2⁻⁶), either sign. The data section is `bytes`
/// rounded down to an even number (at least 2); the header adds a few KiB.
pub fn synthetic_safetensors(path: &Path, bytes: u64, seed: u64) -> io::Result<()> {
    let per_tensor = (SYNTHETIC_ROWS * SYNTHETIC_COLS * 2) as u64;
    let full = bytes / per_tensor;
    let rest_elements = ((bytes % per_tensor) / 2) as usize;
    let full_shape = [SYNTHETIC_ROWS, SYNTHETIC_COLS];
    let mut shapes: Vec<(String, Vec<usize>)> =
        (0..full).map(|i| (format!("synthetic.{i:06}.weight"), full_shape.to_vec())).collect();
    if rest_elements > 0 || shapes.is_empty() {
        shapes.push((format!("synthetic.{full:06}.weight"), vec![rest_elements.max(1)]));
    }
    let layout: Vec<_> = shapes
        .iter()
        .map(|(name, shape)| (name.as_str(), "BF16", shape.as_slice(), shape.iter().product::<usize>() * 2))
        .collect();

    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    write_header(&mut out, &layout)?;
    let mut rng = SplitMix64::new(seed);
    let mut buffer = Vec::new();
    for (_, _, _, len) in &layout {
        buffer.clear();
        // Four values per draw, built as bf16 bits (sign, exponent 2⁻¹⁰..2⁻⁷, random mantissa):
        // the bench measures reading, and a float conversion per value would dominate writing.
        while buffer.len() < *len {
            let draw = rng.next_u64();
            for k in 0..4 {
                let r = (draw >> (16 * k)) as u16;
                let bits = (r & 0x8000) | ((0x75 + ((r >> 7) & 3)) << 7) | (r & 0x7F);
                buffer.extend_from_slice(&bits.to_le_bytes());
            }
        }
        out.write_all(&buffer[..*len])?;
    }
    out.into_inner().map_err(io::IntoInnerError::into_error)?.sync_all()
}

/// splitmix64 (Steele, Lea, Flood 2014): a tiny, well-mixed deterministic stream.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: 53 random bits, never 0 (Box–Muller takes its log).
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal value (Box–Muller, one of the pair).
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.unit(), self.unit());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }
}

/// FNV-1a, 64-bit: mixes a tensor name into a seed.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_round_trips_in_file_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.safetensors");
        let tensors = vec![
            ("z".to_string(), TestDtype::F32, vec![2], vec![0.1, -3.0]),
            ("a".to_string(), TestDtype::Bf16, vec![1, 3], vec![1.0, 0.5, -2.0]),
            ("m".to_string(), TestDtype::F16, vec![], vec![0.25]),
        ];
        write_safetensors(&path, &tensors).unwrap();
        assert_eq!(read_safetensors(&path).unwrap(), tensors);
    }

    #[test]
    fn byte_alphabet_is_gpt2s() {
        assert_eq!(byte_char(b'A'), 'A');
        assert_eq!(byte_char(0), '\u{100}');
        assert_eq!(byte_char(b' '), '\u{120}');
        let chars: std::collections::BTreeSet<char> = (0..=255).map(byte_char).collect();
        assert_eq!(chars.len(), 256);
    }

    #[test]
    fn synthetic_file_has_about_the_requested_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.safetensors");
        let bytes = 3 * 4 * 1024 * 1024 + 1000;
        synthetic_safetensors(&path, bytes, 7).unwrap();
        let read = read_safetensors(&path).unwrap();
        assert_eq!(read.len(), 4);
        assert_eq!(read[3].2, vec![500]);
        let data: usize = read.iter().map(|t| t.3.len() * 2).sum();
        assert_eq!(data as u64, bytes);
        let magnitudes = read.iter().flat_map(|t| t.3.iter().map(|v| v.abs()));
        assert!(magnitudes.clone().all(|m| (2f32.powi(-10)..2f32.powi(-6)).contains(&m)));
        assert!(read.iter().any(|t| t.3.iter().any(|v| *v < 0.0)));
    }
}
