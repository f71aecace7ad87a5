//! The mirror's checkpoint: the validator's signed statement of the log's size and head.
//!
//! Stored at [`super::checkpoint_key`] as pretty JSON followed by a newline:
//!
//! ```json
//! {
//!   "size": 600,
//!   "head_hash": "<64 lowercase hex: SHA-256 of entry size − 1's stored bytes; zeros for size 0>",
//!   "time_ms": 1764000000000,
//!   "signer": "<SS58 (prefix 42) of the validator hotkey>",
//!   "signature": "0x<128 lowercase hex: the sr25519 signature>"
//! }
//! ```
//!
//! The signature is sr25519 with Substrate's signing context (`b"substrate"`), the same as
//! `Keypair::sign` in subxt-signer and `sp_core::sr25519::Pair::sign` (chain.md §1.3), over the
//! UTF-8 bytes of [`Checkpoint::signed_message`]:
//!
//! ```text
//! albedo-ledger/v1 checkpoint\n
//! <size, decimal>\n
//! <head_hash, 64 lowercase hex>\n
//! <time_ms, decimal>\n
//! <signer, SS58>\n
//! ```
//!
//! (five lines, each ending in `\n`, no other whitespace). Another language re-creates the
//! message from the JSON's fields and checks it with any sr25519 library, e.g. Python's
//! `substrateinterface.Keypair(ss58_address=signer).verify(message, signature)`.
//!
//! Unknown JSON fields are ignored, so a later version can add some (witness cosignatures,
//! design.md §8) without breaking older readers; they are not covered by this signature.

use blake2::{Blake2b512, Digest};
use serde::{Deserialize, Serialize};
use subxt_signer::sr25519;

use crate::{Error, Hash32};

/// Bittensor's SS58 network prefix (`System.SS58Prefix`, chain.md §1.3): addresses start with `5`.
const SS58_PREFIX: u8 = 42;

/// The checkpoint object (see the module doc for its JSON and its signed message).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// How many entries the log holds (seqs `0 .. size`).
    pub size: u64,
    /// SHA-256 of entry `size − 1`'s stored bytes; [`Hash32::ZERO`] when `size` is 0.
    pub head_hash: Hash32,
    /// The signer's clock when it signed, ms since the UNIX epoch (informational).
    pub time_ms: u64,
    /// SS58 address (prefix 42) of the validator hotkey that signed.
    pub signer: String,
    /// `0x` + 128 lowercase hex digits: the 64-byte sr25519 signature.
    pub signature: String,
}

/// Whoever signs checkpoints: the validator's hotkey in production, a fixed test key in tests.
/// Injected, so this crate never loads a key (style.md, "Tiled logs": tessera's
/// `WithCheckpointSigner`).
pub trait CheckpointSigner {
    /// The signer's SS58 address (prefix 42).
    fn ss58(&self) -> String;
    /// An sr25519 signature with the `substrate` signing context over `message`.
    fn sign(&self, message: &[u8]) -> [u8; 64];
}

impl Checkpoint {
    /// The exact bytes the signature covers (module doc): five `\n`-terminated lines.
    pub fn signed_message(size: u64, head_hash: &Hash32, time_ms: u64, signer: &str) -> Vec<u8> {
        format!("albedo-ledger/v1 checkpoint\n{size}\n{}\n{time_ms}\n{signer}\n", head_hash.to_hex()).into_bytes()
    }

    /// Signs a checkpoint for a log of `size` entries whose last entry hashes to `head_hash`.
    pub fn sign(size: u64, head_hash: Hash32, time_ms: u64, signer: &dyn CheckpointSigner) -> Checkpoint {
        let ss58 = signer.ss58();
        let signature = signer.sign(&Checkpoint::signed_message(size, &head_hash, time_ms, &ss58));
        Checkpoint { size, head_hash, time_ms, signer: ss58, signature: format!("0x{}", hex::encode(signature)) }
    }

    /// Checks the signature against the public key in `signer`. A malformed signer or
    /// signature is [`Error::Checkpoint`]; a well-formed signature that does not verify (forged,
    /// or over other fields) is [`Error::BadSignature`] naming the signer.
    ///
    /// It does not check that the checkpoint matches any tiles: that is
    /// [`super::MirrorReader::entries`]'s job.
    pub fn verify_signature(&self) -> Result<(), Error> {
        let public = ss58_decode(&self.signer).ok_or_else(|| Error::Checkpoint {
            detail: format!("signer {:?} is not an SS58 address (prefix {SS58_PREFIX}) of a 32-byte key", self.signer),
        })?;
        let signature = self
            .signature
            .strip_prefix("0x")
            .filter(|h| h.len() == 128 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .ok_or_else(|| Error::Checkpoint {
                detail: format!("signature of {} is not 0x + 128 lowercase hex digits", self.signer),
            })?;
        let message = Checkpoint::signed_message(self.size, &self.head_hash, self.time_ms, &self.signer);
        if sr25519::verify(&sr25519::Signature(signature), message, &sr25519::PublicKey(public)) {
            Ok(())
        } else {
            Err(Error::BadSignature { signer: self.signer.clone() })
        }
    }

    /// The object stored at the checkpoint key: pretty JSON (two-space indent, fields in the
    /// order of the struct) and a final newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("a checkpoint always serializes");
        out.push(b'\n');
        out
    }

    /// Parses the checkpoint object. Checks its shape only; call [`Checkpoint::verify_signature`].
    pub fn from_json(bytes: &[u8]) -> Result<Checkpoint, Error> {
        serde_json::from_slice(bytes).map_err(|e| Error::Checkpoint { detail: format!("not a checkpoint object: {e}") })
    }
}

/// Checks that the log behind `newer` extends the log behind `older`: `newer.size ≥ older.size`
/// and entry `older.size − 1` of the newer log hashes to `older.head_hash` (so, links being
/// hashes, the newer log starts with exactly the older one).
///
/// `newer_entry_hash_at(seq)` gives the hash of entry `seq` in the newer log; it must come from
/// a log verified against `newer` (for instance, collected while streaming
/// [`super::MirrorReader::entries`]). [`super::MirrorReader::check_extends`] does the whole job
/// against a mirror, reading only the entries after `older.size − 1`. Signatures are not checked
/// here.
pub fn check_consistency(
    older: &Checkpoint,
    newer: &Checkpoint,
    newer_entry_hash_at: impl FnOnce(u64) -> Result<Hash32, Error>,
) -> Result<(), Error> {
    if newer.size < older.size {
        return Err(Error::Inconsistent {
            detail: format!(
                "the newer checkpoint has {} entries, fewer than the older one's {}",
                newer.size, older.size
            ),
        });
    }
    if older.size == 0 {
        return Ok(());
    }
    let seq = older.size - 1;
    let found = if newer.size == older.size { newer.head_hash } else { newer_entry_hash_at(seq)? };
    if found != older.head_hash {
        return Err(Error::Inconsistent {
            detail: format!(
                "seq {seq}: the newer log's entry hashes to {found}, the older checkpoint says {} (history was rewritten)",
                older.head_hash
            ),
        });
    }
    Ok(())
}

/// The SS58 address (prefix 42, as Bittensor writes hotkeys) of a 32-byte sr25519 public key.
pub fn ss58_encode(public_key: &[u8; 32]) -> String {
    let mut data = Vec::with_capacity(35);
    data.push(SS58_PREFIX);
    data.extend_from_slice(public_key);
    let checksum = ss58_checksum(&data);
    data.extend_from_slice(&checksum);
    bs58::encode(data).into_string()
}

/// The public key of an SS58 address with prefix 42 and a valid checksum; `None` otherwise
/// (other networks' prefixes included: a checkpoint signer is a Bittensor hotkey).
pub fn ss58_decode(address: &str) -> Option<[u8; 32]> {
    let data = bs58::decode(address).into_vec().ok()?;
    if data.len() != 35 || data[0] != SS58_PREFIX || ss58_checksum(&data[..33]) != data[33..] {
        return None;
    }
    data[1..33].try_into().ok()
}

/// The first 2 bytes of BLAKE2b-512(`"SS58PRE"` ‖ prefix ‖ key).
fn ss58_checksum(body: &[u8]) -> [u8; 2] {
    let hash = Blake2b512::new().chain_update(b"SS58PRE").chain_update(body).finalize();
    [hash[0], hash[1]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ss58_of_alice() {
        // //Alice's well-known public key and address (chain.md §11.4).
        let alice: [u8; 32] = hex::decode("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d")
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(ss58_encode(&alice), "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
        assert_eq!(ss58_decode("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"), Some(alice));
        assert_eq!(sr25519::dev::alice().public_key().0, alice);
        // Polkadot's prefix 0 and a broken checksum are refused.
        assert_eq!(ss58_decode("15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5"), None);
        assert_eq!(ss58_decode("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ"), None);
    }
}
