//! The wire vocabulary of a bundle: engines, clients, schedulers and roles as closed enums.
//!
//! These mirror the config layer's user-facing names but are defined here so that `launch.json`
//! (and everything that reads it: the orchestrator, the collector) needs no config crate. The
//! bundle renderer converts one into the other; serde spellings are the config spellings.

use serde::{Deserialize, Serialize};

/// Engine adapter a bundle was rendered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// TensorRT-LLM (`trtllm-serve`).
    Trtllm,
    /// vLLM.
    Vllm,
    /// SGLang.
    Sglang,
    /// The built-in simulator.
    Sim,
}

impl Engine {
    /// The config spelling (`trtllm`, `vllm`, `sglang`, `sim`).
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Trtllm => "trtllm",
            Engine::Vllm => "vllm",
            Engine::Sglang => "sglang",
            Engine::Sim => "sim",
        }
    }
}

/// Benchmark client adapter (SPEC 7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Client {
    /// The built-in load generator (`servebench bench`).
    Builtin,
    /// Upstream's `benchmark_serving` (TensorRT-LLM fork).
    TrtllmBenchServing,
    /// `vllm bench serve`.
    VllmBenchServe,
    /// `python -m sglang.bench_serving`.
    SglangBenchServing,
    /// NVIDIA AIPerf.
    Aiperf,
}

impl Client {
    /// Every client, in documentation order.
    pub const ALL: [Client; 5] = [
        Client::Builtin,
        Client::TrtllmBenchServing,
        Client::VllmBenchServe,
        Client::SglangBenchServing,
        Client::Aiperf,
    ];

    /// The config and command-line spelling (`builtin`, `trtllm-bench-serving`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Client::Builtin => "builtin",
            Client::TrtllmBenchServing => "trtllm-bench-serving",
            Client::VllmBenchServe => "vllm-bench-serve",
            Client::SglangBenchServing => "sglang-bench-serving",
            Client::Aiperf => "aiperf",
        }
    }

    /// Parses the config spelling; `None` for an unknown name.
    pub fn parse(name: &str) -> Option<Client> {
        Client::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a bundle runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheduler {
    /// Child process groups on this machine.
    #[default]
    Local,
    /// A SLURM allocation (`sbatch`, `srun` steps).
    Slurm,
}

impl Scheduler {
    /// `local` or `slurm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheduler::Local => "local",
            Scheduler::Slurm => "slurm",
        }
    }
}

impl std::fmt::Display for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a long-running process of a bundle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Generation (decode) server.
    Gen,
    /// Context (prefill) server.
    Ctx,
    /// Aggregated server.
    Agg,
    /// The disaggregated router.
    Router,
}

impl Role {
    /// Lower-case spelling (`gen`, `ctx`, `agg`, `router`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Gen => "gen",
            Role::Ctx => "ctx",
            Role::Agg => "agg",
            Role::Router => "router",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
