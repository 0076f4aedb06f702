//! Shared suite arguments: where configs are, which layers apply, which tests are selected.
//!
//! `list`, `validate`, `plan`, `render` and `run` all go through [`SuiteArgs::load`]: discover
//! and load every config, then select test cases with the filters, expressions, test lists
//! (plain or test-db, matched against the system description) and waives, then keep the ones
//! that run on the current GPU type, in the `--mode` asked for, in the `--group` of `--splits`.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use servebench_config::discover::{Suite, load_suite, runs_on};
use servebench_config::load::{LoadOptions, SetOverride};
use servebench_config::model::{Deployment, TestCase};
use servebench_config::select::{
    BenchmarkMode, Expr, ListMarker, ListReport, Listed, ProblemKind, Selection, ShardTest, Shards,
    SuiteMode, System, TestList, Waives,
};

use crate::exit;

/// Output format of data commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Aligned text for people.
    #[default]
    Table,
    /// JSON with a `schema_version`, for tools.
    Json,
}

/// Where servebench writes: `runs/`, the history database and the results CSV.
#[derive(Debug, Args)]
pub struct OutputDir {
    /// Output directory: runs go to `<DIR>/runs/<run-id>/`; the default history database is
    /// `<DIR>/servebench.db` and the upstream CSV `<DIR>/perf_script_test_results.csv`.
    #[arg(
        long = "output",
        env = "OUTPUT_PATH",
        default_value = "servebench-out",
        value_name = "DIR"
    )]
    pub output: PathBuf,
}

/// Which configs, with which overrides, selected how.
#[derive(Debug, Args)]
pub struct SuiteArgs {
    /// Config files, directories or glob patterns [default: ./test_configs].
    pub paths: Vec<PathBuf>,
    /// Keep only these test types (disagg, wideep, agg, or a custom directory name).
    #[arg(long = "test-type", value_name = "TYPE")]
    pub test_types: Vec<String>,
    /// Keep only these categories (perf, accuracy, stress, perf-sanity).
    #[arg(long = "category", value_name = "CATEGORY")]
    pub categories: Vec<String>,
    /// Keep only models whose name contains this (case-insensitive).
    #[arg(long = "model", value_name = "NAME")]
    pub models: Vec<String>,
    /// Keyword expression over test ids: words, and, or, not, parentheses.
    #[arg(short = 'k', value_name = "EXPR")]
    pub keyword: Option<String>,
    /// Marker expression (perf, accuracy, stress, test types, metadata tags).
    #[arg(short = 'm', value_name = "EXPR")]
    pub marker: Option<String>,
    /// Run only the tests named in this test list: plain text, or test-db YAML (`.yml`/`.yaml`
    /// or `version:` first) whose blocks are matched against --system (repeatable).
    #[arg(long = "testlist", value_name = "FILE")]
    pub testlists: Vec<PathBuf>,
    /// System description for test-db conditions: gpu, system_gpu_count, stage, backend, cpu,
    /// linux_distribution_name, nodes, test_type, ... (repeatable; over the cluster profile).
    #[arg(long = "system", value_name = "KEY=VALUE", value_parser = parse_system_pair)]
    pub system: Vec<(String, String)>,
    /// Waives file (upstream waives.txt lines: `<test> SKIP (reason)`): those tests are skipped.
    #[arg(long = "waives", value_name = "FILE")]
    pub waives: Option<PathBuf>,
    /// A list line that names no config here is a warning instead of an error.
    #[arg(long = "allow-missing")]
    pub allow_missing: bool,
    /// Keep only tests of this unified-suite mode.
    #[arg(long = "mode", value_name = "MODE", value_parser = ["single-agg", "multi-agg", "disagg"])]
    pub mode: Option<String>,
    /// Split the selection into N CI shards (least_duration, as pytest-split).
    #[arg(long = "splits", value_name = "N")]
    pub splits: Option<NonZeroUsize>,
    /// Keep only shard I of --splits (1-based).
    #[arg(long = "group", value_name = "I", requires = "splits")]
    pub group: Option<NonZeroUsize>,
    /// History database whose recorded durations (median of each test's last 5 runs) balance
    /// `--splits` [default: servebench-out/servebench.db when it exists; else planned GPU-hours].
    #[arg(
        long = "durations-db",
        env = "SERVEBENCH_DB",
        value_name = "URL",
        hide_env_values = true
    )]
    pub durations_db: Option<String>,
    /// Set by commands that print missing list names themselves (`list --summary`), so they are
    /// not also warned about on stderr.
    #[arg(skip)]
    pub missing_on_stdout: bool,
    /// Current GPU type; configs whose supported_gpus lack it are left out.
    #[arg(long = "gpu-type", env = "GPU_TYPE", value_name = "TYPE")]
    pub gpu_type: Option<String>,
    /// Show configs for every GPU type, ignoring --gpu-type/GPU_TYPE.
    #[arg(long = "show-all-gpus")]
    pub show_all_gpus: bool,
    /// Override a config value: `section.key=value` (highest precedence; repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<SetOverride>,
    /// Cluster profile from ./servebench.yaml (else the user config dir); default: the file's
    /// `default` profile.
    #[arg(long = "cluster", env = "SERVEBENCH_CLUSTER", value_name = "NAME")]
    pub cluster: Option<String>,
}

/// A loaded suite and the selected cases.
pub struct Loaded {
    /// Every file with its diagnostics.
    pub suite: Suite,
    /// Selected cases as (file index, case index, list info).
    pub selected: Vec<(usize, usize, Option<Listed>)>,
    /// Cases left out by the GPU filter.
    pub gpu_filtered: usize,
    /// The GPU type in force, if any.
    pub gpu: Option<String>,
    /// The cluster profile in force, if any.
    pub profile: Option<servebench_config::profile::Profile>,
    /// The unified-suite mode of each selected test (same order as `selected`).
    pub suite_modes: Vec<SuiteMode>,
    /// The system description test-db blocks were matched against.
    pub system: System,
    /// What became of every test list's blocks and lines.
    pub reports: Vec<ListReport>,
    /// Per selected test (same order as `selected`), its index into `keys`.
    pub key_of: Vec<usize>,
    /// `(file index, case index)` of every test case, as `LineOutcome::Resolved` indexes them.
    pub keys: Vec<(usize, usize)>,
    /// The shards of `--splits`, over the selection before `--group` (indices into it).
    pub shards: Option<Shards>,
    /// Tests left out by `--mode`.
    pub mode_filtered: usize,
    /// With `--splits`: each split test's id (and list benchmark mode), as `shards` indexes them.
    pub split_names: Vec<String>,
}

impl Loaded {
    /// The selected cases with their file's load-time diagnostics and their list line's marker
    /// and mode, for the pipeline.
    pub fn selected_cases(&self) -> Vec<servebench_suite::prepare::Selected<'_>> {
        self.selected
            .iter()
            .filter_map(|(f, c, listed)| {
                let file = self.suite.files.get(*f)?;
                Some(servebench_suite::prepare::Selected {
                    case: file.cases.get(*c)?,
                    file_diagnostics: &file.diagnostics,
                    marker: listed.as_ref().and_then(|l| l.marker.clone()),
                    mode: listed.as_ref().and_then(|l| l.mode),
                })
            })
            .collect()
    }

    /// Files that yielded no test case because of errors, and unreadable paths: never
    /// silently dropped.
    pub fn broken_files(&self) -> Vec<servebench_suite::prepare::BrokenFile> {
        let errors = |diags: &mut dyn Iterator<Item = &servebench_config::diag::Diagnostic>| {
            diags
                .filter(|d| d.severity == servebench_config::diag::Severity::Error)
                .map(|d| format!("{}: {}", d.location(), d.message))
                .collect::<Vec<_>>()
        };
        let mut out: Vec<_> = self
            .suite
            .files
            .iter()
            .filter(|f| f.cases.is_empty() && f.skipped.is_none())
            .filter_map(|f| {
                let errors = errors(&mut f.diagnostics.iter());
                (!errors.is_empty()).then(|| servebench_suite::prepare::BrokenFile {
                    path: f.path.clone(),
                    errors,
                })
            })
            .collect();
        for e in errors(&mut self.suite.problems.iter()) {
            out.push(servebench_suite::prepare::BrokenFile {
                path: std::path::PathBuf::from(e.split(": ").next().unwrap_or_default()),
                errors: vec![e],
            });
        }
        out
    }

    /// The selected test cases.
    pub fn cases(&self) -> impl Iterator<Item = &TestCase> {
        self.selected
            .iter()
            .filter_map(|(f, c, _)| self.suite.files.get(*f)?.cases.get(*c))
    }

    /// Whether a file has a selected case, or no case at all (a broken file is always shown).
    pub fn file_selected(&self, file: usize) -> bool {
        let has_cases = self
            .suite
            .files
            .get(file)
            .is_some_and(|f| !f.cases.is_empty());
        !has_cases || self.selected.iter().any(|(f, _, _)| *f == file)
    }
}

/// A GPU type nobody knows is a typo, not an empty selection: the known types are SPEC 3.6's,
/// the cluster profile's and every `supported_gpus` entry of the loaded configs.
fn check_gpu_type(
    gpu: &str,
    profile: Option<&servebench_config::profile::Profile>,
    suite: &servebench_config::discover::Suite,
) -> Result<(), UsageError> {
    use servebench_config::identity::{GPU_TYPES, fold_gpu};
    let mut known: Vec<String> = GPU_TYPES.iter().map(|g| (*g).to_string()).collect();
    known.extend(profile.and_then(|p| p.gpu_type.as_deref()).map(fold_gpu));
    known.extend(
        suite
            .cases()
            .flat_map(|c| c.config.metadata.supported_gpus.iter().map(|g| fold_gpu(g))),
    );
    let folded = fold_gpu(gpu);
    if known.contains(&folded) {
        return Ok(());
    }
    known.sort();
    known.dedup();
    let hint = servebench_config::diag::did_you_mean(&folded, known.iter().map(String::as_str))
        .map_or_else(String::new, |m| format!(" (did you mean `{m}`?)"));
    Err(UsageError(format!(
        "unknown GPU type `{gpu}`{hint}; known: {} (from --gpu-type, GPU_TYPE or --system gpu=)",
        known.join(", ")
    )))
}

/// A usage problem: printed, exits 2.
pub struct UsageError(pub String);

impl SuiteArgs {
    fn selection(&self) -> Result<Selection, UsageError> {
        let parse = |flag: &str, text: &Option<String>| -> Result<Option<Expr>, UsageError> {
            text.as_deref()
                .map(|t| {
                    Expr::parse(t).map_err(|e| {
                        UsageError(format!("invalid {flag} expression:\n{}", e.render(t)))
                    })
                })
                .transpose()
        };
        let mut lists = Vec::new();
        for path in &self.testlists {
            let list = TestList::read(path).map_err(|e| UsageError(e.to_string()))?;
            lists.push(list);
        }
        let waives = self
            .waives
            .as_deref()
            .map(Waives::read)
            .transpose()
            .map_err(|e| UsageError(e.to_string()))?;
        Ok(Selection {
            test_types: self.test_types.clone(),
            categories: self.categories.clone(),
            models: self.models.clone(),
            keyword: parse("-k", &self.keyword)?,
            marker: parse("-m", &self.marker)?,
            lists,
            system: System::default(),
            waives,
            allow_missing: self.allow_missing,
        })
    }

    /// `--system` pairs over the cluster profile: `gpu` from --gpu-type/GPU_TYPE or the profile's
    /// gpu_type, `gpus_per_node` from the profile, `system_gpu_count` = nodes x gpus_per_node
    /// when both are known.
    fn system(&self, profile: Option<&servebench_config::profile::Profile>) -> System {
        let mut system = System::default();
        for (k, v) in &self.system {
            system.set(k, v);
        }
        if let Some(g) = self.gpu_type.as_deref().filter(|g| !g.is_empty()) {
            system.set_default("gpu", g);
        }
        if let Some(p) = profile {
            if let Some(g) = &p.gpu_type {
                system.set_default("gpu", g);
            }
            if let Some(n) = p.gpus_per_node {
                system.set_default("gpus_per_node", &n.to_string());
            }
        }
        let count = |k: &str| system.get(k).and_then(|v| v.parse::<u64>().ok());
        if let (Some(nodes), Some(gpn)) = (count("nodes"), count("gpus_per_node")) {
            system.set_default("system_gpu_count", &(nodes * gpn).to_string());
        }
        system
    }

    /// The cluster profile: `--cluster`/SERVEBENCH_CLUSTER, else the profiles file's default.
    fn profile(&self) -> Result<Option<servebench_config::profile::Profile>, UsageError> {
        select_profile(self.cluster.as_deref())
    }

    /// Loads, selects and GPU-filters; `--splits` balances on recorded durations from the
    /// history when there are any, else planned GPU-hours. Warnings go to stderr.
    pub fn load(&self) -> Result<Loaded, UsageError> {
        let durations = if self.splits.is_some() {
            self.recorded_durations()
        } else {
            HashMap::new()
        };
        self.load_with_durations(&durations)
    }

    /// Recorded durations from the history database, when one is there to read.
    fn recorded_durations(&self) -> HashMap<String, Duration> {
        let db = self.durations_db.clone().or_else(|| {
            let default = PathBuf::from("servebench-out/servebench.db");
            default
                .is_file()
                .then(|| default.to_string_lossy().into_owned())
        });
        let Some(db) = db else {
            return HashMap::new();
        };
        let found = servebench_store::open(&db)
            .and_then(|mut s| servebench_store::test_durations(s.as_mut(), 5));
        match found {
            Ok(d) => d
                .into_iter()
                .filter_map(|(t, s)| Duration::try_from_secs_f64(s).ok().map(|d| (t, d)))
                .collect(),
            Err(e) => {
                say!(
                    "warning: no recorded durations ({e}); shards are balanced on planned GPU-hours"
                );
                HashMap::new()
            }
        }
    }

    /// [`SuiteArgs::load`] with recorded durations per test id (e.g. the history store's median
    /// of recent runs) for `--splits`; tests without one fall back as `select::split` says.
    pub fn load_with_durations(
        &self,
        durations: &HashMap<String, Duration>,
    ) -> Result<Loaded, UsageError> {
        let mut selection = self.selection()?;
        let mut opts = LoadOptions::from_process_env();
        opts.sets = self.sets.clone();
        let profile = self.profile()?;
        selection.system = self.system(profile.as_ref());
        if let Some(p) = &profile {
            p.apply(&mut opts);
        }
        let paths = if self.paths.is_empty() {
            let default = PathBuf::from("test_configs");
            if !default.is_dir() {
                return Err(UsageError(
                    "no ./test_configs directory here; pass config files or directories (e.g. `servebench list path/to/test_configs`)".into(),
                ));
            }
            vec![default]
        } else {
            self.paths.clone()
        };
        // A path that does not exist is a typo on the command line, not a config problem.
        for p in &paths {
            let text = p.to_string_lossy();
            if !p.exists() && !text.contains(['*', '?', '[']) {
                return Err(UsageError(format!(
                    "{}: no such file or directory",
                    p.display()
                )));
            }
        }
        let suite = load_suite(&paths, &opts);
        let mut index = Vec::new();
        let mut keys = Vec::new();
        for (fi, file) in suite.files.iter().enumerate() {
            for (ci, case) in file.cases.iter().enumerate() {
                index.push((fi, ci));
                keys.push(case.select_key());
            }
        }
        for w in selection.filter_warnings(&keys) {
            say!("warning: {w}");
        }
        let selected = selection
            .select(&keys)
            .map_err(|e| UsageError(e.to_string()))?;
        for w in &selected.warnings {
            let reported_elsewhere =
                self.missing_on_stdout && matches!(w.kind, ProblemKind::Unmatched { .. });
            if !reported_elsewhere {
                say!("{w}");
            }
        }
        let gpu = if self.show_all_gpus {
            None
        } else {
            self.gpu_type
                .clone()
                .filter(|g| !g.is_empty())
                .or_else(|| selection.system.get("gpu").map(str::to_owned))
                .or_else(|| profile.as_ref().and_then(|p| p.gpu_type.clone()))
        };
        if let Some(g) = &gpu {
            check_gpu_type(g, profile.as_ref(), &suite)?;
        }
        let wanted_mode = self.mode.as_deref().and_then(SuiteMode::parse);
        let mut out = Vec::new();
        let mut suite_modes = Vec::new();
        let mut key_of = Vec::new();
        let (mut gpu_filtered, mut mode_filtered) = (0, 0);
        for t in selected.tests {
            let Some(&(fi, ci)) = index.get(t.index) else {
                continue;
            };
            let Some(case) = suite.files.get(fi).and_then(|f| f.cases.get(ci)) else {
                continue;
            };
            if gpu.as_deref().is_some_and(|g| !runs_on(case, g)) {
                gpu_filtered += 1;
                continue;
            }
            let mode = suite_mode(case, t.listed.as_ref());
            if wanted_mode.is_some_and(|m| m != mode) {
                mode_filtered += 1;
                continue;
            }
            suite_modes.push(mode);
            key_of.push(t.index);
            out.push((fi, ci, t.listed));
        }
        let mut loaded = Loaded {
            suite,
            selected: out,
            gpu_filtered,
            gpu,
            profile,
            suite_modes,
            system: selection.system,
            reports: selected.reports,
            key_of,
            keys: index,
            shards: None,
            mode_filtered,
            split_names: Vec::new(),
        };
        if let Some(splits) = self.splits {
            let tests: Vec<ShardTest> = loaded
                .selected
                .iter()
                .filter_map(|(f, c, listed)| {
                    let case = loaded.suite.files.get(*f)?.cases.get(*c)?;
                    Some(ShardTest {
                        recorded: durations.get(&case.test_id).copied(),
                        planned_gpu_hours: planned_gpu_hours(case, listed.as_ref()),
                    })
                })
                .collect();
            let shards = servebench_config::select::split(&tests, splits);
            loaded.split_names = loaded
                .selected
                .iter()
                .filter_map(|(f, c, listed)| {
                    let case = loaded.suite.files.get(*f)?.cases.get(*c)?;
                    let mode = listed.as_ref().and_then(|l| l.mode);
                    Some(mode.map_or_else(
                        || case.test_id.clone(),
                        |m| format!("{} [{m}]", case.test_id),
                    ))
                })
                .collect();
            if let Some(group) = self.group {
                let Some(keep) = shards.group(group.get()).map(|g| g.tests.clone()) else {
                    return Err(UsageError(format!(
                        "--group {group} is out of range: --splits {splits} has groups 1 to {splits}"
                    )));
                };
                loaded.retain(&keep);
            }
            loaded.shards = Some(shards);
        }
        Ok(loaded)
    }
}

impl Loaded {
    /// Keeps only the selected tests at these positions (sorted).
    fn retain(&mut self, keep: &[usize]) {
        keep_positions(&mut self.selected, keep);
        keep_positions(&mut self.suite_modes, keep);
        keep_positions(&mut self.key_of, keep);
    }
}

fn keep_positions<T>(v: &mut Vec<T>, keep: &[usize]) {
    let old = std::mem::take(v);
    *v = old
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.binary_search(i).is_ok())
        .map(|(_, x)| x)
        .collect();
}

fn parse_system_pair(text: &str) -> Result<(String, String), String> {
    System::parse_pair(text)
}

/// The unified-suite mode: what the list says (upstream's detection order), else disaggregated
/// for a disaggregated config run end to end or generation-only, else single- or multi-node
/// aggregated from the nodes the planner gives the server that runs (the context server for
/// `ctx_only`, the generation servers for `gen_only_no_context`).
fn suite_mode(case: &TestCase, listed: Option<&Listed>) -> SuiteMode {
    if let Some(m) = listed.and_then(|l| l.suite_mode) {
        return m;
    }
    let list_mode = listed.and_then(|l| l.mode);
    let agg_mode = matches!(
        list_mode,
        Some(BenchmarkMode::CtxOnly | BenchmarkMode::GenOnlyNoContext)
    );
    if matches!(case.config.deployment, Deployment::Disagg { .. }) && !agg_mode {
        return SuiteMode::Disagg;
    }
    let nodes = servebench_plan::plan_case(case, &servebench_plan::PlanOptions::default())
        .ok()
        .map(|plan| match list_mode {
            Some(BenchmarkMode::CtxOnly) => plan.ctx.nodes,
            Some(BenchmarkMode::GenOnlyNoContext) => plan.generation.nodes,
            _ => plan.total_nodes,
        });
    if nodes.unwrap_or(1) > 1 {
        SuiteMode::MultiAgg
    } else {
        SuiteMode::SingleAgg
    }
}

/// Upstream's CI budget per test when a list gives no `TIMEOUT` (jenkins `--timeout=3600`).
const DEFAULT_BUDGET: Duration = Duration::from_secs(3600);

/// Planned GPU-hours: the GPUs the plan requests times the test's time budget (the list's
/// `TIMEOUT (N)`, else the config's `slurm.timeout`, else one hour); `None` when it does not plan.
pub fn planned_gpu_hours(case: &TestCase, listed: Option<&Listed>) -> Option<f64> {
    let plan = servebench_plan::plan_case(case, &servebench_plan::PlanOptions::default()).ok()?;
    let budget = listed
        .and_then(|l| l.marker.as_ref())
        .and_then(ListMarker::timeout)
        .or_else(|| case.config.slurm.timeout.map(Duration::from_secs))
        .unwrap_or(DEFAULT_BUDGET);
    Some(plan.total_gpus as f64 * budget.as_secs_f64() / 3600.0)
}

/// The cluster profile named on the command line (or SERVEBENCH_CLUSTER), else the default of
/// `./servebench.yaml` or the user config dir's profiles file; `None` when there is no file.
pub fn select_profile(
    cluster: Option<&str>,
) -> Result<Option<servebench_config::profile::Profile>, UsageError> {
    use servebench_config::profile;
    let cwd = std::env::current_dir().unwrap_or_default();
    let paths = profile::search_paths(&cwd, &|k| std::env::var(k).ok());
    profile::select(cluster.filter(|c| !c.is_empty()), &paths)
        .map_err(|e| UsageError(e.to_string()))
}

/// Prints a usage error and returns the usage exit code.
pub fn usage(err: UsageError) -> std::process::ExitCode {
    say!("error: {}", err.0);
    std::process::ExitCode::from(exit::USAGE)
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
pub fn print(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Drops a large suite without walking it: the process is about to exit, and freeing tens of
/// thousands of small trees one by one costs a noticeable share of a 10,000-config `validate`.
pub fn discard(loaded: Loaded) {
    std::mem::forget(loaded);
}

/// Planning options shared by `plan` and `render`.
#[derive(Debug, Args)]
pub struct PlanningArgs {
    /// Require every selected test to plan exactly this many nodes (SPEC 4 rule 13).
    #[arg(long = "node-count", value_name = "N")]
    pub node_count: Option<u64>,
}

impl PlanningArgs {
    /// Plan options for a loaded suite (profile, single host for the local executor).
    pub fn options(&self, loaded: &Loaded) -> servebench_plan::PlanOptions {
        use servebench_config::profile::Scheduler;
        servebench_plan::PlanOptions {
            single_host: loaded
                .profile
                .as_ref()
                .is_some_and(|p| p.scheduler == Scheduler::Local),
            profile: loaded.profile.clone(),
            log_dir: None,
        }
    }
}
