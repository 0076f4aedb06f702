use proptest::prelude::*;
use servebench_report::{
    LogExcerpt, PointMetrics, ReportInput, ReportVerdict, RunInfo, TestReport, pareto_groups,
    render_html,
};

use crate::sample::{GATED, example_report};

fn point(c: u64, tpot: f64, per_gpu: f64) -> PointMetrics {
    PointMetrics {
        concurrency: c,
        metrics: [
            ("median_tpot_ms".to_string(), tpot),
            ("p99_tpot_ms".to_string(), tpot * 2.0),
            ("output_token_throughput_per_gpu".to_string(), per_gpu),
        ]
        .into(),
        valid: true,
    }
}

/// One failing test whose every string is hostile.
fn hostile(text: &str) -> ReportInput {
    ReportInput {
        title: text.to_string(),
        runs: vec![RunInfo {
            id: text.to_string(),
            source: Some(text.to_string()),
        }],
        tests: vec![TestReport {
            test_id: text.to_string(),
            points: vec![point(4, 10.0, 100.0), point(8, 12.0, 150.0)],
            verdict: ReportVerdict::Invalid,
            reasons: vec![text.to_string()],
            excerpts: vec![LogExcerpt {
                concurrency: Some(8),
                source: text.to_string(),
                text: text.to_string(),
            }],
            logs: Some(format!("runs/{text}")),
            meta: servebench_report::TestMeta {
                model: text.to_string(),
                gpu_type: text.to_string(),
                ..Default::default()
            },
            ..TestReport::default()
        }],
    }
}

#[test]
fn every_input_string_lands_as_text() {
    let html = render_html(&hostile(
        r#""><script>alert(1)</script><img src=x onerror=alert(2)>"#,
    ));
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the report's own script"
    );
    assert!(!html.contains("<img"));
    assert!(!html.contains("onerror=alert(2)>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
}

#[test]
fn links_to_logs_never_take_a_script_scheme() {
    let mut input = hostile("javascript:alert(1)");
    input.tests[0].logs = Some(" JavaScript:alert(1)".to_string());
    let html = render_html(&input);
    assert!(!html.contains("href=\"javascript:"), "{html}");
    assert!(html.contains("javascript:alert(1)"), "still shown as text");
}

#[test]
fn the_page_fetches_nothing() {
    let html = render_html(&example_report());
    for needle in ["<link", "src=", "@import", "http://", "https://"] {
        assert!(!html.contains(needle), "{needle} in the page");
    }
    // CSS may only point into the page (the markers: `url(#dot)`).
    assert!(html.split("url(").skip(1).all(|rest| rest.starts_with('#')));
    assert!(
        html.contains("default-src 'none'"),
        "the CSP forbids fetches"
    );
}

#[test]
fn every_chart_is_present_and_drawn() {
    let input = example_report();
    let html = render_html(&input);
    let charts: Vec<&str> = html.split("<svg class=\"chart ").skip(1).collect();
    let count = |kind: &str| charts.iter().filter(|c| c.starts_with(kind)).count();
    assert_eq!(count("pareto"), pareto_groups(&input).len());
    let with_points = input.tests.iter().filter(|t| !t.points.is_empty()).count();
    assert_eq!(count("latency"), 3 * with_points);
    let with_history = input.tests.iter().filter(|t| !t.history.is_empty()).count();
    assert_eq!(count("trend"), GATED.len() * with_history);
    for c in &charts {
        let body = c.split("</svg>").next().unwrap_or_default();
        let drawn = ["<polyline", "<circle", "<path class=\"tl "];
        assert!(
            drawn.iter().any(|d| body.contains(d)),
            "empty chart: {body}"
        );
    }
    // The frontier and the history marks.
    assert!(html.contains("class=\"frontier\""));
    assert!(html.contains("class=\"band "));
    assert!(html.contains("class=\"cp\""));
    assert!(html.contains("class=\"reg\""));
}

#[test]
fn the_verdict_table_has_a_row_per_test_with_sort_keys() {
    let input = example_report();
    let html = render_html(&input);
    assert_eq!(html.matches("<tr data-verdict=").count(), input.tests.len());
    assert!(html.contains("<tr data-verdict=\"error\"><td data-v=\"0\">"));
    assert!(html.contains("id=\"filter\""));
    assert!(html.contains("id=\"verdict-filter\""));
}

#[test]
fn an_empty_report_still_renders() {
    let html = render_html(&ReportInput::default());
    assert!(html.contains("<title>servebench report</title>"));
    assert!(html.contains("No test has both a median TPOT"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Whatever the strings, they add no markup: the page has as many `<` as with plain text.
    #[test]
    fn arbitrary_strings_add_no_markup(s in "\\PC{0,40}") {
        let plain = render_html(&hostile("x")).matches('<').count();
        prop_assert_eq!(render_html(&hostile(&s)).matches('<').count(), plain);
    }
}
