//! The in-job orchestrator, `servebench job exec BUNDLE` (SPEC 6.2).
//!
//! It reads `launch.json`, resolves node placeholders, materialises templates, starts the servers
//! (GEN, then CTX, in spec order) as process groups or srun steps, gates on HTTP 200, starts the
//! router, runs the client runs and the accuracy steps, and tears everything down on every exit
//! path. Progress goes to `status.jsonl` ([`StatusEvent`]); the last event is always
//! [`StatusEvent::Finished`] with the exit code and the reason.

mod health;
mod ports;
pub(crate) mod status;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use regex::Regex;
use servebench_launch::{LaunchSpec, Process, Step};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, watch};

pub use status::{StatusEvent, read_status};

use crate::proc::{group_alive, parse_signal, signal_group};
use ports::{PortMap, max_node_index, substitute_nodes};
use status::{StatusWriter, now_ts};

/// How processes are started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launcher {
    /// Child process groups on this machine; node placeholders are `127.0.0.1` and planned ports
    /// are remapped to free ones.
    Local,
    /// `srun` steps inside a SLURM allocation (each placement's `srun_prefix`).
    Srun,
}

/// What `servebench job exec` needs.
#[derive(Debug, Clone)]
pub struct JobExecOptions {
    /// The bundle directory (holds `launch.json`).
    pub bundle: PathBuf,
    /// Launcher; default: `srun` for a bundle rendered for SLURM inside an allocation
    /// (`SLURM_JOB_ID` set), else `local`.
    pub launcher: Option<Launcher>,
    /// Overrides every health check's timeout.
    pub health_timeout: Option<Duration>,
    /// The binary that replaces an argv starting with `servebench` (this executable).
    pub servebench_bin: PathBuf,
}

/// Why a job failed. The exit code of `job exec` follows from it ([`JobFailure::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub enum JobFailure {
    /// The bundle or its launch spec could not be read.
    #[error("cannot read bundle {path}: {message}")]
    Bundle {
        /// Bundle directory.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The allocation's nodes could not be resolved.
    #[error("cannot resolve nodes: {0}")]
    Nodes(String),
    /// A setup step failed.
    #[error("setup step `{step}` failed ({status})")]
    Setup {
        /// Step name.
        step: String,
        /// Exit status.
        status: String,
    },
    /// A process could not be started.
    #[error("cannot start {name}: {message}")]
    Spawn {
        /// Process or step name.
        name: String,
        /// OS error.
        message: String,
    },
    /// A server did not answer the expected status in time.
    #[error("health timeout: {name} not healthy after {secs}s ({url}, last answer: {last})")]
    HealthTimeout {
        /// Server name.
        name: String,
        /// Health URL.
        url: String,
        /// Seconds waited.
        secs: u64,
        /// Last status seen, or `none`.
        last: String,
    },
    /// A server or the router exited.
    #[error("{name} ({role}) exited: {status}")]
    RoleExited {
        /// Process name.
        name: String,
        /// Role.
        role: String,
        /// Exit status.
        status: String,
    },
    /// A fatal pattern appeared in a log.
    #[error("fatal pattern `{pattern}` in {name} log: {line}")]
    Fatal {
        /// Process name.
        name: String,
        /// Pattern.
        pattern: String,
        /// The line.
        line: String,
    },
    /// Client runs failed (the other runs still ran).
    #[error("benchmark client failed at concurrency {}", .failed.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))]
    Client {
        /// Concurrencies whose client exited non-zero.
        failed: Vec<u64>,
    },
    /// An accuracy step failed.
    #[error("accuracy step `{task}` failed ({status})")]
    Accuracy {
        /// Step name.
        task: String,
        /// Exit status.
        status: String,
    },
    /// SIGTERM or SIGINT arrived.
    #[error("interrupted by {signal}")]
    Interrupted {
        /// `SIGTERM` or `SIGINT`.
        signal: &'static str,
    },
    /// A file could not be written.
    #[error("{what}: {message}")]
    Io {
        /// What was being done.
        what: String,
        /// OS error.
        message: String,
    },
}

/// Exit codes of `servebench job exec`.
pub mod exit_code {
    /// Success.
    pub const OK: u8 = 0;
    /// A client or accuracy step failed while the servers stayed up.
    pub const STEP_FAILED: u8 = 1;
    /// The bundle could not be read.
    pub const BAD_BUNDLE: u8 = 2;
    /// Infrastructure: setup, start, health timeout, a role exited, a fatal log pattern.
    pub const INFRA: u8 = 3;
    /// SIGINT.
    pub const SIGINT: u8 = 130;
    /// SIGTERM (scancel, time limit).
    pub const SIGTERM: u8 = 143;
}

impl JobFailure {
    /// The exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            JobFailure::Client { .. } | JobFailure::Accuracy { .. } => exit_code::STEP_FAILED,
            JobFailure::Bundle { .. } => exit_code::BAD_BUNDLE,
            JobFailure::Interrupted { signal } => {
                if *signal == "SIGINT" {
                    exit_code::SIGINT
                } else {
                    exit_code::SIGTERM
                }
            }
            JobFailure::Nodes(_)
            | JobFailure::Setup { .. }
            | JobFailure::Spawn { .. }
            | JobFailure::HealthTimeout { .. }
            | JobFailure::RoleExited { .. }
            | JobFailure::Fatal { .. }
            | JobFailure::Io { .. } => exit_code::INFRA,
        }
    }

    /// A stable class name, recorded in `status.jsonl` (`health_timeout`, `role_exited`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            JobFailure::Bundle { .. } => "bundle",
            JobFailure::Nodes(_) => "nodes",
            JobFailure::Setup { .. } => "setup",
            JobFailure::Spawn { .. } => "spawn",
            JobFailure::HealthTimeout { .. } => "health_timeout",
            JobFailure::RoleExited { .. } => "role_exited",
            JobFailure::Fatal { .. } => "fatal_pattern",
            JobFailure::Client { .. } => "client",
            JobFailure::Accuracy { .. } => "accuracy",
            JobFailure::Interrupted { .. } => "interrupted",
            JobFailure::Io { .. } => "io",
        }
    }
}

/// The result of one `job exec`.
#[derive(Debug)]
pub struct JobOutcome {
    /// None on success.
    pub failure: Option<JobFailure>,
}

impl JobOutcome {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        self.failure
            .as_ref()
            .map_or(exit_code::OK, JobFailure::exit_code)
    }
}

/// Runs a bundle to completion on a fresh tokio runtime (the synchronous entry point).
pub fn run_job(opts: &JobExecOptions) -> JobOutcome {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return JobOutcome {
                failure: Some(JobFailure::Io {
                    what: "cannot start the async runtime".into(),
                    message: e.to_string(),
                }),
            };
        }
    };
    rt.block_on(exec_job(opts))
}

/// A started process the teardown must reach.
struct Handle {
    name: String,
    pgid: u32,
    done: watch::Receiver<bool>,
}

/// The prepared job: everything resolved, nothing started.
struct Job {
    bundle: PathBuf,
    spec: LaunchSpec,
    launcher: Launcher,
    hosts: Vec<String>,
    ports: PortMap,
    bin: PathBuf,
    fatal: Vec<Regex>,
    health_timeout: Option<Duration>,
    procs: Mutex<Vec<Handle>>,
    status: Mutex<StatusWriter>,
}

/// Runs a bundle to completion; the async entry point.
pub async fn exec_job(opts: &JobExecOptions) -> JobOutcome {
    let spec = match read_spec(&opts.bundle) {
        Ok(s) => s,
        Err(f) => {
            let mut none = StatusWriter::none();
            finish(&mut none, Some(&f));
            return JobOutcome { failure: Some(f) };
        }
    };
    let mut status = match StatusWriter::create(&opts.bundle.join(&spec.status_file)) {
        Ok(w) => w,
        Err(e) => {
            let f = JobFailure::Io {
                what: format!("cannot write {}", spec.status_file),
                message: e.to_string(),
            };
            return JobOutcome { failure: Some(f) };
        }
    };
    let launcher = opts.launcher.unwrap_or_else(|| {
        if spec.scheduler == "slurm" && std::env::var_os("SLURM_JOB_ID").is_some() {
            Launcher::Srun
        } else {
            Launcher::Local
        }
    });
    let mut job = match Job::prepare(opts, spec, launcher).await {
        Ok(j) => j,
        Err(f) => {
            finish(&mut status, Some(&f));
            return JobOutcome { failure: Some(f) };
        }
    };
    job.status = Mutex::new(status);
    let failure = job.run().await;
    let mut status = match job.status.into_inner() {
        Ok(s) => s,
        Err(p) => p.into_inner(),
    };
    if failure.is_none() {
        let jobid = std::env::var("SLURM_JOB_ID").unwrap_or_else(|_| "local".into());
        let marker = job.spec.done_marker.replace("{jobid}", &jobid);
        let path = job.bundle.join(&job.spec.log_dir).join(marker);
        let _ = std::fs::write(path, format!("done {}\n", now_ts()));
    }
    finish(&mut status, failure.as_ref());
    JobOutcome { failure }
}

fn finish(status: &mut StatusWriter, failure: Option<&JobFailure>) {
    if let Some(f) = failure {
        eprintln!("servebench job exec: {f}");
    }
    status.emit(&StatusEvent::Finished {
        ts: now_ts(),
        code: failure.map_or(exit_code::OK, JobFailure::exit_code),
        ok: failure.is_none(),
        kind: failure.map(|f| f.kind().to_string()),
        reason: failure.map(ToString::to_string),
    });
}

fn read_spec(bundle: &Path) -> Result<LaunchSpec, JobFailure> {
    let path = bundle.join("launch.json");
    let bad = |message: String| JobFailure::Bundle {
        path: bundle.display().to_string(),
        message,
    };
    let text =
        std::fs::read_to_string(&path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    LaunchSpec::from_json(&text).map_err(|e| bad(e.to_string()))
}

impl Job {
    async fn prepare(
        opts: &JobExecOptions,
        spec: LaunchSpec,
        launcher: Launcher,
    ) -> Result<Job, JobFailure> {
        let needed = max_node_index(&spec.to_json()).map_or(0, |i| i + 1);
        let hosts = match launcher {
            Launcher::Local => vec!["127.0.0.1".to_string(); needed.max(spec.nodes.len())],
            Launcher::Srun => slurm_hosts().await?,
        };
        if hosts.len() < needed {
            return Err(JobFailure::Nodes(format!(
                "the spec uses {needed} node(s), the allocation has {}",
                hosts.len()
            )));
        }
        let ports = match launcher {
            Launcher::Srun => PortMap::default(),
            Launcher::Local => {
                let pairs: Vec<(String, u16)> = spec
                    .servers
                    .iter()
                    .chain(spec.router.iter())
                    .map(|p| (p.host.clone(), p.port))
                    .collect();
                PortMap::allocate(&pairs).map_err(|e| JobFailure::Io {
                    what: "cannot allocate local ports".into(),
                    message: e.to_string(),
                })?
            }
        };
        let mut fatal = Vec::new();
        for p in &spec.fatal_patterns {
            match Regex::new(p) {
                Ok(r) => fatal.push(r),
                Err(e) => {
                    return Err(JobFailure::Bundle {
                        path: opts.bundle.display().to_string(),
                        message: format!("fatal pattern `{p}`: {e}"),
                    });
                }
            }
        }
        let job = Job {
            bundle: opts.bundle.clone(),
            spec,
            launcher,
            hosts,
            ports,
            bin: opts.servebench_bin.clone(),
            fatal,
            health_timeout: opts.health_timeout,
            procs: Mutex::new(Vec::new()),
            status: Mutex::new(StatusWriter::none()),
        };
        let log_dir = job.bundle.join(&job.spec.log_dir);
        std::fs::create_dir_all(&log_dir).map_err(|e| JobFailure::Io {
            what: format!("cannot create {}", log_dir.display()),
            message: e.to_string(),
        })?;
        job.materialise_templates()?;
        Ok(job)
    }

    fn emit(&self, event: StatusEvent) {
        if let Ok(mut s) = self.status.lock() {
            s.emit(&event);
        }
    }

    fn stage(&self, stage: &str) {
        self.emit(StatusEvent::Stage {
            ts: now_ts(),
            stage: stage.into(),
        });
    }

    /// Rewrites one string: ports (locally), then node placeholders.
    fn text(&self, s: &str) -> String {
        substitute_nodes(&self.ports.rewrite_text(s), &self.hosts)
    }

    fn materialise_templates(&self) -> Result<(), JobFailure> {
        let router = self.spec.router.as_ref().map(|r| (r.host.as_str(), r.port));
        for (out, template) in &self.spec.templates {
            let src = self.bundle.join(template);
            let text = std::fs::read_to_string(&src).map_err(|e| JobFailure::Bundle {
                path: self.bundle.display().to_string(),
                message: format!("template {template}: {e}"),
            })?;
            let text = substitute_nodes(&self.ports.rewrite_template(&text, router), &self.hosts);
            let dst = self.bundle.join(out);
            std::fs::write(&dst, text).map_err(|e| JobFailure::Io {
                what: format!("cannot write {}", dst.display()),
                message: e.to_string(),
            })?;
        }
        Ok(())
    }

    /// The full argv of a process or step: srun prefix on SLURM, `servebench` resolved.
    fn argv(&self, argv: &[String], srun_prefix: &[String], own_host: Option<&str>) -> Vec<String> {
        let mut body = self.ports.rewrite_argv(argv, own_host);
        if let Some(first) = body.first_mut()
            && first == "servebench"
        {
            *first = self.bin.display().to_string();
        }
        let mut full: Vec<String> = match self.launcher {
            Launcher::Srun => srun_prefix.to_vec(),
            Launcher::Local => Vec::new(),
        };
        full.extend(body);
        full.iter()
            .map(|a| substitute_nodes(a, &self.hosts))
            .collect()
    }

    fn env(&self, env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        env.iter().map(|(k, v)| (k.clone(), self.text(v))).collect()
    }

    fn log_path(&self, log: &str) -> PathBuf {
        self.bundle.join(&self.spec.log_dir).join(log)
    }

    fn open_log(&self, log: &str) -> Result<File, JobFailure> {
        let path = self.log_path(log);
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| JobFailure::Io {
                what: format!("cannot open {}", path.display()),
                message: e.to_string(),
            })
    }

    fn command(
        &self,
        argv: &[String],
        env: &BTreeMap<String, String>,
        name: &str,
    ) -> Result<tokio::process::Command, JobFailure> {
        let Some((prog, args)) = argv.split_first() else {
            return Err(JobFailure::Spawn {
                name: name.into(),
                message: "empty argv".into(),
            });
        };
        let mut cmd = tokio::process::Command::new(prog);
        cmd.args(args)
            .envs(env)
            .current_dir(&self.bundle)
            .stdin(Stdio::null())
            .process_group(0)
            .kill_on_drop(false);
        Ok(cmd)
    }

    fn register(&self, name: &str, pgid: u32, done: watch::Receiver<bool>) {
        if let Ok(mut p) = self.procs.lock() {
            p.push(Handle {
                name: name.into(),
                pgid,
                done,
            });
        }
    }

    fn unregister(&self, pgid: u32) {
        if let Ok(mut p) = self.procs.lock() {
            p.retain(|h| h.pgid != pgid);
        }
    }

    /// Starts a long-running process; its exit or a fatal line in its output is sent on `fail`.
    fn start(
        &self,
        p: &Process,
        fail: &mpsc::UnboundedSender<JobFailure>,
    ) -> Result<(), JobFailure> {
        let argv = self.argv(&p.argv, &p.placement.srun_prefix, Some(&p.host));
        let log = Arc::new(Mutex::new(self.open_log(&p.log)?));
        let mut cmd = self.command(&argv, &self.env(&p.env), &p.name)?;
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| JobFailure::Spawn {
            name: p.name.clone(),
            message: format!(
                "{}: {e}",
                argv.first().map(String::as_str).unwrap_or_default()
            ),
        })?;
        let Some(pid) = child.id() else {
            return Err(JobFailure::Spawn {
                name: p.name.clone(),
                message: "exited at once".into(),
            });
        };
        let (done_tx, done_rx) = watch::channel(false);
        self.register(&p.name, pid, done_rx);
        let strip_srun = self.launcher == Launcher::Srun;
        if let Some(out) = child.stdout.take() {
            tokio::spawn(pump(
                out,
                log.clone(),
                self.fatal.clone(),
                p.name.clone(),
                fail.clone(),
                strip_srun,
            ));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(pump(
                err,
                log,
                self.fatal.clone(),
                p.name.clone(),
                fail.clone(),
                strip_srun,
            ));
        }
        let (name, role, fail) = (p.name.clone(), p.role.clone(), fail.clone());
        tokio::spawn(async move {
            let status = child.wait().await;
            let _ = done_tx.send(true);
            let status = match status {
                Ok(s) => describe_status(s),
                Err(e) => e.to_string(),
            };
            let _ = fail.send(JobFailure::RoleExited { name, role, status });
        });
        Ok(())
    }

    /// Runs a finite step to its end, output appended to its log.
    async fn step(&self, step: &Step) -> Result<ExitStatus, JobFailure> {
        if let Some(dir) = &step.output_dir {
            let path = self.bundle.join(dir);
            std::fs::create_dir_all(&path).map_err(|e| JobFailure::Io {
                what: format!("cannot create {}", path.display()),
                message: e.to_string(),
            })?;
        }
        let argv = self.argv(&step.argv, &step.srun_prefix, None);
        let log = self.open_log(&step.log)?;
        let err = log.try_clone().map_err(|e| JobFailure::Io {
            what: "cannot duplicate a log handle".into(),
            message: e.to_string(),
        })?;
        let mut cmd = self.command(&argv, &self.env(&step.env), &step.name)?;
        cmd.stdout(Stdio::from(log)).stderr(Stdio::from(err));
        let mut child = cmd.spawn().map_err(|e| JobFailure::Spawn {
            name: step.name.clone(),
            message: format!(
                "{}: {e}",
                argv.first().map(String::as_str).unwrap_or_default()
            ),
        })?;
        let (done_tx, done_rx) = watch::channel(false);
        let pid = child.id().unwrap_or_default();
        self.register(&step.name, pid, done_rx);
        let status = child.wait().await;
        let _ = done_tx.send(true);
        // Whatever the step left in its group goes with it.
        signal_group(pid, nix::sys::signal::Signal::SIGKILL);
        self.unregister(pid);
        status.map_err(|e| JobFailure::Spawn {
            name: step.name.clone(),
            message: e.to_string(),
        })
    }

    async fn run(&self) -> Option<JobFailure> {
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

    async fn phases(&self, fail: &mpsc::UnboundedSender<JobFailure>) -> Result<(), JobFailure> {
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
    async fn wait_healthy(&self, procs: &[Process]) -> Result<(), JobFailure> {
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

    /// Signals every process group in teardown order, waits up to `grace`, then kills the rest.
    async fn teardown(&self, grace: Duration) {
        let sig = parse_signal(&self.spec.teardown.signal);
        let handles: Vec<(String, u32, watch::Receiver<bool>)> = match self.procs.lock() {
            Ok(p) => p
                .iter()
                .map(|h| (h.name.clone(), h.pgid, h.done.clone()))
                .collect(),
            Err(_) => Vec::new(),
        };
        let order = &self.spec.teardown.order;
        let rank = |name: &str| order.iter().position(|o| o == name).unwrap_or(0);
        let mut sorted = handles;
        // Steps (not in the order list) first, then the listed order.
        sorted.sort_by_key(|(name, _, _)| (order.iter().any(|o| o == name), rank(name)));
        let deadline = Instant::now() + grace;
        for (_, pgid, done) in &sorted {
            signal_group(*pgid, sig);
            let mut done = done.clone();
            let wait =
                Duration::from_secs(2).min(deadline.saturating_duration_since(Instant::now()));
            let _ = tokio::time::timeout(wait, done.wait_for(|d| *d)).await;
        }
        for (_, pgid, done) in &sorted {
            let mut done = done.clone();
            let left = deadline.saturating_duration_since(Instant::now());
            let _ = tokio::time::timeout(left, done.wait_for(|d| *d)).await;
            // Whatever is left of the group (grandchildren included) is killed.
            if group_alive(*pgid) {
                signal_group(*pgid, nix::sys::signal::Signal::SIGKILL);
            }
        }
        // Wait (bounded) for the leaders to be reaped so no zombie outlives the job.
        for (_, _, done) in &sorted {
            let mut done = done.clone();
            let _ = tokio::time::timeout(Duration::from_secs(2), done.wait_for(|d| *d)).await;
        }
    }

    fn kill_all(&self) {
        if let Ok(p) = self.procs.lock() {
            for h in p.iter() {
                signal_group(h.pgid, nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

/// `ctx 1/2 gen 4/4` (roles in start order) and the counts.
fn readiness(procs: &[Process], healthy: &[bool]) -> (String, BTreeMap<String, (u64, u64)>) {
    let mut order: Vec<String> = Vec::new();
    let mut counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (p, h) in procs.iter().zip(healthy) {
        if !order.contains(&p.role) {
            order.push(p.role.clone());
        }
        let e = counts.entry(p.role.clone()).or_default();
        e.1 += 1;
        if *h {
            e.0 += 1;
        }
    }
    // ctx before gen reads naturally; other roles keep start order.
    order.sort_by_key(|r| match r.as_str() {
        "ctx" => 0,
        "gen" => 1,
        _ => 2,
    });
    let text = order
        .iter()
        .filter_map(|r| counts.get(r).map(|(a, b)| format!("{r} {a}/{b}")))
        .collect::<Vec<_>>()
        .join(" ");
    (text, counts)
}

fn describe_status(s: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "unknown status".into(),
    }
}

/// Copies a child's output into its log line by line, checking fatal patterns.
async fn pump<R: AsyncRead + Unpin>(
    reader: R,
    log: Arc<Mutex<File>>,
    fatal: Vec<Regex>,
    name: String,
    fail: mpsc::UnboundedSender<JobFailure>,
    strip_srun: bool,
) {
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    let mut reported = false;
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if let Ok(mut f) = log.lock() {
            let _ = f.write_all(&buf);
        }
        if reported || fatal.is_empty() {
            continue;
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']);
        let body = if strip_srun {
            strip_srun_label(line)
        } else {
            line
        };
        if let Some(r) = fatal.iter().find(|r| r.is_match(body)) {
            reported = true;
            let _ = fail.send(JobFailure::Fatal {
                name: name.clone(),
                pattern: r.as_str().to_string(),
                line: body.chars().take(300).collect(),
            });
        }
    }
}

/// `srun -l` prefixes each line with `N: `.
fn strip_srun_label(line: &str) -> &str {
    let trimmed = line.trim_start();
    let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
    match trimmed.get(digits..).and_then(|r| r.strip_prefix(": ")) {
        Some(rest) if digits > 0 => rest,
        _ => line,
    }
}

/// `scontrol show hostnames "$SLURM_JOB_NODELIST"`, sorted.
async fn slurm_hosts() -> Result<Vec<String>, JobFailure> {
    let list = std::env::var("SLURM_JOB_NODELIST")
        .or_else(|_| std::env::var("SLURM_NODELIST"))
        .map_err(|_| {
            JobFailure::Nodes(
                "SLURM_JOB_NODELIST is not set (not inside an allocation? use --launcher local)"
                    .into(),
            )
        })?;
    let out = tokio::process::Command::new("scontrol")
        .args(["show", "hostnames", &list])
        .output()
        .await
        .map_err(|e| JobFailure::Nodes(format!("scontrol: {e}")))?;
    if !out.status.success() {
        return Err(JobFailure::Nodes(format!(
            "scontrol show hostnames {list}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let mut hosts: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    hosts.sort();
    Ok(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srun_labels_are_stripped() {
        assert_eq!(
            strip_srun_label("0: Traceback (most recent call last):"),
            "Traceback (most recent call last):"
        );
        assert_eq!(strip_srun_label(" 12: x"), "x");
        assert_eq!(strip_srun_label("x: y"), "x: y");
    }

    #[test]
    fn exit_codes_by_failure() {
        assert_eq!(
            JobFailure::Client {
                failed: vec![8, 16]
            }
            .exit_code(),
            1
        );
        assert_eq!(
            JobFailure::Client {
                failed: vec![8, 16]
            }
            .to_string(),
            "benchmark client failed at concurrency 8, 16"
        );
        assert_eq!(
            JobFailure::Interrupted { signal: "SIGTERM" }.exit_code(),
            143
        );
        assert_eq!(
            JobFailure::Interrupted { signal: "SIGINT" }.exit_code(),
            130
        );
        assert_eq!(JobFailure::Nodes("x".into()).exit_code(), 3);
    }
}
