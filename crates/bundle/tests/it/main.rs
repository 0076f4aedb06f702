//! Integration tests of the renderer: upstream's router config (the oracle), worker config
//! round-trip, shell safety, determinism and snapshots of whole bundles.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod golden;
mod safety;

use std::path::{Path, PathBuf};

use servebench_bundle::{Bundle, RenderOptions, render_case};
use servebench_config::load::{LoadOptions, load_str};
use servebench_config::model::TestCase;
use servebench_plan::{PlanOptions, plan_case};

/// The shared fixtures directory.
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// Loads a fixture under a relative path (so rendered bundles do not depend on the checkout).
pub fn fixture(rel: &str) -> Vec<TestCase> {
    let text = std::fs::read_to_string(shared().join("fixtures/upstream").join(rel)).unwrap();
    load_str(Path::new(rel), &text, &LoadOptions::default()).cases
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

/// Plans (with the options' profile) and renders a case.
pub fn render(case: &TestCase, opts: &RenderOptions) -> Bundle {
    let plan_opts = PlanOptions {
        profile: opts.profile.clone(),
        ..Default::default()
    };
    let plan = plan_case(case, &plan_opts).unwrap();
    render_case(case, &plan, opts).unwrap()
}

/// Every file of a bundle, for snapshots.
pub fn dump(bundle: &Bundle) -> String {
    let mut out = String::new();
    for f in &bundle.files {
        out.push_str(&format!(
            "===== {}{} =====\n{}",
            f.path,
            if f.executable { " (x)" } else { "" },
            f.contents
        ));
    }
    out
}
