//! Regression verdicts for servebench: baselines, robust significance tests, change points.
//!
//! Brief overview: the history store hands this crate one [`Series`] per (configuration
//! fingerprint, test, concurrency, GPU type, cluster, metric), oldest run first and the judged
//! run last, plus the curator's accepted change points and pinned baseline. [`Judge::judge`]
//! returns a [`MetricVerdict`] (regression / improvement / unchanged / no baseline, with value,
//! baseline, delta, p-value and a reason); [`change_points`] marks persistent shifts for history
//! views; [`CheckReport`] is the versioned JSON of `servebench check --format json`.
//! [`anchors`] holds the rules other tools ship, and [`quality`] the harness that measures every
//! method on seeded synthetic histories (`benches/verdicts/run.sh`).
//!
//! The crate is pure: no I/O, no clock, no global state, no other servebench crate. Every random
//! draw comes from a seeded generator, so a verdict is a function of its inputs. Bad input (NaN,
//! infinities, empty series, unknown pinned runs) gives "no baseline" with a reason, never a
//! panic. `docs/verdicts.md` explains the method and records its measured quality.
//!
//! ```
//! use servebench_verdict::{Judge, Observation, Options, Series, Verdict};
//!
//! let run = |i: usize, value: f64| Observation {
//!     run_id: format!("run-{i}"),
//!     timestamp: 1_700_000_000 + i as i64 * 86_400,
//!     label: "main".into(),
//!     value,
//!     spread: None,
//!     passing: true,
//!     fingerprint: "cfg-1".into(),
//!     tags: vec![],
//! };
//! // Twenty runs of throughput around 1000 with 2% noise, then two runs 12% lower.
//! let noise = [0.0, 1.5, -2.0, 0.5, 2.5, -1.0, -0.5, 1.0, -2.5, 2.0];
//! let mut observations: Vec<Observation> =
//!     (0..20).map(|i| run(i, 1000.0 * (1.0 + noise[i % 10] / 100.0))).collect();
//! observations.push(run(20, 885.0));
//! observations.push(run(21, 878.0));
//! let series = Series { observations, ..Series::default() };
//! let verdict = Judge::new(Options::default()).judge(&series);
//! assert_eq!(verdict.verdict, Verdict::Regression);
//! assert_eq!(verdict.recent, 2);
//! ```

pub mod anchors;
pub mod changepoint;
pub mod judge;
pub mod model;
pub mod quality;
pub mod report;
pub mod stats;

pub use changepoint::{ChangePoint, ChangePointOptions, change_points};
pub use judge::Judge;
pub use model::{Direction, MetricVerdict, Observation, Options, Pin, Series, Verdict};
pub use report::{CheckEntry, CheckReport, ReportedChangePoint, SCHEMA_VERSION};
