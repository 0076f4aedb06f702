//! Engine adapters (SPEC 7.1): one file per engine, each implementing [`EngineAdapter`].
//!
//! An adapter turns the plan's servers into engine files, commands and environment; the renderer
//! adds what every engine shares (GPU visibility, the config's env strings, placement, health
//! checks, logs). A new engine is one file here plus one arm in [`adapter`].

mod adapter;
mod sglang;
mod sim;
mod trtllm;
mod vllm;

pub use adapter::{EngineAdapter, adapter, worker_file};
pub(crate) use adapter::{pd_router_args, server_config, worker, worker_files};
