//! The Markdown summary for CI comments (GitHub, GitLab): verdict counts, regressions and
//! improvements with their deltas, failures with reasons and log links, then log excerpts.
//!
//! It always stays under [`MARKDOWN_LIMIT`] bytes (GitHub refuses comments over 65,536
//! characters): sections fill in that order of priority, each stops at the first item that no
//! longer fits, and a note says how many items were left out. Long reasons and excerpts are cut
//! first. Input text is escaped: test ids go into code spans, reasons are backslash-escaped,
//! so no input becomes markup, HTML or a link.

use std::fmt::Write as _;

use crate::chart::fmt_num;
use crate::html::{metric_title, safe_href};
use crate::model::{ReportInput, ReportVerdict, TestReport};

/// Upper bound (bytes, so also characters) of [`render_markdown`]'s output.
pub const MARKDOWN_LIMIT: usize = 65_000;

/// Room kept for the section notes and the closing truncation note.
const NOTE_RESERVE: usize = 600;
/// Longest reason text kept (characters).
const REASON_CHARS: usize = 400;
/// Lines and characters kept of each log excerpt (its end).
const EXCERPT_LINES: usize = 20;
const EXCERPT_CHARS: usize = 2_000;
/// Run ids listed in the header.
const HEADER_RUNS: usize = 5;

/// Renders the CI summary; see the module docs.
pub fn render_markdown(input: &ReportInput) -> String {
    let mut out = Budget::default();
    out.header(input);
    let changes = |regression: bool| {
        input
            .tests
            .iter()
            .flat_map(move |t| {
                t.changes
                    .iter()
                    .filter(move |c| c.regression == regression)
                    .map(move |c| (t, c))
            })
            .map(|(t, c)| {
                let delta = c
                    .delta_pct()
                    .map_or_else(|| "n/a".to_string(), |d| format!("{d:+.1}%"));
                format!(
                    "| {} | {} | {} | {} | {} | {} |\n",
                    code(&t.test_id, true),
                    metric_title(&c.metric),
                    c.concurrency,
                    fmt_num(c.baseline),
                    fmt_num(c.value),
                    delta
                )
            })
            .collect::<Vec<_>>()
    };
    const CHANGE_HEAD: &str = "| test | metric | concurrency | baseline | this run | change |\n\
                               |---|---|---:|---:|---:|---:|\n";
    out.section("Regressions", CHANGE_HEAD, "regressions", changes(true));
    let failures: Vec<&TestReport> = input
        .tests
        .iter()
        .filter(|t| {
            matches!(
                t.verdict,
                ReportVerdict::Fail | ReportVerdict::Invalid | ReportVerdict::Error
            )
        })
        .collect();
    out.section(
        "Failures",
        "",
        "failures",
        failures.iter().map(|t| failure_line(input, t)).collect(),
    );
    out.section("Improvements", CHANGE_HEAD, "improvements", changes(false));
    out.section(
        "Log excerpts",
        "",
        "log excerpts",
        failures
            .iter()
            .flat_map(|t| t.excerpts.iter().map(move |e| (t, e)))
            .map(|(t, e)| {
                let at = e
                    .concurrency
                    .map_or_else(String::new, |c| format!(", concurrency {c}"));
                let text = tail(&e.text);
                let fence = "`".repeat(longest_run(&text, '`').max(2) + 1);
                format!(
                    "<details><summary>{} {}{at}</summary>\n\n{fence}text\n{text}\n{fence}\n\n</details>\n\n",
                    code(&t.test_id, false),
                    code(&e.source, false),
                )
            })
            .collect(),
    );
    out.finish()
}

/// One failure: verdict, test id, a link to its logs, the reasons.
fn failure_line(input: &ReportInput, t: &TestReport) -> String {
    let logs = t
        .logs
        .as_deref()
        .and_then(|l| safe_href(l, ""))
        .map_or_else(String::new, |href| format!(" ([logs]({}))", url(&href)));
    let run = if input.runs.len() > 1 {
        input
            .runs
            .get(t.run)
            .map_or_else(String::new, |r| format!(" in {}", code(&r.id, false)))
    } else {
        String::new()
    };
    let reasons = if t.reasons.is_empty() {
        "no reason recorded".to_string()
    } else {
        text(&cut(&t.reasons.join("; "), REASON_CHARS))
    };
    format!(
        "- **{}** {}{run}{logs}: {reasons}\n",
        t.verdict,
        code(&t.test_id, false)
    )
}

/// The output under construction, with what was left out.
#[derive(Default)]
struct Budget {
    out: String,
    omitted: Vec<String>,
    sections: usize,
}

impl Budget {
    fn room(&self) -> usize {
        MARKDOWN_LIMIT.saturating_sub(self.out.len() + NOTE_RESERVE)
    }

    fn header(&mut self, input: &ReportInput) {
        let counts: Vec<String> = ReportVerdict::ALL
            .iter()
            .filter_map(|v| {
                let n = input.tests.iter().filter(|t| t.verdict == *v).count();
                (n > 0).then(|| format!("{n} {v}"))
            })
            .collect();
        let mut runs: Vec<String> = input
            .runs
            .iter()
            .take(HEADER_RUNS)
            .map(|r| code(&cut(&r.id, 80), false))
            .collect();
        if input.runs.len() > HEADER_RUNS {
            runs.push(format!("and {} more", input.runs.len() - HEADER_RUNS));
        }
        let _ = writeln!(self.out, "### servebench: {} test(s)\n", input.tests.len());
        let _ = writeln!(
            self.out,
            "**{}**{}\n",
            if counts.is_empty() {
                "no tests".to_string()
            } else {
                counts.join(" · ")
            },
            if runs.is_empty() {
                String::new()
            } else {
                format!(" (run {})", runs.join(", "))
            }
        );
    }

    /// `#### {title} ({n})`, `head`, then as many items as fit; a note counts the rest.
    fn section(&mut self, title: &str, head: &str, noun: &str, items: Vec<String>) {
        if items.is_empty() {
            return;
        }
        self.sections += 1;
        let heading = format!("#### {title} ({})\n\n{head}", items.len());
        if heading.len() > self.room() {
            self.omitted.push(format!("{} {noun}", items.len()));
            return;
        }
        self.out.push_str(&heading);
        let total = items.len();
        let mut shown = 0;
        for item in items {
            if item.len() > self.room() {
                break;
            }
            self.out.push_str(&item);
            shown += 1;
        }
        if shown < total {
            let _ = writeln!(self.out, "\n… {} more {noun} not shown", total - shown);
            self.omitted.push(format!("{} {noun}", total - shown));
        }
        self.out.push('\n');
    }

    fn finish(mut self) -> String {
        if self.sections == 0 {
            self.out
                .push_str("No regressions, improvements or failures.\n");
        }
        if !self.omitted.is_empty() {
            let _ = writeln!(
                self.out,
                "_Truncated to stay under {MARKDOWN_LIMIT} characters ({} left out); the HTML \
                 report has everything._",
                self.omitted.join(", ")
            );
        }
        self.out
    }
}

/// `s` as an inline code span: newlines flattened, a fence longer than any backtick run in
/// it; `|` escaped inside tables.
fn code(s: &str, in_table: bool) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = if in_table {
        flat.replace('|', "\\|")
    } else {
        flat
    };
    let fence = "`".repeat(longest_run(&flat, '`') + 1);
    let pad = if flat.starts_with('`') || flat.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{flat}{pad}{fence}")
}

/// Plain text with Markdown and HTML punctuation backslash-escaped, on one line.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A link target with the characters that end or break one percent-encoded.
fn url(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '"' => out.push_str("%22"),
            '`' => out.push_str("%60"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters, with `…` when cut.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The last lines of an excerpt, at most [`EXCERPT_CHARS`] characters.
fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.trim_end().lines().collect();
    let kept = lines
        .get(lines.len().saturating_sub(EXCERPT_LINES)..)
        .unwrap_or_default()
        .join("\n");
    let n = kept.chars().count();
    if n <= EXCERPT_CHARS {
        kept
    } else {
        let skip = kept
            .char_indices()
            .nth(n - EXCERPT_CHARS)
            .map_or(0, |(i, _)| i);
        format!("…{}", &kept[skip..])
    }
}

/// Longest run of `c` in `s`.
fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for ch in s.chars() {
        if ch == c {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_run_says_so() {
        let mut input = ReportInput::default();
        input.tests.push(TestReport::default());
        let md = render_markdown(&input);
        assert!(md.contains("**1 pass**"), "{md}");
        assert!(
            md.ends_with("No regressions, improvements or failures.\n"),
            "{md}"
        );
    }

    #[test]
    fn code_spans_survive_backticks_and_pipes() {
        assert_eq!(code("a`b", false), "``a`b``");
        assert_eq!(code("`x", false), "`` `x ``");
        assert_eq!(code("a|b", true), "`a\\|b`");
        assert_eq!(code("a\nb", false), "`a b`");
    }

    #[test]
    fn text_escapes_markup_and_html() {
        assert_eq!(
            text("<script>*x*</script>"),
            "\\<script\\>\\*x\\*\\</script\\>"
        );
        assert_eq!(url("a b(c)"), "a%20b%28c%29");
    }

    #[test]
    fn cut_and_tail_keep_the_ends_that_matter() {
        assert_eq!(cut("héllo", 2), "hé…");
        assert_eq!(cut("hi", 5), "hi");
        let log: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let t = tail(&log);
        assert!(t.starts_with("line 80") && t.ends_with("line 99"));
    }
}
