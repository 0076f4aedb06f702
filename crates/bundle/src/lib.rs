//! servebench job bundles (SPEC 6.1): a planned [`TestCase`] becomes a self-contained directory
//! that `servebench job exec` runs on a SLURM allocation or locally.
//!
//! A bundle holds the resolved config (`config.resolved.yaml`, with the origin of every value not
//! from the file as a comment), `plan.json`, the engine files (for TensorRT-LLM and the simulator
//! `ctx_config.yaml`/`gen_config.yaml` with the worker options verbatim and the router's
//! `server_config_base.yaml` with node placeholders), one environment file per process
//! (`env/<NAME>.env`), the launch spec `launch.json` ([`servebench_launch::LaunchSpec`]), a
//! readable `commands.sh`, and the batch script `job.sbatch`.
//!
//! What this crate owns: engine adapters ([`engine`], one file per engine behind
//! [`engine::EngineAdapter`]), client adapters ([`client`]), accuracy steps, shell quoting
//! ([`shell`]) and deterministic rendering: same input, byte-identical bundle (no timestamps, no
//! absolute paths, sorted maps). What it must not do: run anything, talk to the network, use
//! tokio. Rendering is pure ([`render_case`]); [`write_bundle`] is the only function touching the
//! file system, apart from the dataset-existence check the renderer can be told to skip.
//!
//! ```
//! # use servebench_config::load::{load_str, LoadOptions};
//! # use servebench_plan::{plan_case, PlanOptions};
//! # use servebench_bundle::{render_case, RenderOptions};
//! let text = "metadata: {model_name: m}\nhardware: {gpus_per_node: 4, num_ctx_servers: 1, num_gen_servers: 1}\n\
//! benchmark: {concurrency_list: '8', input_length: 64, output_length: 64}\n\
//! worker_config:\n  ctx: {tensor_parallel_size: 1, max_seq_len: 128}\n  gen: {tensor_parallel_size: 1, max_batch_size: 8, max_seq_len: 128}\n";
//! let file = load_str("disagg/perf/x.yaml".as_ref(), text, &LoadOptions::default());
//! let case = &file.cases[0];
//! let plan = plan_case(case, &PlanOptions::default()).unwrap();
//! let bundle = render_case(case, &plan, &RenderOptions::default()).unwrap();
//! assert!(bundle.file("launch.json").is_some());
//! assert!(bundle.file("gen_config.yaml").unwrap().contents.starts_with("tensor_parallel_size: 1"));
//! ```

use std::path::PathBuf;

use servebench_config::model::{Deployment, Engine, TestCase};
use servebench_config::profile::Profile;
use servebench_launch::{Client, LaunchSpec};
use servebench_plan::Role;

mod accuracy;
pub mod client;
mod clients;
mod ctx;
pub mod engine;
mod gates;
mod render;
mod sbatch;
mod servers;
pub mod shell;
mod write;

pub use ctx::Ctx;
pub use render::render_case;
pub use write::write_bundle;

/// The log directory inside a bundle.
pub const LOG_DIR: &str = "logs";
/// Default seconds to wait for a server to answer 200 on its health endpoint.
pub const HEALTH_TIMEOUT_S: u64 = servebench_config::defaults::SERVER_HEALTH_TIMEOUT;

/// What rendering depends on besides the case and its plan.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// The cluster profile in force (scheduler, containers, MPI, env, servebench binary).
    pub profile: Option<Profile>,
    /// GPU type (the simulator's GPU profile).
    pub gpu_type: Option<String>,
    /// `--time-scale` for simulator servers.
    pub sim_time_scale: Option<f64>,
    /// Client adapter override (else `benchmark.client`, else the engine's default).
    pub client: Option<Client>,
    /// Engine override (`--engine sim`).
    pub engine: Option<Engine>,
    /// Do not look at the file system for the dataset file (assume it exists).
    pub skip_dataset_check: bool,
}

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    /// Path relative to the bundle directory.
    pub path: String,
    /// Contents.
    pub contents: String,
    /// Whether the file is executable.
    pub executable: bool,
}

impl BundleFile {
    /// A plain text file.
    pub fn text(path: String, contents: String) -> Self {
        BundleFile {
            path,
            contents,
            executable: false,
        }
    }
}

/// A rendered bundle, not yet written.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    /// Test id (the bundle's directory name).
    pub test_id: String,
    /// Files, sorted by path.
    pub files: Vec<BundleFile>,
    /// Empty directories to create (`logs`).
    pub dirs: Vec<String>,
    /// The launch spec (also in `launch.json`).
    pub launch: LaunchSpec,
    /// Warnings found while rendering (dataset fallback, unmapped options).
    pub warnings: Vec<String>,
}

impl Bundle {
    /// A file by relative path.
    pub fn file(&self, path: &str) -> Option<&BundleFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

/// Why a bundle cannot be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The client named in the config or on the command line is unknown.
    #[error("unknown client `{name}` (known: {})", Client::ALL.map(Client::as_str).join(", "))]
    UnknownClient {
        /// Name given.
        name: String,
    },
    /// Writing a file failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// File.
        path: PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
    /// The bundle directory exists and is not a servebench bundle.
    #[error("{} exists and is not a servebench bundle (no launch.json); refusing to overwrite it", path.display())]
    NotABundle {
        /// Directory.
        path: PathBuf,
    },
}

/// The launch spec's spelling of an engine.
pub(crate) fn wire_engine(e: Engine) -> servebench_launch::Engine {
    match e {
        Engine::Trtllm => servebench_launch::Engine::Trtllm,
        Engine::Vllm => servebench_launch::Engine::Vllm,
        Engine::Sglang => servebench_launch::Engine::Sglang,
        Engine::Sim => servebench_launch::Engine::Sim,
    }
}

/// The launch spec's spelling of a server role.
pub(crate) fn wire_role(r: Role) -> servebench_launch::Role {
    match r {
        Role::Gen => servebench_launch::Role::Gen,
        Role::Ctx => servebench_launch::Role::Ctx,
        Role::Agg => servebench_launch::Role::Agg,
    }
}

/// Whether a deployment is aggregated.
pub fn is_aggregated(case: &TestCase) -> bool {
    matches!(case.config.deployment, Deployment::Agg { .. })
}
