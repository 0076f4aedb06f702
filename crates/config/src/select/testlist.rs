//! Test lists: the entries of a list file, what each line refers to, and the plain-text parser.
//!
//! A [`TestList`] is source-agnostic: the plain-text parser here is one producer; test-db YAML lists
//! (`super::testdb`) produce the same [`ListEntry`] values, with the condition blocks they came
//! from, and reuse the resolver.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use super::problem::{ListProblem, ProblemKind};
use super::testdb::Block;

/// A parsed test list: its entries plus every problem found while parsing.
///
/// Parsing never fails on content; problems are kept and reported together with the lines that
/// match no test when the list is resolved (see [`super::Selection::select`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TestList {
    /// How the list is named in diagnostics (the path as given).
    pub name: String,
    /// One entry per test line, in file order.
    pub entries: Vec<ListEntry>,
    /// Parse errors and warnings, in file order.
    pub problems: Vec<ListProblem>,
    /// test-db condition blocks (empty for a plain-text list); entries point into it.
    pub blocks: Vec<Block>,
}

/// One test line of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// 1-based line number.
    pub line: usize,
    /// 1-based character column where the test reference starts.
    pub column: usize,
    /// What the line refers to.
    pub reference: TestRef,
    /// The marker that counts (only the first one, as upstream).
    pub marker: Option<ListMarker>,
    /// Index into [`TestList::blocks`] of the test-db block holding the line.
    pub block: Option<usize>,
}

/// What a list line names, before it is matched against the discovered test cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestRef {
    /// A servebench test id or display name.
    Name(String),
    /// `test_disagg.py::TestDisaggBenchmark::<function>[<test_id>]`.
    DisaggNode {
        /// The test function named in the node id.
        function: DisaggFunction,
        /// The test id in brackets.
        test_id: String,
    },
    /// `perf/test_perf_sanity.py::test_e2e[<case>]`.
    PerfSanity(PerfSanityCase),
}

/// The three test functions of upstream's `TestDisaggBenchmark`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisaggFunction {
    /// `test_benchmark`
    Benchmark,
    /// `test_accuracy`
    Accuracy,
    /// `test_stress`
    Stress,
}

/// A `test_perf_sanity.py::test_e2e` case: `<prefix>-[<mode>-]<rest>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerfSanityCase {
    /// `disagg`, `disagg_upload`, `aggr` or `aggr_upload`.
    pub prefix: CasePrefix,
    /// The benchmark mode token, when the case has one.
    pub mode: Option<BenchmarkMode>,
    /// A config file stem, or for aggregated cases without a mode `<config file>-<server name>`.
    pub rest: String,
}

/// The first token of a perf-sanity case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasePrefix {
    /// `disagg-`
    Disagg,
    /// `disagg_upload-`
    DisaggUpload,
    /// `aggr-`
    Aggr,
    /// `aggr_upload-`
    AggrUpload,
}

impl CasePrefix {
    /// Whether the case runs a disaggregated config (as opposed to an aggregated server).
    pub fn is_disagg(self) -> bool {
        matches!(self, CasePrefix::Disagg | CasePrefix::DisaggUpload)
    }
}

/// A benchmark mode requested by a list line (`disagg_upload-gen_only-<cfg>`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BenchmarkMode {
    /// `e2e`: context and generation servers.
    E2e,
    /// `gen_only`: generation-only benchmark.
    GenOnly,
    /// `gen_only_no_context`: generation-only with no context servers started.
    GenOnlyNoContext,
    /// `ctx_only`: the context worker run as an aggregated server.
    CtxOnly,
}

impl BenchmarkMode {
    /// The token as written in case names and configs.
    pub fn as_str(self) -> &'static str {
        match self {
            BenchmarkMode::E2e => "e2e",
            BenchmarkMode::GenOnly => "gen_only",
            BenchmarkMode::GenOnlyNoContext => "gen_only_no_context",
            BenchmarkMode::CtxOnly => "ctx_only",
        }
    }
}

impl fmt::Display for BenchmarkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A marker at the end of a list line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListMarker {
    /// `TIMEOUT (N)`: a per-test timeout of N minutes.
    Timeout {
        /// The number in parentheses (minutes).
        minutes: u32,
    },
    /// `SKIP (reason)`: listed but not run.
    Skip {
        /// Text in parentheses.
        reason: String,
        /// Whether a waives file (`--waives`) put it there rather than the list line.
        waived: bool,
    },
    /// `XFAIL (reason)`: run; a failure is expected.
    Xfail {
        /// Text in parentheses.
        reason: String,
    },
    /// `UNSTABLE (reason)`: run; a failure does not fail the suite.
    Unstable {
        /// Text in parentheses.
        reason: String,
    },
    /// `ISOLATION`: run in its own process.
    Isolation,
}

impl ListMarker {
    /// The per-test timeout a `TIMEOUT (N)` marker asks for.
    pub fn timeout(&self) -> Option<Duration> {
        match self {
            ListMarker::Timeout { minutes } => Some(Duration::from_secs(u64::from(*minutes) * 60)),
            _ => None,
        }
    }

    /// The marker keyword (`TIMEOUT`, `SKIP`, ...).
    pub fn keyword(&self) -> &'static str {
        match self {
            ListMarker::Timeout { .. } => "TIMEOUT",
            ListMarker::Skip { .. } => "SKIP",
            ListMarker::Xfail { .. } => "XFAIL",
            ListMarker::Unstable { .. } => "UNSTABLE",
            ListMarker::Isolation => "ISOLATION",
        }
    }
}

impl fmt::Display for ListMarker {
    /// As written in a list (`TIMEOUT (90)`, `SKIP (reason)`, ...); a waived skip adds `[waived]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListMarker::Timeout { minutes } => write!(f, "TIMEOUT ({minutes})"),
            ListMarker::Skip { reason, waived } => {
                write!(f, "SKIP ({reason})")?;
                if *waived {
                    f.write_str(" [waived]")?;
                }
                Ok(())
            }
            ListMarker::Xfail { reason } => write!(f, "XFAIL ({reason})"),
            ListMarker::Unstable { reason } => write!(f, "UNSTABLE ({reason})"),
            ListMarker::Isolation => f.write_str("ISOLATION"),
        }
    }
}

/// Marker keywords in upstream's check order; when a line carries several, the earliest one in this
/// order is the one that counts (upstream `test_list_parser.py`).
const MARKER_ORDER: [&str; 5] = ["XFAIL", "SKIP", "UNSTABLE", "TIMEOUT", "ISOLATION"];

const DISAGG_NODE_PREFIX: &str = "test_disagg.py::TestDisaggBenchmark::";
const PERF_SANITY_PREFIX: &str = "perf/test_perf_sanity.py::test_e2e[";

/// Why a test list could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot read test list {path}")]
pub struct ListReadError {
    /// The path as given.
    pub path: String,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

impl TestList {
    /// Reads and parses a plain-text list file.
    pub fn read(path: &Path) -> Result<TestList, ListReadError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| ListReadError {
            path: name.clone(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        if super::testdb::looks_like_test_db(path, &text) {
            return Ok(TestList::parse_test_db(&name, &text));
        }
        Ok(TestList::parse_text(&name, &text))
    }

    /// Parses plain-text list content; `name` labels diagnostics.
    pub fn parse_text(name: &str, text: &str) -> TestList {
        let mut list = TestList::empty(name);
        for (i, raw) in text.lines().enumerate() {
            list.parse_line(i + 1, 0, raw, None);
        }
        list.warn_if_empty();
        list
    }

    pub(crate) fn empty(name: &str) -> TestList {
        TestList {
            name: name.to_owned(),
            entries: Vec::new(),
            problems: Vec::new(),
            blocks: Vec::new(),
        }
    }

    pub(crate) fn warn_if_empty(&mut self) {
        if self.entries.is_empty() && self.problems.is_empty() {
            self.problems.push(ListProblem::warning(
                &self.name,
                0,
                0,
                ProblemKind::EmptyList,
            ));
        }
    }

    /// Parses one line (or one test-db `tests:` item whose text starts after column `offset`)
    /// into an entry, or records its problems.
    pub(crate) fn parse_line(
        &mut self,
        line: usize,
        offset: usize,
        raw: &str,
        block: Option<usize>,
    ) {
        // Everything from the first `#` is a comment (as upstream).
        let content = raw.split('#').next().unwrap_or("");
        let chars: Chars = content
            .chars()
            .enumerate()
            .map(|(i, c)| (offset + i + 1, c))
            .collect();
        let mut pos = skip_ws(&chars, 0);
        let Some(&(column, _)) = chars.get(pos) else {
            return; // blank or comment-only
        };
        // The reference runs to the first whitespace outside brackets.
        let mut depth = 0usize;
        let start = pos;
        while let Some(&(_, c)) = chars.get(pos) {
            match c {
                '[' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                c if c.is_whitespace() && depth == 0 => break,
                _ => {}
            }
            pos += 1;
        }
        let text: String = chars
            .get(start..pos)
            .unwrap_or_default()
            .iter()
            .map(|&(_, c)| c)
            .collect();
        let reference = match parse_reference(&text) {
            Ok(r) => r,
            Err(kind) => {
                self.problems
                    .push(ListProblem::error(&self.name, line, column, kind));
                return;
            }
        };
        // A line whose markers do not parse is reported once, not resolved as well.
        let Ok(marker) = parse_markers(self, line, &chars, pos) else {
            return;
        };
        self.entries.push(ListEntry {
            line,
            column,
            reference,
            marker,
            block,
        });
    }

    /// Whether any problem is an error (warnings alone do not stop a run).
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(ListProblem::is_error)
    }
}

/// Characters of a line with their 1-based columns.
type Chars = Vec<(usize, char)>;

fn skip_ws(chars: &Chars, mut pos: usize) -> usize {
    while chars.get(pos).is_some_and(|&(_, c)| c.is_whitespace()) {
        pos += 1;
    }
    pos
}

fn parse_reference(text: &str) -> Result<TestRef, ProblemKind> {
    if let Some(rest) = text.strip_prefix(DISAGG_NODE_PREFIX) {
        let (function, inner) = bracketed(rest).ok_or_else(|| bad_node(text))?;
        let function = match function {
            "test_benchmark" => DisaggFunction::Benchmark,
            "test_accuracy" => DisaggFunction::Accuracy,
            "test_stress" => DisaggFunction::Stress,
            _ => return Err(bad_node(text)),
        };
        if inner.is_empty() {
            return Err(bad_node(text));
        }
        return Ok(TestRef::DisaggNode {
            function,
            test_id: inner.to_owned(),
        });
    }
    if let Some(rest) = text.strip_prefix(PERF_SANITY_PREFIX) {
        let case = rest.strip_suffix(']').ok_or_else(|| bad_node(text))?;
        return parse_case(case)
            .map(TestRef::PerfSanity)
            .ok_or_else(|| ProblemKind::BadCase {
                case: case.to_owned(),
            });
    }
    if text.contains("::") {
        return Err(bad_node(text));
    }
    Ok(TestRef::Name(text.to_owned()))
}

fn bad_node(text: &str) -> ProblemKind {
    ProblemKind::BadNodeId {
        text: text.to_owned(),
    }
}

/// Splits `func[inner]` into `("func", "inner")`.
fn bracketed(s: &str) -> Option<(&str, &str)> {
    let open = s.find('[')?;
    let inner = s.get(open + 1..)?.strip_suffix(']')?;
    Some((s.get(..open)?, inner))
}

fn parse_case(case: &str) -> Option<PerfSanityCase> {
    let (prefix, rest) = case.split_once('-')?;
    let prefix = match prefix {
        "disagg" => CasePrefix::Disagg,
        "disagg_upload" => CasePrefix::DisaggUpload,
        "aggr" => CasePrefix::Aggr,
        "aggr_upload" => CasePrefix::AggrUpload,
        _ => return None,
    };
    let modes: &[BenchmarkMode] = if prefix.is_disagg() {
        &[
            BenchmarkMode::E2e,
            BenchmarkMode::GenOnlyNoContext,
            BenchmarkMode::GenOnly,
        ]
    } else {
        &[BenchmarkMode::CtxOnly, BenchmarkMode::GenOnlyNoContext]
    };
    let mut mode = None;
    let mut rest = rest;
    for m in modes {
        if let Some(r) = rest
            .strip_prefix(m.as_str())
            .and_then(|r| r.strip_prefix('-'))
        {
            mode = Some(*m);
            rest = r;
            break;
        }
    }
    if rest.is_empty() {
        return None;
    }
    Some(PerfSanityCase {
        prefix,
        mode,
        rest: rest.to_owned(),
    })
}

/// Parses the markers after the reference; returns the one that counts, or `Err` once an error has
/// been recorded in `list.problems`.
fn parse_markers(
    list: &mut TestList,
    line: usize,
    chars: &Chars,
    mut pos: usize,
) -> Result<Option<ListMarker>, ()> {
    let name = list.name.clone();
    let mut found: Vec<(usize, usize, ListMarker)> = Vec::new(); // (order, column, marker)
    loop {
        pos = skip_ws(chars, pos);
        let Some(&(column, _)) = chars.get(pos) else {
            break;
        };
        let start = pos;
        while chars
            .get(pos)
            .is_some_and(|&(_, c)| !c.is_whitespace() && c != '(')
        {
            pos += 1;
        }
        let word: String = chars
            .get(start..pos)
            .unwrap_or_default()
            .iter()
            .map(|&(_, c)| c)
            .collect();
        let Some(order) = MARKER_ORDER.iter().position(|m| *m == word) else {
            let hint = MARKER_ORDER
                .iter()
                .find(|m| m.eq_ignore_ascii_case(&word))
                .map(|m| (*m).to_owned());
            let word = if word.is_empty() {
                "(".to_owned()
            } else {
                word
            };
            list.problems.push(ListProblem::error(
                &name,
                line,
                column,
                ProblemKind::UnexpectedText { word, hint },
            ));
            return Err(());
        };
        if word == "ISOLATION" {
            found.push((order, column, ListMarker::Isolation));
            continue;
        }
        let after = skip_ws(chars, pos);
        let group = paren_group(chars, after);
        let marker = match (&*word, group) {
            ("TIMEOUT", Some((text, end))) if is_minutes(&text) => {
                pos = end;
                text.parse()
                    .ok()
                    .map(|minutes| ListMarker::Timeout { minutes })
            }
            ("TIMEOUT", group) => {
                let raw = match group {
                    Some((text, _)) => format!("({text})"),
                    None => chars
                        .get(after..)
                        .unwrap_or_default()
                        .iter()
                        .map(|&(_, c)| c)
                        .collect(),
                };
                list.problems.push(ListProblem::error(
                    &name,
                    line,
                    column,
                    ProblemKind::InvalidTimeout {
                        raw: raw.trim_end().to_owned(),
                    },
                ));
                return Err(());
            }
            (_, Some((text, end))) => {
                pos = end;
                let reason = text.trim().to_owned();
                Some(match &*word {
                    "SKIP" => ListMarker::Skip {
                        reason,
                        waived: false,
                    },
                    "XFAIL" => ListMarker::Xfail { reason },
                    _ => ListMarker::Unstable { reason },
                })
            }
            (_, None) => {
                list.problems.push(ListProblem::error(
                    &name,
                    line,
                    column,
                    ProblemKind::MissingReason { marker: word },
                ));
                return Err(());
            }
        };
        if let Some(marker) = marker {
            found.push((order, column, marker));
        }
    }
    let Some(counted) = found
        .iter()
        .enumerate()
        .min_by_key(|(_, (order, _, _))| *order)
        .map(|(i, _)| i)
    else {
        return Ok(None);
    };
    let Some((_, _, kept)) = found.get(counted).cloned() else {
        return Ok(None);
    };
    for (i, (_, column, marker)) in found.iter().enumerate() {
        if i != counted {
            list.problems.push(ListProblem::warning(
                &name,
                line,
                *column,
                ProblemKind::IgnoredMarker {
                    ignored: marker.keyword(),
                    counted: kept.keyword(),
                },
            ));
        }
    }
    Ok(Some(kept))
}

fn is_minutes(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 9
        && text.bytes().all(|b| b.is_ascii_digit())
        && text.bytes().any(|b| b != b'0')
}

/// Reads a balanced `( ... )` group starting at `pos`; returns its inner text and the position
/// after the closing parenthesis.
fn paren_group(chars: &Chars, pos: usize) -> Option<(String, usize)> {
    if chars.get(pos).map(|&(_, c)| c) != Some('(') {
        return None;
    }
    let mut depth = 0usize;
    let mut text = String::new();
    for (i, &(_, c)) in chars.iter().enumerate().skip(pos) {
        match c {
            '(' => {
                depth += 1;
                if depth == 1 {
                    continue;
                }
            }
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some((text, i + 1));
                }
            }
            _ => {}
        }
        text.push(c);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one(line: &str) -> ListEntry {
        let list = TestList::parse_text("l.txt", line);
        assert!(list.problems.is_empty(), "{:?}", list.problems);
        assert_eq!(list.entries.len(), 1);
        list.entries.into_iter().next().unwrap()
    }

    fn problems(text: &str) -> Vec<String> {
        TestList::parse_text("l.txt", text)
            .problems
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn test_id_and_display_name_lines() {
        let e = one("disagg_perf_x_1k1k");
        assert_eq!(e.reference, TestRef::Name("disagg_perf_x_1k1k".into()));
        assert_eq!((e.line, e.column, e.marker), (1, 1, None));
        let e = one("   wideep/accuracy/kimi   ");
        assert_eq!(e.reference, TestRef::Name("wideep/accuracy/kimi".into()));
        assert_eq!(e.column, 4);
    }

    #[test]
    fn disagg_node_ids() {
        for (func, want) in [
            ("test_benchmark", DisaggFunction::Benchmark),
            ("test_accuracy", DisaggFunction::Accuracy),
            ("test_stress", DisaggFunction::Stress),
        ] {
            let e = one(&format!(
                "test_disagg.py::TestDisaggBenchmark::{func}[disagg_perf_a-b_ccb-UCX]"
            ));
            assert_eq!(
                e.reference,
                TestRef::DisaggNode {
                    function: want,
                    test_id: "disagg_perf_a-b_ccb-UCX".into()
                }
            );
        }
        assert_eq!(
            problems("test_disagg.py::TestDisaggBenchmark::test_other[x]").len(),
            1
        );
        assert_eq!(
            problems("test_disagg.py::TestDisaggBenchmark::test_benchmark[]").len(),
            1
        );
        assert_eq!(
            problems("test_disagg.py::TestDisaggBenchmark::test_benchmark[x").len(),
            1
        );
        let p = problems("other.py::test[x]");
        assert!(
            p[0].starts_with("l.txt:1:1: error: unrecognised pytest node id"),
            "{p:?}"
        );
    }

    fn case(c: &str) -> PerfSanityCase {
        match one(&format!("perf/test_perf_sanity.py::test_e2e[{c}]")).reference {
            TestRef::PerfSanity(c) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn perf_sanity_cases() {
        use BenchmarkMode::*;
        use CasePrefix::*;
        let c = |prefix, mode, rest: &str| PerfSanityCase {
            prefix,
            mode,
            rest: rest.into(),
        };
        assert_eq!(
            case("disagg_upload-gb200_x-y_ccb-NIXL"),
            c(DisaggUpload, None, "gb200_x-y_ccb-NIXL")
        );
        assert_eq!(
            case("disagg_upload-e2e-gb200_x"),
            c(DisaggUpload, Some(E2e), "gb200_x")
        );
        assert_eq!(
            case("disagg_upload-gen_only-gb200_x"),
            c(DisaggUpload, Some(GenOnly), "gb200_x")
        );
        assert_eq!(case("disagg-e2e-gb200_x"), c(Disagg, Some(E2e), "gb200_x"));
        assert_eq!(
            case("disagg-gen_only-gb200_x"),
            c(Disagg, Some(GenOnly), "gb200_x")
        );
        assert_eq!(
            case("aggr_upload-gpt_oss_120b-srv_a"),
            c(AggrUpload, None, "gpt_oss_120b-srv_a")
        );
        assert_eq!(
            case("aggr_upload-ctx_only-gb200_x"),
            c(AggrUpload, Some(CtxOnly), "gb200_x")
        );
        assert_eq!(
            case("aggr-ctx_only-gb200_x"),
            c(Aggr, Some(CtxOnly), "gb200_x")
        );
        assert_eq!(
            case("aggr_upload-gen_only_no_context-gb200_x"),
            c(AggrUpload, Some(GenOnlyNoContext), "gb200_x")
        );
        // A mode token needs its trailing dash; otherwise it is part of the name.
        assert_eq!(case("disagg-e2e_cfg"), c(Disagg, None, "e2e_cfg"));
        for bad in ["bogus-x", "disagg", "disagg-", "disagg-e2e-"] {
            let p = problems(&format!("perf/test_perf_sanity.py::test_e2e[{bad}]"));
            assert_eq!(p.len(), 1, "{bad}");
            assert!(p[0].contains("unrecognised perf-sanity case"), "{p:?}");
        }
    }

    #[test]
    fn markers() {
        let m = |s: &str| one(&format!("t {s}")).marker;
        assert_eq!(m("TIMEOUT (90)"), Some(ListMarker::Timeout { minutes: 90 }));
        assert_eq!(
            m("TIMEOUT(90)").and_then(|m| m.timeout()),
            Some(Duration::from_secs(5400))
        );
        assert_eq!(
            m("SKIP (https://nvbugs/123 (flaky))"),
            Some(ListMarker::Skip {
                reason: "https://nvbugs/123 (flaky)".into(),
                waived: false,
            })
        );
        assert_eq!(
            m("XFAIL ( known )"),
            Some(ListMarker::Xfail {
                reason: "known".into()
            })
        );
        assert_eq!(
            m("UNSTABLE (x)"),
            Some(ListMarker::Unstable { reason: "x".into() })
        );
        assert_eq!(m("ISOLATION"), Some(ListMarker::Isolation));
        for text in [
            "TIMEOUT (90)",
            "SKIP (a (b))",
            "XFAIL (x)",
            "UNSTABLE (y)",
            "ISOLATION",
        ] {
            assert_eq!(m(text).map(|m| m.to_string()).as_deref(), Some(text));
        }
        let waived = ListMarker::Skip {
            reason: "nvbugs".into(),
            waived: true,
        };
        assert_eq!(waived.to_string(), "SKIP (nvbugs) [waived]");
    }

    #[test]
    fn only_the_first_marker_in_upstream_order_counts() {
        let list = TestList::parse_text(
            "l.txt",
            "t TIMEOUT (10) SKIP (later in the line, earlier in upstream's order)",
        );
        assert_eq!(
            list.entries[0].marker,
            Some(ListMarker::Skip {
                reason: "later in the line, earlier in upstream's order".into(),
                waived: false,
            })
        );
        let p: Vec<String> = list.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            p,
            vec![
                "l.txt:1:3: warning: marker TIMEOUT ignored: only the first marker counts (SKIP here)"
            ]
        );
        assert!(!list.has_errors());
    }

    #[test]
    fn timeout_errors_are_shaped_like_upstream() {
        for (line, raw) in [
            ("t TIMEOUT (abc)", "(abc)"),
            ("t TIMEOUT (1.5)", "(1.5)"),
            ("t TIMEOUT 90", "90"),
            ("t TIMEOUT (0)", "(0)"),
            ("t TIMEOUT (99999999999)", "(99999999999)"),
            ("t TIMEOUT", ""),
            ("t TIMEOUT (90", "(90"),
        ] {
            let p = problems(line);
            assert_eq!(
                p,
                vec![format!(
                    "l.txt:1:3: error: Invalid syntax for TIMEOUT value: \"{raw}\". Expected a numeric value in parentheses."
                )],
                "{line}"
            );
        }
    }

    #[test]
    fn other_marker_errors() {
        assert_eq!(
            problems("t SKIP"),
            vec!["l.txt:1:3: error: SKIP needs a reason in parentheses, e.g. `SKIP (nvbugs 123)`"]
        );
        assert_eq!(
            problems("t skip (x)"),
            vec![
                "l.txt:1:3: error: unexpected `skip` after the test name (did you mean `SKIP`?); expected a marker: TIMEOUT (N), SKIP (reason), XFAIL (reason), UNSTABLE (reason) or ISOLATION"
            ]
        );
        assert_eq!(problems("t other").len(), 1);
        assert_eq!(problems("t (x)").len(), 1);
    }

    #[test]
    fn comments_and_blank_lines() {
        let text = "# header\n\n   \n a # trailing comment SKIP (not a marker)\n#b\nc TIMEOUT (5) # why\n\t# indented comment";
        let list = TestList::parse_text("l.txt", text);
        assert!(list.problems.is_empty(), "{:?}", list.problems);
        let got: Vec<(usize, TestRef, Option<ListMarker>)> = list
            .entries
            .into_iter()
            .map(|e| (e.line, e.reference, e.marker))
            .collect();
        assert_eq!(
            got,
            vec![
                (4, TestRef::Name("a".into()), None),
                (
                    6,
                    TestRef::Name("c".into()),
                    Some(ListMarker::Timeout { minutes: 5 })
                ),
            ]
        );
    }

    #[test]
    fn crlf_line_endings() {
        let list = TestList::parse_text("l.txt", "a SKIP (x)\r\n\r\nb\r\n");
        assert!(list.problems.is_empty(), "{:?}", list.problems);
        let got: Vec<(usize, TestRef)> = list
            .entries
            .into_iter()
            .map(|e| (e.line, e.reference))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, TestRef::Name("a".into())),
                (3, TestRef::Name("b".into()))
            ]
        );
    }

    #[test]
    fn empty_list_is_a_warning() {
        assert_eq!(
            problems("# nothing\n"),
            vec!["l.txt: warning: the list names no tests"]
        );
    }

    #[test]
    fn all_problems_are_collected() {
        let p = problems("a TIMEOUT (x)\nb\nc SKIP\nx::y\n");
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].starts_with("l.txt:1:"));
        assert!(p[1].starts_with("l.txt:3:"));
        assert!(p[2].starts_with("l.txt:4:"));
    }

    fn list_lines() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("test_disagg.py::TestDisaggBenchmark::test_benchmark[".to_owned()),
            Just("perf/test_perf_sanity.py::test_e2e[".to_owned()),
            Just("disagg_upload-gen_only-".to_owned()),
            Just("aggr-ctx_only-".to_owned()),
            Just(" TIMEOUT ".to_owned()),
            Just(" SKIP ".to_owned()),
            Just(" ISOLATION".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            Just("]".to_owned()),
            Just("#".to_owned()),
            Just("\n".to_owned()),
            "[ -~]{0,6}",
            "\\PC{0,3}",
        ];
        prop::collection::vec(piece, 0..16).prop_map(|p| p.concat())
    }

    proptest! {
        // Case count: PROPTEST_CASES (proptest reads it; 256 by default).

        #[test]
        fn parser_never_panics(text in "\\PC{0,200}") {
            let _ = TestList::parse_text("p.txt", &text);
        }

        #[test]
        fn parser_never_panics_on_list_like_text(text in list_lines()) {
            let list = TestList::parse_text("p.txt", &text);
            let lines = text.lines().count();
            for e in &list.entries {
                prop_assert!(e.line >= 1 && e.line <= lines);
            }
            for p in &list.problems {
                prop_assert!(p.line <= lines);
            }
        }
    }
}
