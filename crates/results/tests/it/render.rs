//! Snapshots of the renderers over cases of every verdict.

use servebench_results::{ResultsDoc, render_table, write_junit};

use crate::bundle::sample_cases;

#[test]
fn results_table() {
    insta::assert_snapshot!(render_table(&sample_cases()));
}

#[test]
fn junit_xml() {
    let mut out = Vec::new();
    write_junit(&sample_cases(), &mut out).unwrap();
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
}

#[test]
fn results_json() {
    let v = serde_json::to_value(ResultsDoc::new(sample_cases())).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["summary"]["cases"], 6);
    // Round trip: results.json reads back into the model.
    let back: Vec<servebench_results::CaseResult> =
        serde_json::from_value(v["cases"].clone()).unwrap();
    assert_eq!(back, sample_cases());
    insta::assert_snapshot!(serde_json::to_string_pretty(&v).unwrap());
}

#[test]
fn junit_is_well_formed_for_hostile_text() {
    let mut c = servebench_results::CaseResult::error("a<b>&\"c\"", "reason with ]]> and \u{1}");
    c.requested = vec![1];
    let mut out = Vec::new();
    write_junit(&[c], &mut out).unwrap();
    let s = String::from_utf8(out).unwrap();
    assert!(s.contains("name=\"a&lt;b&gt;&amp;&quot;c&quot;\""), "{s}");
    assert!(s.contains("]]&gt;"), "{s}");
    assert!(!s.contains('\u{1}'));
}
