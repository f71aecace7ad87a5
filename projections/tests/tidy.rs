//! House rule: the pure core depends on nothing that does I/O (design.md §2). This test fails
//! if projections/Cargo.toml gains such a dependency.

const FORBIDDEN: [&str; 14] = [
    "tokio",
    "sled",
    "reqwest",
    "hyper",
    "axum",
    "subxt",
    "aws-sdk-s3",
    "aws-config",
    "arrow",
    "parquet",
    "tracing-subscriber",
    "albedo-site",
    "albedo-replay",
    "albedo",
];

#[test]
fn projections_has_no_io_dependency() {
    let manifest = include_str!("../Cargo.toml");
    let mut section = "";
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if section != "[dependencies]" {
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or("");
        assert!(!FORBIDDEN.contains(&name), "projections depends on `{name}`: the core must stay pure");
    }
}

#[test]
fn the_tidy_check_reads_the_dependencies_section() {
    // The check would pass vacuously if it never saw the section: make sure it sees a known dep.
    let manifest = include_str!("../Cargo.toml");
    assert!(manifest.contains("[dependencies]\nalbedo-ledger.workspace = true"));
}
