//! The HTML report: one self-contained file (inline CSS, SVG and a little JavaScript; nothing
//! fetched at view time; a Content-Security-Policy forbids it).
//!
//! Rust computes every chart's geometry and writes its SVG ([`crate::svg`], which escapes
//! every input string); one minijinja template (`templates/report.html`) lays out the page:
//! header, verdict table, test details. The template is auto-escaped (its name ends in
//! `.html`), so input text lands as text; only the chart SVG is inserted `|safe`.
//!
//! Why templates plus a small SVG writer rather than plotters' SVG backend: the report needs
//! links, CSS classes (light, dark and print themes), `data-tip` attributes for hover details
//! and stable output for golden files, none of which plotters' drawing backend emits. Why the
//! charts are not template macros: a 1,000-test report has about a million chart elements, and
//! the template engine took 2 s on them where the writer takes a fraction.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use minijinja::Environment;
use minijinja::value::Serde;
use serde::Serialize;

use crate::chart::{Frame, Scale, Tick, fmt_num, polyline, round1};
use crate::model::{HistorySeries, ReportInput, ReportVerdict, TestReport};
use crate::pareto::{ParetoGroup, ParetoPoint, pareto_groups};
use crate::svg::Svg;

/// Colour classes (`s0`..`s7` in the stylesheet) cycled through by series.
const PALETTE: usize = 8;

/// The latency metrics plotted per test: (title, median metric, p99 metric).
const LATENCY: [(&str, &str, &str); 3] = [
    ("TTFT (ms)", "median_ttft_ms", "p99_ttft_ms"),
    ("TPOT (ms)", "median_tpot_ms", "p99_tpot_ms"),
    ("E2EL (ms)", "median_e2el_ms", "p99_e2el_ms"),
];

/// Renders the report; see the module docs. Never fails: the template is fixed and every value
/// it reads is computed here.
pub fn render_html(input: &ReportInput) -> String {
    let page = page(input);
    match env().get_template(TEMPLATE) {
        Ok(t) => t
            .render(minijinja::context!(page => Serde(&page)))
            .unwrap_or_else(|e| fallback(&e)),
        Err(e) => fallback(&e),
    }
}

const TEMPLATE: &str = "report.html";

/// The template environment, built once.
fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        let templates = [
            (TEMPLATE, include_str!("templates/report.html")),
            ("report.css", include_str!("templates/report.css")),
            ("report.js", include_str!("templates/report.js")),
        ];
        for (name, text) in templates {
            // The templates are part of the binary and covered by every render test.
            if let Err(e) = env.add_template(name, text) {
                debug_assert!(false, "template {name}: {e}");
            }
        }
        env
    })
}

/// A page that says the report could not be rendered (a bug in the template, never input).
fn fallback(e: &minijinja::Error) -> String {
    let msg = e.to_string().replace('&', "&amp;").replace('<', "&lt;");
    format!("<!doctype html><title>servebench report</title><p>report template error: {msg}</p>")
}

#[derive(Serialize)]
struct Page {
    title: String,
    runs: Vec<RunView>,
    counts: Vec<(&'static str, usize)>,
    pareto: Vec<ChartView>,
    tests: Vec<TestView>,
}

#[derive(Serialize)]
struct RunView {
    id: String,
    source: String,
}

/// A chart for the template: its caption, its SVG (written by [`crate::svg`], input escaped
/// there) and its legend as (label, colour class).
#[derive(Serialize)]
struct ChartView {
    title: String,
    svg: String,
    legend: Vec<(String, String)>,
}

#[derive(Serialize)]
struct TestView {
    anchor: String,
    test_id: String,
    run: String,
    verdict: &'static str,
    rank: u8,
    model: String,
    lengths: String,
    gpu_type: String,
    topology: String,
    gpus: String,
    best: String,
    best_value: f64,
    reasons: Vec<String>,
    changes: Vec<ChangeView>,
    excerpts: Vec<ExcerptView>,
    logs: Option<String>,
    latency: Vec<ChartView>,
    trends: Vec<ChartView>,
    trend_legend: Vec<(String, String)>,
}

#[derive(Serialize)]
struct ChangeView {
    metric: String,
    concurrency: u64,
    baseline: String,
    value: String,
    delta: String,
    regression: bool,
}

#[derive(Serialize)]
struct ExcerptView {
    title: String,
    href: Option<String>,
    text: String,
}

fn page(input: &ReportInput) -> Page {
    let counts = ReportVerdict::ALL
        .iter()
        .map(|v| {
            (
                v.as_str(),
                input.tests.iter().filter(|t| t.verdict == *v).count(),
            )
        })
        .collect();
    Page {
        title: if input.title.is_empty() {
            "servebench report".to_string()
        } else {
            input.title.clone()
        },
        runs: input
            .runs
            .iter()
            .map(|r| RunView {
                id: r.id.clone(),
                source: r.source.clone().unwrap_or_default(),
            })
            .collect(),
        counts,
        pareto: pareto_groups(input)
            .iter()
            .map(|g| pareto_chart(input, g))
            .collect(),
        tests: input
            .tests
            .iter()
            .enumerate()
            .map(|(i, t)| test_view(input, i, t))
            .collect(),
    }
}

/// `t{index}`: anchors never carry input text.
fn anchor(test: usize) -> String {
    format!("t{test}")
}

fn run_id(input: &ReportInput, run: usize) -> String {
    input
        .runs
        .get(run)
        .map(|r| r.id.clone())
        .unwrap_or_default()
}

fn pareto_chart(input: &ReportInput, g: &ParetoGroup) -> ChartView {
    let frame = Frame::new(640.0, 380.0);
    let max_x = g.points.iter().map(|p| p.per_user).fold(0.0, f64::max);
    let max_y = g.points.iter().map(|p| p.per_gpu).fold(0.0, f64::max);
    let xs = Scale::nice(0.0, max_x, frame.left, frame.right);
    let ys = Scale::nice(0.0, max_y, frame.bottom, frame.top);
    let title = format!(
        "{} · ISL/OSL {} · {}",
        g.key.model, g.key.lengths, g.key.gpu_type
    );
    let mut svg = Svg::open("pareto", &frame);
    svg.axes(
        &frame,
        &xs.ticks(),
        &ys.ticks(),
        "tokens/s per user (1000 / median TPOT)",
        "output tokens/s per GPU",
    );
    // One colour per topology label, in order of first appearance.
    let mut colors: BTreeMap<String, usize> = BTreeMap::new();
    let mut legend = Vec::new();
    let mut color_of = |label: &str| {
        let n = colors.len();
        let k = *colors.entry(label.to_string()).or_insert(n);
        if k == n {
            legend.push((label.to_string(), format!("s{}", k % PALETTE)));
        }
        format!("s{}", k % PALETTE)
    };
    let at = |p: &ParetoPoint| (xs.at(p.per_user), ys.at(p.per_gpu));
    // A test's concurrencies, joined (points of a test are adjacent).
    let mut start = 0;
    while let Some(first) = g.points.get(start) {
        let len = g.points[start..]
            .iter()
            .take_while(|p| p.test == first.test)
            .count();
        let topo = input
            .tests
            .get(first.test)
            .map(|t| t.meta.topology.label())
            .unwrap_or_default();
        let color = color_of(&topo);
        if len > 1 {
            let line = polyline(g.points[start..start + len].iter().map(at));
            svg.polyline(&format!("sweep {color}"), &line, None);
        }
        start += len;
    }
    let frontier = polyline(g.frontier.iter().filter_map(|&i| g.points.get(i)).map(at));
    svg.polyline("frontier", &frontier, None);
    for p in &g.points {
        let Some(test) = input.tests.get(p.test) else {
            continue;
        };
        let topo = test.meta.topology.label();
        let color = color_of(&topo);
        let (cx, cy) = at(p);
        let tip = format!(
            "{} (run {})\n{topo}, concurrency {}\n{} tok/s/user, {} tok/s/GPU{}",
            test.test_id,
            run_id(input, test.run),
            p.concurrency,
            fmt_num(p.per_user),
            fmt_num(p.per_gpu),
            if p.valid {
                ""
            } else {
                "\ninvalid: not on the frontier"
            }
        );
        let class = format!(
            "pt {color}{}{}",
            if p.valid { "" } else { " hollow" },
            if p.on_frontier { " on-frontier" } else { "" }
        );
        svg.open_link(&anchor(p.test));
        svg.circle(
            &class,
            cx,
            cy,
            if p.on_frontier { 5.0 } else { 3.5 },
            Some(&tip),
        );
        svg.close_link();
        if p.on_frontier {
            // Near the right edge the label goes left of the point.
            let left = cx > frame.left + (frame.right - frame.left) * 0.6;
            let x = if left { cx - 7.0 } else { cx + 7.0 };
            svg.text(
                "pt-label",
                x,
                cy - 7.0,
                left,
                &format!("{topo} c={}", p.concurrency),
            );
        }
    }
    legend.push(("frontier".to_string(), "frontier-sw".to_string()));
    ChartView {
        title,
        svg: svg.finish(),
        legend,
    }
}

fn test_view(input: &ReportInput, i: usize, t: &TestReport) -> TestView {
    let best = t
        .points
        .iter()
        .filter_map(|p| p.get("output_token_throughput_per_gpu"))
        .fold(None, |acc: Option<f64>, v| {
            Some(acc.map_or(v, |a| a.max(v)))
        });
    let log_href = |source: &str| t.logs.as_deref().and_then(|base| safe_href(base, source));
    TestView {
        anchor: anchor(i),
        test_id: t.test_id.clone(),
        run: run_id(input, t.run),
        verdict: t.verdict.as_str(),
        rank: t.verdict.rank(),
        model: t.meta.model.clone(),
        lengths: t.meta.lengths(),
        gpu_type: t.meta.gpu_type.clone(),
        topology: t.meta.topology.label(),
        gpus: t.meta.gpus.map(|g| g.to_string()).unwrap_or_default(),
        best: best.map(fmt_num).unwrap_or_default(),
        best_value: best.unwrap_or(-1.0),
        reasons: t.reasons.clone(),
        changes: t
            .changes
            .iter()
            .map(|c| ChangeView {
                metric: metric_title(&c.metric),
                concurrency: c.concurrency,
                baseline: fmt_num(c.baseline),
                value: fmt_num(c.value),
                delta: c
                    .delta_pct()
                    .map_or_else(|| "n/a".to_string(), |d| format!("{d:+.1}%")),
                regression: c.regression,
            })
            .collect(),
        excerpts: t
            .excerpts
            .iter()
            .map(|e| ExcerptView {
                title: match e.concurrency {
                    Some(c) => format!("{} (concurrency {c})", e.source),
                    None => e.source.clone(),
                },
                href: log_href(&e.source),
                text: e.text.clone(),
            })
            .collect(),
        logs: t.logs.as_deref().and_then(|base| safe_href(base, "")),
        latency: latency_panels(t),
        trends: trend_charts(t),
        trend_legend: trend_legend(t),
    }
}

/// A link into the logs: relative paths, `http(s)://` and `file://` only (never
/// `javascript:` or other schemes from an untrusted store).
pub(crate) fn safe_href(base: &str, rel: &str) -> Option<String> {
    let lower = base.trim_start().to_ascii_lowercase();
    let scheme = lower
        .split_once(':')
        .filter(|(s, _)| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+'))
        .map(|(s, _)| s.to_string());
    // A single letter before `:` is a Windows drive, not a scheme.
    let allowed = match scheme.as_deref() {
        None => true,
        Some(s) => s.len() == 1 || matches!(s, "http" | "https" | "file"),
    };
    if !allowed {
        return None;
    }
    Some(if rel.is_empty() {
        base.to_string()
    } else {
        format!("{}/{rel}", base.trim_end_matches('/'))
    })
}

/// Human title of a canonical metric.
pub(crate) fn metric_title(metric: &str) -> String {
    match metric {
        "output_token_throughput_per_gpu" => "output tok/s per GPU".to_string(),
        "output_token_throughput_per_gen_gpu" => "output tok/s per GEN GPU".to_string(),
        "output_token_throughput" => "output tok/s".to_string(),
        "total_token_throughput" => "total tok/s".to_string(),
        "request_throughput" => "requests/s".to_string(),
        "interactivity" => "tok/s per user".to_string(),
        other => match other.rsplit_once('_') {
            Some((head, "ms")) => match head.split_once('_') {
                Some((stat, m)) => format!("{stat} {} (ms)", m.to_ascii_uppercase()),
                None => other.to_string(),
            },
            _ => other.to_string(),
        },
    }
}

fn latency_panels(t: &TestReport) -> Vec<ChartView> {
    let n = t.points.len();
    if n == 0 {
        return Vec::new();
    }
    let frame = Frame::new(300.0, 200.0);
    // Concurrencies are evenly spaced (they are usually powers of two).
    let x_of = |i: usize| {
        if n > 1 {
            let step = (frame.right - frame.left - 20.0) / (n - 1) as f64;
            (frame.left + 10.0 + i as f64 * step).round()
        } else {
            ((frame.left + frame.right) / 2.0).round()
        }
    };
    let x_ticks: Vec<Tick> = t
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| Tick {
            pos: x_of(i),
            label: p.concurrency.to_string(),
        })
        .collect();
    LATENCY
        .iter()
        .filter_map(|&(title, median, p99)| {
            let max = t
                .points
                .iter()
                .flat_map(|p| [p.get(median), p.get(p99)])
                .flatten()
                .reduce(f64::max)?;
            let ys = Scale::nice(0.0, max, frame.bottom, frame.top).whole();
            let caption = format!("{title} against concurrency");
            let mut svg = Svg::open("latency", &frame);
            svg.axes(&frame, &x_ticks, &ys.ticks(), "concurrency", title);
            // Dots come from CSS markers; the hover text of a line lists its values.
            for (metric, stat) in [(median, "median"), (p99, "p99")] {
                let mut tip = format!("{stat} {title}:");
                let line = polyline(t.points.iter().enumerate().filter_map(|(i, p)| {
                    let v = p.get(metric)?;
                    tip.push_str(&format!("\nc={} {}", p.concurrency, fmt_num(v)));
                    Some((x_of(i), ys.at(v)))
                }));
                svg.polyline(&format!("lat {stat}"), &line, Some(&tip));
            }
            Some(ChartView {
                title: caption,
                svg: svg.finish(),
                legend: Vec::new(),
            })
        })
        .collect()
}

fn trend_charts(t: &TestReport) -> Vec<ChartView> {
    // Metrics in order of first appearance; series per metric by concurrency.
    let mut metrics: Vec<(&str, Vec<&HistorySeries>)> = Vec::new();
    for s in t.history.iter().filter(|s| !s.points.is_empty()) {
        match metrics.iter_mut().find(|(m, _)| *m == s.metric) {
            Some((_, list)) => list.push(s),
            None => metrics.push((s.metric.as_str(), vec![s])),
        }
    }
    metrics
        .into_iter()
        .map(|(metric, mut series)| {
            series.sort_by_key(|s| s.concurrency);
            trend_chart(metric, &series)
        })
        .collect()
}

/// One metric's history: every concurrency as a line in percent of its own baseline (the
/// band's centre, else the series' median), so that concurrencies whose values differ by
/// orders of magnitude share one readable chart; hover texts give the absolute values.
fn trend_chart(metric: &str, series: &[&HistorySeries]) -> ChartView {
    let frame = Frame::new(420.0, 190.0);
    // The x axis: runs in order of first appearance over every series (oldest first).
    let mut runs: Vec<&str> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for s in series {
        for p in &s.points {
            if !index.contains_key(p.run.as_str()) {
                index.insert(p.run.as_str(), runs.len());
                runs.push(p.run.as_str());
            }
        }
    }
    let refs: Vec<f64> = series.iter().map(|s| reference(s)).collect();
    let pct = |v: f64, r: f64| v / r * 100.0;
    let (lo, hi) = series
        .iter()
        .zip(&refs)
        .flat_map(|(s, &r)| {
            s.points.iter().map(move |p| pct(p.value, r)).chain(
                s.baseline
                    .iter()
                    .flat_map(move |b| [pct(b.low, r), pct(b.high, r)]),
            )
        })
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let ys = Scale::nice(lo, hi, frame.bottom, frame.top).whole();
    let last = runs.len().saturating_sub(1).max(1) as f64;
    let xs = Scale::nice(0.0, last, frame.left, frame.right).whole();
    let x_ticks: Vec<Tick> = xs
        .ticks()
        .into_iter()
        .filter_map(|tick| {
            let i: usize = tick.label.parse().ok()?;
            (i < runs.len()).then(|| Tick {
                pos: tick.pos,
                label: format!("#{}", i + 1),
            })
        })
        .collect();
    let title = metric_title(metric);
    let caption = format!("History: {title}");
    let mut svg = Svg::open("trend", &frame);
    svg.axes(&frame, &x_ticks, &ys.ticks(), "run", "% of baseline");
    let at = |run: &str| index.get(run).map_or(0.0, |&i| xs.at(i as f64));
    let class = |k: usize| format!("s{}", k % PALETTE);
    // Bands: one rectangle per distinct (top, height); equal bands are drawn once, neutral.
    let mut bands: Vec<(f64, f64, Option<usize>)> = Vec::new();
    for (k, (s, &r)) in series.iter().zip(&refs).enumerate() {
        if let Some(b) = s.baseline {
            let (top, bottom) = (ys.at(pct(b.high, r)), ys.at(pct(b.low, r)));
            let height = round1((bottom - top).max(0.5));
            match bands.iter_mut().find(|(t, h, _)| *t == top && *h == height) {
                Some(same) => same.2 = None,
                None => bands.push((top, height, Some(k))),
            }
        }
    }
    for (top, height, owner) in bands {
        let color = owner.map_or_else(|| "s0".to_string(), class);
        svg.raw(
            &format!(
                "<rect class=\"band {color}\" x=\"{}\" y=\"{top}\" width=\"{}\" height=\"{height}\"",
                frame.left,
                round1(frame.right - frame.left),
            ),
            None,
        );
    }
    let mut marks = Vec::new();
    for (k, (s, &r)) in series.iter().zip(&refs).enumerate() {
        let d = relative_path(
            s.points
                .iter()
                .map(|p| (at(&p.run), ys.at(pct(p.value, r))))
                .filter(|(_, y)| y.is_finite()),
        );
        let latest = s
            .points
            .last()
            .map(|p| fmt_num(p.value))
            .unwrap_or_default();
        let band = s.baseline.map_or_else(String::new, |b| {
            format!(
                ", baseline {} ({}..{})",
                fmt_num(b.center),
                fmt_num(b.low),
                fmt_num(b.high)
            )
        });
        let tip = format!("c={}: latest {latest}{band}", s.concurrency);
        if !d.is_empty() {
            svg.raw(
                &format!("<path class=\"tl {}\" d=\"{d}\"", class(k)),
                Some(&tip),
            );
        }
        for p in s.points.iter().filter(|p| p.change_point || p.regression) {
            marks.push((s.concurrency, r, p));
        }
    }
    // One dashed line per run with change points, naming every concurrency that changed.
    let mut change_runs: Vec<(&str, Vec<String>)> = Vec::new();
    for &(c, _, p) in marks.iter().filter(|(_, _, p)| p.change_point) {
        let what = format!("c={c} {}", fmt_num(p.value));
        match change_runs.iter_mut().find(|(run, _)| *run == p.run) {
            Some((_, list)) => list.push(what),
            None => change_runs.push((p.run.as_str(), vec![what])),
        }
    }
    for (run, what) in change_runs {
        svg.raw(
            &format!(
                "<path class=\"cp\" d=\"M{} {}V{}\"",
                at(run),
                frame.top,
                frame.bottom
            ),
            Some(&format!("change point at run {run}: {}", what.join(", "))),
        );
    }
    for &(c, r, p) in marks.iter().filter(|(_, _, p)| p.regression) {
        let (x, y) = (at(&p.run), ys.at(pct(p.value, r)));
        svg.raw(
            &format!(
                "<path class=\"reg\" d=\"M{} {}l8 8m0-8l-8 8\"",
                x - 4.0,
                y - 4.0
            ),
            Some(&format!(
                "regression at run {}: c={c} {}",
                p.run,
                fmt_num(p.value)
            )),
        );
    }
    ChartView {
        title: caption,
        svg: svg.finish(),
        legend: Vec::new(),
    }
}

/// The legend the trend charts of a test share: one colour per concurrency, then the marks.
fn trend_legend(t: &TestReport) -> Vec<(String, String)> {
    let mut conc: Vec<u64> = t.history.iter().map(|s| s.concurrency).collect();
    conc.sort_unstable();
    conc.dedup();
    let mut legend: Vec<(String, String)> = conc
        .iter()
        .enumerate()
        .map(|(k, c)| (format!("c={c}"), format!("s{}", k % PALETTE)))
        .collect();
    if !legend.is_empty() {
        legend.extend(
            [
                ("baseline band", "band-sw"),
                ("change point", "cp-sw"),
                ("regression", "reg-sw"),
            ]
            .map(|(l, c)| (l.to_string(), c.to_string())),
        );
    }
    legend
}

/// What a series is drawn relative to: its baseline's centre, else the median of its values
/// (1 when neither is a usable divisor).
fn reference(s: &HistorySeries) -> f64 {
    let usable = |v: f64| v.is_finite() && v != 0.0;
    s.baseline
        .map(|b| b.center)
        .filter(|&c| usable(c))
        .or_else(|| {
            let mut values: Vec<f64> = s
                .points
                .iter()
                .map(|p| p.value)
                .filter(|v| v.is_finite())
                .collect();
            crate::load::median(&mut values).filter(|&m| usable(m))
        })
        .map_or(1.0, f64::abs)
}

/// `M x y l dx dy dx dy ...` in whole units: a line of many points in few bytes. Deltas are
/// taken between rounded points, so rounding never accumulates.
fn relative_path(points: impl IntoIterator<Item = (f64, f64)>) -> String {
    let mut d = String::new();
    let mut prev: Option<(i64, i64)> = None;
    for (x, y) in points {
        let (x, y) = (x.round() as i64, y.round() as i64);
        match prev {
            None => d.push_str(&format!("M{x} {y}l")),
            Some((px, py)) => {
                let (dx, dy) = (x - px, y - py);
                if !d.ends_with('l') {
                    d.push(' ');
                }
                d.push_str(&dx.to_string());
                if dy >= 0 {
                    d.push(' ');
                }
                d.push_str(&dy.to_string());
            }
        }
        prev = Some((x, y));
    }
    match d.strip_suffix('l') {
        // A single point: a dot-sized segment so it shows.
        Some(head) => format!("{head}h1"),
        None => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_do_not_drift() {
        assert_eq!(
            relative_path([(1.4, 2.6), (3.5, 2.4), (5.6, 7.0)]),
            "M1 3l3-1 2 5"
        );
        assert_eq!(relative_path([(1.0, 1.0)]), "M1 1h1");
        assert_eq!(relative_path([]), "");
    }

    #[test]
    fn hrefs_refuse_script_schemes() {
        assert_eq!(
            safe_href("runs/r1/bundles/t", "logs/6_bench.log").as_deref(),
            Some("runs/r1/bundles/t/logs/6_bench.log")
        );
        assert_eq!(
            safe_href("https://ci/x/", "a.log").as_deref(),
            Some("https://ci/x/a.log")
        );
        assert_eq!(
            safe_href("C:/runs", "a.log").as_deref(),
            Some("C:/runs/a.log")
        );
        assert_eq!(safe_href("javascript:alert(1)", "a"), None);
        assert_eq!(safe_href(" JavaScript:alert(1)", ""), None);
        assert_eq!(safe_href("data:text/html,x", ""), None);
    }

    #[test]
    fn metric_titles() {
        assert_eq!(metric_title("median_ttft_ms"), "median TTFT (ms)");
        assert_eq!(metric_title("p99_e2el_ms"), "p99 E2EL (ms)");
        assert_eq!(
            metric_title("output_token_throughput_per_gpu"),
            "output tok/s per GPU"
        );
        assert_eq!(metric_title("goodput"), "goodput");
    }
}
