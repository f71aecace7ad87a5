//! The pure core of Albedo: everything that decides, and nothing that does I/O.
//!
//! Architecture invariant: this crate reads no file, no socket, no environment variable and no
//! clock. Text comes in, values or errors go out. The validator, the eval server and
//! `albedo-replay` all call the same functions here, so the same ledger gives the same answers.
//!
//! Today it holds the competition's configuration model ([`config`]); the state fold, the
//! decisions and scoring land here next (issue 4).

pub mod config;
pub mod dashboard;
pub mod decide;
#[cfg(feature = "testkit")]
pub mod fixture;
pub mod hygiene;
pub mod scoring;
pub mod ss58;
pub mod state;
pub mod views;
