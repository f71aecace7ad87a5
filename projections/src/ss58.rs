//! SS58 addresses (Substrate's text form of an account id), as Bittensor hotkeys are written.
//!
//! Used to check a reveal's hotkey before its text becomes part of the eval seed
//! (spec/determinism.md §1: `K` is the SS58 text exactly as recorded). Only the 32-byte account
//! form is accepted: base58 (Bitcoin alphabet) of `prefix || account id || checksum`, where the
//! prefix is one byte (0..=63) or two bytes (64..=16383, Substrate's packed form), and the
//! checksum is the first 2 bytes of `BLAKE2b-512("SS58PRE" || prefix bytes || account id)`.
//! Stricter than Substrate in one point: a two-byte prefix encoding a value below 64 is rejected,
//! since its canonical form is one byte and a hotkey should have exactly one text.

use blake2::{Blake2b512, Digest};

/// Whether `address` is a valid SS58 address of a 32-byte account id (any network prefix).
pub fn is_valid(address: &str) -> bool {
    decode(address).is_some()
}

/// The network prefix (42 for Bittensor's `5…` keys) and the 32-byte account id of a valid SS58
/// address; `None` for anything else.
pub fn decode(address: &str) -> Option<(u16, [u8; 32])> {
    let data = bs58::decode(address).into_vec().ok()?;
    let (prefix_len, prefix) = match *data.first()? {
        b @ 0..=63 => (1, u16::from(b)),
        // Bytes 01aaaaaa bbcccccc carry the 14-bit prefix 00cccccc_aaaaaabb.
        b0 @ 64..=127 => {
            let b1 = *data.get(1)?;
            let lower = (b0 << 2) | (b1 >> 6);
            let upper = b1 & 0b0011_1111;
            (2, u16::from(lower) | (u16::from(upper) << 8))
        }
        _ => return None,
    };
    if data.len() != prefix_len + 32 + 2 || (prefix_len == 2 && prefix < 64) {
        return None;
    }
    let (body, checksum) = data.split_at(prefix_len + 32);
    let hash = Blake2b512::new().chain_update(b"SS58PRE").chain_update(body).finalize();
    if hash[..2] != *checksum {
        return None;
    }
    Some((prefix, body[prefix_len..].try_into().expect("32 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Alice's well-known sr25519 public key (//Alice).
    const ALICE_ID: &str = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";

    /// Substrate's encoder (sp-core `to_ss58check_with_version`), for round trips.
    fn encode(prefix: u16, id: &[u8; 32]) -> String {
        let mut data = match prefix {
            0..=63 => vec![prefix as u8],
            _ => vec![
                ((prefix & 0b1111_1100) as u8 >> 2) | 0b0100_0000,
                ((prefix >> 8) as u8) | ((prefix & 0b11) as u8) << 6,
            ],
        };
        data.extend_from_slice(id);
        let hash = Blake2b512::new().chain_update(b"SS58PRE").chain_update(&data).finalize();
        data.extend_from_slice(&hash[..2]);
        bs58::encode(data).into_string()
    }

    fn alice() -> [u8; 32] {
        hex::decode(ALICE_ID).unwrap().try_into().unwrap()
    }

    #[test]
    fn known_addresses() {
        // Alice on the generic Substrate / Bittensor prefix 42, on Polkadot (0) and Kusama (2).
        for (address, prefix) in [
            ("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY", 42),
            ("15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5", 0),
            ("HNZata7iMYWmk5RvZRTiAsSDhV8366zq2YGb3tLH5Upf74F", 2),
        ] {
            assert_eq!(decode(address), Some((prefix, alice())), "{address}");
            assert_eq!(encode(prefix, &alice()), address);
        }
        // Bob on prefix 42.
        let (prefix, _) = decode("5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty").unwrap();
        assert_eq!(prefix, 42);
    }

    #[test]
    fn corrupt_or_malformed_addresses_are_invalid() {
        let alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
        for i in 0..alice.len() {
            for c in ['1', 'z', 'A'] {
                let mut corrupt: Vec<char> = alice.chars().collect();
                if corrupt[i] == c {
                    continue;
                }
                corrupt[i] = c;
                let corrupt: String = corrupt.into_iter().collect();
                assert!(!is_valid(&corrupt), "{corrupt}");
            }
        }
        for bad in [
            "",
            "5",
            &alice[1..],
            &format!("{alice}1"),
            &format!(" {alice}"),
            "0GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
        // A 33-byte body (e.g. an ECDSA public key) is not a 32-byte account id.
        let mut long = vec![42u8];
        long.extend_from_slice(&[7; 33]);
        let hash = Blake2b512::new().chain_update(b"SS58PRE").chain_update(&long).finalize();
        long.extend_from_slice(&hash[..2]);
        assert!(!is_valid(&bs58::encode(long).into_string()));
    }

    #[test]
    fn two_byte_prefixes() {
        for prefix in [64u16, 255, 1284, 16383] {
            let address = encode(prefix, &alice());
            assert_eq!(decode(&address), Some((prefix, alice())), "{prefix} {address}");
        }
        // The two-byte form of prefix 42 is not canonical.
        let mut data = vec![0b0100_0000 | (42 >> 2), (42 & 0b11) << 6];
        data.extend_from_slice(&alice());
        let hash = Blake2b512::new().chain_update(b"SS58PRE").chain_update(&data).finalize();
        data.extend_from_slice(&hash[..2]);
        assert!(!is_valid(&bs58::encode(data).into_string()));
    }

    proptest! {
        #[test]
        fn round_trips(prefix in 0u16..16384, id in any::<[u8; 32]>()) {
            prop_assert_eq!(decode(&encode(prefix, &id)), Some((prefix, id)));
        }

        #[test]
        fn never_panics(text in "\\PC{0,60}") {
            let _ = decode(&text);
        }
    }
}
