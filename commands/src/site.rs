//! `albedo site build`: streams a ledger once through the verifier into the views, renders
//! `dashboard.json` and the site, and writes them.
//!
//! Reading holds the store's writer lock (sled has no read-only mode): build from a stopped
//! validator's ledger, or from a copy. The validator publishes from its own process.

use std::path::Path;

use albedo_ledger::{Store, Verifier};
use albedo_projections::views::{Until, Views};
use anyhow::Context;

/// What a build wrote.
pub struct Built {
    pub files: usize,
    pub bytes: u64,
    pub entries: u64,
    pub head_hash: Option<String>,
}

/// Folds the ledger at `ledger` (verifying every link) up to `until` and writes the site to
/// `out` with `albedo_replay::write_site`, the writer `albedo-replay rebuild` uses too.
pub fn build(ledger: &Path, out: &Path, until: Option<Until>) -> anyhow::Result<Built> {
    let store = Store::open(ledger).with_context(|| format!("opening the ledger at {}", ledger.display()))?;
    let snapshot = store.snapshot();
    let mut verifier = Verifier::new();
    let entries = snapshot.entries(0).map(|entry| {
        let entry = entry?;
        verifier.check(&entry.bytes)
    });
    let views = Views::fold(entries, until).context("reading the ledger")?;
    drop(store);
    let site = albedo_site::render(&views);
    let (files, bytes) = albedo_replay::write_site(&site, out)?;
    Ok(Built {
        files,
        bytes,
        entries: views.head.map_or(0, |h| h.seq + 1),
        head_hash: views.head.map(|h| h.hash.to_hex()),
    })
}
