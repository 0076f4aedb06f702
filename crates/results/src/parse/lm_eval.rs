//! lm-evaluation-harness (and lmms-eval) results: the Markdown table it prints and its
//! results JSON (SPEC 10.2 reads them; the hypothesis test is a later issue).
//!
//! Table rows are `|task|version|filter|n-shot|metric|arrow|value|±|stderr|`. Unlike upstream's
//! regex, padded filter names (`strict-match    `) and continuation rows with an empty task
//! (the task of the row above) are read. Columns come from the header row when there is one.
//! Tolerated: comment/quote markers before the row, a table flattened onto one line with `⏎`
//! for line breaks, a mangled arrow or `±`. A row cut short is dropped. A new header, or a
//! repeated (task, filter, metric), starts a new run (`run` index), as upstream.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::json::objects;

/// One accuracy figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyRow {
    /// Which table (or JSON document) in the text, from 0.
    pub run: usize,
    /// Task (`gsm8k`).
    pub task: String,
    /// Filter (`flexible-extract`, `strict-match`, `get-answer`, `none`).
    pub filter: String,
    /// Metric (`exact_match`).
    pub metric: String,
    /// Value (a fraction, as printed).
    pub value: f64,
    /// Standard error, when printed.
    pub stderr: Option<f64>,
    /// Few-shot count, when printed.
    pub n_shot: Option<u64>,
}

fn number(cell: &str) -> Option<f64> {
    let c = cell.trim();
    if c.is_empty()
        || !c
            .chars()
            .all(|ch| ch.is_ascii_digit() || ch == '.' || ch == '-')
    {
        return None;
    }
    c.parse().ok()
}

/// Column positions, from a header row or the standard layout.
#[derive(Debug, Clone, Copy)]
struct Columns {
    task: usize,
    filter: usize,
    n_shot: usize,
    metric: usize,
    value: usize,
    stderr: usize,
}

const STANDARD: Columns = Columns {
    task: 0,
    filter: 2,
    n_shot: 3,
    metric: 4,
    value: 6,
    stderr: 8,
};

fn header(cells: &[&str]) -> Option<Columns> {
    let find = |names: &[&str]| {
        cells
            .iter()
            .position(|c| names.iter().any(|n| c.eq_ignore_ascii_case(n)))
    };
    Some(Columns {
        task: find(&["tasks", "task", "groups"])?,
        filter: find(&["filter"])?,
        n_shot: find(&["n-shot"]).unwrap_or(usize::MAX),
        metric: find(&["metric"])?,
        value: find(&["value"])?,
        stderr: find(&["stderr"]).unwrap_or(usize::MAX),
    })
}

/// The cells of a table row: `|a|b|` -> `["a", "b"]` (untrimmed edges dropped), or `None`.
fn row_cells(line: &str) -> Option<Vec<&str>> {
    let line = line.trim_start_matches(|c: char| c == '#' || c == '>' || c.is_whitespace());
    let inner = line.strip_prefix('|')?;
    let inner = inner.trim_end();
    let inner = inner.strip_suffix('|')?;
    Some(inner.split('|').map(str::trim).collect())
}

/// Every accuracy row of lm_eval tables in `text`.
pub fn parse_lm_eval_table(text: &str) -> Vec<AccuracyRow> {
    let mut out: Vec<AccuracyRow> = Vec::new();
    let mut cols: Option<Columns> = None;
    let mut run = 0usize;
    let mut run_started = false;
    let mut last_task = String::new();
    let lines = text.split(['\n', '⏎']);
    for raw in lines {
        let Some(cells) = row_cells(raw) else {
            continue;
        };
        if let Some(h) = header(&cells) {
            if run_started {
                run += 1;
                run_started = false;
            }
            cols = Some(h);
            last_task.clear();
            continue;
        }
        if cells
            .iter()
            .all(|c| c.chars().all(|ch| ch == '-' || ch == ':'))
        {
            continue;
        }
        let c = cols.unwrap_or(STANDARD);
        let get = |i: usize| cells.get(i).copied().unwrap_or("");
        let (Some(value), metric) = (number(get(c.value)), get(c.metric)) else {
            continue;
        };
        // A metric is a name (`exact_match`, `acc`); a number there means another tool's pipe
        // table (GuideLLM's), not an lm_eval row.
        if metric.is_empty() || number(metric).is_some() {
            continue;
        }
        let task = match get(c.task).trim_start_matches([' ', '-']) {
            "" => last_task.clone(),
            t => t.to_string(),
        };
        if task.is_empty()
            || task.eq_ignore_ascii_case("tasks")
            || task.eq_ignore_ascii_case("task")
        {
            continue;
        }
        let filter = get(c.filter).to_string();
        let repeated = out
            .iter()
            .any(|r| r.run == run && r.task == task && r.filter == filter && r.metric == metric);
        if repeated {
            run += 1;
        }
        last_task.clone_from(&task);
        run_started = true;
        out.push(AccuracyRow {
            run,
            task,
            filter,
            metric: metric.to_string(),
            value,
            stderr: number(get(c.stderr)),
            n_shot: number(get(c.n_shot))
                .filter(|v| *v >= 0.0 && v.fract() == 0.0)
                .map(|v| v as u64),
        });
    }
    out
}

/// Accuracy rows of lm_eval results JSON (`results.<task>."<metric>,<filter>"`), one run per
/// document; a document cut short keeps what it had.
pub fn parse_lm_eval_json(text: &str) -> Vec<AccuracyRow> {
    let mut out = Vec::new();
    for (run, found) in objects(text)
        .iter()
        .filter(|f| f.value.get("results").is_some_and(Value::is_object))
        .enumerate()
    {
        let Some(results) = found.value.get("results").and_then(Value::as_object) else {
            continue;
        };
        for (task, metrics) in results {
            let Some(m) = metrics.as_object() else {
                continue;
            };
            for (key, v) in m {
                let Some(value) = v.as_f64() else { continue };
                let Some((metric, filter)) = key.split_once(',') else {
                    continue;
                };
                if metric.ends_with("_stderr") {
                    continue;
                }
                let stderr = m
                    .get(&format!("{metric}_stderr,{filter}"))
                    .and_then(Value::as_f64);
                out.push(AccuracyRow {
                    run,
                    task: task.clone(),
                    filter: filter.to_string(),
                    metric: metric.to_string(),
                    value,
                    stderr,
                    n_shot: None,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_filters_and_continuation_rows() {
        let t = "|Tasks|Version|     Filter     |n-shot|  Metric   |   |Value |   |Stderr|\n\
                 |-----|------:|----------------|-----:|-----------|---|-----:|---|-----:|\n\
                 |gsm8k|      3|flexible-extract|     5|exact_match|↑  |0.5049|±  |0.0138|\n\
                 |     |       |strict-match    |     5|exact_match|↑  |0.5027|±  |0.0138|\n";
        let rows = parse_lm_eval_table(t);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].task, "gsm8k");
        assert_eq!(rows[1].filter, "strict-match");
        assert_eq!(rows[1].value, 0.5027);
        assert_eq!(rows[1].stderr, Some(0.0138));
        assert_eq!(rows[1].n_shot, Some(5));
        assert_eq!(rows[1].run, 0);
    }
}
