//! Finding JSON objects in noisy, truncated text.
//!
//! Result files are JSON, JSON lines, or (in posted logs) JSON embedded in other output, and
//! Python writes `Infinity`/`NaN`, which JSON lacks. [`objects`] finds every top-level object,
//! reads non-finite literals as `null`, and repairs an object cut short: it keeps the members
//! before the last comma and closes the open containers; such an object is marked incomplete.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// One object found, and whether it was whole.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Found {
    pub value: Map<String, Value>,
    pub complete: bool,
}

/// Upper bound on failed attempts, so garbage full of `{` stays linear enough.
const MAX_ATTEMPTS: usize = 256;

/// Replaces the bare words `Infinity`, `-Infinity` and `NaN` outside strings with `null`.
pub(crate) fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.contains("Infinity") && !text.contains("NaN") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut in_str = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            rest = rest.get(c.len_utf8()..).unwrap_or("");
            continue;
        }
        if c == '"' {
            in_str = true;
            out.push(c);
            rest = rest.get(1..).unwrap_or("");
            continue;
        }
        let prev_word = out.chars().next_back().is_some_and(is_word);
        let mut replaced = false;
        if !prev_word {
            for word in ["-Infinity", "Infinity", "NaN"] {
                if let Some(after) = rest.strip_prefix(word)
                    && !after.chars().next().is_some_and(is_word)
                {
                    out.push_str("null");
                    rest = after;
                    replaced = true;
                    break;
                }
            }
        }
        if !replaced {
            out.push(c);
            rest = rest.get(c.len_utf8()..).unwrap_or("");
        }
    }
    Cow::Owned(out)
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Scans from an opening `{` at `start`: the index just past its matching `}`, or, when the
/// text ends first, the last cut point (end of the last member before a comma) with the
/// closers it needs.
enum Scan {
    Closed(usize),
    Truncated(Option<(usize, String)>),
}

/// Deepest nesting worth scanning: serde_json refuses anything deeper (its recursion limit is
/// 128), so a deeper candidate is given up at once instead of scanned to the end of the text.
const MAX_DEPTH: usize = 128;

fn scan(bytes: &[u8], start: usize) -> Scan {
    let mut stack: Vec<u8> = Vec::new();
    let mut in_str = false;
    let mut escaped = false;
    // Only the position of the last cut: its closers are rebuilt once at the end, since
    // collecting them at every comma was quadratic (`{[[[[…,,,,…`).
    let mut cut: Option<usize> = None;
    let mut i = start;
    while let Some(&b) = bytes.get(i) {
        if in_str {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_str = false;
            }
        } else {
            match b {
                b'"' => in_str = true,
                b'{' | b'[' => {
                    if stack.len() >= MAX_DEPTH {
                        return Scan::Truncated(None);
                    }
                    stack.push(if b == b'{' { b'}' } else { b']' });
                }
                b'}' | b']' => {
                    if stack.pop() != Some(b) {
                        // Mismatched: not JSON from here.
                        return Scan::Truncated(None);
                    }
                    if stack.is_empty() {
                        return Scan::Closed(i + 1);
                    }
                }
                b',' => cut = Some(i),
                _ => {}
            }
        }
        i += 1;
    }
    Scan::Truncated(cut.map(|at| (at, closers(bytes.get(start..at).unwrap_or_default()))))
}

/// The closers the containers open at the end of `prefix` need, innermost first.
fn closers(prefix: &[u8]) -> String {
    let mut stack: Vec<u8> = Vec::new();
    let mut in_str = false;
    let mut escaped = false;
    for &b in prefix {
        if in_str {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_str = false;
            }
        } else {
            match b {
                b'"' => in_str = true,
                b'{' => stack.push(b'}'),
                b'[' => stack.push(b']'),
                b'}' | b']' => {
                    stack.pop();
                }
                _ => {}
            }
        }
    }
    stack.iter().rev().map(|&c| c as char).collect()
}

/// Every top-level JSON object in `text`, in order.
pub(crate) fn objects(text: &str) -> Vec<Found> {
    let text = sanitize(text);
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut attempts = 0;
    while let Some(off) = bytes
        .get(i..)
        .and_then(|b| b.iter().position(|&c| c == b'{'))
    {
        let start = i + off;
        if attempts >= MAX_ATTEMPTS {
            break;
        }
        match scan(bytes, start) {
            Scan::Closed(end) => {
                match text
                    .get(start..end)
                    .map(serde_json::from_str::<Map<String, Value>>)
                {
                    Some(Ok(value)) => {
                        out.push(Found {
                            value,
                            complete: true,
                        });
                        i = end;
                    }
                    _ => {
                        attempts += 1;
                        i = start + 1;
                    }
                }
            }
            Scan::Truncated(cut) => {
                attempts += 1;
                if let Some((at, closers)) = cut
                    && let Some(prefix) = text.get(start..at)
                {
                    let repaired = format!("{prefix}{closers}");
                    if let Ok(value) = serde_json::from_str::<Map<String, Value>>(&repaired) {
                        out.push(Found {
                            value,
                            complete: false,
                        });
                        // The rest of the text is inside this object.
                        break;
                    }
                }
                i = start + 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_words_outside_strings_only() {
        assert_eq!(
            sanitize(
                r#"{"a": Infinity, "b": -Infinity, "c": NaN, "d": "NaN Infinity", "e": NaNx}"#
            ),
            r#"{"a": null, "b": null, "c": null, "d": "NaN Infinity", "e": NaNx}"#
        );
    }

    #[test]
    fn finds_objects_in_noise_and_repairs_truncation() {
        let t = "noise {not json}\n{\"a\": 1, \"b\": {\"c\": [1, 2]}}\nmore\n{\"x\": 1, \"y\": {\"z\": 2, \"w\": 3.";
        let f = objects(t);
        assert_eq!(f.len(), 2);
        assert!(f[0].complete);
        assert_eq!(f[0].value["b"]["c"][1], 2);
        assert!(!f[1].complete);
        assert_eq!(f[1].value["y"]["z"], 2);
        assert!(f[1].value["y"].get("w").is_none());
    }

    #[test]
    fn nothing_from_garbage() {
        for t in ["", "{", "{{{{", "}{", "{\"a", "[1,2]", "{,}"] {
            let _ = objects(t);
        }
        assert!(objects("{\"a").is_empty());
    }

    /// Regressions found by `tests/it/garbage.rs`: `{` + 20 000 `[` + 20 000 `,` (40 KB) took
    /// 50 s, the closers being collected at every comma; 1 MB of `{"a":[` took 10 s, 256
    /// candidates each scanned to the end of the text.
    #[test]
    fn comma_heavy_and_deep_garbage_stays_linear() {
        let t = std::time::Instant::now();
        assert!(objects(&format!("{{{}{}", "[".repeat(20_000), ",".repeat(20_000))).is_empty());
        assert!(objects(&"{\"a\":[".repeat(1 << 17)).is_empty());
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            t.elapsed()
        );
        // Repair still closes what is open at the last cut, nested as it was.
        let f = objects("{\"a\": [1, {\"b\": [2, 3], \"c\": 4}, 5], \"d\": {\"e\": [6, 7");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].value["a"][1]["c"], 4);
        assert_eq!(f[0].value["d"]["e"][0], 6);
    }
}
