//! The in-job orchestrator, `servebench job exec BUNDLE` (SPEC 6.2).
//!
//! It reads `launch.json`, resolves node placeholders, materialises templates, starts the servers
//! (GEN, then CTX, in spec order) as process groups or srun steps, gates on HTTP 200, starts the
//! router, runs the client runs and the accuracy steps, and tears everything down on every exit
//! path. Progress goes to `status.jsonl` ([`StatusEvent`]); the last event is always
//! [`StatusEvent::Finished`] with the exit code and the reason.

mod failure;
mod health;
mod nodes;
mod phases;
mod ports;
mod process;
pub(crate) mod status;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use regex::Regex;
use servebench_launch::{LaunchSpec, Scheduler, StatusEvent};
use tokio::sync::watch;

pub use failure::{JobFailure, exit_code};
pub use status::read_status;

use crate::backend::SystemRunner;
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
        if spec.scheduler == Scheduler::Slurm && std::env::var_os("SLURM_JOB_ID").is_some() {
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
        let marker = job.spec.done_marker_for(&jobid);
        let path = job.bundle.join(&job.spec.log_dir).join(marker);
        let _ = std::fs::write(path, format!("done {}\n", now_ts()));
    }
    finish(&mut status, failure.as_ref());
    JobOutcome { failure }
}

fn finish(status: &mut StatusWriter, failure: Option<&JobFailure>) {
    if let Some(f) = failure {
        // Never a panic when stderr is a log on a full disk.
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr().lock(),
            format_args!("servebench job exec: {f}\n"),
        );
    }
    status.emit(&StatusEvent::Finished {
        ts: now_ts(),
        code: failure.map_or(exit_code::OK, JobFailure::exit_code),
        ok: failure.is_none(),
        kind: failure.map(JobFailure::kind),
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
            Launcher::Srun => nodes::slurm_hosts(&SystemRunner::default()).await?,
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
}
