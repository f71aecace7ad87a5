//! Scoring: everything spec/determinism.md defines (the seed, the random stream, the sample
//! draw, A/B positions, the paired bootstrap) and everything spec/eval.md §8–§9 defines (judge
//! reply parsing, per-turn scores, aggregation, gates), ending in [`verdict::derive_verdict`],
//! the one function the eval server, the validator and `albedo-replay` all call.
//!
//! Pure: no I/O, no clock, no unseeded randomness; decisions use exact rationals.

pub mod bootstrap;
pub mod judge_reply;
pub mod position;
pub mod sample;
pub mod seed;
pub mod stream;
pub mod verdict;
