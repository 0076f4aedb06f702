//! JUnit XML (SPEC 11.1): one `<testsuite>` per test case, one `<testcase>` per concurrency.
//!
//! Written with a small escaping writer rather than `quick-junit`: the document is a handful
//! of elements, the output is byte-deterministic (no timestamps, no host names), and the crate
//! keeps no XML dependency. Text is escaped (`& < > " '`), and characters XML 1.0 forbids
//! (control characters other than tab, newline and carriage return) become U+FFFD.
//!
//! Mapping: a `Pass` case's testcases pass; `Invalid`/`Fail` put a `<failure>` on each
//! concurrency with a failing check (or on every one for a case-wide check), its message the
//! failing checks and its body the checks and a log excerpt; `Error` puts an `<error>` with
//! the reason on every requested concurrency (one testcase named `job` when none was
//! requested); `Skipped` is one `<skipped>` testcase named `benchmark`. Each testcase's
//! `<system-out>` lists its metrics.

use std::fmt::Write as _;
use std::io;

use crate::model::{CaseResult, Check, Verdict};

/// Escapes text for an XML attribute or element.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Attribute values keep one line.
fn attr(s: &str) -> String {
    escape(&s.replace(['\n', '\r', '\t'], " "))
}

enum Outcome {
    Pass,
    Failure {
        kind: &'static str,
        message: String,
        body: String,
    },
    Error {
        message: String,
        body: String,
    },
    Skipped {
        message: String,
    },
}

struct TestCase {
    name: String,
    time: f64,
    outcome: Outcome,
    out: String,
}

fn check_lines(checks: &[&Check]) -> String {
    checks
        .iter()
        .map(|c| {
            format!(
                "{} {}{}: {}",
                if c.passed { "ok  " } else { "FAIL" },
                c.name,
                c.repeat
                    .filter(|&r| r > 0)
                    .map(|r| format!(" (repeat {r})"))
                    .unwrap_or_default(),
                c.detail
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn excerpt_for(case: &CaseResult, concurrency: Option<u64>) -> String {
    let mut out = String::new();
    for e in case
        .excerpts
        .iter()
        .filter(|e| e.concurrency.is_none() || e.concurrency == concurrency)
    {
        let _ = write!(
            out,
            "\n\n--- {} (last lines) ---\n{}",
            e.source.display(),
            e.text
        );
    }
    out
}

fn cases_of(case: &CaseResult) -> Vec<TestCase> {
    let mut concurrencies = case.requested.clone();
    for p in &case.points {
        if !concurrencies.contains(&p.concurrency) {
            concurrencies.push(p.concurrency);
        }
    }
    if matches!(case.verdict, Verdict::Skipped | Verdict::Xfail) {
        return vec![TestCase {
            name: "benchmark".into(),
            time: 0.0,
            outcome: Outcome::Skipped {
                message: case.reason.clone().unwrap_or_default(),
            },
            out: String::new(),
        }];
    }
    let gates: Vec<&Check> = case
        .checks
        .iter()
        .filter(|k| k.name.starts_with(crate::gates::ACCURACY_CHECK))
        .collect();
    if concurrencies.is_empty() && case.verdict != Verdict::Error && !gates.is_empty() {
        // An accuracy-only case: one testcase per accuracy gate.
        return gates
            .iter()
            .map(|k| TestCase {
                name: k.name.clone(),
                time: 0.0,
                outcome: if k.passed {
                    Outcome::Pass
                } else {
                    Outcome::Failure {
                        kind: "fail",
                        message: k.detail.clone(),
                        body: format!("{}{}", k.detail, excerpt_for(case, None)),
                    }
                },
                out: k.detail.clone(),
            })
            .collect();
    }
    if concurrencies.is_empty() {
        let message = case.reason.clone().unwrap_or_else(|| "no result".into());
        return vec![TestCase {
            name: "job".into(),
            time: case.duration_s.unwrap_or(0.0),
            outcome: Outcome::Error {
                body: format!("{message}{}", excerpt_for(case, None)),
                message,
            },
            out: String::new(),
        }];
    }
    concurrencies
        .iter()
        .map(|&c| {
            let points: Vec<_> = case.points.iter().filter(|p| p.concurrency == c).collect();
            let time = points
                .iter()
                .filter_map(|p| p.metrics.get("duration_s"))
                .fold(0.0, |a, b| a + b);
            let mut out = String::new();
            for p in &points {
                let _ = writeln!(
                    out,
                    "concurrency {} (listed {}), repeat {}, from {} ({}{})",
                    p.concurrency,
                    p.listed,
                    p.repeat,
                    p.source.display(),
                    p.format,
                    if p.complete { "" } else { ", partial" }
                );
                for (k, v) in &p.metrics {
                    let _ = writeln!(out, "  {k} = {v}");
                }
            }
            let checks: Vec<&Check> = case.checks_for(c).collect();
            let failing: Vec<&Check> = checks.iter().copied().filter(|k| !k.passed).collect();
            let outcome = match case.verdict {
                Verdict::Pass | Verdict::Skipped | Verdict::Xfail | Verdict::Xpass => Outcome::Pass,
                Verdict::Error => {
                    let message = case.reason.clone().unwrap_or_else(|| "error".into());
                    Outcome::Error {
                        body: format!(
                            "{message}\n\n{}{}",
                            check_lines(&checks),
                            excerpt_for(case, Some(c))
                        ),
                        message,
                    }
                }
                Verdict::Invalid | Verdict::Fail if failing.is_empty() => {
                    if case.verdict == Verdict::Fail && case.checks.iter().all(|k| k.passed) {
                        let message = case.reason.clone().unwrap_or_else(|| "failed".into());
                        Outcome::Failure {
                            kind: "fail",
                            body: message.clone(),
                            message,
                        }
                    } else {
                        Outcome::Pass
                    }
                }
                v => {
                    let message = failing
                        .iter()
                        .map(|k| k.detail.as_str())
                        .collect::<Vec<_>>()
                        .join("; ");
                    Outcome::Failure {
                        kind: if v == Verdict::Fail {
                            "fail"
                        } else {
                            "invalid"
                        },
                        body: format!("{}{}", check_lines(&checks), excerpt_for(case, Some(c))),
                        message,
                    }
                }
            };
            TestCase {
                name: format!("concurrency_{c}"),
                time,
                outcome,
                out,
            }
        })
        .collect()
}

/// Writes the JUnit document for `cases`.
pub fn write_junit(cases: &[CaseResult], out: &mut dyn io::Write) -> io::Result<()> {
    let suites: Vec<(&CaseResult, Vec<TestCase>)> =
        cases.iter().map(|c| (c, cases_of(c))).collect();
    let count =
        |tcs: &[TestCase], f: fn(&Outcome) -> bool| tcs.iter().filter(|t| f(&t.outcome)).count();
    let is_fail = |o: &Outcome| matches!(o, Outcome::Failure { .. });
    let is_err = |o: &Outcome| matches!(o, Outcome::Error { .. });
    let is_skip = |o: &Outcome| matches!(o, Outcome::Skipped { .. });
    let all: Vec<&TestCase> = suites.iter().flat_map(|(_, t)| t.iter()).collect();
    let total_time: f64 = suites
        .iter()
        .map(|(c, t)| {
            c.duration_s
                .unwrap_or_else(|| t.iter().map(|x| x.time).fold(0.0, |a, b| a + b))
        })
        .fold(0.0, |a, b| a + b);
    let mut s = String::new();
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        // The Jenkins JUnit schema has no `skipped` on <testsuites> (each <testsuite> has it).
        "<testsuites name=\"servebench\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\">",
        all.len(),
        all.iter().filter(|t| is_fail(&t.outcome)).count(),
        all.iter().filter(|t| is_err(&t.outcome)).count(),
        total_time
    );
    for (case, tcs) in &suites {
        let time = case
            .duration_s
            .unwrap_or_else(|| tcs.iter().map(|x| x.time).fold(0.0, |a, b| a + b));
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            attr(&case.test_id),
            tcs.len(),
            count(tcs, is_fail),
            count(tcs, is_err),
            count(tcs, is_skip),
            time
        );
        let _ = writeln!(
            s,
            "    <properties>\n      <property name=\"verdict\" value=\"{}\"/>\n    </properties>",
            case.verdict
        );
        for t in tcs {
            let _ = write!(
                s,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                attr(&case.test_id),
                attr(&t.name),
                t.time
            );
            if matches!(t.outcome, Outcome::Pass) && t.out.is_empty() {
                s.push_str("/>\n");
                continue;
            }
            s.push_str(">\n");
            match &t.outcome {
                Outcome::Pass => {}
                Outcome::Failure {
                    kind,
                    message,
                    body,
                } => {
                    let _ = writeln!(
                        s,
                        "      <failure type=\"{kind}\" message=\"{}\">{}</failure>",
                        attr(message),
                        escape(body)
                    );
                }
                Outcome::Error { message, body } => {
                    let _ = writeln!(
                        s,
                        "      <error type=\"error\" message=\"{}\">{}</error>",
                        attr(message),
                        escape(body)
                    );
                }
                Outcome::Skipped { message } => {
                    let _ = writeln!(s, "      <skipped message=\"{}\"/>", attr(message));
                }
            }
            if !t.out.is_empty() {
                let _ = writeln!(s, "      <system-out>{}</system-out>", escape(&t.out));
            }
            s.push_str("    </testcase>\n");
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    out.write_all(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            escape("a<b>&\"c\"'\u{1}\tok"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;\u{fffd}\tok"
        );
        assert_eq!(attr("two\nlines"), "two lines");
    }
}
