//! Pareto data: output tokens/s per GPU against tokens/s per user, one point per
//! (test, concurrency), grouped by (model, ISL/OSL, GPU type), with the frontier of the valid
//! points. Pure data; [`crate::html`] turns it into SVG.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::ReportInput;

/// What a Pareto chart compares: one model at one ISL/OSL on one GPU type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ParetoKey {
    /// Model name (`?` when unknown).
    pub model: String,
    /// `ISL/OSL`.
    pub lengths: String,
    /// GPU type (`?` when unknown).
    pub gpu_type: String,
}

/// One (test, concurrency) point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParetoPoint {
    /// Index into [`ReportInput::tests`].
    pub test: usize,
    /// The concurrency.
    pub concurrency: u64,
    /// Tokens/s per user (x): `1000 / median_tpot_ms`.
    pub per_user: f64,
    /// Output tokens/s per GPU (y).
    pub per_gpu: f64,
    /// Whether the point's checks all held.
    pub valid: bool,
    /// Whether no other valid point of the group is at least as good on both axes and better on
    /// one.
    pub on_frontier: bool,
}

/// One chart's points and its frontier.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParetoGroup {
    /// What the chart compares.
    pub key: ParetoKey,
    /// Points, ordered by test then concurrency.
    pub points: Vec<ParetoPoint>,
    /// Indices into `points` of the frontier, by ascending tokens/s per user.
    pub frontier: Vec<usize>,
}

/// The Pareto groups of a report, sorted by key. Points need both `median_tpot_ms` (or
/// `interactivity`) and `output_token_throughput_per_gpu`; tests without any such point
/// appear in no group.
pub fn pareto_groups(input: &ReportInput) -> Vec<ParetoGroup> {
    let mut groups: BTreeMap<ParetoKey, Vec<ParetoPoint>> = BTreeMap::new();
    for (i, test) in input.tests.iter().enumerate() {
        let or_unknown = |s: &str| {
            if s.is_empty() {
                "?".to_string()
            } else {
                s.to_string()
            }
        };
        let key = ParetoKey {
            model: or_unknown(&test.meta.model),
            lengths: test.meta.lengths(),
            gpu_type: or_unknown(&test.meta.gpu_type),
        };
        for p in &test.points {
            let (Some(per_user), Some(per_gpu)) = (
                p.tokens_per_user(),
                p.get("output_token_throughput_per_gpu"),
            ) else {
                continue;
            };
            groups.entry(key.clone()).or_default().push(ParetoPoint {
                test: i,
                concurrency: p.concurrency,
                per_user,
                per_gpu,
                valid: p.valid,
                on_frontier: false,
            });
        }
    }
    groups
        .into_iter()
        .map(|(key, mut points)| {
            let frontier = frontier(&points);
            for &f in &frontier {
                if let Some(p) = points.get_mut(f) {
                    p.on_frontier = true;
                }
            }
            ParetoGroup {
                key,
                points,
                frontier,
            }
        })
        .collect()
}

/// Indices of the non-dominated valid points (maximising both axes), by ascending x. Of
/// points equal on both axes the first is kept.
pub fn frontier(points: &[ParetoPoint]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len())
        .filter(|&i| points.get(i).is_some_and(|p| p.valid))
        .collect();
    // Best x first; among equal x, best y first; ties keep input order (stable sort).
    order.sort_by(|&a, &b| {
        let (pa, pb) = (&points[a], &points[b]);
        pb.per_user
            .total_cmp(&pa.per_user)
            .then(pb.per_gpu.total_cmp(&pa.per_gpu))
    });
    let mut best_y = f64::NEG_INFINITY;
    let mut out = Vec::new();
    for i in order {
        let y = points[i].per_gpu;
        if y > best_y {
            best_y = y;
            out.push(i);
        }
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pt(x: f64, y: f64, valid: bool) -> ParetoPoint {
        ParetoPoint {
            test: 0,
            concurrency: 1,
            per_user: x,
            per_gpu: y,
            valid,
            on_frontier: false,
        }
    }

    #[test]
    fn frontier_skips_dominated_and_invalid_points() {
        let pts = [
            pt(10.0, 100.0, true),
            pt(20.0, 50.0, true),
            pt(15.0, 40.0, true),   // dominated by (20, 50)
            pt(30.0, 500.0, false), // invalid: never on the frontier
            pt(5.0, 100.0, true),   // dominated by (10, 100)
            pt(20.0, 50.0, true),   // duplicate: first kept
        ];
        assert_eq!(frontier(&pts), vec![0, 1]);
    }

    proptest! {
        /// No frontier point is dominated by any valid point, and every valid point off the
        /// frontier is dominated by (or equal to) a frontier point.
        #[test]
        fn frontier_is_exactly_the_non_dominated_set(
            raw in proptest::collection::vec((0u32..50, 0u32..50, any::<bool>()), 0..40)
        ) {
            let pts: Vec<_> = raw.iter().map(|&(x, y, v)| pt(f64::from(x), f64::from(y), v)).collect();
            let f = frontier(&pts);
            let dominates = |a: &ParetoPoint, b: &ParetoPoint| {
                a.per_user >= b.per_user && a.per_gpu >= b.per_gpu
                    && (a.per_user > b.per_user || a.per_gpu > b.per_gpu)
            };
            for &i in &f {
                prop_assert!(pts[i].valid);
                prop_assert!(!pts.iter().any(|q| q.valid && dominates(q, &pts[i])));
            }
            for (i, p) in pts.iter().enumerate() {
                if p.valid && !f.contains(&i) {
                    prop_assert!(f.iter().any(|&j| dominates(&pts[j], p)
                        || (pts[j].per_user == p.per_user && pts[j].per_gpu == p.per_gpu)));
                }
            }
            prop_assert!(f.windows(2).all(|w| pts[w[0]].per_user < pts[w[1]].per_user));
        }
    }
}
