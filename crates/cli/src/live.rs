//! The live view of `run` and `resume` (SPEC 8.4), a [`Reporter`] of pipeline events: bars on
//! a TTY (one line per active job, a total with elapsed and ETA), plain state-change lines
//! otherwise, nothing but errors with `-q`.

use std::time::{Duration, Instant};

use servebench_exec::{ExecEvent, JobVerdict};
use servebench_suite::{Event, Reporter};

/// Whether the live view draws progress bars: a stderr TTY, not CI, not quiet.
pub(crate) fn use_bars(stderr_tty: bool, ci: bool, quiet: bool, term_dumb: bool) -> bool {
    stderr_tty && !ci && !quiet && !term_dumb
}

/// Whether to colour stdout: a TTY, and `NO_COLOR` unset (https://no-color.org), not dumb.
pub(crate) fn color_stdout() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").is_ok_and(|t| t != "dumb")
}

/// The results table with each verdict word coloured (green pass, red fail/error, yellow
/// invalid, dim skipped), for a terminal.
pub(crate) fn colour_verdicts(table: &str) -> String {
    const WORDS: [(&str, &str); 7] = [
        (" PASS ", "32"),
        (" XPASS ", "32"),
        (" FAIL ", "31"),
        (" ERROR ", "31"),
        (" INVALID ", "33"),
        (" XFAIL ", "2"),
        (" SKIPPED ", "2"),
    ];
    table
        .lines()
        .map(|line| {
            let hit = WORDS
                .iter()
                .find_map(|(w, c)| line.find(w).map(|i| (i, *w, *c)));
            match hit {
                Some((i, w, c)) => {
                    let (head, rest) = line.split_at(i + 1);
                    let word = w.trim();
                    let tail = rest.get(word.len()..).unwrap_or_default();
                    format!("{head}\x1b[{c}m{word}\x1b[0m{tail}\n")
                }
                None => format!("{line}\n"),
            }
        })
        .collect()
}

/// Quotes an argv for a POSIX shell (for `--dry-run` output).
pub(crate) fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Progress: bars on a TTY (one line per active job, a total with elapsed and ETA), plain
/// state-change lines otherwise, nothing but errors with `-q`.
pub(crate) struct LiveView {
    start: Instant,
    mode: Mode,
    done: u64,
}

enum Mode {
    Bars {
        multi: indicatif::MultiProgress,
        total: indicatif::ProgressBar,
        jobs: std::collections::BTreeMap<String, (indicatif::ProgressBar, String, String)>,
    },
    Plain,
    Quiet,
    Json,
}

impl LiveView {
    /// JSON lines on stderr, one per event.
    pub(crate) fn json() -> Self {
        LiveView {
            start: Instant::now(),
            mode: Mode::Json,
            done: 0,
        }
    }

    pub(crate) fn new(bars: bool, quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if bars {
            let multi =
                indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr());
            let total = multi.add(indicatif::ProgressBar::new(0));
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{prefix:.bold} [{bar:30}] {pos}/{len} done, elapsed {elapsed_precise}, ETA {eta}",
            ) {
                total.set_style(style.progress_chars("=> "));
            }
            total.set_prefix("total");
            total.enable_steady_tick(Duration::from_millis(250));
            Mode::Bars {
                multi,
                total,
                jobs: Default::default(),
            }
        } else {
            Mode::Plain
        };
        LiveView {
            start: Instant::now(),
            mode,
            done: 0,
        }
    }

    fn plain(&self, text: &str) {
        let s = self.start.elapsed().as_secs();
        say!("[{:02}:{:02}] {text}", s / 60, s % 60);
    }

    fn exec(&mut self, e: &ExecEvent) {
        let line = match e {
            ExecEvent::Submitted {
                test_id,
                job_id,
                attempt,
            } => {
                let again = if *attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                (
                    test_id.clone(),
                    format!("submitted as {job_id}{again}"),
                    None,
                )
            }
            ExecEvent::State { test_id, state } => (test_id.clone(), state.clone(), None),
            ExecEvent::Progress { test_id, text } => (test_id.clone(), text.clone(), None),
            ExecEvent::Finished {
                test_id,
                verdict,
                reason,
                will_retry,
                ..
            } => {
                let mut text = verdict.as_str().to_string();
                if let Some(r) = reason {
                    text.push_str(&format!(": {r}"));
                }
                if *will_retry {
                    text.push_str(" (will retry)");
                }
                (test_id.clone(), text, Some(*will_retry))
            }
            ExecEvent::Skipped { test_id, reason } => {
                (test_id.clone(), format!("skipped: {reason}"), Some(false))
            }
            ExecEvent::Cancelling { by, jobs } => (
                String::new(),
                format!("{by}: cancelling {jobs} job(s) in flight"),
                None,
            ),
            ExecEvent::Warning { message } => (String::new(), format!("warning: {message}"), None),
        };
        let (test_id, text, finished) = line;
        let is_error = matches!(e, ExecEvent::Warning { .. } | ExecEvent::Cancelling { .. })
            || matches!(e, ExecEvent::Finished { verdict, .. } if *verdict != JobVerdict::Succeeded);
        if finished == Some(false) {
            self.done += 1;
        }
        match &mut self.mode {
            Mode::Json => {}
            Mode::Quiet => {
                if is_error {
                    let label = if test_id.is_empty() {
                        String::new()
                    } else {
                        format!("{test_id}: ")
                    };
                    say!("{label}{text}");
                }
            }
            Mode::Plain => {
                let label = if test_id.is_empty() {
                    String::new()
                } else {
                    format!("{test_id}: ")
                };
                self.plain(&format!("{label}{text}"));
            }
            Mode::Bars { multi, total, jobs } => {
                if test_id.is_empty() {
                    let _ = multi.println(text);
                    return;
                }
                if finished.is_some() {
                    if let Some((bar, _, _)) = jobs.remove(&test_id) {
                        bar.finish_and_clear();
                        multi.remove(&bar);
                    }
                    // Errors are never hidden by the bars.
                    let _ = multi.println(format!("{test_id}: {text}"));
                    if finished == Some(false) {
                        total.inc(1);
                    }
                    return;
                }
                let entry = jobs.entry(test_id.clone()).or_insert_with(|| {
                    let bar = multi.insert_before(total, indicatif::ProgressBar::new_spinner());
                    if let Ok(style) = indicatif::ProgressStyle::with_template(
                        "{spinner} {prefix} {msg} ({elapsed})",
                    ) {
                        bar.set_style(style);
                    }
                    bar.set_prefix(test_id.clone());
                    bar.enable_steady_tick(Duration::from_millis(250));
                    (bar, String::new(), String::new())
                });
                match e {
                    ExecEvent::State { .. } | ExecEvent::Submitted { .. } => entry.1 = text,
                    _ => entry.2 = text,
                }
                let msg = if entry.2.is_empty() {
                    entry.1.clone()
                } else {
                    format!("{} | {}", entry.1, entry.2)
                };
                entry.0.set_message(msg);
            }
        }
    }

    pub(crate) fn finish(&mut self) {
        if let Mode::Bars { total, jobs, .. } = &mut self.mode {
            for (bar, _, _) in jobs.values() {
                bar.finish_and_clear();
            }
            total.finish_and_clear();
        }
    }
}

impl Reporter for LiveView {
    fn event(&mut self, event: &Event) {
        if matches!(self.mode, Mode::Json) {
            if let Ok(line) = serde_json::to_string(event) {
                say!("{line}");
            }
            return;
        }
        match event {
            Event::Exec { exec } => self.exec(exec),
            Event::Started {
                run_id,
                dir,
                tests,
                executor,
                max_parallel,
                resumed,
            } => {
                if let Mode::Bars { total, .. } = &self.mode {
                    total.set_length(*tests as u64);
                }
                let window = if *max_parallel == 0 {
                    "all".to_string()
                } else {
                    max_parallel.to_string()
                };
                let verb = if *resumed { "resuming run" } else { "run" };
                self.note(&format!(
                    "{verb} {run_id}: {tests} test(s), {executor} executor, {window} in flight at most -> {}",
                    dir.display()
                ));
            }
            Event::Warning { test_id, message } => {
                self.note(&format!("warning: {test_id}: {message}"));
            }
            Event::NotSubmitted { test_id, reason } => {
                // Errors are printed even with -q.
                say!("error: {test_id}: {reason}");
            }
            Event::DryRun {
                test_id,
                bundle,
                command,
            } => {
                out!("# {test_id} ({})", bundle.display());
                out!("{}", shell_words(command));
            }
        }
    }
}

impl LiveView {
    /// A run-wide line (never hidden by the bars, dropped with -q).
    fn note(&self, text: &str) {
        match &self.mode {
            Mode::Quiet | Mode::Json => {}
            Mode::Plain => say!("{text}"),
            Mode::Bars { multi, .. } => {
                let _ = multi.println(text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_truth_table() {
        // (tty, ci, quiet, dumb) -> bars
        for (tty, ci, quiet, dumb, want) in [
            (true, false, false, false, true),
            (false, false, false, false, false),
            (true, true, false, false, false),
            (true, false, true, false, false),
            (true, false, false, true, false),
        ] {
            assert_eq!(
                use_bars(tty, ci, quiet, dumb),
                want,
                "{tty} {ci} {quiet} {dumb}"
            );
        }
    }

    #[test]
    fn verdict_words_are_coloured_once_per_line() {
        let t = "TEST  C  VERDICT\nx  1  PASS  note PASS\ny  2  INVALID  z\nplain\n";
        let c = colour_verdicts(t);
        assert_eq!(
            c,
            "TEST  C  VERDICT\nx  1  \x1b[32mPASS\x1b[0m  note PASS\ny  2  \x1b[33mINVALID\x1b[0m  z\nplain\n"
        );
    }

    #[test]
    fn quoting() {
        let argv: Vec<String> = ["sbatch", "--chdir=/a b", "it's"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(shell_words(&argv), "sbatch '--chdir=/a b' 'it'\\''s'");
    }
}
