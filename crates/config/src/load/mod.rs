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
mod tests;
