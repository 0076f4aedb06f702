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

fn scan(bytes: &[u8], start: usize) -> Scan {
    let mut stack: Vec<u8> = Vec::new();
    let mut in_str = false;
    let mut escaped = false;
    let mut cut: Option<(usize, String)> = None;
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
                b'{' => stack.push(b'}'),
                b'[' => stack.push(b']'),
                b'}' | b']' => {
                    if stack.pop() != Some(b) {
                        // Mismatched: not JSON from here.
                        return Scan::Truncated(None);
                    }
                    if stack.is_empty() {
                        return Scan::Closed(i + 1);
                    }
                }
                b',' => {
                    let closers: String = stack.iter().rev().map(|&c| c as char).collect();
                    cut = Some((i, closers));
                }
                _ => {}
            }
        }
        i += 1;
    }
    Scan::Truncated(cut)
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
}
