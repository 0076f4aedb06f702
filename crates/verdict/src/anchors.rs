//! The rules users have today, implemented faithfully so the quality harness can compare them.
//!
//! Each rule reduces a history and the newest run to one score, the newest run's
//! direction-adjusted relative change against the rule's own baseline ("how much worse, in
//! percent"), and calls a regression when the score exceeds its threshold (an improvement when
//! it is below minus the threshold). Tuning a rule to a false-alarm rate is choosing that
//! threshold.

use serde::{Deserialize, Serialize};

use crate::model::{Direction, Observation, Verdict};
use crate::stats;

/// Seconds per UTC day, for upstream's per-day averages.
const DAY: i64 = 86_400;

/// A baseline rule in use elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// TensorRT-LLM perf-sanity: the newest value against the P95 (P5 for lower-is-better
    /// metrics) of a 3-point rolling mean of per-day averages; thresholds 5% post-merge and 10%
    /// pre-merge.
    UpstreamPerfSanity,
    /// PyTorch HUD: the newest value against the history's median with fixed ratios 0.8 / 1.2
    /// (a 20% threshold).
    HudMedianRatio,
    /// InferenceX: the newest row against the previous one, no statistics.
    NewestVsPrevious,
}

/// A rule's call on one run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnchorCall {
    /// Regression, improvement or unchanged; no baseline when the history is too short.
    pub verdict: Verdict,
    /// The rule's baseline value.
    pub baseline: Option<f64>,
    /// How much worse than the baseline the newest value is, in percent (negative: better).
    pub worse_pct: Option<f64>,
}

impl Anchor {
    /// The threshold the rule ships with, in percent (perf-sanity: the post-merge 5%).
    pub fn shipped_threshold_pct(self) -> f64 {
        match self {
            Anchor::UpstreamPerfSanity => 5.0,
            Anchor::HudMedianRatio => 20.0,
            Anchor::NewestVsPrevious => 5.0,
        }
    }

    /// The rule's baseline over `history` (oldest first, the runs before the judged one).
    pub fn baseline(self, history: &[Observation], direction: Direction) -> Option<f64> {
        let values = stats::finite(history.iter().map(|ob| ob.value));
        match self {
            Anchor::UpstreamPerfSanity => {
                let daily = daily_means(history);
                let rolling: Vec<f64> = daily.windows(3).filter_map(stats::mean).collect();
                let q = match direction {
                    Direction::HigherIsBetter => 0.95,
                    Direction::LowerIsBetter => 0.05,
                };
                stats::quantile(&rolling, q)
            }
            Anchor::HudMedianRatio => stats::median(&values),
            Anchor::NewestVsPrevious => values.last().copied(),
        }
    }

    /// The rule's call on `newest` given `history`, at `threshold_pct`.
    pub fn call(
        self,
        history: &[Observation],
        newest: f64,
        direction: Direction,
        threshold_pct: f64,
    ) -> AnchorCall {
        let baseline = self
            .baseline(history, direction)
            .filter(|b| *b != 0.0 && newest.is_finite());
        let worse_pct = baseline.map(|b| direction.worse_sign() * (newest - b) / b.abs() * 100.0);
        let verdict = match worse_pct {
            None => Verdict::NoBaseline,
            Some(w) if w > threshold_pct => Verdict::Regression,
            Some(w) if w < -threshold_pct => Verdict::Improvement,
            Some(_) => Verdict::Unchanged,
        };
        AnchorCall {
            verdict,
            baseline,
            worse_pct,
        }
    }
}

/// The mean value of each UTC day that has runs, oldest day first.
fn daily_means(history: &[Observation]) -> Vec<f64> {
    let mut days: Vec<(i64, f64, usize)> = Vec::new();
    for ob in history.iter().filter(|ob| ob.value.is_finite()) {
        let day = ob.timestamp.div_euclid(DAY);
        match days.last_mut() {
            Some((d, sum, n)) if *d == day => {
                *sum += ob.value;
                *n += 1;
            }
            _ => days.push((day, ob.value, 1)),
        }
    }
    days.into_iter().map(|(_, sum, n)| sum / n as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ob(day: i64, value: f64) -> Observation {
        Observation {
            run_id: format!("r{day}-{value}"),
            timestamp: day * DAY + 3600,
            label: "main".into(),
            value,
            spread: None,
            passing: true,
            fingerprint: "f".into(),
            tags: vec![],
        }
    }

    #[test]
    fn upstream_rolls_daily_means_then_takes_p95() {
        // Day means: 100, 110 ((105 + 115) / 2), 120, 130 -> rolling-3: 110, 120 -> P95 = 119.5.
        let h = [
            ob(0, 100.0),
            ob(1, 105.0),
            ob(1, 115.0),
            ob(2, 120.0),
            ob(3, 130.0),
        ];
        let b = Anchor::UpstreamPerfSanity
            .baseline(&h, Direction::HigherIsBetter)
            .unwrap_or(f64::NAN);
        assert!((b - 119.5).abs() < 1e-9, "{b}");
        // P5 for latency: 110 + 0.05 * 10 = 110.5.
        let b = Anchor::UpstreamPerfSanity
            .baseline(&h, Direction::LowerIsBetter)
            .unwrap_or(f64::NAN);
        assert!((b - 110.5).abs() < 1e-9, "{b}");
        // 113 is 5.44% below 119.5: a regression at 5%, not at 10%.
        let call = Anchor::UpstreamPerfSanity.call(&h, 113.0, Direction::HigherIsBetter, 5.0);
        assert_eq!(call.verdict, Verdict::Regression);
        let call = Anchor::UpstreamPerfSanity.call(&h, 113.0, Direction::HigherIsBetter, 10.0);
        assert_eq!(call.verdict, Verdict::Unchanged);
        // Fewer than three days: no rolling mean, no baseline.
        let call = Anchor::UpstreamPerfSanity.call(&h[..2], 1.0, Direction::HigherIsBetter, 5.0);
        assert_eq!(call.verdict, Verdict::NoBaseline);
    }

    #[test]
    fn hud_and_previous_rules() {
        let h = [ob(0, 100.0), ob(1, 90.0), ob(2, 110.0)];
        // HUD: median 100; latency 121 is a ratio of 1.21 > 1.2.
        let call = Anchor::HudMedianRatio.call(&h, 121.0, Direction::LowerIsBetter, 20.0);
        assert_eq!(
            (call.verdict, call.baseline),
            (Verdict::Regression, Some(100.0))
        );
        let call = Anchor::HudMedianRatio.call(&h, 81.0, Direction::HigherIsBetter, 20.0);
        assert_eq!(call.verdict, Verdict::Unchanged);
        // Previous row 110; throughput 120 is 9.1% better.
        let call = Anchor::NewestVsPrevious.call(&h, 120.0, Direction::HigherIsBetter, 5.0);
        assert_eq!(call.verdict, Verdict::Improvement);
        assert_eq!(
            Anchor::NewestVsPrevious
                .call(&[], 1.0, Direction::HigherIsBetter, 5.0)
                .verdict,
            Verdict::NoBaseline
        );
    }
}
