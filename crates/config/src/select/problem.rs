//! Diagnostics for test lists: parse errors, unmatched lines, duplicates.

use std::fmt;

/// How bad a list problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Reported; the run goes on.
    Warning,
    /// The selection fails.
    Error,
}

/// One problem in a test list, located at `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListProblem {
    /// The list's name (its path as given).
    pub file: String,
    /// 1-based line; 0 when the problem concerns the whole list.
    pub line: usize,
    /// 1-based character column; 0 when not tied to a column.
    pub column: usize,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl ListProblem {
    pub(crate) fn error(file: &str, line: usize, column: usize, kind: ProblemKind) -> ListProblem {
        ListProblem {
            file: file.to_owned(),
            line,
            column,
            severity: Severity::Error,
            kind,
        }
    }

    pub(crate) fn warning(
        file: &str,
        line: usize,
        column: usize,
        kind: ProblemKind,
    ) -> ListProblem {
        ListProblem {
            file: file.to_owned(),
            line,
            column,
            severity: Severity::Warning,
            kind,
        }
    }

    /// Whether this problem fails the selection.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for ListProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if self.column > 0 {
                write!(f, ":{}", self.column)?;
            }
        }
        let severity = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, ": {severity}: {}", self.kind)
    }
}

/// The kinds of list problems.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProblemKind {
    /// A `::` node id of an unknown shape.
    #[error(
        "unrecognised pytest node id `{text}`; expected `test_disagg.py::TestDisaggBenchmark::\
         {{test_benchmark|test_accuracy|test_stress}}[<test id>]` or `perf/test_perf_sanity.py::test_e2e[<case>]`"
    )]
    BadNodeId {
        /// The reference as written.
        text: String,
    },
    /// A `test_e2e[...]` case of an unknown shape.
    #[error(
        "unrecognised perf-sanity case `{case}`; expected `disagg[_upload]-[e2e-|gen_only-]<config>`, \
         `aggr[_upload]-<config file>-<server name>` or `aggr[_upload]-ctx_only-<config>`"
    )]
    BadCase {
        /// The text in brackets.
        case: String,
    },
    /// Text after the test name that is not a marker.
    #[error(
        "unexpected `{word}` after the test name{}; expected a marker: TIMEOUT (N), SKIP (reason), \
         XFAIL (reason), UNSTABLE (reason) or ISOLATION",
        hint.as_ref().map(|h| format!(" (did you mean `{h}`?)")).unwrap_or_default()
    )]
    UnexpectedText {
        /// The unexpected word.
        word: String,
        /// The marker it resembles, if any.
        hint: Option<String>,
    },
    /// `TIMEOUT` without `(N)`, N digits only and at least 1 (upstream's wording).
    #[error(
        "Invalid syntax for TIMEOUT value: \"{raw}\". Expected a numeric value in parentheses."
    )]
    InvalidTimeout {
        /// What followed `TIMEOUT`.
        raw: String,
    },
    /// `SKIP`/`XFAIL`/`UNSTABLE` without a parenthesised reason.
    #[error("{marker} needs a reason in parentheses, e.g. `{marker} (nvbugs 123)`")]
    MissingReason {
        /// The marker keyword.
        marker: String,
    },
    /// A second marker on a line (only the first counts, as upstream).
    #[error("marker {ignored} ignored: only the first marker counts ({counted} here)")]
    IgnoredMarker {
        /// The marker ignored.
        ignored: &'static str,
        /// The marker that counts.
        counted: &'static str,
    },
    /// A list with no test lines.
    #[error("the list names no tests")]
    EmptyList,
    /// A line that matches no test case.
    #[error(
        "`{reference}` matches no test{}{}",
        note.as_ref().map(|n| format!("; {n}")).unwrap_or_default(),
        suggestion_text(suggestions)
    )]
    Unmatched {
        /// What the line names (test id, case or config name).
        reference: String,
        /// The closest names, best first.
        suggestions: Vec<String>,
        /// Extra explanation (e.g. old colon-style ids).
        note: Option<String>,
    },
    /// A line that matches tests it cannot tell apart.
    #[error("`{reference}` is ambiguous: it matches {}", candidates.join(", "))]
    Ambiguous {
        /// What the line names.
        reference: String,
        /// The test ids it matches.
        candidates: Vec<String>,
    },
    /// A test-db file that is not shaped as expected (the message says what was expected).
    #[error("{message}")]
    BadTestDb {
        /// What is wrong and what was expected.
        message: String,
    },
    /// A waives line without `SKIP (reason)`.
    #[error(
        "a waive needs `SKIP (reason)` after the test name, e.g. `<test> SKIP (https://nvbugs/123)`"
    )]
    WaiveWithoutSkip,
    /// A test listed twice (with the same benchmark mode).
    #[error("`{reference}` is already listed at {first}; this line is ignored")]
    Duplicate {
        /// What the line names.
        reference: String,
        /// `file:line` of the first listing.
        first: String,
    },
}

fn suggestion_text(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!(" (did you mean `{one}`?)"),
        many => format!(
            " (did you mean one of {}?)",
            many.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
