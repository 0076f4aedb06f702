//! The `check --format json` document: its shape is a golden file, and it reads back.

mod common;

use common::series;
use servebench_verdict::{
    ChangePointOptions, CheckEntry, CheckReport, Direction, Judge, Options, ReportedChangePoint,
    SCHEMA_VERSION, change_points,
};

#[test]
fn check_json_shape() {
    let s = series(24, 1000.0, &[880.0, 885.0, 878.0, 884.0, 881.0, 879.0]);
    let verdict = Judge::new(Options::default()).judge(&s);
    let values: Vec<f64> = s.observations.iter().map(|ob| ob.value).collect();
    let change_points = change_points(&values, &ChangePointOptions::default())
        .into_iter()
        .filter_map(|change| {
            let run_id = s.observations.get(change.index)?.run_id.clone();
            Some(ReportedChangePoint { run_id, change })
        })
        .collect();
    let entry = CheckEntry {
        test: "disagg_perf_deepseek-r1-fp4_1k1k_ctx1_gen1_dep8_bs256".into(),
        concurrency: 256,
        metric: "output_token_throughput".into(),
        direction: Direction::HigherIsBetter,
        verdict,
        change_points,
    };
    let report = CheckReport::new("run-29", "main", vec![entry]);
    assert_eq!(
        (
            report.schema_version,
            report.regressions,
            report.exit_code()
        ),
        (SCHEMA_VERSION, 1, 1)
    );
    insta::assert_json_snapshot!(report);
    let text = serde_json::to_string(&report).unwrap_or_default();
    let back: CheckReport = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(back, report);
    assert_eq!(CheckReport::new("run-1", "main", vec![]).exit_code(), 0);
}
