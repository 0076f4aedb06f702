//! Test support shared by the crates' property tests (a dev-dependency only; nothing here ships).
//!
//! - [`mutate`]: byte-level mutations of real inputs for the garbage-in tests of every parser
//!   (`docs/reliability.md`).

pub mod mutate;
