//! `servebench export opensearch [RUN] [--since DATE]`: the history as OpenSearch `_bulk` NDJSON
//! in upstream's perf-sanity document shape, written to a file or stdout, and posted to
//! `OPEN_SEARCH_DB_BASE_URL` when it is set. Credentials are never printed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use servebench_store::opensearch::{self, Retry};
use servebench_store::{HistoryQuery, redact_url};

use super::history::{DbArgs, parse_since};
use crate::exit;

/// Arguments of `servebench export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    target: ExportTarget,
}

/// Export targets.
#[derive(Debug, Subcommand)]
enum ExportTarget {
    /// OpenSearch bulk documents (perf-sanity shape).
    Opensearch(OpenSearchArgs),
}

/// Arguments of `servebench export opensearch`.
#[derive(Debug, Args)]
struct OpenSearchArgs {
    /// Run id [default: the newest run, unless --since is given].
    run: Option<String>,
    /// Every run started at or after this date instead (`2026-11-01`, `30d`).
    #[arg(long, value_name = "DATE", conflicts_with = "run")]
    since: Option<String>,
    /// Write the NDJSON here [default: stdout, unless posting].
    #[arg(short = 'o', long = "output-file", value_name = "FILE.ndjson")]
    output_file: Option<PathBuf>,
    /// Index the documents go to.
    #[arg(long, default_value = opensearch::DEFAULT_INDEX)]
    index: String,
    /// OpenSearch base URL to post to (`/_bulk` is appended); credentials may be in the
    /// userinfo or in OPEN_SEARCH_DB_USERNAME / OPEN_SEARCH_DB_PASSWORD.
    #[arg(
        long = "opensearch-url",
        env = "OPEN_SEARCH_DB_BASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    url: Option<String>,
    /// Documents per bulk request when posting.
    #[arg(long, default_value_t = opensearch::DEFAULT_BATCH as u64, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    batch_size: u64,
    #[command(flatten)]
    db: DbArgs,
}

/// Runs the export. Exit 0, 2 on a bad argument or unknown run, 3 when the database or the
/// upload fails.
pub fn run(args: ExportArgs) -> ExitCode {
    match args.target {
        ExportTarget::Opensearch(a) => opensearch_export(a),
    }
}

fn opensearch_export(args: OpenSearchArgs) -> ExitCode {
    let fail = |code: u8, msg: String| {
        say!("error: {msg}");
        ExitCode::from(code)
    };
    let since = match args.since.as_deref().map(parse_since).transpose() {
        Ok(s) => s,
        Err(e) => return fail(exit::USAGE, e),
    };
    let mut store = match args.db.open(true) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let runs = match store.runs(since, None) {
        Ok(r) => r,
        Err(e) => return fail(exit::INFRA, e.to_string()),
    };
    let selected: Vec<_> = match (&args.run, since) {
        (Some(id), _) => runs.into_iter().filter(|r| r.run_id == *id).collect(),
        (None, Some(_)) => runs,
        (None, None) => runs.into_iter().last().into_iter().collect(),
    };
    if selected.is_empty() {
        return fail(
            exit::USAGE,
            match &args.run {
                Some(id) => format!("run `{id}` is not in {}", redact_url(&args.db.location())),
                None => format!("no runs in {}", redact_url(&args.db.location())),
            },
        );
    }
    let mut rows = Vec::new();
    for r in &selected {
        match store.history(&HistoryQuery {
            run_id: Some(r.run_id.clone()),
            ..HistoryQuery::default()
        }) {
            Ok(mut h) => rows.append(&mut h),
            Err(e) => return fail(exit::INFRA, e.to_string()),
        }
    }
    let docs = opensearch::documents(&rows, &selected);
    let body = opensearch::to_ndjson(&args.index, &docs);
    if let Some(path) = &args.output_file {
        if let Err(e) = std::fs::write(path, &body) {
            return fail(exit::INFRA, format!("{}: {e}", path.display()));
        }
        say!("{} documents written to {}", docs.len(), path.display());
    } else if args.url.is_none() {
        crate::suite::print(&body);
    }
    if let Some(url) = args.url.as_deref().filter(|u| !u.is_empty()) {
        let batch = usize::try_from(args.batch_size).unwrap_or(usize::MAX);
        match opensearch::post_documents(url, &args.index, &docs, batch, Retry::default()) {
            Ok(s) => say!(
                "{} documents posted to {} ({} request{})",
                s.accepted,
                redact_url(url),
                s.attempts,
                if s.attempts == 1 { "" } else { "s" }
            ),
            Err(e) => return fail(exit::INFRA, e.to_string()),
        }
    }
    ExitCode::from(exit::OK)
}
