//! Garbage in for the list readers and the loader: real test lists, test-db files and configs
//! from the upstream fixtures, mutated at the byte level (cut, insert, duplicate, flip,
//! truncate; see `mutate`). Complements `hostile` (insertions into four configs) and the
//! generated-text properties in `select`. Case count: PROPTEST_CASES (256 by default).

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use servebench_config::load::{LoadOptions, load_str};
use servebench_config::select::{Expr, Selection, TestList, Waives};
use servebench_config::validate::{ValidateOptions, validate_case};

use crate::fixtures::shared;
use crate::mutate::{apply_text, ops};

fn files_under(dir: &Path, ext: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, ext, out);
        } else if p.extension().is_some_and(|x| ext.iter().any(|e| x == *e)) {
            out.push(p);
        }
    }
}

fn texts(rel: &str, ext: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    files_under(
        &shared().join("fixtures/upstream").join(rel),
        ext,
        &mut files,
    );
    files.sort();
    assert!(!files.is_empty(), "no fixtures under {rel}");
    files
        .iter()
        .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned())
        .collect()
}

/// Plain test lists (`testlist/*.txt`, `qa/*.txt`).
fn lists() -> Vec<String> {
    let mut v = texts("tests/integration/defs/perf/disagg/testlist", &["txt"]);
    v.extend(texts("tests/integration/test_lists/qa", &["txt"]));
    v
}

/// test-db YAML lists.
fn test_dbs() -> Vec<String> {
    texts("tests/integration/test_lists/test-db", &["yml", "yaml"])
}

/// Every config of the fixtures.
fn configs() -> Vec<String> {
    let mut v = texts("tests/integration/defs/perf/disagg/test_configs", &["yaml"]);
    v.extend(texts("tests/scripts", &["yaml"]));
    v.extend(texts("examples", &["yaml"]));
    v
}

fn check_list(list: &TestList) -> Result<(), TestCaseError> {
    for e in &list.entries {
        prop_assert!(e.block.is_none_or(|b| b < list.blocks.len()));
    }
    let sel = Selection {
        lists: vec![list.clone()],
        keyword: Expr::parse("perf and not stress").ok(),
        ..Selection::default()
    };
    let _ = sel.select(&[]);
    Ok(())
}

proptest! {
    #[test]
    fn mutated_test_lists_never_panic(i in 0usize..64, ops in ops()) {
        let all = lists();
        let text = apply_text(&all[i % all.len()], &ops);
        check_list(&TestList::parse_text("l.txt", &text))?;
        // The same bytes read as a test-db file and as waives.
        check_list(&TestList::parse_test_db("l.yml", &text))?;
        let _ = Waives::parse_text("w.txt", &text);
    }

    #[test]
    fn mutated_test_dbs_never_panic(i in 0usize..64, ops in ops()) {
        let all = test_dbs();
        let text = apply_text(&all[i % all.len()], &ops);
        check_list(&TestList::parse_test_db("t.yml", &text))?;
        check_list(&TestList::parse_text("t.txt", &text))?;
    }

    #[test]
    fn mutated_configs_never_panic(i in 0usize..256, ops in ops()) {
        let all = configs();
        let text = apply_text(&all[i % all.len()], &ops);
        let file = load_str(Path::new("t/disagg/perf/x.yaml"), &text, &LoadOptions::default());
        for case in &file.cases {
            let _ = validate_case(case, &ValidateOptions::default());
        }
    }
}
