//! Integration tests of the planner: upstream's own planning output (the oracle), allocation
//! order, the JSON schema and properties.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod oracle;
mod props;
mod schema;

use std::path::{Path, PathBuf};

use servebench_config::load::{LoadOptions, load_str};
use servebench_config::model::TestCase;

/// The shared fixtures directory.
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// Loads config text as `disagg/perf/<name>.yaml` and returns its only case.
pub fn case(name: &str, text: &str) -> TestCase {
    let file = load_str(
        Path::new(&format!("disagg/perf/{name}.yaml")),
        text,
        &LoadOptions::default(),
    );
    assert_eq!(file.cases.len(), 1, "{:?}", file.diagnostics);
    file.cases.into_iter().next().unwrap()
}
