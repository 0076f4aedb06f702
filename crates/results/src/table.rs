//! The terminal results table: one row per point (concurrency and repeat), one row for a case
//! without points, then a summary line. Plain text (no colour): the CLI decides on styling.

use std::fmt::Write as _;

use crate::metrics;
use crate::model::{CaseResult, PointResult, Verdict};

const HEADERS: [&str; 10] = [
    "TEST",
    "C",
    "VERDICT",
    "REQS",
    "OUT TOK/S",
    "TOK/S/GPU",
    "TTFT p50",
    "TPOT p50",
    "E2EL p50",
    "NOTE",
];

/// Columns aligned right (numbers).
const RIGHT: [bool; 10] = [
    false, true, false, true, true, true, true, true, true, false,
];

fn num(p: &PointResult, key: &str, digits: usize) -> String {
    p.metrics
        .get(key)
        .map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
}

fn reqs(p: &PointResult) -> String {
    match (
        p.metrics.get(metrics::COMPLETED),
        p.metrics.get(metrics::FAILED),
    ) {
        (Some(c), Some(f)) if *f > 0.0 => format!("{c}/{} ({f} failed)", c + f),
        (Some(c), _) => format!("{c}"),
        _ => "-".into(),
    }
}

fn point_row(case: &CaseResult, p: &PointResult, note: String) -> [String; 10] {
    let own_checks_pass = case
        .checks
        .iter()
        .filter(|k| k.concurrency == Some(p.concurrency) && k.repeat == Some(p.repeat))
        .all(|k| k.passed);
    // In an invalid case, a point whose own checks held is shown as `ok`.
    let verdict = if case.verdict == Verdict::Invalid && own_checks_pass {
        "ok".to_string()
    } else {
        case.verdict.label().to_string()
    };
    let note = if note.is_empty() && matches!(case.verdict, Verdict::Error | Verdict::Fail) {
        case.reason.clone().unwrap_or_default()
    } else {
        note
    };
    [
        case.test_id.clone(),
        if p.repeat > 0 {
            format!("{} r{}", p.concurrency, p.repeat)
        } else {
            p.concurrency.to_string()
        },
        verdict,
        reqs(p),
        num(p, metrics::OUTPUT_TOKEN_THROUGHPUT, 1),
        num(p, metrics::OUTPUT_TOKEN_THROUGHPUT_PER_GPU, 1),
        num(p, "median_ttft_ms", 2),
        num(p, "median_tpot_ms", 2),
        num(p, "median_e2el_ms", 2),
        note,
    ]
}

/// Renders the table for `cases`.
pub fn render_table(cases: &[CaseResult]) -> String {
    let mut rows: Vec<[String; 10]> = Vec::new();
    for case in cases {
        let first_note = |c: u64, r: u64| -> String {
            case.checks
                .iter()
                .find(|k| !k.passed && k.concurrency == Some(c) && k.repeat == Some(r))
                .map(|k| k.detail.clone())
                .unwrap_or_default()
        };
        if case.points.is_empty() {
            rows.push([
                case.test_id.clone(),
                "-".into(),
                case.verdict.label().into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                case.reason.clone().unwrap_or_default(),
            ]);
            continue;
        }
        // Requested order; a requested concurrency with no result gets a row of its own.
        let mut order = case.requested.clone();
        for p in &case.points {
            if !order.contains(&p.concurrency) {
                order.push(p.concurrency);
            }
        }
        for c in order {
            let points: Vec<&PointResult> =
                case.points.iter().filter(|p| p.concurrency == c).collect();
            if points.is_empty() {
                let note = if case.verdict == Verdict::Error {
                    case.reason.clone().unwrap_or_default()
                } else {
                    first_note(c, 0)
                };
                rows.push([
                    case.test_id.clone(),
                    c.to_string(),
                    case.verdict.label().into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    note,
                ]);
            }
            for p in points {
                rows.push(point_row(case, p, first_note(p.concurrency, p.repeat)));
            }
        }
    }
    let mut widths = HEADERS.map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            let last = i + 1 == cells.len();
            if RIGHT.get(i).copied().unwrap_or(false) {
                let _ = write!(l, "{cell:>w$}");
            } else if last {
                l.push_str(cell);
            } else {
                let _ = write!(l, "{cell:<w$}");
            }
            if !last {
                l.push_str("  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&HEADERS.map(String::from));
    for r in &rows {
        line(r);
    }
    let count = |v: Verdict| cases.iter().filter(|c| c.verdict == v).count();
    let _ = writeln!(
        out,
        "{} test case(s): {} passed, {} failed, {} invalid, {} errors, {} skipped",
        cases.len(),
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Invalid),
        count(Verdict::Error),
        count(Verdict::Skipped)
    );
    let (xfail, xpass) = (count(Verdict::Xfail), count(Verdict::Xpass));
    let unstable = cases
        .iter()
        .filter(|c| c.unstable.is_some() && !c.is_ok_without_rule())
        .count();
    if xfail + xpass + unstable > 0 {
        let _ = writeln!(
            out,
            "test list markers: {xfail} xfail, {xpass} xpass, {unstable} unstable failure(s) not failing the run"
        );
    }
    out
}
