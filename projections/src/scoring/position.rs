//! Position (A/B) assignment (spec/determinism.md §4): whether the judge sees the king's reply
//! as A for the turn at position `i` of `samples_drawn`.
//!
//! A direct hash per position, not a stream read, so a turn's side never depends on how many
//! other turns were drawn, dropped or judged.

use sha2::{Digest, Sha256};

use super::seed::Seed;

/// The hash's domain prefix (§4).
const AB_DOMAIN: &str = "albedo/v1/ab";

/// `(SHA-256(ASCII("albedo/v1/ab") || seed || u32_le(turn))[0] & 1) == 0` (§4), where `turn` is
/// the 0-based position in `samples_drawn` (a dropped turn keeps its position).
pub fn a_is_king(seed: &Seed, turn: u32) -> bool {
    let mut hasher = Sha256::new();
    hasher.update(AB_DOMAIN.as_bytes());
    hasher.update(seed.as_bytes());
    hasher.update(turn.to_le_bytes());
    hasher.finalize()[0] & 1 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_bit_of_the_first_hash_byte() {
        let seed = Seed::from_hex(&"ab".repeat(64)).unwrap();
        let mut both = [false; 2];
        for turn in 0..64u32 {
            let digest = Sha256::digest([b"albedo/v1/ab".as_slice(), seed.as_bytes(), &turn.to_le_bytes()].concat());
            assert_eq!(a_is_king(&seed, turn), digest[0] % 2 == 0);
            both[usize::from(a_is_king(&seed, turn))] = true;
        }
        assert_eq!(both, [true, true], "64 turns give both sides");
    }
}
