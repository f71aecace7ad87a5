//! Seq ↔ object key: the only place that knows where an entry lives in the mirror. No I/O.
//!
//! A log of `size` entries is `size / 256` full tiles (`tile/<N>`, N from 0) followed, when
//! `size % 256 ≠ 0`, by one partial tile `tile/<N>.p/<W>` holding the first `W` entries of tile
//! N. Tile N holds seqs `256·N .. 256·N + width`. N and W are plain decimal with no leading
//! zeros, so every tile has exactly one key. A prefix (say `albedo`) puts the whole layout under
//! `<prefix>/`; an empty prefix puts it at the root. A trailing `/` on the prefix is ignored.

use super::TILE_WIDTH;

/// `<prefix>/ledger/v1`, or `ledger/v1` for an empty prefix.
fn root(prefix: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() { "ledger/v1".to_string() } else { format!("{prefix}/ledger/v1") }
}

/// The key of full tile `n` (entries `256·n .. 256·n + 256`).
pub fn tile_key(prefix: &str, n: u64) -> String {
    format!("{}/tile/{n}", root(prefix))
}

/// The key of partial tile `n` holding its first `width` entries.
///
/// Panics unless `1 ≤ width < 256`: a full tile has [`tile_key`], and an empty one has no key.
pub fn partial_tile_key(prefix: &str, n: u64, width: u64) -> String {
    assert!((1..TILE_WIDTH).contains(&width), "a partial tile holds 1..=255 entries, not {width}");
    format!("{}/tile/{n}.p/{width}", root(prefix))
}

/// The key of the checkpoint (the one mutable object of the mirror).
pub fn checkpoint_key(prefix: &str) -> String {
    format!("{}/checkpoint", root(prefix))
}

/// One tile: its index and how many entries it holds (256 = full, 1..=255 = partial).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileRef {
    pub n: u64,
    pub width: u64,
}

impl TileRef {
    /// The tile's object key: [`tile_key`] when full, [`partial_tile_key`] otherwise.
    pub fn key(&self, prefix: &str) -> String {
        if self.width == TILE_WIDTH { tile_key(prefix, self.n) } else { partial_tile_key(prefix, self.n, self.width) }
    }

    /// The seq of the tile's first entry.
    pub fn first_seq(&self) -> u64 {
        self.n * TILE_WIDTH
    }

    /// One past the seq of the tile's last entry.
    pub fn end_seq(&self) -> u64 {
        self.first_seq() + self.width
    }

    /// The tile holding `seq` in a log of `size` entries (`seq < size`), full or partial.
    pub fn containing(seq: u64, size: u64) -> TileRef {
        assert!(seq < size, "seq {seq} is not in a log of {size} entries");
        let n = seq / TILE_WIDTH;
        TileRef { n, width: (size - n * TILE_WIDTH).min(TILE_WIDTH) }
    }
}

/// The tiles of a log of `size` entries, in order: full tiles `0 .. size / 256`, then the
/// partial tile if `size % 256 ≠ 0`. Empty for size 0.
pub fn tiles_for(size: u64) -> Vec<TileRef> {
    let full = size / TILE_WIDTH;
    let mut tiles: Vec<TileRef> = (0..full).map(|n| TileRef { n, width: TILE_WIDTH }).collect();
    if !size.is_multiple_of(TILE_WIDTH) {
        tiles.push(TileRef { n: full, width: size % TILE_WIDTH });
    }
    tiles
}

/// The inverse of [`tile_key`] and [`partial_tile_key`] under `prefix`. `None` for any other
/// key, including non-canonical spellings (`tile/007`, `tile/3.p/256`, `tile/3.p/0`) and tiles
/// whose first seq would not fit in a u64.
pub fn parse_key(prefix: &str, key: &str) -> Option<TileRef> {
    let rest = key.strip_prefix(&root(prefix))?.strip_prefix("/tile/")?;
    let (n, width) = match rest.split_once(".p/") {
        Some((n, w)) => (decimal(n)?, decimal(w)?),
        None => (decimal(rest)?, TILE_WIDTH),
    };
    if !(1..=TILE_WIDTH).contains(&width) || n > (u64::MAX - width) / TILE_WIDTH {
        return None;
    }
    let tile = TileRef { n, width };
    (tile.key(prefix) == key).then_some(tile)
}

/// Digits only, no leading zero (except "0" itself), fits a u64.
fn decimal(text: &str) -> Option<u64> {
    let canonical =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containing_matches_tiles_for() {
        for size in [1, 255, 256, 257, 512, 513, 1000] {
            let tiles = tiles_for(size);
            for seq in 0..size {
                let t = TileRef::containing(seq, size);
                assert!(tiles.contains(&t) && (t.first_seq()..t.end_seq()).contains(&seq), "{seq}/{size}");
            }
        }
    }
}
