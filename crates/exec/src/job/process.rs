//! Starting, watching and stopping the job's processes: long-running servers (output pumped
//! into their logs and checked for fatal patterns), finite steps, and the teardown.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use regex::Regex;
use servebench_launch::{Process, StatusEvent, Step};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, watch};

use super::status::now_ts;
use super::{Handle, Job, JobFailure, Launcher};
use crate::proc::{group_alive, parse_signal, signal_group};

impl Job {
    pub(super) fn command(
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

    pub(super) fn register(&self, name: &str, pgid: u32, done: watch::Receiver<bool>) {
        if let Ok(mut p) = self.procs.lock() {
            p.push(Handle {
                name: name.into(),
                pgid,
                done,
            });
        }
    }

    pub(super) fn unregister(&self, pgid: u32) {
        if let Ok(mut p) = self.procs.lock() {
            p.retain(|h| h.pgid != pgid);
        }
    }

    /// Starts a long-running process; its exit or a fatal line in its output is sent on `fail`.
    pub(super) fn start(
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
        let (name, role, fail) = (p.name.clone(), p.role, fail.clone());
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
    /// Runs a step; when `srun` could not even create it because the controller was away or
    /// busy (a slurmctld restart), waits and launches it again, for up to
    /// [`STEP_LAUNCH_RETRIES`] tries. A step that started and failed is never run again here.
    pub(super) async fn step(&self, step: &Step) -> Result<ExitStatus, JobFailure> {
        let mut wait = Duration::from_secs(2);
        for attempt in 1..=STEP_LAUNCH_RETRIES {
            let before = std::fs::metadata(self.log_path(&step.log)).map_or(0, |m| m.len());
            let status = self.step_once(step).await?;
            if status.success() || step.srun_prefix.is_empty() || attempt == STEP_LAUNCH_RETRIES {
                return Ok(status);
            }
            let Some(line) = transient_launch_error(&self.log_path(&step.log), before) else {
                return Ok(status);
            };
            self.emit(StatusEvent::Warning {
                ts: now_ts(),
                message: format!(
                    "step {} was not created (`{line}`); launching it again in {} s (try {}/{STEP_LAUNCH_RETRIES})",
                    step.name,
                    wait.as_secs(),
                    attempt + 1
                ),
            });
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(30));
        }
        self.step_once(step).await
    }

    async fn step_once(&self, step: &Step) -> Result<ExitStatus, JobFailure> {
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

    /// Signals every process group in teardown order, waits up to `grace`, then kills the rest.
    pub(super) async fn teardown(&self, grace: Duration) {
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

    pub(super) fn kill_all(&self) {
        if let Ok(p) = self.procs.lock() {
            for h in p.iter() {
                signal_group(h.pgid, nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

pub(super) fn describe_status(s: ExitStatus) -> String {
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

/// Launches of one step when `srun` cannot create it (2 + 4 + 8 + 16 + 30 + 30 s of waiting: a
/// controller restart takes well under that).
const STEP_LAUNCH_RETRIES: u32 = 7;

/// srun's messages for a step it could not create for a reason that passes (controller away or
/// restarting, node state not yet re-registered), as Slurm 22.05-24.05 print them.
const TRANSIENT_LAUNCH_ERRORS: &[&str] = &[
    "Unable to create step",
    "Unable to contact slurm controller",
    "Socket timed out on send/recv",
    "Job step creation temporarily disabled",
    "Zero Bytes were transmitted or received",
];

/// The first srun line after byte `from` of `log` that says the step was never created.
fn transient_launch_error(log: &Path, from: u64) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(log).ok()?;
    f.seek(SeekFrom::Start(from)).ok()?;
    let mut tail = Vec::new();
    // srun's own complaint is short; a step that ran writes far more and is not a launch error.
    f.take(64 * 1024).read_to_end(&mut tail).ok()?;
    String::from_utf8_lossy(&tail)
        .lines()
        .find(|l| {
            l.contains("srun: error:") && TRANSIENT_LAUNCH_ERRORS.iter().any(|e| l.contains(e))
        })
        .map(|l| l.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn srun_labels_are_stripped() {
        assert_eq!(
            strip_srun_label("0: Traceback (most recent call last):"),
            "Traceback (most recent call last):"
        );
        assert_eq!(strip_srun_label(" 12: x"), "x");
        assert_eq!(strip_srun_label("x: y"), "x: y");
    }

    #[test]
    fn only_srun_step_creation_errors_after_the_offset_are_transient() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("bench.log");
        let old = "srun: error: Unable to create step for job 7: Memory required by task is not available\n";
        std::fs::write(&log, old).unwrap();
        assert!(transient_launch_error(&log, old.len() as u64).is_none());
        assert_eq!(transient_launch_error(&log, 0).as_deref(), Some(old.trim()));
        let mut text = old.to_string();
        text.push_str(
            "Traceback: client crashed\nsrun: error: node3: task 0: Exited with exit code 1\n",
        );
        std::fs::write(&log, &text).unwrap();
        assert!(transient_launch_error(&log, old.len() as u64).is_none());
        std::fs::write(
            &log,
            format!("{text}srun: error: Unable to contact slurm controller (connect failure)\n"),
        )
        .unwrap();
        assert!(
            transient_launch_error(&log, text.len() as u64)
                .unwrap()
                .contains("Unable to contact")
        );
    }
}
