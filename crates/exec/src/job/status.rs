//! `status.jsonl`: the events the orchestrator appends so the outer command can show progress
//! without SSH (SPEC 6.2). One JSON object per line, tagged by `event`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

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
        /// Failure class ([`crate::JobFailure::kind`]), when it failed.
        kind: Option<String>,
        /// Failure reason, when it failed.
        reason: Option<String>,
    },
}

impl StatusEvent {
    /// A short human description (`benchmark c=8 2/3`, `ctx 1/2 gen 4/4`).
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
}

/// Seconds since the Unix epoch.
pub(crate) fn now_ts() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// Reads every event of a status file; unreadable lines (a line being written) are skipped.
pub fn read_status(path: &Path) -> Vec<StatusEvent> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Appends events, one flushed line each.
pub(crate) struct StatusWriter {
    file: Option<File>,
}

impl StatusWriter {
    /// Starts a fresh status file (a new attempt replaces the old events).
    pub(crate) fn create(path: &Path) -> std::io::Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        Ok(StatusWriter {
            file: Some(File::create(path)?),
        })
    }

    /// A writer that drops events (the bundle could not be read).
    pub(crate) fn none() -> Self {
        StatusWriter { file: None }
    }

    /// Appends one event; a failed write is ignored (status is advisory, the exit code is not).
    pub(crate) fn emit(&mut self, event: &StatusEvent) {
        if let Some(f) = &mut self.file
            && let Ok(mut line) = serde_json::to_string(event)
        {
            line.push('\n');
            let _ = f.write_all(line.as_bytes()).and_then(|()| f.flush());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_skips_partial_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("logs/status.jsonl");
        let mut w = StatusWriter::create(&p).unwrap();
        w.emit(&StatusEvent::Stage {
            ts: 1.0,
            stage: "starting".into(),
        });
        w.emit(&StatusEvent::Finished {
            ts: 2.0,
            code: 0,
            ok: true,
            kind: None,
            reason: None,
        });
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"{\"event\":")
            .unwrap();
        let events = read_status(&p);
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].describe(), "done");
        let line = std::fs::read_to_string(&p).unwrap();
        assert!(line.starts_with("{\"event\":\"stage\""), "{line}");
    }
}
