//! The local executor: `servebench job exec BUNDLE --launcher local` as child process groups.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use nix::sys::signal::Signal;

use super::{BackendError, Remote};
use crate::proc::{pid_alive, signal_group};

/// Prefix of local job ids (`local-<pid>`; the pid is also the process group id).
pub const LOCAL_PREFIX: &str = "local-";

/// Runs bundles as child process groups on this machine.
#[derive(Debug)]
pub struct LocalBackend {
    bin: PathBuf,
    jobs: BTreeMap<String, LocalJob>,
}

#[derive(Debug)]
struct LocalJob {
    child: Option<std::process::Child>,
    pid: u32,
}

/// The pid (and process group) of a local job id.
pub fn local_pid(id: &str) -> Option<u32> {
    id.strip_prefix(LOCAL_PREFIX)?.parse().ok()
}

impl LocalBackend {
    /// A backend that starts `bin job exec`.
    pub fn new(bin: PathBuf) -> Self {
        LocalBackend {
            bin,
            jobs: BTreeMap::new(),
        }
    }

    /// The command line of one job.
    pub fn submit_command(&self, bundle: &Path) -> Vec<String> {
        vec![
            self.bin.display().to_string(),
            "job".into(),
            "exec".into(),
            bundle.display().to_string(),
            "--launcher".into(),
            "local".into(),
        ]
    }

    /// Starts `job exec` in its own process group; its output goes to `logs/job-exec.log`.
    pub fn submit(&mut self, bundle: &Path) -> Result<String, BackendError> {
        let err = |message: String| BackendError::Spawn {
            bundle: bundle.display().to_string(),
            message,
        };
        let logs = bundle.join("logs");
        std::fs::create_dir_all(&logs).map_err(|e| err(e.to_string()))?;
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(logs.join("job-exec.log"))
            .map_err(|e| err(e.to_string()))?;
        let errf = out.try_clone().map_err(|e| err(e.to_string()))?;
        let argv = self.submit_command(bundle);
        let mut cmd = std::process::Command::new(&self.bin);
        cmd.args(argv.get(1..).unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(errf));
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().map_err(|e| err(e.to_string()))?;
        let pid = child.id();
        let id = format!("{LOCAL_PREFIX}{pid}");
        self.jobs.insert(
            id.clone(),
            LocalJob {
                child: Some(child),
                pid,
            },
        );
        Ok(id)
    }

    /// States of local jobs: exited children are reaped; a reattached job (not our child) runs
    /// while its pid exists.
    pub fn poll(&mut self, ids: &[String]) -> BTreeMap<String, Remote> {
        let mut out = BTreeMap::new();
        for id in ids {
            let state = match self.jobs.get_mut(id) {
                Some(LocalJob {
                    child: Some(child), ..
                }) => match child.try_wait() {
                    Ok(Some(status)) => Remote::Done {
                        state: "EXITED".into(),
                        exit_code: Some(exit_code(status)),
                    },
                    Ok(None) => Remote::Running,
                    Err(_) => Remote::Gone,
                },
                Some(LocalJob { child: None, pid }) => {
                    if pid_alive(*pid) {
                        Remote::Running
                    } else {
                        Remote::Gone
                    }
                }
                None => match local_pid(id) {
                    Some(pid) if pid_alive(pid) => Remote::Running,
                    _ => Remote::Gone,
                },
            };
            out.insert(id.clone(), state);
        }
        out
    }

    /// Sends `sig` to each job's process group (`job exec` tears its servers down on SIGTERM).
    pub fn signal(&mut self, ids: &[String], sig: Signal) {
        for id in ids {
            let pid = self.jobs.get(id).map(|j| j.pid).or_else(|| local_pid(id));
            if let Some(pid) = pid {
                signal_group(pid, sig);
            }
        }
    }

    /// The id of a live `job exec` of `bundle` started by an earlier process (found by its
    /// command line in `/proc`).
    pub fn find_by_bundle(&self, bundle: &Path) -> Option<String> {
        let want = bundle.display().to_string();
        let entries = std::fs::read_dir("/proc").ok()?;
        for e in entries.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
            let is_job = args.windows(3).any(|w| {
                matches!(w, [a, b, c] if *a == b"job" && *b == b"exec" && *c == want.as_bytes())
            });
            if is_job && pid_alive(pid) {
                return Some(format!("{LOCAL_PREFIX}{pid}"));
            }
        }
        None
    }

    /// Adopts a job started by an earlier `servebench run`.
    pub fn reattach(&mut self, id: &str, _bundle: PathBuf) {
        if let Some(pid) = local_pid(id) {
            self.jobs
                .entry(id.to_string())
                .or_insert(LocalJob { child: None, pid });
        }
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}
