//! Golden files of the fixed sample (the example run with its fixed history): the Markdown
//! summary, the Pareto data (points and frontier) and the Pareto SVG.

use std::fmt::Write as _;

use servebench_report::{ReportInput, pareto_groups, render_html, render_markdown};

use crate::sample::{example_report, example_run_dir};

/// The sample with log paths relative to the example run, so goldens do not depend on the
/// checkout's location.
fn fixed() -> ReportInput {
    let mut input = example_report();
    let root = example_run_dir().display().to_string();
    for t in &mut input.tests {
        if let Some(l) = &mut t.logs {
            *l = l.replace(&root, "example-run");
        }
    }
    for r in &mut input.runs {
        r.source = Some("example-run".to_string());
    }
    input
}

#[test]
fn markdown_summary() {
    insta::assert_snapshot!(render_markdown(&fixed()));
}

#[test]
fn pareto_points_and_frontier() {
    let input = fixed();
    let mut out = String::new();
    for g in pareto_groups(&input) {
        let _ = writeln!(
            out,
            "{} | {} | {}",
            g.key.model, g.key.lengths, g.key.gpu_type
        );
        for (i, p) in g.points.iter().enumerate() {
            let _ = writeln!(
                out,
                "  [{i}] {} c={} per_user={:.3} per_gpu={:.3} valid={} frontier={}",
                input.tests[p.test].test_id,
                p.concurrency,
                p.per_user,
                p.per_gpu,
                p.valid,
                p.on_frontier
            );
        }
        let _ = writeln!(out, "  frontier: {:?}", g.frontier);
    }
    insta::assert_snapshot!(out);
}

#[test]
fn pareto_svg() {
    let html = render_html(&fixed());
    let svgs: Vec<String> = html
        .split("<svg class=\"chart pareto\"")
        .skip(1)
        .map(|s| {
            format!(
                "<svg class=\"chart pareto\"{}</svg>",
                s.split("</svg>").next().unwrap_or_default()
            )
        })
        .collect();
    assert!(!svgs.is_empty());
    insta::assert_snapshot!(svgs.join("\n\n").replace("><", ">\n<"));
}
