//! Properties of the shared table reader: it never panics, generated tables (wrapped labels,
//! wrapped cells, merged headers) read back cell for cell, and thousands separators round-trip.

use proptest::prelude::*;
use servebench_results::parse::{parse_number, read_tables};

/// Splits `text` into lines of at most `width` characters at spaces (words never split).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for w in text.split(' ') {
        match lines.last_mut() {
            Some(l) if l.chars().count() + 1 + w.chars().count() <= width => {
                l.push(' ');
                l.push_str(w);
            }
            _ => lines.push(w.to_string()),
        }
    }
    lines
}

/// `1234567.891` -> `1,234,567.89`, as Rich tables print numbers.
fn with_separators(v: f64) -> String {
    let s = format!("{:.2}", v.abs());
    let (int, frac) = s.split_once('.').unwrap();
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    let sign = if v < 0.0 { "-" } else { "" };
    format!("{sign}{out}.{frac}")
}

/// A Rich-style box table: right-aligned cells, each row's wrapped lines below it.
fn render_boxed(title: &str, header: &[String], rows: &[Vec<Vec<String>>]) -> String {
    let n = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, lines) in r.iter().enumerate() {
            for l in lines {
                widths[i] = widths[i].max(l.chars().count());
            }
        }
    }
    let rule = |l: &str, m: &str, r: &str, f: &str| {
        let parts: Vec<String> = widths.iter().map(|w| f.repeat(w + 2)).collect();
        format!("{l}{}{r}", parts.join(m))
    };
    let line = |cells: &[&str], sep: &str| {
        let parts: Vec<String> = (0..n)
            .map(|i| format!(" {:>w$} ", cells[i], w = widths[i]))
            .collect();
        format!("{sep}{}{sep}", parts.join(sep))
    };
    let mut out = vec![format!("    {title}"), rule("┏", "┳", "┓", "━")];
    let h: Vec<&str> = header.iter().map(String::as_str).collect();
    out.push(line(&h, "┃"));
    out.push(rule("┡", "╇", "┩", "━"));
    for r in rows {
        let height = r.iter().map(Vec::len).max().unwrap_or(1);
        for k in 0..height {
            let cells: Vec<&str> = r
                .iter()
                .map(|lines| lines.get(k).map_or("", String::as_str))
                .collect();
            out.push(line(&cells, "│"));
        }
    }
    out.push(rule("└", "┴", "┘", "─"));
    out.join("\n")
}

fn word() -> impl Strategy<Value = String> {
    "[A-Za-z][a-z]{0,7}"
}

fn label() -> impl Strategy<Value = String> {
    proptest::collection::vec(word(), 1..6).prop_map(|w| w.join(" "))
}

fn value() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        1 => Just(None),
        6 => (-1.0e7f64..1.0e9).prop_map(|v| Some((v * 100.0).round() / 100.0)),
    ]
}

fn cell_text(v: Option<f64>) -> String {
    v.map_or("N/A".to_string(), with_separators)
}

proptest! {
    // Case count: PROPTEST_CASES (proptest reads it; 256 by default).
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn never_panics_on_box_drawing_soup(s in "[ a-z0-9.,|=\\-│┃┏┓┗┛┡┩└┘┳┻╇┴━─\\n]{0,600}") {
        let _ = read_tables(&s);
    }

    #[test]
    fn never_panics_on_any_text(s in "\\PC{0,400}") {
        for t in read_tables(&s) {
            // Whatever is read is shaped: captions bounded, no empty tables.
            prop_assert!(t.captions.len() <= 8);
            prop_assert!(!t.rows.is_empty());
        }
    }

    #[test]
    fn thousands_separators_round_trip(v in -1.0e12f64..1.0e12) {
        let v = (v * 100.0).round() / 100.0;
        let printed = with_separators(v);
        let back = parse_number(&printed).unwrap();
        prop_assert!((back - v).abs() <= 1e-6 * v.abs().max(1.0), "{printed} -> {back}");
        // A separator in the wrong place is not a number.
        let digits = printed.replace(',', "");
        if digits.trim_start_matches('-').split('.').next().unwrap().len() > 3 {
            let bad = format!("{}{}", &digits[..digits.len() - 5], "," );
            prop_assert_eq!(parse_number(&format!("{bad}{}", &digits[digits.len() - 5..])), None);
        }
    }

    /// Rows wrap either their label (values on the first line) or one value cell (label on the
    /// first line, the cell's later lines under it); both read back whole.
    #[test]
    fn boxed_tables_round_trip(
        stats in proptest::collection::vec("(avg|min|max|p50|p90|p99|std)", 1..6),
        rows in proptest::collection::vec(
            (label(), proptest::collection::vec(value(), 6), 4usize..20, any::<bool>(), 0usize..6),
            1..8,
        ),
    ) {
        let mut header = vec!["Metric".to_string()];
        header.extend(stats.iter().cloned());
        let ncol = header.len();
        let mut expected: Vec<Vec<String>> = Vec::new();
        let mut drawn: Vec<Vec<Vec<String>>> = Vec::new();
        for (label, values, width, wrap_value, which) in &rows {
            let mut cells: Vec<String> = vec![label.clone()];
            cells.extend(values.iter().take(ncol - 1).map(|v| cell_text(*v)));
            let width = (*width).max(label.split(' ').map(str::len).max().unwrap_or(1));
            let col = 1 + which % (ncol - 1);
            let lines: Vec<Vec<String>> = cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if *wrap_value && i == col {
                        // A multi-word cell, one word a line.
                        c.split(' ').chain(["units"]).map(str::to_string).collect()
                    } else if !*wrap_value && i == 0 {
                        wrap(c, width)
                    } else {
                        vec![c.clone()]
                    }
                })
                .collect();
            if *wrap_value {
                cells[col] = format!("{} units", cells[col]);
            }
            expected.push(cells);
            drawn.push(lines);
        }
        let text = format!(
            "noise before\n{}\nnoise after\n",
            render_boxed("NVIDIA AIPerf | LLM Metrics", &header, &drawn)
        );
        let tables = read_tables(&text);
        prop_assert_eq!(tables.len(), 1);
        let t = &tables[0];
        prop_assert!(t.closed);
        prop_assert_eq!(t.title(), "NVIDIA AIPerf | LLM Metrics");
        prop_assert_eq!(&t.header, &header);
        prop_assert_eq!(&t.rows, &expected);
        for (row, (_, values, ..)) in t.rows.iter().zip(&rows) {
            for (cell, v) in row.iter().skip(1).zip(values) {
                if let (Some(v), Some(first)) = (v, cell.split(' ').next()) {
                    prop_assert_eq!(parse_number(first), Some(*v));
                }
            }
        }
    }

    /// GuideLLM pipe tables: a group cell spanning `k` columns is `text` followed by `k` pipes;
    /// each column's header is its group, name and statistic.
    #[test]
    fn pipe_tables_with_merged_headers_round_trip(
        groups in proptest::collection::vec((label(), proptest::collection::vec("(Mdn|Mean|p95|p99)", 1..4)), 1..5),
        values in proptest::collection::vec(0.0f64..1.0e6, 1..4),
        bare in any::<bool>(),
    ) {
        let mut top = "| Benchmark   |".to_string();
        let mut stat = "|             |".to_string();
        let mut expected = vec!["Benchmark".to_string()];
        for (g, stats) in &groups {
            top.push_str(&format!(" {g} {}", "|".repeat(stats.len())));
            for s in stats {
                stat.push_str(&format!(" {s:<6} |"));
                expected.push(format!("{g} {s}"));
            }
        }
        let ncol = expected.len();
        let rule = format!("|{}|", vec!["======"; ncol].join("|"));
        let dash = format!("|{}|", vec!["------"; ncol].join("|"));
        let mut body = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let cells: Vec<String> = (0..ncol)
                .map(|c| if c == 0 { format!("run{i}") } else { format!("{v:.1}") })
                .collect();
            body.push(format!("| {} |", cells.join(" | ")));
        }
        let mut text = format!("ℹ Title\n{rule}\n{top}\n{stat}\n{dash}\n{}\n{rule}\n", body.join("\n"));
        if bare {
            // GuideLLM 0.3: no outer pipes, `====` borders, `---|---` under the header.
            text = text
                .lines()
                .map(|l| {
                    let l = l.strip_prefix('|').unwrap_or(l);
                    let l = l.strip_suffix('|').unwrap_or(l);
                    if l.starts_with('=') { l.replace('|', "=") } else { l.to_string() }
                })
                .collect::<Vec<_>>()
                .join("\n");
        }
        let tables = read_tables(&text);
        prop_assert_eq!(tables.len(), 1);
        let t = &tables[0];
        prop_assert!(t.closed);
        prop_assert_eq!(&t.header, &expected);
        prop_assert_eq!(t.rows.len(), values.len());
        for (row, v) in t.rows.iter().zip(&values) {
            prop_assert_eq!(row.len(), ncol);
            let want = format!("{v:.1}").parse::<f64>().unwrap();
            prop_assert_eq!(parse_number(&row[1]), Some(want));
        }
    }
}
