//! The verdict-quality harness: seeded synthetic histories judged by every method.
//!
//! A trial is one history: `fill` runs that only fill the baseline, `null_checks` runs judged
//! with no change (each alarm is a false alarm), then a step and `post_checks` runs judged after
//! it (an alarm in the step's direction at one of the first r of them is a detection within r
//! runs). Methods are [`HistoryJudge`]s: this crate's [`Judge`] ([`Ours`]) and the anchors
//! ([`AnchorJudge`]). The real `servebench import` + `check` path plugs in by implementing
//! [`HistoryJudge`] over a scratch store (write the series, run `check`, read its JSON).
//!
//! An anchor is also "tuned": its threshold is set, per noise model and metric kind, to the
//! value that gives it the false-alarm rate ours measured there, and its detection is read from
//! the scores of the same trials.

use std::fmt::Write;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

use crate::anchors::Anchor;
use crate::judge::Judge;
use crate::model::{Direction, Observation, Options, Series, Verdict};

/// Seconds per day: one synthetic run per day.
const DAY: i64 = 86_400;

/// A method that judges the newest run of a history.
pub trait HistoryJudge {
    /// The method's name in tables.
    fn name(&self) -> String;
    /// The verdict on the newest observation of `series` for a metric improving in `direction`.
    fn judge(&mut self, series: &Series, direction: Direction) -> Judgement;
}

/// A method's call on one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judgement {
    /// The verdict.
    pub verdict: Verdict,
    /// The method's threshold score, "how much worse in percent", when it has one (anchors).
    pub worse_pct: Option<f64>,
}

/// This crate's [`Judge`], one per direction.
#[derive(Debug)]
pub struct Ours {
    higher: Judge,
    lower: Judge,
}

impl Ours {
    /// Ours with `options` (their `direction` is replaced by each series' own).
    pub fn new(options: &Options) -> Self {
        let higher = Judge::new(Options {
            direction: Direction::HigherIsBetter,
            ..options.clone()
        });
        let lower = higher.with_options(Options {
            direction: Direction::LowerIsBetter,
            ..options.clone()
        });
        Ours { higher, lower }
    }
}

impl HistoryJudge for Ours {
    fn name(&self) -> String {
        "ours".into()
    }

    fn judge(&mut self, series: &Series, direction: Direction) -> Judgement {
        let judge = match direction {
            Direction::HigherIsBetter => &self.higher,
            Direction::LowerIsBetter => &self.lower,
        };
        Judgement {
            verdict: judge.judge(series).verdict,
            worse_pct: None,
        }
    }
}

/// An anchor rule over the newest `window` passing runs before the judged one.
#[derive(Debug, Clone, Copy)]
pub struct AnchorJudge {
    /// The rule.
    pub anchor: Anchor,
    /// Its threshold, in percent.
    pub threshold_pct: f64,
    /// How many previous runs it sees.
    pub window: usize,
}

impl HistoryJudge for AnchorJudge {
    fn name(&self) -> String {
        let rule = match self.anchor {
            Anchor::UpstreamPerfSanity => "upstream",
            Anchor::HudMedianRatio => "HUD",
            Anchor::NewestVsPrevious => "previous",
        };
        format!("{rule} {}%", self.threshold_pct)
    }

    fn judge(&mut self, series: &Series, direction: Direction) -> Judgement {
        let Some((newest, before)) = series.observations.split_last() else {
            return Judgement {
                verdict: Verdict::NoBaseline,
                worse_pct: None,
            };
        };
        let passing: Vec<Observation> = before.iter().filter(|ob| ob.passing).cloned().collect();
        let history = passing
            .get(passing.len().saturating_sub(self.window)..)
            .unwrap_or_default();
        let call = self
            .anchor
            .call(history, newest.value, direction, self.threshold_pct);
        Judgement {
            verdict: call.verdict,
            worse_pct: call.worse_pct,
        }
    }
}

/// Run-to-run noise of a synthetic history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Noise {
    /// Gaussian with this coefficient of variation, in percent.
    Gaussian(f64),
    /// Gaussian `cv_pct`, but with probability `rate` a run is off by ±(15..35)% instead.
    HeavyTailed {
        /// Coefficient of variation of the ordinary runs, percent.
        cv_pct: f64,
        /// Probability that a run is an outlier.
        rate: f64,
    },
    /// Gaussian `cv_pct` around one of two node types `gap_pct` apart, drawn per run.
    Bimodal {
        /// Coefficient of variation around each mode, percent.
        cv_pct: f64,
        /// Distance between the modes, percent.
        gap_pct: f64,
    },
    /// Gaussian `cv_pct` on a level that drifts by `per_run_pct` every run (worse direction).
    Drift {
        /// Coefficient of variation, percent.
        cv_pct: f64,
        /// Drift per run, percent.
        per_run_pct: f64,
    },
}

impl Noise {
    /// A short label for tables.
    pub fn label(&self) -> String {
        match *self {
            Noise::Gaussian(cv) => format!("gauss {cv}%"),
            Noise::HeavyTailed { cv_pct, rate } => {
                format!("heavy {cv_pct}% + {}% outliers", rate * 100.0)
            }
            Noise::Bimodal { cv_pct, gap_pct } => format!("bimodal {cv_pct}% ±{}%", gap_pct / 2.0),
            Noise::Drift {
                cv_pct,
                per_run_pct,
            } => format!("drift {cv_pct}% {per_run_pct}%/run"),
        }
    }

    /// One run's relative deviation from the level.
    fn draw(&self, rng: &mut StdRng) -> f64 {
        let gauss = |rng: &mut StdRng, cv: f64| {
            let z: f64 = StandardNormal.sample(rng);
            cv / 100.0 * z
        };
        match *self {
            Noise::Gaussian(cv) | Noise::Drift { cv_pct: cv, .. } => gauss(rng, cv),
            Noise::HeavyTailed { cv_pct, rate } => {
                if rng.random_bool(rate.clamp(0.0, 1.0)) {
                    let size = rng.random_range(0.15..0.35);
                    if rng.random_bool(0.5) { size } else { -size }
                } else {
                    gauss(rng, cv_pct)
                }
            }
            Noise::Bimodal { cv_pct, gap_pct } => {
                let mode = if rng.random_bool(0.5) {
                    gap_pct
                } else {
                    -gap_pct
                } / 200.0;
                mode + gauss(rng, cv_pct)
            }
        }
    }
}

/// One kind of synthetic history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scenario {
    /// The noise.
    pub noise: Noise,
    /// Throughput-like or latency-like.
    pub direction: Direction,
    /// The step, in percent: positive makes the metric worse, negative better.
    pub step_pct: f64,
}

impl Scenario {
    /// "throughput" or "latency".
    pub fn kind(&self) -> &'static str {
        match self.direction {
            Direction::HigherIsBetter => "throughput",
            Direction::LowerIsBetter => "latency",
        }
    }
}

/// The shape of every trial.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Design {
    /// Histories per scenario.
    pub trials: usize,
    /// Runs that only fill the baseline.
    pub fill: usize,
    /// Runs judged before the step.
    pub null_checks: usize,
    /// Runs judged after the step.
    pub post_checks: usize,
    /// Seed of every history.
    pub seed: u64,
}

impl Default for Design {
    fn default() -> Self {
        Design {
            trials: 400,
            fill: 20,
            null_checks: 15,
            post_checks: 3,
            seed: 2026,
        }
    }
}

impl Design {
    /// Index of the first run after the step.
    fn step_at(&self) -> usize {
        self.fill + self.null_checks
    }
}

/// The default scenario grid: Gaussian CV 2, 2.5, 5 and 10%, heavy tails, bimodal nodes and slow
/// drift, each with steps of 5, 10 and 20% either way, for throughput- and latency-like metrics.
pub fn default_scenarios() -> Vec<Scenario> {
    let noises = [
        Noise::Gaussian(2.0),
        Noise::Gaussian(2.5),
        Noise::Gaussian(5.0),
        Noise::Gaussian(10.0),
        Noise::HeavyTailed {
            cv_pct: 5.0,
            rate: 0.03,
        },
        Noise::Bimodal {
            cv_pct: 2.5,
            gap_pct: 6.0,
        },
        Noise::Drift {
            cv_pct: 5.0,
            per_run_pct: 0.1,
        },
    ];
    let mut out = Vec::new();
    for noise in noises {
        for direction in [Direction::HigherIsBetter, Direction::LowerIsBetter] {
            for step_pct in [5.0, 10.0, 20.0, -5.0, -10.0, -20.0] {
                out.push(Scenario {
                    noise,
                    direction,
                    step_pct,
                });
            }
        }
    }
    out
}

/// The seeded history of trial `trial` of `scenario`.
pub fn history(scenario: &Scenario, design: &Design, trial: usize) -> Vec<Observation> {
    let key = format!(
        "{}/{}/{}/{trial}",
        scenario.noise.label(),
        scenario.kind(),
        scenario.step_pct
    );
    let mut rng = StdRng::seed_from_u64(design.seed ^ fnv1a(&key));
    let level = match scenario.direction {
        Direction::HigherIsBetter => 1000.0,
        Direction::LowerIsBetter => 50.0,
    };
    let worse = scenario.direction.worse_sign();
    let drift = match scenario.noise {
        Noise::Drift { per_run_pct, .. } => per_run_pct,
        _ => 0.0,
    };
    (0..design.step_at() + design.post_checks)
        .map(|t| {
            let step = if t >= design.step_at() {
                scenario.step_pct
            } else {
                0.0
            };
            let trend = 1.0 + worse * (drift * t as f64 + step) / 100.0;
            let value = level * trend * (1.0 + scenario.noise.draw(&mut rng));
            Observation {
                run_id: format!("run-{t}"),
                timestamp: t as i64 * DAY,
                label: "main".into(),
                value,
                spread: None,
                passing: true,
                fingerprint: "synthetic".into(),
                tags: Vec::new(),
            }
        })
        .collect()
}

/// 64-bit FNV-1a, to derive a stable seed from a scenario's name.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What one method did on one scenario.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Checks before the step.
    pub null_checks: usize,
    /// Of those, regressions (the false alarms of a CI gate).
    pub false_regressions: usize,
    /// Of those, improvements.
    pub false_improvements: usize,
    /// `detected[r − 1]`: trials with an alarm in the step's direction within r runs.
    pub detected: Vec<usize>,
    /// Trials.
    pub trials: usize,
    /// The score at every check before the step (methods with a score).
    pub null_scores: Vec<f64>,
    /// Per trial, the direction-adjusted score ("worse by", sign flipped for improving steps)
    /// at each check after the step.
    pub post_scores: Vec<Vec<f64>>,
}

/// Runs `judge` over every trial of `scenario`.
pub fn evaluate(judge: &mut dyn HistoryJudge, scenario: &Scenario, design: &Design) -> Outcome {
    let wanted = if scenario.step_pct > 0.0 {
        Verdict::Regression
    } else {
        Verdict::Improvement
    };
    let toward = scenario.step_pct.signum();
    let mut out = Outcome {
        detected: vec![0; design.post_checks],
        trials: design.trials,
        ..Outcome::default()
    };
    for trial in 0..design.trials {
        let runs = history(scenario, design, trial);
        let mut series = Series::default();
        let mut first_hit = None;
        let mut post = Vec::new();
        for (t, ob) in runs.into_iter().enumerate() {
            series.observations.push(ob);
            if t < design.fill {
                continue;
            }
            let call = judge.judge(&series, scenario.direction);
            if t < design.step_at() {
                out.null_checks += 1;
                out.false_regressions += usize::from(call.verdict == Verdict::Regression);
                out.false_improvements += usize::from(call.verdict == Verdict::Improvement);
                out.null_scores.extend(call.worse_pct);
            } else {
                if call.verdict == wanted && first_hit.is_none() {
                    first_hit = Some(t - design.step_at());
                }
                post.extend(call.worse_pct.map(|w| w * toward));
            }
        }
        if let Some(hit) = first_hit {
            out.detected.iter_mut().skip(hit).for_each(|d| *d += 1);
        }
        out.post_scores.push(post);
    }
    out
}

impl Outcome {
    /// Detection within 1, 2, … runs, as fractions of the trials.
    pub fn detection(&self) -> Vec<f64> {
        self.detected
            .iter()
            .map(|d| ratio(*d, self.trials))
            .collect()
    }

    /// False alarms per check in the direction `toward` (+1: regressions, −1: improvements).
    fn false_count(&self, toward: f64) -> usize {
        if toward > 0.0 {
            self.false_regressions
        } else {
            self.false_improvements
        }
    }
}

/// `a / b`, 0 when `b` is 0.
fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The smallest threshold `t` at which at most a fraction `target` of `scores` exceed it.
pub fn tune(scores: &[f64], target: f64) -> f64 {
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    let allowed = (target * sorted.len() as f64).floor() as usize;
    sorted
        .len()
        .checked_sub(allowed + 1)
        .and_then(|i| sorted.get(i))
        .copied()
        .unwrap_or(0.0)
}

/// Detection rates of a scored method at threshold `t`.
pub fn detection_at(outcome: &Outcome, t: f64, post_checks: usize) -> Vec<f64> {
    (1..=post_checks)
        .map(|r| {
            let hits = outcome
                .post_scores
                .iter()
                .filter(|s| s.iter().take(r).any(|w| *w > t))
                .count();
            ratio(hits, outcome.trials)
        })
        .collect()
}

/// The full comparison: every method on every scenario, with the tuned anchors.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The design used.
    pub design: Design,
    /// The scenarios, in order.
    pub scenarios: Vec<Scenario>,
    /// Method names, in column order; the first is ours.
    pub methods: Vec<String>,
    /// `outcomes[method][scenario]`.
    pub outcomes: Vec<Vec<Outcome>>,
}

/// Runs every method on every scenario.
pub fn compare(
    methods: &mut [Box<dyn HistoryJudge>],
    scenarios: &[Scenario],
    design: &Design,
) -> Comparison {
    let outcomes = methods
        .iter_mut()
        .map(|m| {
            scenarios
                .iter()
                .map(|s| evaluate(m.as_mut(), s, design))
                .collect()
        })
        .collect();
    Comparison {
        design: *design,
        scenarios: scenarios.to_vec(),
        methods: methods.iter().map(|m| m.name()).collect(),
        outcomes,
    }
}

/// One (noise, metric kind) group of scenarios.
struct Group {
    label: String,
    kind: &'static str,
    members: Vec<usize>,
}

impl Comparison {
    /// Scenario indices grouped by (noise, kind), in first-seen order.
    fn groups(&self) -> Vec<Group> {
        let mut groups: Vec<Group> = Vec::new();
        for (i, s) in self.scenarios.iter().enumerate() {
            let label = s.noise.label();
            match groups
                .iter_mut()
                .find(|g| g.label == label && g.kind == s.kind())
            {
                Some(g) => g.members.push(i),
                None => groups.push(Group {
                    label,
                    kind: s.kind(),
                    members: vec![i],
                }),
            }
        }
        groups
    }

    /// The pooled false-alarm rate of `method` over `members` in the direction `toward`
    /// (+1: false regressions, −1: false improvements).
    fn false_alarm(&self, method: usize, members: &[usize], toward: f64) -> f64 {
        let outcomes: Vec<&Outcome> = members
            .iter()
            .filter_map(|i| self.outcomes.get(method)?.get(*i))
            .collect();
        let alarms = outcomes.iter().map(|o| o.false_count(toward)).sum();
        ratio(alarms, outcomes.iter().map(|o| o.null_checks).sum())
    }

    /// Methods that carry a score, deduplicated by rule (the first of each is tuned).
    fn scored(&self) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        for (m, name) in self.methods.iter().enumerate() {
            let rule = name.split(' ').next().unwrap_or_default();
            let has_scores = self
                .outcomes
                .get(m)
                .is_some_and(|r| r.iter().any(|o| !o.null_scores.is_empty()));
            if has_scores
                && !out
                    .iter()
                    .any(|o| self.methods.get(*o).is_some_and(|n| n.starts_with(rule)))
            {
                out.push(m);
            }
        }
        out
    }

    /// The tuned threshold of scored method `m` in `group` for changes toward `toward` (+1:
    /// worse): the threshold at which it has ours' false-alarm rate there in that direction.
    fn tuned_threshold(&self, m: usize, group: &Group, toward: f64) -> f64 {
        let target = self.false_alarm(0, &group.members, toward);
        let scores: Vec<f64> = group
            .members
            .iter()
            .filter_map(|i| self.outcomes.get(m)?.get(*i))
            .flat_map(|o| o.null_scores.iter().map(|s| s * toward))
            .collect();
        tune(&scores, target)
    }

    /// The report: false alarms, detection as shipped, detection tuned.
    pub fn render(&self) -> String {
        let pct = |v: f64| format!("{:.2}", v * 100.0);
        let d = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{:.0}", x * 100.0))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        let scored = self.scored();
        let rule = |m: usize| {
            self.methods
                .get(m)
                .and_then(|n| n.split(' ').next())
                .unwrap_or_default()
                .to_owned()
        };
        let row = |out: &mut String, cells: &[String]| {
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        };
        let header = |out: &mut String, cells: Vec<String>| {
            row(out, &cells);
            row(out, &vec!["---".to_owned(); cells.len()]);
        };
        let groups = self.groups();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} trials per scenario; {} checks before the step and {} after it per trial; seed {}.\n",
            self.design.trials, self.design.null_checks, self.design.post_checks, self.design.seed
        );
        let _ = writeln!(
            out,
            "False regressions per metric per run, % (checks before the step):\n"
        );
        let mut cells = vec!["noise".to_owned(), "metric".to_owned()];
        cells.extend(self.methods.iter().cloned());
        cells.push("ours: false improvements".into());
        cells.extend(
            scored
                .iter()
                .map(|m| format!("{} tuned threshold (worse / better)", rule(*m))),
        );
        header(&mut out, cells);
        for g in &groups {
            let mut cells = vec![g.label.clone(), g.kind.to_owned()];
            cells
                .extend((0..self.methods.len()).map(|m| pct(self.false_alarm(m, &g.members, 1.0))));
            cells.push(pct(self.false_alarm(0, &g.members, -1.0)));
            cells.extend(scored.iter().map(|m| {
                format!(
                    "{:.1}% / {:.1}%",
                    self.tuned_threshold(*m, g, 1.0),
                    self.tuned_threshold(*m, g, -1.0)
                )
            }));
            row(&mut out, &cells);
        }
        let _ = writeln!(
            out,
            "\nDetection within 1 / 2 / 3 runs after the step, % of trials (step > 0: worse, detected \
             as a regression; < 0: better, detected as an improvement; \"tuned\": the rule with the \
             threshold that gives it ours' false-alarm rate in that noise, metric and direction):\n"
        );
        let mut cells = vec!["noise".to_owned(), "metric".to_owned(), "step".to_owned()];
        cells.extend(self.methods.iter().cloned());
        cells.extend(scored.iter().map(|m| format!("{} tuned", rule(*m))));
        header(&mut out, cells);
        let post = self.design.post_checks;
        for g in &groups {
            for i in &g.members {
                let Some(s) = self.scenarios.get(*i) else {
                    continue;
                };
                let mut cells = vec![
                    g.label.clone(),
                    g.kind.to_owned(),
                    format!("{:+}%", s.step_pct),
                ];
                cells.extend(
                    self.outcomes
                        .iter()
                        .map(|r| r.get(*i).map_or(String::new(), |o| d(&o.detection()))),
                );
                cells.extend(scored.iter().map(|m| {
                    let t = self.tuned_threshold(*m, g, s.step_pct.signum());
                    let o = self.outcomes.get(*m).and_then(|r| r.get(*i));
                    o.map_or(String::new(), |o| d(&detection_at(o, t, post)))
                }));
                row(&mut out, &cells);
            }
        }
        out
    }

    /// Ours' detection within `runs` on the scenarios matching `noise` and `step_pct` (both
    /// metric kinds pooled), as a fraction.
    pub fn ours_detection(&self, noise: Noise, step_pct: f64, runs: usize) -> f64 {
        let (hits, trials) = self
            .scenarios
            .iter()
            .zip(self.outcomes.first().into_iter().flatten())
            .filter(|(s, _)| s.noise == noise && s.step_pct == step_pct)
            .fold((0, 0), |(h, t), (_, o)| {
                (
                    h + o.detected.get(runs.saturating_sub(1)).copied().unwrap_or(0),
                    t + o.trials,
                )
            });
        ratio(hits, trials)
    }

    /// Ours' largest false-alarm rate (either direction) over the (noise, metric kind) groups,
    /// with the group.
    pub fn ours_worst_false_alarm(&self) -> (f64, String) {
        self.groups()
            .iter()
            .flat_map(|g| {
                [(1.0, "regressions"), (-1.0, "improvements")].map(|(toward, what)| {
                    (
                        self.false_alarm(0, &g.members, toward),
                        format!("{} {} ({what})", g.label, g.kind),
                    )
                })
            })
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .unwrap_or((0.0, String::new()))
    }

    /// Step scenarios where a tuned anchor detects more within `runs` than ours, as
    /// "scenario: anchor x% vs ours y%".
    pub fn tuned_anchor_wins(&self, runs: usize) -> Vec<String> {
        let mut out = Vec::new();
        for g in self.groups() {
            for m in self.scored() {
                for i in &g.members {
                    let (Some(s), Some(ours), Some(theirs)) = (
                        self.scenarios.get(*i),
                        self.outcomes.first().and_then(|r| r.get(*i)),
                        self.outcomes.get(m).and_then(|r| r.get(*i)),
                    ) else {
                        continue;
                    };
                    let t = self.tuned_threshold(m, &g, s.step_pct.signum());
                    let a = detection_at(theirs, t, runs).last().copied().unwrap_or(0.0);
                    let o = ours
                        .detection()
                        .get(runs.saturating_sub(1))
                        .copied()
                        .unwrap_or(0.0);
                    if a > o {
                        let name = self
                            .methods
                            .get(m)
                            .map_or("", |n| n.split(' ').next().unwrap_or_default());
                        out.push(format!(
                            "{} {} {:+}%: {name} tuned {:.1}% vs ours {:.1}%",
                            g.label,
                            g.kind,
                            s.step_pct,
                            a * 100.0,
                            o * 100.0
                        ));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tune_picks_the_threshold_with_the_target_rate() {
        let scores: Vec<f64> = (1..=10).map(f64::from).collect();
        // 20% of 10 scores may exceed: the threshold is the 8th, and 9 and 10 exceed it.
        assert_eq!(tune(&scores, 0.2), 8.0);
        assert_eq!(tune(&scores, 0.0), 10.0);
        assert_eq!(tune(&[], 0.01), 0.0);
    }

    #[test]
    fn detection_counts_the_first_hit_within_each_horizon() {
        let outcome = Outcome {
            trials: 2,
            post_scores: vec![vec![1.0, 7.0, 9.0], vec![0.0, 0.0, 6.0]],
            ..Outcome::default()
        };
        assert_eq!(detection_at(&outcome, 5.0, 3), vec![0.0, 0.5, 1.0]);
    }

    #[test]
    fn a_small_comparison_detects_a_large_step_and_renders() {
        let design = Design {
            trials: 4,
            ..Design::default()
        };
        let scenarios = [Scenario {
            noise: Noise::Gaussian(2.0),
            direction: Direction::LowerIsBetter,
            step_pct: 20.0,
        }];
        let options = Options::default();
        let mut methods: Vec<Box<dyn HistoryJudge>> = vec![
            Box::new(Ours::new(&options)),
            Box::new(AnchorJudge {
                anchor: Anchor::NewestVsPrevious,
                threshold_pct: 5.0,
                window: 20,
            }),
        ];
        let cmp = compare(&mut methods, &scenarios, &design);
        assert_eq!(cmp.ours_detection(Noise::Gaussian(2.0), 20.0, 2), 1.0);
        let ours = cmp
            .outcomes
            .first()
            .and_then(|r| r.first())
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            (ours.trials, ours.null_checks, ours.false_regressions),
            (4, 60, 0)
        );
        let text = cmp.render();
        let row = text
            .lines()
            .find(|l| l.starts_with("| gauss 2% | latency | +20% |"));
        let tail = "/ 100 / 100 | 100 / 100 / 100 | 100 / 100 / 100 |";
        assert!(row.is_some_and(|r| r.ends_with(tail)), "{text}");
        assert!(text.contains("previous tuned"), "{text}");
    }
}
