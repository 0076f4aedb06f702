//! Properties of the verdicts and change points over generated series.

#[allow(dead_code, reason = "each test binary uses a subset of the builders")]
mod common;

use std::sync::LazyLock;

use common::run;
use proptest::prelude::*;
use servebench_verdict::anchors::Anchor;
use servebench_verdict::{
    ChangePointOptions, Direction, Judge, Observation, Options, Pin, Series, Verdict, change_points,
};

/// One judge for all cases, so null distributions are drawn once per window layout.
static JUDGE: LazyLock<Judge> = LazyLock::new(|| Judge::new(Options::default()));

fn alarms(v: Verdict) -> bool {
    matches!(v, Verdict::Regression | Verdict::Improvement)
}

/// A series with these values, oldest first.
fn of(values: &[f64]) -> Series {
    Series {
        observations: values.iter().enumerate().map(|(i, v)| run(i, *v)).collect(),
        ..Series::default()
    }
}

/// Every prefix of `series` with at least one observation, as the checks of each run would see it.
fn checks(series: &Series) -> impl Iterator<Item = Series> + '_ {
    (1..=series.observations.len()).map(|n| Series {
        observations: series.observations.get(..n).unwrap_or_default().to_vec(),
        ..series.clone()
    })
}

/// Any f64, NaN and infinities included.
fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 1.0..2000.0f64,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(0.0),
        1 => -1e308..1e308f64,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_constant_series_never_alarms(level in 1e-6..1e9f64, n in 0usize..40) {
        let s = of(&vec![level; n]);
        for check in checks(&s) {
            let v = JUDGE.judge(&check);
            prop_assert!(!alarms(v.verdict), "{v:?}");
        }
    }

    #[test]
    fn scaling_by_a_positive_constant_keeps_every_verdict(
        values in prop::collection::vec(500.0..1500.0f64, 0..34),
        exp in -30i32..30,
    ) {
        // Powers of two scale floating point exactly, so any difference is in the statistics.
        let scale = 2f64.powi(exp);
        let s = of(&values);
        let scaled = of(&values.iter().map(|v| v * scale).collect::<Vec<_>>());
        for (a, b) in checks(&s).zip(checks(&scaled)) {
            let (va, vb) = (JUDGE.judge(&a), JUDGE.judge(&b));
            prop_assert_eq!(va.verdict, vb.verdict);
            prop_assert_eq!(va.p_value, vb.p_value);
            prop_assert_eq!(va.delta_pct, vb.delta_pct);
        }
    }

    #[test]
    fn isolated_outliers_alone_never_alarm(
        level in 1.0..1e6f64,
        n in 10usize..40,
        outliers in prop::collection::vec((0usize..40, -0.9..3.0f64), 0..8),
    ) {
        let mut values = vec![level; n];
        let mut last: Option<usize> = None;
        let mut at: Vec<(usize, f64)> = outliers;
        at.sort_by_key(|(i, _)| *i);
        for (i, rel) in at {
            // Isolated: at least three runs apart, so no window of three holds two.
            if i < n && last.is_none_or(|l| i >= l + 3) && rel.abs() > 0.06 {
                if let Some(v) = values.get_mut(i) {
                    *v = level * (1.0 + rel);
                }
                last = Some(i);
            }
        }
        for check in checks(&of(&values)) {
            let v = JUDGE.judge(&check);
            prop_assert!(!alarms(v.verdict), "{v:?}");
        }
    }

    #[test]
    fn bad_input_never_panics(
        values in prop::collection::vec(any_value(), 0..30),
        flags in prop::collection::vec((any::<bool>(), any::<bool>(), any::<bool>()), 30),
        accepted in prop::collection::vec(0usize..30, 0..3),
        pin in prop::option::of((0usize..35, any::<bool>())),
    ) {
        let mut s = of(&values);
        for (ob, (passing, pr, other)) in s.observations.iter_mut().zip(flags) {
            ob.passing = passing;
            if pr { ob.label = "pr".into(); }
            if other { ob.fingerprint = "cfg-2".into(); ob.tags.push("t".into()); }
        }
        s.accepted_changes = accepted.iter().map(|i| format!("run-{i}")).collect();
        s.pin = pin.map(|(i, tag)| if tag { Pin::Tag("t".into()) } else { Pin::Run(format!("run-{i}")) });
        let judge = Judge::new(Options { confirm_runs: 1, min_history: 0, null_draws: 200, ..Options::default() });
        let v = judge.judge(&s);
        prop_assert!(!v.reason.is_empty());
        let _ = change_points(&values, &ChangePointOptions { permutations: 19, min_segment: 1, ..ChangePointOptions::default() });
        let history: &[Observation] = s.observations.split_last().map_or(&[], |(_, h)| h);
        for anchor in [Anchor::UpstreamPerfSanity, Anchor::HudMedianRatio, Anchor::NewestVsPrevious] {
            let _ = anchor.call(history, values.last().copied().unwrap_or(f64::NAN), Direction::LowerIsBetter, 5.0);
        }
    }
}
