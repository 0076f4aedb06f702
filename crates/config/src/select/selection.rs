//! The combined selection: filters, expressions and test lists.

use std::collections::HashMap;
use std::fmt;

use super::SelectKey;
use super::expr::Expr;
use super::problem::{ListProblem, ProblemKind};
use super::resolve::Resolver;
use super::testdb::{Mismatch, SuiteMode, System};
use super::testlist::{BenchmarkMode, ListEntry, ListMarker, TestList, TestRef};
use super::waives::Waives;

/// Everything that narrows the set of test cases; all parts must hold (AND).
///
/// Each filter list is any-of; an empty list does not filter. With one or more test lists, only
/// listed tests are candidates (the union of the lists), and the other filters still apply.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// `--test-type`: exact, ASCII case-insensitive (`disagg`, `wideep`, `agg`, ...).
    pub test_types: Vec<String>,
    /// `--category`: exact, ASCII case-insensitive (`perf`, `accuracy`, `stress`, `perf-sanity`).
    pub categories: Vec<String>,
    /// `--model`: case-insensitive substring of `metadata.model_name` (`deepseek` matches
    /// `deepseek-r1-fp4` and `deepseek-v32-fp4`).
    pub models: Vec<String>,
    /// `-k`: words are case-insensitive substrings of the test id or the display name.
    pub keyword: Option<Expr>,
    /// `-m`: words are markers (category and metadata tags), matched exactly.
    pub marker: Option<Expr>,
    /// `--testlist`: parsed lists, resolved against the test cases by [`Selection::select`].
    pub lists: Vec<TestList>,
    /// What test-db condition blocks are matched against (`--system`, cluster profile).
    pub system: System,
    /// `--waives`: `SKIP` lines applied on top of the selection (lists or not).
    pub waives: Option<Waives>,
    /// `--allow-missing`: a list line naming no test is a warning instead of an error.
    pub allow_missing: bool,
}

/// The outcome of a successful selection.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    /// Selected tests in input order (a test listed with two benchmark modes appears twice, in
    /// list order).
    pub tests: Vec<SelectedTest>,
    /// List warnings (duplicates, ignored markers, empty lists), in list and line order.
    pub warnings: Vec<ListProblem>,
    /// Per test list, what became of every block and line (for `list --summary`).
    pub reports: Vec<ListReport>,
}

/// What became of one test list: its test-db blocks and each of its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct ListReport {
    /// The list's name.
    pub name: String,
    /// test-db blocks, in file order (empty for plain lists).
    pub blocks: Vec<BlockReport>,
    /// Every test line that parsed, in file order.
    pub lines: Vec<LineReport>,
    /// Lines that did not parse (already reported as errors).
    pub invalid: usize,
}

/// Whether a test-db block applies to the system, and why not.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockReport {
    /// 1-based line of the block.
    pub line: usize,
    /// Its context name.
    pub context: String,
    /// Unmet parts of its condition; empty when the block applies.
    pub mismatches: Vec<Mismatch>,
}

impl BlockReport {
    /// Whether the block applies to the system.
    pub fn matched(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// What one list line resolved to.
#[derive(Debug, Clone, PartialEq)]
pub struct LineReport {
    /// 1-based line.
    pub line: usize,
    /// Index into [`ListReport::blocks`].
    pub block: Option<usize>,
    /// The marker that counts.
    pub marker: Option<ListMarker>,
    /// The outcome.
    pub outcome: LineOutcome,
}

/// The outcome of one list line.
#[derive(Debug, Clone, PartialEq)]
pub enum LineOutcome {
    /// It names these test cases (indices into the keys).
    Resolved(Vec<usize>),
    /// It names no test case here (an `Unmatched` or `Ambiguous` problem).
    Missing(ProblemKind),
}

/// One selected test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedTest {
    /// Index into the `keys` slice given to [`Selection::select`].
    pub index: usize,
    /// Where a test list named it; `None` when no list was used.
    pub listed: Option<Listed>,
}

/// What a test list line says about a selected test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The list's name.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// The marker that counts (`SKIP`ped tests are selected; the runner reports them as skipped).
    pub marker: Option<ListMarker>,
    /// The benchmark mode the line asks for (`gen_only`, `ctx_only`, ...), if any.
    pub mode: Option<BenchmarkMode>,
    /// The unified-suite mode detected from the block's terms and the line (upstream's order;
    /// see [`SuiteMode::detect`]); `None` when neither says.
    pub suite_mode: Option<SuiteMode>,
    /// The test-db block (index into [`ListReport::blocks`]).
    pub block: Option<usize>,
}

/// Test lists with errors: every problem of every list, errors and warnings, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SelectError {
    /// All problems, in list and line order.
    pub problems: Vec<ListProblem>,
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self.problems.iter().filter(|p| p.is_error()).count();
        write!(f, "{errors} error(s) in test list(s)")?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// A filter value that matches no test case at all (likely a typo); worth a warning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{flag} `{value}` matches no test{}",
    suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default()
)]
pub struct FilterWarning {
    /// The flag: `--test-type`, `--category`, `--model` or `-m`.
    pub flag: &'static str,
    /// The value (for `-m`, the marker word) as given.
    pub value: String,
    /// The closest existing value, if one is close.
    pub suggestion: Option<String>,
}

impl Selection {
    /// Filter values that match no test case among `keys` (each checked on its own), with the
    /// closest existing value. `-k` words are substrings and are not checked.
    pub fn filter_warnings(&self, keys: &[SelectKey]) -> Vec<FilterWarning> {
        let mut out = Vec::new();
        let mut check = |flag: &'static str,
                         values: &[String],
                         known: Vec<&str>,
                         hit: &dyn Fn(&str, &str) -> bool| {
            for value in values {
                if !known.iter().any(|k| hit(value, k)) {
                    out.push(FilterWarning {
                        flag,
                        value: value.clone(),
                        suggestion: closest(value, &known),
                    });
                }
            }
        };
        let eq = |v: &str, k: &str| v.eq_ignore_ascii_case(k);
        check(
            "--test-type",
            &self.test_types,
            distinct(keys.iter().map(|k| k.test_type.as_str())),
            &eq,
        );
        check(
            "--category",
            &self.categories,
            distinct(keys.iter().map(|k| k.category.as_str())),
            &eq,
        );
        let contains = |v: &str, k: &str| k.to_lowercase().contains(&v.to_lowercase());
        check(
            "--model",
            &self.models,
            distinct(keys.iter().map(|k| k.model.as_str())),
            &contains,
        );
        if let Some(expr) = &self.marker {
            let words: Vec<String> = expr.words().into_iter().map(str::to_owned).collect();
            let markers = distinct(
                keys.iter()
                    .flat_map(|k| k.markers.iter().map(String::as_str)),
            );
            check("-m", &words, markers, &|v, k| v == k);
        }
        out
    }

    /// Selects among `keys`; fails when a list has parse errors, or lines that match no test
    /// (unless [`Selection::allow_missing`]). Lines of test-db blocks that do not apply to
    /// [`Selection::system`] are resolved for the report but neither selected nor errors.
    pub fn select(&self, keys: &[SelectKey]) -> Result<Selected, SelectError> {
        let filtered: Vec<bool> = keys.iter().map(|k| self.matches_filters(k)).collect();
        let passes = |i: usize| filtered.get(i).copied().unwrap_or(false);
        let resolver = Resolver::new(keys);
        let mut problems = Vec::new();
        let mut reports = Vec::new();
        let mut tests = Vec::new();
        if self.lists.is_empty() {
            tests = (0..keys.len())
                .filter(|&i| passes(i))
                .map(|index| SelectedTest {
                    index,
                    listed: None,
                })
                .collect();
        }
        let mut seen: HashMap<(usize, Option<BenchmarkMode>), String> = HashMap::new();
        for list in &self.lists {
            let mut list_problems = list.problems.clone();
            let blocks: Vec<BlockReport> = list
                .blocks
                .iter()
                .map(|b| BlockReport {
                    line: b.line,
                    context: b.context.clone(),
                    mismatches: b.condition.mismatches(&self.system),
                })
                .collect();
            let applies = |entry: &ListEntry| {
                entry
                    .block
                    .is_none_or(|b| blocks.get(b).is_some_and(BlockReport::matched))
            };
            let mut lines = Vec::new();
            for entry in &list.entries {
                let outcome = match resolver.resolve(entry) {
                    Ok(found) => LineOutcome::Resolved(found),
                    Err(kind) => LineOutcome::Missing(kind),
                };
                lines.push(LineReport {
                    line: entry.line,
                    block: entry.block,
                    marker: entry.marker.clone(),
                    outcome: outcome.clone(),
                });
                if !applies(entry) {
                    continue;
                }
                let found = match outcome {
                    LineOutcome::Resolved(found) => found,
                    LineOutcome::Missing(kind) => {
                        let ambiguous = matches!(kind, ProblemKind::Ambiguous { .. });
                        let problem = if self.allow_missing && !ambiguous {
                            ListProblem::warning
                        } else {
                            ListProblem::error
                        };
                        list_problems.push(problem(&list.name, entry.line, entry.column, kind));
                        continue;
                    }
                };
                let mode = entry_mode(entry);
                let condition = entry
                    .block
                    .and_then(|b| list.blocks.get(b))
                    .map(|b| &b.condition);
                for index in found {
                    if let Some(first) = seen.get(&(index, mode)) {
                        let reference = resolver
                            .key(index)
                            .map(|k| k.test_id.clone())
                            .unwrap_or_default();
                        list_problems.push(ListProblem::warning(
                            &list.name,
                            entry.line,
                            entry.column,
                            ProblemKind::Duplicate {
                                reference,
                                first: first.clone(),
                            },
                        ));
                        continue;
                    }
                    seen.insert((index, mode), format!("{}:{}", list.name, entry.line));
                    if passes(index) {
                        let listed = Listed {
                            file: list.name.clone(),
                            line: entry.line,
                            marker: entry.marker.clone(),
                            mode,
                            suite_mode: SuiteMode::detect(condition, &entry.reference),
                            block: entry.block,
                        };
                        tests.push(SelectedTest {
                            index,
                            listed: Some(listed),
                        });
                    }
                }
            }
            list_problems.sort_by_key(|p| (p.line, p.column));
            problems.extend(list_problems);
            reports.push(ListReport {
                name: list.name.clone(),
                blocks,
                lines,
                invalid: list.problems.iter().filter(|p| p.is_error()).count(),
            });
        }
        if let Some(waives) = &self.waives {
            problems.extend(self.apply_waives(waives, &resolver, &mut tests));
        }
        if problems.iter().any(ListProblem::is_error) {
            return Err(SelectError { problems });
        }
        tests.sort_by_key(|t| t.index); // stable: list order within one test
        Ok(Selected {
            tests,
            warnings: problems,
            reports,
        })
    }

    /// Marks the selected tests a waive names `SKIP (reason)` with `waived: true`; returns the
    /// waives file's problems (names matching nothing are warnings).
    fn apply_waives(
        &self,
        waives: &Waives,
        resolver: &Resolver<'_>,
        tests: &mut [SelectedTest],
    ) -> Vec<ListProblem> {
        let list = &waives.list;
        let mut problems = list.problems.clone();
        let gpu = self.system.get("gpu");
        let mut waived: HashMap<usize, Vec<(Option<BenchmarkMode>, &ListEntry)>> = HashMap::new();
        for (i, entry) in list.entries.iter().enumerate() {
            if !waives.applies_on(i, gpu) {
                continue;
            }
            match resolver.resolve(entry) {
                Ok(found) => {
                    for index in found {
                        waived
                            .entry(index)
                            .or_default()
                            .push((entry_mode(entry), entry));
                    }
                }
                Err(kind) => problems.push(ListProblem::warning(
                    &list.name,
                    entry.line,
                    entry.column,
                    kind,
                )),
            }
        }
        for test in tests.iter_mut() {
            let mode = test.listed.as_ref().and_then(|l| l.mode);
            let Some(entry) = waived.get(&test.index).and_then(|w| {
                w.iter()
                    .find(|(m, _)| m.is_none() || *m == mode)
                    .map(|(_, e)| *e)
            }) else {
                continue;
            };
            let Some(ListMarker::Skip { reason, .. }) = &entry.marker else {
                continue;
            };
            let marker = Some(ListMarker::Skip {
                reason: reason.clone(),
                waived: true,
            });
            match &mut test.listed {
                Some(listed) => listed.marker = marker,
                None => {
                    test.listed = Some(Listed {
                        file: list.name.clone(),
                        line: entry.line,
                        marker,
                        mode: None,
                        suite_mode: None,
                        block: None,
                    });
                }
            }
        }
        problems
    }

    /// Whether a test case passes the type, category, model, `-k` and `-m` filters.
    pub fn matches_filters(&self, key: &SelectKey) -> bool {
        let any_eq = |wanted: &[String], have: &str| {
            wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(have))
        };
        if !any_eq(&self.test_types, &key.test_type) || !any_eq(&self.categories, &key.category) {
            return false;
        }
        if !self.models.is_empty() {
            let model = key.model.to_lowercase();
            if !self
                .models
                .iter()
                .any(|m| model.contains(&m.to_lowercase()))
            {
                return false;
            }
        }
        if let Some(expr) = &self.keyword {
            let id = key.test_id.to_lowercase();
            let display = key.display_name.to_lowercase();
            if !expr.eval(&mut |w| {
                let w = w.to_lowercase();
                id.contains(&w) || display.contains(&w)
            }) {
                return false;
            }
        }
        if let Some(expr) = &self.marker
            && !expr.eval(&mut |w| key.markers.iter().any(|m| m == w))
        {
            return false;
        }
        true
    }
}

fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = values.collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The known value closest to `value` (Jaro-Winkler, case-insensitive, so prefixes weigh most), if
/// close enough.
fn closest(value: &str, known: &[&str]) -> Option<String> {
    let value = value.to_lowercase();
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(&value, &k.to_lowercase()), *k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, k)| k.to_owned())
}

/// The benchmark mode a list line asks for.
fn entry_mode(entry: &ListEntry) -> Option<BenchmarkMode> {
    match &entry.reference {
        TestRef::PerfSanity(case) => case.mode,
        _ => None,
    }
}
