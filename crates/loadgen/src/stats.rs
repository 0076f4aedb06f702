//! Summary statistics with numpy's semantics, as vLLM computes them.
//!
//! An empty sample summarises to zeros (vLLM calls `np.mean(xs or 0)`). The mean is the arithmetic
//! mean, the standard deviation is the population one (`ddof = 0`), and percentiles use numpy's
//! default linear interpolation between closest ranks: for `n` sorted values and percentile `p`,
//! the virtual index is `h = (n - 1) * p / 100` and the result is
//! `x[floor(h)] + (x[ceil(h)] - x[floor(h)]) * (h - floor(h))`. The median is the 50th percentile.

use serde::Serialize;

/// Mean, median, standard deviation, extremes and the requested percentiles of one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Number of values.
    pub count: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// 50th percentile.
    pub median: f64,
    /// Population standard deviation.
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// `(p, value)` for each requested percentile, in the order requested.
    pub percentiles: Vec<(f64, f64)>,
}

impl Summary {
    /// Summarises `values` (sorted in place) for the given percentiles in [0, 100].
    pub fn of(values: &mut [f64], percentiles: &[f64]) -> Self {
        values.sort_unstable_by(f64::total_cmp);
        let sorted: &[f64] = values;
        Self {
            count: sorted.len(),
            mean: mean(sorted),
            median: percentile_sorted(sorted, 50.0),
            std: std_dev(sorted),
            min: sorted.first().copied().unwrap_or(0.0),
            max: sorted.last().copied().unwrap_or(0.0),
            percentiles: percentiles
                .iter()
                .map(|&p| (p, percentile_sorted(sorted, p)))
                .collect(),
        }
    }

    /// The same summary with every value multiplied by `factor` (e.g. seconds to milliseconds).
    pub fn scaled(&self, factor: f64) -> Self {
        Self {
            count: self.count,
            mean: self.mean * factor,
            median: self.median * factor,
            std: self.std * factor,
            min: self.min * factor,
            max: self.max * factor,
            percentiles: self
                .percentiles
                .iter()
                .map(|&(p, v)| (p, v * factor))
                .collect(),
        }
    }
}

/// Arithmetic mean; 0 for an empty slice.
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// Population standard deviation; 0 for an empty slice.
pub fn std_dev(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let m = mean(values);
    let var = values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / values.len() as f64;
    var.sqrt()
}

/// numpy's default (`linear`) percentile of an ascending slice; 0 for an empty slice.
///
/// `p` is clamped to [0, 100].
pub fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 100.0) };
    let h = (n - 1) as f64 * (p / 100.0);
    let lo = h.floor();
    let t = h - lo;
    // `h` is within [0, n-1], so these casts stay in range.
    let lo_i = (lo as usize).min(n - 1);
    let hi_i = (lo_i + 1).min(n - 1);
    let (a, b) = match (sorted.get(lo_i), sorted.get(hi_i)) {
        (Some(&a), Some(&b)) => (a, b),
        _ => return 0.0,
    };
    // numpy's `_lerp`, which evaluates from the nearer end for accuracy.
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hand_checked_against_numpy() {
        // np.percentile([1, 2, 3, 4], [50, 90, 99]) == [2.5, 3.7, 3.97]
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile_sorted(&xs, 50.0), 2.5);
        assert!((percentile_sorted(&xs, 90.0) - 3.7).abs() < 1e-12);
        assert!((percentile_sorted(&xs, 99.0) - 3.97).abs() < 1e-12);
        assert_eq!(percentile_sorted(&xs, 0.0), 1.0);
        assert_eq!(percentile_sorted(&xs, 100.0), 4.0);
        // np.std([1, 2, 3, 4]) == 1.118033988749895
        assert!((std_dev(&xs) - 1.118_033_988_749_895).abs() < 1e-12);
        assert_eq!(mean(&xs), 2.5);
        // np.percentile([10, 20, 30, 40, 50], 25) == 20.0; 99.9 -> 49.96
        let ys = [10.0, 20.0, 30.0, 40.0, 50.0];
        assert_eq!(percentile_sorted(&ys, 25.0), 20.0);
        assert!((percentile_sorted(&ys, 99.9) - 49.96).abs() < 1e-9);
    }

    #[test]
    fn empty_and_single() {
        let s = Summary::of(&mut [], &[50.0, 99.0]);
        assert_eq!(
            (s.mean, s.median, s.std, s.min, s.max),
            (0.0, 0.0, 0.0, 0.0, 0.0)
        );
        assert_eq!(s.percentiles, vec![(50.0, 0.0), (99.0, 0.0)]);
        let s = Summary::of(&mut [7.0], &[99.0]);
        assert_eq!((s.mean, s.median, s.std), (7.0, 7.0, 0.0));
        assert_eq!(s.percentiles, vec![(99.0, 7.0)]);
    }

    #[test]
    fn summary_sorts_its_input() {
        let s = Summary::of(&mut [3.0, 1.0, 2.0], &[100.0]);
        assert_eq!((s.min, s.median, s.max), (1.0, 2.0, 3.0));
        assert_eq!(s.scaled(1000.0).median, 2000.0);
    }

    proptest! {
        #[test]
        fn ordered_and_bounded(mut xs in prop::collection::vec(-1e6f64..1e6, 1..200),
                               p in 0f64..=100.0, q in 0f64..=100.0) {
            let s = Summary::of(&mut xs, &[p.min(q), p.max(q)]);
            prop_assert!(s.min <= s.median && s.median <= s.max);
            let (lo, hi) = (s.percentiles[0].1, s.percentiles[1].1);
            prop_assert!(s.min <= lo + 1e-9 && lo <= hi + 1e-9 && hi <= s.max + 1e-9);
            prop_assert!(s.min <= s.mean + 1e-6 && s.mean <= s.max + 1e-6);
            prop_assert!(s.std >= 0.0);
        }

        #[test]
        fn percentile_hits_exact_ranks(mut xs in prop::collection::vec(-1e3f64..1e3, 2..50), k in 0usize..49) {
            xs.sort_by(f64::total_cmp);
            let n = xs.len();
            let k = k % n;
            // p = 100 * k / (n - 1) lands exactly on rank k (up to rounding of p).
            let p = 100.0 * k as f64 / (n - 1) as f64;
            prop_assert!((percentile_sorted(&xs, p) - xs[k]).abs() < 1e-6);
        }
    }
}
