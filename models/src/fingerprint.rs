//! The live near-duplicate fingerprint, method `layer_norms_v2_with_samples` (eval.md §10.1).
//!
//! Per tensor of a model directory's top-level `*.safetensors` files: its L2 norm and 16 values at
//! indices derived from the tensor's name. The live similarity
//! (`albedo_projections::decide::similarity`) compares only the samples; the norm is informational.
//!
//! Design decision: the files are memory-mapped, never read into RAM. Each tensor is streamed in
//! windows of 64 MiB (`WINDOW_BYTES`), and each window's pages are handed back to the kernel once
//! summed, so the peak resident set stays about one window wide whatever the model size (a 4B
//! model is ~8 GB of bf16; the bench measures ~7 MiB on files of 4 MiB tensors, ~70 MiB with a
//! 1 GiB tensor). The caller must not modify a file while it is being fingerprinted: a file
//! truncated under a live mapping faults the process (the model cache is ours and immutable once
//! pulled).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use albedo_ledger::event::{Fingerprint, TensorPrint};
use blake2::{Blake2b512, Digest};
use memmap2::{Advice, Mmap, UncheckedAdvice};
use safetensors::{Dtype, SafeTensorError, SafeTensors};

/// The method name stored in every fingerprint (eval.md §10.1 step 3).
pub const METHOD: &str = "layer_norms_v2_with_samples";

/// Values sampled per tensor: a 64-byte BLAKE2b digest cut into u32 words (eval.md §10.1 step 2).
pub const SAMPLES_PER_TENSOR: usize = 16;

/// Bytes summed between two page releases. A multiple of `LANES` elements of every dtype read, so
/// an element's lane does not depend on the window it falls in.
const WINDOW_BYTES: usize = 64 << 20;

/// The largest block Linux's fault-around maps on one page fault (`fault_around_bytes`, at most
/// one page table's span: 512 pages of 4 KiB).
const FAULT_AROUND_MAX: usize = 2 << 20;

/// Independent accumulators of the sum of squares (see [`fingerprint_dir`]).
const LANES: usize = 16;

const _: () = assert!(WINDOW_BYTES.is_multiple_of(LANES * 8));

/// Why a directory could not be fingerprinted. Every message names the file, and the tensor
/// where one is at fault.
#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    #[error("{}: no top-level *.safetensors file", dir.display())]
    NoSafetensors { dir: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The header does not parse, or its offsets do not exactly cover the file (a truncated file
    /// lands here, before any tensor byte is read).
    #[error("{}: not a valid safetensors file: {reason}", file.display())]
    BadHeader { file: PathBuf, reason: SafeTensorError },
    /// Floating-point (BF16, F16, F32, F64), integer and bool tensors are read, converted as
    /// torch's `.float()` does; the 8-, 6- and 4-bit float formats and complex are not.
    #[error(
        "{}: tensor {tensor:?} has dtype {dtype}; fingerprints read BF16, F16, F32, F64, integers and BOOL",
        file.display()
    )]
    UnsupportedDtype { file: PathBuf, tensor: String, dtype: String },
    /// A tensor with no element has no values to sample (the reference failed there too).
    #[error("{}: tensor {tensor:?} is empty (shape {shape:?}), so it has no values to sample", file.display())]
    EmptyTensor { file: PathBuf, tensor: String, shape: Vec<usize> },
}

impl FingerprintError {
    /// Whether the model's own files are at fault (a malformed or unreadable-by-design file,
    /// missing weights), as opposed to the local disk. The shell charges the former to the
    /// miner; either way the gate does not pass (the reference passed on any error: eval.md
    /// §16.2 item 17).
    pub fn is_model_fault(&self) -> bool {
        !matches!(self, FingerprintError::Io { .. })
    }
}

/// The 16 element indices for a tensor name: BLAKE2b-512 of the UTF-8 name, cut into 16
/// big-endian u32 words, each mod numel.
///
/// With `numel == 0` every index is 0 (as in the reference, where reading it then fails).
pub fn sample_indices(name: &str, numel: u64) -> [u64; SAMPLES_PER_TENSOR] {
    let digest = Blake2b512::digest(name.as_bytes());
    let mut indices = [0; SAMPLES_PER_TENSOR];
    for (index, word) in indices.iter_mut().zip(digest.chunks_exact(4)) {
        let word = u64::from(u32::from_be_bytes([word[0], word[1], word[2], word[3]]));
        *index = word.checked_rem(numel).unwrap_or(0);
    }
    indices
}

/// Fingerprint of a model directory: its top-level `*.safetensors` files, sorted by file name;
/// later files overwrite duplicate tensor names; tensors sorted by name.
///
/// A top-level `*.safetensors` entry is any name ending in `.safetensors` that is, after following
/// symlinks, not a directory; subdirectories are not searched. Names sort by their bytes (for
/// UTF-8 names, code-point order, as Python's `sorted`).
///
/// Every element is converted to f32 as torch's `.float()` does: BF16 and F16 exactly, F32 as is,
/// F64 rounded to nearest. The samples are the f32 values at [`sample_indices`], stored as f64.
///
/// The norm differs from the reference by design. The reference summed in float32 with torch's
/// reduction, whose order depends on the machine; here each `x * x` is taken in f64 (exact for an
/// f32 `x`), element `i` is added to accumulator `i % 16` in element order, and the 16
/// accumulators are then added from first to last, then `sqrt`. No FMA, no threads, and the
/// vector width picked at run time does not change a bit (see `kernel`): the result is
/// bit-identical on every machine, and the 16 independent chains let the loop vectorise. Since the
/// live similarity reads only the samples, this changes no decision.
///
/// The files are memory-mapped: they must not be modified or truncated while this runs (module
/// doc).
pub fn fingerprint_dir(dir: &Path) -> Result<Fingerprint, FingerprintError> {
    let files = safetensors_files(dir)?;
    if files.is_empty() {
        return Err(FingerprintError::NoSafetensors { dir: dir.to_path_buf() });
    }
    let mut tensors = BTreeMap::new();
    for file in &files {
        fingerprint_file(file, &mut tensors)?;
    }
    Ok(Fingerprint { method: METHOD.to_string(), tensors: tensors.into_values().collect() })
}

fn safetensors_files(dir: &Path) -> Result<Vec<PathBuf>, FingerprintError> {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FingerprintError + '_ {
        move |source| FingerprintError::Io { path: path.to_path_buf(), source }
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        if !entry.file_name().as_encoded_bytes().ends_with(b".safetensors") {
            continue;
        }
        // `metadata` follows symlinks: a cache may link its files to content-addressed blobs.
        if std::fs::metadata(&path).map_err(io(&path))?.is_dir() {
            continue;
        }
        files.push(path);
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// One tensor's place in the mapping and how to read its elements.
struct TensorSpan {
    name: String,
    dtype: Dtype,
    numel: u64,
    /// Byte range in the mapping (header included).
    start: usize,
    end: usize,
}

fn fingerprint_file(path: &Path, out: &mut BTreeMap<String, TensorPrint>) -> Result<(), FingerprintError> {
    let io = |source| FingerprintError::Io { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(io)?;
    // SAFETY: the mapping is read-only, and the file is not modified while it is mapped (module
    // doc): the cache never rewrites a pulled model.
    let map = unsafe { Mmap::map(&file) }.map_err(io)?;
    // Only a hint: a refusal costs speed, not correctness.
    let _ = map.advise(Advice::Sequential);

    let bad_header = |reason| FingerprintError::BadHeader { file: path.to_path_buf(), reason };
    // Validates the header and that the offsets exactly tile the rest of the file.
    let (header_len, metadata) = SafeTensors::read_metadata(&map).map_err(bad_header)?;
    let data_start = 8 + header_len;
    let mut spans = Vec::new();
    for name in metadata.offset_keys() {
        let Some(info) = metadata.info(&name) else { continue };
        // `read_metadata` has checked that the shape's product does not overflow a usize.
        let numel = info.shape.iter().map(|&d| d as u64).product();
        if numel == 0 {
            return Err(FingerprintError::EmptyTensor {
                file: path.to_path_buf(),
                tensor: name,
                shape: info.shape.clone(),
            });
        }
        if !supported(info.dtype) {
            return Err(FingerprintError::UnsupportedDtype {
                file: path.to_path_buf(),
                tensor: name,
                dtype: info.dtype.to_string(),
            });
        }
        let (start, end) = info.data_offsets;
        spans.push(TensorSpan { name, dtype: info.dtype, numel, start: data_start + start, end: data_start + end });
    }
    for span in spans {
        let print = fingerprint_tensor(&map, &span);
        out.insert(span.name, print);
    }
    Ok(())
}

fn fingerprint_tensor(map: &Mmap, span: &TensorSpan) -> TensorPrint {
    let data = &map[span.start..span.end];
    let samples =
        sample_indices(&span.name, span.numel).iter().map(|&i| f64::from(element(span.dtype, data, i))).collect();
    let add_squares = kernel(span.dtype);
    let mut lanes = [0.0f64; LANES];
    let mut offset = span.start;
    while offset < span.end {
        let len = WINDOW_BYTES.min(span.end - offset);
        add_squares(&map[offset..offset + len], &mut lanes);
        // Fault-around maps the aligned block around a fault, pages before it included, so the
        // first fault of a window can map again the tail of the window released before it: the
        // release reaches back by the largest fault-around block.
        let from = offset.saturating_sub(FAULT_AROUND_MAX);
        // SAFETY: DONTNEED on a read-only, file-backed mapping only drops the range's resident
        // pages; the next access re-reads the same bytes from the file. No reference sees
        // different contents (the file is not modified while mapped, module doc). The kernel
        // widens the range to whole pages, which may drop a page of the next window: it is
        // faulted in again. A refusal only costs memory.
        let _ = unsafe { map.unchecked_advise_range(UncheckedAdvice::DontNeed, from, offset + len - from) };
        offset += len;
    }
    let sum: f64 = lanes.iter().sum();
    TensorPrint { name: span.name.clone(), l2_norm: sum.sqrt(), samples }
}

/// Element `index` of a tensor's bytes, converted to f32. `index < numel`, by `sample_indices`.
fn element(dtype: Dtype, data: &[u8], index: u64) -> f32 {
    fn at<const N: usize>(data: &[u8], index: u64) -> [u8; N] {
        let start = index as usize * N;
        data[start..start + N].try_into().expect("a slice of N bytes")
    }
    match dtype {
        Dtype::BF16 => Bf16::to_f32(at(data, index)),
        Dtype::F16 => F16::to_f32(at(data, index)),
        Dtype::F32 => F32::to_f32(at(data, index)),
        Dtype::F64 => F64::to_f32(at(data, index)),
        Dtype::BOOL => Bool::to_f32(at(data, index)),
        Dtype::I8 => I8::to_f32(at(data, index)),
        Dtype::U8 => U8::to_f32(at(data, index)),
        Dtype::I16 => I16::to_f32(at(data, index)),
        Dtype::U16 => U16::to_f32(at(data, index)),
        Dtype::I32 => I32::to_f32(at(data, index)),
        Dtype::U32 => U32::to_f32(at(data, index)),
        Dtype::I64 => I64::to_f32(at(data, index)),
        Dtype::U64 => U64::to_f32(at(data, index)),
        _ => unreachable!("dtype checked in fingerprint_file"),
    }
}

/// The dtypes [`element`] and [`kernel`] read. Integer and bool tensors (buffers, masks) are
/// converted as torch's `.float()` converts them, as the reference did; refusing them would
/// only turn an honest model's buffer into a failed gate.
fn supported(dtype: Dtype) -> bool {
    matches!(
        dtype,
        Dtype::BF16
            | Dtype::F16
            | Dtype::F32
            | Dtype::F64
            | Dtype::BOOL
            | Dtype::I8
            | Dtype::U8
            | Dtype::I16
            | Dtype::U16
            | Dtype::I32
            | Dtype::U32
            | Dtype::I64
            | Dtype::U64
    )
}

/// A little-endian element of `N` bytes, converted to f32 as torch's `.float()` does.
trait Element<const N: usize> {
    fn to_f32(bytes: [u8; N]) -> f32;
}

struct Bf16;
struct F16;
struct F32;
struct F64;

impl Element<2> for Bf16 {
    /// bf16 is the top half of an f32: exact, and a shift the compiler vectorises.
    fn to_f32(bytes: [u8; 2]) -> f32 {
        f32::from_bits(u32::from(u16::from_le_bytes(bytes)) << 16)
    }
}

impl Element<2> for F16 {
    fn to_f32(bytes: [u8; 2]) -> f32 {
        half::f16::from_le_bytes(bytes).to_f32()
    }
}

impl Element<4> for F32 {
    fn to_f32(bytes: [u8; 4]) -> f32 {
        f32::from_le_bytes(bytes)
    }
}

impl Element<8> for F64 {
    fn to_f32(bytes: [u8; 8]) -> f32 {
        f64::from_le_bytes(bytes) as f32
    }
}

struct Bool;

impl Element<1> for Bool {
    fn to_f32(bytes: [u8; 1]) -> f32 {
        if bytes[0] == 0 { 0.0 } else { 1.0 }
    }
}

/// Integers: `as f32` rounds to nearest, ties to even, as torch's conversion does.
macro_rules! integer_element {
    ($($name:ident: $ty:ty, $n:literal;)*) => {$(
        struct $name;
        impl Element<$n> for $name {
            fn to_f32(bytes: [u8; $n]) -> f32 {
                <$ty>::from_le_bytes(bytes) as f32
            }
        }
    )*};
}

integer_element! {
    I8: i8, 1;
    U8: u8, 1;
    I16: i16, 2;
    U16: u16, 2;
    I32: i32, 4;
    U32: u32, 4;
    I64: i64, 8;
    U64: u64, 8;
}

/// Adds the squares of a window's elements to the lanes (see [`add_squares`]).
type Kernel = fn(&[u8], &mut [f64; LANES]);

/// The sum-of-squares kernel for a dtype, compiled for the widest vector unit this CPU has.
///
/// Every variant compiles the same source, [`add_squares`], whose lanes are 16 separate chains
/// of additions: vectorising runs several chains side by side but never reorders one (the
/// compiler does not reassociate or fuse floating-point operations), so every variant gives
/// bit-identical sums. On x86-64 the baseline is SSE2; AVX2 doubles bf16 throughput and
/// AVX-512 triples it.
fn kernel(dtype: Dtype) -> Kernel {
    match dtype {
        Dtype::BF16 => kernel_for::<2, Bf16>(),
        Dtype::F16 => kernel_for::<2, F16>(),
        Dtype::F32 => kernel_for::<4, F32>(),
        Dtype::F64 => kernel_for::<8, F64>(),
        Dtype::BOOL => kernel_for::<1, Bool>(),
        Dtype::I8 => kernel_for::<1, I8>(),
        Dtype::U8 => kernel_for::<1, U8>(),
        Dtype::I16 => kernel_for::<2, I16>(),
        Dtype::U16 => kernel_for::<2, U16>(),
        Dtype::I32 => kernel_for::<4, I32>(),
        Dtype::U32 => kernel_for::<4, U32>(),
        Dtype::I64 => kernel_for::<8, I64>(),
        Dtype::U64 => kernel_for::<8, U64>(),
        _ => unreachable!("dtype checked in fingerprint_file"),
    }
}

fn kernel_for<const N: usize, E: Element<N>>() -> Kernel {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, detected just above.
            return |bytes, lanes| unsafe { x86::avx512::<N, E>(bytes, lanes) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, detected just above.
            return |bytes, lanes| unsafe { x86::avx2::<N, E>(bytes, lanes) };
        }
    }
    add_squares::<N, E>
}

/// [`add_squares`] compiled for wider vector units; call only where the CPU has them.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Element, LANES, add_squares};

    #[target_feature(enable = "avx512f")]
    pub(super) fn avx512<const N: usize, E: Element<N>>(bytes: &[u8], lanes: &mut [f64; LANES]) {
        add_squares::<N, E>(bytes, lanes)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn avx2<const N: usize, E: Element<N>>(bytes: &[u8], lanes: &mut [f64; LANES]) {
        add_squares::<N, E>(bytes, lanes)
    }
}

/// Adds the squares of `bytes`' elements to `lanes`, element `i` (counted from the start of
/// `bytes`) to lane `i % LANES`. `bytes` starts on a multiple of `LANES` elements of the tensor.
/// Each square is taken in f64, where the square of an f32 is exact.
#[inline(always)]
fn add_squares<const N: usize, E: Element<N>>(bytes: &[u8], lanes: &mut [f64; LANES]) {
    let (elements, _) = bytes.as_chunks::<N>();
    let (blocks, rest) = elements.as_chunks::<LANES>();
    for block in blocks {
        for (lane, &element) in lanes.iter_mut().zip(block) {
            let x = f64::from(E::to_f32(element));
            *lane += x * x;
        }
    }
    for (lane, &element) in lanes.iter_mut().zip(rest) {
        let x = f64::from(E::to_f32(element));
        *lane += x * x;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_do_not_depend_on_windowing() {
        let values: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin()).collect();
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut whole = [0.0; LANES];
        add_squares::<4, F32>(&bytes, &mut whole);
        let mut split = [0.0; LANES];
        for window in bytes.chunks(LANES * 4 * 3) {
            add_squares::<4, F32>(window, &mut split);
        }
        assert_eq!(whole, split);
        let mut expected = [0.0; LANES];
        for (i, v) in values.iter().enumerate() {
            expected[i % LANES] += f64::from(*v) * f64::from(*v);
        }
        assert_eq!(whole, expected);
    }

    /// bf16 values of every exponent, subnormals, zeros, infinities and NaNs.
    fn every_bf16() -> Vec<u8> {
        (0..=u16::MAX).flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn bf16_decodes_as_half_does() {
        for bits in 0..=u16::MAX {
            let ours = Bf16::to_f32(bits.to_le_bytes());
            let theirs = half::bf16::from_bits(bits).to_f32();
            assert!(ours == theirs || (ours.is_nan() && theirs.is_nan()), "{bits:#06x}");
        }
    }

    #[test]
    fn every_kernel_gives_the_same_bits() {
        // Finite values only: an infinity or NaN makes every lane's sum infinite or NaN.
        let finite: Vec<u8> = every_bf16()
            .chunks_exact(2)
            .filter(|b| Bf16::to_f32([b[0], b[1]]).is_finite())
            .flatten()
            .copied()
            .collect();
        let f64s: Vec<u8> = finite
            .chunks_exact(2)
            .flat_map(|b| (f64::from(Bf16::to_f32([b[0], b[1]])) * 1.000_000_1).to_le_bytes())
            .collect();
        fn check<const N: usize, E: Element<N>>(bytes: &[u8], dtype: Dtype) {
            let mut portable = [0.0; LANES];
            add_squares::<N, E>(bytes, &mut portable);
            let mut dispatched = [0.0; LANES];
            kernel(dtype)(bytes, &mut dispatched);
            assert_eq!(portable.map(f64::to_bits), dispatched.map(f64::to_bits), "{dtype}");
            #[cfg(target_arch = "x86_64")]
            for (feature, wide) in [
                ("avx2", std::arch::is_x86_feature_detected!("avx2")),
                ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
            ] {
                if !wide {
                    continue;
                }
                let mut lanes = [0.0; LANES];
                // SAFETY: the feature was detected just above.
                unsafe {
                    match feature {
                        "avx2" => x86::avx2::<N, E>(bytes, &mut lanes),
                        _ => x86::avx512::<N, E>(bytes, &mut lanes),
                    }
                }
                assert_eq!(portable.map(f64::to_bits), lanes.map(f64::to_bits), "{dtype} {feature}");
            }
        }
        check::<2, Bf16>(&finite, Dtype::BF16);
        check::<8, F64>(&f64s, Dtype::F64);
        let f32s: Vec<u8> =
            f64s.chunks_exact(8).flat_map(|b| F64::to_f32(b.try_into().unwrap()).to_le_bytes()).collect();
        check::<4, F32>(&f32s, Dtype::F32);
    }

    #[test]
    fn sample_indices_of_zero_elements_are_zero() {
        assert_eq!(sample_indices("model.norm.weight", 0), [0; SAMPLES_PER_TENSOR]);
    }

    #[test]
    fn element_reads_each_dtype() {
        let x = 1.5f32;
        assert_eq!(element(Dtype::BF16, &half::bf16::from_f32(x).to_le_bytes(), 0), x);
        assert_eq!(element(Dtype::F16, &half::f16::from_f32(x).to_le_bytes(), 0), x);
        assert_eq!(element(Dtype::F32, &[0, 0, 0, 0, 0, 0, 0xc0, 0x3f], 1), x);
        assert_eq!(element(Dtype::F64, &(0.1f64).to_le_bytes(), 0), 0.1f32);
    }
}
