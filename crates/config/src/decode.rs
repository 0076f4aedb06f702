//! Typed reading of located YAML values, collecting diagnostics instead of failing fast.

use std::path::Path;

use crate::diag::{Diagnostic, Rule, did_you_mean};
use crate::yaml::{Node, Value, scalar_text};

/// Reads typed values out of a tree and records every problem against the file.
pub(crate) struct Decoder<'f> {
    pub file: &'f Path,
    pub diags: Vec<Diagnostic>,
}

/// Joins a section path and a key.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `server_configs.0.name` -> `server_configs[0].name`, for messages.
pub(crate) fn display_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    for (i, seg) in path.split('.').enumerate() {
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(seg);
            out.push(']');
        } else {
            if i > 0 {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

impl<'f> Decoder<'f> {
    pub fn new(file: &'f Path) -> Self {
        Decoder {
            file,
            diags: Vec::new(),
        }
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn wrong_type(&mut self, node: &Node, path: &str, expected: &str, example: &str) {
        let key = path.rsplit('.').next().unwrap_or(path);
        self.push(
            Diagnostic::new(
                Rule::WrongType,
                self.file,
                display_path(path),
                format!(
                    "`{}` must be {expected}, found {}",
                    display_path(path),
                    node.type_name()
                ),
            )
            .at(Some(node.span))
            .actual(describe(node))
            .expected(expected.to_string())
            .hint(format!("write e.g. `{key}: {example}`")),
        );
    }

    /// Reports keys of `node` (a mapping) that are not in `known`.
    pub fn check_keys(&mut self, node: &Node, path: &str, known: &[&str]) {
        let Some(entries) = node.as_map() else { return };
        for (k, _) in entries {
            let Some(key) = k.as_key() else { continue };
            if known.contains(&key) {
                continue;
            }
            let section = if path.is_empty() {
                "the top level".to_string()
            } else {
                display_path(path)
            };
            let suggestion = did_you_mean(key, known.iter().copied());
            let message = match suggestion {
                Some(s) => format!("unknown key \"{key}\" in {section} (did you mean \"{s}\"?)"),
                None => format!("unknown key \"{key}\" in {section}"),
            };
            let hint = match suggestion {
                Some(s) => format!("rename it to `{s}`"),
                None => format!(
                    "remove it, or move it to a section that accepts it; {section} accepts: {}",
                    known.join(", ")
                ),
            };
            self.push(
                Diagnostic::new(Rule::UnknownKey, self.file, join(path, key), message)
                    .at(Some(k.span))
                    .actual(key.to_string())
                    .expected(format!("one of: {}", known.join(", ")))
                    .hint(hint),
            );
        }
    }

    /// A mapping section; `None` when absent or null. Other types are reported.
    pub fn map<'n>(&mut self, parent: &'n Node, path: &str, key: &str) -> Option<&'n Node> {
        let node = parent.get(key)?;
        match &node.value {
            Value::Map(_) => Some(node),
            Value::Null => None,
            _ => {
                self.wrong_type(node, &join(path, key), "a mapping", "{ ... }");
                None
            }
        }
    }

    /// A string-like scalar (numbers and booleans are taken as their text).
    pub fn string(&mut self, sec: &Node, path: &str, key: &str) -> Option<String> {
        let node = sec.get(key)?;
        match &node.value {
            Value::Null => None,
            Value::Seq(_) | Value::Map(_) => {
                self.wrong_type(node, &join(path, key), "a string", "\"...\"");
                None
            }
            other => Some(scalar_text(other)),
        }
    }

    /// A non-negative integer.
    pub fn uint(&mut self, sec: &Node, path: &str, key: &str) -> Option<u64> {
        let node = sec.get(key)?;
        match &node.value {
            Value::Null => None,
            Value::Int(i) if *i >= 0 => u64::try_from(*i).ok(),
            Value::Float(f) if *f >= 0.0 && f.fract() == 0.0 && *f < 9.0e15 => Some(*f as u64),
            _ => {
                self.wrong_type(node, &join(path, key), "a non-negative integer", "8");
                None
            }
        }
    }

    /// A positive integer: zero, a negative number or another type is one error naming the
    /// field (never a second "missing" one), and `None` comes back.
    pub fn positive_uint(&mut self, sec: &Node, path: &str, key: &str) -> Option<u64> {
        let node = sec.get(key)?;
        match &node.value {
            Value::Null => None,
            Value::Int(i) if *i > 0 => u64::try_from(*i).ok(),
            Value::Float(f) if *f > 0.0 && f.fract() == 0.0 && *f < 9.0e15 => Some(*f as u64),
            Value::Int(_) | Value::Float(_) => {
                let field = display_path(&join(path, key));
                self.push(
                    Diagnostic::new(
                        Rule::InvalidValue,
                        self.file,
                        field.clone(),
                        format!(
                            "`{field}` must be a positive integer, found {}",
                            describe(node)
                        ),
                    )
                    .at(Some(node.span))
                    .actual(describe(node))
                    .expected("an integer >= 1")
                    .hint(format!("write e.g. `{key}: 4`")),
                );
                None
            }
            _ => {
                self.wrong_type(node, &join(path, key), "a positive integer", "4");
                None
            }
        }
    }

    /// A boolean.
    pub fn boolean(&mut self, sec: &Node, path: &str, key: &str) -> Option<bool> {
        let node = sec.get(key)?;
        match &node.value {
            Value::Null => None,
            Value::Bool(b) => Some(*b),
            _ => {
                self.wrong_type(node, &join(path, key), "true or false", "true");
                None
            }
        }
    }

    /// A number.
    pub fn number(&mut self, sec: &Node, path: &str, key: &str) -> Option<f64> {
        let node = sec.get(key)?;
        match &node.value {
            Value::Null => None,
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) if f.is_finite() => Some(*f),
            _ => {
                self.wrong_type(node, &join(path, key), "a number", "0.8");
                None
            }
        }
    }

    /// A list of strings (a single string is a one-element list).
    pub fn strings(&mut self, sec: &Node, path: &str, key: &str) -> Option<Vec<String>> {
        let node = sec.get(key)?;
        match &node.value {
            Value::Null => None,
            Value::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match &item.value {
                        Value::Seq(_) | Value::Map(_) | Value::Null => self.wrong_type(
                            item,
                            &format!("{}.{i}", join(path, key)),
                            "a string",
                            "GB200",
                        ),
                        other => out.push(scalar_text(other)),
                    }
                }
                Some(out)
            }
            Value::Map(_) => {
                self.wrong_type(
                    node,
                    &join(path, key),
                    "a list of strings",
                    "[GB200, GB300]",
                );
                None
            }
            other => Some(vec![scalar_text(other)]),
        }
    }

    /// A concurrency list: a string separated by spaces and/or commas, a list, or an integer.
    pub fn concurrency_list(&mut self, sec: &Node, path: &str, key: &str) -> Option<Vec<u64>> {
        let node = sec.get(key)?;
        let full = join(path, key);
        let bad = |d: &mut Self, token: &str| {
            d.push(
                Diagnostic::new(
                    Rule::ConcurrencyEmpty,
                    d.file,
                    display_path(&full),
                    format!("concurrency `{token}` is not a positive integer"),
                )
                .at(Some(node.span))
                .actual(token.to_string())
                .expected("positive integers separated by spaces or commas, a list, or an integer")
                .hint("write e.g. `concurrency_list: '1 2 4 8'`"),
            );
        };
        let mut out = Vec::new();
        match &node.value {
            Value::Null => return Some(out),
            Value::Int(i) => match u64::try_from(*i) {
                Ok(v) if v > 0 => out.push(v),
                _ => bad(self, &i.to_string()),
            },
            Value::Str(s) => {
                for token in s.split(|c: char| c == ',' || c.is_whitespace()) {
                    if token.is_empty() {
                        continue;
                    }
                    match token.parse::<u64>() {
                        Ok(v) if v > 0 => out.push(v),
                        _ => bad(self, token),
                    }
                }
            }
            Value::Seq(items) => {
                for item in items {
                    match &item.value {
                        Value::Int(i) if *i > 0 => out.push(*i as u64),
                        Value::Str(s) if s.trim().parse::<u64>().is_ok_and(|v| v > 0) => {
                            out.extend(s.trim().parse::<u64>().ok());
                        }
                        other => bad(self, &scalar_text(other)),
                    }
                }
            }
            _ => {
                self.wrong_type(node, &full, "a concurrency list", "'1 2 4 8'");
                return None;
            }
        }
        Some(out)
    }

    /// `K=V K=V` environment strings (a mapping is accepted too).
    pub fn env_vars(&mut self, sec: &Node, path: &str, key: &str) -> Vec<(String, String)> {
        let Some(node) = sec.get(key) else {
            return Vec::new();
        };
        let full = join(path, key);
        match &node.value {
            Value::Null => Vec::new(),
            Value::Str(s) => {
                let mut out = Vec::new();
                for word in s.split_whitespace() {
                    match word.split_once('=') {
                        Some((k, v)) if !k.is_empty() => out.push((k.to_string(), v.to_string())),
                        _ => self.push(
                            Diagnostic::new(
                                Rule::InvalidValue,
                                self.file,
                                display_path(&full),
                                format!("`{word}` is not a `NAME=value` assignment"),
                            )
                            .at(Some(node.span))
                            .actual(word.to_string())
                            .expected("space-separated NAME=value pairs")
                            .hint("write e.g. `TLLM_LOG_LEVEL=INFO NCCL_DEBUG=WARN`"),
                        ),
                    }
                }
                out
            }
            Value::Map(entries) => entries
                .iter()
                .filter_map(|(k, v)| Some((k.as_key()?.to_string(), scalar_text(&v.value))))
                .collect(),
            _ => {
                self.wrong_type(node, &full, "a string of NAME=value pairs", "\"A=1 B=2\"");
                Vec::new()
            }
        }
    }
}

/// A short rendering of a value for `actual:` lines.
pub(crate) fn describe(node: &Node) -> String {
    match &node.value {
        Value::Str(s) => format!("{s:?}"),
        Value::Seq(items) => format!("a list of {} item(s)", items.len()),
        Value::Map(entries) => format!("a mapping with {} key(s)", entries.len()),
        other => scalar_text(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    #[test]
    fn concurrency_lists_accept_every_upstream_spelling() {
        let n = parse("a: '1 2 4'\nb: 1,2, 4\nc: [1, 2, '4']\nd: 1024\ne: '1 x'\n").unwrap();
        let mut d = Decoder::new(Path::new("t.yaml"));
        assert_eq!(d.concurrency_list(&n, "", "a"), Some(vec![1, 2, 4]));
        assert_eq!(d.concurrency_list(&n, "", "b"), Some(vec![1, 2, 4]));
        assert_eq!(d.concurrency_list(&n, "", "c"), Some(vec![1, 2, 4]));
        assert_eq!(d.concurrency_list(&n, "", "d"), Some(vec![1024]));
        assert!(d.diags.is_empty());
        assert_eq!(d.concurrency_list(&n, "", "e"), Some(vec![1]));
        assert_eq!(d.diags.len(), 1);
        assert_eq!(d.diags[0].rule, Rule::ConcurrencyEmpty);
    }

    #[test]
    fn unknown_key_message_suggests_the_fix() {
        let n = parse("benchmark:\n  concurency_list: '1'\n").unwrap();
        let mut d = Decoder::new(Path::new("t.yaml"));
        d.check_keys(
            n.get("benchmark").unwrap(),
            "benchmark",
            &["concurrency_list", "mode"],
        );
        let diag = &d.diags[0];
        assert_eq!(
            diag.message,
            "unknown key \"concurency_list\" in benchmark (did you mean \"concurrency_list\"?)"
        );
        assert_eq!((diag.line, diag.column), (Some(2), Some(3)));
    }

    #[test]
    fn env_strings_split_on_any_whitespace() {
        let n = parse("e: >-\n  A=1 B=2\n  C=x=y\n").unwrap();
        let mut d = Decoder::new(Path::new("t.yaml"));
        let vars = d.env_vars(&n, "", "e");
        assert_eq!(vars.len(), 3);
        assert_eq!(vars[2], ("C".into(), "x=y".into()));
    }

    #[test]
    fn display_paths_use_brackets() {
        assert_eq!(
            display_path("server_configs.0.client_configs.12.isl"),
            "server_configs[0].client_configs[12].isl"
        );
    }
}
