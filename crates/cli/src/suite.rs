//! Shared suite arguments: where configs are, which layers apply, which tests are selected.
//!
//! `list`, `validate` (and later `plan`, `render`, `run`) all go through [`SuiteArgs::load`]:
//! discover and load every config, then select test cases with the filters, expressions and test
//! lists, then keep the ones that run on the current GPU type.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use servebench_config::discover::{Suite, load_suite, runs_on};
use servebench_config::load::{LoadOptions, SetOverride};
use servebench_config::model::TestCase;
use servebench_config::select::{Expr, Listed, Selection, TestList};

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
    /// Run only the tests named in this plain-text test list (repeatable).
    #[arg(long = "testlist", value_name = "FILE")]
    pub testlists: Vec<PathBuf>,
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
}

impl Loaded {
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
        Ok(Selection {
            test_types: self.test_types.clone(),
            categories: self.categories.clone(),
            models: self.models.clone(),
            keyword: parse("-k", &self.keyword)?,
            marker: parse("-m", &self.marker)?,
            lists,
        })
    }

    /// The cluster profile: `--cluster`/SERVEBENCH_CLUSTER, else the profiles file's default.
    fn profile(&self) -> Result<Option<servebench_config::profile::Profile>, UsageError> {
        select_profile(self.cluster.as_deref())
    }

    /// Loads, selects and GPU-filters. Warnings about the selection go to stderr.
    pub fn load(&self) -> Result<Loaded, UsageError> {
        let selection = self.selection()?;
        let mut opts = LoadOptions::from_process_env();
        opts.sets = self.sets.clone();
        let profile = self.profile()?;
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
            eprintln!("warning: {w}");
        }
        let selected = selection
            .select(&keys)
            .map_err(|e| UsageError(e.to_string()))?;
        for w in &selected.warnings {
            eprintln!("{w}");
        }
        let gpu = if self.show_all_gpus {
            None
        } else {
            self.gpu_type
                .clone()
                .filter(|g| !g.is_empty())
                .or_else(|| profile.as_ref().and_then(|p| p.gpu_type.clone()))
        };
        let mut out = Vec::new();
        let mut gpu_filtered = 0;
        for t in selected.tests {
            let Some(&(fi, ci)) = index.get(t.index) else {
                continue;
            };
            let runs = match (&gpu, suite.files.get(fi).and_then(|f| f.cases.get(ci))) {
                (Some(g), Some(case)) => runs_on(case, g),
                _ => true,
            };
            if runs {
                out.push((fi, ci, t.listed));
            } else {
                gpu_filtered += 1;
            }
        }
        Ok(Loaded {
            suite,
            selected: out,
            gpu_filtered,
            gpu,
            profile,
        })
    }
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
    eprintln!("error: {}", err.0);
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
