//! Dispatcher behaviour against the scripted [`FakeBackend`]: fast, deterministic, no SLURM.

use std::path::PathBuf;
use std::time::Duration;

use servebench_launch::{FailureKind, Scheduler};

use super::*;
use crate::backend::FakeBackend;
use crate::backend::fake::{FakeAttempt, FakeCall, FakeEnd};
use crate::interrupt::{Interrupts, interrupts};
use crate::journal::{Journal, Record, RunView, TestEntry, TestState, read_journal};

struct Run {
    dir: tempfile::TempDir,
    entries: Vec<TestEntry>,
}

impl Run {
    fn new(n: usize) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let entries = (0..n)
            .map(|i| {
                let b = dir.path().join(format!("t{i}"));
                std::fs::create_dir_all(b.join("logs")).unwrap();
                TestEntry::new(&format!("t{i}"), b, "logs/status.jsonl")
            })
            .collect();
        Run { dir, entries }
    }

    fn bundle(&self, i: usize) -> PathBuf {
        self.entries[i].bundle.clone()
    }

    fn start(&self) -> (Journal, RunView) {
        let mut j = Journal::open(self.dir.path()).unwrap();
        let rec = Record::RunStarted {
            ts: 0.0,
            run_id: "r".into(),
            executor: Scheduler::Local,
            pid: std::process::id(),
            job_timeout_s: 0,
            max_parallel: 5,
            retries: 0,
            stop_on_error: false,
            tests: self.entries.clone(),
            history: None,
        };
        j.append(&rec).unwrap();
        let view = RunView::fold(&[rec]).unwrap();
        (j, view)
    }

    fn view(&self) -> RunView {
        RunView::fold(&read_journal(self.dir.path()).unwrap()).unwrap()
    }
}

fn fast(max_parallel: usize) -> SchedOptions {
    SchedOptions {
        max_parallel,
        poll_min: Duration::from_millis(1),
        poll_max: Duration::from_millis(2),
        cancel_grace: Duration::from_millis(20),
        job_timeout: None,
        ..SchedOptions::default()
    }
}

async fn go(
    run: &Run,
    fake: &mut FakeBackend,
    opts: &SchedOptions,
    view: Option<RunView>,
    retry_failed: bool,
    interrupts: &mut Interrupts,
) -> (RunSummary, Vec<ExecEvent>) {
    let (mut j, fresh) = run.start();
    let view = view.unwrap_or(fresh);
    let mut events = Vec::new();
    let summary = drive(
        &mut j,
        fake,
        &view,
        opts,
        retry_failed,
        interrupts,
        &mut |e| events.push(e.clone()),
    )
    .await
    .unwrap();
    (summary, events)
}

fn verdicts(s: &RunSummary) -> Vec<Option<JobVerdict>> {
    s.outcomes.iter().map(|o| o.verdict).collect()
}

fn submit_index(fake: &FakeBackend, bundle: &PathBuf) -> usize {
    fake.calls
        .iter()
        .position(|c| matches!(c, FakeCall::Submit(b, _) if b == bundle))
        .unwrap()
}

#[tokio::test]
async fn window_is_never_exceeded_and_refills_as_each_job_ends() {
    let run = Run::new(5);
    let mut fake = FakeBackend::new();
    fake.script(
        &run.bundle(0),
        vec![FakeAttempt::new(1, FakeEnd::Exit(None))],
    );
    fake.script(
        &run.bundle(1),
        vec![FakeAttempt::new(30, FakeEnd::Exit(None))],
    );
    let (s, _) = go(
        &run,
        &mut fake,
        &fast(2),
        None,
        false,
        &mut Interrupts::never(),
    )
    .await;
    assert_eq!(fake.max_in_flight, 2);
    assert!(
        verdicts(&s)
            .iter()
            .all(|v| *v == Some(JobVerdict::Succeeded))
    );
    // t2 goes in as soon as t0 ends, long before the slow t1 ends.
    let t1_last_poll = fake
        .calls
        .iter()
        .rposition(|c| matches!(c, FakeCall::Poll(ids) if ids.contains(&"fake-2".to_string())))
        .unwrap();
    assert!(submit_index(&fake, &run.bundle(2)) < t1_last_poll);
}

#[tokio::test]
async fn lazy_batches_wait_for_the_whole_batch() {
    let run = Run::new(3);
    let mut fake = FakeBackend::new();
    fake.script(
        &run.bundle(1),
        vec![FakeAttempt::new(10, FakeEnd::Exit(None))],
    );
    let opts = SchedOptions {
        lazy_batches: true,
        ..fast(2)
    };
    go(
        &run,
        &mut fake,
        &opts,
        None,
        false,
        &mut Interrupts::never(),
    )
    .await;
    let t1_last_poll = fake
        .calls
        .iter()
        .rposition(|c| matches!(c, FakeCall::Poll(ids) if ids.contains(&"fake-2".to_string())))
        .unwrap();
    assert!(submit_index(&fake, &run.bundle(2)) > t1_last_poll);
}

#[tokio::test]
async fn zero_means_an_unlimited_window() {
    let run = Run::new(7);
    let mut fake = FakeBackend::new();
    go(
        &run,
        &mut fake,
        &fast(0),
        None,
        false,
        &mut Interrupts::never(),
    )
    .await;
    assert_eq!(fake.max_in_flight, 7);
}

#[tokio::test]
async fn stop_on_error_skips_what_is_still_queued() {
    let run = Run::new(4);
    let mut fake = FakeBackend::new();
    fake.script(
        &run.bundle(0),
        vec![FakeAttempt::new(
            0,
            FakeEnd::Exit(Some(FailureKind::Client)),
        )],
    );
    let opts = SchedOptions {
        stop_on_error: true,
        ..fast(1)
    };
    let (s, events) = go(
        &run,
        &mut fake,
        &opts,
        None,
        false,
        &mut Interrupts::never(),
    )
    .await;
    assert_eq!(
        verdicts(&s),
        vec![Some(JobVerdict::Failed), None, None, None]
    );
    assert_eq!(fake.submissions(&run.bundle(1)), 0);
    let skipped = events
        .iter()
        .filter(|e| matches!(e, ExecEvent::Skipped { reason, .. } if reason == "stop-on-error"))
        .count();
    assert_eq!(skipped, 3);
}

#[tokio::test]
async fn node_failure_is_retried_within_the_budget() {
    let run = Run::new(1);
    let mut fake = FakeBackend::new();
    fake.script(
        &run.bundle(0),
        vec![
            FakeAttempt::new(0, FakeEnd::Scheduler("NODE_FAIL")),
            FakeAttempt::new(0, FakeEnd::Exit(None)),
        ],
    );
    let opts = SchedOptions {
        retries: 1,
        ..fast(1)
    };
    let (s, _) = go(
        &run,
        &mut fake,
        &opts,
        None,
        false,
        &mut Interrupts::never(),
    )
    .await;
    assert_eq!(fake.submissions(&run.bundle(0)), 2);
    assert_eq!(s.outcomes[0].verdict, Some(JobVerdict::Succeeded));
    assert_eq!(s.outcomes[0].attempts, 2);
}

#[tokio::test]
async fn retries_run_out() {
    let run = Run::new(1);
    let mut fake = FakeBackend::new();
    fake.script(
        &run.bundle(0),
        vec![FakeAttempt::new(
            0,
            FakeEnd::Exit(Some(FailureKind::HealthTimeout)),
        )],
    );
    let opts = SchedOptions {
        retries: 2,
        ..fast(1)
    };
    let (s, _) = go(
        &run,
        &mut fake,
        &opts,
        None,
        false,
        &mut Interrupts::never(),
    )
    .await;
    assert_eq!(fake.submissions(&run.bundle(0)), 3);
    assert_eq!(s.outcomes[0].verdict, Some(JobVerdict::InfraFailed));
    assert_eq!(s.outcomes[0].kind, Some(FailureKind::HealthTimeout));
}

#[tokio::test]
async fn test_failures_and_crashes_are_never_retried() {
    let run = Run::new(2);
    let mut fake = FakeBackend::new();
    fake.script(
        &run.bundle(0),
        vec![FakeAttempt::new(
            0,
            FakeEnd::Exit(Some(FailureKind::Client)),
        )],
    );
    fake.script(
        &run.bundle(1),
        vec![FakeAttempt::new(
            0,
            FakeEnd::Exit(Some(FailureKind::RoleExited)),
        )],
    );
    let opts = SchedOptions {
        retries: 3,
        ..fast(2)
    };
    let (s, _) = go(
        &run,
        &mut fake,
        &opts,
        None,
        false,
        &mut Interrupts::never(),
    )
    .await;
    assert_eq!(fake.submissions(&run.bundle(0)), 1);
    assert_eq!(fake.submissions(&run.bundle(1)), 1);
    assert_eq!(
        verdicts(&s),
        vec![Some(JobVerdict::Failed), Some(JobVerdict::InfraFailed)]
    );
}

#[tokio::test]
async fn a_scheduler_timeout_is_timed_out_not_retried() {
    let run = Run::new(1);
    let mut fake = FakeBackend::new();
    fake.script(
        &run.bundle(0),
        vec![FakeAttempt::new(0, FakeEnd::Scheduler("TIMEOUT"))],
    );
    let opts = SchedOptions {
        retries: 2,
        ..fast(1)
    };
    let (s, _) = go(
        &run,
        &mut fake,
        &opts,
        None,
        false,
        &mut Interrupts::never(),
    )
    .await;
    assert_eq!(fake.submissions(&run.bundle(0)), 1);
    assert_eq!(s.outcomes[0].verdict, Some(JobVerdict::TimedOut));
    assert!(s.outcomes[0].reason.as_deref().unwrap().contains("TIMEOUT"));
}

#[tokio::test]
async fn the_outer_wait_limit_cancels_a_hung_job() {
    let run = Run::new(2);
    let mut fake = FakeBackend::new();
    fake.script(&run.bundle(0), vec![FakeAttempt::new(0, FakeEnd::Hang)]);
    let opts = SchedOptions {
        job_timeout: Some(Duration::from_millis(30)),
        ..fast(2)
    };
    let (s, _) = go(
        &run,
        &mut fake,
        &opts,
        None,
        false,
        &mut Interrupts::never(),
    )
    .await;
    assert_eq!(
        verdicts(&s),
        vec![Some(JobVerdict::TimedOut), Some(JobVerdict::Succeeded)]
    );
    assert!(
        fake.calls
            .iter()
            .any(|c| matches!(c, FakeCall::Cancel(ids) if ids == &["fake-1".to_string()]))
    );
    let cancels: Vec<_> = read_journal(run.dir.path())
        .unwrap()
        .into_iter()
        .filter(|r| matches!(r, Record::CancelRequested { by, .. } if by == "timeout"))
        .collect();
    assert_eq!(cancels.len(), 1);
}

#[tokio::test]
async fn a_test_time_limit_replaces_the_run_limit() {
    let mut run = Run::new(2);
    run.entries[0].time_limit_s = Some(0);
    let mut fake = FakeBackend::new();
    fake.script(&run.bundle(0), vec![FakeAttempt::new(0, FakeEnd::Hang)]);
    fake.script(
        &run.bundle(1),
        vec![FakeAttempt::new(5, FakeEnd::Exit(None))],
    );
    // No run limit at all: only t0's own limit applies.
    let (s, _) = go(
        &run,
        &mut fake,
        &fast(2),
        None,
        false,
        &mut Interrupts::never(),
    )
    .await;
    assert_eq!(
        verdicts(&s),
        vec![Some(JobVerdict::TimedOut), Some(JobVerdict::Succeeded)]
    );
}

#[tokio::test]
async fn an_interrupt_cancels_every_job_in_flight_and_skips_the_queue() {
    let run = Run::new(3);
    let mut fake = FakeBackend::new();
    for i in 0..2 {
        fake.script(&run.bundle(i), vec![FakeAttempt::new(0, FakeEnd::Hang)]);
    }
    let (tx, mut rx) = interrupts();
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        tx.interrupt("SIGTERM");
    });
    let (s, events) = go(&run, &mut fake, &fast(2), None, false, &mut rx).await;
    sender.await.unwrap();
    assert!(s.interrupted);
    assert_eq!(
        verdicts(&s),
        vec![
            Some(JobVerdict::Cancelled),
            Some(JobVerdict::Cancelled),
            None
        ]
    );
    assert_eq!(fake.submissions(&run.bundle(2)), 0);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ExecEvent::Cancelling { by, jobs: 2 } if by == "SIGTERM"))
    );
    let recs = read_journal(run.dir.path()).unwrap();
    let cancel_at = recs
        .iter()
        .position(|r| matches!(r, Record::CancelRequested { .. }))
        .unwrap();
    let first_cancelled = recs
        .iter()
        .position(|r| {
            matches!(
                r,
                Record::Finished {
                    verdict: JobVerdict::Cancelled,
                    ..
                }
            )
        })
        .unwrap();
    assert!(cancel_at < first_cancelled, "the cancel is journaled first");
    assert!(matches!(
        recs.last(),
        Some(Record::RunFinished {
            interrupted: true,
            ..
        })
    ));
}

#[tokio::test]
async fn a_second_interrupt_kills() {
    let run = Run::new(1);
    let mut fake = FakeBackend::new();
    fake.script(&run.bundle(0), vec![FakeAttempt::new(0, FakeEnd::Hang)]);
    let (tx, mut rx) = interrupts();
    tx.interrupt("SIGINT");
    tx.interrupt("SIGINT");
    let opts = SchedOptions {
        cancel_grace: Duration::from_secs(3600),
        ..fast(1)
    };
    go(&run, &mut fake, &opts, None, false, &mut rx).await;
    assert!(fake.calls.iter().any(|c| matches!(c, FakeCall::Kill(_))));
}

#[tokio::test]
async fn resume_reattaches_live_jobs_and_submits_only_the_rest() {
    let run = Run::new(3);
    let (mut j, _) = run.start();
    j.append(&Record::Submitting {
        ts: 0.0,
        test_id: "t0".into(),
        attempt: 1,
        command: vec![],
    })
    .unwrap();
    j.append(&Record::Submitted {
        ts: 0.0,
        test_id: "t0".into(),
        job_id: "old-7".into(),
        attempt: 1,
    })
    .unwrap();
    drop(j);
    let view = run.view();
    assert!(matches!(view.tests[0].1, TestState::Active { .. }));
    let mut fake = FakeBackend::new();
    let (s, _) = go(
        &run,
        &mut fake,
        &fast(5),
        Some(view),
        false,
        &mut Interrupts::never(),
    )
    .await;
    assert_eq!(fake.submissions(&run.bundle(0)), 0);
    assert!(fake.calls.contains(&FakeCall::Reattach("old-7".into())));
    assert_eq!(s.outcomes[0].job_id.as_deref(), Some("old-7"));
    assert!(
        verdicts(&s)
            .iter()
            .all(|v| *v == Some(JobVerdict::Succeeded))
    );
}

#[tokio::test]
async fn a_submission_that_was_never_recorded_is_adopted_not_repeated() {
    let run = Run::new(1);
    let (mut j, _) = run.start();
    j.append(&Record::Submitting {
        ts: 0.0,
        test_id: "t0".into(),
        attempt: 1,
        command: vec![],
    })
    .unwrap();
    drop(j);
    let mut fake = FakeBackend::new();
    fake.queued_elsewhere
        .insert(run.bundle(0), "slurm-41".into());
    let (s, _) = go(
        &run,
        &mut fake,
        &fast(1),
        Some(run.view()),
        false,
        &mut Interrupts::never(),
    )
    .await;
    assert_eq!(fake.submissions(&run.bundle(0)), 0);
    assert_eq!(s.outcomes[0].job_id.as_deref(), Some("slurm-41"));
    assert_eq!(s.outcomes[0].verdict, Some(JobVerdict::Succeeded));
}

#[tokio::test]
async fn a_submission_the_scheduler_never_saw_is_made_once() {
    let run = Run::new(1);
    let (mut j, _) = run.start();
    j.append(&Record::Submitting {
        ts: 0.0,
        test_id: "t0".into(),
        attempt: 1,
        command: vec![],
    })
    .unwrap();
    drop(j);
    let mut fake = FakeBackend::new();
    go(
        &run,
        &mut fake,
        &fast(1),
        Some(run.view()),
        false,
        &mut Interrupts::never(),
    )
    .await;
    assert_eq!(fake.submissions(&run.bundle(0)), 1);
}

#[tokio::test]
async fn finished_tests_are_resubmitted_only_with_retry_failed() {
    let run = Run::new(2);
    let mut fake = FakeBackend::new();
    fake.script(
        &run.bundle(0),
        vec![
            FakeAttempt::new(0, FakeEnd::Exit(Some(FailureKind::Client))),
            FakeAttempt::new(0, FakeEnd::Exit(None)),
        ],
    );
    go(
        &run,
        &mut fake,
        &fast(2),
        None,
        false,
        &mut Interrupts::never(),
    )
    .await;
    let view = run.view();
    let mut again = FakeBackend::new();
    go(
        &run,
        &mut again,
        &fast(2),
        Some(view.clone()),
        false,
        &mut Interrupts::never(),
    )
    .await;
    assert!(
        again
            .calls
            .iter()
            .all(|c| !matches!(c, FakeCall::Submit(..)))
    );
    let (s, _) = go(
        &run,
        &mut fake,
        &fast(2),
        Some(view),
        true,
        &mut Interrupts::never(),
    )
    .await;
    assert_eq!(fake.submissions(&run.bundle(0)), 2);
    assert_eq!(
        fake.submissions(&run.bundle(1)),
        1,
        "the passing test is left alone"
    );
    assert_eq!(s.outcomes[0].verdict, Some(JobVerdict::Succeeded));
}

#[tokio::test]
async fn a_failed_submission_is_an_infrastructure_failure_with_the_scheduler_message() {
    let run = Run::new(2);
    let mut fake = FakeBackend::new();
    fake.script(
        &run.bundle(0),
        vec![FakeAttempt::new(
            0,
            FakeEnd::SubmitError("sbatch: error: invalid partition"),
        )],
    );
    let (s, _) = go(
        &run,
        &mut fake,
        &fast(2),
        None,
        false,
        &mut Interrupts::never(),
    )
    .await;
    assert_eq!(s.outcomes[0].verdict, Some(JobVerdict::InfraFailed));
    assert!(
        s.outcomes[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("invalid partition")
    );
    assert_eq!(s.outcomes[1].verdict, Some(JobVerdict::Succeeded));
}

#[tokio::test]
async fn an_isolated_test_runs_alone() {
    let mut run = Run::new(4);
    run.entries[1].isolated = true;
    let mut fake = FakeBackend::new();
    for i in 0..4 {
        fake.script(
            &run.bundle(i),
            vec![FakeAttempt::new(3, FakeEnd::Exit(None))],
        );
    }
    go(
        &run,
        &mut fake,
        &fast(4),
        None,
        false,
        &mut Interrupts::never(),
    )
    .await;
    // t1 is submitted only after t0 ended, and t2 only after t1 ended.
    let ended = |id: &str| {
        fake.calls
            .iter()
            .rposition(|c| matches!(c, FakeCall::Poll(ids) if ids.contains(&id.to_string())))
            .unwrap()
    };
    assert!(submit_index(&fake, &run.bundle(1)) > ended("fake-1"));
    assert!(submit_index(&fake, &run.bundle(2)) > ended("fake-2"));
    assert_eq!(fake.max_in_flight, 2, "t2 and t3 share the window again");
}

#[tokio::test]
async fn the_journal_replays_to_the_same_outcome() {
    let run = Run::new(3);
    let mut fake = FakeBackend::new();
    fake.script(
        &run.bundle(1),
        vec![FakeAttempt::new(
            0,
            FakeEnd::Exit(Some(FailureKind::Client)),
        )],
    );
    let (s, _) = go(
        &run,
        &mut fake,
        &fast(2),
        None,
        false,
        &mut Interrupts::never(),
    )
    .await;
    let view = run.view();
    assert!(view.finished);
    for (o, (_, state)) in s.outcomes.iter().zip(&view.tests) {
        let TestState::Done {
            verdict, job_id, ..
        } = state
        else {
            panic!("{state:?}");
        };
        assert_eq!(Some(*verdict), o.verdict);
        assert_eq!(job_id, &o.job_id);
    }
}

#[tokio::test]
async fn detach_returns_after_the_first_window() {
    let run = Run::new(3);
    let mut fake = FakeBackend::new();
    let opts = SchedOptions {
        detach: true,
        ..fast(2)
    };
    let (s, _) = go(
        &run,
        &mut fake,
        &opts,
        None,
        false,
        &mut Interrupts::never(),
    )
    .await;
    assert!(s.detached);
    assert_eq!(fake.max_in_flight, 2);
    assert!(fake.calls.iter().all(|c| !matches!(c, FakeCall::Poll(_))));
    assert!(matches!(
        read_journal(run.dir.path()).unwrap().last(),
        Some(Record::Detached { .. })
    ));
}
