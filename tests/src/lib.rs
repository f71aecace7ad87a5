//! Shared test harness for Albedo's cross-crate and cross-process tests.
//!
//! Real servers (S3-compatible store, OCI registry, headless Chromium) are started per test on a
//! free loopback port, waited on until ready, and killed on drop, so nothing leaks between tests.

pub mod harness;

/// Every file under `dir`, by '/'-separated relative path: for comparing two built sites (or
/// mirrors) byte for byte.
pub fn read_tree(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}
