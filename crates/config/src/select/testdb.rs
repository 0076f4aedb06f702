//! test-db YAML lists: condition blocks matched against a system description, and the unified
//! suite mode of each test (single-node aggregated, multi-node aggregated, disaggregated).
//!
//! ```yaml
//! version: 0.0.1
//! l0_gb200_multi_gpus_perf_sanity:          # the context, named like the file
//! - condition:
//!     ranges:    {system_gpu_count: {gte: 4, lte: 4}}
//!     wildcards: {gpu: ['*gb200*'], linux_distribution_name: ubuntu*, cpu: aarch64}
//!     terms:     {stage: post_merge, backend: pytorch}
//!   tests:
//!   - perf/test_perf_sanity.py::test_e2e[aggr_upload-<config>-<server>] TIMEOUT (90)
//! ```
//!
//! Each `tests:` item is parsed like a plain-list line (same forms, same markers). A block applies
//! when every `terms` value equals the system's, every `ranges` bound holds and every `wildcards`
//! glob (a list is any-of) matches; a key the system description lacks does not match (as
//! upstream's `trt-test-db --match-exact`). The keys are documented in `docs/test-lists.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::problem::{ListProblem, ProblemKind};
use super::testlist::{CasePrefix, TestList, TestRef};
use crate::yaml::{self, Node, Value};

/// One `- condition: ... tests: [...]` block of a test-db list.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The context the block belongs to (upstream: the file stem).
    pub context: String,
    /// 1-based line of the block.
    pub line: usize,
    /// When the block applies.
    pub condition: Condition,
}

/// A block's `condition`: all of its parts must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Condition {
    /// `ranges`: numeric bounds per key.
    pub ranges: Vec<RangeCondition>,
    /// `wildcards`: globs per key (a list is any-of).
    pub wildcards: Vec<WildcardCondition>,
    /// `terms`: exact values per key.
    pub terms: Vec<TermCondition>,
}

/// `ranges: {key: {gte: A, lte: B, gt: C, lt: D}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeCondition {
    /// The system key (`system_gpu_count`, ...).
    pub key: String,
    /// The bounds, in file order.
    pub bounds: Vec<(Bound, f64)>,
}

/// A numeric bound of a range condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// `gte`: at least.
    Gte,
    /// `lte`: at most.
    Lte,
    /// `gt`: more than.
    Gt,
    /// `lt`: less than.
    Lt,
}

impl Bound {
    fn parse(key: &str) -> Option<Bound> {
        Some(match key {
            "gte" => Bound::Gte,
            "lte" => Bound::Lte,
            "gt" => Bound::Gt,
            "lt" => Bound::Lt,
            _ => return None,
        })
    }

    fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Bound::Gte => value >= bound,
            Bound::Lte => value <= bound,
            Bound::Gt => value > bound,
            Bound::Lt => value < bound,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Bound::Gte => ">=",
            Bound::Lte => "<=",
            Bound::Gt => ">",
            Bound::Lt => "<",
        }
    }
}

/// `wildcards: {key: glob}` or `{key: [glob, ...]}` (any-of); matched case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WildcardCondition {
    /// The system key (`gpu`, `cpu`, `linux_distribution_name`, ...).
    pub key: String,
    /// fnmatch-style globs (`*`, `?`, `[...]`).
    pub patterns: Vec<String>,
}

/// `terms: {key: value}`: the system value must equal it exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermCondition {
    /// The system key (`stage`, `backend`, `test_type`, `nodes`, ...).
    pub key: String,
    /// The value as written (numbers in their YAML text form).
    pub value: String,
}

/// The system a test-db list is matched against: key/value pairs such as `gpu=GB200`,
/// `system_gpu_count=8`, `stage=post_merge` (from the cluster profile plus `--system`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct System {
    values: BTreeMap<String, String>,
}

impl System {
    /// Sets a key (a later value replaces an earlier one).
    pub fn set(&mut self, key: &str, value: &str) {
        self.values.insert(key.to_owned(), value.to_owned());
    }

    /// Sets a key unless it is already set (for defaults below `--system`).
    pub fn set_default(&mut self, key: &str, value: &str) {
        self.values
            .entry(key.to_owned())
            .or_insert_with(|| value.to_owned());
    }

    /// The value of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Every key and value, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Parses one `key=value` command-line pair.
    pub fn parse_pair(text: &str) -> Result<(String, String), String> {
        match text.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
            _ => Err(format!(
                "`{text}` is not key=value; e.g. --system gpu=GB200 --system stage=post_merge"
            )),
        }
    }
}

/// Why a block does not apply to the system: one unmet part of its condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Mismatch {
    /// The system description lacks a key the condition uses.
    MissingKey {
        /// The key.
        key: String,
    },
    /// A `terms` value differs.
    Term {
        /// The key.
        key: String,
        /// What the block wants.
        wanted: String,
        /// What the system has.
        found: String,
    },
    /// A `ranges` bound does not hold (or the system value is not a number).
    Range {
        /// The key.
        key: String,
        /// The failed bound.
        bound: Bound,
        /// Its value.
        limit: f64,
        /// What the system has.
        found: String,
    },
    /// No `wildcards` glob matches.
    Wildcard {
        /// The key.
        key: String,
        /// The globs.
        patterns: Vec<String>,
        /// What the system has.
        found: String,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::MissingKey { key } => write!(
                f,
                "`{key}` is not in the system description (set it with --system {key}=...)"
            ),
            Mismatch::Term { key, wanted, found } => {
                write!(f, "{key} is `{found}`, the block wants `{wanted}`")
            }
            Mismatch::Range {
                key,
                bound,
                limit,
                found,
            } => write!(
                f,
                "{key} is `{found}`, the block wants {} {limit}",
                bound.symbol()
            ),
            Mismatch::Wildcard {
                key,
                patterns,
                found,
            } => write!(
                f,
                "{key} `{found}` matches none of {}",
                patterns
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

impl Condition {
    /// Every unmet part of the condition for `system`; empty when the block applies.
    pub fn mismatches(&self, system: &System) -> Vec<Mismatch> {
        let mut out = Vec::new();
        let missing = |key: &str| Mismatch::MissingKey {
            key: key.to_owned(),
        };
        for t in &self.terms {
            match system.get(&t.key) {
                None => out.push(missing(&t.key)),
                Some(found) if found != t.value => out.push(Mismatch::Term {
                    key: t.key.clone(),
                    wanted: t.value.clone(),
                    found: found.to_owned(),
                }),
                Some(_) => {}
            }
        }
        for r in &self.ranges {
            let Some(found) = system.get(&r.key) else {
                out.push(missing(&r.key));
                continue;
            };
            let value = found.trim().parse::<f64>().ok();
            for &(bound, limit) in &r.bounds {
                if !value.is_some_and(|v| bound.holds(v, limit)) {
                    out.push(Mismatch::Range {
                        key: r.key.clone(),
                        bound,
                        limit,
                        found: found.to_owned(),
                    });
                }
            }
        }
        for w in &self.wildcards {
            let Some(found) = system.get(&w.key) else {
                out.push(missing(&w.key));
                continue;
            };
            if !w.patterns.iter().any(|p| glob_matches(p, found)) {
                out.push(Mismatch::Wildcard {
                    key: w.key.clone(),
                    patterns: w.patterns.clone(),
                    found: found.to_owned(),
                });
            }
        }
        out
    }

    /// The `terms` value of a key.
    pub fn term(&self, key: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }
}

/// fnmatch-style, case-insensitive (`*gb200*` matches `GB200`). A pattern that does not parse as
/// a glob matches only itself.
fn glob_matches(pattern: &str, value: &str) -> bool {
    let options = glob::MatchOptions {
        case_sensitive: false,
        require_literal_separator: false,
        require_literal_leading_dot: false,
    };
    match glob::Pattern::new(pattern) {
        Ok(p) => p.matches_with(value, options),
        Err(_) => pattern.eq_ignore_ascii_case(value),
    }
}

/// The three kinds of tests a unified suite holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SuiteMode {
    /// Aggregated, one node.
    SingleAgg,
    /// Aggregated, several nodes.
    MultiAgg,
    /// Disaggregated (context and generation servers).
    Disagg,
}

impl SuiteMode {
    /// The name used on the command line (`--mode`) and in summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            SuiteMode::SingleAgg => "single-agg",
            SuiteMode::MultiAgg => "multi-agg",
            SuiteMode::Disagg => "disagg",
        }
    }

    /// Parses `single-agg`, `multi-agg` or `disagg`.
    pub fn parse(text: &str) -> Option<SuiteMode> {
        [SuiteMode::SingleAgg, SuiteMode::MultiAgg, SuiteMode::Disagg]
            .into_iter()
            .find(|m| m.as_str() == text)
    }

    /// Upstream's mode detection, in order: `terms.test_type == disagg`; a `disagg` case prefix
    /// (or a disagg node id) on the line; `terms.nodes == 1`; `terms.nodes > 1`. `None` when none
    /// of these says (the caller then decides from the config and its plan).
    pub fn detect(condition: Option<&Condition>, reference: &TestRef) -> Option<SuiteMode> {
        if condition.and_then(|c| c.term("test_type")) == Some("disagg") {
            return Some(SuiteMode::Disagg);
        }
        let disagg_line = match reference {
            TestRef::PerfSanity(case) => {
                matches!(case.prefix, CasePrefix::Disagg | CasePrefix::DisaggUpload)
            }
            TestRef::DisaggNode { .. } => true,
            TestRef::Name(_) => false,
        };
        if disagg_line {
            return Some(SuiteMode::Disagg);
        }
        match condition
            .and_then(|c| c.term("nodes"))
            .and_then(|n| n.trim().parse::<u64>().ok())
        {
            Some(1) => Some(SuiteMode::SingleAgg),
            Some(n) if n > 1 => Some(SuiteMode::MultiAgg),
            _ => None,
        }
    }
}

impl fmt::Display for SuiteMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a list file is test-db YAML: a `.yml`/`.yaml` name, or a first line `version: ...`.
pub(crate) fn looks_like_test_db(path: &Path, text: &str) -> bool {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
    {
        return true;
    }
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.starts_with("version:"))
}

impl TestList {
    /// Parses test-db YAML content; `name` labels diagnostics (and its file stem is the expected
    /// context name).
    pub fn parse_test_db(name: &str, text: &str) -> TestList {
        let mut list = TestList::empty(name);
        let root = match yaml::parse(text) {
            Ok(root) => root,
            Err(e) => {
                list.problem(&e.span, format!("{e}; expected test-db YAML (`version: 0.0.1`, then a context name mapping to a list of `condition`/`tests` blocks)"));
                return list;
            }
        };
        let Some(entries) = root.as_map() else {
            list.problem(
                &root.span,
                format!(
                    "the file is {}; expected a mapping with `version` and a context name",
                    root.type_name()
                ),
            );
            return list;
        };
        if root.get("version").is_none() {
            list.problem(
                &root.span,
                "no `version` key; expected `version: 0.0.1` at the top of a test-db file".into(),
            );
        }
        let stem = Path::new(name)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let contexts: Vec<&(Node, Node)> = entries
            .iter()
            .filter(|(k, _)| k.as_key() != Some("version"))
            .collect();
        if contexts.is_empty() {
            list.problem(
                &root.span,
                format!("no context; expected `{stem}:` mapping to a list of blocks"),
            );
        }
        for (key, blocks) in contexts {
            let context = key.as_key().unwrap_or_default().to_owned();
            if !stem.is_empty() && context != stem {
                list.problems.push(ListProblem::warning(
                    name,
                    line_of(&key.span),
                    col_of(&key.span),
                    ProblemKind::BadTestDb {
                        message: format!(
                            "context `{context}` is not named like the file (`{stem}`); upstream's trt-test-db looks contexts up by file stem"
                        ),
                    },
                ));
            }
            let Value::Seq(items) = &blocks.value else {
                list.problem(
                    &blocks.span,
                    format!(
                        "`{context}` is {}; expected a list of `- condition: ... tests: [...]` blocks",
                        blocks.type_name()
                    ),
                );
                continue;
            };
            for block in items {
                list.read_block(&context, block);
            }
        }
        list.warn_if_empty();
        list.problems.sort_by_key(|p| (p.line, p.column));
        list
    }

    fn problem(&mut self, span: &yaml::Span, message: String) {
        let problem = ListProblem::error(
            &self.name,
            line_of(span),
            col_of(span),
            ProblemKind::BadTestDb { message },
        );
        self.problems.push(problem);
    }

    fn read_block(&mut self, context: &str, block: &Node) {
        if block.as_map().is_none() {
            self.problem(
                &block.span,
                format!(
                    "a block is {}; expected a mapping with `condition` and `tests`",
                    block.type_name()
                ),
            );
            return;
        }
        for (k, _) in block.as_map().unwrap_or_default() {
            let key = k.as_key().unwrap_or_default();
            if key != "condition" && key != "tests" {
                self.problem(
                    &k.span,
                    format!("unknown block key `{key}`; expected `condition` or `tests`"),
                );
            }
        }
        let condition = match block.get("condition") {
            Some(c) => self.read_condition(c),
            None => Condition::default(),
        };
        let index = self.blocks.len();
        self.blocks.push(Block {
            context: context.to_owned(),
            line: line_of(&block.span),
            condition,
        });
        let Some(tests) = block.get("tests") else {
            self.problem(
                &block.span,
                "the block has no `tests`; expected `tests:` with a list of test names".into(),
            );
            return;
        };
        let items: &[Node] = match &tests.value {
            Value::Seq(items) => items,
            Value::Null => &[],
            _ => {
                self.problem(
                    &tests.span,
                    format!(
                        "`tests` is {}; expected a list of test names",
                        tests.type_name()
                    ),
                );
                return;
            }
        };
        for item in items {
            match &item.value {
                Value::Str(text) => {
                    let col = usize::try_from(item.span.col).unwrap_or(1);
                    self.parse_line(line_of(&item.span), col.saturating_sub(1), text, Some(index));
                }
                _ => self.problem(
                    &item.span,
                    format!(
                        "a test is {}; expected a test name such as `perf/test_perf_sanity.py::test_e2e[<case>] TIMEOUT (90)`",
                        item.type_name()
                    ),
                ),
            }
        }
    }

    fn read_condition(&mut self, node: &Node) -> Condition {
        let mut condition = Condition::default();
        let Some(parts) = node.as_map() else {
            if !node.is_null() {
                self.problem(
                    &node.span,
                    format!(
                        "`condition` is {}; expected a mapping of `ranges`, `wildcards` and `terms`",
                        node.type_name()
                    ),
                );
            }
            return condition;
        };
        for (k, v) in parts {
            let kind = k.as_key().unwrap_or_default();
            if !matches!(kind, "ranges" | "wildcards" | "terms") {
                self.problem(
                    &k.span,
                    format!(
                        "unknown condition `{kind}`; expected `ranges`, `wildcards` or `terms`"
                    ),
                );
                continue;
            }
            let Some(pairs) = v.as_map() else {
                if !v.is_null() {
                    self.problem(
                        &v.span,
                        format!(
                            "`{kind}` is {}; expected a mapping of system keys",
                            v.type_name()
                        ),
                    );
                }
                continue;
            };
            for (key_node, value) in pairs {
                let key = key_node.as_key().unwrap_or_default().to_owned();
                match kind {
                    "ranges" => {
                        if let Some(r) = self.read_range(key, value) {
                            condition.ranges.push(r);
                        }
                    }
                    "wildcards" => {
                        let patterns: Option<Vec<String>> = match &value.value {
                            Value::Seq(items) => items.iter().map(scalar).collect(),
                            _ => scalar(value).map(|s| vec![s]),
                        };
                        match patterns {
                            Some(patterns) => {
                                condition
                                    .wildcards
                                    .push(WildcardCondition { key, patterns });
                            }
                            None => self.problem(
                                &value.span,
                                format!(
                                    "wildcard `{key}` is {}; expected a glob or a list of globs",
                                    value.type_name()
                                ),
                            ),
                        }
                    }
                    _ => match scalar(value) {
                        Some(v) => condition.terms.push(TermCondition { key, value: v }),
                        None => self.problem(
                            &value.span,
                            format!(
                                "term `{key}` is {}; expected a single value",
                                value.type_name()
                            ),
                        ),
                    },
                }
            }
        }
        condition
    }

    fn read_range(&mut self, key: String, value: &Node) -> Option<RangeCondition> {
        let Some(bounds) = value.as_map() else {
            self.problem(
                &value.span,
                format!(
                    "range `{key}` is {}; expected bounds such as `{{gte: 8, lte: 8}}`",
                    value.type_name()
                ),
            );
            return None;
        };
        let mut out = Vec::new();
        for (b, v) in bounds {
            let name = b.as_key().unwrap_or_default();
            let Some(bound) = Bound::parse(name) else {
                self.problem(
                    &b.span,
                    format!("unknown bound `{name}` in range `{key}`; expected gte, lte, gt or lt"),
                );
                continue;
            };
            let limit = match v.value {
                Value::Int(i) => i as f64,
                Value::Float(f) => f,
                _ => {
                    self.problem(
                        &v.span,
                        format!("`{key}.{name}` is {}; expected a number", v.type_name()),
                    );
                    continue;
                }
            };
            out.push((bound, limit));
        }
        Some(RangeCondition { key, bounds: out })
    }
}

/// A scalar's text (numbers and booleans as YAML writes them); `None` for lists and mappings.
fn scalar(node: &Node) -> Option<String> {
    match &node.value {
        Value::Seq(_) | Value::Map(_) | Value::Null => None,
        other => Some(yaml::scalar_text(other)),
    }
}

fn line_of(span: &yaml::Span) -> usize {
    usize::try_from(span.line).unwrap_or(0)
}

fn col_of(span: &yaml::Span) -> usize {
    usize::try_from(span.col).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DB: &str = "version: 0.0.1
l0_x:
- condition:
    ranges:
      system_gpu_count:
        gte: 4
        lte: 8
    wildcards:
      gpu:
      - '*gb200*'
      - '*gb300*'
      linux_distribution_name: ubuntu*
    terms:
      stage: post_merge
  tests:
  # a comment
  - perf/test_perf_sanity.py::test_e2e[disagg_upload-gen_only-cfg_a] TIMEOUT (120)
  - disagg_perf_b
- condition:
    terms:
      stage: pre_merge
      nodes: 2
  tests:
  - perf/test_perf_sanity.py::test_e2e[aggr_upload-file-server]
";

    fn system(pairs: &[(&str, &str)]) -> System {
        let mut s = System::default();
        for (k, v) in pairs {
            s.set(k, v);
        }
        s
    }

    fn reasons(c: &Condition, s: &System) -> Vec<String> {
        c.mismatches(s).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn blocks_entries_and_locations() {
        let list = TestList::parse_test_db("dir/l0_x.yml", DB);
        assert!(list.problems.is_empty(), "{:?}", list.problems);
        assert_eq!(list.blocks.len(), 2);
        assert_eq!((list.blocks[0].line, list.blocks[1].line), (3, 19));
        let c = &list.blocks[0].condition;
        assert_eq!(
            c.ranges[0].bounds,
            vec![(Bound::Gte, 4.0), (Bound::Lte, 8.0)]
        );
        assert_eq!(c.wildcards[0].patterns, vec!["*gb200*", "*gb300*"]);
        assert_eq!(c.wildcards[1].patterns, vec!["ubuntu*"]);
        assert_eq!(c.term("stage"), Some("post_merge"));
        assert_eq!(list.blocks[1].condition.term("nodes"), Some("2"));
        let got: Vec<(usize, usize, Option<usize>)> = list
            .entries
            .iter()
            .map(|e| (e.line, e.column, e.block))
            .collect();
        assert_eq!(
            got,
            vec![(17, 5, Some(0)), (18, 5, Some(0)), (24, 5, Some(1))]
        );
        assert_eq!(
            list.entries[0].marker,
            Some(crate::select::ListMarker::Timeout { minutes: 120 })
        );
    }

    #[test]
    fn a_block_applies_when_every_part_holds() {
        let list = TestList::parse_test_db("l0_x.yml", DB);
        let c = &list.blocks[0].condition;
        let ok = system(&[
            ("gpu", "GB300"),
            ("system_gpu_count", "8"),
            ("linux_distribution_name", "ubuntu24.04"),
            ("stage", "post_merge"),
        ]);
        assert!(c.mismatches(&ok).is_empty());
        let bad = system(&[
            ("gpu", "H100"),
            ("system_gpu_count", "16"),
            ("stage", "pre_merge"),
        ]);
        assert_eq!(
            reasons(c, &bad),
            vec![
                "stage is `pre_merge`, the block wants `post_merge`",
                "system_gpu_count is `16`, the block wants <= 8",
                "gpu `H100` matches none of `*gb200*`, `*gb300*`",
                "`linux_distribution_name` is not in the system description (set it with --system linux_distribution_name=...)",
            ]
        );
        let not_a_number = system(&[("system_gpu_count", "four")]);
        assert_eq!(
            reasons(&c.clone(), &not_a_number)[1..3],
            [
                "system_gpu_count is `four`, the block wants >= 4",
                "system_gpu_count is `four`, the block wants <= 8"
            ]
        );
    }

    #[test]
    fn suite_mode_follows_upstreams_order() {
        let list = TestList::parse_test_db("l0_x.yml", DB);
        let mode = |block: usize, entry: usize| {
            SuiteMode::detect(
                Some(&list.blocks[block].condition),
                &list.entries[entry].reference,
            )
        };
        assert_eq!(mode(0, 0), Some(SuiteMode::Disagg)); // disagg case prefix
        assert_eq!(mode(0, 1), None); // a bare id, no terms that say
        assert_eq!(mode(1, 2), Some(SuiteMode::MultiAgg)); // nodes: 2
        let mut c = Condition::default();
        c.terms.push(TermCondition {
            key: "nodes".into(),
            value: "1".into(),
        });
        assert_eq!(
            SuiteMode::detect(Some(&c), &list.entries[2].reference),
            Some(SuiteMode::SingleAgg)
        );
        // test_type: disagg comes first, whatever the line.
        c.terms.insert(
            0,
            TermCondition {
                key: "test_type".into(),
                value: "disagg".into(),
            },
        );
        assert_eq!(
            SuiteMode::detect(Some(&c), &list.entries[2].reference),
            Some(SuiteMode::Disagg)
        );
        for m in [SuiteMode::SingleAgg, SuiteMode::MultiAgg, SuiteMode::Disagg] {
            assert_eq!(SuiteMode::parse(m.as_str()), Some(m));
        }
    }

    #[test]
    fn shape_errors_name_the_place_and_the_expectation() {
        let problems = |text: &str| -> Vec<String> {
            TestList::parse_test_db("l0_x.yml", text)
                .problems
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        assert_eq!(
            problems("- a\n"),
            vec![
                "l0_x.yml:1:1: error: the file is a list; expected a mapping with `version` and a context name"
            ]
        );
        let p = problems(
            "version: 0.0.1\nother:\n- condition:\n    ranges:\n      n: {gte: x, most: 3}\n    terms:\n      stage: [a]\n    foo: {}\n  tests:\n  - 3\n  extra: 1\n",
        );
        assert_eq!(
            p,
            vec![
                "l0_x.yml:2:1: warning: context `other` is not named like the file (`l0_x`); upstream's trt-test-db looks contexts up by file stem",
                "l0_x.yml:5:16: error: `n.gte` is a string; expected a number",
                "l0_x.yml:5:19: error: unknown bound `most` in range `n`; expected gte, lte, gt or lt",
                "l0_x.yml:7:14: error: term `stage` is a list; expected a single value",
                "l0_x.yml:8:5: error: unknown condition `foo`; expected `ranges`, `wildcards` or `terms`",
                "l0_x.yml:10:5: error: a test is an integer; expected a test name such as `perf/test_perf_sanity.py::test_e2e[<case>] TIMEOUT (90)`",
                "l0_x.yml:11:3: error: unknown block key `extra`; expected `condition` or `tests`",
            ]
        );
        assert!(problems("version: 0.0.1\nl0_x: [\n")[0].contains("invalid YAML"));
        assert_eq!(
            problems("l0_x:\n- tests: []\n"),
            vec![
                "l0_x.yml:1:1: error: no `version` key; expected `version: 0.0.1` at the top of a test-db file"
            ]
        );
        // A bad test line is reported like a plain-list line, at its column in the file.
        assert_eq!(
            problems("version: 1\nl0_x:\n- tests:\n  - t TIMEOUT (x)\n"),
            vec![
                "l0_x.yml:4:7: error: Invalid syntax for TIMEOUT value: \"(x)\". Expected a numeric value in parentheses."
            ]
        );
    }

    #[test]
    fn test_db_files_are_recognised() {
        assert!(looks_like_test_db(Path::new("a.yml"), ""));
        assert!(looks_like_test_db(Path::new("a.YAML"), ""));
        assert!(looks_like_test_db(
            Path::new("a.txt"),
            "# c\n\nversion: 0.0.1\n"
        ));
        assert!(!looks_like_test_db(Path::new("a.txt"), "disagg_perf_x\n"));
    }

    #[test]
    fn system_pairs() {
        assert_eq!(
            System::parse_pair(" gpu = GB200 "),
            Ok(("gpu".into(), "GB200".into()))
        );
        assert!(System::parse_pair("gpu").is_err());
        assert!(System::parse_pair("=x").is_err());
        let mut s = system(&[("gpu", "B200")]);
        s.set_default("gpu", "GB200");
        s.set_default("stage", "post_merge");
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![("gpu", "B200"), ("stage", "post_merge")]
        );
    }

    proptest! {
        #[test]
        fn parser_never_panics(text in "(version: 0.0.1\n)?(l0:\n)?(- condition:\n)?(    [a-z]{1,6}:\n)?(  tests:\n)?(  - [ -~]{0,30}\n){0,4}\\PC{0,40}") {
            let list = TestList::parse_test_db("p.yml", &text);
            for e in &list.entries {
                prop_assert!(e.block.is_some_and(|b| b < list.blocks.len()));
            }
        }
    }
}
