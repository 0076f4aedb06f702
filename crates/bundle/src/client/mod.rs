//! Client adapters (SPEC 7.2): one file per benchmark client, each implementing
//! [`ClientAdapter`]. The renderer runs the client once per concurrency point and repeat and
//! appends `Benchmark with concurrency <C> done` to `6_bench.log` after each run.

mod adapter;
mod aiperf;
mod builtin;
mod sglang_bench;
mod trtllm_bench;
mod vllm_bench;

pub use adapter::{ClientAdapter, Dataset, Run, adapter};
pub(crate) use adapter::{
    all_percentile_metrics, fixed_output, load, push, random_lengths, save_result,
};
