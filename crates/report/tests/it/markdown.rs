use servebench_report::{MARKDOWN_LIMIT, ReportVerdict, render_markdown};

use crate::sample::synthetic;

#[test]
fn a_huge_suite_stays_under_the_comment_limit() {
    // 3,000 tests (about 25x the limit): some fail, a third regress, long ids and reasons.
    let mut input = synthetic(3_000, 8, 2);
    for t in &mut input.tests {
        t.test_id.push_str(&"_x".repeat(100));
        if t.verdict != ReportVerdict::Pass && t.verdict != ReportVerdict::Regression {
            t.reasons.push("r".repeat(10_000));
        }
    }
    let md = render_markdown(&input);
    assert!(md.len() < MARKDOWN_LIMIT, "{} bytes", md.len());
    assert!(md.contains("more regressions not shown"));
    assert!(md.contains("_Truncated to stay under 65000 characters"));
    // Counts are never truncated.
    let regressions = input
        .tests
        .iter()
        .filter(|t| t.verdict == ReportVerdict::Regression)
        .count();
    assert!(
        md.contains(&format!("{regressions} regression")),
        "{}",
        &md[..300]
    );
}

#[test]
fn a_single_item_larger_than_the_limit_is_left_out_not_cut_mid_markup() {
    let mut input = synthetic(3, 2, 2);
    input.tests[0].verdict = ReportVerdict::Error;
    input.tests[0].test_id = "t".repeat(70_000);
    let md = render_markdown(&input);
    assert!(md.len() < MARKDOWN_LIMIT);
    assert!(md.contains("1 more failures not shown"), "{md}");
    // Fences stay balanced.
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );
}

#[test]
fn markup_in_ids_and_reasons_is_inert() {
    let mut input = synthetic(2, 2, 2);
    input.tests[0].verdict = ReportVerdict::Fail;
    input.tests[0].test_id = "a|b`c<script>".to_string();
    input.tests[0].reasons = vec!["*bold* [link](http://x) <img src=x>".to_string()];
    let md = render_markdown(&input);
    assert!(md.contains("``a|b`c<script>``"), "{md}");
    assert!(
        md.contains("\\*bold\\* \\[link\\](http://x) \\<img src=x\\>"),
        "{md}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
    #[test]
    fn any_reason_length_stays_under_the_limit(n in 0usize..200_000, tests in 1usize..400) {
        let mut input = synthetic(tests, 2, 2);
        for t in &mut input.tests {
            t.verdict = ReportVerdict::Invalid;
            t.reasons = vec!["y".repeat(n % 5_000); 1 + n % 7];
        }
        proptest::prop_assert!(render_markdown(&input).len() < MARKDOWN_LIMIT);
    }
}
