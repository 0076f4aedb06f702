//! `servebench history`: stored measurements over time, newest last, with config changes
//! marked. Also holds the `--db` resolution shared by `import` and `export`.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use jiff::{SignedDuration, Timestamp};
use servebench_config::select::Expr;
use servebench_store::{CsvRow, HistoryQuery, HistoryRow, Location, Store, canonical_metric};

use crate::exit;
use crate::suite::print;

/// Where the history database is: `--db`, else `SERVEBENCH_DB`, else
/// `<output>/servebench.db`.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// History database: a file path, `sqlite:PATH` or `postgres://user@host/db`
    /// [default: <output>/servebench.db].
    #[arg(
        long,
        env = "SERVEBENCH_DB",
        value_name = "URL",
        hide_env_values = true
    )]
    pub(crate) db: Option<String>,
    #[command(flatten)]
    pub(crate) dir: crate::suite::OutputDir,
}

impl DbArgs {
    /// The database location as given or defaulted.
    pub(crate) fn location(&self) -> String {
        self.db.clone().unwrap_or_else(|| {
            self.dir
                .output
                .join("servebench.db")
                .to_string_lossy()
                .into_owned()
        })
    }

    /// Opens the database, printing the error (with credentials redacted) when it fails.
    /// With `must_exist`, a missing SQLite file is a usage error rather than a new empty
    /// history (readers should not create one).
    pub(crate) fn open(&self, must_exist: bool) -> Result<Box<dyn Store>, ExitCode> {
        let location = self.location();
        if must_exist
            && let Ok(loc) = Location::parse(&location)
            && !loc.exists()
        {
            say!(
                "error: no history database at {}: `servebench run` or `servebench import` creates it, or point --db / SERVEBENCH_DB at one",
                loc.display()
            );
            return Err(ExitCode::from(exit::USAGE));
        }
        servebench_store::open(&location).map_err(|e| {
            say!("error: {e}");
            ExitCode::from(match e {
                servebench_store::Error::Scheme { .. } | servebench_store::Error::Invalid(_) => {
                    exit::USAGE
                }
                _ => exit::INFRA,
            })
        })
    }
}

/// Output format of `history`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    /// Aligned text for people.
    #[default]
    Table,
    /// JSON with a `schema_version`, for tools.
    Json,
    /// Upstream's `perf_script_test_results.csv` columns.
    Csv,
}

/// Arguments of `servebench history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Keep tests whose id matches this expression (words are case-insensitive substrings,
    /// with `and`, `or`, `not` and parentheses, as `run -k`).
    #[arg(short = 'k', value_name = "EXPR")]
    keyword: Option<String>,
    /// Metric: a canonical name (`median_ttft_ms`) or an upstream one (`DISAGG_SERVER_TTFT`).
    #[arg(long, value_name = "M")]
    metric: Option<String>,
    /// Concurrency.
    #[arg(long, value_name = "C")]
    concurrency: Option<i64>,
    /// Measured at or after: `2026-11-01`, `2026-11-01T08:00:00Z`, or an age such as `30d`,
    /// `12h`.
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Runs with this label only (`main`, a branch).
    #[arg(long, value_name = "L")]
    label: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = HistoryFormat::Table)]
    format: HistoryFormat,
    #[command(flatten)]
    db: DbArgs,
}

/// Parses `--since`: an RFC 3339 time, a date (midnight UTC), or an age (`30d`, `12h`, `90m`)
/// before now.
pub(crate) fn parse_since(s: &str) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>()
        && let Ok(z) = d.to_zoned_datetime(jiff::tz::TimeZone::UTC)
    {
        return Ok(z.timestamp());
    }
    let age = s
        .char_indices()
        .last()
        .and_then(|(i, unit)| {
            let n: i64 = s.get(..i)?.parse().ok()?;
            let secs = match unit {
                'd' => 86_400,
                'h' => 3_600,
                'm' => 60,
                _ => return None,
            };
            Some(SignedDuration::from_secs(n.checked_mul(secs)?))
        })
        .and_then(|d| Timestamp::now().checked_sub(d).ok());
    age.ok_or_else(|| {
        format!(
            "--since `{s}` is not a date: use `2026-11-01`, `2026-11-01T08:00:00Z` or an age like `30d`"
        )
    })
}

/// Turns `-k` into a test filter (case-insensitive substring words).
pub(crate) fn keyword_filter(src: &str) -> Result<impl Fn(&str) -> bool, String> {
    let expr = Expr::parse(src).map_err(|e| format!("-k: {}", e.render(src)))?;
    Ok(move |test_id: &str| {
        let id = test_id.to_lowercase();
        expr.eval(&mut |w| id.contains(&w.to_lowercase()))
    })
}

/// Prints the matching history. Exit 0, 2 on a bad argument, 3 when the database fails.
pub fn run(args: HistoryArgs) -> ExitCode {
    let usage = |msg: String| {
        say!("error: {msg}");
        ExitCode::from(exit::USAGE)
    };
    let since = match args.since.as_deref().map(parse_since).transpose() {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let filter = match args.keyword.as_deref().map(keyword_filter).transpose() {
        Ok(f) => f,
        Err(e) => return usage(e),
    };
    let mut store = match args.db.open(true) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let filter_ref = filter.as_ref().map(|f| f as &dyn Fn(&str) -> bool);
    let query = HistoryQuery {
        test_filter: filter_ref,
        metric: args.metric.as_deref().map(canonical_metric),
        concurrency: args.concurrency,
        since,
        label: args.label.clone(),
        run_id: None,
    };
    let rows = match store.history(&query) {
        Ok(r) => r,
        Err(e) => {
            say!("error: {e}");
            return ExitCode::from(exit::INFRA);
        }
    };
    match args.format {
        HistoryFormat::Csv => {
            let csv: Vec<CsvRow> = rows.iter().map(CsvRow::from_history).collect();
            let mut out = std::io::stdout().lock();
            if let Err(e) = servebench_store::write_csv(&mut out, &csv) {
                say!("error: writing CSV: {e}");
                return ExitCode::from(exit::INFRA);
            }
        }
        HistoryFormat::Json => {
            let doc = serde_json::json!({"schema_version": 1, "measurements": rows});
            print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            ));
        }
        HistoryFormat::Table => {
            if rows.is_empty() {
                say!(
                    "no measurements match in {}",
                    servebench_store::redact_url(&args.db.location())
                );
            } else {
                print(&table(&rows));
            }
        }
    }
    ExitCode::from(exit::OK)
}

/// Aligns `lines` under `header` in columns two spaces apart: the columns in `right` (numbers)
/// right-aligned, the others left-aligned, trailing spaces trimmed.
pub(crate) fn aligned(header: &[&str], lines: &[Vec<String>], right: &[usize]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for l in lines {
        for (w, c) in widths.iter_mut().zip(l) {
            *w = (*w).max(c.chars().count());
        }
    }
    let render = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.zip(widths.iter().copied()).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            if right.contains(&i) {
                s.push_str(&format!("{c:>w$}"));
            } else {
                s.push_str(&format!("{c:<w$}"));
            }
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = render(&mut header.iter().copied());
    for l in lines {
        out.push_str(&render(&mut l.iter().map(String::as_str)));
    }
    out
}

/// The aligned table: one line per measurement; `*` in the first column marks the first run
/// after the test's config fingerprint changed.
fn table(rows: &[HistoryRow]) -> String {
    let header = [
        "", "MEASURED", "RUN", "LABEL", "TEST", "C", "METRIC", "VALUE", "VALID", "CONFIG",
    ];
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|h| {
            [
                if h.fingerprint_changed { "*" } else { "" }.to_string(),
                h.measured_at.strftime("%Y-%m-%d %H:%M").to_string(),
                h.run_id.clone(),
                h.label.clone().unwrap_or_else(|| "-".into()),
                h.test_id.clone(),
                h.concurrency.to_string(),
                h.metric.clone(),
                format!("{:.2}", h.value),
                if h.valid { "yes" } else { "no" }.to_string(),
                if h.fingerprint.is_empty() {
                    "-".to_string()
                } else {
                    h.fingerprint.chars().take(12).collect()
                },
            ]
            .into()
        })
        .collect();
    let mut out = aligned(&header, &lines, &[5, 7]);
    if rows.iter().any(|h| h.fingerprint_changed) {
        out.push_str("* the test's config changed since the previous run of this series\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_dates_times_and_ages() {
        assert_eq!(
            parse_since("2026-11-01").map(|t| t.to_string()),
            Ok("2026-11-01T00:00:00Z".to_string())
        );
        assert_eq!(
            parse_since("2026-11-01T08:30:00Z").map(|t| t.to_string()),
            Ok("2026-11-01T08:30:00Z".to_string())
        );
        let ago = parse_since("30d").unwrap();
        let expected = Timestamp::now() - SignedDuration::from_hours(24 * 30);
        assert!((ago - expected).abs() < SignedDuration::from_secs(5));
        assert!(parse_since("last tuesday").unwrap_err().contains("`30d`"));
        assert!(parse_since("99999999999999999d").is_err());
    }

    #[test]
    fn keyword_words_are_case_insensitive_substrings() {
        let f = keyword_filter("nixl and not MTP:3").unwrap();
        assert!(f("disagg_perf_file:r1_mtp:0_ccbackend:NIXL"));
        assert!(!f("disagg_perf_file:r1_mtp:3_ccbackend:NIXL"));
        assert!(keyword_filter("nixl and").is_err());
    }
}
