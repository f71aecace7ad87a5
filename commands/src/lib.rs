//! The library side of `albedo`: everything the binary (`main.rs`, CLI and glue) runs, and what
//! integration tests and benches reach as `albedo_commands::…`.

pub mod adapters;
pub mod config;
pub mod mirror;
pub mod model;
pub mod site;
pub mod wallet;
