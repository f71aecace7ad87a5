//! A tile's bytes: for each entry in seq order, its length as a u32 big-endian followed by the
//! entry's stored bytes, exactly as hashed. Nothing else: no header, no padding, no trailer. The
//! tile's key says which seqs and how many entries it holds ([`super::layout`]).

use std::ops::Range;

use crate::Error;

/// Encodes entries (their stored bytes, in seq order) as one tile.
///
/// Panics if an entry is 4 GiB or larger (its length does not fit the u32 prefix); ledger
/// entries are a few KiB.
pub fn encode_tile<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        let len = u32::try_from(entry.len()).expect("a ledger entry is smaller than 4 GiB");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    out
}

/// Splits a tile holding seqs `first_seq .. first_seq + width` into its entries' bytes.
///
/// The tile must hold exactly `width` entries and nothing after them. Errors are
/// [`Error::Tile`] naming the seq where the bytes stop making sense: the entry whose length
/// prefix or body is cut short, the first missing entry, the seq an extra entry would have, or
/// the last entry when stray bytes follow it. It checks framing only: whether each entry is the
/// right one is [`crate::Verifier`]'s job.
pub fn decode_tile(bytes: &[u8], first_seq: u64, width: u64) -> Result<Vec<&[u8]>, Error> {
    match frame_tile(bytes, first_seq, width) {
        (spans, None) => Ok(spans.into_iter().map(|span| &bytes[span]).collect()),
        (_, Some(e)) => Err(e),
    }
}

/// [`decode_tile`]'s framing, without giving up at the first problem: the byte ranges of the
/// entries it could frame (at most `width`), and the error that stopped it, if any. The reader
/// verifies the framed entries before reporting the error, so a tile with an entry removed or
/// duplicated is reported at the seq where the wrong entry sits, not at the tile's end.
pub(super) fn frame_tile(bytes: &[u8], first_seq: u64, width: u64) -> (Vec<Range<usize>>, Option<Error>) {
    let mut spans = Vec::with_capacity(width.min(super::TILE_WIDTH) as usize);
    let mut at = 0;
    let length_at = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")));
    let err = |seq: u64, detail: String| Some(Error::Tile { seq, detail });
    while (spans.len() as u64) < width {
        let seq = first_seq + spans.len() as u64;
        let left = bytes.len() - at;
        if left == 0 {
            let detail =
                format!("the tile ends after {} entries but should hold {width}: this entry is missing", spans.len());
            return (spans, err(seq, detail));
        }
        let Some(len) = length_at(at) else {
            return (spans, err(seq, format!("the tile ends inside the entry's length prefix ({left} of 4 bytes)")));
        };
        let len = len as usize;
        if left - 4 < len {
            let detail =
                format!("the entry is truncated: its length prefix says {len} bytes, the tile has {} left", left - 4);
            return (spans, err(seq, detail));
        }
        spans.push(at + 4..at + 4 + len);
        at += 4 + len;
    }
    let left = bytes.len() - at;
    if left == 0 {
        return (spans, None);
    }
    // Say "extra entry" when the leftover frames as one, so a duplicated entry reads as such.
    let seq = first_seq + width;
    let error = if length_at(at).is_some_and(|len| len as usize <= left - 4) {
        err(seq, format!("the tile should end before this seq but holds more than {width} entries"))
    } else {
        err(seq.saturating_sub(1), format!("{left} trailing bytes after this entry, the tile's last"))
    };
    (spans, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_tile_of_width_zero_is_empty() {
        assert!(decode_tile(&[], 0, 0).unwrap().is_empty());
        assert!(encode_tile(std::iter::empty()).is_empty());
    }

    #[test]
    fn framing_keeps_what_it_could_frame() {
        let tile = encode_tile([&b"ab"[..], b"cde"]);
        let (spans, e) = frame_tile(&tile[..tile.len() - 1], 10, 2);
        assert_eq!(spans, vec![4..6]);
        assert!(e.unwrap().to_string().starts_with("seq 11: "));
    }
}
