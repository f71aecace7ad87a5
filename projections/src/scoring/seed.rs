//! The eval seed (spec/determinism.md §1): `BLAKE2b-512(ASCII(H) || ASCII(K))` over the
//! commitment block's hash text `H` and the challenger hotkey's SS58 text `K`.
//!
//! Every random choice of an eval (sample draw, probe draw, A/B positions, bootstrap) flows from
//! these 64 bytes, so the inputs are checked strictly and never normalised: an uppercase or
//! unprefixed block hash is an error, not something to fix up, because a fixed-up text would
//! hash to a different seed than the one a third party derives from the ledger.

use std::fmt;

use blake2::{Blake2b512, Digest};

/// The 64 raw seed bytes. "Seed" everywhere in determinism.md means these bytes, never the hex.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Seed([u8; 64]);

/// Why a seed could not be derived or parsed; each message names the input at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    #[error("block hash {value:?} is not \"0x\" followed by 64 lowercase hex digits (determinism.md §1)")]
    BlockHash { value: String },
    #[error("hotkey is empty: the seed needs the challenger hotkey's SS58 text (determinism.md §1)")]
    EmptyHotkey,
    #[error("seed hex {value:?} is not 128 lowercase hex digits")]
    SeedHex { value: String },
}

impl Seed {
    /// `seed = BLAKE2b-512(bytes(H) || bytes(K))` (determinism.md §1), no key, salt or
    /// personalisation. `block_hash` must be exactly `0x` + 64 lowercase hex digits; `hotkey` must
    /// be non-empty (its SS58 validity is the caller's check, through [`crate::ss58::is_valid`]).
    pub fn derive(block_hash: &str, hotkey: &str) -> Result<Seed, SeedError> {
        let well_formed =
            block_hash.strip_prefix("0x").is_some_and(|digits| digits.len() == 64 && is_lower_hex(digits));
        if !well_formed {
            return Err(SeedError::BlockHash { value: block_hash.to_owned() });
        }
        if hotkey.is_empty() {
            return Err(SeedError::EmptyHotkey);
        }
        let mut hasher = Blake2b512::new();
        hasher.update(block_hash.as_bytes());
        hasher.update(hotkey.as_bytes());
        Ok(Seed(hasher.finalize().into()))
    }

    /// Parses `seed_hex` as recorded in `eval_started`: exactly 128 lowercase hex digits.
    pub fn from_hex(hex: &str) -> Result<Seed, SeedError> {
        let mut bytes = [0u8; 64];
        if hex.len() != 128 || !is_lower_hex(hex) || hex::decode_to_slice(hex, &mut bytes).is_err() {
            return Err(SeedError::SeedHex { value: hex.to_owned() });
        }
        Ok(Seed(bytes))
    }

    /// The `seed_hex` text: 128 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seed({})", self.to_hex())
    }
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "0x8f9a2f5b0c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccdd0";
    const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

    #[test]
    fn derive_is_blake2b_512_of_the_two_texts() {
        let seed = Seed::derive(H, ALICE).unwrap();
        let expected = Blake2b512::digest(format!("{H}{ALICE}").as_bytes());
        assert_eq!(seed.as_bytes()[..], expected[..]);
        assert_eq!(Seed::from_hex(&seed.to_hex()).unwrap(), seed);
        assert_eq!(format!("{seed:?}"), format!("Seed({})", seed.to_hex()));
    }

    #[test]
    fn block_hash_must_be_exact() {
        let upper = H.to_uppercase().replacen("0X", "0x", 1);
        for bad in [&H[2..], &H[..65], &format!("{H}0"), upper.as_str(), &H.replacen("0x", "0X", 1), "", "0x"] {
            let err = Seed::derive(bad, ALICE).unwrap_err();
            assert_eq!(err, SeedError::BlockHash { value: bad.to_owned() });
            assert!(err.to_string().contains("block hash"), "{err}");
        }
        let with_space = format!("0x {}", &H[3..]);
        assert!(Seed::derive(&with_space, ALICE).is_err());
        assert_eq!(Seed::derive(H, ""), Err(SeedError::EmptyHotkey));
    }

    #[test]
    fn seed_hex_must_be_exact() {
        let hex = Seed::derive(H, ALICE).unwrap().to_hex();
        for bad in [&hex[1..], &hex.to_uppercase(), &format!("0x{}", &hex[2..]), &format!("{}g", &hex[..127])] {
            let err = Seed::from_hex(bad).unwrap_err();
            assert!(err.to_string().contains("seed hex"), "{err}");
        }
    }
}
