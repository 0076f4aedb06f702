//! A scripted executor for tests of the dispatcher and of the layers above it: each bundle has a
//! script of attempts (how many polls it stays pending and running, then how it ends), every call
//! is recorded, and a job that ends writes the bundle's final status event as `job exec` would.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use servebench_launch::{FailureKind, Scheduler, StatusEvent};

use super::{Backend, BackendError, Remote};

/// How one scripted attempt ends.
#[derive(Debug, Clone, PartialEq)]
pub enum FakeEnd {
    /// `job exec` exits: 0 when `kind` is `None`, else with that failure recorded.
    Exit(Option<FailureKind>),
    /// The scheduler ends the job in this state (`NODE_FAIL`, `TIMEOUT`, ...) without a final
    /// status event.
    Scheduler(&'static str),
    /// Never ends on its own; ends as cancelled once cancelled or killed.
    Hang,
    /// `sbatch` fails with this message.
    SubmitError(&'static str),
}

/// One scripted attempt of a bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeAttempt {
    /// Polls answered `Pending` first.
    pub pending: u32,
    /// Then polls answered `Running`.
    pub running: u32,
    /// Then this.
    pub end: FakeEnd,
}

impl FakeAttempt {
    /// Runs for `running` polls, then ends as `end`.
    pub fn new(running: u32, end: FakeEnd) -> FakeAttempt {
        FakeAttempt {
            pending: 0,
            running,
            end,
        }
    }
}

/// A call the dispatcher made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeCall {
    /// `submit` of a bundle, answered with this job id (None: failed).
    Submit(PathBuf, Option<String>),
    /// `poll` of these ids.
    Poll(Vec<String>),
    /// `cancel` of these ids.
    Cancel(Vec<String>),
    /// `kill` of these ids.
    Kill(Vec<String>),
    /// `reattach` of a job.
    Reattach(String),
}

#[derive(Debug)]
struct FakeJob {
    bundle: PathBuf,
    attempt: FakeAttempt,
    polls: u32,
    cancelled: bool,
    ended: bool,
}

/// The scripted executor.
#[derive(Debug, Default)]
pub struct FakeBackend {
    scripts: BTreeMap<PathBuf, VecDeque<FakeAttempt>>,
    jobs: BTreeMap<String, FakeJob>,
    next: u64,
    /// Every call, in order.
    pub calls: Vec<FakeCall>,
    /// Most jobs in flight (submitted, not yet ended) at any time.
    pub max_in_flight: usize,
    /// Jobs a scheduler query finds by bundle (for adoption after a crash).
    pub queued_elsewhere: BTreeMap<PathBuf, String>,
}

impl FakeBackend {
    /// A backend with no scripts: every submitted job runs one poll and succeeds.
    pub fn new() -> FakeBackend {
        FakeBackend::default()
    }

    /// Scripts the attempts of `bundle`, in order (the last one repeats).
    pub fn script(&mut self, bundle: &Path, attempts: Vec<FakeAttempt>) {
        self.scripts.insert(bundle.to_path_buf(), attempts.into());
    }

    /// Job ids submitted for `bundle`.
    pub fn submissions(&self, bundle: &Path) -> usize {
        self.calls
            .iter()
            .filter(|c| matches!(c, FakeCall::Submit(b, Some(_)) if b == bundle))
            .count()
    }

    fn next_attempt(&mut self, bundle: &Path) -> FakeAttempt {
        let default = FakeAttempt::new(1, FakeEnd::Exit(None));
        match self.scripts.get_mut(bundle) {
            Some(q) if q.len() > 1 => q.pop_front().unwrap_or(default),
            Some(q) => q.front().cloned().unwrap_or(default),
            None => default,
        }
    }

    fn in_flight(&self) -> usize {
        self.jobs.values().filter(|j| !j.ended).count()
    }
}

/// Writes the final status event `job exec` would write.
fn finish(bundle: &Path, kind: Option<FailureKind>) {
    let code = match kind {
        None => 0,
        Some(k) if k.is_test_failure() => 1,
        Some(FailureKind::Interrupted) => 143,
        Some(_) => 3,
    };
    let event = StatusEvent::Finished {
        ts: 0.0,
        code,
        ok: kind.is_none(),
        kind,
        reason: kind.map(|k| format!("fake {k}")),
    };
    let path = bundle.join("logs/status.jsonl");
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(path, event.to_line());
}

impl Backend for FakeBackend {
    fn kind(&self) -> Scheduler {
        Scheduler::Local
    }

    fn submit_command(&self, bundle: &Path) -> Vec<String> {
        vec!["fake-submit".into(), bundle.display().to_string()]
    }

    async fn preflight(&mut self) -> Result<(), BackendError> {
        Ok(())
    }

    async fn submit(&mut self, bundle: &Path) -> Result<String, BackendError> {
        let attempt = self.next_attempt(bundle);
        if let FakeEnd::SubmitError(msg) = attempt.end {
            self.calls
                .push(FakeCall::Submit(bundle.to_path_buf(), None));
            return Err(BackendError::Command {
                command: "fake-submit".into(),
                message: msg.into(),
            });
        }
        self.next += 1;
        let id = format!("fake-{}", self.next);
        self.calls
            .push(FakeCall::Submit(bundle.to_path_buf(), Some(id.clone())));
        self.jobs.insert(
            id.clone(),
            FakeJob {
                bundle: bundle.to_path_buf(),
                attempt,
                polls: 0,
                cancelled: false,
                ended: false,
            },
        );
        self.max_in_flight = self.max_in_flight.max(self.in_flight());
        Ok(id)
    }

    async fn poll(&mut self, ids: &[String]) -> Result<BTreeMap<String, Remote>, BackendError> {
        self.calls.push(FakeCall::Poll(ids.to_vec()));
        let mut out = BTreeMap::new();
        for id in ids {
            let Some(job) = self.jobs.get_mut(id) else {
                out.insert(id.clone(), Remote::Gone);
                continue;
            };
            job.polls += 1;
            let a = &job.attempt;
            let remote = if job.cancelled {
                finish(&job.bundle, Some(FailureKind::Interrupted));
                Remote::Done {
                    state: "CANCELLED".into(),
                    exit_code: Some(143),
                }
            } else if job.polls <= a.pending {
                Remote::Pending {
                    reason: "Resources".into(),
                }
            } else if job.polls <= a.pending + a.running || a.end == FakeEnd::Hang {
                Remote::Running
            } else {
                match &a.end {
                    FakeEnd::Exit(kind) => {
                        finish(&job.bundle, *kind);
                        Remote::Done {
                            state: if kind.is_none() {
                                "COMPLETED"
                            } else {
                                "FAILED"
                            }
                            .into(),
                            exit_code: Some(i32::from(kind.is_some())),
                        }
                    }
                    FakeEnd::Scheduler(state) => Remote::Done {
                        state: (*state).into(),
                        exit_code: None,
                    },
                    FakeEnd::Hang | FakeEnd::SubmitError(_) => Remote::Gone,
                }
            };
            if matches!(remote, Remote::Done { .. } | Remote::Gone) {
                job.ended = true;
            }
            out.insert(id.clone(), remote);
        }
        Ok(out)
    }

    async fn cancel(&mut self, ids: &[String]) -> Result<(), BackendError> {
        self.calls.push(FakeCall::Cancel(ids.to_vec()));
        for id in ids {
            if let Some(j) = self.jobs.get_mut(id) {
                j.cancelled = true;
            }
        }
        Ok(())
    }

    async fn kill(&mut self, ids: &[String]) -> Result<(), BackendError> {
        self.calls.push(FakeCall::Kill(ids.to_vec()));
        for id in ids {
            if let Some(j) = self.jobs.get_mut(id) {
                j.cancelled = true;
            }
        }
        Ok(())
    }

    fn reattach(&mut self, id: &str, bundle: PathBuf) {
        self.calls.push(FakeCall::Reattach(id.to_string()));
        let attempt = self.next_attempt(&bundle);
        self.jobs.entry(id.to_string()).or_insert(FakeJob {
            bundle,
            attempt,
            polls: 0,
            cancelled: false,
            ended: false,
        });
    }

    async fn find_submitted(&mut self, bundle: &Path) -> Option<String> {
        let id = self.queued_elsewhere.get(bundle)?.clone();
        self.reattach(&id, bundle.to_path_buf());
        Some(id)
    }

    fn call_counts(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for c in &self.calls {
            let k = match c {
                FakeCall::Submit(..) => "submit",
                FakeCall::Poll(_) => "poll",
                FakeCall::Cancel(_) => "cancel",
                FakeCall::Kill(_) => "kill",
                FakeCall::Reattach(_) => "reattach",
            };
            *m.entry(k.to_string()).or_default() += 1;
        }
        m
    }
}
