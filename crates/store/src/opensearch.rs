//! The OpenSearch export in upstream's perf-sanity document shape (SPEC 11.1): one document per
//! (run, test, concurrency, repeat), field names typed by prefix as upstream's dashboards expect
//! them: `s_` strings, `l_` integers, `d_` doubles (every metric, under its perf-sanity name:
//! `d_token_throughput`, `d_median_ttft`, ...), `b_` booleans, `ts_` epoch milliseconds.
//!
//! [`to_ndjson`] writes the `_bulk` body (an `index` action with a deterministic `_id` before
//! each document, so posting the same run twice replaces rather than duplicates). [`post_bulk`]
//! sends it to `OPEN_SEARCH_DB_BASE_URL` with retries and backoff and reports each rejected
//! document. Credentials (URL userinfo, or `OPEN_SEARCH_DB_USERNAME`/`OPEN_SEARCH_DB_PASSWORD`)
//! go into an `Authorization` header and never into a message: every URL in an error is
//! redacted.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::error::{Error, redact_url};
use crate::metric_names::perf_sanity_name;
use crate::model::{HistoryRow, RunRow};

/// Default index name.
pub const DEFAULT_INDEX: &str = "servebench-perf-sanity";

/// The documents of some history rows: grouped by (run, test, concurrency, repeat), in order.
/// `runs` supplies each run's environment (rows of runs missing there get only what the rows
/// carry).
pub fn documents(rows: &[HistoryRow], runs: &[RunRow]) -> Vec<(String, Value)> {
    let runs: BTreeMap<&str, &RunRow> = runs.iter().map(|r| (r.run_id.as_str(), r)).collect();
    let mut docs: Vec<(String, Map<String, Value>)> = Vec::new();
    // Rows of one document need not be adjacent (an imported CSV may interleave them).
    let mut slot: HashMap<String, usize> = HashMap::new();
    for row in rows {
        let id = format!(
            "{}|{}|{}|{}",
            row.run_id, row.test_id, row.concurrency, row.repeat
        );
        let i = *slot.entry(id.clone()).or_insert_with(|| {
            docs.push((
                id,
                base_document(row, runs.get(row.run_id.as_str()).copied()),
            ));
            docs.len() - 1
        });
        if let Some((_, doc)) = docs.get_mut(i) {
            doc.insert(
                format!("d_{}", perf_sanity_name(&row.metric)),
                json!(row.value),
            );
            if !row.valid {
                doc.insert("b_is_valid".into(), json!(false));
            }
        }
    }
    docs.into_iter()
        .map(|(id, d)| (id, Value::Object(d)))
        .collect()
}

fn base_document(row: &HistoryRow, run: Option<&RunRow>) -> Map<String, Value> {
    let mut d = Map::new();
    let mut s = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            d.insert(format!("s_{k}"), json!(v));
        }
    };
    s("run_id", Some(&row.run_id));
    s("branch", row.label.as_deref());
    s("test_name", Some(&row.test_id));
    s(
        "fingerprint",
        Some(&row.fingerprint)
            .filter(|f| !f.is_empty())
            .map(String::as_str),
    );
    s("verdict", row.verdict.as_deref());
    s("model_name", row.model.as_deref());
    s("gpu_type", row.gpu_type.as_deref());
    if let Some(run) = run {
        let env = &run.environment;
        s("commit", run.config_commit.as_deref());
        s("cluster", run.cluster.as_deref());
        s("executor", Some(&run.executor));
        s("engine", env.engine.as_deref());
        s("engine_version", env.engine_version.as_deref());
        s("image", env.image.as_deref());
        let nodes = env.nodes.join(",");
        s("nodes", Some(nodes.as_str()).filter(|n| !n.is_empty()));
    }
    d.insert("l_concurrency".into(), json!(row.concurrency));
    d.insert("l_repeat".into(), json!(row.repeat));
    if let Some(c) = row.sm_clock_mhz {
        d.insert("l_sm_clk".into(), json!(c));
    }
    if let Some(c) = row.mem_clock_mhz {
        d.insert("l_mem_clk".into(), json!(c));
    }
    d.insert("b_is_valid".into(), json!(true));
    d.insert("ts_created".into(), json!(row.measured_at.as_millisecond()));
    d
}

/// The `_bulk` request body: an `index` action line, then the document line, per document.
pub fn to_ndjson(index: &str, docs: &[(String, Value)]) -> String {
    let mut out = String::new();
    for (id, doc) in docs {
        out.push_str(&json!({"index": {"_index": index, "_id": id}}).to_string());
        out.push('\n');
        out.push_str(&doc.to_string());
        out.push('\n');
    }
    out
}

/// How [`post_bulk`] retries.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// Wait before the second attempt; doubled each time.
    pub first_backoff: Duration,
    /// Timeout of each request.
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 5,
            first_backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(60),
        }
    }
}

/// What an upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSummary {
    /// Documents accepted.
    pub accepted: usize,
    /// Requests made (one per batch, plus retries).
    pub attempts: u32,
}

/// Credentials from the URL's userinfo, else from the environment.
struct Target {
    /// The URL without userinfo, ending in `/_bulk`.
    bulk_url: String,
    /// `Basic ...` when credentials were given.
    authorization: Option<String>,
}

fn target(base_url: &str, env_user: Option<String>, env_password: Option<String>) -> Target {
    let (scheme, rest) = base_url.split_once("://").unwrap_or(("http", base_url));
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let credentials = match userinfo {
        Some(u) => {
            let (user, pass) = u.split_once(':').unwrap_or((u, ""));
            Some((percent_decode(user), percent_decode(pass)))
        }
        None => env_user.map(|u| (u, env_password.unwrap_or_default())),
    };
    let path = path.trim_end_matches('/');
    let bulk_path = if path.ends_with("/_bulk") {
        path.to_string()
    } else {
        format!("{path}/_bulk")
    };
    Target {
        bulk_url: format!("{scheme}://{host}{bulk_path}"),
        authorization: credentials.map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        }),
    }
}

/// `%XX` escapes in URL userinfo.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Documents per `_bulk` request by default (OpenSearch refuses bodies over 100 MB by default;
/// 5,000 perf documents are well under 10 MB).
pub const DEFAULT_BATCH: usize = 5_000;

/// Posts `docs` to `<base_url>/_bulk` in requests of `batch` documents (see [`post_bulk`]).
/// Stops at the first request that fails, saying how many documents were accepted before it.
pub fn post_documents(
    base_url: &str,
    index: &str,
    docs: &[(String, Value)],
    batch: usize,
    retry: Retry,
) -> Result<UploadSummary, Error> {
    let mut total = UploadSummary {
        accepted: 0,
        attempts: 0,
    };
    for chunk in docs.chunks(batch.max(1)) {
        match post_bulk(base_url, &to_ndjson(index, chunk), retry) {
            Ok(s) => {
                total.accepted += s.accepted;
                total.attempts += s.attempts;
            }
            Err(Error::Upload { target, detail }) if total.accepted > 0 => {
                return Err(Error::Upload {
                    target,
                    detail: format!(
                        "{detail}\n({} of {} documents were accepted by earlier requests)",
                        total.accepted,
                        docs.len()
                    ),
                });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

/// Posts `body` (from [`to_ndjson`]) to `<base_url>/_bulk`. Transport errors, 429 and 5xx are
/// retried with exponential backoff; any other status fails at once. A 2xx reply whose items
/// carry errors fails with each rejected document's id, status and reason.
pub fn post_bulk(base_url: &str, body: &str, retry: Retry) -> Result<UploadSummary, Error> {
    let t = target(
        base_url,
        std::env::var("OPEN_SEARCH_DB_USERNAME").ok(),
        std::env::var("OPEN_SEARCH_DB_PASSWORD").ok(),
    );
    let shown = redact_url(base_url);
    let fail = |detail: String| Error::Upload {
        target: shown.clone(),
        detail,
    };
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(retry.timeout))
            .build(),
    );
    let attempts = retry.attempts.max(1);
    let mut backoff = retry.first_backoff;
    let mut last = String::new();
    for attempt in 1..=attempts {
        if attempt > 1 {
            std::thread::sleep(backoff);
            backoff = backoff.saturating_mul(2);
        }
        let mut req = agent
            .post(&t.bulk_url)
            .header("Content-Type", "application/x-ndjson");
        if let Some(auth) = &t.authorization {
            req = req.header("Authorization", auth);
        }
        let mut resp = match req.send(body) {
            Ok(r) => r,
            Err(e) => {
                // ureq's message names the host (never the credentials, which are not in the
                // URL it was given); redact anyway in case a proxy echoes one.
                last = format!("attempt {attempt}: {}", redact_url(&e.to_string()));
                continue;
            }
        };
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        if status == 429 || status >= 500 {
            last = format!("attempt {attempt}: HTTP {status}");
            continue;
        }
        if !(200..300).contains(&status) {
            return Err(fail(format!(
                "HTTP {status}: {}",
                text.chars().take(300).collect::<String>()
            )));
        }
        return bulk_items(&text)
            .map(|accepted| UploadSummary {
                accepted,
                attempts: attempt,
            })
            .map_err(fail);
    }
    Err(fail(format!(
        "gave up after {attempts} attempts; last: {last}"
    )))
}

/// Counts accepted items of a `_bulk` reply, or lists the rejected ones.
fn bulk_items(text: &str) -> Result<usize, String> {
    let reply: Value =
        serde_json::from_str(text).map_err(|e| format!("the reply is not JSON: {e}"))?;
    let items = reply
        .get("items")
        .and_then(Value::as_array)
        .ok_or("the reply has no `items`: not an OpenSearch _bulk reply")?;
    let mut rejected = Vec::new();
    for item in items {
        let Some(result) = item.as_object().and_then(|o| o.values().next()) else {
            continue;
        };
        if let Some(err) = result.get("error") {
            let id = result.get("_id").and_then(Value::as_str).unwrap_or("?");
            let status = result.get("status").and_then(Value::as_u64).unwrap_or(0);
            let reason = err
                .get("reason")
                .and_then(Value::as_str)
                .map_or_else(|| err.to_string(), str::to_string);
            rejected.push(format!("document {id}: HTTP {status}: {reason}"));
        }
    }
    if rejected.is_empty() {
        Ok(items.len())
    } else {
        Err(format!(
            "{} of {} documents rejected:\n  {}",
            rejected.len(),
            items.len(),
            rejected.join("\n  ")
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_the_url_for_a_header() {
        let t = target("https://bob:p%40ss@os.example:9200/perf/", None, None);
        assert_eq!(t.bulk_url, "https://os.example:9200/perf/_bulk");
        let expected = base64::engine::general_purpose::STANDARD.encode("bob:p@ss");
        assert_eq!(t.authorization, Some(format!("Basic {expected}")));
        let t = target("http://os:9200", Some("u".into()), Some("pw".into()));
        assert_eq!(t.bulk_url, "http://os:9200/_bulk");
        assert!(t.authorization.is_some());
        assert_eq!(
            target("http://os:9200/_bulk", None, None).authorization,
            None
        );
    }

    fn row(concurrency: i64, metric: &str, value: f64, valid: bool) -> HistoryRow {
        HistoryRow {
            run_id: "r1".into(),
            label: Some("main".into()),
            test_id: "t".into(),
            fingerprint: String::new(),
            fingerprint_changed: false,
            concurrency,
            repeat: 0,
            metric: metric.into(),
            value,
            measured_at: jiff::Timestamp::UNIX_EPOCH,
            valid,
            verdict: None,
            source_name: None,
            command: None,
            test_started_at: None,
            test_ended_at: None,
            duration_s: None,
            model: None,
            precision: None,
            case_name: None,
            gpu_type: Some("GB200".into()),
            sm_clock_mhz: None,
            mem_clock_mhz: None,
        }
    }

    #[test]
    fn one_document_per_point_even_when_rows_interleave() {
        let rows = [
            row(4, "median_ttft_ms", 1.5, true),
            row(8, "median_ttft_ms", 2.5, true),
            row(4, "output_token_throughput", 900.0, false),
        ];
        let docs = documents(&rows, &[]);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].0, "r1|t|4|0");
        let d = &docs[0].1;
        assert_eq!(d["d_median_ttft"], 1.5);
        assert_eq!(d["d_token_throughput"], 900.0);
        assert_eq!(d["b_is_valid"], false);
        assert_eq!(d["s_gpu_type"], "GB200");
        assert_eq!(d["ts_created"], 0);
        assert_eq!(docs[1].1["b_is_valid"], true);
        let body = to_ndjson("idx", &docs);
        assert_eq!(body.lines().count(), 4);
        assert!(
            body.starts_with(r#"{"index":{"_id":"r1|t|4|0","_index":"idx"}}"#),
            "{body}"
        );
    }

    #[test]
    fn rejected_items_are_listed() {
        let ok = r#"{"errors":false,"items":[{"index":{"_id":"a","status":201}}]}"#;
        assert_eq!(bulk_items(ok), Ok(1));
        let bad = r#"{"errors":true,"items":[{"index":{"_id":"a","status":201}},
            {"index":{"_id":"b","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [d_x]"}}}]}"#;
        let e = bulk_items(bad).unwrap_err();
        assert!(e.contains("1 of 2 documents rejected"), "{e}");
        assert!(
            e.contains("document b: HTTP 400: failed to parse field [d_x]"),
            "{e}"
        );
    }
}
