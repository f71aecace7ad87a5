//! The auditor's library: read a ledger from any source, verify it, and re-derive what it claims.
//!
//! Architecture invariant: this crate never depends on `albedo` (commands), so an auditor's
//! build has no subxt and no axum. `albedo site build` uses [`write_site`] from here.

pub mod audit;
pub mod source;
pub mod traces;

use std::path::Path;

use anyhow::Context;

/// Writes every file of a rendered site under `out`, each through a temporary name and a
/// rename so a reader never sees half a file. Returns (files, bytes).
pub fn write_site(site: &albedo_site::Site, out: &Path) -> anyhow::Result<(usize, u64)> {
    let mut bytes = 0u64;
    for (rel, content) in &site.files {
        if rel.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..") {
            anyhow::bail!("the renderer produced an unsafe path {rel:?}");
        }
        let path = out.join(rel);
        let dir = path.parent().expect("a file path has a parent");
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = path.with_extension("albedo-tmp");
        std::fs::write(&tmp, content).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("renaming to {}", path.display()))?;
        bytes += content.len() as u64;
    }
    Ok((site.files.len(), bytes))
}
