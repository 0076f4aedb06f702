//! Writes the HTML report (and the Markdown summary beside it) of the fixed sample: the real
//! example-suite run in `tests/data/example-run` with 30 runs of history. The browser check
//! (`scripts/browser-check.sh`) opens this page.
//!
//! `cargo run -p servebench-report --example sample_report -- OUT.html`

#[path = "../tests/support/sample.rs"]
#[allow(
    dead_code,
    reason = "shared with the tests and the benchmark; each uses a part"
)]
mod sample;

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1).map(std::path::PathBuf::from) else {
        eprintln!("usage: sample_report OUT.html");
        return ExitCode::from(2);
    };
    let input = sample::example_report();
    let md = out.with_extension("md");
    let written = std::fs::write(&out, servebench_report::render_html(&input))
        .and_then(|()| std::fs::write(&md, servebench_report::render_markdown(&input)));
    match written {
        Ok(()) => {
            eprintln!("wrote {} and {}", out.display(), md.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}
