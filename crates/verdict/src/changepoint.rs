//! Change points: E-Divisive means (Matteson & James 2014, as Apache Otava/Hunter use it).
//!
//! For a split of a segment into a left part `L` (size m) and a right part `R` (size n), the
//! energy statistic is
//!
//! `Q = m·n/(m+n) · (2/(m·n) Σ_{L×R} |x−y| − 1/C(m,2) Σ_{pairs in L} |x−x'| − 1/C(n,2) Σ_{pairs in R} |y−y'|)`,
//!
//! large when the two parts differ in distribution (not only in mean), and cheap to scan over
//! every split in O(len²). Bisection: the best split of the segment with the largest `Q` is
//! tested by permutation (shuffle the segment, rescan, count maxima at least as large); when its
//! p-value is at most `alpha` it is kept and both halves are searched again, otherwise the
//! search stops. Splits never leave a part shorter than `min_segment`, so a single outlier or a
//! two-run blip is never a change point.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::stats;

/// How change points are searched for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangePointOptions {
    /// The shortest segment either side of a change point (default 5).
    pub min_segment: usize,
    /// The permutation p-value a change point needs (default 0.01).
    pub alpha: f64,
    /// Permutations per test (default 199: p-values resolve to 0.005).
    pub permutations: usize,
    /// Seed of the permutations, so results are reproducible.
    pub seed: u64,
}

impl Default for ChangePointOptions {
    fn default() -> Self {
        ChangePointOptions {
            min_segment: 5,
            alpha: 0.01,
            permutations: 199,
            seed: 0xc4a9_9e00,
        }
    }
}

/// A persistent shift in a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangePoint {
    /// Index (into the series passed in) of the first value of the new level.
    pub index: usize,
    /// Median of the segment before the change (back to the previous change point).
    pub before: f64,
    /// Median of the segment after the change (up to the next change point).
    pub after: f64,
    /// `(after − before) / before` in percent; `None` when `before` is 0.
    pub magnitude_pct: Option<f64>,
    /// The permutation p-value of the split when it was found.
    pub p_value: f64,
}

/// The change points of `values` (oldest first), ordered by index. Non-finite values are
/// skipped; indices still refer to `values`.
pub fn change_points(values: &[f64], options: &ChangePointOptions) -> Vec<ChangePoint> {
    let (positions, x): (Vec<usize>, Vec<f64>) = values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, v)| (i, *v))
        .unzip();
    let min_seg = options.min_segment.max(1);
    let mut found: Vec<(usize, f64)> = Vec::new();
    let mut segments = vec![(0, x.len())];
    loop {
        let best = segments
            .iter()
            .filter_map(|&(lo, hi)| {
                best_split(x.get(lo..hi)?, min_seg).map(|(t, q)| (lo, hi, lo + t, q))
            })
            .max_by(|a, b| a.3.total_cmp(&b.3));
        let Some((lo, hi, at, q)) = best else { break };
        let p = permutation_p(
            x.get(lo..hi).unwrap_or_default(),
            q,
            min_seg,
            options,
            lo as u64,
        );
        if p > options.alpha {
            break;
        }
        found.push((at, p));
        segments.retain(|s| *s != (lo, hi));
        segments.extend([(lo, at), (at, hi)]);
    }
    found.sort_by_key(|(at, _)| *at);
    let bounds: Vec<usize> = std::iter::once(0)
        .chain(found.iter().map(|(at, _)| *at))
        .chain(std::iter::once(x.len()))
        .collect();
    found
        .iter()
        .enumerate()
        .filter_map(|(k, &(at, p_value))| {
            let before = stats::median(x.get(*bounds.get(k)?..at)?)?;
            let after = stats::median(x.get(at..*bounds.get(k + 2)?)?)?;
            Some(ChangePoint {
                index: *positions.get(at)?,
                before,
                after,
                magnitude_pct: (before != 0.0).then(|| (after - before) / before.abs() * 100.0),
                p_value,
            })
        })
        .collect()
}

/// The split `t` (left = `x[..t]`) with the largest energy statistic, with that statistic;
/// `None` when no split leaves `min_seg` values either side.
pub fn best_split(x: &[f64], min_seg: usize) -> Option<(usize, f64)> {
    let len = x.len();
    if len < 2 * min_seg {
        return None;
    }
    // Moving x[t] from the right part to the left one: `to_left` = Σ_{i<t} |x_i − x_t| joins the
    // left pairs and leaves the cross pairs; `to_right` = Σ_{k>t} |x_t − x_k| leaves the right
    // pairs and joins the cross pairs.
    let total: f64 = x
        .iter()
        .enumerate()
        .map(|(i, a)| x.iter().skip(i + 1).map(|b| (a - b).abs()).sum::<f64>())
        .sum();
    let (mut within_l, mut within_r, mut between) = (0.0, total, 0.0);
    let mut best: Option<(usize, f64)> = None;
    for (t, xt) in x.iter().enumerate().take(len - min_seg) {
        let to_left: f64 = x.iter().take(t).map(|y| (xt - y).abs()).sum();
        let to_right: f64 = x.iter().skip(t + 1).map(|y| (xt - y).abs()).sum();
        within_l += to_left;
        within_r -= to_right;
        between += to_right - to_left;
        let split = t + 1;
        if split < min_seg {
            continue;
        }
        let q = energy(split, len - split, within_l, within_r, between);
        if best.is_none_or(|(_, b)| q > b) {
            best = Some((split, q));
        }
    }
    best
}

/// The energy statistic of a split from its three distance sums.
fn energy(m: usize, n: usize, within_l: f64, within_r: f64, between: f64) -> f64 {
    let (mf, nf) = (m as f64, n as f64);
    let pairs = |k: f64| {
        if k > 1.0 {
            k * (k - 1.0) / 2.0
        } else {
            f64::INFINITY
        }
    };
    mf * nf / (mf + nf) * (2.0 * between / (mf * nf) - within_l / pairs(mf) - within_r / pairs(nf))
}

/// The permutation p-value of a best-split statistic `q` over segment `x`.
fn permutation_p(
    x: &[f64],
    q: f64,
    min_seg: usize,
    options: &ChangePointOptions,
    salt: u64,
) -> f64 {
    let mut rng = StdRng::seed_from_u64(
        options.seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ x.len() as u64,
    );
    let mut shuffled = x.to_vec();
    let at_least = (0..options.permutations)
        .filter(|_| {
            shuffled.shuffle(&mut rng);
            best_split(&shuffled, min_seg).is_some_and(|(_, qp)| qp >= q)
        })
        .count();
    (at_least + 1) as f64 / (options.permutations + 1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_statistic_by_hand() {
        // x = [0, 0, 1, 1]. Split 2: cross sum 4 -> 2/4 * 4 = 2, no within distances,
        // Q = (2·2/4) · 2 = 2. Split 1: cross 2 -> 4/3, right pairs 2 / C(3,2) = 2/3,
        // Q = (3/4) · (4/3 − 2/3) = 0.5; split 3 is symmetric.
        let x = [0.0, 0.0, 1.0, 1.0];
        assert_eq!(best_split(&x, 1), Some((2, 2.0)));
        assert_eq!(best_split(&x, 2), Some((2, 2.0)));
        assert_eq!(best_split(&x, 3), None);
        assert!((energy(1, 3, 0.0, 2.0, 2.0) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn finds_a_step_with_its_magnitude() {
        let x: Vec<f64> = (0..40)
            .map(|i| if i < 25 { 100.0 } else { 90.0 } + (i % 3) as f64 * 0.5)
            .collect();
        let cps = change_points(&x, &ChangePointOptions::default());
        assert_eq!(cps.len(), 1, "{cps:?}");
        let cp = &cps[0];
        assert_eq!(cp.index, 25);
        assert_eq!((cp.before, cp.after), (100.5, 90.5));
        assert!(
            cp.magnitude_pct
                .is_some_and(|m| (m + 9.950_248_756).abs() < 1e-6)
        );
        assert!(cp.p_value <= 0.01);
    }

    #[test]
    fn a_flat_series_and_a_single_outlier_have_none() {
        let opts = ChangePointOptions::default();
        let flat: Vec<f64> = (0..30).map(|i| 100.0 + (i % 4) as f64).collect();
        assert!(change_points(&flat, &opts).is_empty());
        let mut blip = flat.clone();
        blip[15] = 300.0;
        assert!(change_points(&blip, &opts).is_empty());
        assert!(change_points(&[], &opts).is_empty());
        assert!(change_points(&[f64::NAN, 1.0, f64::INFINITY], &opts).is_empty());
    }

    #[test]
    fn indices_skip_non_finite_values() {
        let mut x: Vec<f64> = (0..20)
            .map(|i| if i < 10 { 10.0 } else { 20.0 } + (i % 2) as f64 * 0.1)
            .collect();
        x.insert(3, f64::NAN);
        let cps = change_points(&x, &ChangePointOptions::default());
        assert_eq!(cps.iter().map(|c| c.index).collect::<Vec<_>>(), vec![11]);
    }
}
