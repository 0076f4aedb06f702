//! `servebench baseline pin|accept|list`: the curator's record that `check` honours. A pin
//! replaces the rolling baseline window; an accepted change restarts it at the accepted run.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use jiff::Timestamp;
use servebench_store::{AcceptedChange, BaselinePin, PinTarget, Store, canonical_metric};

use super::check::store_error;
use super::history::{DbArgs, aligned, keyword_filter};
use crate::exit;
use crate::suite::print;

/// Arguments of `servebench baseline`.
#[derive(Debug, Args)]
pub struct BaselineArgs {
    #[command(subcommand)]
    command: BaselineCommand,
}

#[derive(Debug, Subcommand)]
enum BaselineCommand {
    /// Fix the baseline: the window of runs ending at RUN, or the newest runs whose config
    /// commit is TAG; replaces an earlier pin of the same tests.
    Pin(PinArgs),
    /// Accept an intended change: from run --at on, the baseline of the matching series
    /// restarts.
    Accept(AcceptArgs),
    /// List the pins and accepted changes.
    List(ListArgs),
}

/// Arguments of `baseline list`.
#[derive(Debug, Args)]
struct ListArgs {
    #[command(flatten)]
    db: DbArgs,
}

/// Arguments of `baseline pin`.
#[derive(Debug, Args)]
struct PinArgs {
    /// A run id, or a tag (a run's config commit).
    #[arg(value_name = "RUN|TAG")]
    target: String,
    /// Pin only the tests whose id matches this expression [default: every test].
    #[arg(short = 'k', value_name = "EXPR")]
    keyword: Option<String>,
    #[command(flatten)]
    db: DbArgs,
}

/// Arguments of `baseline accept`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["test", "all"]))]
struct AcceptArgs {
    /// The test whose change is intended.
    #[arg(value_name = "TEST")]
    test: Option<String>,
    /// Every test.
    #[arg(long)]
    all: bool,
    /// The first run of the new level.
    #[arg(long, value_name = "RUN")]
    at: String,
    /// Why the change is intended (a PR, an upgrade), kept with the record.
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// Only this metric (canonical or upstream name) [default: every metric].
    #[arg(long, value_name = "M")]
    metric: Option<String>,
    /// Only this concurrency [default: every concurrency].
    #[arg(long, value_name = "C")]
    concurrency: Option<i64>,
    #[command(flatten)]
    db: DbArgs,
}

/// Records or lists the curation. Exit 0, 2 on an unknown run, test or tag, 3 when the database
/// fails.
pub fn run(args: BaselineArgs) -> ExitCode {
    let db = match &args.command {
        BaselineCommand::Pin(a) => &a.db,
        BaselineCommand::Accept(a) => &a.db,
        BaselineCommand::List(a) => &a.db,
    };
    let mut store = match db.open(true) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let done = match &args.command {
        BaselineCommand::Pin(a) => pin(store.as_mut(), a),
        BaselineCommand::Accept(a) => accept(store.as_mut(), a),
        BaselineCommand::List(_) => list(store.as_mut()),
    };
    done.unwrap_or_else(|code| code)
}

fn usage(msg: String) -> ExitCode {
    say!("error: {msg}");
    ExitCode::from(exit::USAGE)
}

/// Whether `run_id` is a stored run.
fn run_exists(store: &mut dyn Store, run_id: &str) -> Result<bool, ExitCode> {
    let runs = store.runs(None, None).map_err(|e| store_error(&e))?;
    Ok(runs.iter().any(|r| r.run_id == run_id))
}

fn pin(store: &mut dyn Store, a: &PinArgs) -> Result<ExitCode, ExitCode> {
    let runs = store.runs(None, None).map_err(|e| store_error(&e))?;
    let target = if runs.iter().any(|r| r.run_id == a.target) {
        PinTarget::Run(a.target.clone())
    } else if runs
        .iter()
        .any(|r| r.config_commit.as_deref() == Some(a.target.as_str()))
    {
        PinTarget::Tag(a.target.clone())
    } else {
        return Err(usage(format!(
            "`{}` is neither a stored run nor a tag (config commit) of one; `servebench history` \
             lists the runs",
            a.target
        )));
    };
    let tests: Vec<Option<String>> = match &a.keyword {
        None => vec![None],
        Some(expr) => {
            let keep = keyword_filter(expr).map_err(usage)?;
            let ids = store.test_ids().map_err(|e| store_error(&e))?;
            let matching: Vec<Option<String>> =
                ids.into_iter().filter(|t| keep(t)).map(Some).collect();
            if matching.is_empty() {
                return Err(usage(format!(
                    "-k `{expr}` matches no test in the history; `servebench history -k` shows \
                     what it selects"
                )));
            }
            matching
        }
    };
    let now = Timestamp::now();
    for test_id in &tests {
        let p = BaselinePin {
            test_id: test_id.clone(),
            target: target.clone(),
            pinned_at: now,
        };
        store.pin_baseline(&p).map_err(|e| store_error(&e))?;
    }
    let what = match &target {
        PinTarget::Run(r) => format!("the window ending at run {r}"),
        PinTarget::Tag(t) => format!("the runs tagged {t}"),
    };
    let whom = match &a.keyword {
        None => "every test".to_owned(),
        Some(_) => format!("{} test(s)", tests.len()),
    };
    say!("pinned the baseline of {whom} to {what}");
    Ok(ExitCode::from(exit::OK))
}

fn accept(store: &mut dyn Store, a: &AcceptArgs) -> Result<ExitCode, ExitCode> {
    if !run_exists(store, &a.at)? {
        return Err(usage(format!(
            "--at: no run `{}` in the history; `servebench history` lists the runs",
            a.at
        )));
    }
    let test_id = if a.all { None } else { a.test.clone() };
    if let Some(t) = &test_id {
        let ids = store.test_ids().map_err(|e| store_error(&e))?;
        if !ids.contains(t) {
            return Err(usage(format!(
                "no test `{t}` in the history; give its exact id (`servebench history -k` finds \
                 it) or --all"
            )));
        }
    }
    if a.reason.trim().is_empty() {
        return Err(usage(
            "--reason is empty; say why the change is intended (a PR, an upgrade)".into(),
        ));
    }
    let change = AcceptedChange {
        test_id,
        metric: a.metric.as_deref().map(canonical_metric),
        concurrency: a.concurrency,
        at_run: a.at.clone(),
        reason: a.reason.clone(),
        accepted_at: Timestamp::now(),
    };
    store.accept_change(&change).map_err(|e| store_error(&e))?;
    say!(
        "accepted the change at run {} for {}: the baseline restarts there",
        change.at_run,
        change.test_id.as_deref().unwrap_or("every test")
    );
    Ok(ExitCode::from(exit::OK))
}

fn list(store: &mut dyn Store) -> Result<ExitCode, ExitCode> {
    let all = |v: Option<String>| v.unwrap_or_else(|| "*".to_owned());
    let pins: Vec<Vec<String>> = store
        .pins()
        .map_err(|e| store_error(&e))?
        .into_iter()
        .map(|p| {
            let (kind, target) = match p.target {
                PinTarget::Run(r) => ("run", r),
                PinTarget::Tag(t) => ("tag", t),
            };
            vec![
                all(p.test_id),
                kind.to_owned(),
                target,
                p.pinned_at.strftime("%Y-%m-%d %H:%M").to_string(),
            ]
        })
        .collect();
    let changes: Vec<Vec<String>> = store
        .accepted_changes()
        .map_err(|e| store_error(&e))?
        .into_iter()
        .map(|c| {
            vec![
                all(c.test_id),
                all(c.metric),
                all(c.concurrency.map(|c| c.to_string())),
                c.at_run,
                c.accepted_at.strftime("%Y-%m-%d %H:%M").to_string(),
                c.reason,
            ]
        })
        .collect();
    let mut out = String::from("pins:\n");
    out.push_str(&aligned(&["TEST", "KIND", "TARGET", "PINNED"], &pins, &[]));
    out.push_str("accepted changes:\n");
    out.push_str(&aligned(
        &["TEST", "METRIC", "C", "AT", "ACCEPTED", "REASON"],
        &changes,
        &[],
    ));
    print(&out);
    Ok(ExitCode::from(exit::OK))
}
