//! Adapters to the outside world (design.md §6): each is one small trait with a written contract
//! and its implementations, so the rest of the write side never names a vendor SDK.
//!
//! - [`object_store`]: the object store (S3-compatible bucket, or a local directory) the mirror
//!   and the publishers write to.

/// The object store lives in its own crate (`albedo-objectstore`), shared with `albedo-replay`.
pub use albedo_objectstore as object_store;
