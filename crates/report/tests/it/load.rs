use std::path::PathBuf;

use servebench_report::{ReportError, ReportInput, ReportVerdict};

use crate::sample::example_run_dir;

#[test]
fn example_run_reads_metadata_from_the_bundles_resolved_configs() {
    let input = ReportInput::from_results_files(&[example_run_dir()]).unwrap();
    assert_eq!(input.runs.len(), 1);
    assert_eq!(input.runs[0].id, "example-run");
    assert_eq!(input.tests.len(), 5);
    let t = input
        .tests
        .iter()
        .find(|t| t.test_id == "disagg_perf_llama8b_1k1k_ctx1_gen2_tep1_bs32_eplb0_mtp0")
        .unwrap();
    assert_eq!(t.meta.model, "llama-3.1-8b");
    assert_eq!((t.meta.isl, t.meta.osl), (Some(1024), Some(1024)));
    assert_eq!(t.meta.topology.label(), "ctx1(tp1) gen2(tp1) bs32");
    assert_eq!(t.meta.gpus, Some(3));
    assert_eq!(t.verdict, ReportVerdict::Pass);
    let conc: Vec<u64> = t.points.iter().map(|p| p.concurrency).collect();
    assert_eq!(conc, [2, 8, 32, 64]);
    assert!(
        t.points
            .iter()
            .all(|p| p.valid && p.tokens_per_user().is_some())
    );
    // The aggregated test: its resolved file has one case, found by the -server-client suffix.
    let agg = input
        .tests
        .iter()
        .find(|t| t.test_id.starts_with("agg_"))
        .unwrap();
    assert_eq!(agg.meta.model, "llama-3.1-8b");
    assert_eq!(agg.meta.topology.ctx_servers, None);
}

#[test]
fn a_results_json_given_directly_is_the_same_run() {
    let dir = example_run_dir();
    let a = ReportInput::from_results_files(std::slice::from_ref(&dir)).unwrap();
    let b = ReportInput::from_results_files(&[dir.join("results.json")]).unwrap();
    assert_eq!(a, b);
}

#[test]
fn without_bundles_metadata_comes_from_the_test_id() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("r1");
    std::fs::create_dir(&run).unwrap();
    std::fs::copy(
        example_run_dir().join("results.json"),
        run.join("results.json"),
    )
    .unwrap();
    let input = ReportInput::from_results_files(&[run]).unwrap();
    let t = input
        .tests
        .iter()
        .find(|t| t.test_id.contains("ctx2_gen1_dep4"))
        .unwrap();
    assert_eq!(t.meta.model, "");
    assert_eq!(t.meta.topology.label(), "ctx2 gen1(dep4) bs16");
    assert_eq!(t.logs, None);
}

#[test]
fn unreadable_and_foreign_files_are_named_in_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let err = ReportInput::from_results_files(&[missing]).unwrap_err();
    assert!(matches!(err, ReportError::Read { .. }));
    assert!(err.to_string().contains("nope: "), "{err}");
    let foreign = tmp.path().join("x.json");
    std::fs::write(&foreign, r#"{"cases": 3}"#).unwrap();
    let err = ReportInput::from_results_files(&[foreign])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("x.json is not a servebench results.json"),
        "{err}"
    );
    let newer = tmp.path().join("n.json");
    std::fs::write(&newer, r#"{"schema_version": 99, "cases": []}"#).unwrap();
    let err = ReportInput::from_results_files(&[PathBuf::from(&newer)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("schema_version 99"), "{err}");
}
