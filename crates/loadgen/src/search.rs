//! SLO search: the highest concurrency (or request rate) at which every SLO holds.
//!
//! Each step is a full measured run of the config at one load. The search brackets first
//! (`min`, then doubling, up to `max`) until a step fails, then bisects between the highest load
//! that passed and the lowest that failed. It stops when that interval is at most `precision`
//! wide (1 for concurrency: the neighbours are known; a share of the lower end for rates), or
//! after `max_steps` runs. A step passes when every SLO holds and no request failed. The answer
//! is the highest passing load, with its goodput (requests per second meeting every per-request
//! limit of the SLOs' metrics). Step `k` (from 0) uses seed `seed + k`, so no step re-sends the
//! prompts of an earlier one into a server's prefix cache.

use std::fmt;

use serde::Deserialize;

use crate::config::{BenchConfig, Metric, RequestRate, Slo};
use crate::error::BenchError;
use crate::report::BenchReport;

/// Which statistic of a metric an SLO bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    /// The mean.
    Mean,
    /// The median (`p50`).
    Median,
    /// A percentile in (0, 100].
    Percentile(f64),
}

/// One objective, e.g. `ttft_p99<=500ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SloBound {
    /// The metric.
    pub metric: Metric,
    /// Its statistic over the run.
    pub stat: Stat,
    /// The limit, ms: the step passes when the statistic is at most this.
    pub limit_ms: f64,
}

impl fmt::Display for SloBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stat = match self.stat {
            Stat::Mean => "mean".to_owned(),
            Stat::Median => "p50".to_owned(),
            Stat::Percentile(p) => format!("p{}", crate::report::p_word(p)),
        };
        write!(f, "{}_{stat}<={}ms", self.metric.key(), self.limit_ms)
    }
}

impl SloBound {
    /// Parses `METRIC_STAT<=LIMIT`: metric `ttft`, `tpot`, `itl` or `e2el`; stat `mean`,
    /// `median` or `pN` (`p50`, `p99`, `p99.9`); limit in `ms` (the default) or `s`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!("invalid SLO `{s}`: {why}; expected e.g. ttft_p99<=500ms or tpot_mean<=20ms")
        };
        let (lhs, rhs) = s.split_once("<=").ok_or_else(|| bad("no `<=`"))?;
        let (metric, stat) = lhs
            .trim()
            .split_once('_')
            .ok_or_else(|| bad("no `_` between metric and statistic"))?;
        let metric = Metric::from_key(metric)
            .ok_or_else(|| bad("the metric is one of ttft, tpot, itl, e2el"))?;
        let stat = match stat {
            "mean" => Stat::Mean,
            "median" | "p50" => Stat::Median,
            p => {
                let v: f64 = p
                    .strip_prefix('p')
                    .and_then(|x| x.parse().ok())
                    .ok_or_else(|| bad("the statistic is mean, median or pN"))?;
                if !(v > 0.0 && v <= 100.0) {
                    return Err(bad("a percentile is in (0, 100]"));
                }
                Stat::Percentile(v)
            }
        };
        let rhs = rhs.trim();
        let (num, scale) = if let Some(x) = rhs.strip_suffix("ms") {
            (x, 1.0)
        } else if let Some(x) = rhs.strip_suffix('s') {
            (x, 1000.0)
        } else {
            (rhs, 1.0)
        };
        let v: f64 = num
            .trim()
            .parse()
            .map_err(|_| bad("the limit is a number of ms or s"))?;
        if !(v.is_finite() && v >= 0.0) {
            return Err(bad("the limit must be 0 or more"));
        }
        Ok(Self {
            metric,
            stat,
            limit_ms: v * scale,
        })
    }

    /// Parses a comma-separated list.
    pub fn parse_list(s: &str) -> Result<Vec<Self>, String> {
        let v: Vec<Self> = s
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(Self::parse)
            .collect::<Result<_, _>>()?;
        if v.is_empty() {
            return Err("no SLO given; expected e.g. ttft_p99<=500ms,tpot_p50<=20ms".into());
        }
        Ok(v)
    }

    /// The statistic measured in a report, ms.
    pub fn measured(&self, r: &BenchReport) -> f64 {
        let s = r.metrics.summary(self.metric);
        match self.stat {
            Stat::Mean => s.mean,
            Stat::Median => s.median,
            Stat::Percentile(p) => s
                .percentiles
                .iter()
                .find(|(q, _)| (q - p).abs() < 1e-9)
                .map_or(f64::NAN, |(_, v)| *v),
        }
    }
}

/// What is searched over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SearchOver {
    /// `max_concurrency`, closed loop.
    Concurrency,
    /// `request_rate` (requests per second), open loop.
    Rate,
}

/// An SLO search: the section `benchmark.slo_search:` of a test config.
///
/// ```yaml
/// slo_search:
///   slo: "ttft_p99<=500ms,tpot_p50<=20ms"
///   search: concurrency      # or rate
///   max: 1024
///   min: 1                   # default 1
///   precision: 1             # default: 1 for concurrency, 0.05 (5% of the load) for rate
///   max_steps: 16            # default 16
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloSearch {
    /// The SLOs, comma separated (see [`SloBound::parse`]).
    #[serde(deserialize_with = "de_slos")]
    pub slo: Vec<SloBound>,
    /// Concurrency or rate.
    pub search: SearchOver,
    /// Highest load tried.
    pub max: f64,
    /// Lowest load tried (default 1).
    #[serde(default = "one")]
    pub min: f64,
    /// Stop when the bracket is this narrow: an absolute width for concurrency (default 1), a
    /// share of the passing load for rate (default 0.05).
    #[serde(default)]
    pub precision: Option<f64>,
    /// Most runs (default 16).
    #[serde(default = "default_steps")]
    pub max_steps: usize,
}

fn one() -> f64 {
    1.0
}
fn default_steps() -> usize {
    16
}

fn de_slos<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SloBound>, D::Error> {
    let s = String::deserialize(d)?;
    SloBound::parse_list(&s).map_err(serde::de::Error::custom)
}

impl SloSearch {
    /// Range checks.
    pub fn check(&self) -> Result<(), String> {
        if !(self.min.is_finite() && self.min > 0.0 && self.max >= self.min) {
            return Err(format!(
                "SLO search: need 0 < min <= max, got min {} and max {}",
                self.min, self.max
            ));
        }
        if self.precision.is_some_and(|p| p.is_nan() || p <= 0.0) {
            return Err("SLO search: `precision` must be positive".into());
        }
        if self.max_steps < 2 {
            return Err("SLO search: `max_steps` must be at least 2".into());
        }
        Ok(())
    }

    fn precision(&self) -> f64 {
        self.precision.unwrap_or(match self.search {
            SearchOver::Concurrency => 1.0,
            SearchOver::Rate => 0.05,
        })
    }

    /// Whether the bracket `[lo, hi)` is narrow enough to stop.
    fn narrow(&self, lo: f64, hi: f64) -> bool {
        match self.search {
            SearchOver::Concurrency => hi - lo <= self.precision().max(1.0),
            SearchOver::Rate => hi - lo <= self.precision() * lo,
        }
    }

    /// The config of step `step` (from 0). Each step draws its prompts from its own seed: a
    /// server with a prefix cache (TensorRT-LLM's and vLLM's default) would otherwise find every
    /// prompt of a later step cached by the earlier ones and measure a lighter load.
    fn step_config(&self, base: &BenchConfig, load: f64, step: usize) -> BenchConfig {
        let mut cfg = base.clone();
        cfg.seed = base.seed.wrapping_add(step as u64);
        match self.search {
            SearchOver::Concurrency => cfg.max_concurrency = Some(load as usize),
            SearchOver::Rate => {
                let burstiness = match base.request_rate {
                    RequestRate::PerSecond { burstiness, .. } => burstiness,
                    RequestRate::Infinite => 1.0,
                };
                cfg.request_rate = RequestRate::PerSecond {
                    rate: load,
                    burstiness,
                };
            }
        }
        for slo in &self.slo {
            if let Stat::Percentile(p) = slo.stat
                && !cfg.percentiles.iter().any(|q| (q - p).abs() < 1e-9)
            {
                cfg.percentiles.push(p);
            }
            if !cfg.percentile_metrics.contains(&slo.metric) {
                cfg.percentile_metrics.push(slo.metric);
            }
        }
        if cfg.goodput.is_empty() {
            // Goodput per request, with the SLOs' limits of the metrics that have one.
            for slo in self.slo.iter().filter(|s| s.metric != Metric::Itl) {
                if !cfg.goodput.iter().any(|g| g.metric == slo.metric) {
                    cfg.goodput.push(Slo {
                        metric: slo.metric,
                        limit_ms: slo.limit_ms,
                    });
                }
            }
        }
        cfg
    }
}

/// One measured run of the search.
#[derive(Debug, Clone)]
pub struct SearchStep {
    /// 1-based step number.
    pub step: usize,
    /// The load (concurrency or requests per second).
    pub load: f64,
    /// Each SLO with the value measured, ms.
    pub measured: Vec<(SloBound, f64)>,
    /// Every SLO held and no request failed.
    pub passed: bool,
    /// The run.
    pub report: BenchReport,
}

/// The whole search.
#[derive(Debug, Clone)]
pub struct SearchReport {
    /// What was searched over.
    pub search: SearchOver,
    /// Every step, in order.
    pub steps: Vec<SearchStep>,
    /// The index in `steps` of the highest passing load; `None` when even `min` failed.
    pub answer: Option<usize>,
    /// Why the search stopped.
    pub stop: String,
}

impl SearchReport {
    /// The answer's step.
    pub fn answer_step(&self) -> Option<&SearchStep> {
        self.answer.and_then(|i| self.steps.get(i))
    }
}

/// Runs the search; `on_step` sees each step as it finishes (to print it).
pub async fn run_search(
    base: &BenchConfig,
    search: &SloSearch,
    mut on_step: impl FnMut(&SearchStep),
) -> Result<SearchReport, BenchError> {
    search.check().map_err(BenchError::InvalidConfig)?;
    let round = |x: f64| match search.search {
        SearchOver::Concurrency => x.floor().max(1.0),
        SearchOver::Rate => x,
    };
    let mut steps: Vec<SearchStep> = Vec::new();
    let mut lo: Option<f64> = None;
    let mut hi: Option<f64> = None;
    let mut next = round(search.min);
    let stop = loop {
        if steps.len() >= search.max_steps {
            break format!("the step limit ({}) was reached", search.max_steps);
        }
        let cfg = search.step_config(base, next, steps.len());
        let report = crate::run_benchmark(&cfg).await?;
        let measured: Vec<(SloBound, f64)> = search
            .slo
            .iter()
            .map(|s| (*s, s.measured(&report)))
            .collect();
        let passed = report.all_succeeded() && measured.iter().all(|(s, v)| *v <= s.limit_ms);
        let step = SearchStep {
            step: steps.len() + 1,
            load: next,
            measured,
            passed,
            report,
        };
        on_step(&step);
        steps.push(step);
        if passed {
            lo = Some(next);
        } else {
            hi = Some(next);
        }
        next = match (lo, hi) {
            (None, Some(_)) => break "the lowest load already misses an SLO".into(),
            (Some(l), None) if l >= search.max => {
                break "the highest load allowed meets every SLO".into();
            }
            // Bracketing: double until a step fails.
            (Some(l), None) => round((l * 2.0).min(search.max)),
            (Some(l), Some(h)) => {
                if search.narrow(l, h) {
                    break format!(
                        "the bracket [{}, {}) is within the precision",
                        fmt_load(l),
                        fmt_load(h)
                    );
                }
                round((l + h) / 2.0)
            }
            (None, None) => break "no step ran".into(),
        };
    };
    let answer = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.passed)
        .max_by(|a, b| a.1.load.total_cmp(&b.1.load))
        .map(|(i, _)| i);
    Ok(SearchReport {
        search: search.search,
        steps,
        answer,
        stop,
    })
}

/// A load as printed: integers without decimals.
pub fn fmt_load(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}

/// One line per step: `SLO search step 3: concurrency 48: ttft_p99 412.30 ms (<= 500) ok, ... -> pass`.
pub fn step_line(search: SearchOver, s: &SearchStep) -> String {
    let what = match search {
        SearchOver::Concurrency => "concurrency",
        SearchOver::Rate => "rate",
    };
    let parts: Vec<String> = s
        .measured
        .iter()
        .map(|(b, v)| {
            let name = b.to_string();
            let name = name.split("<=").next().unwrap_or("");
            let ok = if *v <= b.limit_ms { "ok" } else { "over" };
            format!("{name} {v:.2} ms (<= {}) {ok}", b.limit_ms)
        })
        .collect();
    let failed = s.report.metrics.failed;
    let errors = if failed > 0 {
        format!(", {failed} failed requests")
    } else {
        String::new()
    };
    format!(
        "SLO search step {}: {what} {}: {}{errors} -> {}",
        s.step,
        fmt_load(s.load),
        parts.join(", "),
        if s.passed { "pass" } else { "fail" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slos_parse_with_units_and_stats() {
        let v = SloBound::parse_list("ttft_p99<=500ms, tpot_p50<=20, e2el_mean<=2s,itl_p99.9<=5ms")
            .unwrap();
        assert_eq!(v[0].metric, Metric::Ttft);
        assert_eq!(v[0].stat, Stat::Percentile(99.0));
        assert_eq!(v[1].stat, Stat::Median);
        assert_eq!((v[2].stat, v[2].limit_ms), (Stat::Mean, 2000.0));
        assert_eq!(v[3].stat, Stat::Percentile(99.9));
        assert_eq!(v[0].to_string(), "ttft_p99<=500ms");
        for bad in [
            "ttft<=5",
            "ttft_p0<=5",
            "foo_p99<=5",
            "ttft_p99<5",
            "ttft_p99<=-1",
            "",
        ] {
            assert!(SloBound::parse_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn search_section_reads_as_documented() {
        let s: SloSearch = serde_saphyr::from_str(
            "slo: \"ttft_p99<=500ms,tpot_p50<=20ms\"\nsearch: concurrency\nmax: 1024\n",
        )
        .unwrap();
        assert_eq!((s.min, s.max, s.max_steps), (1.0, 1024.0, 16));
        assert!(s.check().is_ok());
        assert!(s.narrow(48.0, 49.0) && !s.narrow(48.0, 50.0));
        let r = SloSearch {
            search: SearchOver::Rate,
            ..s.clone()
        };
        assert!(r.narrow(100.0, 104.0) && !r.narrow(100.0, 106.0));
        assert!(
            serde_saphyr::from_str::<SloSearch>("slo: x\nsearch: concurrency\nmax: 4\n").is_err()
        );
    }

    proptest! {
        #[test]
        fn slo_parser_never_panics(s in "\\PC{0,40}") {
            let _ = SloBound::parse_list(&s);
        }
    }
}
