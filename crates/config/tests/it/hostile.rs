//! No input makes the loader panic: malformed YAML, wrong types, junk, empty, deep, huge and
//! unreadable files. Property tests mutate real configs and feed arbitrary bytes.

use std::path::Path;

use proptest::prelude::*;
use servebench_config::diag::Rule;
use servebench_config::discover::load_suite;
use servebench_config::load::{LoadOptions, load_file, load_str};
use servebench_config::validate::{ValidateOptions, validate_case};

use crate::fixtures::shared;

fn load_all(text: &str) {
    let file = load_str(
        Path::new("t/disagg/perf/x.yaml"),
        text,
        &LoadOptions::default(),
    );
    for case in &file.cases {
        let _ = validate_case(case, &ValidateOptions::default());
    }
}

fn rules(text: &str) -> Vec<Rule> {
    load_str(
        Path::new("t/disagg/perf/x.yaml"),
        text,
        &LoadOptions::default(),
    )
    .diagnostics
    .iter()
    .map(|d| d.rule)
    .collect()
}

#[test]
fn malformed_inputs_are_diagnostics() {
    assert_eq!(rules(""), [Rule::UnknownFormat]);
    assert_eq!(rules("- a\n- b\n"), [Rule::UnknownFormat]);
    assert_eq!(rules("a: [1, 2\n"), [Rule::YamlSyntax]);
    assert_eq!(rules("\t- x: :\n  ] {"), [Rule::YamlSyntax]);
    assert_eq!(rules(&"[".repeat(100_000)), [Rule::YamlSyntax]);
    assert_eq!(rules(&"a:\n ".repeat(500)), [Rule::YamlSyntax]);
    assert!(rules("worker_config: 3\n").contains(&Rule::WrongType));
    assert!(rules("worker_config:\n  gen: [1]\nhardware: x\n").contains(&Rule::WrongType));
}

#[test]
fn unreadable_binary_and_huge_files_are_diagnostics() {
    let dir = std::env::temp_dir().join(format!("sb-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk.yaml");
    std::fs::write(&junk, [0xff, 0xfe, 0x00, 0x01, 0x80]).unwrap();
    assert_eq!(
        load_file(&junk, &LoadOptions::default()).diagnostics[0].rule,
        Rule::FileUnreadable
    );
    let huge = dir.join("huge.yaml");
    let f = std::fs::File::create(&huge).unwrap();
    f.set_len(servebench_config::load::MAX_FILE_BYTES + 1)
        .unwrap();
    let d = &load_file(&huge, &LoadOptions::default()).diagnostics[0];
    assert!(d.message.contains("limit"), "{d:?}");
    #[cfg(unix)]
    {
        let dangling = dir.join("dangling.yaml");
        let _ = std::fs::remove_file(&dangling);
        std::os::unix::fs::symlink(dir.join("nowhere"), &dangling).unwrap();
        let suite = load_suite(std::slice::from_ref(&dir), &LoadOptions::default());
        assert!(
            suite
                .problems
                .iter()
                .chain(suite.files.iter().flat_map(|f| f.diagnostics.iter()))
                .any(|d| d.rule == Rule::FileUnreadable)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn fixture_texts() -> Vec<String> {
    let root = shared()
        .join("fixtures/upstream/tests/integration/defs/perf/disagg/test_configs/disagg/perf");
    let mut out: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect();
    out.sort();
    out.truncate(4);
    out
}

proptest! {
    // Case count from PROPTEST_CASES (default 256; CI sets it).

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        load_all(&text);
    }

    #[test]
    fn yaml_like_text_never_panics(text in "[a-z_:\\- \n\\[\\]{}&*!|>'\"#0-9.,~<]{0,300}") {
        load_all(&text);
    }

    #[test]
    fn mutated_configs_never_panic(pick in 0usize..4, cut in 0usize..10_000, insert in "[\\PC\n]{0,12}") {
        let texts = fixture_texts();
        let text = &texts[pick % texts.len()];
        let mut at = cut % (text.len() + 1);
        while !text.is_char_boundary(at) { at -= 1; }
        let mutated = format!("{}{}{}", &text[..at], insert, &text[at..]);
        load_all(&mutated);
    }

    #[test]
    fn any_value_in_any_field_never_panics(line in 0usize..200, value in "(-?[0-9]{1,20}|[a-z<>]{0,8}|\\[\\]|\\{\\}|null|true|-1|1e400|'x')") {
        let texts = fixture_texts();
        let text = &texts[0];
        let mutated: String = text
            .lines()
            .enumerate()
            .map(|(i, l)| match l.split_once(": ") {
                Some((k, _)) if i == line => format!("{k}: {value}\n"),
                _ => format!("{l}\n"),
            })
            .collect();
        load_all(&mutated);
    }
}
