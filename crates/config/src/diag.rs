//! Diagnostics: what is wrong, where, what was expected, and how to fix it.
//!
//! Every problem the config layer finds is a [`Diagnostic`] carrying a stable [`Rule`] id, a
//! severity, the file and the 1-based line and column of the offending value, the dotted field
//! path, the actual and expected values, and a fix. Libraries return diagnostics; only the CLI
//! prints them ([`Diagnostic::render`] gives the human form, serde the JSON form).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational: expected in checked-in configs (e.g. placeholders), never fails `validate`.
    Info,
    /// Suspicious but runnable; fails only with `--strict`.
    Warning,
    /// The config must not be submitted.
    Error,
}

impl Severity {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

macro_rules! rules {
    ($( $variant:ident = ($id:literal, $spec:literal, $sev:ident, $doc:literal) ),* $(,)?) => {
        /// A validation rule. Ids are stable: tools and CI filters may match on them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(into = "&'static str")]
        pub enum Rule { $( #[doc = $doc] $variant, )* }

        impl Rule {
            /// Every rule, in documentation order.
            pub const ALL: &'static [Rule] = &[ $( Rule::$variant, )* ];
            /// The stable id, e.g. `concurrency-capacity`.
            pub fn id(self) -> &'static str { match self { $( Rule::$variant => $id, )* } }
            /// The SPEC section 4 rule number this implements (0 for file-level problems).
            pub fn spec_rule(self) -> u8 { match self { $( Rule::$variant => $spec, )* } }
            /// The default severity.
            pub fn severity(self) -> Severity { match self { $( Rule::$variant => Severity::$sev, )* } }
            /// One-line description.
            pub fn description(self) -> &'static str { match self { $( Rule::$variant => $doc, )* } }
        }
    };
}

rules! {
    FileUnreadable = ("file-unreadable", 0, Error, "The file cannot be read (permissions, not UTF-8, too large, symlink loop)."),
    YamlSyntax = ("yaml-syntax", 1, Error, "The file is not valid YAML, nests too deeply or expands too far."),
    UnknownFormat = ("unknown-format", 1, Error, "The document is not a test config of any known shape (no `worker_config`, `server_configs` or `server`)."),
    UnknownKey = ("unknown-key", 1, Error, "A key in a framework-owned section is not part of the schema (typos are the most common silent failure upstream)."),
    WrongType = ("wrong-type", 1, Error, "A value has the wrong type (e.g. a string where an integer is expected)."),
    MissingField = ("missing-field", 1, Error, "A required field is absent."),
    InvalidValue = ("invalid-value", 1, Error, "A value is outside its allowed set or range."),
    ConflictingKeys = ("conflicting-keys", 1, Error, "Two spellings of one setting are both present (e.g. `metadata.metrics` and `benchmark.metrics`)."),
    Placeholder = ("placeholder", 1, Info, "A `<placeholder>` is left unresolved; an error at submission time when the executor needs it."),
    MtpTokenBudget = ("mtp-token-budget", 2, Error, "With MTP k > 0, `gen.max_num_tokens >= gen.max_batch_size * (k + 1)`."),
    StreamingRequired = ("streaming-required", 3, Error, "`benchmark.streaming` must be true (TTFT/ITL need a streamed response)."),
    CtxSeqLen = ("ctx-max-seq-len", 4, Error, "`ctx.max_seq_len > input_length`."),
    GenSeqLen = ("gen-max-seq-len", 4, Error, "`gen.max_seq_len >= input_length + output_length`."),
    GenSeqLenMtp = ("gen-max-seq-len-mtp", 4, Warning, "With MTP on, `gen.max_seq_len >= input_length + output_length + k` leaves room for draft tokens."),
    ConcurrencyEmpty = ("concurrency-list", 5, Error, "The concurrency list is non-empty and every entry is a positive integer."),
    ConcurrencyCapacity = ("concurrency-capacity", 5, Error, "Per-gen-server concurrency exceeds the gen capacity by more than `benchmark.oversubscription_tolerance` (the run would measure queueing)."),
    ConcurrencyOversubscribed = ("concurrency-oversubscribed", 5, Warning, "Per-gen-server concurrency exceeds the gen capacity within the tolerance."),
    WorldSizeFit = ("world-size-fit", 6, Error, "A server larger than one node must use whole nodes (world size a multiple of `gpus_per_node`)."),
    ExpertParallel = ("expert-parallel", 6, Error, "`moe_expert_parallel_size` divides the world size (TP x PP x CP)."),
    CudaGraphBatches = ("cuda-graph-batch-sizes", 6, Warning, "`cuda_graph_config` batch sizes exceed `max_batch_size`, or do not cover it with padding off."),
    KvTransferBuffer = ("kv-transfer-buffer", 7, Warning, "`cache_transceiver_config.max_tokens_in_buffer >= input_length` on both roles."),
    ModeCombination = ("mode-combination", 8, Error, "Benchmark mode conflicts with other settings (`use_nv_sa_benchmark` with `gen_only`, ctx servers with `gen_only_no_context`)."),
    CtxOnlyOutputLength = ("ctx-only-output-length", 8, Warning, "`ctx_only` runs with output length 1; another configured value is overridden."),
    DatasetMissing = ("dataset-missing", 9, Warning, "The trtllm_custom dataset file does not exist; the run falls back to the random dataset."),
    AccuracyThreshold = ("accuracy-threshold", 10, Error, "Accuracy thresholds: `threshold_type` known, expected values and test parameters in range."),
    NameTopology = ("name-topology", 11, Warning, "Topology tokens in the file name (ctxN, genM, depT/tepT, bsB, eplbE, mtpK, ccb-X, conC) contradict the content."),
    LegacyCtxCount = ("legacy-ctx-count", 12, Error, "`metadata.use_legacy_ctx_calculation` needs a concurrency list and a positive `metadata.ctx_capacity`."),
}

impl From<Rule> for &'static str {
    fn from(rule: Rule) -> Self {
        rule.id()
    }
}

/// One finding about one config file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    /// The rule that fired.
    pub rule: Rule,
    /// Severity (the rule's default unless the context changed it).
    pub severity: Severity,
    /// The config file.
    pub file: PathBuf,
    /// 1-based line of the offending value, when it is in the file.
    pub line: Option<u32>,
    /// 1-based column.
    pub column: Option<u32>,
    /// Dotted field path (`worker_config.gen.max_batch_size`), empty for file-level problems.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// The value found, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// The value or shape expected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with the rule's default severity and no location yet.
    pub fn new(
        rule: Rule,
        file: &Path,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            rule,
            severity: rule.severity(),
            file: file.to_path_buf(),
            line: None,
            column: None,
            field: field.into(),
            message: message.into(),
            actual: None,
            expected: None,
            hint: None,
        }
    }

    /// Sets the location.
    pub fn at(mut self, span: Option<crate::yaml::Span>) -> Self {
        if let Some(s) = span.filter(|s| s.line > 0) {
            self.line = Some(s.line);
            self.column = Some(s.col);
        }
        self
    }

    /// Sets the actual value.
    pub fn actual(mut self, v: impl Into<String>) -> Self {
        self.actual = Some(v.into());
        self
    }

    /// Sets the expected value.
    pub fn expected(mut self, v: impl Into<String>) -> Self {
        self.expected = Some(v.into());
        self
    }

    /// Sets the fix.
    pub fn hint(mut self, v: impl Into<String>) -> Self {
        self.hint = Some(v.into());
        self
    }

    /// `file:line:column` (or just the file).
    pub fn location(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", self.file.display()),
            _ => self.file.display().to_string(),
        }
    }

    /// Human-readable form; with `source`, the offending line is quoted under the message.
    pub fn render(&self, source: Option<&str>) -> String {
        let mut out = format!(
            "{}[{}]: {}\n  --> {}\n",
            self.severity.as_str(),
            self.rule.id(),
            self.message,
            self.location()
        );
        if let (Some(src), Some(line), Some(col)) = (source, self.line, self.column)
            && let Some(text) = src.lines().nth(line.saturating_sub(1) as usize)
        {
            let width = line.to_string().len();
            let _ = writeln!(out, "{:width$} |", "");
            let _ = writeln!(out, "{line} | {text}");
            let pad = col.saturating_sub(1) as usize;
            let _ = writeln!(out, "{:width$} | {:pad$}^", "", "");
        }
        if !self.field.is_empty() {
            let _ = writeln!(out, "   = field: {}", self.field);
        }
        if let Some(a) = &self.actual {
            let _ = writeln!(out, "   = actual: {a}");
        }
        if let Some(e) = &self.expected {
            let _ = writeln!(out, "   = expected: {e}");
        }
        if let Some(h) = &self.hint {
            let _ = writeln!(out, "   = help: {h}");
        }
        out
    }
}

/// The closest candidate to `word`, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Renders the rule table of `docs/validation.md` (kept in sync by a test).
pub fn rules_markdown() -> String {
    let mut out = String::from(
        "| id | SPEC 4 rule | default severity | what it checks |\n|---|---|---|---|\n",
    );
    for rule in Rule::ALL {
        let spec = match rule.spec_rule() {
            0 => "-".to_string(),
            n => n.to_string(),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            rule.id(),
            spec,
            rule.severity().as_str(),
            rule.description()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_and_kebab_case() {
        let mut ids: Vec<_> = Rule::ALL.iter().map(|r| r.id()).collect();
        assert!(
            ids.iter()
                .all(|id| id.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        );
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }

    #[test]
    fn did_you_mean_finds_typos_only() {
        let keys = ["concurrency_list", "input_length", "output_length"];
        assert_eq!(
            did_you_mean("concurency_list", keys),
            Some("concurrency_list")
        );
        assert_eq!(did_you_mean("zzz", keys), None);
    }

    #[test]
    fn render_quotes_the_line() {
        let d = Diagnostic::new(
            Rule::UnknownKey,
            Path::new("a.yaml"),
            "benchmark.x",
            "unknown key",
        )
        .at(Some(crate::yaml::Span { line: 2, col: 3 }))
        .hint("remove it");
        let text = d.render(Some("benchmark:\n  x: 1\n"));
        assert!(text.contains("a.yaml:2:3"), "{text}");
        assert!(text.contains("2 |   x: 1\n  |   ^"), "{text}");
        assert!(text.contains("help: remove it"));
    }
}
