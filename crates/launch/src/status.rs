//! `status.jsonl`: the events the orchestrator appends so the outer command can show progress
//! without SSH (SPEC 6.2). One JSON object per line, tagged by `event`; the last one of a job
//! that ended on its own is always [`StatusEvent::Finished`].
//!
//! The orchestrator writes it; the scheduler (live view, verdicts) and the collector (per-run
//! errors, durations) read it through [`StatusLog::parse`], the one reader.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::FailureKind;

/// One line of `status.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum StatusEvent {
    /// A stage begins: `setup`, `starting`, `router`, `benchmark`, `accuracy`, `teardown`.
    Stage {
        /// Seconds since the Unix epoch.
        ts: f64,
        /// Stage name.
        stage: String,
    },
    /// Server readiness changed.
    Readiness {
        /// Seconds since the Unix epoch.
        ts: f64,
        /// `ctx 1/2 gen 4/4`.
        text: String,
        /// Role -> (healthy, total).
        ready: BTreeMap<String, (u64, u64)>,
    },
    /// A benchmark client run begins.
    Concurrency {
        /// Seconds since the Unix epoch.
        ts: f64,
        /// Client concurrency.
        c: u64,
        /// 1-based position among the client runs.
        k: u64,
        /// Number of client runs.
        n: u64,
        /// Repeat index.
        repeat: u64,
    },
    /// An accuracy task begins.
    Accuracy {
        /// Seconds since the Unix epoch.
        ts: f64,
        /// Step name.
        task: String,
    },
    /// A warning (render-time warnings are repeated here).
    Warning {
        /// Seconds since the Unix epoch.
        ts: f64,
        /// Text.
        message: String,
    },
    /// An error that does not end the job by itself (a client run that failed).
    Error {
        /// Seconds since the Unix epoch.
        ts: f64,
        /// Text.
        message: String,
    },
    /// The job ended; always the last event.
    Finished {
        /// Seconds since the Unix epoch.
        ts: f64,
        /// Exit code of `servebench job exec`.
        code: u8,
        /// Whether the job succeeded.
        ok: bool,
        /// Failure class, when it failed.
        kind: Option<FailureKind>,
        /// Failure reason, when it failed.
        reason: Option<String>,
    },
}

impl StatusEvent {
    /// Seconds since the Unix epoch.
    pub fn ts(&self) -> f64 {
        match self {
            StatusEvent::Stage { ts, .. }
            | StatusEvent::Readiness { ts, .. }
            | StatusEvent::Concurrency { ts, .. }
            | StatusEvent::Accuracy { ts, .. }
            | StatusEvent::Warning { ts, .. }
            | StatusEvent::Error { ts, .. }
            | StatusEvent::Finished { ts, .. } => *ts,
        }
    }

    /// A short human description (`benchmark c=8 2/3`, `starting ctx 1/2 gen 4/4`).
    pub fn describe(&self) -> String {
        match self {
            StatusEvent::Stage { stage, .. } => stage.clone(),
            StatusEvent::Readiness { text, .. } => format!("starting {text}"),
            StatusEvent::Concurrency { c, k, n, .. } => format!("benchmark c={c} {k}/{n}"),
            StatusEvent::Accuracy { task, .. } => format!("accuracy {task}"),
            StatusEvent::Warning { message, .. } => format!("warning: {message}"),
            StatusEvent::Error { message, .. } => format!("error: {message}"),
            StatusEvent::Finished { ok, reason, .. } => {
                if *ok {
                    "done".into()
                } else {
                    format!("failed: {}", reason.as_deref().unwrap_or("unknown"))
                }
            }
        }
    }

    /// One JSON line with its newline.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }
}

/// How a job ended, from its `finished` event.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    /// Exit code of `servebench job exec`.
    pub code: u8,
    /// Whether it succeeded.
    pub ok: bool,
    /// Failure class.
    pub kind: Option<FailureKind>,
    /// Failure reason.
    pub reason: Option<String>,
}

/// A parsed status file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusLog {
    /// Events in file order.
    pub events: Vec<StatusEvent>,
    /// Lines that were not status events (a line being written, another writer's noise).
    pub unreadable: usize,
}

impl StatusLog {
    /// Parses the text of a status file; unreadable lines are counted, never fatal.
    pub fn parse(text: &str) -> StatusLog {
        let mut log = StatusLog::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str(line) {
                Ok(e) => log.events.push(e),
                Err(_) => log.unreadable += 1,
            }
        }
        log
    }

    /// Epoch seconds of the first and the last event: when the job's orchestrator started and
    /// when it last reported.
    pub fn span(&self) -> Option<(f64, f64)> {
        Some((self.events.first()?.ts(), self.events.last()?.ts()))
    }

    /// The final `finished` event, when the job reported its end.
    pub fn finish(&self) -> Option<Finish> {
        self.events.iter().rev().find_map(|e| match e {
            StatusEvent::Finished {
                code,
                ok,
                kind,
                reason,
                ..
            } => Some(Finish {
                code: *code,
                ok: *ok,
                kind: *kind,
                reason: reason.clone(),
            }),
            _ => None,
        })
    }

    /// The newest progress event (not a warning, not the end), for live views.
    pub fn progress(&self) -> Option<&StatusEvent> {
        self.events.iter().rev().find(|e| {
            !matches!(
                e,
                StatusEvent::Warning { .. } | StatusEvent::Finished { .. }
            )
        })
    }

    /// `error` events with the client run (concurrency, repeat) that was running when each was
    /// written.
    pub fn errors(&self) -> Vec<(Option<(u64, u64)>, String)> {
        let mut run = None;
        let mut out = Vec::new();
        for e in &self.events {
            match e {
                StatusEvent::Concurrency { c, repeat, .. } => run = Some((*c, *repeat)),
                StatusEvent::Error { message, .. } => out.push((run, message.clone())),
                _ => {}
            }
        }
        out
    }

    /// The last client run (concurrency, repeat) that began.
    pub fn last_run(&self) -> Option<(u64, u64)> {
        self.events.iter().rev().find_map(|e| match e {
            StatusEvent::Concurrency { c, repeat, .. } => Some((*c, *repeat)),
            _ => None,
        })
    }

    /// Seconds between the first and the last event.
    pub fn duration_s(&self) -> Option<f64> {
        let first = self.events.first()?.ts();
        let last = self.events.last()?.ts();
        let d = last - first;
        (d.is_finite() && d >= 0.0).then_some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_typed_lines_and_counts_the_rest() {
        let text = [
            StatusEvent::Stage {
                ts: 1.0,
                stage: "benchmark".into(),
            }
            .to_line(),
            StatusEvent::Concurrency {
                ts: 2.0,
                c: 8,
                k: 1,
                n: 2,
                repeat: 0,
            }
            .to_line(),
            StatusEvent::Error {
                ts: 3.0,
                message: "client exited 1".into(),
            }
            .to_line(),
            StatusEvent::Finished {
                ts: 5.5,
                code: 3,
                ok: false,
                kind: Some(FailureKind::HealthTimeout),
                reason: Some("health timeout".into()),
            }
            .to_line(),
            "{\"event\":".into(),
        ]
        .concat();
        let log = StatusLog::parse(&text);
        assert_eq!(log.events.len(), 4);
        assert_eq!(log.unreadable, 1);
        let fin = log.finish().unwrap();
        assert_eq!(fin.kind, Some(FailureKind::HealthTimeout));
        assert_eq!(log.errors(), vec![(Some((8, 0)), "client exited 1".into())]);
        assert_eq!(log.last_run(), Some((8, 0)));
        assert_eq!(log.duration_s(), Some(4.5));
        assert_eq!(log.progress().unwrap().describe(), "error: client exited 1");
        assert!(text.starts_with("{\"event\":\"stage\""));
    }
}

/// Garbage in: `status.jsonl` as a crashed or concurrent writer leaves it (torn, interleaved,
/// flipped bytes) and arbitrary text. The reader never panics, counts every line it cannot
/// read, and its summaries stay sane. Case count: PROPTEST_CASES (256 by default).
#[cfg(test)]
mod garbage {
    use proptest::prelude::*;

    use super::*;
    use crate::mutate::{apply_text, ops};

    fn text() -> impl Strategy<Value = String> {
        "[\\PC\n]{0,30}"
    }

    fn event() -> impl Strategy<Value = StatusEvent> {
        let ts = prop_oneof![0.0f64..2e9, Just(f64::MAX), Just(-1.0), Just(0.0)];
        prop_oneof![
            (ts.clone(), text()).prop_map(|(ts, stage)| StatusEvent::Stage { ts, stage }),
            (
                ts.clone(),
                text(),
                prop::collection::btree_map(text(), (any::<u64>(), any::<u64>()), 0..3)
            )
                .prop_map(|(ts, text, ready)| StatusEvent::Readiness {
                    ts,
                    text,
                    ready
                }),
            (
                ts.clone(),
                any::<u64>(),
                any::<u64>(),
                any::<u64>(),
                any::<u64>()
            )
                .prop_map(|(ts, c, k, n, repeat)| StatusEvent::Concurrency {
                    ts,
                    c,
                    k,
                    n,
                    repeat
                }),
            (ts.clone(), text()).prop_map(|(ts, task)| StatusEvent::Accuracy { ts, task }),
            (ts.clone(), text()).prop_map(|(ts, message)| StatusEvent::Warning { ts, message }),
            (ts.clone(), text()).prop_map(|(ts, message)| StatusEvent::Error { ts, message }),
            (ts, any::<u8>(), any::<bool>(), prop::option::of(text())).prop_map(
                |(ts, code, ok, reason)| StatusEvent::Finished {
                    ts,
                    code,
                    ok,
                    kind: (!ok).then_some(FailureKind::HealthTimeout),
                    reason,
                }
            ),
        ]
    }

    /// The real file of the built-in simulator bundle in the results crate's fixtures.
    const REAL: &str =
        include_str!("../../results/tests/fixtures/builtin_sim_bundle/logs/status.jsonl");

    fn check(text: &str) -> Result<(), TestCaseError> {
        let log = StatusLog::parse(text);
        let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
        prop_assert_eq!(log.events.len() + log.unreadable, lines);
        let _ = log.finish();
        let _ = log.errors();
        let _ = log.last_run();
        if let Some(p) = log.progress() {
            let _ = p.describe();
        }
        for e in &log.events {
            let _ = e.describe();
            let _ = e.to_line();
        }
        if let Some(d) = log.duration_s() {
            prop_assert!(d.is_finite() && d >= 0.0);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn written_events_read_back(events in prop::collection::vec(event(), 0..12)) {
            let text: String = events.iter().map(StatusEvent::to_line).collect();
            let log = StatusLog::parse(&text);
            prop_assert_eq!(log.unreadable, 0);
            prop_assert_eq!(log.events.len(), events.len());
            for (back, e) in log.events.iter().zip(&events) {
                prop_assert_eq!(back.describe(), e.describe());
                // serde_json reads floats to within an ulp, not always bit for bit.
                prop_assert!((back.ts() - e.ts()).abs() <= 1e-15 * e.ts().abs().max(1.0));
            }
        }

        #[test]
        fn mutated_status_files_never_panic(
            events in prop::collection::vec(event(), 0..8),
            real in any::<bool>(),
            ops in ops(),
        ) {
            let seed: String = if real {
                REAL.to_string()
            } else {
                events.iter().map(StatusEvent::to_line).collect()
            };
            check(&apply_text(&seed, &ops))?;
        }

        #[test]
        fn arbitrary_text_never_panics(s in "[\\PC\n]{0,400}") {
            check(&s)?;
        }

        /// JSON-shaped lines with the right tags and wrong fields.
        #[test]
        fn wrong_shaped_events_are_unreadable(
            tag in "(stage|readiness|concurrency|accuracy|warning|error|finished|[a-z]{0,8})",
            field in "(ts|c|k|n|repeat|code|ok|kind|ready|text)",
            value in "(-1|1e999|18446744073709551616|256|null|\"x\"|\\[\\]|\\{\\}|true)",
        ) {
            let line = format!("{{\"event\":\"{tag}\",\"{field}\":{value}}}\n");
            check(&line)?;
        }
    }
}
