//! CI shards: `--splits N --group I` with pytest-split's `least_duration` algorithm.
//!
//! Tests are taken longest first (ties in selection order) and each goes to the group with the
//! least expected time so far (ties to the lowest group); each group then runs its tests in
//! selection order. The weights, in order of preference:
//!
//! 1. recorded durations (the caller's, e.g. the history store's median of recent runs); a test
//!    without one counts as the mean of the recorded ones (as pytest-split);
//! 2. without any recorded duration, planned GPU-hours; a test without a plan counts as the mean;
//! 3. with neither, every test weighs the same, so tests are dealt to groups in selection order
//!    and group sizes differ by at most one.
//!
//! Groups are disjoint and together hold every test, whatever `N` (with more groups than tests,
//! the extra groups are empty). Greedy list scheduling keeps the longest group within the
//! largest single weight of the mean, hence of the optimum.

use std::num::NonZeroUsize;
use std::time::Duration;

/// What is known about one selected test's cost.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ShardTest {
    /// Its recorded duration, if any.
    pub recorded: Option<Duration>,
    /// Its planned GPU-hours (GPUs x time budget), if it plans.
    pub planned_gpu_hours: Option<f64>,
}

/// Which weights a split used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Recorded durations; [`Group::expected`] is in seconds.
    Recorded,
    /// Planned GPU-hours; [`Group::expected`] is in GPU-hours.
    PlannedGpuHours,
    /// Neither: every test weighs 1; [`Group::expected`] is a test count.
    FileOrder,
}

/// One shard.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// 1-based group number (`--group`).
    pub number: usize,
    /// Indices into the tests given to [`split`], in selection order.
    pub tests: Vec<usize>,
    /// The sum of the group's weights, in the unit of the [`Basis`].
    pub expected: f64,
}

/// The result of [`split`].
#[derive(Debug, Clone, PartialEq)]
pub struct Shards {
    /// The weights used.
    pub basis: Basis,
    /// `N` groups, numbered from 1.
    pub groups: Vec<Group>,
    /// The weight given to each test, in the unit of the basis.
    pub weights: Vec<f64>,
}

impl Shards {
    /// Group `number` (1-based), if it exists.
    pub fn group(&self, number: usize) -> Option<&Group> {
        number.checked_sub(1).and_then(|i| self.groups.get(i))
    }
}

/// Splits `tests` into `splits` groups (see the module docs).
pub fn split(tests: &[ShardTest], splits: NonZeroUsize) -> Shards {
    let (basis, weights) = weights(tests);
    let mut order: Vec<usize> = (0..tests.len()).collect();
    let weight = |i: usize| weights.get(i).copied().unwrap_or(0.0);
    order.sort_by(|&a, &b| weight(b).total_cmp(&weight(a)).then(a.cmp(&b)));
    let mut groups: Vec<Group> = (1..=splits.get())
        .map(|number| Group {
            number,
            tests: Vec::new(),
            expected: 0.0,
        })
        .collect();
    for i in order {
        let lightest = groups.iter_mut().min_by(|a, b| {
            a.expected
                .total_cmp(&b.expected)
                .then(a.number.cmp(&b.number))
        });
        if let Some(g) = lightest {
            g.tests.push(i);
            g.expected += weight(i);
        }
    }
    for g in &mut groups {
        g.tests.sort_unstable();
    }
    Shards {
        basis,
        groups,
        weights,
    }
}

fn weights(tests: &[ShardTest]) -> (Basis, Vec<f64>) {
    let recorded: Vec<Option<f64>> = tests
        .iter()
        .map(|t| t.recorded.map(|d| d.as_secs_f64()))
        .collect();
    if recorded.iter().any(Option::is_some) {
        return (Basis::Recorded, fill_with_mean(&recorded));
    }
    let planned: Vec<Option<f64>> = tests
        .iter()
        .map(|t| t.planned_gpu_hours.filter(|h| h.is_finite() && *h >= 0.0))
        .collect();
    if planned.iter().any(Option::is_some) {
        return (Basis::PlannedGpuHours, fill_with_mean(&planned));
    }
    (Basis::FileOrder, vec![1.0; tests.len()])
}

fn fill_with_mean(values: &[Option<f64>]) -> Vec<f64> {
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    let mean = if known.is_empty() {
        0.0
    } else {
        known.iter().sum::<f64>() / known.len() as f64
    };
    values.iter().map(|v| v.unwrap_or(mean)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(k: usize) -> NonZeroUsize {
        NonZeroUsize::new(k).unwrap()
    }

    fn recorded(secs: &[u64]) -> Vec<ShardTest> {
        secs.iter()
            .map(|&s| ShardTest {
                recorded: Some(Duration::from_secs(s)),
                planned_gpu_hours: None,
            })
            .collect()
    }

    fn members(s: &Shards) -> Vec<Vec<usize>> {
        s.groups.iter().map(|g| g.tests.clone()).collect()
    }

    #[test]
    fn least_duration_puts_the_longest_first_and_keeps_selection_order() {
        // 10 -> g1, 8 -> g2, 5 -> g2 (8 < 10), 4 -> g1 (10 < 13), 1 -> g2 (13 < 14).
        let s = split(&recorded(&[4, 10, 1, 8, 5]), n(2));
        assert_eq!(s.basis, Basis::Recorded);
        assert_eq!(members(&s), vec![vec![0, 1], vec![2, 3, 4]]);
        assert_eq!(
            s.groups.iter().map(|g| g.expected).collect::<Vec<_>>(),
            vec![14.0, 14.0]
        );
        assert_eq!(s.group(2).map(|g| g.number), Some(2));
        assert_eq!(s.group(0), None);
        assert_eq!(s.group(3), None);
    }

    #[test]
    fn missing_recorded_durations_count_as_the_mean() {
        let mut tests = recorded(&[10, 20]);
        tests.push(ShardTest {
            recorded: None,
            planned_gpu_hours: Some(1000.0), // ignored: recorded durations exist
        });
        let s = split(&tests, n(1));
        assert_eq!(s.weights, vec![10.0, 20.0, 15.0]);
    }

    #[test]
    fn planned_gpu_hours_are_the_fallback() {
        let tests = [
            ShardTest {
                recorded: None,
                planned_gpu_hours: Some(8.0),
            },
            ShardTest {
                recorded: None,
                planned_gpu_hours: Some(2.0),
            },
            ShardTest::default(),
        ];
        let s = split(&tests, n(2));
        assert_eq!(s.basis, Basis::PlannedGpuHours);
        assert_eq!(s.weights, vec![8.0, 2.0, 5.0]);
        assert_eq!(members(&s), vec![vec![0], vec![1, 2]]);
    }

    #[test]
    fn without_weights_tests_are_dealt_in_file_order() {
        let s = split(&[ShardTest::default(); 5], n(2));
        assert_eq!(s.basis, Basis::FileOrder);
        assert_eq!(members(&s), vec![vec![0, 2, 4], vec![1, 3]]);
        assert_eq!(s.groups[0].expected, 3.0);
    }

    #[test]
    fn more_groups_than_tests_leaves_empty_groups() {
        let s = split(&recorded(&[3, 1]), n(4));
        assert_eq!(members(&s), vec![vec![0], vec![1], vec![], vec![]]);
        let s = split(&[], n(3));
        assert!(s.groups.iter().all(|g| g.tests.is_empty()));
    }

    proptest! {
        #[test]
        fn groups_are_disjoint_complete_and_balanced(
            secs in prop::collection::vec(prop::option::of(0u64..100_000), 0..200),
            k in 1usize..40,
        ) {
            let tests: Vec<ShardTest> = secs
                .iter()
                .map(|s| ShardTest { recorded: s.map(Duration::from_secs), planned_gpu_hours: None })
                .collect();
            let s = split(&tests, n(k));
            prop_assert_eq!(s.groups.len(), k);
            let mut all: Vec<usize> = s.groups.iter().flat_map(|g| g.tests.clone()).collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..tests.len()).collect::<Vec<_>>());
            for g in &s.groups {
                prop_assert!(g.tests.windows(2).all(|w| w[0] < w[1]), "selection order");
                let sum: f64 = g.tests.iter().map(|&i| s.weights[i]).sum();
                prop_assert!((sum - g.expected).abs() <= 1e-6 * sum.max(1.0));
            }
            // The optimum is at least the mean; greedy stays within the largest single weight of
            // the mean (the last test put in the longest group went to the lightest group).
            let total: f64 = s.weights.iter().sum();
            let largest = s.weights.iter().copied().fold(0.0, f64::max);
            let longest = s.groups.iter().map(|g| g.expected).fold(0.0, f64::max);
            prop_assert!(longest <= total / k as f64 + largest + 1e-6 * total.max(1.0));
        }
    }
}
