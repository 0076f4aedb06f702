//! What the store takes in and hands back.

use jiff::Timestamp;
use serde::Serialize;

/// Where a run executed and on what, as far as it is known (every field optional: logs do not
/// always print them).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Environment {
    /// Serving engine (`trtllm`, `vllm`, `sglang`, `sim`).
    pub engine: Option<String>,
    /// Engine version, from its logs.
    pub engine_version: Option<String>,
    /// GPU type (`GB200`, `H100`, ...).
    pub gpu_type: Option<String>,
    /// Container image.
    pub image: Option<String>,
    /// Node names, in allocation order.
    pub nodes: Vec<String>,
    /// Locked SM clock in MHz (upstream CSV `sm_clk`).
    pub sm_clock_mhz: Option<i64>,
    /// Locked memory clock in MHz (upstream CSV `mem_clk`).
    pub mem_clock_mhz: Option<i64>,
}

/// One run, recorded when it starts ([`crate::Store::begin_run`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    /// The run id (servebench's run directory name, or a synthetic id for imports).
    pub run_id: String,
    /// When it started.
    pub started_at: Timestamp,
    /// The command line that started it.
    pub command_line: String,
    /// Baseline label (`main`, a branch name).
    pub label: Option<String>,
    /// Git commit of the configs, when they live in a repository.
    pub config_commit: Option<String>,
    /// Cluster profile name.
    pub cluster: Option<String>,
    /// Executor (`local`, `slurm`).
    pub executor: String,
    /// Where it ran.
    pub environment: Environment,
}

/// One test as run in one run: its identity and configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TestInfo {
    /// Test id.
    pub test_id: String,
    /// Config fingerprint (`servebench_config::identity`); empty when unknown (imports).
    pub fingerprint: String,
    /// The resolved config (YAML or JSON text), stored once per fingerprint.
    pub resolved_config: Option<String>,
    /// Model name (upstream CSV `command`: `--model=`).
    pub model: Option<String>,
    /// Precision flag (upstream CSV `command`: `--fp4`, `--fp8`).
    pub precision: Option<String>,
    /// The upstream pytest node name (`test_benchmark[<id>]`) when it is not the default
    /// `test_benchmark[<test id>]` (imports keep the name they read).
    pub case_name: Option<String>,
    /// When the test started (its job started), for the CSV `start_timestamp`.
    pub started_at: Option<Timestamp>,
    /// When it finished.
    pub ended_at: Option<Timestamp>,
    /// Its wall time in seconds (queue wait included, as upstream's `total_time__sec`).
    pub duration_s: Option<f64>,
}

/// One accuracy result (SPEC 10.2): per task and filter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccuracyRow {
    /// lm_eval task (`gsm8k`).
    pub task: String,
    /// Filter (`flexible-extract`, `strict-match`).
    pub filter: String,
    /// Measured value (0..1 as lm_eval prints it).
    pub value: f64,
    /// Reference value, when configured.
    pub expected: Option<f64>,
    /// Threshold of the hypothesis test, when evaluated.
    pub threshold: Option<f64>,
    /// Whether the test held, when evaluated.
    pub passed: Option<bool>,
}

/// One measurement with everything needed to place it, for imports and bulk loads
/// ([`crate::Store::insert_measurements`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The run it belongs to (must have been recorded with `begin_run`).
    pub run_id: String,
    /// The test.
    pub test_id: String,
    /// Concurrency.
    pub concurrency: i64,
    /// Repeat index (0-based).
    pub repeat: i64,
    /// Canonical metric name (SPEC 9.2).
    pub metric: String,
    /// Value.
    pub value: f64,
    /// When it was measured (the test's start).
    pub measured_at: Timestamp,
    /// Order within the test's rows (file order for imports).
    pub ordinal: i64,
    /// Whether the point passed its validity checks.
    pub valid: bool,
    /// The metric's name in the source when it differs from the canonical one
    /// (`DISAGG_SERVER_TTFT`), so exports reproduce it.
    pub source_name: Option<String>,
    /// The source's command string for this point (upstream CSV `command`), when imported.
    pub command: Option<String>,
}

/// Which measurements [`crate::Store::history`] returns.
#[derive(Default)]
pub struct HistoryQuery<'a> {
    /// Keep tests for which this returns true (a `-k` expression); `None`: every test.
    pub test_filter: Option<&'a dyn Fn(&str) -> bool>,
    /// Canonical metric name.
    pub metric: Option<String>,
    /// Concurrency.
    pub concurrency: Option<i64>,
    /// Measured at or after.
    pub since: Option<Timestamp>,
    /// Run label.
    pub label: Option<String>,
    /// One run only.
    pub run_id: Option<String>,
}

/// One stored measurement with its run and test context, as history and exports see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryRow {
    /// Run id.
    pub run_id: String,
    /// Run label.
    pub label: Option<String>,
    /// Test id.
    pub test_id: String,
    /// Config fingerprint ("" when unknown).
    pub fingerprint: String,
    /// True on the first row of a (test, concurrency, metric) series after the fingerprint
    /// changed, i.e. the config changed between this run and the previous one.
    pub fingerprint_changed: bool,
    /// Concurrency.
    pub concurrency: i64,
    /// Repeat index.
    pub repeat: i64,
    /// Canonical metric name.
    pub metric: String,
    /// Value.
    pub value: f64,
    /// When it was measured.
    pub measured_at: Timestamp,
    /// Whether the point passed its validity checks.
    pub valid: bool,
    /// The test's verdict in that run, when recorded.
    pub verdict: Option<String>,
    /// The source's metric name, when it differs from `metric`.
    pub source_name: Option<String>,
    /// The source's command string, when imported.
    pub command: Option<String>,
    /// Test start (CSV `start_timestamp`).
    pub test_started_at: Option<Timestamp>,
    /// Test end (CSV `end_timestamp`).
    pub test_ended_at: Option<Timestamp>,
    /// Test wall time in seconds (CSV `total_time__sec`).
    pub duration_s: Option<f64>,
    /// Model name.
    pub model: Option<String>,
    /// Precision flag.
    pub precision: Option<String>,
    /// Upstream pytest node name, when recorded.
    pub case_name: Option<String>,
    /// GPU type of the run.
    pub gpu_type: Option<String>,
    /// SM clock of the run.
    pub sm_clock_mhz: Option<i64>,
    /// Memory clock of the run.
    pub mem_clock_mhz: Option<i64>,
}

/// One run as listed by [`crate::Store::runs`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    /// Run id.
    pub run_id: String,
    /// Start.
    pub started_at: Timestamp,
    /// End, once recorded.
    pub ended_at: Option<Timestamp>,
    /// Label.
    pub label: Option<String>,
    /// Command line.
    pub command_line: String,
    /// Executor.
    pub executor: String,
    /// Cluster.
    pub cluster: Option<String>,
    /// Config commit.
    pub config_commit: Option<String>,
    /// Environment.
    pub environment: Environment,
    /// Tests recorded.
    pub tests: i64,
    /// Measurements recorded.
    pub measurements: i64,
}

/// An intended change a curator accepted (`servebench baseline accept`): from `at_run` on, the
/// baseline of every matching series restarts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AcceptedChange {
    /// The test it applies to; `None`: every test.
    pub test_id: Option<String>,
    /// The canonical metric; `None`: every metric.
    pub metric: Option<String>,
    /// The concurrency; `None`: every concurrency.
    pub concurrency: Option<i64>,
    /// The first run of the new level.
    pub at_run: String,
    /// Why the change is intended (a PR, an upgrade), for the record.
    pub reason: String,
    /// When it was accepted.
    pub accepted_at: Timestamp,
}

impl AcceptedChange {
    /// Whether this acceptance covers the series of (test, metric, concurrency).
    pub fn applies_to(&self, test_id: &str, metric: &str, concurrency: i64) -> bool {
        self.test_id.as_deref().is_none_or(|t| t == test_id)
            && self.metric.as_deref().is_none_or(|m| m == metric)
            && self.concurrency.is_none_or(|c| c == concurrency)
    }
}

/// What a pinned baseline points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PinTarget {
    /// The baseline window ends at this run.
    Run(String),
    /// The baseline is the newest runs carrying this tag (a run's config commit).
    Tag(String),
}

/// A fixed baseline (`servebench baseline pin`), replacing the rolling window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselinePin {
    /// The test it applies to; `None`: every test without a pin of its own.
    pub test_id: Option<String>,
    /// The run or tag.
    pub target: PinTarget,
    /// When it was pinned.
    pub pinned_at: Timestamp,
}
