//! The public mirror's format (design.md §3.4): the log as immutable tiles of entries plus a
//! signed checkpoint, laid out after the tiled transparency logs (C2SP tlog-tiles, Sunlight).
//!
//! ```text
//! <prefix>/ledger/v1/tile/<N>          256 entries (seq 256·N ..), each u32-BE length + bytes
//! <prefix>/ledger/v1/tile/<N>.p/<W>    a partial tile: the first W < 256 entries of tile N
//! <prefix>/ledger/v1/checkpoint        JSON {size, head_hash, time_ms, signer, signature}
//! ```
//!
//! - [`layout`] is the one place that maps seqs to object keys and back (no I/O).
//! - [`tile`] encodes and decodes a tile's bytes.
//! - [`checkpoint`] is the signed statement "the log has `size` entries and entry `size − 1`
//!   hashes to `head_hash`", signed with the validator's hotkey (sr25519).
//! - [`reader`] streams and verifies a whole mirror from any [`TileSource`], one tile in memory
//!   at a time.
//!
//! This module is pure format: no network. Uploading (tiles first, the checkpoint last) is the
//! write side's job; the only file read here is [`DirSource`]'s, a local mirror directory.

pub mod checkpoint;
pub mod layout;
pub mod reader;
pub mod tile;

pub use checkpoint::{Checkpoint, CheckpointSigner, check_consistency, ss58_decode, ss58_encode};
pub use layout::{TileRef, checkpoint_key, parse_key, partial_tile_key, tile_key, tiles_for};
pub use reader::{DirSource, MirrorEntries, MirrorReader, RawEntries, TileSource};
pub use tile::{decode_tile, encode_tile};

/// Entries in a full tile (C2SP tlog-tiles' width). A partial tile holds 1..=255.
pub const TILE_WIDTH: u64 = 256;
