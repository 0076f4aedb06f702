//! servebench sim: a GPU-free serving engine.
//!
//! It serves the OpenAI-compatible API the way a real serving stack does from the outside, in the
//! roles of an aggregated server, a context (prefill) server, a generation (decode) server and a
//! disaggregated router, with timings from a performance model of the worker config on a GPU
//! profile, and injectable faults. See `docs/simulator.md`.
//!
//! - [`model`]: the performance model, pure and synchronous (no runtime, no I/O).
//! - [`server`]: the async HTTP shell (tokio + hyper) around it: [`server::SimServer`].
//! - [`cli`]: `servebench sim serve|router` arguments and entry point.
//! - [`profile`], [`worker`]: GPU/model profiles and the typed view of worker configs.
//! - [`fault`], [`log`], [`metrics`]: fault injection, the engine-style log, `/metrics`.
//!
//! It depends on no other servebench crate (it is the test double of a serving engine), never
//! installs a tracing subscriber, and binds only the address it is given.
//!
//! ```
//! use servebench_sim::model::{cluster, Role, ServerShape};
//! use servebench_sim::{profile, worker::WorkerConfig};
//!
//! let cfg = WorkerConfig::parse("tensor_parallel_size: 8\nmax_batch_size: 64\n", "gen.yaml").unwrap();
//! let shape = ServerShape::new(Role::Agg, &cfg, profile::resolve("llama-3-70b", "H100", None).unwrap());
//! let w = cluster::Workload { concurrency: 8, requests: 8, input_tokens: 128, output_tokens: 16 };
//! let s = cluster::simulate(&cluster::Topology::Agg { shape, servers: 1 }, w, 0);
//! assert!(s.mean_ttft_s > 0.0 && s.mean_tpot_s > 0.0);
//! ```

mod api;
pub mod cli;
pub mod fault;
pub mod log;
pub mod metrics;
pub mod model;
pub mod profile;
pub mod rng;
pub mod server;
pub mod worker;

pub use server::{Exit, RouterConfig, ServeConfig, SimServer};
