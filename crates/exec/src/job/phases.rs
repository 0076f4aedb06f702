//! The job's phases in order: setup, servers, health, router, client runs, accuracy; the first
//! failure (or a signal) ends them, and the teardown always runs.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use servebench_launch::{Process, Role, StatusEvent};
use tokio::sync::mpsc;

use super::process::describe_status;
use super::status::now_ts;
use super::{Job, JobFailure, health};

impl Job {
    pub(super) async fn run(&self) -> Option<JobFailure> {
        let (fail_tx, mut fail_rx) = mpsc::unbounded_channel();
        use tokio::signal::unix::{SignalKind, signal};
        let (mut term, mut int) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(t), Ok(i)) => (t, i),
            (Err(e), _) | (_, Err(e)) => {
                return Some(JobFailure::Io {
                    what: "cannot install signal handlers".into(),
                    message: e.to_string(),
                });
            }
        };
        for w in &self.spec.warnings {
            self.emit(StatusEvent::Warning {
                ts: now_ts(),
                message: w.clone(),
            });
        }
        let result = tokio::select! {
            r = self.phases(&fail_tx) => r.err(),
            Some(f) = fail_rx.recv() => Some(f),
            _ = term.recv() => Some(JobFailure::Interrupted { signal: "SIGTERM" }),
            _ = int.recv() => Some(JobFailure::Interrupted { signal: "SIGINT" }),
        };
        if let Some(f) = &result {
            self.emit(StatusEvent::Error {
                ts: now_ts(),
                message: f.to_string(),
            });
        }
        self.stage("teardown");
        // A second signal during teardown skips the grace period.
        tokio::select! {
            () = self.teardown(Duration::from_secs(self.spec.teardown.grace_s)) => {}
            _ = term.recv() => self.kill_all(),
            _ = int.recv() => self.kill_all(),
        }
        result
    }

    pub(super) async fn phases(
        &self,
        fail: &mpsc::UnboundedSender<JobFailure>,
    ) -> Result<(), JobFailure> {
        if !self.spec.setup.is_empty() {
            self.stage("setup");
            for step in &self.spec.setup {
                let status = self.step(step).await?;
                if !status.success() {
                    return Err(JobFailure::Setup {
                        step: step.name.clone(),
                        status: describe_status(status),
                    });
                }
            }
        }
        self.stage("starting");
        for p in &self.spec.servers {
            self.start(p, fail)?;
        }
        self.wait_healthy(&self.spec.servers).await?;
        if let Some(router) = &self.spec.router {
            self.stage("router");
            self.start(router, fail)?;
            self.wait_healthy(std::slice::from_ref(router)).await?;
        }
        if !self.spec.benchmark.is_empty() {
            self.stage("benchmark");
        }
        let n = self.spec.benchmark.len() as u64;
        let mut failed = Vec::new();
        for (k, run) in (1u64..).zip(&self.spec.benchmark) {
            self.emit(StatusEvent::Concurrency {
                ts: now_ts(),
                c: run.concurrency,
                k,
                n,
                repeat: run.repeat,
            });
            let status = self.step(&run.step).await?;
            if status.success() {
                let mut log = self.open_log(&run.step.log)?;
                let _ = writeln!(log, "{}", run.done_line);
            } else {
                self.emit(StatusEvent::Error {
                    ts: now_ts(),
                    message: format!(
                        "client at concurrency {} failed ({})",
                        run.concurrency,
                        describe_status(status)
                    ),
                });
                failed.push(run.concurrency);
            }
        }
        let mut accuracy_failure = None;
        for step in &self.spec.accuracy {
            self.stage("accuracy");
            self.emit(StatusEvent::Accuracy {
                ts: now_ts(),
                task: step.name.clone(),
            });
            let status = self.step(step).await?;
            if !status.success() && accuracy_failure.is_none() {
                accuracy_failure = Some(JobFailure::Accuracy {
                    task: step.name.clone(),
                    status: describe_status(status),
                });
            }
        }
        if !failed.is_empty() {
            return Err(JobFailure::Client { failed });
        }
        accuracy_failure.map_or(Ok(()), Err)
    }

    /// Polls every server's health URL until each answers the expected status; readiness counts
    /// go to the status file on every change.
    pub(super) async fn wait_healthy(&self, procs: &[Process]) -> Result<(), JobFailure> {
        let start = Instant::now();
        let mut healthy = vec![false; procs.len()];
        let mut last: Vec<Option<u16>> = vec![None; procs.len()];
        let mut delay = Duration::from_millis(100);
        let mut reported = String::new();
        loop {
            for (i, p) in procs.iter().enumerate() {
                if healthy.get(i).copied().unwrap_or(true) {
                    continue;
                }
                let url = self.text(&p.health.url);
                let got = health::get_status(&url, Duration::from_secs(2)).await;
                if let Some(slot) = last.get_mut(i) {
                    *slot = got;
                }
                if got == Some(p.health.expect_status)
                    && let Some(h) = healthy.get_mut(i)
                {
                    *h = true;
                }
            }
            let text = readiness(procs, &healthy);
            if text.0 != reported {
                reported = text.0.clone();
                self.emit(StatusEvent::Readiness {
                    ts: now_ts(),
                    text: text.0,
                    ready: text.1,
                });
            }
            if healthy.iter().all(|h| *h) {
                return Ok(());
            }
            for (i, p) in procs.iter().enumerate() {
                let limit = self
                    .health_timeout
                    .unwrap_or(Duration::from_secs(p.health.timeout_s));
                if !healthy.get(i).copied().unwrap_or(true) && start.elapsed() >= limit {
                    return Err(JobFailure::HealthTimeout {
                        name: p.name.clone(),
                        url: self.text(&p.health.url),
                        secs: limit.as_secs(),
                        last: last
                            .get(i)
                            .copied()
                            .flatten()
                            .map_or_else(|| "none".into(), |s| s.to_string()),
                    });
                }
            }
            tokio::time::sleep(delay).await;
            let cap = procs
                .iter()
                .map(|p| p.health.interval_s.max(1))
                .min()
                .unwrap_or(1);
            delay = (delay * 2).min(Duration::from_secs(cap));
        }
    }
}

/// `ctx 1/2 gen 4/4` (roles in start order) and the counts.
fn readiness(procs: &[Process], healthy: &[bool]) -> (String, BTreeMap<String, (u64, u64)>) {
    let mut order: Vec<Role> = Vec::new();
    let mut counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (p, h) in procs.iter().zip(healthy) {
        if !order.contains(&p.role) {
            order.push(p.role);
        }
        let e = counts.entry(p.role.as_str().to_string()).or_default();
        e.1 += 1;
        if *h {
            e.0 += 1;
        }
    }
    // ctx before gen reads naturally; other roles keep start order.
    order.sort_by_key(|r| match r {
        Role::Ctx => 0,
        Role::Gen => 1,
        _ => 2,
    });
    let text = order
        .iter()
        .filter_map(|r| counts.get(r.as_str()).map(|(a, b)| format!("{r} {a}/{b}")))
        .collect::<Vec<_>>()
        .join(" ");
    (text, counts)
}
