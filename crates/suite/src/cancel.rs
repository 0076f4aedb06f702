//! `cancel`: stops every job of a run in flight, from any shell. The driving process (when
//! alive) is asked to cancel and record; the jobs are cancelled directly too.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use servebench_exec::journal::{self, Journal, Record, RunView, TestState};
use servebench_exec::proc::{pid_alive, terminate};
use servebench_exec::{AnyBackend, Backend};

use crate::PipelineError;
use crate::run::runtime;

/// What `cancel` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelReport {
    /// Run id.
    pub run_id: String,
    /// Jobs cancelled.
    pub job_ids: Vec<String>,
    /// The pid of the driver asked to cancel, when one was alive.
    pub driver: Option<u32>,
}

/// Cancels the run in `dir`.
pub fn cancel(dir: &std::path::Path, bin: PathBuf) -> Result<CancelReport, PipelineError> {
    let view = RunView::load(dir)?;
    let ids: Vec<String> = view
        .tests
        .iter()
        .filter_map(|(_, s)| match s {
            TestState::Active { job_id, .. } => Some(job_id.clone()),
            _ => None,
        })
        .collect();
    let driver = (!view.finished && pid_alive(view.pid) && view.pid != std::process::id())
        .then_some(view.pid);
    let report = CancelReport {
        run_id: view.run_id.clone(),
        job_ids: ids.clone(),
        driver,
    };
    if ids.is_empty() && driver.is_none() {
        return Ok(report);
    }
    let mut journal = Journal::open(dir)?;
    journal.append(&Record::CancelRequested {
        ts: journal::ts(),
        by: "servebench cancel".into(),
        job_ids: ids.clone(),
    })?;
    if let Some(pid) = driver {
        terminate(pid);
    }
    let rt = runtime()?;
    let mut b = AnyBackend::new(view.executor, bin);
    for (t, s) in &view.tests {
        if let TestState::Active { job_id, .. } = s {
            b.reattach(job_id, t.bundle.clone());
        }
    }
    rt.block_on(b.cancel(&ids))
        .map_err(|e| PipelineError::Infra(e.to_string()))?;
    // Wait (bounded) for the driver to record the end.
    if let Some(pid) = driver {
        let until = Instant::now() + Duration::from_secs(90);
        while pid_alive(pid) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(report)
}
