//! Shared test harness for Albedo's cross-crate and cross-process tests.
//!
//! Real servers (S3-compatible store, OCI registry, headless Chromium) are started per test on a
//! free loopback port, waited on until ready, and killed on drop, so nothing leaks between tests.

pub mod harness;
