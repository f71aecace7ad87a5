//! `dashboard.json` and the static HTML site, rendered from the projections of the ledger.
//!
//! Architecture invariant: output is a pure function of the ledger and the pinned config; no
//! clock, no environment, sorted maps, stable float formatting.
//!
//! Not built yet: this crate is an empty placeholder in the workspace map until issue 5 fills it.
//! It exports nothing, so nothing can mistake it for a working renderer.
