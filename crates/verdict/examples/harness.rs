//! The verdict-quality harness: `benches/verdicts/run.sh [--trials N] [--seed S]`.
//!
//! Prints, as Markdown, the false-alarm rate and the detection within 1, 2 and 3 runs of every
//! method on the default scenario grid, then the goals of issue 18 with their measured values.

use std::process::ExitCode;
use std::time::Instant;

use servebench_verdict::Options;
use servebench_verdict::anchors::Anchor;
use servebench_verdict::quality::{self, AnchorJudge, Design, HistoryJudge, Noise, Ours};

fn main() -> ExitCode {
    let design = match parse(std::env::args().skip(1)) {
        Ok(design) => design,
        Err(why) => {
            eprintln!("error: {why}\nusage: harness [--trials N] [--seed S]");
            return ExitCode::from(2);
        }
    };
    let options = Options::default();
    let anchor = |anchor, threshold_pct| -> Box<dyn HistoryJudge> {
        Box::new(AnchorJudge {
            anchor,
            threshold_pct,
            window: options.window,
        })
    };
    let mut methods: Vec<Box<dyn HistoryJudge>> = vec![
        Box::new(Ours::new(&options)),
        anchor(Anchor::UpstreamPerfSanity, 5.0),
        anchor(Anchor::UpstreamPerfSanity, 10.0),
        anchor(Anchor::HudMedianRatio, 20.0),
        anchor(Anchor::NewestVsPrevious, 5.0),
    ];
    let started = Instant::now();
    let cmp = quality::compare(&mut methods, &quality::default_scenarios(), &design);
    print!("{}", cmp.render());
    let pct = |v: f64| format!("{:.1}%", v * 100.0);
    let goal = |ok: bool| if ok { "met" } else { "NOT met" };
    let g5 = cmp.ours_detection(Noise::Gaussian(5.0), 10.0, 3);
    let g25 = cmp.ours_detection(Noise::Gaussian(2.5), 10.0, 2);
    let (fa, fa_group) = cmp.ours_worst_false_alarm();
    let wins = cmp.tuned_anchor_wins(3);
    println!("\nGoals (ours, both metric kinds pooled):");
    println!(
        "- CV 5%, 10% worse step, within 3 runs >= 80%: {} ({})",
        pct(g5),
        goal(g5 >= 0.8)
    );
    println!(
        "- CV 2.5%, 10% worse step, within 2 runs >= 95%: {} ({})",
        pct(g25),
        goal(g25 >= 0.95)
    );
    println!(
        "- false alarms <= 1% per metric per run, worst group {fa_group}: {} ({})",
        pct(fa),
        goal(fa <= 0.01)
    );
    println!(
        "- more detection within 3 runs than every tuned anchor: {} scenario(s) where an anchor detects more ({})",
        wins.len(),
        goal(wins.is_empty())
    );
    wins.iter().for_each(|w| println!("  - {w}"));
    eprintln!("harness: {:.1} s", started.elapsed().as_secs_f64());
    ExitCode::SUCCESS
}

/// `--trials N` and `--seed S` over the defaults.
fn parse(mut args: impl Iterator<Item = String>) -> Result<Design, String> {
    let mut design = Design::default();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number: u64 = value
            .parse()
            .map_err(|_| format!("{flag} expects a whole number, got `{value}`"))?;
        match flag.as_str() {
            "--trials" if number > 0 => design.trials = number as usize,
            "--trials" => return Err("--trials must be at least 1".into()),
            "--seed" => design.seed = number,
            _ => return Err(format!("unknown flag `{flag}`")),
        }
    }
    Ok(design)
}
