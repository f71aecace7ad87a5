//! The library side of `albedo`: the modules integration tests and benches reach as
//! `albedo_commands::…`. The binary (`main.rs`) uses them through this crate.

pub mod adapters;
pub mod mirror;
