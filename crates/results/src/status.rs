//! Reading the orchestrator's `status.jsonl` (SPEC 6.2): JSON lines of stage changes, readiness
//! counts, the current concurrency and errors.
//!
//! The orchestrator (`servebench-exec`) writes objects tagged by `event`: `stage`, `readiness`,
//! `concurrency` (`c`, `k`, `n`, `repeat`: a client run begins), `accuracy`, `warning`, `error`
//! (`message`: a problem that does not end the job by itself, such as a client run that
//! failed) and, last, `finished` (`ok`, `code`, `kind`, `reason`). A `finished` event is
//! authoritative. `error` events are attached to the client run they follow.
//!
//! Without a `finished` event (the job was killed, or another writer), the reader falls back
//! to tolerant heuristics: it reads whatever objects are there and ignores the rest (partial
//! last line, non-JSON lines, unknown keys). What it looks for in each object:
//! - time: `ts`, `time`, `timestamp`, `t` or `at`, as Unix seconds (milliseconds when above
//!   1e12) or an RFC 3339 string;
//! - the event: `stage`, `state`, `event`, `kind`, `type`, `status` or `phase` (string);
//! - failure: a stage or state named `failed`, `failure`, `fail`, `timeout`, `timed_out`,
//!   `cancelled`, `canceled`, `aborted` or `crashed`; a non-empty `error` field; `ok: false`;
//!   or a non-zero `exit_code`/`code`/`rc` (an event named `error` is not, by itself, a failure);
//! - success: an event named `done`, `finished`, `complete`, `completed`, `success`,
//!   `succeeded` or `passed` without any failure sign;
//! - the reason: `reason`, `error` (a string or an object's `message`), `message`, `detail` or
//!   `msg` of the first failing event (later errors are usually teardown noise).

use serde_json::{Map, Value};

/// What a status file says about the job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusSummary {
    /// Objects read.
    pub events: usize,
    /// Lines that were not JSON objects.
    pub unreadable: usize,
    /// Some event reported a failure.
    pub failed: bool,
    /// Some event reported success (and none a failure).
    pub succeeded: bool,
    /// The first failure's reason (or its event name when it gave none).
    pub reason: Option<String>,
    /// The failure class of a `finished` event (`health_timeout`, `role_exited`, `client`, ...).
    pub failure_kind: Option<String>,
    /// A `finished` event was seen.
    pub finished: bool,
    /// Messages of `error` events, with the client run (concurrency, repeat) they followed.
    pub errors: Vec<(Option<(u64, u64)>, String)>,
    /// The last client run (concurrency, repeat) that began, per `concurrency` events.
    pub last_run: Option<(u64, u64)>,
    /// The last stage seen.
    pub last_stage: Option<String>,
    /// Unix time of the first and last timestamped events.
    pub first_ts: Option<f64>,
    /// See `first_ts`.
    pub last_ts: Option<f64>,
}

impl StatusSummary {
    /// Seconds between the first and last timestamped events.
    pub fn duration_s(&self) -> Option<f64> {
        let d = self.last_ts? - self.first_ts?;
        (d.is_finite() && d >= 0.0).then_some(d)
    }
}

const FAIL_WORDS: [&str; 9] = [
    "failed",
    "failure",
    "fail",
    "timeout",
    "timed_out",
    "cancelled",
    "canceled",
    "aborted",
    "crashed",
];
const DONE_WORDS: [&str; 7] = [
    "done",
    "finished",
    "complete",
    "completed",
    "success",
    "succeeded",
    "passed",
];

fn stage_of(o: &Map<String, Value>) -> Option<String> {
    ["stage", "state", "event", "kind", "type", "status", "phase"]
        .iter()
        .find_map(|k| o.get(*k).and_then(Value::as_str))
        .map(|s| s.trim().to_lowercase())
}

fn ts_of(o: &Map<String, Value>) -> Option<f64> {
    ["ts", "time", "timestamp", "t", "at"]
        .iter()
        .find_map(|k| match o.get(*k)? {
            Value::Number(n) => {
                let v = n.as_f64()?;
                Some(if v > 1e12 { v / 1000.0 } else { v })
            }
            Value::String(s) => rfc3339(s),
            _ => None,
        })
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Object(m) => ["message", "reason", "detail", "msg"]
            .iter()
            .find_map(|k| m.get(*k).and_then(text_of)),
        _ => None,
    }
}

fn reason_of(o: &Map<String, Value>) -> Option<String> {
    ["reason", "error", "message", "detail", "msg"]
        .iter()
        .find_map(|k| o.get(*k).and_then(text_of))
}

fn failure_sign(o: &Map<String, Value>, stage: Option<&str>) -> bool {
    let by_stage = stage.is_some_and(|s| {
        FAIL_WORDS.contains(&s) || s.ends_with("_failed") || s.ends_with("_error")
    });
    let by_error = o.get("error").is_some_and(|e| match e {
        Value::Null | Value::Bool(false) => false,
        Value::String(s) => !s.trim().is_empty(),
        _ => true,
    });
    let by_ok = o.get("ok") == Some(&Value::Bool(false));
    let by_code = ["exit_code", "code", "rc"]
        .iter()
        .any(|k| o.get(*k).and_then(Value::as_i64).is_some_and(|c| c != 0));
    by_stage || by_error || by_ok || by_code
}

/// Summarises a status file's text.
pub fn read_status(text: &str) -> StatusSummary {
    let mut s = StatusSummary::default();
    let mut run: Option<(u64, u64)> = None;
    let mut finished: Option<(bool, Option<String>, Option<String>)> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Ok(Value::Object(o)) = serde_json::from_str::<Value>(line) else {
            s.unreadable += 1;
            continue;
        };
        s.events += 1;
        if let Some(t) = ts_of(&o) {
            s.first_ts.get_or_insert(t);
            s.last_ts = Some(t);
        }
        match o.get("event").and_then(Value::as_str) {
            Some("finished") => {
                let ok = o
                    .get("ok")
                    .and_then(Value::as_bool)
                    .unwrap_or_else(|| o.get("code").and_then(Value::as_i64) == Some(0));
                let kind = o.get("kind").and_then(Value::as_str).map(str::to_string);
                let reason = o.get("reason").and_then(text_of).or_else(|| {
                    o.get("code")
                        .and_then(Value::as_i64)
                        .map(|c| format!("job exited with code {c}"))
                });
                finished = Some((ok, kind, reason));
                continue;
            }
            Some("error") => {
                if let Some(m) = reason_of(&o) {
                    s.errors.push((run, m));
                }
                continue;
            }
            Some("concurrency") => {
                let get = |k: &str| o.get(k).and_then(Value::as_u64);
                run = get("c").map(|c| (c, get("repeat").unwrap_or(0)));
                s.last_run = run.or(s.last_run);
                continue;
            }
            Some("stage") => {
                if let Some(st) = o.get("stage").and_then(Value::as_str) {
                    s.last_stage = Some(st.to_string());
                    if st != "benchmark" {
                        run = None;
                    }
                }
                continue;
            }
            Some("readiness" | "accuracy" | "warning") => continue,
            _ => {}
        }
        let stage = stage_of(&o);
        if failure_sign(&o, stage.as_deref()) {
            if !s.failed {
                s.reason = reason_of(&o).or_else(|| stage.clone().map(|st| format!("job {st}")));
            }
            s.failed = true;
        } else if stage.as_deref().is_some_and(|st| DONE_WORDS.contains(&st)) {
            s.succeeded = true;
        }
        if stage.is_some() {
            s.last_stage = stage;
        }
    }
    if let Some((ok, kind, reason)) = finished {
        s.finished = true;
        s.failed = !ok;
        s.succeeded = ok;
        if !ok {
            s.reason = reason
                .or_else(|| kind.as_ref().map(|k| format!("job failed ({k})")))
                .or_else(|| Some("the job failed".into()));
        }
        s.failure_kind = kind.filter(|_| !ok);
    }
    if s.failed {
        s.succeeded = false;
    }
    s
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)` (space also accepted for `T`) to Unix seconds.
pub fn rfc3339(s: &str) -> Option<f64> {
    let s = s.trim();
    let num = |a: usize, b: usize| -> Option<i64> {
        let t = s.get(a..b)?;
        t.chars()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, se) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if s.get(4..5)? != "-" || s.get(7..8)? != "-" || !matches!(s.get(10..11)?, "T" | "t" | " ") {
        return None;
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    let mut frac = 0.0;
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.chars().take_while(char::is_ascii_digit).count();
        frac = format!("0.{}", r.get(..n)?).parse().ok()?;
        rest = r.get(n..)?;
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        r => {
            let sign = match r.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let oh: i64 = r.get(1..3)?.parse().ok()?;
            let om: i64 = r.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + se - offset) as f64 + frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orchestrator_events() {
        let t = r#"{"event":"stage","ts":1000.0,"stage":"starting"}
{"event":"readiness","ts":1001.0,"text":"ctx 1/1 gen 1/1","ready":{"ctx":[1,1]}}
{"event":"stage","ts":1002.0,"stage":"benchmark"}
{"event":"concurrency","ts":1002.0,"c":8,"k":1,"n":2,"repeat":0}
{"event":"error","ts":1010.0,"message":"client at concurrency 8 failed (exit code 1)"}
{"event":"concurrency","ts":1011.0,"c":16,"k":2,"n":2,"repeat":0}
{"event":"stage","ts":1020.0,"stage":"teardown"}
{"event":"error","ts":1021.0,"message":"late"}
{"event":"finished","ts":1030.0,"code":5,"ok":false,"kind":"client","reason":"client failed at concurrency 8"}
"#;
        let s = read_status(t);
        assert!(s.finished && s.failed && !s.succeeded);
        assert_eq!(s.failure_kind.as_deref(), Some("client"));
        assert_eq!(s.reason.as_deref(), Some("client failed at concurrency 8"));
        assert_eq!(
            s.errors,
            vec![
                (
                    Some((8, 0)),
                    "client at concurrency 8 failed (exit code 1)".to_string()
                ),
                (None, "late".to_string())
            ]
        );
        assert_eq!(s.last_stage.as_deref(), Some("teardown"));
        assert_eq!(s.duration_s(), Some(30.0));
        let ok = read_status(
            r#"{"event":"finished","ts":1.0,"code":0,"ok":true,"kind":null,"reason":null}"#,
        );
        assert!(ok.succeeded && !ok.failed && ok.reason.is_none());
    }

    #[test]
    fn times() {
        assert_eq!(rfc3339("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(rfc3339("2026-11-30T00:20:00Z"), Some(1_795_998_000.0));
        assert_eq!(
            rfc3339("2026-11-30T01:20:00.5+01:00"),
            Some(1_795_998_000.5)
        );
        assert_eq!(rfc3339("2026-11-30 00:20:00"), Some(1_795_998_000.0));
        assert_eq!(rfc3339("yesterday"), None);
        assert_eq!(rfc3339("2026-13-01T00:00:00Z"), None);
    }

    #[test]
    fn failure_reason_is_the_first() {
        let t = r#"{"ts": 100, "stage": "starting"}
{"ts": 101.5, "stage": "ready", "ctx": "1/1"}
not json
{"ts": 130, "stage": "failed", "reason": "GEN_0 exited with code 1 (CUDA out of memory)"}
{"ts": 131, "stage": "teardown", "error": "router: connection refused"}
{"ts": 140, "sta"#;
        let s = read_status(t);
        assert!(s.failed && !s.succeeded);
        assert_eq!(
            s.reason.as_deref(),
            Some("GEN_0 exited with code 1 (CUDA out of memory)")
        );
        assert_eq!(s.events, 4);
        assert_eq!(s.unreadable, 2);
        assert_eq!(s.duration_s(), Some(31.0));
    }

    #[test]
    fn success_and_other_spellings() {
        let s = read_status(
            "{\"time\": \"2026-01-01T00:00:00Z\", \"event\": \"start\"}\n{\"time\": \"2026-01-01T00:01:00Z\", \"event\": \"done\", \"exit_code\": 0}\n",
        );
        assert!(s.succeeded && !s.failed);
        assert_eq!(s.duration_s(), Some(60.0));
        let s = read_status("{\"event\": \"exit\", \"exit_code\": 3}\n");
        assert!(s.failed);
        assert_eq!(s.reason.as_deref(), Some("job exit"));
        let s = read_status(
            "{\"stage\": \"health\", \"error\": {\"message\": \"timeout after 1800 s\"}}",
        );
        assert_eq!(s.reason.as_deref(), Some("timeout after 1800 s"));
    }
}
