//! The verdict on the newest run of a series: baseline selection and the robust windowed test.
//!
//! For each window of the `j` newest runs (`confirm_runs ≤ j ≤ max_recent`), the baseline is
//! the up to K passing baseline-label runs before the window. Its median and MAD screen out
//! outliers (runs beyond [`SCREEN`] MAD-sigmas of the median, the modified z-score rule); the
//! mean `c` and standard deviation `s` of the rest are the baseline and its noise. The window's
//! statistic is `T_j = √j · mean(clip((yᵢ − c) / s, ±CLIP))`: the mean standardised deviation of
//! its runs, each run's influence bounded. The check's statistic is `S = max_j T_j` (per
//! direction); being location- and scale-free, its distribution under "no change, Gaussian
//! noise" depends only on the layout of the windows, so [`Judge`] draws it once per layout by
//! seeded Monte Carlo (the same screening, the same windows) and reads each window's p-value
//! `P(S ≥ T_j)` from it, which corrects for testing several windows (single-step max-T).
//!
//! A change is declared for a window when its p-value is at most `alpha`, the mean of its runs
//! differs from the baseline by more than the threshold, and the newest run is itself on that
//! side of the baseline. `docs/verdicts.md` explains the choice and shows its measured quality.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use crate::model::{MetricVerdict, Observation, Options, Pin, Series, Verdict};
use crate::stats;

/// Standardised deviations are clipped to ±this before averaging over two or more runs (Huber's
/// bound): one run can move `T_j` by at most `CLIP / √j`.
pub const CLIP: f64 = 3.0;

/// Baseline runs further than this many MAD-sigmas from the baseline median are outliers and
/// left out of its mean and standard deviation (Iglewicz and Hoaglin's modified z-score bound).
pub const SCREEN: f64 = 3.5;

/// The fewest baseline runs a window is ever tested with, whatever `min_history` says.
const MIN_BASELINE: usize = 3;

/// Judges series with one set of options, caching the null distributions it draws.
///
/// Deterministic: the same options and series give the same verdict, whatever was judged before.
pub struct Judge {
    options: Options,
    nulls: Arc<Mutex<HashMap<Layout, Arc<[f64]>>>>,
}

/// Per tested window, the positions of its baseline runs and of its recent runs, renumbered
/// 0.. over all the runs the windows use: all the null distribution depends on.
type Layout = Vec<(Vec<usize>, Vec<usize>)>;

/// A window of newest runs: indices into the series' same-configuration runs.
struct Window {
    /// The newest runs, newest first.
    recent: Vec<usize>,
    /// Its baseline runs, oldest first.
    baseline: Vec<usize>,
}

/// A baseline's robust summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// The mean of the runs kept after screening.
    pub center: f64,
    /// Their standard deviation (n − 1).
    pub scale: f64,
    /// How many runs were kept.
    pub kept: usize,
}

/// What one tested window measured.
struct Measured {
    /// Runs in the window.
    recent: usize,
    /// Runs in its baseline.
    window: usize,
    /// Baseline runs screened out.
    outliers: usize,
    /// The baseline's screened mean.
    center: f64,
    /// The mean of the window's runs.
    mean: f64,
    /// `T_j` toward larger values.
    t: f64,
}

/// The evidence of one tested window in one direction.
#[derive(Debug, Clone, Copy)]
struct Evidence {
    recent: usize,
    window: usize,
    outliers: usize,
    baseline: f64,
    p: f64,
    beyond: bool,
}

impl std::fmt::Debug for Judge {
    /// The options and how many null distributions are cached (not their draws).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cached = self.nulls.lock().map_or(0, |c| c.len());
        f.debug_struct("Judge")
            .field("options", &self.options)
            .field("cached_nulls", &cached)
            .finish()
    }
}

impl Judge {
    /// A judge with these options.
    pub fn new(options: Options) -> Self {
        Judge {
            options,
            nulls: Arc::default(),
        }
    }

    /// A judge with other options (another metric's direction, threshold, window) that shares
    /// this one's null distributions when they are drawn alike (same `null_draws` and `seed`),
    /// so a `check` over many metrics draws each window layout once.
    pub fn with_options(&self, options: Options) -> Judge {
        let alike =
            options.null_draws == self.options.null_draws && options.seed == self.options.seed;
        let nulls = if alike {
            self.nulls.clone()
        } else {
            Arc::default()
        };
        Judge { options, nulls }
    }

    /// The options this judge applies.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The verdict on the newest observation of `series` against its baseline.
    pub fn judge(&self, series: &Series) -> MetricVerdict {
        let o = &self.options;
        let Some(newest) = series.observations.last() else {
            return self.no_baseline(f64::NAN, None, 0, "the series has no observations".into());
        };
        if !newest.value.is_finite() {
            return self.no_baseline(
                newest.value,
                None,
                0,
                format!(
                    "run {} has no finite value ({})",
                    newest.run_id, newest.value
                ),
            );
        }
        let same: Vec<&Observation> = series
            .observations
            .iter()
            .filter(|ob| ob.fingerprint == newest.fingerprint && ob.value.is_finite())
            .collect();
        let note = fingerprint_note(series, newest);
        let windows = match self.windows(series, &same, newest) {
            Ok(windows) => windows,
            Err(why) => return self.no_baseline(newest.value, None, 0, format!("{why}{note}")),
        };
        let values = |idx: &[usize]| -> Vec<f64> {
            idx.iter()
                .filter_map(|i| same.get(*i))
                .map(|ob| ob.value)
                .collect()
        };
        let spreads =
            |idx: &[usize]| stats::finite(idx.iter().filter_map(|i| same.get(*i)?.spread));
        let first_idx = windows
            .first()
            .map(|w| w.baseline.clone())
            .unwrap_or_default();
        let first_base = values(&first_idx);
        let n = first_base.len();
        let summary = summarize(&first_base).filter(|_| n >= o.min_history.max(MIN_BASELINE));
        let Some(summary) = summary else {
            return self.no_baseline(
                newest.value,
                None,
                n,
                format!(
                    "only {n} passing run(s) on `{}` in the baseline; a verdict needs {}{note}",
                    o.baseline_label,
                    o.min_history.max(MIN_BASELINE)
                ),
            );
        };
        let b = summary.center;
        if b == 0.0 {
            return self.no_baseline(
                newest.value,
                Some(b),
                n,
                format!("the baseline is 0, so a relative threshold cannot apply{note}"),
            );
        }
        let delta_pct = (newest.value - b) / b.abs() * 100.0;
        let noise_pct = floored(summary.scale, &spreads(&first_idx)) / b.abs() * 100.0;
        let tested: Vec<&Window> = windows
            .iter()
            .filter(|w| {
                w.recent.len() >= o.confirm_runs.max(1)
                    && w.baseline.len() >= o.min_history.max(MIN_BASELINE)
            })
            .collect();
        let measured: Vec<Measured> = tested
            .iter()
            .filter_map(|w| {
                let base = values(&w.baseline);
                let recent = values(&w.recent);
                let sum = summarize(&base)?;
                let s = floored(sum.scale, &spreads(&w.baseline));
                Some(Measured {
                    recent: recent.len(),
                    window: base.len(),
                    outliers: base.len() - sum.kept,
                    center: sum.center,
                    mean: stats::mean(&recent)?,
                    t: statistic(&recent, sum.center, s)?,
                })
            })
            .collect();
        let null = self.null(&layout(&tested));
        let evidence = |sign: f64| -> Option<Evidence> {
            let all = measured.iter().map(|m| {
                let exceed = null.len() - null.partition_point(|x| *x < sign * m.t);
                let c = m.center;
                let beyond = sign * (m.mean - c) / c.abs() * 100.0 > o.threshold_pct
                    && sign * (newest.value - c) > 0.0;
                Evidence {
                    recent: m.recent,
                    window: m.window,
                    outliers: m.outliers,
                    baseline: c,
                    p: (exceed + 1) as f64 / (null.len() + 1) as f64,
                    beyond,
                }
            });
            all.min_by(|a, b| {
                (!a.beyond, a.p)
                    .partial_cmp(&(!b.beyond, b.p))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
        };
        let worse = o.direction.worse_sign();
        let (regress, improve) = (evidence(worse), evidence(-worse));
        for (v, e) in [
            (Verdict::Regression, regress),
            (Verdict::Improvement, improve),
        ] {
            if let Some(e) = e.filter(|e| e.beyond && e.p <= o.alpha) {
                return self.change(v, newest.value, e, noise_pct, &note);
            }
        }
        let toward = if delta_pct * worse > 0.0 {
            regress
        } else {
            improve
        };
        let p_value = toward.map(|e| e.p);
        let reason = match (delta_pct.abs() <= o.threshold_pct, toward) {
            (true, _) => format!(
                "{delta_pct:+.1}% is within the {}% threshold",
                o.threshold_pct
            ),
            (false, None) => format!(
                "{delta_pct:+.1}% is beyond the {}% threshold, but a change is tested over at least \
                 {} consecutive runs and there are fewer",
                o.threshold_pct, o.confirm_runs
            ),
            (false, Some(e)) if e.p > o.alpha => format!(
                "{delta_pct:+.1}% is within the noise of the baseline (noise {noise_pct:.1}%; {}, \
                 alpha {})",
                fmt_p(e.p),
                o.alpha
            ),
            (false, Some(e)) => format!(
                "{delta_pct:+.1}% is significant ({}) but the {} newest runs together stay within \
                 the {}% threshold",
                fmt_p(e.p),
                e.recent,
                o.threshold_pct
            ),
        };
        MetricVerdict {
            verdict: Verdict::Unchanged,
            value: newest.value,
            baseline: Some(b),
            delta_pct: Some(delta_pct),
            p_value,
            noise_pct: Some(noise_pct),
            threshold_pct: o.threshold_pct,
            window: n,
            outliers: n - summary.kept,
            recent: toward.map_or(1, |e| e.recent),
            reason: format!("{reason}{note}"),
        }
    }

    /// A regression or improvement verdict from the deciding window's evidence.
    fn change(
        &self,
        verdict: Verdict,
        value: f64,
        e: Evidence,
        noise_pct: f64,
        note: &str,
    ) -> MetricVerdict {
        let o = &self.options;
        let runs = if e.recent == 1 {
            "the run is".to_owned()
        } else {
            format!("the {} newest runs are", e.recent)
        };
        let (what, dir) = if verdict == Verdict::Regression {
            ("regression", "worse")
        } else {
            ("improvement", "better")
        };
        MetricVerdict {
            verdict,
            value,
            baseline: Some(e.baseline),
            delta_pct: Some((value - e.baseline) / e.baseline.abs() * 100.0),
            p_value: Some(e.p),
            noise_pct: Some(noise_pct),
            threshold_pct: o.threshold_pct,
            window: e.window,
            outliers: e.outliers,
            recent: e.recent,
            reason: format!(
                "{what}: {runs} {dir} than the baseline ({} over {} runs) by more than the {}% \
                 threshold; {} (alpha {}){note}",
                fmt_num(e.baseline),
                e.window,
                o.threshold_pct,
                fmt_p(e.p),
                o.alpha
            ),
        }
    }

    /// The candidate windows, shortest first: `windows[j − 1]` tests the `j` newest runs.
    fn windows(
        &self,
        series: &Series,
        same: &[&Observation],
        newest: &Observation,
    ) -> Result<Vec<Window>, String> {
        let o = &self.options;
        let is_base = |i: &usize| {
            same.get(*i)
                .is_some_and(|ob| ob.passing && ob.label == o.baseline_label)
        };
        let accepted_before = |end: usize| {
            same.iter()
                .take(end + 1)
                .rposition(|ob| series.accepted_changes.contains(&ob.run_id))
                .unwrap_or(0)
        };
        let last = same.len().saturating_sub(1);
        // `floor`: where the newest runs may start; `pinned`: the fixed baseline, if any.
        let (floor, pinned): (usize, Option<Vec<usize>>) = match &series.pin {
            None => (accepted_before(last), None),
            Some(Pin::Run(id)) => {
                let Some(at) = same.iter().position(|ob| &ob.run_id == id) else {
                    return Err(format!(
                        "pinned baseline run {id} is not in this series (same configuration \
                         fingerprint); pin a run of this configuration or unpin it"
                    ));
                };
                (
                    at + 1,
                    Some(newest_k(
                        (accepted_before(at)..=at).filter(is_base),
                        o.window,
                    )),
                )
            }
            Some(Pin::Tag(tag)) => {
                let tagged = |i: &usize| {
                    same.get(*i)
                        .is_some_and(|ob| ob.passing && ob.tags.contains(tag))
                };
                let Some(at) = (0..same.len()).rev().find(tagged) else {
                    return Err(format!(
                        "no passing run of this configuration carries the pinned tag `{tag}`; \
                         tag one with `servebench baseline pin` or unpin it"
                    ));
                };
                (
                    at + 1,
                    Some(newest_k((0..same.len()).filter(tagged), o.window)),
                )
            }
        };
        let mut recent: Vec<usize> = Vec::new();
        for i in (floor..same.len()).rev() {
            if recent.len() == o.max_recent.max(1) {
                break;
            }
            let eligible = same
                .get(i)
                .is_some_and(|ob| ob.passing && ob.label == newest.label);
            if recent.is_empty() || eligible {
                recent.push(i);
            }
        }
        if recent.is_empty() {
            return Err(format!(
                "run {} is itself the pinned baseline; judge a later run",
                newest.run_id
            ));
        }
        Ok((1..=recent.len())
            .map(|j| {
                let runs = recent.get(..j).unwrap_or_default().to_vec();
                let oldest = runs.last().copied().unwrap_or(floor);
                let baseline = pinned
                    .clone()
                    .unwrap_or_else(|| newest_k((floor..oldest).filter(is_base), o.window));
                Window {
                    recent: runs,
                    baseline,
                }
            })
            .collect())
    }

    /// The sorted null distribution of `S = max_j T_j` for windows laid out as `layout`.
    fn null(&self, layout: &Layout) -> Arc<[f64]> {
        let mut cache = self.nulls.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(null) = cache.get(layout) {
            return null.clone();
        }
        let size = layout
            .iter()
            .flat_map(|(b, r)| b.iter().chain(r))
            .max()
            .map_or(0, |m| m + 1);
        let mut rng = StdRng::seed_from_u64(self.options.seed ^ layout_hash(layout));
        let mut draw = vec![0.0; size];
        let (mut base, mut recent) = (Vec::new(), Vec::new());
        let mut null: Vec<f64> = (0..self.options.null_draws.max(1))
            .filter_map(|_| {
                draw.iter_mut()
                    .for_each(|v| *v = StandardNormal.sample(&mut rng));
                layout
                    .iter()
                    .filter_map(|(b, r)| {
                        base.clear();
                        base.extend(b.iter().filter_map(|i| draw.get(*i)));
                        recent.clear();
                        recent.extend(r.iter().filter_map(|i| draw.get(*i)));
                        let sum = summarize(&base)?;
                        statistic(&recent, sum.center, sum.scale)
                    })
                    .max_by(f64::total_cmp)
            })
            .collect();
        null.sort_by(f64::total_cmp);
        let null: Arc<[f64]> = null.into();
        cache.insert(layout.clone(), null.clone());
        null
    }

    /// A "no baseline" verdict.
    fn no_baseline(
        &self,
        value: f64,
        baseline: Option<f64>,
        window: usize,
        reason: String,
    ) -> MetricVerdict {
        MetricVerdict {
            verdict: Verdict::NoBaseline,
            value,
            baseline,
            delta_pct: None,
            p_value: None,
            noise_pct: None,
            threshold_pct: self.options.threshold_pct,
            window,
            outliers: 0,
            recent: 0,
            reason,
        }
    }
}

/// The baseline summary: median and MAD screen out runs beyond [`SCREEN`] MAD-sigmas, then the
/// mean and standard deviation of the rest. With a MAD of 0, only runs equal to the median stay.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    let median = stats::median(values)?;
    let sigma = stats::robust_sigma(values)?;
    let kept: Vec<f64> = values
        .iter()
        .copied()
        .filter(|v| (v - median).abs() <= SCREEN * sigma)
        .collect();
    let center = stats::mean(&kept)?;
    let scale = match kept.len() {
        0 | 1 => 0.0,
        k => (kept.iter().map(|v| (v - center).powi(2)).sum::<f64>() / (k - 1) as f64).sqrt(),
    };
    Some(Summary {
        center,
        scale,
        kept: kept.len(),
    })
}

/// `√j · mean(clip(zᵢ, ±CLIP))` with `zᵢ = (yᵢ − c) / s` over the recent values `y` (positive:
/// larger values). In a window of two or more runs, a lone outlier (beyond [`SCREEN`] sigmas
/// from the baseline and from every other run of the window, and the only such run) is first
/// brought in to the largest |z| of the other runs, so it counts no more than the runs beside it
/// support, while a step, which moves all the runs after it together, is left alone. A lone run (`j = 1`) is not clipped: that
/// would only cap how sure one run can make us. With `s = 0` (a constant baseline) any
/// difference is an infinite deviation.
pub fn statistic(recent: &[f64], c: f64, s: f64) -> Option<f64> {
    let mut z: Vec<f64> = recent
        .iter()
        .map(|y| {
            let d = y - c;
            if s > 0.0 {
                d / s
            } else if d == 0.0 {
                0.0
            } else {
                d.signum() * f64::INFINITY
            }
        })
        .collect();
    if z.len() > 1 {
        let lone = |i: usize, v: f64| {
            v.abs() > SCREEN
                && z.iter()
                    .enumerate()
                    .all(|(k, w)| k == i || (v - w).abs() > SCREEN)
        };
        let mut extreme = z
            .iter()
            .enumerate()
            .filter(|(i, v)| lone(*i, **v))
            .map(|(i, _)| i);
        if let (Some(i), None) = (extreme.next(), extreme.next()) {
            let others = z
                .iter()
                .enumerate()
                .filter(|(k, _)| *k != i)
                .map(|(_, v)| v.abs());
            let bound = others.fold(0.0, f64::max);
            if let Some(v) = z.get_mut(i) {
                *v = v.clamp(-bound, bound);
            }
        }
        z.iter_mut().for_each(|v| *v = v.clamp(-CLIP, CLIP));
    }
    Some(stats::mean(&z)? * (z.len() as f64).sqrt())
}

/// The noise `scale`, floored by the median spread of the runs' repeats when they have any.
fn floored(scale: f64, spreads: &[f64]) -> f64 {
    stats::median(spreads).map_or(scale, |floor| scale.max(floor))
}

/// The layout of `windows`: their positions renumbered densely over the runs they use.
fn layout(windows: &[&Window]) -> Layout {
    let mut used: Vec<usize> = windows
        .iter()
        .flat_map(|w| w.baseline.iter().chain(&w.recent))
        .copied()
        .collect();
    used.sort_unstable();
    used.dedup();
    let rank = |i: &usize| used.binary_search(i).unwrap_or_default();
    windows
        .iter()
        .map(|w| {
            (
                w.baseline.iter().map(rank).collect(),
                w.recent.iter().map(rank).collect(),
            )
        })
        .collect()
}

/// A stable hash of a layout, to seed its null distribution.
fn layout_hash(layout: &Layout) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (b, r) in layout {
        for v in b.iter().chain([&usize::MAX]).chain(r).chain([&usize::MAX]) {
            h = (h ^ *v as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The newest `k` of `items`, oldest first.
fn newest_k(items: impl DoubleEndedIterator<Item = usize>, k: usize) -> Vec<usize> {
    let mut out: Vec<usize> = items.rev().take(k).collect();
    out.reverse();
    out
}

/// " (…)" when the judged run starts a new configuration series.
fn fingerprint_note(series: &Series, newest: &Observation) -> String {
    let prev = series.observations.iter().rev().nth(1);
    match prev {
        Some(prev) if prev.fingerprint != newest.fingerprint => format!(
            " (the configuration fingerprint changed after run {}: a new series starts, older \
             runs of other configurations are not compared)",
            prev.run_id
        ),
        _ => String::new(),
    }
}

/// A value with at most four decimals, trailing zeros trimmed.
fn fmt_num(v: f64) -> String {
    format!("{v:.4}")
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_owned()
}

/// "p = 0.0123", or "p < 0.0001" below the resolution worth printing.
fn fmt_p(p: f64) -> String {
    if p < 1e-4 {
        "p < 0.0001".to_owned()
    } else {
        format!("p = {p:.4}")
    }
}
