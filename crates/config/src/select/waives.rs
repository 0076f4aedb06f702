//! Waives files (upstream `tests/integration/test_lists/waives.txt`): one test per line with
//! `SKIP (reason)`, usually a bug link, applied on top of any selection.
//!
//! ```text
//! perf/test_perf_sanity.py::test_e2e[disagg_upload-gen_only-<cfg>] SKIP (https://nvbugs/5555555)
//! full:GB200/perf/test_perf_sanity.py::test_e2e[aggr_upload-<file>-<server>] SKIP (hangs on GB200)
//! disagg_perf_<stem> SKIP (https://nvbugs/123)
//! ```
//!
//! Lines use the test-list forms. `full:<GPU>/` limits a waive to that GPU type (the system's
//! `gpu`). Upstream's file also waives unit and integration tests servebench does not run; lines
//! naming another pytest file are ignored and counted, and a waive that names no test here is a
//! warning, not an error (one waives file serves many suites).

use std::path::Path;

use super::problem::{ListProblem, ProblemKind};
use super::testlist::{ListMarker, ListReadError, TestList};

/// A parsed waives file.
#[derive(Debug, Clone, PartialEq)]
pub struct Waives {
    /// The waive lines as list entries (each with a `SKIP` marker) and every problem found.
    pub list: TestList,
    /// Per entry, the GPU type of a `full:<GPU>/` prefix.
    pub gpus: Vec<Option<String>>,
    /// Lines naming tests of other pytest files (not servebench's to run).
    pub ignored: usize,
}

/// The node-id prefixes servebench resolves; other `::` ids in a waives file are not its tests.
const OWN_PREFIXES: [&str; 2] = ["test_disagg.py::", "perf/test_perf_sanity.py::"];

impl Waives {
    /// Reads and parses a waives file.
    pub fn read(path: &Path) -> Result<Waives, ListReadError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| ListReadError {
            path: name.clone(),
            source,
        })?;
        Ok(Waives::parse_text(&name, &String::from_utf8_lossy(&bytes)))
    }

    /// Parses waives content; `name` labels diagnostics.
    pub fn parse_text(name: &str, text: &str) -> Waives {
        let mut waives = Waives {
            list: TestList::empty(name),
            gpus: Vec::new(),
            ignored: 0,
        };
        for (i, raw) in text.lines().enumerate() {
            let content = raw.split('#').next().unwrap_or("");
            let trimmed = content.trim_start();
            if trimmed.is_empty() {
                continue;
            }
            let indent = content.len() - trimmed.len();
            let (gpu, body, offset) = match trimmed
                .strip_prefix("full:")
                .and_then(|rest| rest.split_once('/'))
            {
                Some((gpu, body)) => (Some(gpu.to_owned()), body, indent + 6 + gpu.len()),
                None => (None, trimmed, indent),
            };
            let reference = body.split_whitespace().next().unwrap_or("");
            if reference.contains("::") && !OWN_PREFIXES.iter().any(|p| reference.starts_with(p)) {
                waives.ignored += 1;
                continue;
            }
            let before = waives.list.entries.len();
            let offset = body_offset(raw, offset);
            waives.list.parse_line(i + 1, offset, body, None);
            let Some(entry) = waives.list.entries.get(before) else {
                continue; // a syntax error, already recorded
            };
            if matches!(entry.marker, Some(ListMarker::Skip { .. })) {
                waives.gpus.push(gpu);
            } else {
                let (line, column) = (entry.line, entry.column);
                waives.list.entries.truncate(before);
                waives.list.problems.push(ListProblem::error(
                    name,
                    line,
                    column,
                    ProblemKind::WaiveWithoutSkip,
                ));
            }
        }
        waives
    }

    /// Whether the waive of entry `i` applies on a system with GPU type `gpu`.
    pub(crate) fn applies_on(&self, i: usize, gpu: Option<&str>) -> bool {
        match self.gpus.get(i).and_then(Option::as_deref) {
            None => true,
            Some(wanted) => gpu.is_some_and(|g| {
                crate::identity::fold_gpu(g)
                    .eq_ignore_ascii_case(&crate::identity::fold_gpu(wanted))
            }),
        }
    }
}

/// Converts a byte offset into `raw` to a character count (columns count characters).
fn body_offset(raw: &str, bytes: usize) -> usize {
    raw.get(..bytes).map_or(bytes, |s| s.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn full_prefix_columns_and_gpu() {
        let w = Waives::parse_text("w.txt", "  full:GB200_LYRIS/t SKIP (x)\nu SKIP (y)\n");
        assert!(w.list.problems.is_empty(), "{:?}", w.list.problems);
        let cols: Vec<(usize, usize)> = w.list.entries.iter().map(|e| (e.line, e.column)).collect();
        assert_eq!(cols, vec![(1, 20), (2, 1)]);
        assert_eq!(w.gpus, vec![Some("GB200_LYRIS".to_owned()), None]);
        assert!(w.applies_on(0, Some("gb200")));
        assert!(!w.applies_on(0, Some("B200")));
        assert!(!w.applies_on(0, None));
        assert!(w.applies_on(1, None));
    }

    proptest! {
        #[test]
        fn parser_never_panics(text in "((full:[A-Z0-9]{0,5}/)?[ -~]{0,30}( SKIP \\([ -~]{0,8}\\))?\n){0,6}\\PC{0,20}") {
            let w = Waives::parse_text("w.txt", &text);
            prop_assert_eq!(w.gpus.len(), w.list.entries.len());
            for e in &w.list.entries {
                let is_skip = matches!(e.marker, Some(ListMarker::Skip { .. }));
                prop_assert!(is_skip);
            }
        }
    }
}
