//! The mirror writer (design.md §3.4): copies the ledger to an object store as immutable tiles
//! plus a signed checkpoint, in the layout of `albedo_ledger::mirror`.
//!
//! [`sync`] is the one code path: a catch-up pass from the tile holding the mirror cursor to the
//! snapshot's head. There is no separate "normal" and "recovery" upload (sunlight's single
//! recovery path, style.md "Tiled logs"): a pass after a crash or an outage is the same pass.
//!
//! Order, and why a reader never sees a checkpoint whose entries are missing:
//! 1. full tiles, then the partial tile of the remainder, all **immutable**: a partial tile is
//!    `tile/<n>.p/<w>` and is never overwritten; a wider one later is a new key, and the older
//!    narrower one stays for readers of the older checkpoint;
//! 2. only when every tile is stored, the signed checkpoint (the one **mutable** object);
//! 3. the caller records the new size with `Store::set_mirror_cursor`.
//!
//! Crash windows (each leaves a state the next pass repairs by simply running again):
//! - **during the tile uploads**: some tiles of this pass are stored, the checkpoint is the old
//!   one, whose tiles are all still there (nothing is ever deleted or changed), and the cursor
//!   has not moved. The next pass re-puts every tile from the cursor's; those already stored
//!   are identical, so their puts are no-ops.
//! - **after the tiles, before the checkpoint**: as above; the extra tiles are invisible until a
//!   checkpoint names them. If the log grows before the next pass, that pass writes a wider
//!   partial under a new key, and the failed pass's partial stays behind, named by no
//!   checkpoint: an orphan. It is harmless (immutable, correct bytes, never read) and is the
//!   only object a failure can leave beyond what the checkpoints name.
//! - **after the checkpoint, before `set_mirror_cursor`**: the mirror is ahead of the cursor.
//!   The next pass re-puts the same tiles (no-ops) and signs a checkpoint of at least the same
//!   size and head: nothing is lost, nothing goes back.
//! - **an S3 outage** is the first window with an error instead of a crash: [`sync`] fails, the
//!   caller leaves the cursor alone, appends go on (they never wait for the mirror), and a
//!   later pass catches up.
//!
//! Memory: at most [`PARALLEL_UPLOADS`] encoded tiles are held at once, plus the entries of the
//! one tile being read; never the whole log. Entries are verified link by link on the way out,
//! so a mirror is never given an entry that does not chain to the one before it.

use std::future::poll_fn;
use std::task::Poll;

use albedo_ledger::mirror::{Checkpoint, CheckpointSigner, TileRef, checkpoint_key, encode_tile, tiles_for};
use albedo_ledger::{Hash32, Head, Snapshot, Store, Verifier};

use crate::adapters::object_store::{BoxFuture, ObjectStore, ObjectStoreError};

/// How many tile uploads run at once. Four keeps a link busy without holding many tiles.
pub const PARALLEL_UPLOADS: usize = 4;

/// What one pass did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncReport {
    /// The cursor the pass started from.
    pub from: u64,
    /// How many entries the mirror holds now: the caller records it with
    /// `Store::set_mirror_cursor`.
    pub size: u64,
    /// The tiles put in this pass, in order (a tile already stored with the same bytes counts:
    /// its put was a no-op).
    pub tiles: Vec<TileRef>,
    /// Bytes of those tiles.
    pub tile_bytes: u64,
    /// The checkpoint written, or `None` when there was nothing new (cursor at the head).
    pub checkpoint: Option<Checkpoint>,
}

/// Why a pass failed. The mirror's state is then one of the crash windows of the module doc,
/// and the cursor must stay where it was.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error("mirror: the cursor ({cursor}) is past the ledger's head (the snapshot holds {size} entries)")]
    CursorAhead { cursor: u64, size: u64 },

    #[error("mirror: reading the ledger: {0}")]
    Ledger(#[from] albedo_ledger::Error),

    #[error("mirror: {0}")]
    Store(#[from] ObjectStoreError),

    #[error("mirror: the ledger snapshot ends at {found} entries while its head says {size}")]
    ShortSnapshot { size: u64, found: u64 },

    #[error(
        "mirror: the published checkpoint {key} ({published}) is not extended by this ledger (size {size}, head \
         {head}); refusing to overwrite it"
    )]
    Diverged { key: String, published: String, size: u64, head: String },
}

/// One catch-up pass: uploads every tile from the one holding `cursor` up to `snapshot`'s head,
/// then the checkpoint signed by `signer` at `now_ms`. Returns the new size, which the caller
/// records with `Store::set_mirror_cursor` (see the module doc for order and crash windows).
///
/// Refuses to replace a published checkpoint that this ledger does not extend (a larger size,
/// or the same size with another head): the mirror never goes back or forks.
pub async fn sync(
    snapshot: &Snapshot,
    cursor: u64,
    objects: &dyn ObjectStore,
    prefix: &str,
    signer: &(dyn CheckpointSigner + Sync),
    now_ms: u64,
) -> Result<SyncReport, MirrorError> {
    let size = snapshot.len();
    if cursor > size {
        return Err(MirrorError::CursorAhead { cursor, size });
    }
    let mut report = SyncReport { from: cursor, size, tiles: Vec::new(), tile_bytes: 0, checkpoint: None };
    if cursor == size {
        return Ok(report);
    }
    let head_hash = snapshot.head().map_or(Hash32::ZERO, |h| h.hash);

    // Tiles holding an entry at or after the cursor: from the cursor's tile (full now, or a
    // wider partial) to the end.
    let tiles: Vec<TileRef> = tiles_for(size).into_iter().filter(|t| t.end_seq() > cursor).collect();
    let first = tiles.first().expect("cursor < size leaves at least one tile").first_seq();
    let mut verifier = match first.checked_sub(1) {
        None => Verifier::new(),
        Some(seq) => {
            let entry = snapshot.get(seq)?.ok_or(MirrorError::ShortSnapshot { size, found: seq })?;
            Verifier::resume(Head { seq, hash: entry.hash() })
        }
    };

    // Sliding window of uploads: each future owns its tile's bytes and borrows only the store.
    let mut next = tiles.iter().copied();
    let mut in_flight: Vec<BoxFuture<'_, Result<(TileRef, u64), ObjectStoreError>>> = Vec::new();
    loop {
        while in_flight.len() < PARALLEL_UPLOADS
            && let Some(tile) = next.next()
        {
            let bytes = read_tile(snapshot, tile, &mut verifier, size)?;
            let key = tile.key(prefix);
            in_flight.push(Box::pin(async move {
                objects.put_immutable(&key, &bytes).await.map(|()| (tile, bytes.len() as u64))
            }));
        }
        if in_flight.is_empty() {
            break;
        }
        // A failed upload ends the pass; the others are dropped (cancelled) with it, which is the
        // "during the tile uploads" crash window.
        let (tile, bytes) = next_done(&mut in_flight).await?;
        report.tiles.push(tile);
        report.tile_bytes += bytes;
    }
    report.tiles.sort_by_key(|t| t.n);
    if verifier.head().map(|h| h.hash) != snapshot.head().map(|h| h.hash) {
        return Err(MirrorError::ShortSnapshot { size, found: verifier.next_seq() });
    }

    // Every tile is stored: now, and only now, the checkpoint.
    let key = checkpoint_key(prefix);
    refuse_rollback(objects, &key, size, head_hash).await?;
    let checkpoint = Checkpoint::sign(size, head_hash, now_ms, signer);
    objects.put_mutable(&key, &checkpoint.to_json()).await?;
    report.checkpoint = Some(checkpoint);
    Ok(report)
}

/// [`sync`] from the store's own cursor, then records the new cursor. For one-shot use (the
/// `albedo mirror sync` command); the validator runs [`sync`] on a snapshot beside its writer
/// and records the cursor itself.
pub async fn catch_up(
    store: &Store,
    objects: &dyn ObjectStore,
    prefix: &str,
    signer: &(dyn CheckpointSigner + Sync),
    now_ms: u64,
) -> Result<SyncReport, MirrorError> {
    let snapshot = store.snapshot();
    let cursor = store.mirror_cursor()?;
    let report = sync(&snapshot, cursor, objects, prefix, signer, now_ms).await?;
    store.set_mirror_cursor(report.size)?;
    Ok(report)
}

/// Reads tile `tile`'s entries from the snapshot, checks each links to the one before, and
/// encodes the tile.
fn read_tile(snapshot: &Snapshot, tile: TileRef, verifier: &mut Verifier, size: u64) -> Result<Vec<u8>, MirrorError> {
    let mut entries = Vec::with_capacity(tile.width as usize);
    // A fresh range per tile: no sled iterator is held across an await.
    for entry in snapshot.entries(tile.first_seq()).take(tile.width as usize) {
        let entry = entry?;
        verifier.check(&entry.bytes)?;
        entries.push(entry);
    }
    if (entries.len() as u64) < tile.width {
        return Err(MirrorError::ShortSnapshot { size, found: tile.first_seq() + entries.len() as u64 });
    }
    Ok(encode_tile(entries.iter().map(|e| &e.bytes[..])))
}

/// Waits for any one of the futures to finish, removes it, and returns its output.
async fn next_done<T>(in_flight: &mut Vec<BoxFuture<'_, T>>) -> T {
    poll_fn(|cx| {
        for i in 0..in_flight.len() {
            if let Poll::Ready(output) = in_flight[i].as_mut().poll(cx) {
                drop(in_flight.swap_remove(i));
                return Poll::Ready(output);
            }
        }
        Poll::Pending
    })
    .await
}

/// Fails unless the published checkpoint (if any) could be one this ledger extends: at most
/// `size` entries and, at the same size, the same head. A smaller published checkpoint is the
/// normal case; when its size is at least the cursor (it always is: the cursor moves only after
/// a checkpoint is stored), its entries lie in tiles this pass just confirmed byte for byte, as
/// immutable puts fail on any difference.
async fn refuse_rollback(objects: &dyn ObjectStore, key: &str, size: u64, head: Hash32) -> Result<(), MirrorError> {
    let Some(bytes) = objects.get(key).await? else { return Ok(()) };
    let diverged =
        |published: String| MirrorError::Diverged { key: key.to_owned(), published, size, head: head.to_hex() };
    let published = Checkpoint::from_json(&bytes).map_err(|e| diverged(format!("unreadable: {e}")))?;
    if published.size > size || (published.size == size && published.head_hash != head) {
        return Err(diverged(format!("size {}, head {}", published.size, published.head_hash.to_hex())));
    }
    Ok(())
}
