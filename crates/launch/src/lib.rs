//! The launch spec: what `servebench job exec BUNDLE` executes (SPEC 6.1, 6.2).
//!
//! This crate is the protocol between bundle, exec and results (serde and thiserror types, no
//! rendering, no I/O, no tokio), so the in-job orchestrator and the collector can depend on it
//! without pulling the renderer:
//! - [`LaunchSpec`] (`launch.json`): what to run, with per-run [`Expectations`] and the bundle's
//!   [`Gates`] (custom metrics, accuracy);
//! - [`StatusEvent`] / [`StatusLog`] (`status.jsonl`): progress and the final [`Finish`];
//! - [`FailureKind`]: why a job failed, one closed set;
//! - the wire vocabulary [`Engine`], [`Client`], [`Scheduler`], [`Role`].
//!
//! `servebench-bundle` writes a [`LaunchSpec`] as `launch.json` in every bundle; the
//! orchestrator reads it back with [`LaunchSpec::from_json`], which rejects a
//! [`LaunchSpec::schema_version`] it does not know.
//!
//! Conventions every consumer must follow:
//! - Paths are relative to the bundle directory; the orchestrator runs every process with the
//!   bundle directory as working directory.
//! - Strings (argv elements, env values, listed files) may contain node placeholders
//!   `<node{i}_placeholder>`; the orchestrator replaces each with the i-th hostname of the
//!   allocation (`scontrol show hostnames "$SLURM_JOB_NODELIST"`, sorted), or with `127.0.0.1`
//!   when running locally. Files listed in [`LaunchSpec::templates`] are materialised the same
//!   way (`server_config.yaml` from `server_config.yaml.in`).
//! - `argv` is an argument vector, never a shell string: no quoting, no expansion.
//!
//! ```
//! use servebench_launch::{LaunchSpec, SCHEMA_VERSION};
//! let spec = LaunchSpec::empty("disagg_perf_x");
//! let text = spec.to_json();
//! let back = LaunchSpec::from_json(&text).unwrap();
//! assert_eq!(back.schema_version, SCHEMA_VERSION);
//! assert_eq!(back, spec);
//! ```

mod expect;
mod failure;
#[cfg(test)]
use servebench_testkit::mutate;
mod status;
mod vocab;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use expect::{AccuracyGate, AccuracyRule, Expectations, Gates, MetricExtractor, OutcomeRule};
pub use failure::FailureKind;
pub use status::{Finish, StatusEvent, StatusLog};
pub use vocab::{Client, Engine, Role, Scheduler};

/// The launch-spec schema version this crate reads and writes (2: typed engine, client,
/// scheduler and roles; per-run expectations and bundle gates).
pub const SCHEMA_VERSION: u32 = 2;

/// Everything the orchestrator needs to run one test case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchSpec {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Test id.
    pub test_id: String,
    /// Engine adapter.
    pub engine: Engine,
    /// Client adapter.
    pub client: Client,
    /// Scheduler the bundle was rendered for.
    pub scheduler: Scheduler,
    /// Log directory (relative), created by the orchestrator.
    pub log_dir: String,
    /// Status events file (JSON lines), inside `log_dir`.
    pub status_file: String,
    /// Nodes of the allocation, as placeholders, in order.
    pub nodes: Vec<String>,
    /// Files to materialise at run time: `{"server_config.yaml": "server_config.yaml.in"}`
    /// (output -> template), with placeholders replaced.
    pub templates: BTreeMap<String, String>,
    /// Steps before any server starts (install), in order.
    pub setup: Vec<Step>,
    /// Servers, in start order: GEN servers, then CTX servers (or the aggregated server).
    pub servers: Vec<Process>,
    /// The router, started once every server is healthy (disaggregated only).
    pub router: Option<Process>,
    /// Benchmark client runs, in order (one per concurrency and repeat).
    pub benchmark: Vec<ClientRun>,
    /// Accuracy evaluations, after the benchmark.
    pub accuracy: Vec<Step>,
    /// Log patterns that fail the run at once (regexes, matched per line).
    pub fatal_patterns: Vec<String>,
    /// Teardown policy.
    pub teardown: Teardown,
    /// Name of the done marker written on success (`8_done_{jobid}.txt`; `{jobid}` is
    /// replaced by the SLURM job id, or `local`).
    pub done_marker: String,
    /// Warnings found while rendering (e.g. a dataset fallback), repeated at run time.
    pub warnings: Vec<String>,
    /// Custom-metric and accuracy gates the collector applies.
    pub gates: Gates,
    /// GPUs of the deployment, for per-GPU metrics and cost attribution.
    pub gpus: GpuUse,
    /// What the test is, for the history store and reports.
    #[serde(default)]
    pub meta: TestMeta,
}

/// What a bundle's test is: identity and the facts stores and reports group by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestMeta {
    /// Display name (`disagg/perf/<stem>`).
    pub display_name: String,
    /// Configuration fingerprint (results compare only between equal fingerprints).
    pub fingerprint: String,
    /// Model name.
    pub model: String,
    /// Precision (`fp8`, `fp4`).
    pub precision: String,
    /// GPU type in force when rendered.
    pub gpu_type: Option<String>,
}

/// GPUs a deployment uses, by role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuUse {
    /// Every GPU of the deployment.
    pub total: u64,
    /// GPUs of context servers.
    pub ctx: u64,
    /// GPUs of generation servers (of the aggregated server, when aggregated); `gen` in JSON.
    #[serde(rename = "gen")]
    pub generation: u64,
}

/// A long-running process (server or router).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    /// `GEN_0`, `CTX_1`, `AGG_0`, `ROUTER`.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Argument vector.
    pub argv: Vec<String>,
    /// Environment added to the inherited one.
    pub env: BTreeMap<String, String>,
    /// Log file (relative to `log_dir`), stdout and stderr together.
    pub log: String,
    /// Where it runs.
    pub placement: ProcPlacement,
    /// Host (placeholder) and port it listens on.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Readiness check.
    pub health: Health,
}

/// How a process is placed on the allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcPlacement {
    /// Nodes (placeholders), first one listening.
    pub nodes: Vec<String>,
    /// Total tasks (`srun --ntasks`): the world size for engine workers, 1 otherwise.
    pub ntasks: u64,
    /// Tasks per node (`srun --ntasks-per-node`).
    pub ntasks_per_node: u64,
    /// Local GPU ids per node, aligned with `nodes`.
    pub gpus: Vec<Vec<u64>>,
    /// MPI type for `srun --mpi=` (engine workers only, e.g. `pmix`).
    pub mpi: Option<String>,
    /// Run inside the container (pyxis flags of [`LaunchSpec`]'s profile, see `srun_prefix`).
    pub container: bool,
    /// The srun prefix for SLURM (`srun --nodelist ... --overlap [--mpi=pmix] [container
    /// flags]`), already computed; locally the orchestrator runs `argv` directly.
    pub srun_prefix: Vec<String>,
}

/// An HTTP readiness check: healthy means status `expect_status` (200) from `url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// Full URL with placeholders (`http://<node0_placeholder>:8000/health`).
    pub url: String,
    /// Expected status.
    pub expect_status: u16,
    /// Seconds before giving up.
    pub timeout_s: u64,
    /// Seconds between polls.
    pub interval_s: u64,
}

/// A finite command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Step name (`install`, `accuracy_gsm8k`).
    pub name: String,
    /// Argument vector.
    pub argv: Vec<String>,
    /// Environment added to the inherited one.
    pub env: BTreeMap<String, String>,
    /// Log file (relative to `log_dir`).
    pub log: String,
    /// Directory the step writes results into (relative to the bundle), created first.
    pub output_dir: Option<String>,
    /// srun prefix on SLURM (one task on the first node).
    pub srun_prefix: Vec<String>,
}

/// One benchmark client run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRun {
    /// The concurrency as listed in the config.
    pub listed: u64,
    /// The concurrency the client runs.
    pub concurrency: u64,
    /// Prompts sent.
    pub num_prompts: u64,
    /// Repeat index (0-based).
    pub repeat: u64,
    /// The command.
    pub step: Step,
    /// Where the result JSON lands (relative to the bundle).
    pub result_file: String,
    /// Line appended to the bench log after the run (`Benchmark with concurrency C done`).
    pub done_line: String,
    /// What the run must produce.
    pub expect: Expectations,
}

/// What happens on every exit path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Teardown {
    /// Signal sent first to every process group / srun step.
    pub signal: String,
    /// Seconds to wait before SIGKILL.
    pub grace_s: u64,
    /// Order: router first, then CTX, then GEN (reverse start order).
    pub order: Vec<String>,
}

/// A launch spec that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// Not valid JSON, or the wrong shape.
    #[error("invalid launch spec: {0}")]
    Json(String),
    /// Written by a newer (or older) servebench.
    #[error(
        "launch spec schema version {found} is not supported (this servebench reads {SCHEMA_VERSION}); render the bundle again"
    )]
    Version {
        /// Version found.
        found: u32,
    },
}

impl LaunchSpec {
    /// A spec with no processes (a starting point for renderers and tests).
    pub fn empty(test_id: &str) -> Self {
        LaunchSpec {
            schema_version: SCHEMA_VERSION,
            test_id: test_id.to_string(),
            engine: Engine::Trtllm,
            client: Client::Builtin,
            scheduler: Scheduler::Local,
            log_dir: "logs".into(),
            status_file: "logs/status.jsonl".into(),
            nodes: Vec::new(),
            templates: BTreeMap::new(),
            setup: Vec::new(),
            servers: Vec::new(),
            router: None,
            benchmark: Vec::new(),
            accuracy: Vec::new(),
            fatal_patterns: Vec::new(),
            teardown: Teardown {
                signal: "TERM".into(),
                grace_s: 30,
                order: Vec::new(),
            },
            done_marker: "8_done_{jobid}.txt".into(),
            warnings: Vec::new(),
            gates: Gates::default(),
            gpus: GpuUse::default(),
            meta: TestMeta::default(),
        }
    }

    /// The done marker's file name for a job id (`8_done_1234.txt`; `local` off SLURM).
    pub fn done_marker_for(&self, job_id: &str) -> String {
        self.done_marker.replace("{jobid}", job_id)
    }

    /// Pretty JSON with a trailing newline (deterministic: maps are sorted).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Reads a spec, checking the schema version first.
    pub fn from_json(text: &str) -> Result<Self, LaunchError> {
        let raw: serde_json::Value =
            serde_json::from_str(text).map_err(|e| LaunchError::Json(e.to_string()))?;
        let found = raw
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| LaunchError::Json("missing `schema_version`".into()))?;
        if found != u64::from(SCHEMA_VERSION) {
            return Err(LaunchError::Version {
                found: u32::try_from(found).unwrap_or(u32::MAX),
            });
        }
        serde_json::from_value(raw).map_err(|e| LaunchError::Json(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_other_versions_and_unknown_fields() {
        let mut v: serde_json::Value =
            serde_json::from_str(&LaunchSpec::empty("t").to_json()).unwrap();
        v["schema_version"] = 1.into();
        assert!(matches!(
            LaunchSpec::from_json(&v.to_string()),
            Err(LaunchError::Version { found: 1 })
        ));
        v["schema_version"] = SCHEMA_VERSION.into();
        v["surprise"] = true.into();
        assert!(matches!(
            LaunchSpec::from_json(&v.to_string()),
            Err(LaunchError::Json(_))
        ));
    }
}
