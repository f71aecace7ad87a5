//! Streaming verification of a mirror from any source: the checkpoint first (JSON and
//! signature), then every entry in order, one tile in memory at a time, each through
//! [`Verifier`]; after the last entry the chain's head must be the checkpoint's.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use super::tile::frame_tile;
use super::{Checkpoint, TileRef, checkpoint_key};
use crate::{Envelope, Error, Hash32, Head, Verifier};

/// Where a mirror's objects are read from: a local directory, an S3 bucket, an HTTPS site.
pub trait TileSource {
    /// The object's bytes; `Ok(None)` when there is no such object; `Err` (a message) for
    /// transport trouble, which the reader reports as [`Error::Source`] naming the key.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
}

/// A mirror copied to a local directory: an object's key is its path relative to the root.
#[derive(Clone, Debug)]
pub struct DirSource {
    root: PathBuf,
}

impl DirSource {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirSource { root: root.into() }
    }
}

impl TileSource for DirSource {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        match std::fs::read(self.root.join(key.trim_start_matches('/'))) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Objects held in memory, by key (tests, and mirrors fetched some other way).
impl TileSource for BTreeMap<String, Vec<u8>> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(BTreeMap::get(self, key).cloned())
    }
}

/// A mirror whose checkpoint has been read and its signature checked. The entries are checked
/// as they are streamed.
pub struct MirrorReader<'a> {
    source: &'a dyn TileSource,
    prefix: String,
    checkpoint: Checkpoint,
}

impl<'a> MirrorReader<'a> {
    /// Reads and checks the checkpoint under `prefix`: it must parse, a checkpoint of size 0
    /// must carry the zero hash, it must be signed by `expected_signer` when that is given
    /// ([`Error::UnexpectedSigner`]), and its signature must verify.
    pub fn open(
        source: &'a dyn TileSource,
        prefix: &str,
        expected_signer: Option<&str>,
    ) -> Result<MirrorReader<'a>, Error> {
        let key = checkpoint_key(prefix);
        let bytes = fetch(source, &key)?
            .ok_or_else(|| Error::Checkpoint { detail: format!("no checkpoint at {key} (nothing mirrored yet?)") })?;
        let checkpoint = Checkpoint::from_json(&bytes)
            .map_err(|e| Error::Checkpoint { detail: format!("{key}: {}", inner_detail(e)) })?;
        if checkpoint.size == 0 && checkpoint.head_hash != Hash32::ZERO {
            return Err(Error::Checkpoint { detail: format!("{key}: size is 0 but head_hash is not the zero hash") });
        }
        if let Some(expected) = expected_signer
            && expected != checkpoint.signer
        {
            return Err(Error::UnexpectedSigner { expected: expected.to_string(), found: checkpoint.signer });
        }
        checkpoint.verify_signature()?;
        Ok(MirrorReader { source, prefix: prefix.to_string(), checkpoint })
    }

    /// The checkpoint, signature checked (its entries are checked by streaming them).
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// Streams every entry in order, each checked by [`Verifier`] (decodes, carries its seq,
    /// links to its predecessor); after the last one, the chain's head must be the checkpoint's
    /// (size, head_hash). Yields each envelope with its entry hash. After an error it ends.
    pub fn entries(&self) -> MirrorEntries<'a> {
        MirrorEntries(self.cursor(Verifier::new()))
    }

    /// The same stream as [`MirrorReader::entries`], verified the same way, yielding each
    /// entry's seq and exact stored bytes (to rebuild a sled ledger, or to print).
    pub fn raw_entries(&self) -> RawEntries<'a> {
        RawEntries(self.cursor(Verifier::new()))
    }

    /// Checks that this mirror's log extends the log `older` (a checkpoint the caller already
    /// trusts, e.g. the last one it verified): `older.size ≤ size`, and the entries from
    /// `older.size` on, checked link by link starting from `older.head_hash`, lead to this
    /// checkpoint's head. Reads only the tiles from the one holding `older.size` on. Entries
    /// before that are not read: this proves consistency of the two checkpoints, while
    /// [`MirrorReader::entries`] proves this log itself is well-formed.
    pub fn check_extends(&self, older: &Checkpoint) -> Result<(), Error> {
        if older.size >= self.checkpoint.size {
            // Nothing to stream: equal sizes must have equal heads, and a shrink is refused.
            return super::check_consistency(older, &self.checkpoint, |_| unreachable!("same size"));
        }
        if older.size == 0 {
            return Ok(());
        }
        let from = Head { seq: older.size - 1, hash: older.head_hash };
        let mut cursor = self.cursor(Verifier::resume(from));
        while let Some(step) = cursor.next_entry() {
            match step {
                Ok(_) => {}
                Err(Error::BrokenLink { seq, found, .. }) if seq == older.size => {
                    return Err(Error::Inconsistent {
                        detail: format!(
                            "seq {}: the older checkpoint's head is {}, but in this log seq {seq} links to {found} \
                             (history was rewritten)",
                            seq - 1,
                            older.head_hash
                        ),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn cursor(&self, verifier: Verifier) -> Cursor<'a> {
        Cursor {
            source: self.source,
            prefix: self.prefix.clone(),
            size: self.checkpoint.size,
            head_hash: self.checkpoint.head_hash,
            verifier,
            tile: Vec::new(),
            spans: Vec::new(),
            pos: 0,
            framing: None,
            done: false,
        }
    }
}

/// Verified entries of a mirror: see [`MirrorReader::entries`].
pub struct MirrorEntries<'a>(Cursor<'a>);

impl Iterator for MirrorEntries<'_> {
    type Item = Result<(Envelope, Hash32), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.0.next_entry()?.map(|(_, env, hash)| (env, hash)))
    }
}

/// Verified entries' seqs and stored bytes: see [`MirrorReader::raw_entries`].
pub struct RawEntries<'a>(Cursor<'a>);

impl Iterator for RawEntries<'_> {
    type Item = Result<(u64, Vec<u8>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let cursor = &mut self.0;
        Some(cursor.next_entry()?.map(|(span, env, _)| (env.seq, cursor.tile[span].to_vec())))
    }
}

/// One verified entry: its byte range in the current tile, its envelope and its hash.
type Verified = (Range<usize>, Envelope, Hash32);

/// The shared walk: holds one tile and the verifier, fetches the next tile when the current
/// one is used up, and checks the head at the end.
struct Cursor<'a> {
    source: &'a dyn TileSource,
    prefix: String,
    /// The checkpoint's size and head: where the walk ends and what it must end at.
    size: u64,
    head_hash: Hash32,
    verifier: Verifier,
    /// The current tile's bytes and the byte ranges of the entries it framed; `pos` indexes the
    /// next entry. A framing error is reported once the framed entries have been verified.
    tile: Vec<u8>,
    spans: Vec<Range<usize>>,
    pos: usize,
    framing: Option<Error>,
    done: bool,
}

impl Cursor<'_> {
    fn next_entry(&mut self) -> Option<Result<Verified, Error>> {
        if self.done {
            return None;
        }
        let step = self.step();
        if !matches!(step, Some(Ok(_))) {
            self.done = true;
        }
        step
    }

    fn step(&mut self) -> Option<Result<Verified, Error>> {
        let seq = self.verifier.next_seq();
        if self.pos >= self.spans.len() {
            if let Some(e) = self.framing.take() {
                return Some(Err(e));
            }
            if seq >= self.size {
                return self.check_head().err().map(Err);
            }
            if let Err(e) = self.load_tile(seq) {
                return Some(Err(e));
            }
            if self.pos >= self.spans.len() {
                return Some(Err(self.framing.take().expect("framing stops short only with an error")));
            }
        }
        let span = self.spans[self.pos].clone();
        self.pos += 1;
        Some(self.verifier.check(&self.tile[span.clone()]).map(|(env, hash)| (span, env, hash)))
    }

    /// Fetches and frames the tile holding `seq`, positioned at `seq`.
    fn load_tile(&mut self, seq: u64) -> Result<(), Error> {
        let tile = TileRef::containing(seq, self.size);
        let key = tile.key(&self.prefix);
        self.tile = fetch(self.source, &key)?.ok_or_else(|| Error::MissingTile { key: key.clone() })?;
        let (spans, framing) = frame_tile(&self.tile, tile.first_seq(), tile.width);
        self.spans = spans;
        self.framing = framing.map(|e| match e {
            Error::Tile { seq, detail } => Error::Tile { seq, detail: format!("{key}: {detail}") },
            other => other,
        });
        self.pos = (seq - tile.first_seq()) as usize;
        Ok(())
    }

    /// After the last entry: the chain's head must be the checkpoint's.
    fn check_head(&self) -> Result<(), Error> {
        match self.verifier.head() {
            Some(head) if head.hash != self.head_hash => Err(Error::HeadMismatch {
                seq: head.seq,
                detail: format!(
                    "the mirror's last entry hashes to {}, but the checkpoint's head_hash is {}",
                    head.hash, self.head_hash
                ),
            }),
            _ => Ok(()),
        }
    }
}

fn fetch(source: &dyn TileSource, key: &str) -> Result<Option<Vec<u8>>, Error> {
    source.get(key).map_err(|detail| Error::Source { key: key.to_string(), detail })
}

fn inner_detail(e: Error) -> String {
    match e {
        Error::Checkpoint { detail } => detail,
        other => other.to_string(),
    }
}
