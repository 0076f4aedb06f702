//! servebench's JUnit XML (`servebench_results::write_junit`) against the schema Jenkins reads
//! (`tests/data/junit/jenkins-junit-10.xsd`, origin in its header), checked by xmllint.
//!
//! Ignored in the plain test run because it needs xmllint (Debian `libxml2-utils`); `.ci/run`
//! installs it and runs `--ignored junit_`.

use std::path::PathBuf;
use std::process::Command;

use servebench_results::{CaseResult, Check, Excerpt, Verdict, write_junit};

use crate::sample::example_run_dir;

/// Every verdict and the awkward text: the real example run (all pass), plus an invalid case
/// with failing checks and an excerpt holding markup and control characters, a failed, an
/// error (with and without requested concurrencies) and a skipped case.
fn cases() -> Vec<CaseResult> {
    let text = std::fs::read_to_string(example_run_dir().join("results.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut cases: Vec<CaseResult> = serde_json::from_value(doc["cases"].clone()).unwrap();
    let mut invalid = cases[1].clone();
    invalid.test_id = "disagg_perf_<b>&\"quoted\"</b>".into();
    invalid.verdict = Verdict::Invalid;
    invalid.reason = Some("c=4: completed 29 of 32; c=4: 3 failed".into());
    let c = invalid.points[0].concurrency;
    invalid.checks.push(Check {
        name: "completed_equals_num_prompts".into(),
        passed: false,
        detail: "completed 29 of 32 <&>".into(),
        concurrency: Some(c),
        repeat: Some(0),
    });
    invalid.excerpts.push(Excerpt {
        concurrency: Some(c),
        source: PathBuf::from("logs/6_bench.log"),
        text: "]]> </failure> \u{1b}[31m\u{0}\u{7} bell & <tag>".into(),
    });
    let mut failed = cases[0].clone();
    failed.test_id.push_str("-accuracy");
    failed.verdict = Verdict::Fail;
    failed.reason = Some("accuracy: gsm8k 0.61 below 0.70".into());
    let mut error = CaseResult::error("disagg_perf_x_error", "health check timed out <GEN_0>");
    error.requested = vec![4, 16];
    let error_unplanned = CaseResult::error("disagg_perf_x_never_ran", "cannot submit: \u{1}");
    let mut skipped = CaseResult::error("disagg_perf_x_skipped", "no benchmark run");
    skipped.verdict = Verdict::Skipped;
    cases.extend([invalid, failed, error, error_unplanned, skipped]);
    cases
}

fn xmllint(xml: &[u8]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("junit.xml");
    std::fs::write(&file, xml).unwrap();
    let xsd =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit/jenkins-junit-10.xsd");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(&file)
        .output()
        .expect("xmllint (Debian libxml2-utils) must be installed for this test");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[ignore = "needs xmllint (libxml2-utils); .ci/run installs it and runs --ignored junit_"]
fn junit_validates_against_the_jenkins_schema() {
    let mut xml = Vec::new();
    write_junit(&cases(), &mut xml).unwrap();
    let text = String::from_utf8(xml).unwrap();
    let (ok, stderr) = xmllint(text.as_bytes());
    assert!(ok, "xmllint rejected servebench's JUnit:\n{stderr}\n{text}");
    // The schema check is real: a `skipped` count on the root, which Jenkins' schema does not
    // allow there (servebench wrote one before), is rejected.
    let bad = text.replacen(
        "<testsuites name=\"servebench\"",
        "<testsuites skipped=\"1\" name=\"servebench\"",
        1,
    );
    let (ok, stderr) = xmllint(bad.as_bytes());
    assert!(
        !ok && stderr.contains("attribute 'skipped': The attribute 'skipped' is not allowed"),
        "{stderr}"
    );
}
