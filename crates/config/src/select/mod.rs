//! Test selection: `--test-type`, `--category`, `--model`, `-k`, `-m`, `--testlist`, `--waives`,
//! and CI shards.
//!
//! The caller builds one [`SelectKey`] per discovered test case and a [`Selection`] from the
//! command line; [`Selection::select`] returns the selected indices in input order, with what a
//! test list said about each as typed data ([`Listed`]: marker, benchmark mode, unified-suite
//! mode, test-db block) and a [`ListReport`] per list (which blocks apply to the [`System`], what
//! each line resolved to). Plain lists ([`TestList::parse_text`]) and test-db YAML
//! ([`TestList::parse_test_db`]) produce the same [`ListEntry`] values for one resolver;
//! [`Waives`] mark tests `SKIP` on top; [`split`] cuts a selection into shards. Line forms,
//! markers, system keys, modes, waives and shards are documented in `docs/test-lists.md`.

mod expr;
mod problem;
mod resolve;
mod selection;
mod shard;
mod testdb;
mod testlist;
mod waives;

#[cfg(test)]
mod tests;

pub use expr::{Expr, ExprError};
pub use problem::{ListProblem, ProblemKind, Severity};
pub use selection::{
    BlockReport, FilterWarning, LineOutcome, LineReport, ListReport, Listed, SelectError, Selected,
    SelectedTest, Selection,
};
pub use shard::{Basis, Group, ShardTest, Shards, split};
pub use testdb::{
    Block, Bound, Condition, Mismatch, RangeCondition, SuiteMode, System, TermCondition,
    WildcardCondition,
};
pub use testlist::{
    BenchmarkMode, CasePrefix, DisaggFunction, ListEntry, ListMarker, ListReadError,
    PerfSanityCase, TestList, TestRef,
};
pub use waives::Waives;

/// What selection needs to know about one test case.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SelectKey {
    /// `{test_type}_{category}_{file stem}`; aggregated: `agg_{category}_{stem}-{server}-{client}`.
    pub test_id: String,
    /// `{test_type}/{category}/{stem}`.
    pub display_name: String,
    /// `disagg`, `wideep`, `agg`, or a custom directory name.
    pub test_type: String,
    /// `perf`, `accuracy`, `stress`, `perf-sanity`.
    pub category: String,
    /// `metadata.model_name`.
    pub model: String,
    /// Config file name without `.yaml`.
    pub file_stem: String,
    /// Aggregated configs: `server_configs[].name`.
    pub server_name: Option<String>,
    /// Aggregated configs: `server_configs[].client_configs[].name`.
    pub client_name: Option<String>,
    /// The category plus metadata tags, e.g. `["perf", "nightly"]`.
    pub markers: Vec<String>,
}
