//! The rendering arguments `render` and `run` share, turned into [`RenderOptions`]; the
//! per-case validate -> plan -> render step itself is `servebench_suite::prepare`.

use clap::{Args, ValueEnum};
use servebench_bundle::RenderOptions;
use servebench_config::model::Engine;
use servebench_launch::Client;

use crate::suite::Loaded;

/// Engine override on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// TensorRT-LLM.
    Trtllm,
    /// vLLM.
    Vllm,
    /// SGLang.
    Sglang,
    /// The built-in simulator.
    Sim,
}

impl From<EngineArg> for Engine {
    fn from(e: EngineArg) -> Self {
        match e {
            EngineArg::Trtllm => Engine::Trtllm,
            EngineArg::Vllm => Engine::Vllm,
            EngineArg::Sglang => Engine::Sglang,
            EngineArg::Sim => Engine::Sim,
        }
    }
}

/// Benchmark client on the command line (SPEC 7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientArg {
    /// The built-in load generator.
    Builtin,
    /// Upstream's `benchmark_serving`.
    TrtllmBenchServing,
    /// `vllm bench serve`.
    VllmBenchServe,
    /// `python -m sglang.bench_serving`.
    SglangBenchServing,
    /// NVIDIA AIPerf.
    Aiperf,
}

impl From<ClientArg> for Client {
    fn from(c: ClientArg) -> Self {
        match c {
            ClientArg::Builtin => Client::Builtin,
            ClientArg::TrtllmBenchServing => Client::TrtllmBenchServing,
            ClientArg::VllmBenchServe => Client::VllmBenchServe,
            ClientArg::SglangBenchServing => Client::SglangBenchServing,
            ClientArg::Aiperf => Client::Aiperf,
        }
    }
}

/// How bundles are rendered: the options `render` and `run` share.
#[derive(Debug, Args)]
pub struct BundleArgs {
    /// Run every selected config on this engine instead of its own (`sim` runs anything).
    #[arg(long, value_enum)]
    engine: Option<EngineArg>,
    /// Benchmark client; default: the config's `benchmark.client`, else the engine's.
    #[arg(long, value_enum)]
    client: Option<ClientArg>,
    /// Simulator time scale (wall seconds per simulated second) [default: 0.5 for `run` with the
    /// local executor, so simulated timings look real and the suite takes about half a minute].
    #[arg(long, value_name = "X")]
    sim_time_scale: Option<f64>,
    /// Do not check that dataset files exist here (they exist on the cluster).
    #[arg(long)]
    no_dataset_check: bool,
}

impl BundleArgs {
    /// The render options for `loaded`, with `default_time_scale` when none was given.
    pub fn options(&self, loaded: &Loaded, default_time_scale: Option<f64>) -> RenderOptions {
        RenderOptions {
            profile: loaded.profile.clone(),
            gpu_type: loaded.gpu.clone(),
            sim_time_scale: self.sim_time_scale.or(default_time_scale),
            client: self.client.map(Client::from),
            engine: self.engine.map(Engine::from),
            skip_dataset_check: self.no_dataset_check,
        }
    }
}
