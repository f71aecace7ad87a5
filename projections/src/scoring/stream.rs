//! The random stream (spec/determinism.md §2): the IETF ChaCha20 keystream (RFC 8439, 20
//! rounds, all-zero 96-bit nonce, block counter from 0) keyed by `SHA-256(ASCII(domain) || seed)`,
//! read front to back with no alignment, plus `uniform(n)` by rejection.
//!
//! Design decision: the keystream is produced `BUF_LEN` (16 KiB) at a time by encrypting a zeroed
//! buffer, which lets the `chacha20` crate use its SIMD backend on many blocks at once; reads then
//! come out of that buffer. The bootstrap (§6) makes 1.28 M draws per eval, so the per-read path
//! is a bounds check and a copy. The buffering is invisible: every read takes the next bytes of
//! the one infinite keystream, exactly as the spec defines it.

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use sha2::{Digest, Sha256};

use super::seed::Seed;

/// §3: the duel's sample draw.
pub const SAMPLE_DOMAIN: &str = "albedo/v1/sample";
/// §6: the paired bootstrap's resampling.
pub const BOOTSTRAP_DOMAIN: &str = "albedo/v1/bootstrap";
/// §3b: the injection probe's draw.
pub const PROBE_DOMAIN: &str = "albedo/v1/probe";

/// Keystream bytes generated per refill: a multiple of the 64-byte ChaCha block, large enough
/// that the SIMD backend runs on long batches, small enough to stay in L1/L2 (measured in
/// `benches/bootstrap.rs`).
const BUF_LEN: usize = 16 * 1024;

/// `stream(domain, seed)` of determinism.md §2: an infinite, deterministic byte sequence.
pub struct Stream {
    cipher: ChaCha20,
    buf: Box<[u8; BUF_LEN]>,
    /// Next unread byte of `buf`; `BUF_LEN` means "refill before reading".
    pos: usize,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream").finish_non_exhaustive()
    }
}

impl Stream {
    /// The stream for `domain` (one of the `*_DOMAIN` constants) and `seed`.
    pub fn new(domain: &str, seed: &Seed) -> Stream {
        let mut hasher = Sha256::new();
        hasher.update(domain.as_bytes());
        hasher.update(seed.as_bytes());
        Stream::keyed(hasher.finalize().into(), [0; 12])
    }

    /// The raw keystream for a key and nonce, counter from 0. Only `new` (nonce zero) and the RFC
    /// 8439 test vectors use it.
    fn keyed(key: [u8; 32], nonce: [u8; 12]) -> Stream {
        Stream { cipher: ChaCha20::new(&key.into(), &nonce.into()), buf: Box::new([0; BUF_LEN]), pos: BUF_LEN }
    }

    /// The next 4 bytes as a little-endian u32.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }

    /// The next 8 bytes as a little-endian u64.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }

    /// `uniform(n)` of §2: a uniform integer in `0..n` by rejection; `n ≤ 2^32` reads u32s,
    /// larger `n` reads u64s.
    ///
    /// # Panics
    /// If `n == 0`: the spec defines `uniform` for `1 ≤ n` only, and callers never ask for 0.
    #[inline]
    pub fn uniform(&mut self, n: u64) -> u64 {
        assert!(n != 0, "Stream::uniform(0): determinism.md §2 defines uniform(n) for 1 <= n <= 2^64 only");
        if n <= 1 << 32 { Uniform32::new(n).sample(self) } else { self.uniform_wide(n) }
    }

    #[cold]
    fn uniform_wide(&mut self, n: u64) -> u64 {
        // §2 for n > 2^32: r = next_u64, reject r >= n * floor(2^64 / n), computed in 128-bit.
        let n = u128::from(n);
        let limit = n * ((1u128 << 64) / n);
        loop {
            let r = u128::from(self.next_u64());
            if r < limit {
                return (r % n) as u64;
            }
        }
    }

    /// `out.len()` successive `uniform(n)` draws, exactly as many calls to [`Stream::uniform`]
    /// would give, for the bootstrap's 1.28 M draws: the rejection limit and the reduction are
    /// computed once, and the words are read straight from the keystream buffer.
    pub(crate) fn uniform_into(&mut self, n: u64, out: &mut [usize]) {
        let Some(uniform) = (1..=1 << 32).contains(&n).then(|| Uniform32::new(n)) else {
            // n > 2^32 (never met by the bootstrap: that many deltas do not fit in memory).
            for slot in out {
                *slot = self.uniform(n) as usize;
            }
            return;
        };
        let mut filled = 0;
        while filled < out.len() {
            let whole_words = (BUF_LEN - self.pos) / 4;
            if whole_words == 0 {
                // Refill, or a word straddling the buffer's end after an unaligned read.
                out[filled] = uniform.sample(self) as usize;
                filled += 1;
                continue;
            }
            // At most one word per free slot: a rejected word leaves its slot free for the next.
            let words = whole_words.min(out.len() - filled);
            for word in self.buf[self.pos..self.pos + 4 * words].chunks_exact(4) {
                let r = u64::from(u32::from_le_bytes([word[0], word[1], word[2], word[3]]));
                // Branch-free: write the candidate, keep it only when accepted (§2's rejection).
                out[filled] = uniform.reduce(r) as usize;
                filled += usize::from(r < uniform.limit);
            }
            self.pos += 4 * words;
        }
    }

    /// Fills `out` with the next `out.len()` bytes.
    pub fn fill(&mut self, mut out: &mut [u8]) {
        while !out.is_empty() {
            if self.pos == BUF_LEN {
                self.refill();
            }
            let k = out.len().min(BUF_LEN - self.pos);
            out[..k].copy_from_slice(&self.buf[self.pos..self.pos + k]);
            self.pos += k;
            out = &mut out[k..];
        }
    }

    #[inline]
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut bytes = [0u8; N];
        match self.buf.get(self.pos..self.pos + N) {
            Some(next) => {
                bytes.copy_from_slice(next);
                self.pos += N;
            }
            // Crosses the end of the buffer (reads have no alignment, §2).
            None => self.fill(&mut bytes),
        }
        bytes
    }

    #[cold]
    fn refill(&mut self) {
        self.buf.fill(0);
        self.cipher.apply_keystream(&mut self.buf[..]);
        self.pos = 0;
    }
}

/// `uniform(n)` for one fixed `1 ≤ n ≤ 2^32`, with the rejection limit and the reduction
/// precomputed: the bootstrap (§6) draws 1.28 M indices below the same `n`, and a hardware
/// division per draw would cost more than the keystream.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Uniform32 {
    n: u64,
    /// `n × floor(2^32 / n)`: reads at or above it are rejected (§2).
    limit: u64,
    /// Lemire's "fastmod" multiplier `floor((2^64 − 1) / n) + 1` (mod 2^64): `r mod n` becomes
    /// `((magic × r mod 2^64) × n) >> 64`, exact for every 32-bit `r` and every `n ≤ 2^32`
    /// (Lemire, Kaser, Kurz, "Faster remainder by direct computation", 2019; `n = 1` wraps to 0
    /// and `n = 2^32` gives `2^32`, both still exact, and both covered by the tests).
    magic: u64,
}

impl Uniform32 {
    #[inline]
    pub(crate) fn new(n: u64) -> Uniform32 {
        assert!((1..=1 << 32).contains(&n), "Uniform32::new({n}): n must be in 1..=2^32");
        Uniform32 { n, limit: n * ((1 << 32) / n), magic: (u64::MAX / n).wrapping_add(1) }
    }

    #[inline]
    pub(crate) fn sample(self, stream: &mut Stream) -> u64 {
        loop {
            let r = u64::from(stream.next_u32());
            if r < self.limit {
                return self.reduce(r);
            }
        }
    }

    /// `r mod n` for `r < 2^32`.
    #[inline]
    fn reduce(self, r: u64) -> u64 {
        ((u128::from(self.magic.wrapping_mul(r)) * u128::from(self.n)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seed() -> Seed {
        Seed::derive("0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "5Grwva").unwrap()
    }

    /// The keystream one 64-byte block at a time straight from `chacha20`, no buffering.
    fn reference_keystream(key: [u8; 32], nonce: [u8; 12], len: usize) -> Vec<u8> {
        let mut cipher = ChaCha20::new(&key.into(), &nonce.into());
        let mut out = vec![0u8; len];
        for chunk in out.chunks_mut(64) {
            cipher.apply_keystream(chunk);
        }
        out
    }

    #[test]
    fn rfc8439_a1_block_vectors_1_and_2() {
        // RFC 8439 Appendix A.1, test vectors #1 and #2: all-zero key and nonce, blocks 0 and 1.
        let mut s = Stream::keyed([0; 32], [0; 12]);
        let mut out = [0u8; 128];
        s.fill(&mut out);
        assert_eq!(
            hex::encode(out),
            "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7\
             da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586\
             9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed\
             29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f"
        );
    }

    #[test]
    fn rfc8439_2_4_2_encryption_through_the_block_path() {
        // RFC 8439 §2.4.2: key 00..1f, nonce 00:00:00:00:00:00:00:4a:00:00:00:00, initial counter
        // 1 (so skip block 0), "Ladies and Gentlemen of the class of '99...".
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let nonce = [0, 0, 0, 0, 0, 0, 0, 0x4a, 0, 0, 0, 0];
        let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for \
                          the future, sunscreen would be it.";
        let mut s = Stream::keyed(key, nonce);
        s.fill(&mut [0u8; 64]);
        let mut ks = [0u8; 114];
        s.fill(&mut ks);
        let ciphertext: Vec<u8> = plaintext.iter().zip(ks).map(|(p, k)| p ^ k).collect();
        assert_eq!(
            hex::encode(ciphertext),
            "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b\
             f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8\
             07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736\
             5af90bbf74a35be6b40b8eedf2785e42874d"
        );
    }

    #[test]
    fn key_is_sha256_of_domain_then_seed() {
        let seed = seed();
        let key: [u8; 32] = Sha256::digest([SAMPLE_DOMAIN.as_bytes(), seed.as_bytes()].concat()).into();
        let mut s = Stream::new(SAMPLE_DOMAIN, &seed);
        let mut got = vec![0u8; 3 * BUF_LEN + 5];
        s.fill(&mut got);
        assert_eq!(got, reference_keystream(key, [0; 12], got.len()));
        let mut other = [0u8; 64];
        Stream::new(BOOTSTRAP_DOMAIN, &seed).fill(&mut other);
        assert_ne!(other[..], got[..64]);
    }

    #[test]
    fn mixed_reads_across_buffer_edges_take_the_next_bytes() {
        // Reads of 1..=9 bytes in a fixed rotation, past several refills, against the flat keystream.
        let seed = seed();
        let mut flat = vec![0u8; 4 * BUF_LEN];
        Stream::new(PROBE_DOMAIN, &seed).fill(&mut flat);
        let mut s = Stream::new(PROBE_DOMAIN, &seed);
        let mut at = 0;
        let mut op = 0;
        while at + 9 < flat.len() {
            match op % 3 {
                0 => {
                    assert_eq!(s.next_u32(), u32::from_le_bytes(flat[at..at + 4].try_into().unwrap()));
                    at += 4;
                }
                1 => {
                    assert_eq!(s.next_u64(), u64::from_le_bytes(flat[at..at + 8].try_into().unwrap()));
                    at += 8;
                }
                _ => {
                    let mut one = [0u8; 1];
                    s.fill(&mut one);
                    assert_eq!(one[0], flat[at]);
                    at += 1;
                }
            }
            op += 1;
        }
    }

    /// A stream positioned so that its next u32s are `words`: the keystream is XORed with the
    /// wanted values, which is how a hand-made stream reaches the rejection branch on purpose.
    fn stream_yielding(words: &[u32]) -> Stream {
        let mut s = Stream::keyed([7; 32], [0; 12]);
        s.refill();
        for (i, w) in words.iter().enumerate() {
            s.buf[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
        s
    }

    #[test]
    fn uniform_rejects_at_and_above_the_limit() {
        let n = 3 * (1u64 << 30) + 1; // limit = n, so a quarter of all reads are rejected
        let mut s = stream_yielding(&[u32::MAX, n as u32, (n - 1) as u32, 5]);
        assert_eq!(s.uniform(n), n - 1);
        assert_eq!(s.pos, 12, "two rejected reads, one accepted");
        assert_eq!(s.uniform(n), 5);
        // n = 10: limit = 4294967290; 4294967290 is rejected, 4294967289 accepted (mod 10 = 9).
        let mut s = stream_yielding(&[4_294_967_290, 4_294_967_289]);
        assert_eq!(s.uniform(10), 9);
        assert_eq!(s.pos, 8);
        // n = 1 and n = 2^32 never reject; each costs one u32.
        let mut s = stream_yielding(&[u32::MAX, u32::MAX]);
        assert_eq!(s.uniform(1), 0);
        assert_eq!(s.uniform(1 << 32), u64::from(u32::MAX));
        assert_eq!(s.pos, 8);
    }

    #[test]
    fn uniform_wide_uses_u64_reads() {
        let n = (1u64 << 63) + 1; // limit = n
        let mut s = stream_yielding(&[u32::MAX, u32::MAX, 1, 1 << 31, 0, 1 << 31]);
        // u64 reads: 2^64 − 1 and 2^63 + 1 (= limit) are rejected, 2^63 is accepted.
        assert_eq!(s.uniform(n), 1 << 63);
        assert_eq!(s.pos, 24);
        let mut s = stream_yielding(&[9, 0]);
        assert_eq!(s.uniform(u64::MAX), 9);
    }

    #[test]
    #[should_panic(expected = "uniform(0)")]
    fn uniform_zero_is_a_programming_error() {
        Stream::new(SAMPLE_DOMAIN, &seed()).uniform(0);
    }

    proptest! {
        #[test]
        fn uniform_is_below_n(n in 1u64.., small in 1u64..=1 << 32, skip in 0usize..64) {
            let mut s = Stream::new(SAMPLE_DOMAIN, &seed());
            s.fill(&mut vec![0u8; skip]);
            prop_assert!(s.uniform(n) < n);
            prop_assert!(s.uniform(small) < small);
        }

        #[test]
        fn fastmod_is_exact(r in any::<u32>(), n in 1u64..=1 << 32) {
            prop_assert_eq!(Uniform32::new(n).reduce(u64::from(r)), u64::from(r) % n);
        }
    }

    #[test]
    fn uniform_into_equals_repeated_uniform() {
        // Odd lengths and an unaligned start make words straddle the buffer's end; n = 3·2^30 + 1
        // rejects a quarter of the reads, n = 2^33 takes the u64 path.
        for (n, skip, len) in
            [(128, 0, 10_000), (3 * (1 << 30) + 1, 3, 9_001), (7, 1, 4_097), (1 << 32, 2, 5_000), (1 << 33, 5, 100)]
        {
            let mut a = Stream::new(BOOTSTRAP_DOMAIN, &seed());
            let mut b = Stream::new(BOOTSTRAP_DOMAIN, &seed());
            a.fill(&mut vec![0; skip]);
            b.fill(&mut vec![0; skip]);
            let mut bulk = vec![0usize; len];
            for chunk in bulk.chunks_mut(333) {
                a.uniform_into(n, chunk);
            }
            let one_by_one: Vec<usize> = (0..len).map(|_| b.uniform(n) as usize).collect();
            assert_eq!(bulk, one_by_one, "n={n}");
            assert_eq!(a.next_u32(), b.next_u32(), "both consumed the same bytes");
        }
    }

    #[test]
    fn fastmod_edges() {
        for n in [1, 2, 3, 7, 10, 128, 1 << 31, (1 << 31) + 1, (1 << 32) - 1, 1 << 32] {
            let u = Uniform32::new(n);
            for r in [0, 1, n - 1, n, n + 1, u64::from(u32::MAX), u64::from(u32::MAX) - 1] {
                let r = r.min(u64::from(u32::MAX));
                assert_eq!(u.reduce(r), r % n, "r={r} n={n}");
            }
        }
    }
}
