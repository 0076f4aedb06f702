//! One golden snapshot per fixture log under `shared/fixtures/logs`: what every parser read.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use servebench_results::parse::{AccuracyRow, Parsed, parse_accuracy_any, parse_any, rejection};

/// The shared fixture logs.
pub fn logs_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/logs"
    ))
}

/// Every fixture file, sorted, relative to [`logs_dir`].
pub fn fixture_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&logs_dir(), &mut out);
    out.sort();
    out
}

/// A stable, readable rendering of parse results.
pub fn render(results: &[Parsed], accuracy: &[AccuracyRow]) -> String {
    let mut s = String::new();
    if results.is_empty() && accuracy.is_empty() {
        s.push_str("(nothing parsed)\n");
    }
    render_parsed(&mut s, results, accuracy);
    s
}

/// Renders `text`'s results, or why it was rejected.
pub fn render_text(text: &str) -> String {
    let results = parse_any(text);
    let accuracy = parse_accuracy_any(text);
    if results.is_empty()
        && accuracy.is_empty()
        && let Some(why) = rejection(text)
    {
        return format!("(rejected: {why})\n");
    }
    render(&results, &accuracy)
}

fn render_parsed(s: &mut String, results: &[Parsed], accuracy: &[AccuracyRow]) {
    for r in accuracy {
        let _ = writeln!(
            s,
            "accuracy run={} task={} filter={} metric={} value={} stderr={} n_shot={}",
            r.run,
            r.task,
            r.filter,
            r.metric,
            r.value,
            r.stderr.map_or("-".into(), |v| v.to_string()),
            r.n_shot.map_or("-".into(), |v| v.to_string()),
        );
    }
    for (i, p) in results.iter().enumerate() {
        let _ = writeln!(
            s,
            "#{i} {} complete={} concurrency={} num_prompts={} expected_output_tokens={}",
            p.format,
            p.complete,
            p.concurrency.map_or("-".into(), |c| c.to_string()),
            p.num_prompts.map_or("-".into(), |c| c.to_string()),
            p.expected_output_tokens
                .map_or("-".into(), |c| c.to_string()),
        );
        for (k, v) in &p.metrics {
            let _ = writeln!(s, "  {k} = {v}");
        }
        for (k, v) in &p.extra {
            let _ = writeln!(s, "  extra.{k} = {v}");
        }
        if let Some(h) = &p.client_health {
            let _ = writeln!(
                s,
                "  client_health: bound={} reasons={:?}",
                h.bound, h.reasons
            );
        }
        for n in &p.notes {
            let _ = writeln!(s, "  note: {n}");
        }
    }
}

#[test]
fn fixture_goldens() {
    let files = fixture_files();
    assert!(files.len() >= 30, "fixtures missing: {}", files.len());
    for f in files {
        let rel = f.strip_prefix(logs_dir()).unwrap();
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        let name = rel
            .with_extension("")
            .to_string_lossy()
            .replace(['/', '\\'], "__");
        insta::with_settings!({
            snapshot_path => "snapshots/fixtures",
            prepend_module_to_snapshot => false,
            description => rel.display().to_string(),
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, render_text(&text));
        });
    }
}
