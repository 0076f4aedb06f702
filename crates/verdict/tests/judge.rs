//! Verdicts on hand-built series: each rule of baseline selection and of the test.

mod common;

use common::{run, series};
use servebench_verdict::judge::{statistic, summarize};
use servebench_verdict::{Direction, Judge, Options, Pin, Series, Verdict};

fn judge(series: &Series) -> servebench_verdict::MetricVerdict {
    Judge::new(Options::default()).judge(series)
}

#[test]
fn statistic_by_hand() {
    // z = 1 and 3 -> mean 2 -> times sqrt(2).
    let t = statistic(&[11.0, 13.0], 10.0, 1.0).unwrap_or(f64::NAN);
    assert!((t - 2.0 * 2f64.sqrt()).abs() < 1e-12, "{t}");
    // z = 2 and 5 (only 3 apart, so 5 is not a lone outlier), 5 clipped to 3 -> mean 2.5.
    let t = statistic(&[12.0, 15.0], 10.0, 1.0).unwrap_or(f64::NAN);
    assert!((t - 2.5 * 2f64.sqrt()).abs() < 1e-12, "{t}");
    // A lone outlier (z = 5, 4 away from the other run) is brought in to the other's |z| = 1.
    let t = statistic(&[15.0, 11.0], 10.0, 1.0).unwrap_or(f64::NAN);
    assert!((t - 2f64.sqrt()).abs() < 1e-12, "{t}");
    // A step moves runs together: z = 4 and 4.5 are not lone, each is clipped to 3.
    let t = statistic(&[14.0, 14.5, 10.0], 10.0, 1.0).unwrap_or(f64::NAN);
    assert!((t - 2.0 * 3f64.sqrt()).abs() < 1e-12, "{t}");
    // A constant baseline (s = 0): any difference is infinite, so two runs off it count 3 each
    // and one run off it alone is a lone outlier brought in to 0.
    let t = statistic(&[9.0, 9.0], 10.0, 0.0).unwrap_or(f64::NAN);
    assert!((t + 3.0 * 2f64.sqrt()).abs() < 1e-12, "{t}");
    assert_eq!(statistic(&[10.0, 9.0, 10.0], 10.0, 0.0), Some(0.0));
    // A lone run is not clipped.
    assert_eq!(statistic(&[16.0], 10.0, 2.0), Some(3.0 * 1.0));
    assert_eq!(statistic(&[30.0], 10.0, 2.0), Some(10.0));
    assert_eq!(statistic(&[], 10.0, 1.0), None);
}

#[test]
fn summary_screens_outliers_by_hand() {
    // Median 3, MAD 1 (sigma 1.4826): 100 is 97 away, beyond 3.5 sigma; the rest average 2.5
    // with SD sqrt((2.25 + 0.25 + 0.25 + 2.25) / 3) = sqrt(5/3).
    let s = summarize(&[1.0, 2.0, 3.0, 4.0, 100.0]).unwrap_or_else(|| panic!("summary"));
    assert_eq!((s.center, s.kept), (2.5, 4));
    assert!((s.scale - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
    // MAD 0: only the runs at the median stay.
    let s = summarize(&[5.0, 5.0, 5.0, 9.0]).unwrap_or_else(|| panic!("summary"));
    assert_eq!((s.center, s.scale, s.kept), (5.0, 0.0, 3));
    assert_eq!(summarize(&[]), None);
}

#[test]
fn a_confirmed_drop_is_a_regression_with_its_numbers() {
    let v = judge(&series(20, 1000.0, &[880.0, 885.0]));
    assert_eq!(v.verdict, Verdict::Regression, "{}", v.reason);
    assert_eq!((v.recent, v.window), (2, 20));
    let delta = v.delta_pct.unwrap_or(f64::NAN);
    assert!((-13.0..-11.0).contains(&delta), "{delta}");
    assert!(v.p_value.is_some_and(|p| p <= 0.01));
    assert!(
        v.reason
            .starts_with("regression: the 2 newest runs are worse"),
        "{}",
        v.reason
    );
}

#[test]
fn latency_rising_is_a_regression_and_falling_an_improvement() {
    let latency = Judge::new(Options {
        direction: Direction::LowerIsBetter,
        ..Options::default()
    });
    let up = latency.judge(&series(20, 50.0, &[57.0, 56.0]));
    assert_eq!(up.verdict, Verdict::Regression, "{}", up.reason);
    let down = latency.judge(&series(20, 50.0, &[44.0, 44.5, 43.5]));
    assert_eq!(down.verdict, Verdict::Improvement, "{}", down.reason);
}

#[test]
fn one_outlying_run_waits_for_confirmation() {
    let v = judge(&series(20, 1000.0, &[600.0]));
    assert_eq!(v.verdict, Verdict::Unchanged, "{}", v.reason);
    // An outlier followed by a normal run is not a change either.
    let v = judge(&series(20, 1000.0, &[600.0, 1005.0]));
    assert_eq!(v.verdict, Verdict::Unchanged, "{}", v.reason);
    // With confirm_runs = 1 (a single pre-merge run), the one run decides.
    let single = Judge::new(Options {
        confirm_runs: 1,
        ..Options::default()
    });
    let v = single.judge(&series(20, 1000.0, &[600.0]));
    assert_eq!(
        (v.verdict, v.recent),
        (Verdict::Regression, 1),
        "{}",
        v.reason
    );
}

#[test]
fn a_change_within_the_noise_or_the_threshold_is_unchanged() {
    // 4% below: significant at this noise, but within the 5% threshold.
    let v = judge(&series(20, 1000.0, &[960.0, 958.0, 961.0]));
    assert_eq!(v.verdict, Verdict::Unchanged);
    assert!(v.reason.contains("within the 5% threshold"), "{}", v.reason);
    // The same drop with 10x the noise: beyond the threshold, not significant.
    let mut noisy = series(20, 1000.0, &[]);
    for ob in &mut noisy.observations {
        ob.value = 1000.0 + (ob.value - 1000.0) * 10.0;
    }
    noisy.observations.extend([run(20, 930.0), run(21, 935.0)]);
    let v = judge(&noisy);
    assert_eq!(v.verdict, Verdict::Unchanged);
    assert!(v.reason.contains("within the noise"), "{}", v.reason);
}

#[test]
fn too_little_history_or_no_value_is_no_baseline() {
    let v = judge(&series(5, 1000.0, &[500.0]));
    assert_eq!((v.verdict, v.window), (Verdict::NoBaseline, 5));
    assert!(
        v.reason.contains("only 5 passing run(s) on `main`"),
        "{}",
        v.reason
    );
    assert_eq!(judge(&Series::default()).verdict, Verdict::NoBaseline);
    let v = judge(&series(20, 1000.0, &[f64::NAN]));
    assert_eq!(v.verdict, Verdict::NoBaseline);
    assert!(v.reason.contains("no finite value"), "{}", v.reason);
    let v = judge(&series(20, 0.0, &[1.0, 1.0]));
    assert_eq!(v.verdict, Verdict::NoBaseline);
}

#[test]
fn invalid_runs_never_enter_the_baseline() {
    let mut s = series(20, 1000.0, &[]);
    for (i, ob) in s.observations.iter_mut().enumerate() {
        if i % 4 == 0 {
            ob.passing = false;
            ob.value = 1.0;
        }
    }
    s.observations.push(run(20, 1001.0));
    let v = judge(&s);
    assert_eq!(
        (v.verdict, v.window),
        (Verdict::Unchanged, 15),
        "{}",
        v.reason
    );
    assert!(v.baseline.is_some_and(|b| (b - 1000.0).abs() < 20.0));
}

#[test]
fn an_accepted_change_restarts_the_baseline() {
    let mut s = series(20, 1000.0, &[]);
    let after = series(10, 880.0, &[]);
    s.observations.extend(
        after
            .observations
            .into_iter()
            .enumerate()
            .map(|(k, mut ob)| {
                ob.run_id = format!("run-{}", 20 + k);
                ob
            }),
    );
    // Without acceptance the drop is a regression; accepted at its first run, the new level
    // is the baseline.
    s.observations.truncate(22);
    assert_eq!(judge(&s).verdict, Verdict::Regression);
    let mut s = series(20, 1000.0, &[]);
    s.observations
        .extend((20..31).map(|i| run(i, 880.0 * (1.0 + common::WIGGLE[i % 10] / 100.0))));
    s.accepted_changes = vec!["run-20".into()];
    let v = judge(&s);
    assert_eq!(
        (v.verdict, v.window),
        (Verdict::Unchanged, 10),
        "{}",
        v.reason
    );
    assert!(v.baseline.is_some_and(|b| (b - 880.0).abs() < 10.0));
}

#[test]
fn a_new_fingerprint_starts_a_new_series() {
    let mut s = series(20, 1000.0, &[]);
    let mut changed = run(20, 700.0);
    changed.fingerprint = "cfg-2".into();
    s.observations.push(changed);
    let v = judge(&s);
    assert_eq!(v.verdict, Verdict::NoBaseline);
    assert!(
        v.reason.contains("fingerprint changed after run run-19"),
        "{}",
        v.reason
    );
}

#[test]
fn a_pinned_run_or_tag_fixes_the_baseline() {
    // 20 runs at 1000, 20 at 940 (a slow decline nobody accepted), then two at 930.
    let mut s = series(20, 1000.0, &[]);
    s.observations
        .extend((20..40).map(|i| run(i, 940.0 * (1.0 + common::WIGGLE[i % 10] / 100.0))));
    s.observations.extend([run(40, 930.0), run(41, 930.0)]);
    assert_eq!(judge(&s).verdict, Verdict::Unchanged);
    s.pin = Some(Pin::Run("run-19".into()));
    let v = judge(&s);
    assert_eq!(
        (v.verdict, v.window),
        (Verdict::Regression, 20),
        "{}",
        v.reason
    );
    if let Some(ob) = s.observations.get_mut(10) {
        ob.tags.push("v1.0".into());
    }
    s.pin = Some(Pin::Tag("v1.0".into()));
    let v = judge(&s);
    assert_eq!(
        (v.verdict, v.window),
        (Verdict::NoBaseline, 1),
        "{}",
        v.reason
    );
    s.pin = Some(Pin::Tag("v9".into()));
    assert!(judge(&s).reason.contains("carries the pinned tag `v9`"));
    s.pin = Some(Pin::Run("nope".into()));
    assert!(
        judge(&s)
            .reason
            .contains("pinned baseline run nope is not in this series")
    );
}

#[test]
fn a_pre_merge_run_is_judged_against_main() {
    let mut s = series(20, 1000.0, &[]);
    let mut pr = run(20, 850.0);
    pr.label = "pr-123".into();
    s.observations.push(pr);
    let v = Judge::new(Options {
        confirm_runs: 1,
        ..Options::default()
    })
    .judge(&s);
    assert_eq!(
        (v.verdict, v.window, v.recent),
        (Verdict::Regression, 20, 1),
        "{}",
        v.reason
    );
}

#[test]
fn repeat_spread_floors_the_noise() {
    // Baseline runs agree to 0.1%, but each run's repeats spread by 5%: a 6% drop is noise.
    let mut s = Series::default();
    for i in 0..20 {
        let mut ob = run(i, 1000.0 + (i % 3) as f64);
        ob.spread = Some(50.0);
        s.observations.push(ob);
    }
    s.observations.extend([run(20, 940.0), run(21, 940.0)]);
    let v = judge(&s);
    assert_eq!(v.verdict, Verdict::Unchanged, "{}", v.reason);
    assert!(v.noise_pct.is_some_and(|n| (n - 5.0).abs() < 0.1));
}

#[test]
fn verdicts_do_not_depend_on_what_was_judged_before() {
    let a = series(20, 1000.0, &[880.0, 885.0]);
    let b = series(12, 50.0, &[49.0]);
    let fresh = Judge::new(Options::default());
    let used = Judge::new(Options::default());
    used.judge(&b);
    assert_eq!(fresh.judge(&a), used.judge(&a));
    // A judge sharing another's draws judges like a fresh one with its options.
    let latency = Options {
        direction: Direction::LowerIsBetter,
        ..Options::default()
    };
    let c = series(20, 50.0, &[57.0, 56.0]);
    assert_eq!(
        used.with_options(latency.clone()).judge(&c),
        Judge::new(latency).judge(&c)
    );
}

#[test]
fn compare_judges_run_b_against_the_window_ending_at_run_a() {
    // The docs/verdicts.md recipe for `compare RUN_A RUN_B`.
    let mut s = series(20, 1000.0, &[990.0, 1010.0, 1000.0]);
    let mut b = run(23, 900.0);
    b.label = "pr-7".into();
    s.observations.push(b);
    s.pin = Some(Pin::Run("run-19".into()));
    let options = Options {
        confirm_runs: 1,
        max_recent: 1,
        ..Options::default()
    };
    let v = Judge::new(options).judge(&s);
    assert_eq!(
        (v.verdict, v.window, v.recent),
        (Verdict::Regression, 20, 1),
        "{}",
        v.reason
    );
    assert!(v.baseline.is_some_and(|b| (b - 1000.0).abs() < 5.0));
}

#[test]
fn options_name_the_field_that_is_wrong() {
    assert_eq!(Options::default().validate(), Ok(()));
    let bad = |o: Options| o.validate().err().unwrap_or_default();
    assert!(
        bad(Options {
            window: 2,
            ..Options::default()
        })
        .starts_with("window is 2")
    );
    assert!(
        bad(Options {
            min_history: 30,
            ..Options::default()
        })
        .contains("min_history (30) exceeds window (20)")
    );
    assert!(
        bad(Options {
            threshold_pct: f64::NAN,
            ..Options::default()
        })
        .starts_with("threshold_pct is NaN")
    );
    assert!(
        bad(Options {
            alpha: 1.5,
            ..Options::default()
        })
        .starts_with("alpha is 1.5")
    );
    assert!(
        bad(Options {
            confirm_runs: 4,
            ..Options::default()
        })
        .starts_with("confirm_runs is 4")
    );
    assert!(
        bad(Options {
            null_draws: 10,
            ..Options::default()
        })
        .starts_with("null_draws is 10")
    );
}

#[test]
fn baseline_outliers_are_counted_and_do_not_move_it() {
    let mut s = series(20, 1000.0, &[1004.0]);
    for i in [3, 11] {
        if let Some(ob) = s.observations.get_mut(i) {
            ob.value = 700.0;
        }
    }
    let v = judge(&s);
    assert_eq!(
        (v.verdict, v.window, v.outliers),
        (Verdict::Unchanged, 20, 2),
        "{}",
        v.reason
    );
    assert!(v.baseline.is_some_and(|b| (b - 1000.0).abs() < 5.0));
    assert!(v.noise_pct.is_some_and(|n| n < 2.0));
}
