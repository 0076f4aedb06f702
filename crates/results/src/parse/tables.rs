//! The one reader of the console tables that benchmark clients draw: Rich's box-drawn tables
//! (GenAI-Perf, AIPerf, and the nested per-metric tables of GenAI-Perf's GPU telemetry) and
//! GuideLLM's pipe tables (`|===|` borders, `|---|` under the header, merged header cells written
//! as `Group ||`; GuideLLM 0.3's the same without the outer pipes, between `====` lines).
//!
//! What it handles, so the tool parsers only map names:
//! - Header rows wrapped over several lines: each column's header is its lines joined with a
//!   space (`Output Token` / `Throughput` / `(tokens/sec)` -> `Output Token Throughput
//!   (tokens/sec)`), and a GuideLLM group cell spanning `k` columns is repeated over them.
//! - Body rows wrapped over several lines: a line whose first cell is empty, or whose other cells
//!   are all empty, continues the row above (its non-empty cells are appended with a space). A
//!   row that wraps its label *and* a value on the same line is ambiguous and read as a new row.
//! - A table nested in another table's frame (`│ ┏━━┓ │`) is read as a table; a one-cell row
//!   (`│ GPU Power Usage (W) │`) is read as a caption line, like text above a table.
//! - A table cut short (no bottom border) is returned with `closed: false`.
//!
//! It never panics and never allocates more than a small multiple of its input.

/// One table read from text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    /// Non-empty text lines (and one-cell rows) between the previous table and this one, in
    /// order; the last is usually the table's title.
    pub captions: Vec<String>,
    /// One header per column, wrapped lines joined with a space; empty when the table had none.
    pub header: Vec<String>,
    /// Body rows, cells trimmed, wrapped lines joined.
    pub rows: Vec<Vec<String>>,
    /// Whether the bottom border was seen.
    pub closed: bool,
    /// Zero-based index of the line after the table's last line.
    pub end_line: usize,
}

impl Table {
    /// The last caption (the title as printed just above the table), or `""`.
    pub fn title(&self) -> &str {
        self.captions.last().map_or("", String::as_str)
    }
}

/// Most captions kept per table (the lines nearest the table win).
const MAX_CAPTIONS: usize = 8;

/// Vertical separators of box-drawn tables.
const BOX_VERTICAL: [char; 3] = ['│', '┃', '║'];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// Rich: `┏`/`┌` top, `┡`/`├` under the header, `└`/`┗` bottom, `│`/`┃` cells.
    Boxed,
    /// GuideLLM: `|===|` top and bottom, `|---|` under the header, `|` cells.
    Pipe,
    /// GuideLLM 0.3: `====` top and bottom, `---|---` under the header, `|` between cells
    /// only (no outer pipes).
    Bare,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Header,
    Body,
}

struct Open {
    style: Style,
    part: Part,
    captions: Vec<String>,
    header_lines: Vec<Vec<String>>,
    rows: Vec<Vec<String>>,
}

/// Every table in `text`, in order. Tables without a single body row are dropped.
pub fn read_tables(text: &str) -> Vec<Table> {
    let mut out = Vec::new();
    let mut captions: Vec<String> = Vec::new();
    let mut open: Option<Open> = None;
    let mut line_no = 0usize;
    for raw in text.lines() {
        line_no += 1;
        let line = peel_frames(raw.trim());
        match classify(line) {
            Line::Top(style) => {
                if let Some(t) = open.take() {
                    if t.rows.is_empty() {
                        // An enclosing frame with no rows of its own (GenAI-Perf's telemetry):
                        // its captions belong to the table nested in it.
                        let mut kept = t.captions;
                        kept.append(&mut captions);
                        let extra = kept.len().saturating_sub(MAX_CAPTIONS);
                        kept.drain(..extra);
                        captions = kept;
                    } else {
                        finish(t, false, line_no - 1, &mut out);
                    }
                }
                open = Some(Open {
                    style,
                    part: Part::Header,
                    captions: std::mem::take(&mut captions),
                    header_lines: Vec::new(),
                    rows: Vec::new(),
                });
            }
            Line::HeaderRule(style) => match &mut open {
                Some(t) if t.style == style => t.part = Part::Body,
                _ => {}
            },
            Line::Bottom(style) => {
                if open.as_ref().is_some_and(|t| t.style == style) {
                    if let Some(t) = open.take() {
                        finish(t, true, line_no, &mut out);
                    }
                } else if style != Style::Boxed {
                    // `|===|` (`====`) also opens a GuideLLM table when none is open.
                    open = Some(Open {
                        style,
                        part: Part::Header,
                        captions: std::mem::take(&mut captions),
                        header_lines: Vec::new(),
                        rows: Vec::new(),
                    });
                }
            }
            Line::Cells => {
                let Some(t) = open.as_mut() else {
                    // Outside a table: text, or a one-cell row of an enclosing frame.
                    match split_boxed(line).as_slice() {
                        [one] => push_caption(&mut captions, one),
                        _ => push_caption(&mut captions, line),
                    }
                    continue;
                };
                let cells = match t.style {
                    Style::Boxed if line.contains(BOX_VERTICAL) => split_boxed(line),
                    Style::Pipe if line.starts_with('|') => split_pipe(line),
                    // A 0.3 row whose first cell is empty starts with its first pipe.
                    Style::Bare if line.contains('|') => split_bare(line),
                    _ => {
                        push_caption(&mut captions, line);
                        continue;
                    }
                };
                add_cells(t, cells, &mut captions);
            }
            Line::Text => {
                if line.is_empty() {
                    continue;
                }
                if let Some(t) = open.as_mut()
                    && t.style == Style::Bare
                    && line.contains('|')
                {
                    add_cells(t, split_bare(line), &mut captions);
                    continue;
                }
                if let Some(t) = open.take() {
                    // Text inside a table ends it (a log cut the table short).
                    finish(t, false, line_no - 1, &mut out);
                }
                push_caption(&mut captions, line);
            }
        }
    }
    if let Some(t) = open.take() {
        finish(t, false, line_no, &mut out);
    }
    out
}

fn add_cells(t: &mut Open, cells: Vec<String>, captions: &mut Vec<String>) {
    if cells.len() == 1 {
        // A one-cell row: a caption (GenAI-Perf's nested table titles).
        if let Some(c) = cells.first() {
            push_caption(captions, c);
        }
        return;
    }
    match t.part {
        Part::Header => t.header_lines.push(cells),
        Part::Body => add_row(&mut t.rows, cells),
    }
}

enum Line {
    Top(Style),
    HeaderRule(Style),
    Bottom(Style),
    Cells,
    Text,
}

fn classify(line: &str) -> Line {
    let Some(first) = line.chars().next() else {
        return Line::Text;
    };
    match first {
        '┏' | '┌' | '╭' | '╔' => return Line::Top(Style::Boxed),
        '┡' | '├' | '┣' | '╞' | '╠' | '┢' => return Line::HeaderRule(Style::Boxed),
        '└' | '┗' | '╰' | '╚' => return Line::Bottom(Style::Boxed),
        _ => {}
    }
    if first == '|' && line.len() > 2 {
        let inner = line.trim_matches('|');
        if !inner.is_empty() && inner.chars().all(|c| c == '=' || c == '|') {
            return Line::Bottom(Style::Pipe);
        }
        if !inner.is_empty() && inner.chars().all(|c| c == '-' || c == '|') {
            return Line::HeaderRule(Style::Pipe);
        }
    }
    if line.len() >= 10 && line.chars().all(|c| c == '=') {
        return Line::Bottom(Style::Bare);
    }
    if first == '-' && line.contains('|') && line.chars().all(|c| c == '-' || c == '|') {
        return Line::HeaderRule(Style::Bare);
    }
    if line.contains(BOX_VERTICAL) || first == '|' {
        Line::Cells
    } else {
        Line::Text
    }
}

/// `│ ┏━━┓ │` -> `┏━━┓`: strips the frames of an enclosing table around a nested table line.
fn peel_frames(mut line: &str) -> &str {
    for _ in 0..8 {
        let Some(rest) = line.strip_prefix(BOX_VERTICAL) else {
            return line;
        };
        let Some(inner) = rest.trim_end().strip_suffix(BOX_VERTICAL) else {
            return line;
        };
        // A nested table sits one space inside the frame (`│ ┏`); a row whose first cell is
        // empty has at least three spaces before its next separator (`│    │ x │`).
        let Some(inner) = inner.strip_prefix(' ') else {
            return line;
        };
        let inner = inner.trim_end();
        let nested = inner.chars().next().is_some_and(|c| {
            matches!(
                c,
                '┏' | '┌' | '┃' | '│' | '┡' | '├' | '└' | '┗' | '╭' | '╰' | '┣' | '┢'
            )
        });
        if !nested {
            return line;
        }
        line = inner;
    }
    line
}

fn push_caption(captions: &mut Vec<String>, line: &str) {
    let c = line.trim();
    if c.is_empty() {
        return;
    }
    if captions.len() == MAX_CAPTIONS {
        captions.remove(0);
    }
    captions.push(c.to_string());
}

/// Cells between the first and last vertical separator.
fn split_boxed(line: &str) -> Vec<String> {
    let parts: Vec<&str> = line.split(BOX_VERTICAL).collect();
    let end = parts.len().saturating_sub(1);
    parts
        .get(1..end)
        .unwrap_or(&[])
        .iter()
        .map(|c| c.trim().to_string())
        .collect()
}

/// GuideLLM cells; a zero-width cell (`||`) merges into the cell before it, which then spans one
/// more column and is repeated over the columns it spans.
fn split_pipe(line: &str) -> Vec<String> {
    let parts: Vec<&str> = line.split('|').collect();
    let end = parts.len().saturating_sub(1);
    merge_spans(parts.get(1..end).unwrap_or(&[]).iter().copied())
}

fn merge_spans<'a>(parts: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in parts {
        match out.last() {
            Some(prev) if raw.is_empty() => {
                let prev = prev.clone();
                out.push(prev);
            }
            _ => out.push(raw.trim().to_string()),
        }
    }
    out
}

/// GuideLLM 0.3 cells: every part between pipes, the edges included; zero-width parts merge
/// as in [`split_pipe`].
fn split_bare(line: &str) -> Vec<String> {
    merge_spans(line.split('|'))
}

fn add_row(rows: &mut Vec<Vec<String>>, cells: Vec<String>) {
    let continues = |cells: &[String]| match cells.split_first() {
        Some((first, rest)) => first.is_empty() || rest.iter().all(String::is_empty),
        None => true,
    };
    if let Some(prev) = rows.last_mut()
        && continues(&cells)
    {
        for (i, c) in cells.into_iter().enumerate() {
            if c.is_empty() {
                continue;
            }
            match prev.get_mut(i) {
                Some(p) if p.is_empty() => *p = c,
                Some(p) => {
                    p.push(' ');
                    p.push_str(&c);
                }
                None => prev.push(c),
            }
        }
        return;
    }
    rows.push(cells);
}

fn finish(t: Open, closed: bool, end_line: usize, out: &mut Vec<Table>) {
    if t.rows.is_empty() {
        return;
    }
    let width = t.header_lines.iter().map(Vec::len).max().unwrap_or(0);
    let header = (0..width)
        .map(|i| {
            let mut h = String::new();
            for line in &t.header_lines {
                let Some(c) = line.get(i).filter(|c| !c.is_empty()) else {
                    continue;
                };
                if !h.is_empty() {
                    h.push(' ');
                }
                h.push_str(c);
            }
            h
        })
        .collect();
    out.push(Table {
        captions: t.captions,
        header,
        rows: t.rows,
        closed,
        end_line,
    });
}

/// A table cell as a number: `1,020.58`, `-3`, `0.25`, `1e-3`; `None` for `N/A`, `-`, `--`,
/// text, a misplaced thousands separator (`1,02`), or a non-finite value.
pub fn parse_number(cell: &str) -> Option<f64> {
    let c = cell.trim();
    let (int_part, rest) = match c.find(['.', 'e', 'E']) {
        Some(i) => c.split_at(i),
        None => (c, ""),
    };
    let digits = int_part.strip_prefix(['-', '+']).unwrap_or(int_part);
    if digits.is_empty() && !rest.starts_with('.') {
        return None;
    }
    let plain: String = if digits.contains(',') {
        let mut groups = digits.split(',');
        let head = groups.next().unwrap_or("");
        let head_ok = (1..=3).contains(&head.len());
        if !head_ok || !groups.all(|g| g.len() == 3) {
            return None;
        }
        int_part.replace(',', "")
    } else {
        int_part.to_string()
    };
    let all = format!("{plain}{rest}");
    if !all
        .chars()
        .all(|ch| ch.is_ascii_digit() || matches!(ch, '.' | '-' | '+' | 'e' | 'E'))
    {
        return None;
    }
    all.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("1,020.58"), Some(1020.58));
        assert_eq!(parse_number("124,091.22"), Some(124091.22));
        assert_eq!(parse_number("-3"), Some(-3.0));
        assert_eq!(parse_number("1e-3"), Some(0.001));
        assert_eq!(parse_number(".5"), Some(0.5));
        for bad in [
            "N/A", "-", "--", "", "1,02", "12,3456", "abc", "inf", "NaN", "1.2.3",
        ] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn boxed_with_wrapped_labels() {
        let t = "\
        NVIDIA AIPerf | LLM Metrics
┏━━━━━━━━━━━━━━┳━━━━━━━━━━┓
┃       Metric ┃      avg ┃
┡━━━━━━━━━━━━━━╇━━━━━━━━━━┩
│ Output Token │ 1,007.36 │
│   Throughput │          │
│ (tokens/sec) │          │
│ Count        │      N/A │
└──────────────┴──────────┘";
        let tables = read_tables(t);
        assert_eq!(tables.len(), 1);
        let tb = &tables[0];
        assert!(tb.closed);
        assert_eq!(tb.title(), "NVIDIA AIPerf | LLM Metrics");
        assert_eq!(tb.header, ["Metric", "avg"]);
        assert_eq!(
            tb.rows,
            [
                vec!["Output Token Throughput (tokens/sec)", "1,007.36"],
                vec!["Count", "N/A"]
            ]
        );
        assert_eq!(tb.end_line, 9);
    }

    #[test]
    fn pipe_with_merged_headers() {
        let t = "\
ℹ Request Latency Statistics (Completed Requests)
|=============|=========|========|=====|=====|
| Benchmark   | Request Latency || TTFT     ||
| Strategy    | Sec             || ms       ||
|             | Mdn     | p95    | Mdn | p95 |
|-------------|---------|--------|-----|-----|
| synchronous | 8.6     | 9.6    | 0.0 | 0.1 |
|=============|=========|========|=====|=====|";
        let tables = read_tables(t);
        assert_eq!(tables.len(), 1);
        let tb = &tables[0];
        assert!(tb.closed);
        assert_eq!(
            tb.header,
            [
                "Benchmark Strategy",
                "Request Latency Sec Mdn",
                "Request Latency Sec p95",
                "TTFT ms Mdn",
                "TTFT ms p95"
            ]
        );
        assert_eq!(tb.rows, [vec!["synchronous", "8.6", "9.6", "0.0", "0.1"]]);
    }

    #[test]
    fn nested_tables_and_cut_tables() {
        let t = "\
                 NVIDIA GenAI-Perf | Power Metrics
┏━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃                          ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│    GPU Power Usage (W)   │
│ ┏━━━━━━━━━━━┳━━━━━━━┓    │
│ ┃ GPU Index ┃   avg ┃    │
│ ┡━━━━━━━━━━━╇━━━━━━━┩    │
│ │         0 │ 63.55 │    │
│ │         1 │ 42.09 │    │
│ └───────────┴───────┘    │
└──────────────────────────┘
┏━━━━━┳━━━━━┓
┃ a   ┃ b   ┃
┡━━━━━╇━━━━━┩
│ x   │ 1   │";
        let tables = read_tables(t);
        assert_eq!(tables.len(), 2);
        assert_eq!(tables[0].title(), "GPU Power Usage (W)");
        assert_eq!(
            tables[0].captions,
            ["NVIDIA GenAI-Perf | Power Metrics", "GPU Power Usage (W)"]
        );
        assert_eq!(tables[0].header, ["GPU Index", "avg"]);
        assert_eq!(tables[0].rows, [vec!["0", "63.55"], vec!["1", "42.09"]]);
        assert!(!tables[1].closed);
        assert_eq!(tables[1].rows, [vec!["x", "1"]]);
    }
}
