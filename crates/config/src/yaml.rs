//! A YAML document as a tree of located nodes.
//!
//! Parsed from the event stream of `saphyr-parser`, the maintained successor of yaml-rust2 by its
//! authors (the simulator's `serde-saphyr` is built on `granit-parser`, a fork of it). Measured
//! with callgrind over 560 fixture copies: saphyr-parser costs 8% more instructions than
//! yaml-rust2 did, granit-parser 35% more, so the tree is built on saphyr-parser.
//!
//! Every node keeps the line and column where it starts, so that any later check (schema,
//! validation rules) can point at the offending value. Mappings keep their key order and every
//! key, which lets engine options be written back out unchanged (see [`emit`]).
//!
//! Scalars are typed with the YAML 1.1 core rules PyYAML uses (the upstream configs are written by
//! PyYAML): `null`/`~`/empty, `true`/`false` (any case), integers, floats, everything else a string.
//! Quoted scalars are always strings. Anchors and aliases are expanded; the expansion is bounded so
//! that an "alias bomb" is an error, not an out-of-memory.

use std::collections::HashMap;
use std::fmt::Write as _;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle};

/// Maximum nesting depth of collections; deeper documents are rejected.
pub const MAX_DEPTH: usize = 128;
/// Maximum number of nodes after alias expansion.
pub const MAX_NODES: usize = 1_000_000;

/// Where a node starts in its file (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Span {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

impl Span {
    fn from_marker(m: &Marker) -> Self {
        Span {
            line: u32::try_from(m.line()).unwrap_or(u32::MAX),
            col: u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
        }
    }
}

/// A YAML value with its location.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where the value starts.
    pub span: Span,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string; `folded`/`literal` block scalars arrive here already folded.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, keys in document order.
    Map(Vec<(Node, Node)>),
}

/// A YAML syntax or size problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    /// What went wrong.
    pub message: String,
    /// Where.
    pub span: Span,
}

impl Node {
    /// A node without a location (values that do not come from a file).
    pub fn synthetic(value: Value) -> Self {
        Node {
            value,
            span: Span::default(),
        }
    }

    /// A copy with every location cleared, so trees compare by content alone.
    pub fn without_spans(&self) -> Node {
        let value = match &self.value {
            Value::Seq(items) => Value::Seq(items.iter().map(Node::without_spans).collect()),
            Value::Map(e) => Value::Map(
                e.iter()
                    .map(|(k, v)| (k.without_spans(), v.without_spans()))
                    .collect(),
            ),
            other => other.clone(),
        };
        Node::synthetic(value)
    }

    /// The mapping entries, if this is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Looks up a key of a mapping (string keys only).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_key() == Some(key))
            .map(|(_, v)| v)
    }

    /// Follows a dotted path of mapping keys (`worker_config.gen.max_batch_size`).
    /// Numeric segments index into lists (`server_configs.0.name`).
    pub fn at(&self, path: &str) -> Option<&Node> {
        path.split('.')
            .try_fold(self, |node, key| match &node.value {
                Value::Seq(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => node.get(key),
            })
    }

    /// Where the key of `path` is written (for a list item: the item), so a diagnostic about a
    /// whole section or list points at its name.
    pub fn key_span(&self, path: &str) -> Option<Span> {
        let (parent, key) = path.rsplit_once('.').unwrap_or(("", path));
        let parent = if parent.is_empty() {
            self
        } else {
            self.at(parent)?
        };
        match &parent.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_key() == Some(key))
                .map(|(k, _)| k.span),
            Value::Seq(items) => items.get(key.parse::<usize>().ok()?).map(|n| n.span),
            _ => None,
        }
    }

    /// The key text of a scalar used as a mapping key.
    pub fn as_key(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the value is null.
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// A short name of the value's type, for messages ("an integer", "a mapping").
    pub fn type_name(&self) -> &'static str {
        self.value.type_name()
    }

    /// Sets `path` (dotted) to `value`, creating intermediate mappings (replacing non-mappings).
    pub fn set_path(&mut self, path: &str, value: Node) {
        let (key, rest) = match path.split_once('.') {
            Some((k, r)) => (k, Some(r)),
            None => (path, None),
        };
        // List items are addressed by index; an index past the end is ignored.
        if let Value::Seq(items) = &mut self.value {
            if let Some(slot) = key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                match rest {
                    None => *slot = value,
                    Some(r) => slot.set_path(r, value),
                }
            }
            return;
        }
        if !matches!(self.value, Value::Map(_)) {
            self.value = Value::Map(Vec::new());
        }
        let Value::Map(entries) = &mut self.value else {
            return;
        };
        let idx = match entries.iter().position(|(k, _)| k.as_key() == Some(key)) {
            Some(i) => i,
            None => {
                entries.push((
                    Node::synthetic(Value::Str(key.to_string())),
                    Node::synthetic(Value::Map(Vec::new())),
                ));
                entries.len() - 1
            }
        };
        if let Some(slot) = entries.get_mut(idx) {
            match rest {
                None => slot.1 = value,
                Some(r) => slot.1.set_path(r, value),
            }
        }
    }
}

impl Value {
    /// A short name of the type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Types a plain (unquoted) scalar the way PyYAML's resolver does for the cases configs use.
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        let clean: String = text.chars().filter(|c| *c != '_').collect();
        if let Ok(i) = clean.parse::<i64>() {
            return Value::Int(i);
        }
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Value::Int(i);
    }
    let looks_float = digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+' | b'_'));
    if looks_float {
        let clean: String = text.chars().filter(|c| *c != '_').collect();
        if let Ok(f) = clean.parse::<f64>() {
            return Value::Float(f);
        }
    }
    match digits {
        ".inf" | ".Inf" | ".INF" => {
            return Value::Float(if text.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    Value::Str(text.to_string())
}

/// An open collection: where it starts, where its children begin on the shared scratch stack,
/// and its anchor. Children go onto one reused stack per kind and leave it as one exactly sized
/// `Vec` when the collection ends, so parsing neither regrows nor over-allocates per mapping.
enum Frame {
    Seq(Span, usize, usize),
    Map(Span, usize, Option<Node>, usize),
}

/// Parses the first document of `text` into a located tree. An empty document is `Null`.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let end = |text: &str| {
        let line = text.lines().count().max(1);
        Span {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            col: 1,
        }
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut items: Vec<Node> = Vec::new();
    let mut entries: Vec<(Node, Node)> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut nodes = 0usize;
    let mut root: Option<Node> = None;
    loop {
        let (event, span) = match parser.next_event() {
            Some(Ok((event, event_span))) => (event, Span::from_marker(&event_span.start)),
            Some(Err(e)) => {
                return Err(YamlError {
                    message: format!("invalid YAML: {}", e.info()),
                    span: Span::from_marker(e.marker()),
                });
            }
            // The parser always ends with StreamEnd; running out of events ends it too.
            None => (Event::StreamEnd, end(text)),
        };
        let complete: Option<(Node, usize)> = match event {
            Event::StreamEnd | Event::DocumentEnd => {
                if stack.is_empty() {
                    return Ok(root.unwrap_or(Node {
                        value: Value::Null,
                        span,
                    }));
                }
                None
            }
            Event::Nothing | Event::StreamStart | Event::DocumentStart(_) => None,
            Event::Alias(id) => {
                let node = anchors.get(&id).cloned().ok_or_else(|| YamlError {
                    message: "alias refers to an unknown anchor".into(),
                    span,
                })?;
                nodes = nodes.saturating_add(count_nodes(&node));
                Some((Node { span, ..node }, 0))
            }
            Event::Scalar(text, style, anchor, _tag) => {
                nodes += 1;
                let value = match style {
                    ScalarStyle::Plain => resolve_plain(&text),
                    _ => Value::Str(text.into_owned()),
                };
                Some((Node { value, span }, anchor))
            }
            Event::SequenceStart(anchor, _) => {
                push_frame(&mut stack, Frame::Seq(span, items.len(), anchor), span)?;
                None
            }
            Event::MappingStart(anchor, _) => {
                push_frame(
                    &mut stack,
                    Frame::Map(span, entries.len(), None, anchor),
                    span,
                )?;
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(s, start, anchor)) => {
                    nodes += 1;
                    let items: Vec<Node> = items.drain(start..).collect();
                    // A collection starts where its first item does (the scanner's start mark
                    // for block collections can lie past it).
                    let span = items.first().map_or(s, |i| earlier(s, i.span));
                    Some((
                        Node {
                            value: Value::Seq(items),
                            span,
                        },
                        anchor,
                    ))
                }
                _ => return Err(internal(span)),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(s, start, _, anchor)) => {
                    nodes += 1;
                    let entries: Vec<(Node, Node)> = entries.drain(start..).collect();
                    let span = entries.first().map_or(s, |(k, _)| earlier(s, k.span));
                    Some((
                        Node {
                            value: Value::Map(entries),
                            span,
                        },
                        anchor,
                    ))
                }
                _ => return Err(internal(span)),
            },
        };
        if nodes > MAX_NODES {
            return Err(YamlError {
                message: format!(
                    "document expands to more than {MAX_NODES} values (alias expansion?)"
                ),
                span,
            });
        }
        let Some((node, anchor)) = complete else {
            continue;
        };
        if anchor > 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => {
                // First complete top-level node is the document; later documents are ignored.
                if root.is_none() {
                    root = Some(node);
                }
            }
            Some(Frame::Seq(..)) => items.push(node),
            Some(Frame::Map(_, start, pending, _)) => match pending.take() {
                None => {
                    if matches!(node.value, Value::Seq(_) | Value::Map(_)) {
                        return Err(YamlError {
                            message: "a list or mapping cannot be used as a mapping key".into(),
                            span: node.span,
                        });
                    }
                    *pending = Some(key_node(node));
                }
                Some(key) => {
                    if let Some(k) = key.as_key()
                        && entries
                            .get(*start..)
                            .unwrap_or_default()
                            .iter()
                            .any(|(e, _)| e.as_key() == Some(k))
                    {
                        return Err(YamlError {
                            message: format!("duplicate key `{k}` in this mapping"),
                            span: key.span,
                        });
                    }
                    entries.push((key, node));
                }
            },
        }
    }
}

/// Keys are compared as text: `1:` and `"1":` name the same key.
fn key_node(node: Node) -> Node {
    let text = match &node.value {
        Value::Str(s) => s.clone(),
        other => scalar_text(other),
    };
    Node {
        value: Value::Str(text),
        span: node.span,
    }
}

fn earlier(a: Span, b: Span) -> Span {
    if (b.line, b.col) < (a.line, a.col) {
        b
    } else {
        a
    }
}

fn push_frame(stack: &mut Vec<Frame>, frame: Frame, span: Span) -> Result<(), YamlError> {
    if stack.len() >= MAX_DEPTH {
        return Err(YamlError {
            message: format!("nesting deeper than {MAX_DEPTH} levels"),
            span,
        });
    }
    stack.push(frame);
    Ok(())
}

fn internal(span: Span) -> YamlError {
    YamlError {
        message: "unbalanced YAML structure".into(),
        span,
    }
}

fn count_nodes(node: &Node) -> usize {
    let mut count = 0usize;
    let mut todo = vec![node];
    while let Some(n) = todo.pop() {
        count += 1;
        match &n.value {
            Value::Seq(items) => todo.extend(items.iter()),
            Value::Map(entries) => todo.extend(entries.iter().flat_map(|(k, v)| [k, v])),
            _ => {}
        }
    }
    count
}

/// The text of a scalar as YAML would print it (strings unquoted).
pub fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_float(*f),
        Value::Str(s) => s.clone(),
        Value::Seq(_) => "[...]".into(),
        Value::Map(_) => "{...}".into(),
    }
}

fn format_float(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        }
    } else if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// Writes a node as block-style YAML, keys in their original order. Strings that would read back
/// as another type (or need escaping) are double-quoted, so `parse(emit(n))` equals `n` up to
/// locations.
pub fn emit(node: &Node) -> String {
    emit_annotated(node, &|_| None)
}

/// Like [`emit`], with a trailing `# comment` on the line of every value for which `annotate`
/// (given the dotted path, list items by index) returns text.
pub fn emit_annotated(node: &Node, annotate: &dyn Fn(&str) -> Option<String>) -> String {
    let mut e = Emitter {
        out: String::new(),
        annotate,
    };
    match &node.value {
        Value::Map(entries) if !entries.is_empty() => e.map(entries, 0, ""),
        Value::Seq(items) if !items.is_empty() => e.seq(items, 0, ""),
        other => {
            e.out.push_str(&emit_scalar(other));
            e.out.push('\n');
        }
    }
    e.out
}

struct Emitter<'a> {
    out: String,
    annotate: &'a dyn Fn(&str) -> Option<String>,
}

impl Emitter<'_> {
    fn comment(&mut self, path: &str) {
        if let Some(c) = (self.annotate)(path) {
            self.out.push_str("  # ");
            self.out.push_str(&c);
        }
    }

    fn map(&mut self, entries: &[(Node, Node)], indent: usize, path: &str) {
        for (k, v) in entries {
            let key = emit_scalar(&k.value);
            let child = if path.is_empty() {
                scalar_text(&k.value)
            } else {
                format!("{path}.{}", scalar_text(&k.value))
            };
            let _ = write!(self.out, "{:indent$}{key}:", "");
            self.child(v, indent, &child);
        }
    }

    fn seq(&mut self, items: &[Node], indent: usize, path: &str) {
        for (i, item) in items.iter().enumerate() {
            let child = format!("{path}.{i}");
            let _ = write!(self.out, "{:indent$}-", "");
            match &item.value {
                Value::Map(entries) if !entries.is_empty() => {
                    // First entry on the dash line, the rest aligned under it.
                    let mut nested = Emitter {
                        out: String::new(),
                        annotate: self.annotate,
                    };
                    nested.map(entries, indent + 2, &child);
                    self.out.push(' ');
                    self.out.push_str(nested.out.trim_start());
                }
                _ => self.child(item, indent, &child),
            }
        }
    }

    fn child(&mut self, v: &Node, indent: usize, path: &str) {
        match &v.value {
            Value::Map(entries) if !entries.is_empty() => {
                self.comment(path);
                self.out.push('\n');
                self.map(entries, indent + 2, path);
            }
            Value::Seq(items) if !items.is_empty() => {
                self.comment(path);
                self.out.push('\n');
                self.seq(items, indent + 2, path);
            }
            other => {
                self.out.push(' ');
                self.out.push_str(&emit_scalar(other));
                self.comment(path);
                self.out.push('\n');
            }
        }
    }
}

fn emit_scalar(value: &Value) -> String {
    match value {
        Value::Str(s) => {
            let plain_ok = !s.is_empty()
                && matches!(resolve_plain(s), Value::Str(_))
                && !s
                    .starts_with(|c: char| c.is_whitespace() || "-?:,[]{}#&*!|>'\"%@`".contains(c))
                && !s.ends_with(char::is_whitespace)
                && !s.contains(": ")
                && !s.contains(" #")
                && !s.ends_with(':')
                && s.chars().all(|c| !c.is_control());
            if plain_ok {
                return s.clone();
            }
            serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
        }
        Value::Map(_) => "{}".into(),
        Value::Seq(_) => "[]".into(),
        other => scalar_text(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_one_based() {
        let n = parse("a:\n  b: 3\n").unwrap();
        let b = n.at("a.b").unwrap();
        assert_eq!(b.value, Value::Int(3));
        assert_eq!(b.span, Span { line: 2, col: 6 });
        let (k, _) = &n.get("a").unwrap().as_map().unwrap()[0];
        assert_eq!(k.span, Span { line: 2, col: 3 });
        // A block mapping starts at its first key.
        assert_eq!(n.get("a").unwrap().span, Span { line: 2, col: 3 });
        let l = parse("x:\n  - 1\n  - 2\n").unwrap();
        assert_eq!(l.get("x").unwrap().span, Span { line: 2, col: 3 });
        assert_eq!(l.key_span("x"), Some(Span { line: 1, col: 1 }));
        assert_eq!(l.key_span("x.1"), Some(Span { line: 3, col: 5 }));
    }

    #[test]
    fn scalars_follow_pyyaml() {
        let n =
            parse("a: ~\nb: True\nc: 0.85\nd: '1024'\ne: 02:00:00\nf: 1_000\ng: 1e3\n").unwrap();
        assert_eq!(n.get("a").unwrap().value, Value::Null);
        assert_eq!(n.get("b").unwrap().value, Value::Bool(true));
        assert_eq!(n.get("c").unwrap().value, Value::Float(0.85));
        assert_eq!(n.get("d").unwrap().value, Value::Str("1024".into()));
        assert_eq!(n.get("e").unwrap().value, Value::Str("02:00:00".into()));
        assert_eq!(n.get("f").unwrap().value, Value::Int(1000));
        assert_eq!(n.get("g").unwrap().value, Value::Float(1000.0));
    }

    #[test]
    fn anchors_and_folded_strings() {
        let text = "x: &id001\n  k: 1\ny: *id001\nz: >\n  one\n  two\n";
        let n = parse(text).unwrap();
        assert_eq!(n.at("y.k").unwrap().value, Value::Int(1));
        assert_eq!(n.get("z").unwrap().as_str(), Some("one two\n"));
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert!(e.message.contains("duplicate key `a`"), "{e}");
        assert_eq!(e.span.line, 2);
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_bounded() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..12 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            bomb.push_str(&format!(
                "l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        assert!(parse(&bomb).unwrap_err().message.contains("expands"));
        let deep = "[".repeat(10_000);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn emit_round_trips_keys_and_types() {
        let text = "b: 1\na:\n  s: '1024'\n  f: 0.9\n  n: null\n  l:\n  - 1\n  - x: 2\n    y: <p>\n  e: ''\n  t: 'yes: no'\n";
        let n = parse(text).unwrap();
        let back = parse(&emit(&n)).unwrap();
        assert_eq!(back.without_spans(), n.without_spans());
        let keys: Vec<_> = n
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_key().unwrap())
            .collect();
        assert_eq!(keys, ["b", "a"]);
    }

    #[test]
    fn annotations_follow_paths() {
        let n = parse("a:\n  b: 1\n  c: [x]\n").unwrap();
        let text = emit_annotated(&n, &|p| {
            (p == "a.b" || p == "a.c.0").then(|| format!("<{p}>"))
        });
        assert_eq!(text, "a:\n  b: 1  # <a.b>\n  c:\n    - x  # <a.c.0>\n");
    }

    #[test]
    fn set_path_creates_maps() {
        let mut n = parse("a: 1\n").unwrap();
        n.set_path("b.c", Node::synthetic(Value::Int(2)));
        assert_eq!(n.at("b.c").unwrap().value, Value::Int(2));
        n.set_path("a.d", Node::synthetic(Value::Int(3)));
        assert_eq!(n.at("a.d").unwrap().value, Value::Int(3));
        let mut l = parse("s:\n- x: 1\n").unwrap();
        l.set_path("s.0.y", Node::synthetic(Value::Int(2)));
        assert_eq!(l.at("s.0.y").unwrap().value, Value::Int(2));
        assert!(matches!(l.get("s").unwrap().value, Value::Seq(_)));
        l.set_path("s.5.y", Node::synthetic(Value::Int(2)));
        assert!(l.at("s.5").is_none());
    }
}
