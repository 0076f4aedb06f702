//! The performance model: pure and synchronous, testable without a runtime.
//!
//! [`ServerShape`] turns a worker config and the profiles into limits (batch, token budget, KV
//! capacity) and a roofline iteration time; [`Engine`] is the continuous-batching scheduler of
//! one server in virtual time; [`cluster`] drives engines in a closed loop for tests and
//! what-if runs. Formulas and constants are described in `docs/simulator.md`.

pub mod cluster;
mod engine;
mod prefix;
mod shape;

pub use engine::{Emit, Engine, Iteration, Phase, SimRequest};
pub use shape::{Batch, KvBackend, Role, ServerShape};
