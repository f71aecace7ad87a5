//! Link-by-link verification of a stream of entry bytes, shared by the store, the mirror
//! reader and `albedo-replay`.

use crate::{Envelope, Error, Hash32, store::Head};

/// Checks entries one after another: each must decode, carry the expected seq, and link to the
/// hash of the entry before it. It never re-encodes: the hash is over the bytes as given.
#[derive(Clone, Debug)]
pub struct Verifier {
    next_seq: u64,
    prev: Hash32,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier::new()
    }
}

impl Verifier {
    /// A verifier expecting entry 0.
    pub fn new() -> Verifier {
        Verifier { next_seq: 0, prev: Hash32::ZERO }
    }

    /// A verifier expecting the entry after `head`, which the caller has already verified.
    pub fn resume(head: Head) -> Verifier {
        Verifier { next_seq: head.seq + 1, prev: head.hash }
    }

    /// The seq the next entry must carry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The last entry verified so far, if any.
    pub fn head(&self) -> Option<Head> {
        (self.next_seq > 0).then(|| Head { seq: self.next_seq - 1, hash: self.prev })
    }

    /// Verifies the next entry's bytes; returns its envelope and hash.
    pub fn check(&mut self, bytes: &[u8]) -> Result<(Envelope, Hash32), Error> {
        let seq = self.next_seq;
        let env = Envelope::decode(seq, bytes)?;
        if env.seq != seq {
            return Err(Error::SeqMismatch { seq, found: env.seq });
        }
        if env.prev != self.prev {
            return Err(if seq == 0 {
                Error::BadGenesisLink { seq, found: env.prev }
            } else {
                Error::BrokenLink { seq, expected: self.prev, found: env.prev }
            });
        }
        let hash = Hash32::of(bytes);
        self.next_seq += 1;
        self.prev = hash;
        Ok((env, hash))
    }
}
