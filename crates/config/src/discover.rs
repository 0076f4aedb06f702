//! Finding config files and loading a whole suite (SPEC 3.1).
//!
//! Roots are walked recursively (following symlinks, never into a loop), `templates/`
//! directories and hidden entries are skipped, and only `.yaml`/`.yml` files are taken. Explicit
//! files and glob patterns are accepted too. Every unreadable entry becomes a diagnostic; the
//! valid files are still listed. Files come back sorted, so runs are deterministic.

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Rule, Severity};
use crate::identity::fold_gpu;
use crate::load::{LoadOptions, LoadedFile, load_file};
use crate::model::TestCase;
use crate::validate::{ValidateOptions, apply_context, validate_case};

/// Files found under the given paths, and problems met on the way.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Config files, sorted and de-duplicated.
    pub files: Vec<PathBuf>,
    /// Unreadable directories, symlink loops, paths that do not exist, globs matching nothing.
    pub problems: Vec<Diagnostic>,
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// Walks `paths` (files, directories or glob patterns).
pub fn discover(paths: &[PathBuf]) -> Discovery {
    let mut out = Discovery::default();
    for path in paths {
        let text = path.to_string_lossy();
        if text.contains(['*', '?', '[']) && !path.exists() {
            match glob::glob(&text) {
                Ok(matches) => {
                    let mut any = false;
                    for entry in matches {
                        match entry {
                            Ok(p) => {
                                any = true;
                                walk(&p, &mut out);
                            }
                            Err(e) => out
                                .problems
                                .push(unreadable(e.path(), &e.error().to_string())),
                        }
                    }
                    if !any {
                        out.problems.push(
                            Diagnostic::new(
                                Rule::FileUnreadable,
                                path,
                                "",
                                "glob pattern matches no file",
                            )
                            .hint("check the pattern; quote it so the shell does not expand it"),
                        );
                    }
                }
                Err(e) => out.problems.push(
                    Diagnostic::new(
                        Rule::FileUnreadable,
                        path,
                        "",
                        format!("invalid glob pattern: {e}"),
                    )
                    .hint("escape special characters or pass a plain path"),
                ),
            }
            continue;
        }
        if !path.exists() {
            out.problems.push(
                Diagnostic::new(Rule::FileUnreadable, path, "", "no such file or directory")
                    .hint("check the path (the default root is ./test_configs)"),
            );
            continue;
        }
        walk(path, &mut out);
    }
    out.files.sort();
    out.files.dedup();
    out
}

fn unreadable(path: &Path, why: &str) -> Diagnostic {
    Diagnostic::new(
        Rule::FileUnreadable,
        path,
        "",
        format!("cannot read: {why}"),
    )
    .hint("fix the permissions or remove the broken entry")
}

fn walk(root: &Path, out: &mut Discovery) {
    if root.is_file() {
        out.files.push(root.to_path_buf());
        return;
    }
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            e.depth() == 0
                || !(name.starts_with('.') || (e.file_type().is_dir() && name == "templates"))
        });
    for entry in walker {
        match entry {
            Ok(e) if e.file_type().is_file() && is_yaml(e.path()) => out.files.push(e.into_path()),
            Ok(_) => {}
            Err(e) => {
                let path = e.path().unwrap_or(root).to_path_buf();
                let why = if e.loop_ancestor().is_some() {
                    "symlink loop".to_string()
                } else {
                    e.io_error()
                        .map_or_else(|| e.to_string(), |io| io.to_string())
                };
                out.problems.push(unreadable(&path, &why));
            }
        }
    }
}

/// A loaded suite: every file with its cases and diagnostics.
#[derive(Debug, Default)]
pub struct Suite {
    /// Loaded files in path order.
    pub files: Vec<LoadedFile>,
    /// Discovery problems (not tied to a loaded file).
    pub problems: Vec<Diagnostic>,
}

impl Suite {
    /// Every test case of every file, in file order.
    pub fn cases(&self) -> impl Iterator<Item = &TestCase> {
        self.files.iter().flat_map(|f| f.cases.iter())
    }

    /// Every diagnostic, discovery problems first.
    pub fn diagnostics(&self) -> impl Iterator<Item = &Diagnostic> {
        self.problems
            .iter()
            .chain(self.files.iter().flat_map(|f| f.diagnostics.iter()))
    }

    /// Number of diagnostics at a severity.
    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics()
            .filter(|d| d.severity == severity)
            .count()
    }

    /// Runs the semantic rules on every case and appends their findings to each file.
    pub fn validate(&mut self, opts: &ValidateOptions) {
        for file in &mut self.files {
            let extra: Vec<Diagnostic> = file
                .cases
                .iter()
                .flat_map(|c| validate_case(c, opts))
                .collect();
            file.diagnostics.extend(extra);
            // Aggregated files share sections between cases: keep one copy of each finding.
            let mut seen = std::collections::HashSet::new();
            file.diagnostics
                .retain(|d| seen.insert((d.rule, d.line, d.column, d.message.clone())));
            apply_context(&mut file.diagnostics, opts);
        }
    }
}

/// Discovers and loads every config under `paths`, using both cores for large suites.
pub fn load_suite(paths: &[PathBuf], opts: &LoadOptions) -> Suite {
    let found = discover(paths);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let files = if found.files.len() < 64 || threads < 2 {
        found.files.iter().map(|f| load_file(f, opts)).collect()
    } else {
        let chunk = found.files.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = found
                .files
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || part.iter().map(|f| load_file(f, opts)).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    };
    Suite {
        files,
        problems: found.problems,
    }
}

/// Whether a case runs on a GPU type (`supported_gpus`, with `GB200_*` folded to `GB200`).
pub fn runs_on(case: &TestCase, gpu: &str) -> bool {
    let want = fold_gpu(gpu);
    case.config
        .metadata
        .supported_gpus
        .iter()
        .any(|g| fold_gpu(g) == want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_loops_and_missing_paths_are_reported_not_fatal() {
        let dir = std::env::temp_dir().join(format!("sb-discover-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("disagg/perf/templates")).unwrap();
        std::fs::write(dir.join("disagg/perf/a.yaml"), "x: 1\n").unwrap();
        std::fs::write(dir.join("disagg/perf/templates/t.yaml"), "x: 1\n").unwrap();
        std::fs::write(dir.join("disagg/perf/notes.txt"), "x").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&dir, dir.join("disagg/loop")).unwrap();
        let d = discover(&[dir.clone(), dir.join("missing")]);
        assert_eq!(d.files, [dir.join("disagg/perf/a.yaml")]);
        assert!(
            d.problems
                .iter()
                .any(|p| p.message.contains("no such file"))
        );
        #[cfg(unix)]
        assert!(
            d.problems
                .iter()
                .any(|p| p.message.contains("symlink loop")),
            "{:?}",
            d.problems
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
