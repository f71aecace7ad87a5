//! The envelope around every event, and the canonical encoding (design.md §3.1).

use serde::{Deserialize, Serialize};

use crate::{Error, Event, Hash32};

/// The entry format this build writes and reads. Bumped only for a change of meaning in the
/// envelope or of an event kind; adding an optional field or a new kind is not such a change.
pub const ENTRY_VERSION: u32 = 1;

/// One ledger entry. Encoded with [`Envelope::encode`]; its hash is SHA-256 over exactly the
/// stored bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Entry format version ([`ENTRY_VERSION`]).
    pub v: u32,
    /// Position in the log, contiguous from 0.
    pub seq: u64,
    /// SHA-256 of the previous entry's stored bytes; zeros for seq 0.
    pub prev: Hash32,
    /// The writer's wall clock at append, in ms since the UNIX epoch. Informational: decisions
    /// that need a time take it from an event field, never from a reader's clock.
    pub time_ms: u64,
    /// The chain head the writer knew at append, if any.
    pub block: Option<u64>,
    pub event: Event,
}

#[derive(Deserialize)]
struct VersionOnly {
    v: u64,
}

impl Envelope {
    /// The canonical encoding: MessagePack with named fields, so any language can decode an
    /// entry without our structs.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        rmp_serde::to_vec_named(self).map_err(|e| Error::Encode(e.to_string()))
    }

    /// Decodes the bytes of the entry expected at `seq` (the seq is used only to name the entry
    /// in errors; checking it against the envelope is [`crate::Verifier`]'s job).
    ///
    /// Unknown fields are ignored. An entry of a newer format version is refused with
    /// [`Error::UnsupportedVersion`] rather than half-understood.
    pub fn decode(seq: u64, bytes: &[u8]) -> Result<Envelope, Error> {
        match rmp_serde::from_slice::<Envelope>(bytes) {
            Ok(env) if env.v == ENTRY_VERSION => Ok(env),
            Ok(env) => Err(Error::UnsupportedVersion { seq, version: env.v.into(), supported: ENTRY_VERSION }),
            Err(e) => match rmp_serde::from_slice::<VersionOnly>(bytes) {
                // A newer writer's entry may fail to decode because of a kind we don't know yet:
                // say so instead of reporting garbage.
                Ok(VersionOnly { v }) if v > ENTRY_VERSION.into() => {
                    Err(Error::UnsupportedVersion { seq, version: v, supported: ENTRY_VERSION })
                }
                _ => Err(Error::Undecodable { seq, reason: e.to_string() }),
            },
        }
    }

    /// SHA-256 of stored entry bytes.
    pub fn hash_bytes(bytes: &[u8]) -> Hash32 {
        Hash32::of(bytes)
    }
}
