//! The SPEC section 4 rules over a loaded [`TestCase`]. Schema problems (rule 1) are found while
//! loading; this module adds the semantic rules 2-12. Rule ids, severities and descriptions live
//! in [`crate::diag::Rule`] and are documented in `docs/validation.md`.

use std::path::Path;

use crate::diag::{Diagnostic, Rule, Severity};
use crate::identity::parse_name;
use crate::model::{Deployment, Format, Mode, TestCase, Worker};

/// What the validation is for.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidateOptions {
    /// Validating right before submission: unresolved placeholders become errors.
    pub submission: bool,
}

/// Applies every semantic rule to one case and returns its findings.
pub fn validate_case(case: &TestCase, opts: &ValidateOptions) -> Vec<Diagnostic> {
    let mut v = Validator {
        case,
        out: Vec::new(),
    };
    v.mtp();
    v.streaming();
    v.sequence_lengths();
    v.concurrency();
    v.parallelism();
    v.kv_buffer();
    v.modes();
    v.dataset();
    v.accuracy();
    v.names();
    v.legacy_ctx();
    let _ = opts;
    v.out
}

/// Raises placeholder findings to errors when validating for submission.
pub fn apply_context(diags: &mut [Diagnostic], opts: &ValidateOptions) {
    if opts.submission {
        for d in diags.iter_mut().filter(|d| d.rule == Rule::Placeholder) {
            d.severity = Severity::Error;
        }
    }
}

struct Validator<'a> {
    case: &'a TestCase,
    out: Vec<Diagnostic>,
}

impl<'a> Validator<'a> {
    fn file(&self) -> &Path {
        &self.case.path
    }

    /// A finding at a logical field, located through the config's aliases.
    fn at(&self, rule: Rule, field: &str, message: String) -> Diagnostic {
        let physical = self.case.config.physical(field);
        Diagnostic::new(
            rule,
            self.file(),
            crate::decode::display_path(&physical),
            message,
        )
        .at(self.case.config.locate(field))
    }

    fn roles(&self) -> Vec<(&'static str, &'a Worker)> {
        let case: &'a TestCase = self.case;
        match &case.config.deployment {
            Deployment::Disagg { ctx, generation } => {
                let mut r = vec![("gen", generation)];
                if let Some(c) = ctx
                    && case.config.hardware.num_ctx_servers > 0
                {
                    r.insert(0, ("ctx", c));
                }
                r
            }
            Deployment::Agg { server, .. } => vec![("gen", server)],
        }
    }

    fn mtp(&mut self) {
        let g = self.case.config.deployment.gen_role();
        let (Some(bs), Some(tokens)) = (g.max_batch_size, g.max_num_tokens) else {
            return;
        };
        let need = bs.saturating_mul(g.mtp + 1);
        if g.mtp > 0 && tokens < need {
            let d = self
                .at(Rule::MtpTokenBudget, "gen.max_num_tokens", format!(
                    "gen max_num_tokens {tokens} is below max_batch_size {bs} x (MTP {} + 1) = {need}",
                    g.mtp
                ))
                .actual(tokens.to_string())
                .expected(format!(">= {need}"))
                .hint(format!("raise `max_num_tokens` to at least {need}, or lower `max_batch_size` to {}", tokens / (g.mtp + 1)));
            self.out.push(d);
        }
    }

    fn streaming(&mut self) {
        if !self.case.config.benchmark.streaming {
            let d = self
                .at(
                    Rule::StreamingRequired,
                    "benchmark.streaming",
                    "streaming is off; TTFT and ITL cannot be measured".into(),
                )
                .actual("false")
                .expected("true")
                .hint("set `streaming: true`");
            self.out.push(d);
        }
    }

    fn sequence_lengths(&mut self) {
        let b = &self.case.config.benchmark;
        let (isl, osl) = (b.input_length, b.output_length);
        if isl == 0 && osl == 0 {
            return;
        }
        let osl = if b.mode == Mode::CtxOnly { 1 } else { osl };
        let agg = matches!(self.case.config.deployment, Deployment::Agg { .. });
        for (role, w) in self.roles() {
            // Aggregated servers with max_seq_len 0 or absent size it automatically.
            let Some(len) = w.max_seq_len.filter(|l| *l > 0) else {
                continue;
            };
            if role == "ctx" && len <= isl {
                let d = self
                    .at(
                        Rule::CtxSeqLen,
                        "ctx.max_seq_len",
                        format!("ctx max_seq_len {len} does not exceed input length {isl}"),
                    )
                    .actual(len.to_string())
                    .expected(format!("> {isl}"))
                    .hint(format!("raise ctx `max_seq_len` to at least {}", isl + 1));
                self.out.push(d);
            }
            if role == "gen" {
                let need = isl + osl;
                if len < need {
                    let d = self
                        .at(Rule::GenSeqLen, "gen.max_seq_len", format!(
                            "{} max_seq_len {len} is below input + output length {isl} + {osl} = {need}",
                            if agg { "server" } else { "gen" }
                        ))
                        .actual(len.to_string())
                        .expected(format!(">= {need}"))
                        .hint(format!("raise `max_seq_len` to at least {need}"));
                    self.out.push(d);
                } else if w.mtp > 0 && len < need + w.mtp {
                    let d = self
                        .at(Rule::GenSeqLenMtp, "gen.max_seq_len", format!(
                            "gen max_seq_len {len} leaves no room for {} MTP draft tokens after {need} tokens",
                            w.mtp
                        ))
                        .actual(len.to_string())
                        .expected(format!(">= {}", need + w.mtp))
                        .hint(format!("raise `max_seq_len` to {}", need + w.mtp));
                    self.out.push(d);
                }
            }
        }
    }

    fn concurrency(&mut self) {
        let c = &self.case.config;
        let g = c.deployment.gen_role();
        let Some(cap) = g.capacity() else { return };
        if cap == 0 {
            return;
        }
        let tol = c.benchmark.oversubscription_tolerance.max(0.0);
        let limit = (cap as f64 * (1.0 + tol)).floor() as u64;
        let how = if g.attention_dp {
            format!(
                "max_batch_size {} x TP {} with attention DP",
                g.max_batch_size.unwrap_or(0),
                g.tp
            )
        } else {
            format!("max_batch_size {}", g.max_batch_size.unwrap_or(0))
        };
        for &conc in &c.benchmark.concurrency_list {
            let per = c.per_gen_server(conc);
            if per <= cap {
                continue;
            }
            let over = (per as f64 / cap as f64 - 1.0) * 100.0;
            let scope = if per == conc {
                String::new()
            } else {
                format!(
                    " ({conc} total over {} gen servers)",
                    c.hardware.num_gen_servers
                )
            };
            let (rule, msg) = if per > limit {
                (
                    Rule::ConcurrencyCapacity,
                    format!(
                        "concurrency {per} per gen server{scope} exceeds the gen capacity {cap} ({how}) by {over:.1}%, more than the {:.0}% tolerance",
                        tol * 100.0
                    ),
                )
            } else {
                (
                    Rule::ConcurrencyOversubscribed,
                    format!(
                        "concurrency {per} per gen server{scope} is {over:.1}% above the gen capacity {cap} ({how}), within the {:.0}% tolerance",
                        tol * 100.0
                    ),
                )
            };
            let d = self
                .at(rule, "benchmark.concurrency_list", msg)
                .actual(per.to_string())
                .expected(format!("<= {cap} (or <= {limit} with the tolerance)"))
                .hint(format!(
                    "lower the concurrency, raise gen `max_batch_size` to {}, or set `benchmark.oversubscription_tolerance`",
                    if g.attention_dp { per.div_ceil(g.tp.max(1)) } else { per }
                ));
            self.out.push(d);
        }
    }

    fn parallelism(&mut self) {
        // Without a usable `gpus_per_node` (a load error) there is nothing to fit against.
        let Some(gpn) = self.case.config.hardware.gpus_per_node else {
            return;
        };
        for (role, w) in self.roles() {
            let world = w.world_size();
            if world > gpn && world % gpn != 0 {
                let d = self
                    .at(Rule::WorldSizeFit, &format!("{role}.tensor_parallel_size"), format!(
                        "{role} world size {world} (TP {} x PP {} x CP {}) spans nodes of {gpn} GPUs but is not a multiple of {gpn}",
                        w.tp, w.pp, w.cp
                    ))
                    .actual(world.to_string())
                    .expected(format!("<= {gpn} or a multiple of {gpn}"))
                    .hint(format!("use a world size of {} or {}", world / gpn * gpn, world.div_ceil(gpn) * gpn));
                self.out.push(d);
            }
            if let Some(ep) = w.ep
                && (ep == 0 || world % ep != 0)
            {
                let d = self
                        .at(Rule::ExpertParallel, &format!("{role}.moe_expert_parallel_size"), format!(
                            "{role} moe_expert_parallel_size {ep} does not divide the world size {world}"
                        ))
                        .actual(ep.to_string())
                        .expected(format!("a divisor of {world}"))
                        .hint(format!("set `moe_expert_parallel_size` to {world} or a divisor of it"));
                self.out.push(d);
            }
            let Some(bs) = w.max_batch_size else { continue };
            let largest = w.cuda_graph_batch_sizes.iter().copied().max();
            let too_big: Vec<u64> = w
                .cuda_graph_batch_sizes
                .iter()
                .copied()
                .filter(|s| *s > bs)
                .collect();
            let cg_max = w.cuda_graph_max_batch_size.filter(|m| *m > bs);
            if !too_big.is_empty() || cg_max.is_some() {
                let shown = cg_max.map_or_else(
                    || format!("batch_sizes {too_big:?}"),
                    |m| format!("max_batch_size {m}"),
                );
                let field = if cg_max.is_some() {
                    "max_batch_size"
                } else {
                    "batch_sizes"
                };
                let d = self
                    .at(Rule::CudaGraphBatches, &format!("{role}.cuda_graph_config.{field}"), format!(
                        "{role} cuda_graph_config {shown} exceed(s) max_batch_size {bs}; those graphs are captured but never used"
                    ))
                    .actual(shown)
                    .expected(format!("<= {bs}"))
                    .hint("drop the larger CUDA graph batch sizes (they cost capture time and memory)");
                self.out.push(d);
            } else if !w.cuda_graph_padding && largest.is_some_and(|l| l < bs) {
                let d = self
                    .at(Rule::CudaGraphBatches, &format!("{role}.cuda_graph_config"), format!(
                        "{role} cuda_graph_config covers batches up to {} but max_batch_size is {bs} and padding is off",
                        largest.unwrap_or(0)
                    ))
                    .actual(format!("largest batch size {}", largest.unwrap_or(0)))
                    .expected(format!("a batch size >= {bs}, or enable_padding: true"))
                    .hint("add max_batch_size to batch_sizes or set `enable_padding: true`");
                self.out.push(d);
            }
        }
    }

    fn kv_buffer(&mut self) {
        if !matches!(self.case.config.deployment, Deployment::Disagg { .. }) {
            return;
        }
        let isl = self.case.config.benchmark.input_length;
        for (role, w) in self.roles() {
            if let Some(buf) = w.max_tokens_in_buffer
                && buf < isl
            {
                let d = self
                        .at(Rule::KvTransferBuffer, &format!("{role}.cache_transceiver_config.max_tokens_in_buffer"), format!(
                            "{role} KV transfer buffer of {buf} tokens is smaller than the input length {isl}"
                        ))
                        .actual(buf.to_string())
                        .expected(format!(">= {isl}"))
                        .hint(format!("raise `max_tokens_in_buffer` to at least {isl}"));
                self.out.push(d);
            }
        }
    }

    fn modes(&mut self) {
        let c = &self.case.config;
        let b = &c.benchmark;
        if b.use_nv_sa_benchmark && b.mode == Mode::GenOnly {
            let d = self
                .at(
                    Rule::ModeCombination,
                    "benchmark.use_nv_sa_benchmark",
                    "`use_nv_sa_benchmark` cannot be used with mode `gen_only`".into(),
                )
                .actual("use_nv_sa_benchmark: true, mode: gen_only")
                .expected("use_nv_sa_benchmark: false with gen_only")
                .hint("set `use_nv_sa_benchmark: false` or use mode `e2e`");
            self.out.push(d);
        }
        if b.mode == Mode::GenOnlyNoContext {
            let declared = c
                .tree
                .at("hardware.num_ctx_servers")
                .and_then(|n| match n.value {
                    crate::yaml::Value::Int(i) => Some(i),
                    _ => None,
                });
            if let Some(n) = declared.filter(|n| *n > 0) {
                let d = self
                    .at(Rule::ModeCombination, "hardware.num_ctx_servers", format!("mode `gen_only_no_context` runs no context servers, but {n} are configured"))
                    .actual(n.to_string())
                    .expected("0")
                    .hint("set `num_ctx_servers: 0` (or use mode `gen_only`)");
                self.out.push(d);
            }
        }
        if b.mode == Mode::CtxOnly && b.output_length != 1 {
            let d = self
                .at(
                    Rule::CtxOnlyOutputLength,
                    "benchmark.output_length",
                    format!(
                        "mode `ctx_only` runs with output length 1; {} is ignored",
                        b.output_length
                    ),
                )
                .actual(b.output_length.to_string())
                .expected("1")
                .hint("set `output_length: 1` to make this explicit");
            self.out.push(d);
        }
    }

    fn dataset(&mut self) {
        let c = &self.case.config;
        let b = &c.benchmark;
        if b.use_nv_sa_benchmark
            || !b.enable_benchmark
            || b.only_run_accuracy
            || c.format == Format::AggregatedExample
        {
            return;
        }
        let Some(file) = &b.dataset_file else { return };
        if file.is_empty() {
            return;
        }
        let unresolved = !crate::load::placeholders(file).is_empty();
        let path = Path::new(file);
        let exists = !unresolved
            && if path.is_absolute() {
                path.exists()
            } else {
                // Relative dataset paths are resolved against the config's directory.
                self.case
                    .path
                    .parent()
                    .is_some_and(|dir| dir.join(path).exists())
            };
        if !exists {
            let why = if unresolved {
                "is an unresolved placeholder"
            } else {
                "does not exist"
            };
            let d = self
                .at(Rule::DatasetMissing, "benchmark.dataset_file", format!("trtllm_custom dataset `{file}` {why}; the run falls back to the random dataset"))
                .actual(file.clone())
                .expected("an existing dataset file")
                .hint("set DATASET_DIR (with metadata.dataset_file) or `--set benchmark.dataset_file=PATH`, or `use_nv_sa_benchmark: true` for random prompts");
            self.out.push(d);
        }
    }

    fn accuracy(&mut self) {
        const KNOWN_FILTERS: [&str; 3] = ["flexible-extract", "strict-match", "none"];
        let datasets = self.case.config.metadata.accuracy.clone();
        for (i, ds) in datasets.iter().enumerate() {
            let base = format!("metadata.accuracy.datasets.{i}");
            if !(0.0..=100.0).contains(&ds.expected_value) || ds.expected_value == 0.0 {
                let d = self
                    .at(
                        Rule::AccuracyThreshold,
                        &format!("{base}.expected_value"),
                        format!(
                            "expected_value {} is not a plausible accuracy",
                            ds.expected_value
                        ),
                    )
                    .actual(ds.expected_value.to_string())
                    .expected("a fraction in (0, 1] or a percentage in (1, 100]")
                    .hint("write the reference score, e.g. `expected_value: 0.9454`");
                self.out.push(d);
            }
            for (key, value, lo, hi) in [("alpha", ds.alpha, 0.0, 1.0), ("beta", ds.beta, 0.0, 1.0)]
            {
                if let Some(v) = value.filter(|v| *v <= lo || *v >= hi) {
                    let d = self
                        .at(
                            Rule::AccuracyThreshold,
                            &format!("{base}.{key}"),
                            format!("{key} {v} is outside (0, 1)"),
                        )
                        .actual(v.to_string())
                        .expected("a probability strictly between 0 and 1")
                        .hint(format!("e.g. `{key}: 0.05`"));
                    self.out.push(d);
                }
            }
            if ds.sigma.is_some_and(|s| s < 0.0) || ds.num_samples == Some(0) {
                let d = self
                    .at(
                        Rule::AccuracyThreshold,
                        &base,
                        "sigma must be >= 0 and num_samples > 0".into(),
                    )
                    .expected("sigma >= 0, num_samples >= 1");
                self.out.push(d);
            }
            if !KNOWN_FILTERS.contains(&ds.filter_type.as_str()) {
                let d = self
                    .at(
                        Rule::AccuracyThreshold,
                        &format!("{base}.filter_type"),
                        format!("unknown filter_type `{}`", ds.filter_type),
                    )
                    .actual(ds.filter_type.clone())
                    .expected(KNOWN_FILTERS.join(", "))
                    .hint("use the filter name lm_eval prints in its results table");
                self.out.push(d);
            }
        }
    }

    fn names(&mut self) {
        let c = &self.case.config;
        let Deployment::Disagg { ctx, generation } = &c.deployment else {
            return;
        };
        let t = parse_name(&self.case.file_stem);
        let mut mismatches: Vec<(String, String, String)> = Vec::new();
        let mut check = |token: String, field: &str, content: String, same: bool| {
            if !same {
                mismatches.push((token, field.to_string(), content));
            }
        };
        if let Some(n) = t.ctx_servers {
            check(
                format!("ctx{n}"),
                "hardware.num_ctx_servers",
                c.hardware.num_ctx_servers.to_string(),
                n == c.hardware.num_ctx_servers,
            );
        }
        if let Some(n) = t.gen_servers {
            check(
                format!("gen{n}"),
                "hardware.num_gen_servers",
                c.hardware.num_gen_servers.to_string(),
                n == c.hardware.num_gen_servers,
            );
        }
        let tag = |dp: bool, tp: u64| format!("{}{tp}", if dp { "dep" } else { "tep" });
        if let Some((dp, tp)) = t.gen_tp {
            let same = tp == generation.tp && dp == generation.attention_dp;
            check(
                tag(dp, tp),
                "gen.tensor_parallel_size",
                generation.parallel_tag(),
                same,
            );
        }
        if let (Some((dp, tp)), Some(cw)) = (t.ctx_tp, ctx) {
            check(
                tag(dp, tp),
                "ctx.tensor_parallel_size",
                cw.parallel_tag(),
                tp == cw.tp && dp == cw.attention_dp,
            );
        }
        if let (Some(pp), Some(cw)) = (t.ctx_pp, ctx) {
            check(
                format!("pp{pp}"),
                "ctx.pipeline_parallel_size",
                format!("pp{}", cw.pp),
                pp == cw.pp,
            );
        }
        if let Some(bs) = t.batch {
            let actual = generation.max_batch_size.unwrap_or(0);
            check(
                format!("bs{bs}"),
                "gen.max_batch_size",
                format!("max_batch_size {actual}"),
                bs == actual,
            );
        }
        if let Some(e) = t.eplb {
            check(
                format!("eplb{e}"),
                "gen.moe_config",
                format!("{} EPLB slots", generation.eplb_slots),
                e == generation.eplb_slots,
            );
        }
        if let Some(k) = t.mtp {
            check(
                format!("mtp{k}"),
                "gen.speculative_config",
                format!("MTP {}", generation.mtp),
                k == generation.mtp,
            );
        }
        if let Some(b) = &t.cache_backend {
            let actual = generation
                .cache_backend
                .clone()
                .unwrap_or_else(|| "DEFAULT".into())
                .to_ascii_uppercase();
            check(
                format!("ccb-{b}"),
                "gen.cache_transceiver_config.backend",
                actual.clone(),
                *b == actual,
            );
        }
        if let Some(bt) = &t.benchmark_type {
            check(
                bt.clone(),
                "benchmark.input_length",
                format!("lengths {}", self.case.benchmark_type),
                *bt == self.case.benchmark_type,
            );
        }
        if let Some(con) = t.concurrency {
            let list = &c.benchmark.concurrency_list;
            check(
                format!("con{con}"),
                "benchmark.concurrency_list",
                format!("{list:?}"),
                list.contains(&con),
            );
        }
        for (token, field, content) in mismatches {
            let d = self
                .at(
                    Rule::NameTopology,
                    &field,
                    format!("file name says `{token}` but the config has {content}"),
                )
                .actual(content)
                .expected(token.clone())
                .hint(
                    "rename the file or fix the config so that the name describes the deployment",
                );
            self.out.push(d);
        }
    }

    fn legacy_ctx(&mut self) {
        let m = &self.case.config.metadata;
        if !m.use_legacy_ctx_calculation {
            return;
        }
        if self.case.config.benchmark.concurrency_list.is_empty() || m.ctx_capacity == 0 {
            let d = self
                .at(Rule::LegacyCtxCount, "metadata.use_legacy_ctx_calculation", "the legacy ctx calculation needs a concurrency list and a positive `metadata.ctx_capacity`".into())
                .expected("a non-empty concurrency_list and ctx_capacity > 0")
                .hint("set `metadata.ctx_capacity` (default 5500) and `benchmark.concurrency_list`");
            self.out.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{LoadOptions, load_str};

    const BASE: &str = "metadata:\n  model_name: m\nhardware:\n  gpus_per_node: 4\n  num_ctx_servers: 1\n  num_gen_servers: 1\nbenchmark:\n  concurrency_list: '8'\n  input_length: 1024\n  output_length: 1024\nworker_config:\n  ctx:\n    tensor_parallel_size: 4\n    max_seq_len: 1100\n  gen:\n    tensor_parallel_size: 4\n    max_batch_size: 16\n    max_num_tokens: 64\n    max_seq_len: 2100\n";

    fn rules_for(text: &str, path: &str) -> Vec<Rule> {
        let f = load_str(Path::new(path), text, &LoadOptions::default());
        let mut rules: Vec<Rule> = f
            .diagnostics
            .iter()
            .filter(|d| d.severity > Severity::Info)
            .map(|d| d.rule)
            .collect();
        for case in &f.cases {
            rules.extend(
                validate_case(case, &ValidateOptions::default())
                    .into_iter()
                    .map(|d| d.rule),
            );
        }
        rules
    }

    fn rules(text: &str) -> Vec<Rule> {
        rules_for(text, "t/disagg/perf/x.yaml")
    }

    #[test]
    fn base_config_is_clean() {
        assert_eq!(rules(BASE), []);
    }

    #[test]
    fn rule2_mtp_token_budget() {
        let base = BASE.replace("max_num_tokens: 64", "max_num_tokens: 48");
        let bad = format!("{base}    speculative_config:\n      num_nextn_predict_layers: 3\n");
        assert_eq!(rules(&bad), [Rule::MtpTokenBudget]);
        // `>=` as upstream code says (64 = 16 x 4 passes).
        let ok = bad.replace("max_num_tokens: 48", "max_num_tokens: 64");
        assert!(!rules(&ok).contains(&Rule::MtpTokenBudget));
        // The newer key is read too.
        let newer = format!("{base}    speculative_config:\n      max_draft_len: 3\n");
        assert!(rules(&newer).contains(&Rule::MtpTokenBudget));
    }

    #[test]
    fn rule3_streaming() {
        let bad = BASE.replace(
            "  input_length: 1024",
            "  streaming: false\n  input_length: 1024",
        );
        assert_eq!(rules(&bad), [Rule::StreamingRequired]);
    }

    #[test]
    fn rule4_sequence_lengths() {
        assert_eq!(
            rules(&BASE.replace("max_seq_len: 1100", "max_seq_len: 1024")),
            [Rule::CtxSeqLen]
        );
        assert_eq!(
            rules(&BASE.replace("max_seq_len: 2100", "max_seq_len: 2047")),
            [Rule::GenSeqLen]
        );
        // Equal is enough for gen (SPEC: >=).
        assert_eq!(
            rules(&BASE.replace("max_seq_len: 2100", "max_seq_len: 2048")),
            []
        );
        let mtp = format!(
            "{}    speculative_config:\n      max_draft_len: 1\n",
            BASE.replace("max_seq_len: 2100", "max_seq_len: 2048")
        );
        assert_eq!(rules(&mtp), [Rule::GenSeqLenMtp]);
    }

    #[test]
    fn rule5_capacity_with_tolerance() {
        assert_eq!(
            rules(&BASE.replace("'8'", "'16 20'")),
            [Rule::ConcurrencyOversubscribed]
        );
        assert_eq!(
            rules(&BASE.replace("'8'", "'21'")),
            [Rule::ConcurrencyCapacity]
        );
        // Attention DP multiplies the capacity by TP.
        let adp = BASE.replace("'8'", "'64'").replace(
            "    max_batch_size: 16",
            "    enable_attention_dp: true\n    max_batch_size: 16",
        );
        assert_eq!(rules(&adp), []);
        let empty = BASE.replace("'8'", "''");
        assert_eq!(rules(&empty), [Rule::ConcurrencyEmpty]);
    }

    #[test]
    fn rule6_parallelism() {
        let bad = BASE.replace(
            "  gen:\n    tensor_parallel_size: 4",
            "  gen:\n    tensor_parallel_size: 6\n    moe_expert_parallel_size: 4",
        );
        assert_eq!(rules(&bad), [Rule::WorldSizeFit, Rule::ExpertParallel]);
        let graphs = format!(
            "{BASE}    cuda_graph_config:\n      enable_padding: true\n      batch_sizes: [1, 8, 32]\n"
        );
        assert_eq!(rules(&graphs), [Rule::CudaGraphBatches]);
        let uncovered = format!("{BASE}    cuda_graph_config:\n      batch_sizes: [1, 8]\n");
        assert_eq!(rules(&uncovered), [Rule::CudaGraphBatches]);
        let fine = format!(
            "{BASE}    cuda_graph_config:\n      enable_padding: true\n      batch_sizes: [1, 8]\n"
        );
        assert_eq!(rules(&fine), []);
    }

    #[test]
    fn rule7_kv_buffer() {
        let bad = format!("{BASE}    cache_transceiver_config:\n      max_tokens_in_buffer: 512\n");
        assert_eq!(rules(&bad), [Rule::KvTransferBuffer]);
        let ok = format!("{BASE}    cache_transceiver_config:\n      max_tokens_in_buffer: 1024\n");
        assert_eq!(rules(&ok), []);
    }

    #[test]
    fn rule8_modes() {
        let sa = BASE.replace(
            "  input_length: 1024",
            "  mode: gen_only\n  use_nv_sa_benchmark: true\n  input_length: 1024",
        );
        assert_eq!(rules(&sa), [Rule::ModeCombination]);
        let nctx = BASE.replace(
            "  input_length: 1024",
            "  mode: gen_only_no_context\n  input_length: 1024",
        );
        assert_eq!(rules(&nctx), [Rule::ModeCombination]);
        let ctx_only = BASE.replace(
            "  input_length: 1024",
            "  mode: ctx_only\n  input_length: 1024",
        );
        assert_eq!(rules(&ctx_only), [Rule::CtxOnlyOutputLength]);
        let bad_mode = BASE.replace("  input_length: 1024", "  mode: e2ee\n  input_length: 1024");
        assert_eq!(rules(&bad_mode), [Rule::InvalidValue]);
    }

    #[test]
    fn rule9_dataset() {
        let missing = BASE.replace(
            "  input_length: 1024",
            "  dataset_file: /nonexistent/d.json\n  input_length: 1024",
        );
        assert_eq!(rules(&missing), [Rule::DatasetMissing]);
        let sa = missing.replace(
            "  input_length: 1024",
            "  use_nv_sa_benchmark: true\n  input_length: 1024",
        );
        assert_eq!(rules(&sa), []);
        let name = BASE.replace(
            "  model_name: m\n",
            "  model_name: m\n  accuracy:\n    datasets:\n    - name: gsm8k\n      expected_value: 0.9\n",
        );
        assert_eq!(rules(&name), []);
        let both = name.replace("- name: gsm8k", "- name: gsm8k\n      dataset_name: gpqa");
        assert_eq!(rules(&both), [Rule::ConflictingKeys]);
    }

    #[test]
    fn rule10_accuracy_thresholds() {
        let acc = |extra: &str| {
            format!(
                "metadata:\n  model_name: m\n  accuracy:\n    datasets:\n    - dataset_name: gsm8k\n{extra}{}",
                BASE.trim_start_matches("metadata:\n  model_name: m\n")
            )
        };
        assert_eq!(rules(&acc("      expected_value: 0.9\n")), []);
        assert_eq!(
            rules(&acc(
                "      expected_value: 0.9\n      threshold_type: absolute\n"
            )),
            [Rule::AccuracyThreshold]
        );
        assert_eq!(
            rules(&acc("      expected_value: 150\n")),
            [Rule::AccuracyThreshold]
        );
        assert_eq!(
            rules(&acc("      expected_value: 0.9\n      alpha: 1.5\n")),
            [Rule::AccuracyThreshold]
        );
    }

    #[test]
    fn rule11_name_topology() {
        assert_eq!(
            rules_for(
                BASE,
                "t/disagg/perf/m_1k1k_ctx1_gen1_tep4_bs16_eplb0_mtp0.yaml"
            ),
            []
        );
        assert_eq!(
            rules_for(BASE, "t/disagg/perf/m_1k1k_ctx2_gen1_dep4_bs16.yaml"),
            [Rule::NameTopology, Rule::NameTopology]
        );
        assert_eq!(
            rules_for(BASE, "t/disagg/perf/m_8k1k.yaml"),
            [Rule::NameTopology]
        );
    }

    #[test]
    fn rule12_legacy_ctx() {
        let bad = BASE.replace(
            "  model_name: m\n",
            "  model_name: m\n  use_legacy_ctx_calculation: true\n  ctx_capacity: 0\n",
        );
        assert_eq!(rules(&bad), [Rule::LegacyCtxCount]);
        let ok = bad.replace("ctx_capacity: 0", "ctx_capacity: 5500");
        assert_eq!(rules(&ok), []);
    }

    #[test]
    fn placeholders_become_errors_for_submission() {
        let text = BASE.replace(
            "metadata:\n",
            "slurm:\n  partition: <partition>\nmetadata:\n",
        );
        let mut f = load_str(
            Path::new("t/disagg/perf/x.yaml"),
            &text,
            &LoadOptions::default(),
        );
        assert!(
            f.diagnostics
                .iter()
                .any(|d| d.rule == Rule::Placeholder && d.severity == Severity::Info)
        );
        apply_context(&mut f.diagnostics, &ValidateOptions { submission: true });
        assert!(
            f.diagnostics
                .iter()
                .any(|d| d.rule == Rule::Placeholder && d.severity == Severity::Error)
        );
    }
}
