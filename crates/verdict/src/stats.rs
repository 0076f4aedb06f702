//! Robust summary statistics over finite samples.
//!
//! Every function takes values that are already finite (callers drop NaN and infinities first,
//! see [`finite`]) and returns `None` for an empty sample instead of panicking.

/// Scale that turns the median absolute deviation into a consistent estimate of the standard
/// deviation for Gaussian noise (1 / Φ⁻¹(3/4)).
pub const MAD_TO_SIGMA: f64 = 1.482_602_218_505_602;

/// The finite values of `values`, in order.
pub fn finite(values: impl IntoIterator<Item = f64>) -> Vec<f64> {
    values.into_iter().filter(|v| v.is_finite()).collect()
}

/// Sorts finite values ascending.
fn sorted(values: &[f64]) -> Vec<f64> {
    let mut out = values.to_vec();
    out.sort_by(f64::total_cmp);
    out
}

/// The median of a sorted, non-empty slice (the mean of the two middle values for even lengths).
fn median_sorted(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    let mid = n / 2;
    if n % 2 == 1 {
        sorted.get(mid).copied()
    } else {
        Some((sorted.get(mid.checked_sub(1)?)? + sorted.get(mid)?) / 2.0)
    }
}

/// The median of `values` (the mean of the two middle values for even lengths).
pub fn median(values: &[f64]) -> Option<f64> {
    median_sorted(&sorted(values))
}

/// The median absolute deviation from the median, unscaled.
pub fn mad(values: &[f64]) -> Option<f64> {
    let center = median(values)?;
    let deviations: Vec<f64> = values.iter().map(|v| (v - center).abs()).collect();
    median(&deviations)
}

/// The robust standard deviation: [`MAD_TO_SIGMA`] times the [`mad`].
pub fn robust_sigma(values: &[f64]) -> Option<f64> {
    mad(values).map(|m| m * MAD_TO_SIGMA)
}

/// The arithmetic mean.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(values.iter().sum::<f64>() / values.len() as f64)
}

/// The `q`-quantile (0 ≤ q ≤ 1) by linear interpolation between closest ranks (NumPy's default,
/// the `percentile` upstream's perf-sanity scripts call): position `q · (n − 1)` in the sorted
/// sample. `q` outside [0, 1] is clamped.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let sorted = sorted(values);
    let last = sorted.len().checked_sub(1)?;
    let pos = q.clamp(0.0, 1.0) * last as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let (a, b) = (*sorted.get(lo)?, *sorted.get(hi)?);
    Some(a + (b - a) * (pos - lo as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_samples() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn mad_by_hand() {
        // median 3; |deviations| = 2, 1, 0, 1, 97 -> sorted 0, 1, 1, 2, 97 -> MAD 1.
        let x = [1.0, 2.0, 3.0, 4.0, 100.0];
        assert_eq!(mad(&x), Some(1.0));
        assert_eq!(robust_sigma(&x), Some(MAD_TO_SIGMA));
        assert_eq!(mad(&[]), None);
    }

    #[test]
    fn quantile_interpolates_like_numpy() {
        let x = [10.0, 20.0, 30.0, 40.0];
        // numpy.percentile([10, 20, 30, 40], 95) = 38.5
        assert!((quantile(&x, 0.95).unwrap_or(f64::NAN) - 38.5).abs() < 1e-12);
        assert_eq!(quantile(&x, 0.0), Some(10.0));
        assert_eq!(quantile(&x, 1.0), Some(40.0));
        assert_eq!(quantile(&[7.0], 0.05), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn finite_drops_nan_and_infinities() {
        assert_eq!(
            finite([1.0, f64::NAN, f64::INFINITY, 2.0, f64::NEG_INFINITY]),
            vec![1.0, 2.0]
        );
        assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
        assert_eq!(mean(&[]), None);
    }
}
