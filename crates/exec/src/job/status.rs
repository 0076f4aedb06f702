//! Writing `status.jsonl` ([`servebench_launch::StatusEvent`], one flushed line each) and reading
//! it back through the one typed reader, [`servebench_launch::StatusLog`].

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use servebench_launch::{StatusEvent, StatusLog};

/// Seconds since the Unix epoch.
pub(crate) fn now_ts() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// Reads a status file; a missing file is an empty log, a partial line is counted, not fatal.
pub fn read_status(path: &Path) -> StatusLog {
    std::fs::read(path)
        .map(|b| StatusLog::parse(&String::from_utf8_lossy(&b)))
        .unwrap_or_default()
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
        if let Some(f) = &mut self.file {
            let _ = f
                .write_all(event.to_line().as_bytes())
                .and_then(|()| f.flush());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_events_read_back_typed() {
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
        let log = read_status(&p);
        assert_eq!(log.events.len(), 2);
        assert!(log.finish().is_some_and(|f| f.ok));
        assert_eq!(read_status(&dir.path().join("none")).events.len(), 0);
    }
}
