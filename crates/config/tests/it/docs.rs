//! `docs/validation.md` lists exactly the rules the code implements.

use std::path::Path;

use servebench_config::diag::rules_markdown;

#[test]
fn validation_doc_matches_the_rule_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/validation.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let table = rules_markdown();
    if std::env::var_os("SERVEBENCH_BLESS").is_some() {
        let head = doc.split("<!-- rules:begin -->").next().unwrap_or_default();
        std::fs::write(
            &path,
            format!("{head}<!-- rules:begin -->\n{table}<!-- rules:end -->\n"),
        )
        .unwrap();
        return;
    }
    assert!(
        doc.contains(&format!("<!-- rules:begin -->\n{table}<!-- rules:end -->")),
        "docs/validation.md is out of date: run `SERVEBENCH_BLESS=1 cargo test -p servebench-config --test it docs`"
    );
}
