//! Loading one config file: read, parse, apply the layers, type, and split into test cases.
//!
//! Layers, lowest precedence first (SPEC 3.4): built-in defaults < cluster profile < the file <
//! environment variables (the upstream names) < command line (`--set`). Each layer edits the
//! located tree and records where every value it wrote came from, so `show --resolved` can
//! explain it and the fingerprint sees the final values.
//!
//! The pieces, in the order a file goes through them: [`read`] (size and encoding checks),
//! `layers` (profile, `--set`, defaults, provenance), `env` (the upstream environment
//! variables), the typed decoders (`sections` for the shared sections, `worker` for engine
//! options, `disagg` and `aggregated` per file format, all checking keys against `keys`), and
//! `placeholders` (unresolved `<name>` values). Default values live in [`crate::defaults`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::decode::Decoder;
use crate::diag::{Diagnostic, Rule, Severity};
use crate::identity;
use crate::model::{Format, TestCase, TestConfig};
use crate::yaml::{self, Node, Value};

mod aggregated;
mod disagg;
mod env;
mod keys;
mod layers;
mod placeholders;
mod read;
mod sections;
mod worker;

pub use env::ENV_VARS;
pub use keys::AGG_SERVER_FRAMEWORK_KEYS;
pub use layers::{LoadOptions, ProfileLayer, SetOverride};
pub use placeholders::placeholders;
pub use read::{MAX_FILE_BYTES, read_source};

use aggregated::decode_aggregated;
use disagg::decode_disagg;
use layers::{apply_defaults, apply_layers};
use placeholders::scan_placeholders;

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

#[cfg(test)]
mod tests {
    use super::layers::str_node;
    use super::*;
    use crate::model::Origin;

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
