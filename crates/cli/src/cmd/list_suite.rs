//! `servebench list` views of test lists and unified suites: which test-db blocks apply to the
//! system and why the others do not (always shown), `--summary` (counts per mode, model and GPU
//! type; resolved, missing and skipped lines), `--pretty` (every list line with what became of
//! it) and `--show-groups` (the CI shards of `--splits`).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::json;
use servebench_config::model::TestCase;
use servebench_config::select::{
    Basis, LineOutcome, LineReport, ListMarker, ListReport, Listed, Shards, SuiteMode,
};

use crate::suite::Loaded;

/// Line counts of one list.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LineCounts {
    /// Test lines that parsed.
    pub lines: usize,
    /// Lines naming a config in the tree.
    pub resolved: usize,
    /// Lines naming no config in the tree.
    pub missing: usize,
    /// Of those, lines in blocks that apply (errors unless `--allow-missing`).
    pub missing_here: usize,
    /// Lines in test-db blocks that do not apply to the system.
    pub not_for_system: usize,
    /// Lines (in applying blocks) marked `SKIP`.
    pub skip: usize,
    /// Selected tests of the list skipped by a waive.
    pub waived: usize,
}

impl LineCounts {
    /// Lines that will not run: not for this system, `SKIP` or waived.
    pub fn skipped(&self) -> usize {
        self.not_for_system + self.skip + self.waived
    }
}

/// Counts the lines of one list report.
pub fn line_counts(loaded: &Loaded, report: &ListReport) -> LineCounts {
    let mut c = LineCounts {
        lines: report.lines.len(),
        ..LineCounts::default()
    };
    for line in &report.lines {
        match line.outcome {
            LineOutcome::Resolved(_) => c.resolved += 1,
            LineOutcome::Missing(_) => c.missing += 1,
        }
        if !applies(report, line) {
            c.not_for_system += 1;
        } else if matches!(line.outcome, LineOutcome::Missing(_)) {
            c.missing_here += 1;
        } else if matches!(line.marker, Some(ListMarker::Skip { waived: false, .. })) {
            c.skip += 1;
        }
    }
    c.waived = selected_listed(loaded)
        .filter(|l| l.file == report.name && is_waived(l))
        .count();
    c
}

fn applies(report: &ListReport, line: &LineReport) -> bool {
    line.block
        .is_none_or(|b| report.blocks.get(b).is_some_and(|b| b.matched()))
}

fn is_waived(listed: &Listed) -> bool {
    matches!(listed.marker, Some(ListMarker::Skip { waived: true, .. }))
}

fn selected_listed(loaded: &Loaded) -> impl Iterator<Item = &Listed> {
    loaded.selected.iter().filter_map(|(_, _, l)| l.as_ref())
}

/// The system description, one line.
fn system_line(loaded: &Loaded) -> String {
    let pairs: Vec<String> = loaded
        .system
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if pairs.is_empty() {
        "system: (empty; pass --system key=value, e.g. --system gpu=GB200 --system stage=post_merge)"
            .into()
    } else {
        format!("system: {}", pairs.join(" "))
    }
}

/// Which test-db blocks apply and why the others do not; empty without test-db lists.
pub fn blocks_text(loaded: &Loaded) -> String {
    let mut out = String::new();
    if loaded.reports.iter().all(|r| r.blocks.is_empty()) {
        return out;
    }
    let _ = writeln!(out, "{}", system_line(loaded));
    for report in loaded.reports.iter().filter(|r| !r.blocks.is_empty()) {
        let _ = writeln!(out, "{}:", report.name);
        for (i, b) in report.blocks.iter().enumerate() {
            let _ = write!(out, "  block {} (line {}): ", i + 1, b.line);
            if b.matched() {
                let _ = writeln!(out, "applies");
            } else {
                let why: Vec<String> = b.mismatches.iter().map(ToString::to_string).collect();
                let _ = writeln!(out, "does not apply: {}", why.join("; "));
            }
        }
    }
    out
}

/// `list --summary`.
pub fn summary_text(loaded: &Loaded) -> String {
    let mut out = blocks_text(loaded);
    for report in &loaded.reports {
        let c = line_counts(loaded, report);
        let _ = writeln!(
            out,
            "{}: {} line(s): {} resolved, {} missing; {} skipped ({} in blocks that do not apply, {} SKIP, {} waived){}",
            report.name,
            c.lines,
            c.resolved,
            c.missing,
            c.skipped(),
            c.not_for_system,
            c.skip,
            c.waived,
            if report.invalid > 0 {
                format!("; {} invalid line(s)", report.invalid)
            } else {
                String::new()
            }
        );
        for line in &report.lines {
            if let LineOutcome::Missing(kind) = &line.outcome {
                let note = if applies(report, line) {
                    ""
                } else {
                    " [block does not apply]"
                };
                let _ = writeln!(out, "  line {}{note}: {kind}", line.line);
            }
        }
    }
    let _ = writeln!(out, "{} test(s) selected", loaded.selected.len());
    let mut modes: BTreeMap<SuiteMode, usize> =
        [SuiteMode::SingleAgg, SuiteMode::MultiAgg, SuiteMode::Disagg]
            .into_iter()
            .map(|m| (m, 0))
            .collect();
    for m in &loaded.suite_modes {
        *modes.entry(*m).or_default() += 1;
    }
    let _ = writeln!(
        out,
        "by mode: {}",
        join(modes.iter().map(|(m, n)| (m.as_str().to_owned(), *n)))
    );
    let mut models: BTreeMap<String, usize> = BTreeMap::new();
    let mut gpus: BTreeMap<String, usize> = BTreeMap::new();
    for case in loaded.cases() {
        *models
            .entry(case.config.metadata.model_name.clone())
            .or_default() += 1;
        for g in &case.config.metadata.supported_gpus {
            *gpus.entry(g.clone()).or_default() += 1;
        }
    }
    let _ = writeln!(out, "by model: {}", join(models.into_iter()));
    let _ = writeln!(out, "by GPU type: {}", join(gpus.into_iter()));
    let mut markers: BTreeMap<String, usize> = BTreeMap::new();
    for l in selected_listed(loaded) {
        if let Some(m) = &l.marker {
            let key = if is_waived(l) {
                "SKIP (waived)".to_owned()
            } else {
                m.keyword().to_owned()
            };
            *markers.entry(key).or_default() += 1;
        }
    }
    let _ = writeln!(out, "markers: {}", join(markers.into_iter()));
    filtered_note(loaded, &mut out);
    out
}

fn filtered_note(loaded: &Loaded, out: &mut String) {
    if let Some(gpu) = &loaded.gpu {
        let _ = writeln!(
            out,
            "gpu type: {gpu} ({} test(s) for other GPUs hidden; --show-all-gpus shows them)",
            loaded.gpu_filtered
        );
    }
    if loaded.mode_filtered > 0 {
        let _ = writeln!(
            out,
            "{} test(s) of other modes hidden (--mode)",
            loaded.mode_filtered
        );
    }
}

fn join(items: impl Iterator<Item = (String, usize)>) -> String {
    let parts: Vec<String> = items.map(|(k, n)| format!("{k} ({n})")).collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

/// `list --pretty`: every line of every list with what became of it, under its block.
pub fn pretty_text(loaded: &Loaded) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", system_line(loaded));
    let selected: HashMap<(&str, usize), Vec<usize>> =
        loaded
            .selected
            .iter()
            .enumerate()
            .fold(HashMap::new(), |mut m, (pos, (_, _, l))| {
                if let Some(l) = l {
                    m.entry((l.file.as_str(), l.line)).or_default().push(pos);
                }
                m
            });
    for report in &loaded.reports {
        let _ = writeln!(out, "{}:", report.name);
        let mut block = None;
        for line in &report.lines {
            if line.block != block {
                block = line.block;
                if let Some(b) = block.and_then(|b| report.blocks.get(b).map(|r| (b, r))) {
                    let status = if b.1.matched() {
                        "applies".to_owned()
                    } else {
                        let why: Vec<String> =
                            b.1.mismatches.iter().map(ToString::to_string).collect();
                        format!("does not apply: {}", why.join("; "))
                    };
                    let _ = writeln!(out, "  block {} (line {}): {status}", b.0 + 1, b.1.line);
                }
            }
            let _ = write!(out, "    {:>4}  ", line.line);
            let here = selected.get(&(report.name.as_str(), line.line));
            match (&line.outcome, here) {
                (LineOutcome::Missing(kind), _) => {
                    let _ = write!(out, "missing  {kind}");
                }
                (LineOutcome::Resolved(found), Some(positions)) => {
                    for (n, &pos) in positions.iter().enumerate() {
                        if n > 0 {
                            let _ = write!(out, "\n          ");
                        }
                        pretty_selected(loaded, pos, &mut out);
                    }
                    let others = found.len().saturating_sub(positions.len());
                    if others > 0 {
                        let _ = write!(out, " (+{others} case(s) filtered out)");
                    }
                }
                (LineOutcome::Resolved(found), None) => {
                    let why = if applies(report, line) {
                        "filtered out (filters, GPU type, --mode or --group)"
                    } else {
                        "not for this system"
                    };
                    let names: Vec<&str> = found
                        .iter()
                        .filter_map(|&k| case_at(loaded, k))
                        .map(|c| c.display_name.as_str())
                        .collect();
                    let _ = write!(out, "skipped  {why}: {}", names.join(", "));
                }
            }
            out.push('\n');
        }
    }
    out
}

fn pretty_selected(loaded: &Loaded, pos: usize, out: &mut String) {
    let Some((f, c, listed)) = loaded.selected.get(pos) else {
        return;
    };
    let Some(case) = loaded.suite.files.get(*f).and_then(|x| x.cases.get(*c)) else {
        return;
    };
    let marker = listed.as_ref().and_then(|l| l.marker.as_ref());
    let status = if matches!(marker, Some(ListMarker::Skip { .. })) {
        "skip"
    } else {
        "run"
    };
    let mode = loaded.suite_modes.get(pos).map_or("-", |m| m.as_str());
    let bench = listed
        .as_ref()
        .and_then(|l| l.mode)
        .map_or_else(String::new, |m| format!(" {m}"));
    let _ = write!(out, "{status:<7}  {mode:<10} {}{bench}", case.test_id);
    if let Some(m) = marker {
        let _ = write!(out, "  {m}");
    }
}

fn case_at(loaded: &Loaded, key: usize) -> Option<&TestCase> {
    let &(f, c) = loaded.keys.get(key)?;
    loaded.suite.files.get(f)?.cases.get(c)
}

/// `list --splits N --show-groups`: each shard with its expected duration and its tests.
pub fn groups_text(loaded: &Loaded, shards: &Shards) -> String {
    let mut out = String::new();
    let basis = match shards.basis {
        Basis::Recorded => "recorded durations",
        Basis::PlannedGpuHours => "planned GPU-hours (GPUs x TIMEOUT, else 1 h)",
        Basis::FileOrder => "file order (no durations or plans)",
    };
    let _ = writeln!(
        out,
        "{} group(s) by least_duration over {basis}",
        shards.groups.len()
    );
    for g in &shards.groups {
        let _ = writeln!(
            out,
            "group {}: {} test(s), expected {}",
            g.number,
            g.tests.len(),
            amount(shards.basis, g.expected)
        );
        for &i in &g.tests {
            if let Some(name) = loaded.split_names.get(i) {
                let w = shards.weights.get(i).copied().unwrap_or(0.0);
                let _ = writeln!(out, "  {name}  ({})", amount(shards.basis, w));
            }
        }
    }
    filtered_note(loaded, &mut out);
    out
}

fn amount(basis: Basis, value: f64) -> String {
    match basis {
        Basis::Recorded => {
            let secs = value.round() as u64;
            format!("{}h{:02}m{:02}s", secs / 3600, secs / 60 % 60, secs % 60)
        }
        Basis::PlannedGpuHours => format!("{value:.1} GPU-h"),
        Basis::FileOrder => format!("{value:.0} test(s)"),
    }
}

/// Adds the selected test's unified-suite mode and what its list line said to its JSON object.
pub fn add_selection_json(loaded: &Loaded, pos: usize, v: &mut serde_json::Value) {
    v["suite_mode"] = json!(loaded.suite_modes.get(pos).map(|m| m.as_str()));
    let listed = loaded.selected.get(pos).and_then(|(_, _, l)| l.as_ref());
    v["listed"] = json!(listed.map(|l| json!({
        "file": l.file,
        "line": l.line,
        "benchmark_mode": l.mode.map(|m| m.as_str()),
        "marker": l.marker.as_ref().map(|m| m.keyword()),
        "reason": match &l.marker {
            Some(ListMarker::Skip { reason, .. } | ListMarker::Xfail { reason } | ListMarker::Unstable { reason }) => Some(reason.as_str()),
            _ => None,
        },
        "waived": is_waived(l),
        "timeout_s": l.marker.as_ref().and_then(ListMarker::timeout).map(|d| d.as_secs()),
    })));
}

/// Per test list: its blocks (with why not), line counts and missing names.
pub fn lists_json(loaded: &Loaded) -> serde_json::Value {
    let lists: Vec<serde_json::Value> = loaded
        .reports
        .iter()
        .map(|r| {
            let c = line_counts(loaded, r);
            json!({
                "name": r.name,
                "blocks": r.blocks.iter().map(|b| json!({
                    "line": b.line,
                    "context": b.context,
                    "applies": b.matched(),
                    "why_not": b.mismatches.iter().map(ToString::to_string).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "lines": c.lines,
                "resolved": c.resolved,
                "missing": c.missing,
                "skipped": c.skipped(),
                "not_for_system": c.not_for_system,
                "skip": c.skip,
                "waived": c.waived,
                "invalid": r.invalid,
                "missing_lines": r.lines.iter().filter_map(|l| match &l.outcome {
                    LineOutcome::Missing(kind) => Some(json!({
                        "line": l.line,
                        "applies": applies(r, l),
                        "message": kind.to_string(),
                    })),
                    LineOutcome::Resolved(_) => None,
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!(lists)
}

/// The shards: basis, and per group its number, expected amount and test names.
pub fn groups_json(loaded: &Loaded, shards: &Shards) -> serde_json::Value {
    let (basis, unit) = match shards.basis {
        Basis::Recorded => ("recorded", "seconds"),
        Basis::PlannedGpuHours => ("planned_gpu_hours", "gpu_hours"),
        Basis::FileOrder => ("file_order", "tests"),
    };
    json!({
        "basis": basis,
        "unit": unit,
        "groups": shards.groups.iter().map(|g| json!({
            "group": g.number,
            "expected": g.expected,
            "tests": g.tests.iter().filter_map(|&i| loaded.split_names.get(i)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}
