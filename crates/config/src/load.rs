//! Loading one config file: read, parse, apply the layers, type, and split into test cases.
//!
//! Layers, highest precedence first (SPEC 3.4): command line (`--set`) > environment variables
//! (the upstream names) > cluster profile > the file > built-in defaults. Each layer edits the
//! located tree and records where every value it wrote came from, so `show --resolved` can
//! explain it and the fingerprint sees the final values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::decode::{Decoder, display_path, join};
use crate::defaults;
use crate::diag::{Diagnostic, Rule, Severity};
use crate::identity::{self, GPU_TYPES};
use crate::model::*;
use crate::yaml::{self, Node, Value};

/// Files larger than this are rejected unread (no config is anywhere near it).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Environment variables the loader reads (upstream names, SPEC 3.4).
pub const ENV_VARS: &[&str] = &[
    "SLURM_PARTITION",
    "SLURM_ACCOUNT",
    "SLURM_JOB_NAME",
    "CONTAINER_IMAGE",
    "MODEL_DIR",
    "DATASET_DIR",
    "REPO_DIR",
    "TRTLLM_WHEEL_PATH",
    "HF_HOME_DIR",
    "OUTPUT_PATH",
    "WORK_DIR",
    "SCRIPT_DIR",
    "INSTALL_MODE",
];

/// One `--set path=value` override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOverride {
    /// Dotted path (`benchmark.concurrency_list`).
    pub path: String,
    /// The value, read as a YAML scalar or flow collection.
    pub value: String,
}

impl std::str::FromStr for SetOverride {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('=') {
            Some((path, value))
                if !path.is_empty()
                    && path
                        .split('.')
                        .all(|seg| !seg.is_empty() && !seg.contains(char::is_whitespace)) =>
            {
                Ok(SetOverride {
                    path: path.to_string(),
                    value: value.to_string(),
                })
            }
            _ => Err(format!(
                "expected `section.key=value` (e.g. `benchmark.concurrency_list=1 2 4`), got `{s}`"
            )),
        }
    }
}

/// A cluster profile's contribution to a config: values by dotted path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileLayer {
    /// Profile name, for provenance.
    pub name: String,
    /// Values to set.
    pub values: Vec<(String, Node)>,
}

/// Everything above the file: profile, environment, command line.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Cluster profile layer.
    pub profile: Option<ProfileLayer>,
    /// Environment variables (only [`ENV_VARS`] are used).
    pub env: BTreeMap<String, String>,
    /// `--set` overrides, applied in order.
    pub sets: Vec<SetOverride>,
}

impl LoadOptions {
    /// Options with the process environment's upstream variables.
    pub fn from_process_env() -> Self {
        let env = ENV_VARS
            .iter()
            .filter_map(|k| {
                let v = std::env::var(k).ok()?;
                (!v.is_empty()).then(|| (k.to_string(), v))
            })
            .collect();
        LoadOptions {
            env,
            ..Default::default()
        }
    }
}

/// The result of loading one file: its test cases and every problem found on the way.
#[derive(Debug, Clone)]
pub struct LoadedFile {
    /// The file.
    pub path: PathBuf,
    /// Test cases (empty when the file could not be typed).
    pub cases: Vec<TestCase>,
    /// Problems found while loading (schema level); validation adds more.
    pub diagnostics: Vec<Diagnostic>,
    /// The file text, for quoting lines in diagnostics.
    pub source: Option<Arc<str>>,
    /// Why the file holds no test config although it is valid (e.g. a test-db list).
    pub skipped: Option<String>,
}

impl LoadedFile {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// Reads a file with the size and encoding checks.
pub fn read_source(path: &Path) -> Result<String, Box<Diagnostic>> {
    let fail = |msg: String, hint: &str| {
        Err(Box::new(
            Diagnostic::new(Rule::FileUnreadable, path, "", msg).hint(hint.to_string()),
        ))
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return fail(
                format!("cannot read file: {e}"),
                "check the path and permissions",
            );
        }
    };
    if !meta.is_file() {
        return fail(
            "not a regular file".into(),
            "pass a YAML file or a directory of them",
        );
    }
    if meta.len() > MAX_FILE_BYTES {
        return fail(
            format!(
                "file is {} bytes, more than the {MAX_FILE_BYTES}-byte limit",
                meta.len()
            ),
            "a test config is a few kilobytes; is this the right file?",
        );
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return fail(
                format!("cannot read file: {e}"),
                "check the path and permissions",
            );
        }
    };
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => fail(
            format!(
                "file is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
            "save the file as UTF-8",
        ),
    }
}

/// Loads one file from disk.
pub fn load_file(path: &Path, opts: &LoadOptions) -> LoadedFile {
    match read_source(path) {
        Ok(text) => load_str(path, &text, opts),
        Err(d) => LoadedFile {
            path: path.to_path_buf(),
            cases: Vec::new(),
            diagnostics: vec![*d],
            source: None,
            skipped: None,
        },
    }
}

/// Loads config text as if read from `path` (the path decides test type and category).
pub fn load_str(path: &Path, text: &str, opts: &LoadOptions) -> LoadedFile {
    let source: Arc<str> = Arc::from(text);
    let mut out = LoadedFile {
        path: path.to_path_buf(),
        cases: Vec::new(),
        diagnostics: Vec::new(),
        source: Some(source),
        skipped: None,
    };
    let mut root = match yaml::parse(text) {
        Ok(n) => n,
        Err(e) => {
            out.diagnostics.push(
                Diagnostic::new(Rule::YamlSyntax, path, "", e.message)
                    .at(Some(e.span))
                    .hint(
                        "fix the YAML syntax at this position (indentation, quotes, a missing `:`)",
                    ),
            );
            return out;
        }
    };
    if is_test_db_list(&root) {
        out.skipped = Some("test-db list, not a test config".into());
        return out;
    }
    let format = match &root.value {
        Value::Map(_) if root.get("worker_config").is_some() => Format::Disagg,
        Value::Map(_) if root.get("server_configs").is_some() => Format::Aggregated,
        Value::Map(_) if root.get("server").is_some() => Format::AggregatedExample,
        _ => {
            let found = if root.is_null() {
                "an empty document".to_string()
            } else {
                root.type_name().to_string()
            };
            out.diagnostics.push(
                Diagnostic::new(Rule::UnknownFormat, path, "", format!("not a test config: found {found}"))
                    .at(Some(root.span))
                    .expected("a mapping with `worker_config` (disaggregated), `server_configs` (aggregated) or `server`")
                    .hint("check that this is a servebench/TensorRT-LLM test config"),
            );
            return out;
        }
    };
    let aggregated = format != Format::Disagg;
    let (test_type, category) = identity::classify(path, aggregated);
    let mut provenance = BTreeMap::new();
    apply_layers(&mut root, opts, &mut provenance);
    apply_defaults(&mut root, format, &test_type, &category, &mut provenance);
    let root = Arc::new(root);
    let provenance = Arc::new(provenance);
    let mut dec = Decoder::new(path);
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("config")
        .to_string();
    let ident = Ident {
        path,
        stem: &stem,
        test_type: &test_type,
        category: &category,
    };
    match format {
        Format::Disagg => {
            if let Some(case) = decode_disagg(&mut dec, &root, &ident, &provenance) {
                out.cases.push(case);
            }
        }
        Format::Aggregated | Format::AggregatedExample => {
            out.cases = decode_aggregated(&mut dec, &root, format, &ident, &provenance);
        }
    }
    scan_placeholders(&mut dec, &root, &mut String::new());
    out.diagnostics.extend(dec.diags);
    out
}

/// A test-db YAML list: `version:` plus context names mapping to lists of condition blocks.
fn is_test_db_list(root: &Node) -> bool {
    let Some(entries) = root.as_map() else {
        return false;
    };
    root.get("version").is_some()
        && entries.len() > 1
        && entries
            .iter()
            .filter(|(k, _)| k.as_key() != Some("version"))
            .all(|(_, v)| matches!(&v.value, Value::Seq(items) if items.iter().all(|i| i.get("tests").is_some() || i.get("condition").is_some())))
}

struct Ident<'a> {
    path: &'a Path,
    stem: &'a str,
    test_type: &'a str,
    category: &'a str,
}

fn record(provenance: &mut BTreeMap<String, Origin>, path: &str, origin: Origin) {
    provenance.insert(path.to_string(), origin);
}

fn str_node(s: impl Into<String>) -> Node {
    Node::synthetic(Value::Str(s.into()))
}

fn apply_layers(root: &mut Node, opts: &LoadOptions, prov: &mut BTreeMap<String, Origin>) {
    if let Some(profile) = &opts.profile {
        for (path, value) in &profile.values {
            root.set_path(path, value.clone());
            record(prov, path, Origin::Profile(profile.name.clone()));
        }
    }
    apply_env(root, &opts.env, prov);
    for set in &opts.sets {
        let value = yaml::parse(&set.value).unwrap_or_else(|_| str_node(set.value.clone()));
        let value = Node::synthetic(value.value);
        root.set_path(&set.path, value);
        record(prov, &set.path, Origin::Cli(format!("--set {}", set.path)));
    }
}

/// The upstream loader's environment overrides (reference/upstream.md 2.10), applied only for
/// variables that are set.
fn apply_env(root: &mut Node, env: &BTreeMap<String, String>, prov: &mut BTreeMap<String, Origin>) {
    let get = |k: &str| env.get(k).filter(|v| !v.is_empty() && !v.starts_with('<'));
    let set = |root: &mut Node,
               prov: &mut BTreeMap<String, Origin>,
               path: &str,
               value: String,
               var: &str| {
        root.set_path(path, str_node(value));
        record(prov, path, Origin::Env(var.to_string()));
    };
    for (var, path) in [
        ("SLURM_PARTITION", "slurm.partition"),
        ("SLURM_ACCOUNT", "slurm.account"),
        ("SLURM_JOB_NAME", "slurm.job_name"),
        ("CONTAINER_IMAGE", "environment.container_image"),
        ("TRTLLM_WHEEL_PATH", "environment.trtllm_wheel_path"),
        ("HF_HOME_DIR", "accuracy.env_var.HF_HOME"),
        ("SCRIPT_DIR", "environment.work_dir"),
    ] {
        if let Some(v) = get(var) {
            set(root, prov, path, v.clone(), var);
        }
    }
    let meta = |root: &Node, key: &str| {
        root.at(&format!("metadata.{key}"))
            .and_then(Node::as_str)
            .map(str::to_string)
    };
    if let (Some(dir), Some(name)) = (
        get("MODEL_DIR"),
        meta(root, "model_dir_name").filter(|n| !n.is_empty()),
    ) {
        set(
            root,
            prov,
            "environment.model_path",
            format!("{}/{name}", dir.trim_end_matches('/')),
            "MODEL_DIR",
        );
    }
    if let (Some(dir), Some(file)) = (
        get("DATASET_DIR"),
        meta(root, "dataset_file").filter(|n| !n.is_empty()),
    ) {
        set(
            root,
            prov,
            "benchmark.dataset_file",
            format!("{}/{file}", dir.trim_end_matches('/')),
            "DATASET_DIR",
        );
    }
    if let Some(dir) = get("SCRIPT_DIR") {
        let script = meta(root, "script_file").unwrap_or_else(|| "disaggr_torch.slurm".into());
        set(
            root,
            prov,
            "slurm.script_file",
            format!("{}/{script}", dir.trim_end_matches('/')),
            "SCRIPT_DIR",
        );
    }
    if let Some(repo) = get("REPO_DIR") {
        if env.get("INSTALL_MODE").map(String::as_str) == Some("source") {
            set(
                root,
                prov,
                "environment.trtllm_repo",
                repo.clone(),
                "REPO_DIR",
            );
        }
        substitute_repo_path(root, repo, "", prov);
    }
    let mounts: Vec<String> = [
        "WORK_DIR",
        "SCRIPT_DIR",
        "MODEL_DIR",
        "OUTPUT_PATH",
        "DATASET_DIR",
        "REPO_DIR",
    ]
    .iter()
    .filter_map(|k| get(k))
    .map(|p| format!("{p}:{p}"))
    .chain(get("TRTLLM_WHEEL_PATH").and_then(|w| {
        let dir = Path::new(w).parent()?.to_str()?.to_string();
        (!dir.is_empty()).then(|| format!("{dir}:{dir}"))
    }))
    .collect();
    if !mounts.is_empty() {
        let mut all = mounts;
        let kimi =
            meta(root, "model_name").is_some_and(|m| m.to_ascii_lowercase().contains("kimi-k2"));
        if kimi {
            all.push("tmpfs:/dev/shm:size=640G".into());
        }
        set(
            root,
            prov,
            "environment.container_mount",
            all.join(","),
            "WORK_DIR",
        );
    }
}

/// `<repo_path>` inside accuracy task options becomes REPO_DIR (upstream substituted only there;
/// we substitute it in every string of the `accuracy` section).
fn substitute_repo_path(
    root: &mut Node,
    repo: &str,
    _path: &str,
    prov: &mut BTreeMap<String, Origin>,
) {
    fn walk(node: &mut Node, path: String, repo: &str, hits: &mut Vec<String>) {
        match &mut node.value {
            Value::Str(s) if s.contains("<repo_path>") => {
                *s = s.replace("<repo_path>", repo);
                hits.push(path);
            }
            Value::Map(entries) => {
                for (k, v) in entries.iter_mut() {
                    let key = k.as_key().unwrap_or_default().to_string();
                    walk(v, join(&path, &key), repo, hits);
                }
            }
            Value::Seq(items) => {
                for (i, v) in items.iter_mut().enumerate() {
                    walk(v, join(&path, &i.to_string()), repo, hits);
                }
            }
            _ => {}
        }
    }
    let Value::Map(entries) = &mut root.value else {
        return;
    };
    let mut hits = Vec::new();
    for (k, v) in entries.iter_mut() {
        if k.as_key() == Some("accuracy") {
            walk(v, "accuracy".into(), repo, &mut hits);
        }
    }
    for h in hits {
        record(prov, &h, Origin::Env("REPO_DIR".into()));
    }
}

fn insert_default(root: &mut Node, path: &str, value: Value, prov: &mut BTreeMap<String, Origin>) {
    if root.at(path).is_some() {
        return;
    }
    // Only fill in where the parent is a mapping or absent (never replace a mistyped parent:
    // the type error is reported instead).
    if let Some((parent, _)) = path.rsplit_once('.')
        && root
            .at(parent)
            .is_some_and(|p| !matches!(p.value, Value::Map(_)))
    {
        return;
    }
    root.set_path(path, Node::synthetic(value));
    record(prov, path, Origin::Default);
}

fn apply_defaults(
    root: &mut Node,
    format: Format,
    test_type: &str,
    category: &str,
    prov: &mut BTreeMap<String, Origin>,
) {
    let gpus = Value::Seq(GPU_TYPES.iter().map(|g| str_node(*g)).collect());
    insert_default(root, "metadata.supported_gpus", gpus, prov);
    insert_default(root, "engine", Value::Str("trtllm".into()), prov);
    if format == Format::Disagg {
        let scope = if category == "perf-sanity" {
            "total"
        } else {
            "per_gen_server"
        };
        for (path, value) in [
            ("benchmark.mode", Value::Str("e2e".into())),
            ("benchmark.streaming", Value::Bool(true)),
            ("benchmark.multi_round", Value::Int(1)),
            ("benchmark.benchmark_ratio", Value::Float(0.0)),
            ("benchmark.use_nv_sa_benchmark", Value::Bool(false)),
            ("benchmark.enable_benchmark", Value::Bool(true)),
            ("benchmark.only_run_accuracy", Value::Bool(false)),
            ("benchmark.repeats", Value::Int(1)),
            ("benchmark.concurrency_scope", Value::Str(scope.into())),
            (
                "benchmark.oversubscription_tolerance",
                Value::Float(defaults::OVERSUBSCRIPTION_TOLERANCE),
            ),
            ("hardware.placement", Value::Str("packed".into())),
            (
                "environment.server_health_timeout",
                Value::Int(defaults::SERVER_HEALTH_TIMEOUT as i64),
            ),
        ] {
            insert_default(root, path, value, prov);
        }
    }
    if format == Format::Aggregated {
        let len = |root: &Node, path: &str| match root.at(path).map(|n| &n.value) {
            Some(Value::Seq(items)) => items.len(),
            _ => 0,
        };
        let mut bases: Vec<String> = (0..len(root, "client_configs"))
            .map(|j| format!("client_configs.{j}"))
            .collect();
        for i in 0..len(root, "server_configs") {
            let list = format!("server_configs.{i}.client_configs");
            bases.extend((0..len(root, &list)).map(|j| format!("{list}.{j}")));
        }
        for base in bases {
            if root
                .at(&base)
                .is_some_and(|c| !matches!(c.value, Value::Map(_)))
            {
                continue;
            }
            for (key, alt, value) in [
                ("concurrency", "concurrency_list", Value::Int(1)),
                ("iterations", "iterations", Value::Int(1)),
                ("isl", "input_length", Value::Int(1024)),
                ("osl", "output_length", Value::Int(1024)),
                (
                    "random_range_ratio",
                    "random_range_ratio",
                    Value::Float(0.0),
                ),
                ("backend", "backend", Value::Str("openai".into())),
                ("streaming", "streaming", Value::Bool(true)),
                ("trust_remote_code", "trust_remote_code", Value::Bool(true)),
            ] {
                if root.at(&format!("{base}.{alt}")).is_none() {
                    insert_default(root, &format!("{base}.{key}"), value, prov);
                }
            }
        }
    }
    // Metrics: fill missing keys of whichever override block exists (metadata.metrics if none).
    let base = if root.at("benchmark.metrics").is_some() && root.at("metadata.metrics").is_none() {
        "benchmark.metrics"
    } else {
        "metadata.metrics"
    };
    let m = defaults::metrics_for(test_type, category);
    let names = Value::Seq(m.metric_names.iter().map(|n| str_node(n.clone())).collect());
    // A partial override of the pattern without names (or the reverse) keeps the default of the
    // other field only when the group count still fits; the decoder checks that.
    insert_default(
        root,
        &format!("{base}.log_file"),
        Value::Str(m.log_file),
        prov,
    );
    insert_default(
        root,
        &format!("{base}.extractor_pattern"),
        Value::Str(m.extractor_pattern),
        prov,
    );
    insert_default(root, &format!("{base}.metric_names"), names, prov);
}

fn scan_placeholders(dec: &mut Decoder<'_>, node: &Node, path: &mut String) {
    // The path buffer is extended and truncated in place: this runs on every value of every
    // file, so it must not allocate per node.
    match &node.value {
        Value::Str(s) if s.contains('<') => {
            for ph in placeholders(s) {
                let (var, field_hint) = placeholder_source(ph);
                dec.push(
                    Diagnostic::new(
                        Rule::Placeholder,
                        dec.file,
                        display_path(path),
                        format!("placeholder `{ph}` is not resolved"),
                    )
                    .at(Some(node.span))
                    .actual(s.clone())
                    .expected("a real value at submission time")
                    .hint(format!(
                        "set {var}, or `--set {field_hint}=...`, or a cluster profile value"
                    )),
                );
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries {
                if let Some(key) = k.as_key() {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                    scan_placeholders(dec, v, path);
                    path.truncate(len);
                }
            }
        }
        Value::Seq(items) => {
            for (i, v) in items.iter().enumerate() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                let _ = std::fmt::Write::write_fmt(path, format_args!("{i}"));
                scan_placeholders(dec, v, path);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// `<name>` tokens (lowercase letters, digits, `_`) in a string.
pub fn placeholders(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find('<') {
        let tail = &rest[start..];
        match tail.find('>') {
            Some(end) if end > 1 => {
                let inner = &tail[1..end];
                if inner
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    out.push(&tail[..=end]);
                }
                rest = &tail[end + 1..];
            }
            _ => break,
        }
    }
    out
}

fn placeholder_source(ph: &str) -> (&'static str, &'static str) {
    match ph {
        "<partition>" => ("SLURM_PARTITION", "slurm.partition"),
        "<account>" => ("SLURM_ACCOUNT", "slurm.account"),
        "<job_name>" => ("SLURM_JOB_NAME", "slurm.job_name"),
        "<container_image>" | "<enroot_file_path>" => {
            ("CONTAINER_IMAGE", "environment.container_image")
        }
        "<model_path>" | "<path_to_model>" => (
            "MODEL_DIR (with metadata.model_dir_name)",
            "environment.model_path",
        ),
        "<dataset_file>" => (
            "DATASET_DIR (with metadata.dataset_file)",
            "benchmark.dataset_file",
        ),
        "<container_mount>" => (
            "WORK_DIR/SCRIPT_DIR/MODEL_DIR/DATASET_DIR",
            "environment.container_mount",
        ),
        "<full_path_to_work_dir>" => ("SCRIPT_DIR", "environment.work_dir"),
        "<hf_home_path>" => ("HF_HOME_DIR", "accuracy.env_var.HF_HOME"),
        "<repo_path>" | "<trtllm_repo>" => ("REPO_DIR", "environment.trtllm_repo"),
        _ => ("the matching environment variable", "<field>"),
    }
}

// ---------------------------------------------------------------------------------------------
// Typed decoding.

const TOP_DISAGG: &[&str] = &[
    "metadata",
    "slurm",
    "benchmark",
    "hardware",
    "sequence",
    "environment",
    "profiling",
    "accuracy",
    "worker_config",
    "engine",
    "sim",
    "internal_request_auth_key",
];
const TOP_AGG: &[&str] = &[
    "metadata",
    "slurm",
    "hardware",
    "environment",
    "profiling",
    "accuracy",
    "server_configs",
    "client_configs",
    "engine",
    "sim",
];
const TOP_AGG_EXAMPLE: &[&str] = &[
    "metadata",
    "slurm",
    "benchmark",
    "hardware",
    "environment",
    "profiling",
    "accuracy",
    "server",
    "engine",
    "sim",
];
const SLURM_KEYS: &[&str] = &[
    "script_file",
    "partition",
    "account",
    "job_time",
    "job_name",
    "extra_args",
    "set_segment",
    "numa_bind",
    "timeout",
];
const BENCHMARK_KEYS: &[&str] = &[
    "mode",
    "use_nv_sa_benchmark",
    "multi_round",
    "benchmark_ratio",
    "streaming",
    "concurrency_list",
    "input_length",
    "output_length",
    "dataset_file",
    "enable_benchmark",
    "env_var",
    "only_run_accuracy",
    "metrics",
    "repeats",
    "concurrency_scope",
    "client",
    "oversubscription_tolerance",
];
const BENCHMARK_EXAMPLE_KEYS: &[&str] = &[
    "mode",
    "input_length",
    "output_length",
    "num_prompts",
    "max_concurrency",
    "streaming",
    "dataset_name",
    "dataset_file",
    "use_nv_sa_benchmark",
    "benchmark_ratio",
    "multi_round",
    "concurrency_list",
    "metrics",
    "repeats",
    "concurrency_scope",
    "client",
    "oversubscription_tolerance",
    "enable_benchmark",
    "env_var",
];
const HARDWARE_KEYS: &[&str] = &[
    "gpus_per_node",
    "num_ctx_servers",
    "num_gen_servers",
    "supported_gpus",
    "placement",
    "gpu_type",
];
const SEQUENCE_KEYS: &[&str] = &["input_length", "output_length"];
const ENVIRONMENT_STRING_KEYS: &[&str] = &[
    "container_mount",
    "container_image",
    "model_path",
    "trtllm_repo",
    "cuda_architectures",
    "trtllm_wheel_path",
    "work_dir",
    "log_dir",
    "dataset_file",
    "worker_env_var",
    "ctx_worker_env_var",
    "gen_worker_env_var",
    "server_env_var",
    "client_env_var",
    "benchmark_env_var",
    "container_workdir",
    "llm_models_root",
    "open_search_db_base_url",
];
const PROFILING_KEYS: &[&str] = &["nsys_on", "ctx_profile_range", "gen_profile_range"];
const ACCURACY_KEYS: &[&str] = &[
    "enable_accuracy_test",
    "env_var",
    "tasks",
    "model",
    "model_args_extra",
];
const ACCURACY_TASK_KEYS: &[&str] = &["model", "model_args_extra", "extra_kwargs"];
const WORKER_CONFIG_KEYS: &[&str] = &[
    "ctx",
    "gen",
    "eplb_num_slots",
    "concurrency_list",
    "mtp_size",
];
const METRICS_KEYS: &[&str] = &["log_file", "extractor_pattern", "metric_names"];
const DATASET_KEYS: &[&str] = &[
    "dataset_name",
    "name",
    "expected_value",
    "threshold_type",
    "filter_type",
    "alpha",
    "beta",
    "sigma",
    "num_samples",
    "higher_is_better",
];
/// Keys of an aggregated `server_configs[]` entry that belong to the framework, not the engine.
pub const AGG_SERVER_FRAMEWORK_KEYS: &[&str] = &[
    "name",
    "model_name",
    "server_env_var",
    "backend",
    "extra_llm_api_config_path",
    "match_mode",
    "gpus",
    "client_configs",
    "mode",
    "concurrency",
    "disagg_run_type",
    "gpus_per_node",
];
const AGG_CLIENT_KEYS: &[&str] = &[
    "name",
    "concurrency",
    "iterations",
    "isl",
    "osl",
    "random_range_ratio",
    "backend",
    "use_chat_template",
    "streaming",
    "trust_remote_code",
    "dataset_file",
    "use_nv_sa_benchmark",
    "client_env_var",
    "accuracy_config",
    "only_run_accuracy",
    "warmup",
    "concurrency_list",
    "input_length",
    "output_length",
];

fn empty_map() -> Node {
    Node::synthetic(Value::Map(Vec::new()))
}

fn missing(dec: &mut Decoder<'_>, root: &Node, field: &str, expected: &str, hint: &str) {
    let parent = field.rsplit_once('.').map_or("", |p| p.0);
    // Point at the enclosing section, or the start of the document when it is absent too.
    let span = if parent.is_empty() {
        None
    } else {
        root.at(parent).map(|n| n.span).filter(|s| s.line > 0)
    }
    .or(Some(root.span));
    dec.push(
        Diagnostic::new(
            Rule::MissingField,
            dec.file,
            display_path(field),
            format!("required field `{}` is missing", display_path(field)),
        )
        .at(span)
        .expected(expected.to_string())
        .hint(hint.to_string()),
    );
}

fn enum_value<T: Copy>(
    dec: &mut Decoder<'_>,
    sec: &Node,
    path: &str,
    key: &str,
    all: &[(&str, T)],
    default: T,
) -> T {
    let Some(text) = dec.string(sec, path, key) else {
        return default;
    };
    if let Some((_, v)) = all.iter().find(|(name, _)| *name == text) {
        return *v;
    }
    let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
    let suggestion = crate::diag::did_you_mean(&text, names.iter().copied());
    let node_span = sec.get(key).map(|n| n.span);
    dec.push(
        Diagnostic::new(
            Rule::InvalidValue,
            dec.file,
            display_path(&join(path, key)),
            format!(
                "`{}` is `{text}`, which is not a known value",
                display_path(&join(path, key))
            ),
        )
        .at(node_span)
        .actual(text.clone())
        .expected(format!("one of: {}", names.join(", ")))
        .hint(match suggestion {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("use one of: {}", names.join(", ")),
        }),
    );
    default
}

fn decode_metadata(dec: &mut Decoder<'_>, root: &Node) -> Metadata {
    let empty = empty_map();
    let sec = dec.map(root, "", "metadata").unwrap_or(&empty);
    let model_name = dec.string(sec, "metadata", "model_name");
    if model_name.is_none() {
        // Upstream defaults it to "unknown"; results would be filed under that name.
        missing(
            dec,
            root,
            "metadata.model_name",
            "the model id, e.g. `deepseek_r1_0528_fp4_v2`",
            "add `model_name:` under `metadata:` (results are reported under `unknown` until then)",
        );
        if let Some(d) = dec.diags.last_mut() {
            d.severity = Severity::Warning;
        }
    }
    let mut supported = dec
        .strings(sec, "metadata", "supported_gpus")
        .unwrap_or_default();
    if let Some(hw) = root
        .get("hardware")
        .filter(|h| h.get("supported_gpus").is_some())
        && sec.get("supported_gpus").is_some_and(|n| n.span.line == 0)
    {
        // Legacy `hardware.supported_gpus` wins over the built-in default.
        supported = dec
            .strings(hw, "hardware", "supported_gpus")
            .unwrap_or_default();
    }
    let tags = dec.strings(sec, "metadata", "tags").unwrap_or_default();
    let mut accuracy = Vec::new();
    if let Some(acc) = dec.map(sec, "metadata", "accuracy") {
        dec.check_keys(acc, "metadata.accuracy", &["datasets", "metrics"]);
        if let Some(list) = acc.get("datasets") {
            match &list.value {
                Value::Seq(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let path = format!("metadata.accuracy.datasets.{i}");
                        if !matches!(item.value, Value::Map(_)) {
                            dec.push(
                                Diagnostic::new(
                                    Rule::WrongType,
                                    dec.file,
                                    display_path(&path),
                                    "an accuracy dataset must be a mapping",
                                )
                                .at(Some(item.span))
                                .expected(
                                    "{dataset_name, expected_value, threshold_type, filter_type}",
                                ),
                            );
                            continue;
                        }
                        accuracy.push(decode_dataset(dec, item, &path));
                    }
                }
                Value::Null => {}
                _ => dec.push(
                    Diagnostic::new(
                        Rule::WrongType,
                        dec.file,
                        "metadata.accuracy.datasets",
                        "`datasets` must be a list",
                    )
                    .at(Some(list.span))
                    .expected("a list of datasets"),
                ),
            }
        }
        if let Some(m) = dec.map(acc, "metadata.accuracy", "metrics") {
            dec.check_keys(m, "metadata.accuracy.metrics", METRICS_KEYS);
        }
    }
    let _ = dec.string(sec, "metadata", "benchmark_type");
    Metadata {
        model_name: model_name.unwrap_or_else(|| "unknown".into()),
        precision: dec
            .string(sec, "metadata", "precision")
            .unwrap_or_else(|| "unknown".into()),
        model_dir_name: dec
            .string(sec, "metadata", "model_dir_name")
            .unwrap_or_default(),
        supported_gpus: supported,
        tags,
        accuracy,
        use_legacy_ctx_calculation: dec
            .boolean(sec, "metadata", "use_legacy_ctx_calculation")
            .unwrap_or(false),
        ctx_capacity: dec
            .uint(sec, "metadata", "ctx_capacity")
            .unwrap_or(defaults::LEGACY_CTX_CAPACITY),
    }
}

fn decode_dataset(dec: &mut Decoder<'_>, item: &Node, path: &str) -> AccuracyDataset {
    dec.check_keys(item, path, DATASET_KEYS);
    let a = dec.string(item, path, "dataset_name");
    let b = dec.string(item, path, "name");
    if let (Some(a), Some(b)) = (&a, &b)
        && a != b
    {
        dec.push(
            Diagnostic::new(
                Rule::ConflictingKeys,
                dec.file,
                display_path(path),
                format!("both `dataset_name: {a}` and `name: {b}` are set"),
            )
            .at(item.get("name").map(|n| n.span))
            .expected("one of `dataset_name` or `name`")
            .hint("keep `dataset_name` and remove `name`"),
        );
    }
    let name = a.or(b);
    if name.is_none() {
        missing(
            dec,
            item,
            &join(path, "dataset_name"),
            "the lm_eval task name, e.g. gsm8k",
            "add `dataset_name: gsm8k`",
        );
    }
    AccuracyDataset {
        name: name.unwrap_or_else(|| "gsm8k".into()),
        expected_value: dec.number(item, path, "expected_value").unwrap_or(0.0),
        threshold_type: dec
            .string(item, path, "threshold_type")
            .unwrap_or_else(|| "hypothesis_test".into()),
        filter_type: dec
            .string(item, path, "filter_type")
            .unwrap_or_else(|| "flexible-extract".into()),
        alpha: dec.number(item, path, "alpha"),
        beta: dec.number(item, path, "beta"),
        sigma: dec.number(item, path, "sigma"),
        num_samples: dec.uint(item, path, "num_samples"),
        higher_is_better: dec.boolean(item, path, "higher_is_better"),
    }
}

fn decode_metrics(dec: &mut Decoder<'_>, root: &Node) -> Metrics {
    let a = root.at("metadata.metrics");
    let b = root.at("benchmark.metrics");
    let from_file = |n: Option<&Node>| n.is_some_and(|n| n.span.line > 0);
    if from_file(a) && from_file(b) {
        dec.push(
            Diagnostic::new(
                Rule::ConflictingKeys,
                dec.file,
                "benchmark.metrics",
                "metrics are overridden in both `metadata.metrics` and `benchmark.metrics`",
            )
            .at(b.map(|n| n.span))
            .expected("one metrics override")
            .hint("merge them into `metadata.metrics`"),
        );
    }
    let (path, node) = if from_file(b) && !from_file(a) {
        ("benchmark.metrics", b)
    } else {
        ("metadata.metrics", a)
    };
    let empty = empty_map();
    let node = match node {
        Some(n) if matches!(n.value, Value::Map(_)) => n,
        Some(n) if !n.is_null() => {
            dec.push(
                Diagnostic::new(
                    Rule::WrongType,
                    dec.file,
                    path,
                    format!("`{path}` must be a mapping"),
                )
                .at(Some(n.span))
                .expected("{log_file, extractor_pattern, metric_names}"),
            );
            &empty
        }
        _ => &empty,
    };
    dec.check_keys(node, path, METRICS_KEYS);
    let metrics = Metrics {
        log_file: dec.string(node, path, "log_file").unwrap_or_default(),
        extractor_pattern: dec
            .string(node, path, "extractor_pattern")
            .unwrap_or_default(),
        metric_names: dec.strings(node, path, "metric_names").unwrap_or_default(),
    };
    check_metric_pattern(dec, node, path, &metrics);
    if metrics.metric_names.is_empty() {
        dec.push(
            Diagnostic::new(
                Rule::InvalidValue,
                dec.file,
                format!("{path}.metric_names"),
                "no metric names to extract",
            )
            .at(node.get("metric_names").map(|n| n.span))
            .expected("at least one metric name")
            .hint("name one metric per regex group, e.g. `metric_names: [SERVER_MEDIAN_TTFT]`"),
        );
    }
    metrics
}

/// The pattern must compile (multi-line, verbose, as upstream) and have one group per metric
/// name, optionally plus a trailing concurrency group. Any number of metrics works (upstream
/// silently required three groups).
fn check_metric_pattern(dec: &mut Decoder<'_>, node: &Node, path: &str, m: &Metrics) {
    let field = format!("{path}.extractor_pattern");
    let span = node
        .get("extractor_pattern")
        .map(|n| n.span)
        .or_else(|| node.get("metric_names").map(|n| n.span));
    let groups = match pattern_groups(&m.extractor_pattern) {
        Ok(g) => g,
        Err(reason) => {
            dec.push(
                Diagnostic::new(Rule::InvalidValue, dec.file, field, format!("the metrics pattern is not a valid regex: {reason}"))
                    .at(span)
                    .expected("a regex with one capture group per metric name")
                    .hint("fix the pattern; it is compiled multi-line and verbose (escape spaces as `\\ `)"),
            );
            return;
        }
    };
    let names = m.metric_names.len();
    if groups != names && groups != names + 1 {
        dec.push(
            Diagnostic::new(
                Rule::InvalidValue,
                dec.file,
                field,
                format!(
                    "the metrics pattern has {groups} capture group(s) for {names} metric name(s)"
                ),
            )
            .at(span)
            .actual(format!("{groups} group(s)"))
            .expected(format!(
                "{names} group(s), or {} with a trailing concurrency group",
                names + 1
            ))
            .hint("use one group per name in `metric_names` (non-capturing `(?:...)` elsewhere)"),
        );
    }
}

/// Capture groups of a metrics pattern, compiled once per thread and pattern (a suite of
/// thousands of configs shares a handful of patterns).
fn pattern_groups(pattern: &str) -> Result<usize, String> {
    thread_local! {
        static CACHE: std::cell::RefCell<std::collections::HashMap<String, Result<usize, String>>> = Default::default();
    }
    CACHE.with(|cache| {
        if let Some(hit) = cache.borrow().get(pattern) {
            return hit.clone();
        }
        let result = regex::RegexBuilder::new(pattern)
            .multi_line(true)
            .ignore_whitespace(true)
            .size_limit(1 << 22)
            .build()
            .map(|re| re.captures_len().saturating_sub(1))
            .map_err(|e| e.to_string().lines().last().unwrap_or_default().to_string());
        cache
            .borrow_mut()
            .insert(pattern.to_string(), result.clone());
        result
    })
}

fn decode_slurm(dec: &mut Decoder<'_>, root: &Node) -> Slurm {
    let Some(sec) = dec.map(root, "", "slurm") else {
        return Slurm::default();
    };
    dec.check_keys(sec, "slurm", SLURM_KEYS);
    let p = "slurm";
    Slurm {
        script_file: dec.string(sec, p, "script_file"),
        partition: dec.string(sec, p, "partition"),
        account: dec.string(sec, p, "account"),
        job_time: dec.string(sec, p, "job_time"),
        job_name: dec.string(sec, p, "job_name"),
        extra_args: dec.string(sec, p, "extra_args"),
        set_segment: dec.boolean(sec, p, "set_segment"),
        numa_bind: dec.boolean(sec, p, "numa_bind").unwrap_or(false),
        timeout: dec.uint(sec, p, "timeout"),
    }
}

fn decode_environment(dec: &mut Decoder<'_>, root: &Node) -> Environment {
    let Some(sec) = dec.map(root, "", "environment") else {
        return Environment {
            values: BTreeMap::new(),
            server_health_timeout: defaults::SERVER_HEALTH_TIMEOUT,
        };
    };
    let mut known: Vec<&str> = ENVIRONMENT_STRING_KEYS.to_vec();
    known.extend(["build_wheel", "server_health_timeout"]);
    dec.check_keys(sec, "environment", &known);
    let mut values = BTreeMap::new();
    for key in ENVIRONMENT_STRING_KEYS {
        if let Some(v) = dec.string(sec, "environment", key) {
            values.insert((*key).to_string(), v);
        }
    }
    if let Some(b) = dec.boolean(sec, "environment", "build_wheel") {
        values.insert("build_wheel".into(), b.to_string());
    }
    let timeout = match sec.get("server_health_timeout") {
        // Upstream PR #17881: positive integer seconds; booleans rejected.
        Some(n) if matches!(n.value, Value::Int(i) if i <= 0) => {
            dec.push(
                Diagnostic::new(
                    Rule::InvalidValue,
                    dec.file,
                    "environment.server_health_timeout",
                    "`server_health_timeout` must be positive",
                )
                .at(Some(n.span))
                .actual(crate::decode::describe(n))
                .expected("a positive number of seconds")
                .hint("write e.g. `server_health_timeout: 3600`"),
            );
            defaults::SERVER_HEALTH_TIMEOUT
        }
        _ => dec
            .uint(sec, "environment", "server_health_timeout")
            .unwrap_or(defaults::SERVER_HEALTH_TIMEOUT),
    };
    Environment {
        values,
        server_health_timeout: timeout,
    }
}

fn decode_profiling(dec: &mut Decoder<'_>, root: &Node) -> Profiling {
    let Some(sec) = dec.map(root, "", "profiling") else {
        return Profiling::default();
    };
    dec.check_keys(sec, "profiling", PROFILING_KEYS);
    Profiling {
        nsys_on: dec.boolean(sec, "profiling", "nsys_on").unwrap_or(false),
        ctx_profile_range: dec.string(sec, "profiling", "ctx_profile_range"),
        gen_profile_range: dec.string(sec, "profiling", "gen_profile_range"),
    }
}

fn decode_accuracy(dec: &mut Decoder<'_>, root: &Node) -> Accuracy {
    let Some(sec) = dec.map(root, "", "accuracy") else {
        return Accuracy::default();
    };
    dec.check_keys(sec, "accuracy", ACCURACY_KEYS);
    let p = "accuracy";
    let enable = dec.boolean(sec, p, "enable_accuracy_test").unwrap_or(false);
    let env_var = dec.env_vars(sec, p, "env_var");
    let legacy_model = dec
        .string(sec, p, "model")
        .unwrap_or_else(|| "local-completions".into());
    let legacy_args = dec.string(sec, p, "model_args_extra").unwrap_or_default();
    let mut tasks = Vec::new();
    if let Some(node) = sec.get("tasks") {
        match &node.value {
            // Legacy shape: `tasks: gsm8k` (comma-separated), model and args at section level.
            Value::Str(s) => {
                for name in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    tasks.push(AccuracyTask {
                        name: name.to_string(),
                        model: legacy_model.clone(),
                        model_args_extra: legacy_args.clone(),
                        extra_kwargs: None,
                    });
                }
            }
            Value::Map(entries) => {
                for (k, v) in entries {
                    let Some(name) = k.as_key() else { continue };
                    let path = format!("accuracy.tasks.{name}");
                    let empty = empty_map();
                    let task = match &v.value {
                        Value::Map(_) => v,
                        Value::Null => &empty,
                        _ => {
                            dec.push(
                                Diagnostic::new(
                                    Rule::WrongType,
                                    dec.file,
                                    path.clone(),
                                    format!("task `{name}` must be a mapping"),
                                )
                                .at(Some(v.span))
                                .expected("{model, model_args_extra, extra_kwargs}"),
                            );
                            continue;
                        }
                    };
                    dec.check_keys(task, &path, ACCURACY_TASK_KEYS);
                    tasks.push(AccuracyTask {
                        name: name.to_string(),
                        model: dec
                            .string(task, &path, "model")
                            .unwrap_or_else(|| legacy_model.clone()),
                        model_args_extra: dec
                            .string(task, &path, "model_args_extra")
                            .unwrap_or_else(|| legacy_args.clone()),
                        extra_kwargs: task.get("extra_kwargs").cloned(),
                    });
                }
            }
            Value::Null => {}
            _ => dec.push(
                Diagnostic::new(
                    Rule::WrongType,
                    dec.file,
                    "accuracy.tasks",
                    "`accuracy.tasks` must be a task name or a mapping of tasks",
                )
                .at(Some(node.span))
                .expected("`gsm8k` or `{gsm8k: {model: local-completions}}`"),
            ),
        }
    }
    Accuracy {
        enable_accuracy_test: enable,
        env_var,
        tasks,
    }
}

fn decode_engine(dec: &mut Decoder<'_>, root: &Node) -> Engine {
    let all: Vec<(&str, Engine)> = Engine::ALL.iter().map(|e| (e.as_str(), *e)).collect();
    match root.get("engine") {
        Some(n) if matches!(n.value, Value::Map(_)) => {
            dec.check_keys(n, "engine", &["name"]);
            enum_value(dec, n, "engine", "name", &all, Engine::Trtllm)
        }
        _ => enum_value(dec, root, "", "engine", &all, Engine::Trtllm),
    }
}

/// Reads the engine options the tool reasons about.
fn decode_worker(
    dec: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    options: Node,
    legacy_eplb: Option<u64>,
) -> Worker {
    let pick = |d: &mut Decoder<'_>, keys: &[&str]| keys.iter().find_map(|k| d.uint(node, path, k));
    let positive = |d: &mut Decoder<'_>, keys: &[&str]| {
        let v = pick(d, keys);
        if v == Some(0) {
            d.push(
                Diagnostic::new(
                    Rule::InvalidValue,
                    d.file,
                    display_path(&join(path, keys[0])),
                    format!("`{}` must be at least 1", keys[0]),
                )
                .at(keys.iter().find_map(|k| node.get(k)).map(|n| n.span))
                .actual("0")
                .expected(">= 1")
                .hint("parallel sizes start at 1"),
            );
        }
        v.filter(|v| *v > 0)
    };
    let tp = positive(dec, &["tensor_parallel_size", "tp_size"]).unwrap_or(1);
    let pp = positive(dec, &["pipeline_parallel_size", "pp_size"]).unwrap_or(1);
    let cp = positive(dec, &["context_parallel_size", "cp_size"]).unwrap_or(1);
    let ep = positive(dec, &["moe_expert_parallel_size", "ep_size"]);
    let spec_path = join(path, "speculative_config");
    let mtp = match dec.map(node, path, "speculative_config") {
        Some(spec) => dec
            .uint(spec, &spec_path, "num_nextn_predict_layers")
            .or_else(|| dec.uint(spec, &spec_path, "max_draft_len"))
            .unwrap_or(0),
        None => 0,
    };
    let moe_path = join(path, "moe_config");
    let eplb = dec
        .map(node, path, "moe_config")
        .and_then(|moe| {
            moe.get("load_balancer")
                .filter(|lb| matches!(lb.value, Value::Map(_)))
        })
        .and_then(|lb| dec.uint(lb, &join(&moe_path, "load_balancer"), "num_slots"))
        .or(legacy_eplb)
        .unwrap_or(0);
    let ct_path = join(path, "cache_transceiver_config");
    let (cache_backend, max_tokens_in_buffer) =
        match dec.map(node, path, "cache_transceiver_config") {
            Some(ct) => (
                dec.string(ct, &ct_path, "backend"),
                dec.uint(ct, &ct_path, "max_tokens_in_buffer"),
            ),
            None => (None, None),
        };
    let cg_path = join(path, "cuda_graph_config");
    let (batch_sizes, cg_max, padding) = match dec.map(node, path, "cuda_graph_config") {
        Some(cg) => {
            let sizes = match cg.get("batch_sizes").map(|n| &n.value) {
                Some(Value::Seq(items)) => items
                    .iter()
                    .filter_map(|i| match i.value {
                        Value::Int(v) if v >= 0 => Some(v as u64),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            (
                sizes,
                dec.uint(cg, &cg_path, "max_batch_size"),
                dec.boolean(cg, &cg_path, "enable_padding").unwrap_or(false),
            )
        }
        None => (Vec::new(), None, false),
    };
    Worker {
        path: path.to_string(),
        options,
        tp,
        pp,
        cp,
        ep,
        attention_dp: dec
            .boolean(node, path, "enable_attention_dp")
            .unwrap_or(false),
        max_batch_size: dec.uint(node, path, "max_batch_size"),
        max_num_tokens: dec.uint(node, path, "max_num_tokens"),
        max_seq_len: dec.uint(node, path, "max_seq_len"),
        mtp,
        eplb_slots: eplb,
        cache_backend,
        max_tokens_in_buffer,
        cuda_graph_batch_sizes: batch_sizes,
        cuda_graph_max_batch_size: cg_max,
        cuda_graph_padding: padding,
    }
}

fn modes() -> Vec<(&'static str, Mode)> {
    Mode::ALL.iter().map(|m| (m.as_str(), *m)).collect()
}

fn decode_benchmark_common(
    dec: &mut Decoder<'_>,
    sec: &Node,
    p: &str,
) -> (Mode, ConcurrencyScope, f64, u64, Option<String>) {
    let mode = enum_value(dec, sec, p, "mode", &modes(), Mode::E2e);
    let scope = enum_value(
        dec,
        sec,
        p,
        "concurrency_scope",
        &[
            ("per_gen_server", ConcurrencyScope::PerGenServer),
            ("total", ConcurrencyScope::Total),
        ],
        ConcurrencyScope::PerGenServer,
    );
    let tolerance = dec
        .number(sec, p, "oversubscription_tolerance")
        .unwrap_or(defaults::OVERSUBSCRIPTION_TOLERANCE);
    let repeats = dec.uint(sec, p, "repeats").unwrap_or(1);
    let client = dec.string(sec, p, "client");
    (mode, scope, tolerance, repeats, client)
}

fn decode_disagg(
    dec: &mut Decoder<'_>,
    root: &Arc<Node>,
    id: &Ident<'_>,
    prov: &Arc<BTreeMap<String, Origin>>,
) -> Option<TestCase> {
    dec.check_keys(root, "", TOP_DISAGG);
    let metadata = decode_metadata(dec, root);
    let slurm = decode_slurm(dec, root);
    let environment = decode_environment(dec, root);
    let profiling = decode_profiling(dec, root);
    let accuracy = decode_accuracy(dec, root);
    let engine = decode_engine(dec, root);
    let metrics = decode_metrics(dec, root);
    let mut aliases = BTreeMap::new();

    // hardware
    let empty = empty_map();
    let hw = dec.map(root, "", "hardware").unwrap_or(&empty);
    dec.check_keys(hw, "hardware", HARDWARE_KEYS);
    let placement = enum_value(
        dec,
        hw,
        "hardware",
        "placement",
        &[
            ("packed", Placement::Packed),
            ("exclusive", Placement::Exclusive),
        ],
        Placement::Packed,
    );

    // benchmark (+ legacy sequence)
    let bench = dec.map(root, "", "benchmark").unwrap_or(&empty);
    dec.check_keys(bench, "benchmark", BENCHMARK_KEYS);
    let (mode, scope, tolerance, repeats, client) =
        decode_benchmark_common(dec, bench, "benchmark");
    let seq = dec.map(root, "", "sequence");
    if let Some(s) = seq {
        dec.check_keys(s, "sequence", SEQUENCE_KEYS);
    }
    let length = |dec: &mut Decoder<'_>, key: &str, aliases: &mut BTreeMap<String, String>| {
        dec.uint(bench, "benchmark", key).or_else(|| {
            let v = seq.and_then(|s| dec.uint(s, "sequence", key));
            if v.is_some() {
                aliases.insert(format!("benchmark.{key}"), format!("sequence.{key}"));
            }
            v
        })
    };
    let isl = length(dec, "input_length", &mut aliases);
    let osl = length(dec, "output_length", &mut aliases);
    for (key, v) in [("input_length", isl), ("output_length", osl)] {
        if v.is_none() {
            missing(
                dec,
                root,
                &format!("benchmark.{key}"),
                "a token count",
                &format!("add `{key}: 1024` under `benchmark:`"),
            );
        }
    }

    // worker_config
    let wc = dec.map(root, "", "worker_config").unwrap_or(&empty);
    dec.check_keys(wc, "worker_config", WORKER_CONFIG_KEYS);
    let legacy_eplb = dec.uint(wc, "worker_config", "eplb_num_slots");
    let concurrency = match bench.get("concurrency_list") {
        Some(_) => dec.concurrency_list(bench, "benchmark", "concurrency_list"),
        None => {
            let v = dec.concurrency_list(wc, "worker_config", "concurrency_list");
            if v.is_some() {
                aliases.insert(
                    "benchmark.concurrency_list".into(),
                    "worker_config.concurrency_list".into(),
                );
            }
            v
        }
    };
    let enable_benchmark = dec
        .boolean(bench, "benchmark", "enable_benchmark")
        .unwrap_or(true);
    let only_run_accuracy = dec
        .boolean(bench, "benchmark", "only_run_accuracy")
        .unwrap_or(false);
    let concurrency_list = concurrency.unwrap_or_default();
    if concurrency_list.is_empty() && enable_benchmark && !only_run_accuracy {
        dec.push(
            Diagnostic::new(
                Rule::ConcurrencyEmpty,
                dec.file,
                "benchmark.concurrency_list",
                "the concurrency list is empty",
            )
            .at(bench
                .get("concurrency_list")
                .map(|n| n.span)
                .or_else(|| root.key_span("benchmark")))
            .expected("at least one positive concurrency")
            .hint("add `concurrency_list: '1 8 64'` under `benchmark:`"),
        );
    }

    let num_ctx = dec.uint(hw, "hardware", "num_ctx_servers");
    let num_gen = dec.uint(hw, "hardware", "num_gen_servers");
    let gpn = dec.uint(hw, "hardware", "gpus_per_node");
    if gpn.is_none() {
        missing(
            dec,
            root,
            "hardware.gpus_per_node",
            "GPUs per node, e.g. 4",
            "add `gpus_per_node: 4` under `hardware:`",
        );
    } else if gpn == Some(0) {
        dec.push(
            Diagnostic::new(
                Rule::InvalidValue,
                dec.file,
                "hardware.gpus_per_node",
                "`gpus_per_node` must be at least 1",
            )
            .at(hw.get("gpus_per_node").map(|n| n.span))
            .actual("0")
            .expected(">= 1"),
        );
    }
    if num_gen.is_none() {
        missing(
            dec,
            root,
            "hardware.num_gen_servers",
            "the number of generation servers",
            "add `num_gen_servers: 1` under `hardware:`",
        );
    }
    if num_ctx.is_none() && mode != Mode::GenOnlyNoContext {
        missing(
            dec,
            root,
            "hardware.num_ctx_servers",
            "the number of context servers",
            "add `num_ctx_servers: 1` under `hardware:`",
        );
    }
    let num_ctx = num_ctx.unwrap_or(0);

    aliases.insert("gen".into(), "worker_config.gen".into());
    aliases.insert("ctx".into(), "worker_config.ctx".into());
    let gen_node = dec.map(wc, "worker_config", "gen");
    let Some(gen_node) = gen_node else {
        missing(
            dec,
            root,
            "worker_config.gen",
            "the generation server's engine options",
            "add a `gen:` mapping under `worker_config:`",
        );
        return None;
    };
    let generation = decode_worker(
        dec,
        gen_node,
        "worker_config.gen",
        gen_node.clone(),
        legacy_eplb,
    );
    let ctx = match dec.map(wc, "worker_config", "ctx") {
        Some(n) => Some(decode_worker(
            dec,
            n,
            "worker_config.ctx",
            n.clone(),
            legacy_eplb,
        )),
        None => {
            if num_ctx > 0 && mode != Mode::GenOnlyNoContext {
                missing(
                    dec,
                    root,
                    "worker_config.ctx",
                    "the context server's engine options",
                    "add a `ctx:` mapping under `worker_config:`",
                );
            }
            None
        }
    };
    let benchmark = Benchmark {
        mode,
        use_nv_sa_benchmark: dec
            .boolean(bench, "benchmark", "use_nv_sa_benchmark")
            .unwrap_or(false),
        multi_round: dec.uint(bench, "benchmark", "multi_round").unwrap_or(1),
        benchmark_ratio: dec
            .number(bench, "benchmark", "benchmark_ratio")
            .unwrap_or(0.0),
        streaming: dec.boolean(bench, "benchmark", "streaming").unwrap_or(true),
        concurrency_list,
        input_length: isl.unwrap_or(0),
        output_length: osl.unwrap_or(0),
        dataset_file: dec
            .string(bench, "benchmark", "dataset_file")
            .or_else(|| environment.values.get("dataset_file").cloned()),
        enable_benchmark,
        only_run_accuracy,
        env_var: dec.env_vars(bench, "benchmark", "env_var"),
        repeats,
        concurrency_scope: scope,
        client,
        oversubscription_tolerance: tolerance,
        num_prompts: None,
    };
    let hardware = Hardware {
        gpus_per_node: gpn.unwrap_or(1).max(1),
        num_ctx_servers: if mode == Mode::GenOnlyNoContext {
            0
        } else {
            num_ctx
        },
        num_gen_servers: num_gen.unwrap_or(1),
        placement,
    };
    let config = TestConfig {
        format: Format::Disagg,
        metadata,
        slurm,
        benchmark,
        hardware,
        environment,
        profiling,
        accuracy,
        deployment: Deployment::Disagg { ctx, generation },
        engine,
        metrics,
        sim: root.get("sim").cloned(),
        tree: Arc::clone(root),
        provenance: Arc::clone(prov),
        aliases,
    };
    Some(finish_case(id, config, None, root))
}

fn finish_case(
    id: &Ident<'_>,
    config: TestConfig,
    suffix: Option<String>,
    fingerprint_tree: &Node,
) -> TestCase {
    let stem = match &suffix {
        Some(s) => format!("{}-{s}", id.stem),
        None => id.stem.to_string(),
    };
    TestCase {
        test_id: format!("{}_{}_{stem}", id.test_type, id.category),
        display_name: format!("{}/{}/{stem}", id.test_type, id.category),
        test_type: id.test_type.to_string(),
        category: id.category.to_string(),
        path: id.path.to_path_buf(),
        file_stem: id.stem.to_string(),
        benchmark_type: identity::benchmark_type(
            config.benchmark.input_length,
            config.benchmark.output_length,
        ),
        fingerprint: identity::fingerprint(fingerprint_tree),
        config,
    }
}

/// Shared top-level sections of the aggregated formats.
struct Common {
    metadata: Metadata,
    slurm: Slurm,
    environment: Environment,
    profiling: Profiling,
    accuracy: Accuracy,
    engine: Engine,
    metrics: Metrics,
    gpus_per_node: u64,
}

fn decode_common_agg(dec: &mut Decoder<'_>, root: &Node) -> Common {
    let empty = empty_map();
    let hw = dec.map(root, "", "hardware").unwrap_or(&empty);
    dec.check_keys(hw, "hardware", HARDWARE_KEYS);
    let gpn = dec.uint(hw, "hardware", "gpus_per_node");
    if gpn.is_none() {
        missing(
            dec,
            root,
            "hardware.gpus_per_node",
            "GPUs per node, e.g. 4",
            "add `gpus_per_node: 4` under `hardware:`",
        );
    }
    Common {
        metadata: decode_metadata(dec, root),
        slurm: decode_slurm(dec, root),
        environment: decode_environment(dec, root),
        profiling: decode_profiling(dec, root),
        accuracy: decode_accuracy(dec, root),
        engine: decode_engine(dec, root),
        metrics: decode_metrics(dec, root),
        gpus_per_node: gpn.unwrap_or(1).max(1),
    }
}

fn decode_aggregated(
    dec: &mut Decoder<'_>,
    root: &Arc<Node>,
    format: Format,
    id: &Ident<'_>,
    prov: &Arc<BTreeMap<String, Origin>>,
) -> Vec<TestCase> {
    dec.check_keys(
        root,
        "",
        if format == Format::Aggregated {
            TOP_AGG
        } else {
            TOP_AGG_EXAMPLE
        },
    );
    let common = decode_common_agg(dec, root);
    let make = |common: &Common,
                benchmark: Benchmark,
                deployment: Deployment,
                aliases: BTreeMap<String, String>| TestConfig {
        format,
        metadata: common.metadata.clone(),
        slurm: common.slurm.clone(),
        benchmark,
        hardware: Hardware {
            gpus_per_node: common.gpus_per_node,
            num_ctx_servers: 0,
            num_gen_servers: 1,
            placement: Placement::Packed,
        },
        environment: common.environment.clone(),
        profiling: common.profiling.clone(),
        accuracy: common.accuracy.clone(),
        deployment,
        engine: common.engine,
        metrics: common.metrics.clone(),
        sim: root.get("sim").cloned(),
        tree: Arc::clone(root),
        provenance: Arc::clone(prov),
        aliases,
    };
    if format == Format::AggregatedExample {
        let empty = empty_map();
        let server = dec.map(root, "", "server").unwrap_or(&empty);
        let bench = dec.map(root, "", "benchmark").unwrap_or(&empty);
        dec.check_keys(bench, "benchmark", BENCHMARK_EXAMPLE_KEYS);
        let (mode, _scope, tolerance, repeats, client) =
            decode_benchmark_common(dec, bench, "benchmark");
        let mut aliases = BTreeMap::new();
        let concurrency_list = match bench.get("max_concurrency") {
            Some(_) => {
                aliases.insert(
                    "benchmark.concurrency_list".into(),
                    "benchmark.max_concurrency".into(),
                );
                dec.concurrency_list(bench, "benchmark", "max_concurrency")
                    .unwrap_or_default()
            }
            None => dec
                .concurrency_list(bench, "benchmark", "concurrency_list")
                .unwrap_or_default(),
        };
        let benchmark = Benchmark {
            mode,
            use_nv_sa_benchmark: dec
                .boolean(bench, "benchmark", "use_nv_sa_benchmark")
                .unwrap_or(false),
            multi_round: dec.uint(bench, "benchmark", "multi_round").unwrap_or(1),
            benchmark_ratio: dec
                .number(bench, "benchmark", "benchmark_ratio")
                .unwrap_or(0.0),
            streaming: dec.boolean(bench, "benchmark", "streaming").unwrap_or(true),
            concurrency_list,
            input_length: dec.uint(bench, "benchmark", "input_length").unwrap_or(1024),
            output_length: dec
                .uint(bench, "benchmark", "output_length")
                .unwrap_or(1024),
            dataset_file: dec
                .string(bench, "benchmark", "dataset_name")
                .or_else(|| dec.string(bench, "benchmark", "dataset_file")),
            enable_benchmark: dec
                .boolean(bench, "benchmark", "enable_benchmark")
                .unwrap_or(true),
            only_run_accuracy: false,
            env_var: dec.env_vars(bench, "benchmark", "env_var"),
            repeats,
            concurrency_scope: ConcurrencyScope::Total,
            client,
            oversubscription_tolerance: tolerance,
            num_prompts: dec.uint(bench, "benchmark", "num_prompts"),
        };
        aliases.insert("gen".into(), "server".into());
        aliases.insert("ctx".into(), "server".into());
        let worker = decode_worker(dec, server, "server", server.clone(), None);
        let deployment = Deployment::Agg {
            server: worker,
            server_name: None,
            client_name: None,
        };
        let config = make(&common, benchmark, deployment, aliases);
        return vec![finish_case(id, config, None, root)];
    }
    let mut cases = Vec::new();
    let Some(servers) = root.get("server_configs") else {
        return cases;
    };
    let Value::Seq(items) = &servers.value else {
        dec.push(
            Diagnostic::new(
                Rule::WrongType,
                dec.file,
                "server_configs",
                "`server_configs` must be a list of servers",
            )
            .at(Some(servers.span))
            .expected("a list of {name, ..., client_configs}"),
        );
        return cases;
    };
    for (i, server) in items.iter().enumerate() {
        let spath = format!("server_configs.{i}");
        let Some(entries) = server.as_map() else {
            dec.push(
                Diagnostic::new(
                    Rule::WrongType,
                    dec.file,
                    display_path(&spath),
                    "a server config must be a mapping",
                )
                .at(Some(server.span))
                .expected("{name, ..., client_configs}"),
            );
            continue;
        };
        let name = dec.string(server, &spath, "name");
        if name.is_none() {
            missing(
                dec,
                root,
                &format!("{spath}.name"),
                "a server name",
                "add `name: <server name>` to this server",
            );
        }
        let name = name.unwrap_or_else(|| format!("server{i}"));
        let options = Node {
            value: Value::Map(
                entries
                    .iter()
                    .filter(|(k, _)| {
                        !k.as_key()
                            .is_some_and(|k| AGG_SERVER_FRAMEWORK_KEYS.contains(&k))
                    })
                    .cloned()
                    .collect(),
            ),
            span: server.span,
        };
        let worker = decode_worker(dec, server, &spath, options, None);
        // Per-server clients, or (QA one-file-per-case format) top-level clients for every server.
        let (clients, list_path): (&[Node], String) =
            match (server.get("client_configs"), root.get("client_configs")) {
                (
                    Some(Node {
                        value: Value::Seq(c),
                        ..
                    }),
                    _,
                ) => (c, format!("{spath}.client_configs")),
                (
                    None,
                    Some(Node {
                        value: Value::Seq(c),
                        ..
                    }),
                ) => (c, "client_configs".to_string()),
                _ => {
                    missing(
                        dec,
                        root,
                        &format!("{spath}.client_configs"),
                        "a list of benchmark clients",
                        "add `client_configs: [{concurrency: 1, isl: 1024, osl: 1024}]`",
                    );
                    (&[], String::new())
                }
            };
        let mut seen_names = Vec::new();
        for (j, client) in clients.iter().enumerate() {
            let cpath = format!("{list_path}.{j}");
            if !matches!(client.value, Value::Map(_)) {
                dec.push(
                    Diagnostic::new(
                        Rule::WrongType,
                        dec.file,
                        display_path(&cpath),
                        "a client config must be a mapping",
                    )
                    .at(Some(client.span))
                    .expected("{name, concurrency, iterations, isl, osl}"),
                );
                continue;
            }
            dec.check_keys(client, &cpath, AGG_CLIENT_KEYS);
            let (conc_key, isl_key, osl_key) = (
                if client.get("concurrency_list").is_some() {
                    "concurrency_list"
                } else {
                    "concurrency"
                },
                if client.get("input_length").is_some() {
                    "input_length"
                } else {
                    "isl"
                },
                if client.get("output_length").is_some() {
                    "output_length"
                } else {
                    "osl"
                },
            );
            let concurrency = dec
                .concurrency_list(client, &cpath, conc_key)
                .unwrap_or_default();
            let c = concurrency.first().copied().unwrap_or(0);
            let iterations = dec.uint(client, &cpath, "iterations").unwrap_or(1);
            let isl = dec.uint(client, &cpath, isl_key).unwrap_or(1024);
            let osl = dec.uint(client, &cpath, osl_key).unwrap_or(1024);
            let cname = dec
                .string(client, &cpath, "name")
                .unwrap_or_else(|| format!("con{c}_iter{iterations}_isl{isl}_osl{osl}"));
            if seen_names.contains(&cname) {
                dec.push(
                    Diagnostic::new(
                        Rule::InvalidValue,
                        dec.file,
                        display_path(&format!("{cpath}.name")),
                        format!("client name `{cname}` is used twice in this server"),
                    )
                    .at(Some(client.span))
                    .expected("unique client names per server")
                    .hint("rename one of the clients; names form the test id"),
                );
            }
            seen_names.push(cname.clone());
            if c == 0
                && client
                    .get(conc_key)
                    .is_some_and(|n| !matches!(n.value, Value::Str(_) | Value::Seq(_)))
            {
                dec.push(
                    Diagnostic::new(
                        Rule::ConcurrencyEmpty,
                        dec.file,
                        display_path(&format!("{cpath}.concurrency")),
                        "concurrency must be positive",
                    )
                    .at(client.get("concurrency").map(|n| n.span))
                    .actual("0")
                    .expected(">= 1"),
                );
            }
            let mut aliases = BTreeMap::new();
            for (logical, key) in [
                ("benchmark.concurrency_list", conc_key),
                ("benchmark.input_length", isl_key),
                ("benchmark.output_length", osl_key),
                ("benchmark.multi_round", "iterations"),
                ("benchmark.benchmark_ratio", "random_range_ratio"),
                ("benchmark.streaming", "streaming"),
                ("benchmark.dataset_file", "dataset_file"),
                ("benchmark.use_nv_sa_benchmark", "use_nv_sa_benchmark"),
            ] {
                aliases.insert(logical.to_string(), format!("{cpath}.{key}"));
            }
            aliases.insert("gen".into(), spath.clone());
            aliases.insert("ctx".into(), spath.clone());
            let benchmark = Benchmark {
                mode: Mode::E2e,
                use_nv_sa_benchmark: dec
                    .boolean(client, &cpath, "use_nv_sa_benchmark")
                    .unwrap_or(false),
                multi_round: iterations,
                benchmark_ratio: dec
                    .number(client, &cpath, "random_range_ratio")
                    .unwrap_or(0.0),
                streaming: dec.boolean(client, &cpath, "streaming").unwrap_or(true),
                concurrency_list: concurrency,
                input_length: isl,
                output_length: osl,
                dataset_file: dec.string(client, &cpath, "dataset_file"),
                enable_benchmark: true,
                only_run_accuracy: dec
                    .boolean(client, &cpath, "only_run_accuracy")
                    .unwrap_or(false),
                env_var: dec.env_vars(client, &cpath, "client_env_var"),
                repeats: 1,
                concurrency_scope: ConcurrencyScope::Total,
                client: None,
                oversubscription_tolerance: defaults::OVERSUBSCRIPTION_TOLERANCE,
                num_prompts: None,
            };
            let deployment = Deployment::Agg {
                server: worker.clone(),
                server_name: Some(name.clone()),
                client_name: Some(cname.clone()),
            };
            let config = make(&common, benchmark, deployment, aliases);
            // Fingerprint only what this case runs: this server with this client.
            let mut case_tree = (**root).clone();
            let mut one_server = server.clone();
            one_server.set_path(
                "client_configs",
                Node::synthetic(Value::Seq(vec![client.clone()])),
            );
            case_tree.set_path(
                "server_configs",
                Node::synthetic(Value::Seq(vec![one_server])),
            );
            if let Value::Map(entries) = &mut case_tree.value {
                entries.retain(|(k, _)| k.as_key() != Some("client_configs"));
            }
            cases.push(finish_case(
                id,
                config,
                Some(format!("{name}-{cname}")),
                &case_tree,
            ));
        }
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(path: &str, text: &str) -> LoadedFile {
        load_str(Path::new(path), text, &LoadOptions::default())
    }

    const MINIMAL: &str = "metadata:\n  model_name: m\nhardware:\n  gpus_per_node: 4\n  num_ctx_servers: 1\n  num_gen_servers: 2\nbenchmark:\n  concurrency_list: '1 8'\n  input_length: 1024\n  output_length: 1024\nworker_config:\n  ctx:\n    tensor_parallel_size: 4\n    max_seq_len: 2048\n  gen:\n    tensor_parallel_size: 8\n    enable_attention_dp: true\n    max_batch_size: 16\n    max_seq_len: 2100\n";

    #[test]
    fn minimal_disagg_config_loads_with_defaults_and_provenance() {
        let f = load("cfgs/disagg/perf/x_ctx1_gen2.yaml", MINIMAL);
        assert!(!f.has_errors(), "{:#?}", f.diagnostics);
        let case = &f.cases[0];
        assert_eq!(case.test_id, "disagg_perf_x_ctx1_gen2");
        assert_eq!(case.display_name, "disagg/perf/x_ctx1_gen2");
        assert_eq!(case.benchmark_type, "1k1k");
        let c = &case.config;
        assert_eq!(c.benchmark.concurrency_list, [1, 8]);
        assert_eq!(c.deployment.gen_role().capacity(), Some(128));
        assert_eq!(
            c.provenance.get("benchmark.streaming"),
            Some(&Origin::Default)
        );
        assert_eq!(
            c.metrics.metric_names,
            ["SERVER_MEDIAN_TTFT", "SERVER_MEDIAN_E2EL"]
        );
        assert_eq!(c.locate("gen.max_batch_size").map(|s| s.line), Some(18));
    }

    #[test]
    fn layers_have_precedence_and_provenance() {
        let mut opts = LoadOptions {
            profile: Some(ProfileLayer {
                name: "lab".into(),
                values: vec![
                    ("slurm.partition".into(), str_node("from-profile")),
                    ("slurm.account".into(), str_node("acct")),
                ],
            }),
            ..LoadOptions::default()
        };
        opts.env.insert("SLURM_PARTITION".into(), "from-env".into());
        opts.sets
            .push("benchmark.concurrency_list=4,16".parse().unwrap());
        let f = load_str(Path::new("a/disagg/perf/x.yaml"), MINIMAL, &opts);
        let c = &f.cases[0].config;
        assert_eq!(c.slurm.partition.as_deref(), Some("from-env"));
        assert_eq!(c.slurm.account.as_deref(), Some("acct"));
        assert_eq!(c.benchmark.concurrency_list, [4, 16]);
        assert_eq!(
            c.provenance["slurm.partition"],
            Origin::Env("SLURM_PARTITION".into())
        );
        assert_eq!(c.provenance["slurm.account"], Origin::Profile("lab".into()));
        assert!(matches!(
            c.provenance["benchmark.concurrency_list"],
            Origin::Cli(_)
        ));
    }

    #[test]
    fn legacy_sequence_and_mtp_keys() {
        let text = MINIMAL
            .replace("  input_length: 1024\n  output_length: 1024\n", "")
            .replace(
                "worker_config:",
                "sequence:\n  input_length: 8192\n  output_length: 1024\nworker_config:",
            )
            + "    speculative_config:\n      max_draft_len: 3\n";
        let f = load("a/disagg/perf/x.yaml", &text);
        let c = &f.cases[0].config;
        assert_eq!(c.benchmark.input_length, 8192);
        assert_eq!(f.cases[0].benchmark_type, "8k1k");
        assert_eq!(c.deployment.gen_role().mtp, 3);
        assert_eq!(
            c.physical("benchmark.input_length"),
            "sequence.input_length"
        );
    }

    #[test]
    fn type_errors_and_unknown_keys_are_located() {
        let text = MINIMAL
            .replace("  input_length: 1024", "  input_length: 1k")
            .replace("concurrency_list", "concurency_list");
        let f = load("a/disagg/perf/x.yaml", &text);
        let ids: Vec<_> = f.diagnostics.iter().map(|d| (d.rule, d.line)).collect();
        assert!(ids.contains(&(Rule::WrongType, Some(9))), "{ids:?}");
        assert!(ids.contains(&(Rule::UnknownKey, Some(8))), "{ids:?}");
    }

    #[test]
    fn metric_overrides_are_partial_and_any_size() {
        // One metric, custom pattern, default log file kept.
        let text = MINIMAL.replace(
            "metadata:\n  model_name: m\n",
            "metadata:\n  model_name: m\n  metrics:\n    extractor_pattern: 'Mean\\ TTFT\\ \\(ms\\):\\s+([0-9.]+)'\n    metric_names: [MEAN_TTFT]\n",
        );
        let f = load("a/disagg/perf/x.yaml", &text);
        assert!(!f.has_errors(), "{:#?}", f.diagnostics);
        let m = &f.cases[0].config.metrics;
        assert_eq!(m.metric_names, ["MEAN_TTFT"]);
        assert_eq!(m.log_file, "6_bench.log");
        assert_eq!(
            f.cases[0].config.provenance["metadata.metrics.log_file"],
            Origin::Default
        );
        // Names without a pattern keep the default pattern, whose group count must then fit.
        let bad = MINIMAL.replace(
            "metadata:\n  model_name: m\n",
            "metadata:\n  model_name: m\n  metrics:\n    metric_names: [A, B, C, D]\n",
        );
        let f = load("a/disagg/perf/x.yaml", &bad);
        assert!(
            f.diagnostics
                .iter()
                .any(|d| d.rule == Rule::InvalidValue
                    && d.message.contains("3 capture group(s) for 4")),
            "{:#?}",
            f.diagnostics
        );
        // Under benchmark.metrics too; both at once is an error.
        let both = text.replace(
            "benchmark:\n",
            "benchmark:\n  metrics:\n    log_file: x.log\n",
        );
        let f = load("a/disagg/perf/x.yaml", &both);
        assert!(
            f.diagnostics
                .iter()
                .any(|d| d.rule == Rule::ConflictingKeys)
        );
        let invalid = text.replace("([0-9.]+)", "([0-9.]+");
        let f = load("a/disagg/perf/x.yaml", &invalid);
        assert!(
            f.diagnostics
                .iter()
                .any(|d| d.message.contains("not a valid regex"))
        );
    }

    #[test]
    fn placeholders_are_found() {
        assert_eq!(placeholders("a <b_c> <x"), ["<b_c>"]);
        assert_eq!(placeholders("<partition>"), ["<partition>"]);
        assert!(placeholders("a < b > c").is_empty());
    }

    #[test]
    fn set_override_parsing() {
        assert!("a.b=c".parse::<SetOverride>().is_ok());
        assert!("a..b=c".parse::<SetOverride>().is_err());
        assert!("novalue".parse::<SetOverride>().is_err());
    }
}
