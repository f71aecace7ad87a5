//! Albedo's ledger: the append-only, hash-linked event log that every other part is a view of.
//!
//! - [`Event`] lists every state change the validator can record (design.md §3.2); each names
//!   its idempotency key ([`Event::idempotency_key`]).
//! - [`Envelope`] wraps an event with its position (`seq`), the hash of the previous entry
//!   (`prev`), the writer's clock and the chain head it knew.
//! - Canonical encoding is MessagePack with named fields ([`Envelope::encode`]); the entry hash
//!   is SHA-256 over the exact stored bytes and is never computed from a re-encoding.
//! - [`Store`] keeps the log in sled (trees `log`, `keys`, `meta`), appends durably, verifies
//!   the chain when it opens, and hands out read-only [`Snapshot`]s.
//! - [`Verifier`] checks a stream of entry bytes link by link; the store, the mirror reader and
//!   `albedo-replay` all use it.
//! - [`mirror`] is the public mirror's format: tiles of entries, the signed checkpoint, and a
//!   reader that verifies a whole mirror from any source (design.md §3.4).
//!
//! Architecture invariant: this crate knows nothing of projections, the chain or the network.
//! It stores facts; it never decides.

mod envelope;
mod error;
pub mod event;
mod hash;
pub mod mirror;
mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
mod verify;

pub use envelope::{ENTRY_VERSION, Envelope};
pub use error::Error;
pub use event::{Event, IdempotencyKey};
pub use hash::Hash32;
pub use store::{Appended, Draft, Entry, Head, Snapshot, Store};
pub use verify::Verifier;
