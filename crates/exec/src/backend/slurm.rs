//! The SLURM executor: `sbatch --parsable`, one `squeue` per poll cycle for every job of the
//! run, `sacct` for the ones that left the queue (when accounting exists), `scancel`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{BackendError, CommandOutput, CommandRunner, Remote};

/// Runs scheduler commands for real, with extra environment (`SERVEBENCH_BIN` for the batch
/// script).
#[derive(Debug, Clone, Default)]
pub struct SystemRunner {
    /// Environment added to every command.
    pub env: Vec<(String, String)>,
}

impl CommandRunner for SystemRunner {
    async fn run(&self, argv: &[String]) -> std::io::Result<CommandOutput> {
        let Some((prog, args)) = argv.split_first() else {
            return Err(std::io::Error::other("empty command"));
        };
        let fut = tokio::process::Command::new(prog)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(std::time::Duration::from_secs(60), fut)
            .await
            .map_err(|_| std::io::Error::other("timed out after 60 s"))??;
        Ok(CommandOutput {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// Submits and polls through SLURM.
#[derive(Debug)]
pub struct SlurmBackend<R> {
    runner: R,
    /// None: not known yet; false: `sacct` failed once (no accounting), never asked again.
    accounting: Option<bool>,
    calls: BTreeMap<String, u64>,
    extra_sbatch: Vec<String>,
}

impl<R: CommandRunner> SlurmBackend<R> {
    /// A backend over `runner`; `extra_sbatch` is added to every `sbatch` (e.g. `--time`).
    pub fn new(runner: R, extra_sbatch: Vec<String>) -> Self {
        SlurmBackend {
            runner,
            accounting: None,
            calls: BTreeMap::new(),
            extra_sbatch,
        }
    }

    /// How many times each scheduler command ran.
    pub fn call_counts(&self) -> BTreeMap<String, u64> {
        self.calls.clone()
    }

    async fn call(&mut self, argv: Vec<String>) -> Result<CommandOutput, BackendError> {
        let name = argv.first().cloned().unwrap_or_default();
        *self.calls.entry(name).or_default() += 1;
        self.runner
            .run(&argv)
            .await
            .map_err(|e| BackendError::Command {
                command: argv.join(" "),
                message: e.to_string(),
            })
    }

    /// `sbatch --parsable --chdir=BUNDLE BUNDLE/job.sbatch`.
    pub fn submit_command(&self, bundle: &Path) -> Vec<String> {
        let mut argv = vec!["sbatch".to_string(), "--parsable".into()];
        argv.extend(self.extra_sbatch.iter().cloned());
        argv.push(format!("--chdir={}", bundle.display()));
        argv.push(bundle.join("job.sbatch").display().to_string());
        argv
    }

    /// Submits one bundle.
    pub async fn submit(&mut self, bundle: &Path) -> Result<String, BackendError> {
        let argv = self.submit_command(bundle);
        let command = argv.join(" ");
        let out = self.call(argv).await?;
        if out.code != 0 {
            return Err(BackendError::Command {
                command,
                message: stderr_text(&out.stderr, out.code),
            });
        }
        parse_sbatch(&out.stdout).ok_or_else(|| BackendError::Command {
            command,
            message: format!("unexpected output `{}`", out.stdout.trim()),
        })
    }

    /// `sbatch --version`: whether SLURM's client tools are here and answer.
    pub async fn preflight(&mut self) -> Result<(), BackendError> {
        let argv = vec!["sbatch".to_string(), "--version".into()];
        match self.call(argv).await {
            Ok(out) if out.code == 0 => Ok(()),
            Ok(out) => Err(BackendError::Command {
                command: "sbatch --version".into(),
                message: stderr_text(&out.stderr, out.code),
            }),
            Err(e) => Err(e),
        }
    }

    /// One `squeue` for every job, then one `sacct` for those that left the queue or ended.
    pub async fn poll(&mut self, ids: &[String]) -> Result<BTreeMap<String, Remote>, BackendError> {
        let mut states = BTreeMap::new();
        if ids.is_empty() {
            return Ok(states);
        }
        let argv = vec![
            "squeue".to_string(),
            "-h".into(),
            "-t".into(),
            "all".into(),
            "-j".into(),
            ids.join(","),
            "-o".into(),
            "%i|%T|%r".into(),
        ];
        let command = argv.join(" ");
        let out = self.call(argv).await?;
        if out.code != 0 && !out.stderr.contains("Invalid job id") {
            return Err(BackendError::Command {
                command,
                message: first_line(&out.stderr),
            });
        }
        for (id, remote) in parse_squeue(&out.stdout) {
            if ids.contains(&id) {
                states.insert(id, remote);
            }
        }
        let ask: Vec<String> = ids
            .iter()
            .filter(|id| {
                !matches!(
                    states.get(*id),
                    Some(Remote::Pending { .. } | Remote::Running)
                )
            })
            .cloned()
            .collect();
        if !ask.is_empty() && self.accounting != Some(false) {
            let argv = vec![
                "sacct".to_string(),
                "-n".into(),
                "-P".into(),
                "-X".into(),
                "-j".into(),
                ask.join(","),
                "-o".into(),
                "JobID,State,ExitCode".into(),
            ];
            let out = self.call(argv).await?;
            if out.code != 0 {
                self.accounting = Some(false);
            } else {
                self.accounting = Some(true);
                for (id, remote) in parse_sacct(&out.stdout) {
                    if ask.contains(&id) {
                        // sacct knows the exit code; squeue's terminal state has none.
                        let better = matches!(
                            (&remote, states.get(&id)),
                            (Remote::Done { .. }, _) | (_, None)
                        );
                        if better {
                            states.insert(id, remote);
                        }
                    }
                }
            }
        }
        for id in ids {
            states.entry(id.clone()).or_insert(Remote::Gone);
        }
        Ok(states)
    }

    /// A job of this user whose working directory is `bundle`: queued or running
    /// (`squeue -h --me -o %i|%Z`), else ended within the last 2 days (`sacct`, when accounting
    /// exists). The newest match wins.
    pub async fn find_by_workdir(&mut self, bundle: &Path) -> Option<String> {
        let argv = vec![
            "squeue".to_string(),
            "-h".into(),
            "--me".into(),
            "-o".into(),
            "%i|%Z".into(),
        ];
        if let Ok(out) = self.call(argv).await
            && out.code == 0
            && let Some(id) = parse_workdirs(&out.stdout, bundle)
        {
            return Some(id);
        }
        if self.accounting == Some(false) {
            return None;
        }
        let argv = vec![
            "sacct".to_string(),
            "-n".into(),
            "-X".into(),
            "-P".into(),
            "-S".into(),
            "now-2days".into(),
            "-o".into(),
            "JobID,WorkDir".into(),
        ];
        let out = self.call(argv).await.ok()?;
        if out.code != 0 {
            return None;
        }
        parse_workdirs(&out.stdout, bundle)
    }

    /// `scancel` (with `--signal=KILL` when `kill`).
    pub async fn cancel(&mut self, ids: &[String], kill: bool) -> Result<(), BackendError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut argv = vec!["scancel".to_string()];
        if kill {
            argv.push("--signal=KILL".into());
        }
        argv.extend(ids.iter().cloned());
        let command = argv.join(" ");
        let out = self.call(argv).await?;
        if out.code != 0 && !out.stderr.contains("Invalid job id") {
            return Err(BackendError::Command {
                command,
                message: first_line(&out.stderr),
            });
        }
        Ok(())
    }
}

/// A scheduler command's whole stderr (bounded to 4 KiB), or its exit code when it printed none.
fn stderr_text(stderr: &str, code: i32) -> String {
    let text = stderr.trim();
    if text.is_empty() {
        return format!("exit code {code}, no output on stderr");
    }
    let mut cut: String = text.chars().take(4096).collect();
    if cut.len() < text.len() {
        cut.push_str(" [...]");
    }
    cut
}

/// The job id printed by `sbatch --parsable` (`123` or `123;cluster`).
pub fn parse_sbatch(stdout: &str) -> Option<String> {
    let line = stdout.lines().map(str::trim).rfind(|l| !l.is_empty())?;
    let id = line.split(';').next()?.trim();
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit() || c == '_')).then(|| id.to_string())
}

/// Maps a SLURM state (and pending reason) to a [`Remote`].
pub fn map_state(state: &str, reason: &str, exit_code: Option<i32>) -> Remote {
    // sacct writes `CANCELLED by 0`; squeue may abbreviate nothing.
    let state = state
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .trim_end_matches('+');
    match state {
        "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" | "SUSPENDED"
        | "RESV_DEL_HOLD" => Remote::Pending {
            reason: if reason.is_empty() || reason == "None" {
                state.to_string()
            } else {
                reason.to_string()
            },
        },
        "RUNNING" | "COMPLETING" | "STAGE_OUT" | "SIGNALING" | "RESIZING" => Remote::Running,
        "" => Remote::Gone,
        other => Remote::Done {
            state: other.to_string(),
            exit_code,
        },
    }
}

/// `squeue -h -o %i|%T|%r` lines.
pub fn parse_squeue(stdout: &str) -> Vec<(String, Remote)> {
    rows(stdout)
        .map(|(id, state, reason)| (id.to_string(), map_state(state, reason, None)))
        .collect()
}

/// `sacct -n -P -X -o JobID,State,ExitCode` lines (`123|FAILED|1:0`); job steps (`123.0`)
/// are skipped.
pub fn parse_sacct(stdout: &str) -> Vec<(String, Remote)> {
    rows(stdout)
        .filter(|(id, _, _)| !id.contains('.'))
        .map(|(id, state, exit)| {
            let code = exit.split(':').next().and_then(|c| c.trim().parse().ok());
            (id.to_string(), map_state(state, "", code))
        })
        .collect()
}

/// `id|state|third` rows of `squeue`/`sacct` output, trimmed; lines without an id or a state
/// are skipped, a missing third field is empty.
fn rows(stdout: &str) -> impl Iterator<Item = (&str, &str, &str)> {
    stdout.lines().filter_map(|l| {
        let mut parts = l.trim().split('|');
        let id = parts.next()?.trim();
        let state = parts.next()?.trim();
        let third = parts.next().unwrap_or_default().trim();
        (!id.is_empty()).then_some((id, state, third))
    })
}

/// The newest (last listed) job id whose work directory (`id|dir` lines) is `bundle`.
pub fn parse_workdirs(stdout: &str, bundle: &Path) -> Option<String> {
    stdout.lines().rev().find_map(|l| {
        let (id, dir) = l.trim().split_once('|')?;
        (Path::new(dir.trim()) == bundle).then(|| id.trim().to_string())
    })
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no output")
        .to_string()
}

/// A bundle's batch script path.
pub fn batch_script(bundle: &Path) -> PathBuf {
    bundle.join("job.sbatch")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Canned answers, in order, per command name; records every call.
    struct Canned {
        answers: Mutex<BTreeMap<String, Vec<CommandOutput>>>,
        seen: Mutex<Vec<String>>,
    }

    impl Canned {
        fn new(answers: &[(&str, i32, &str, &str)]) -> Self {
            let mut map: BTreeMap<String, Vec<CommandOutput>> = BTreeMap::new();
            for (cmd, code, out, err) in answers {
                map.entry(cmd.to_string()).or_default().push(CommandOutput {
                    code: *code,
                    stdout: out.to_string(),
                    stderr: err.to_string(),
                });
            }
            Canned {
                answers: Mutex::new(map),
                seen: Mutex::new(Vec::new()),
            }
        }
    }

    impl CommandRunner for Canned {
        async fn run(&self, argv: &[String]) -> std::io::Result<CommandOutput> {
            self.seen.lock().unwrap().push(argv.join(" "));
            let mut a = self.answers.lock().unwrap();
            let list = a.get_mut(&argv[0]).unwrap();
            Ok(list.remove(0))
        }
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn workdir_lookup() {
        let out = "7|/runs/r/bundles/a\n8|/runs/r/bundles/b\n";
        assert_eq!(
            parse_workdirs("1|/x\n2|/x\n", Path::new("/x")).as_deref(),
            Some("2")
        );
        assert_eq!(
            parse_workdirs(out, Path::new("/runs/r/bundles/b")).as_deref(),
            Some("8")
        );
        assert_eq!(parse_workdirs(out, Path::new("/runs/r/bundles/c")), None);
    }

    #[test]
    fn sbatch_output() {
        assert_eq!(parse_sbatch("1234\n").as_deref(), Some("1234"));
        assert_eq!(parse_sbatch("77;cluster\n").as_deref(), Some("77"));
        assert_eq!(parse_sbatch("Submitted batch job 5"), None);
        assert_eq!(parse_sbatch(""), None);
    }

    #[test]
    fn state_table() {
        let pend = |r: &str| Remote::Pending { reason: r.into() };
        let done = |s: &str, c| Remote::Done {
            state: s.into(),
            exit_code: c,
        };
        assert_eq!(map_state("PENDING", "Resources", None), pend("Resources"));
        assert_eq!(map_state("PENDING", "None", None), pend("PENDING"));
        assert_eq!(map_state("CONFIGURING", "", None), pend("CONFIGURING"));
        assert_eq!(map_state("RUNNING", "None", None), Remote::Running);
        assert_eq!(map_state("COMPLETING", "", None), Remote::Running);
        for s in [
            "COMPLETED",
            "FAILED",
            "TIMEOUT",
            "NODE_FAIL",
            "PREEMPTED",
            "OUT_OF_MEMORY",
            "BOOT_FAIL",
        ] {
            assert_eq!(map_state(s, "", Some(0)), done(s, Some(0)));
        }
        assert_eq!(
            map_state("CANCELLED by 0", "", Some(0)),
            done("CANCELLED", Some(0))
        );
        assert_eq!(map_state("CANCELLED+", "", None), done("CANCELLED", None));
    }

    #[test]
    fn squeue_and_sacct_text() {
        let q = "11|PENDING|Priority\n12|RUNNING|None\n13|COMPLETED|None\n\n";
        let got = parse_squeue(q);
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[0].1,
            Remote::Pending {
                reason: "Priority".into()
            }
        );
        let a = "13|COMPLETED|0:0\n13.batch|COMPLETED|0:0\n14|FAILED|3:0\n15|CANCELLED by 0|0:15\n";
        let got = parse_sacct(a);
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[1].1,
            Remote::Done {
                state: "FAILED".into(),
                exit_code: Some(3)
            }
        );
        assert_eq!(
            got[2].1,
            Remote::Done {
                state: "CANCELLED".into(),
                exit_code: Some(0)
            }
        );
    }

    #[tokio::test]
    async fn one_squeue_per_poll_and_sacct_only_for_finished() {
        let canned = Canned::new(&[
            ("squeue", 0, "1|PENDING|Resources\n2|RUNNING|None\n", ""),
            ("squeue", 0, "2|RUNNING|None\n", ""),
            ("sacct", 0, "1|NODE_FAIL|0:0\n", ""),
        ]);
        let mut b = SlurmBackend::new(canned, Vec::new());
        let s = b.poll(&ids(&["1", "2"])).await.unwrap();
        assert_eq!(
            s["1"],
            Remote::Pending {
                reason: "Resources".into()
            }
        );
        assert_eq!(s["2"], Remote::Running);
        let s = b.poll(&ids(&["1", "2"])).await.unwrap();
        assert_eq!(
            s["1"],
            Remote::Done {
                state: "NODE_FAIL".into(),
                exit_code: Some(0)
            }
        );
        assert_eq!(b.call_counts()["squeue"], 2);
        assert_eq!(b.call_counts()["sacct"], 1);
        let seen = b.runner.seen.lock().unwrap().clone();
        assert_eq!(seen[2], "sacct -n -P -X -j 1 -o JobID,State,ExitCode");
    }

    #[tokio::test]
    async fn without_accounting_jobs_that_left_the_queue_are_gone() {
        let canned = Canned::new(&[
            (
                "squeue",
                1,
                "",
                "slurm_load_jobs error: Invalid job id specified",
            ),
            (
                "sacct",
                1,
                "",
                "sacct: error: Slurm accounting storage is disabled",
            ),
            ("squeue", 0, "", ""),
        ]);
        let mut b = SlurmBackend::new(canned, Vec::new());
        let s = b.poll(&ids(&["9"])).await.unwrap();
        assert_eq!(s["9"], Remote::Gone);
        let s = b.poll(&ids(&["9"])).await.unwrap();
        assert_eq!(s["9"], Remote::Gone);
        // sacct is not asked again once it failed.
        assert_eq!(b.call_counts().get("sacct"), Some(&1));
    }

    #[tokio::test]
    async fn submit_and_cancel_commands() {
        let canned = Canned::new(&[
            ("sbatch", 0, "42\n", ""),
            ("sbatch", 1, "", "sbatch: error: invalid partition\n"),
            ("scancel", 0, "", ""),
        ]);
        let mut b = SlurmBackend::new(canned, vec!["--time=00:05:00".into()]);
        let dir = Path::new("/runs/r/bundles/t 1");
        assert_eq!(b.submit(dir).await.unwrap(), "42");
        let e = b.submit(dir).await.unwrap_err().to_string();
        assert!(e.contains("invalid partition"), "{e}");
        b.cancel(&ids(&["42", "43"]), true).await.unwrap();
        let seen = b.runner.seen.lock().unwrap().clone();
        assert_eq!(
            seen[0],
            "sbatch --parsable --time=00:05:00 --chdir=/runs/r/bundles/t 1 /runs/r/bundles/t 1/job.sbatch"
        );
        assert_eq!(seen[2], "scancel --signal=KILL 42 43");
    }
}
