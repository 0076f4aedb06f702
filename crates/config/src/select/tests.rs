//! Selection and resolution tests, including every upstream list in the fixtures.

use std::path::{Path, PathBuf};

use super::*;

fn disagg(test_type: &str, category: &str, stem: &str, model: &str) -> SelectKey {
    SelectKey {
        test_id: format!("{test_type}_{category}_{stem}"),
        display_name: format!("{test_type}/{category}/{stem}"),
        test_type: test_type.into(),
        category: category.into(),
        model: model.into(),
        file_stem: stem.into(),
        server_name: None,
        client_name: None,
        markers: vec![category.into()],
    }
}

fn agg(category: &str, stem: &str, server: &str, client: &str, model: &str) -> SelectKey {
    SelectKey {
        test_id: format!("agg_{category}_{stem}-{server}-{client}"),
        display_name: format!("agg/{category}/{stem}"),
        test_type: "agg".into(),
        category: category.into(),
        model: model.into(),
        file_stem: stem.into(),
        server_name: Some(server.into()),
        client_name: Some(client.into()),
        markers: vec![category.into()],
    }
}

fn sample() -> Vec<SelectKey> {
    let mut nightly = disagg(
        "wideep",
        "perf",
        "deepseek-r1-fp4_1k1k_ctx2_gen1_dep16_bs128_eplb288_mtp3_ccb-NIXL",
        "deepseek-r1-fp4",
    );
    nightly.markers.push("nightly".into());
    vec![
        disagg(
            "disagg",
            "perf",
            "deepseek-r1-fp4_1k1k_ctx1_gen1_dep32_bs32_eplb0_mtp0_ccb-NIXL",
            "deepseek-r1-fp4",
        ), // 0
        disagg(
            "disagg",
            "perf",
            "Qwen3-235B-A22B-FP4_1k1k_ctx1_gen4_tep8_bs32_eplb0_mtp0_ccb-UCX",
            "Qwen3-235B-A22B-FP4",
        ), // 1
        nightly, // 2
        disagg(
            "wideep",
            "accuracy",
            "kimi-k2-thinking-fp4_1k1k_ctx3_gen1_dep32_bs1024_eplb384_mtp0_ccb-NIXL",
            "kimi-k2-thinking-fp4",
        ), // 3
        disagg(
            "disagg",
            "stress",
            "deepseek-r1-fp4_1k1k_ctx2_gen1_dep48_bs16_eplb288_mtp3_ccb-DEFAULT",
            "deepseek-r1-fp4",
        ), // 4
        disagg(
            "disagg",
            "perf-sanity",
            "gb200_deepseek-v32-fp4_8k1k_con4096_ctx1_dep4_gen1_dep32_eplb256_mtp0_ccb-NIXL",
            "deepseek-v32-fp4",
        ), // 5
        agg(
            "perf-sanity",
            "gpt_oss_120b_fp4_blackwell",
            "gpt_oss_fp4_tp1_mtp0_8k1k",
            "con4_iter10_8k1k",
            "gpt_oss_120b_fp4",
        ), // 6
        agg(
            "perf-sanity",
            "gpt_oss_120b_fp4_blackwell",
            "gpt_oss_fp4_tp1_mtp0_8k1k",
            "con256_iter10_8k1k",
            "gpt_oss_120b_fp4",
        ), // 7
        agg(
            "perf-sanity",
            "gpt_oss_120b_fp4_blackwell",
            "gpt_oss_fp4_tp2_mtp0_1k1k",
            "con4_iter10_1k1k",
            "gpt_oss_120b_fp4",
        ), // 8
    ]
}

fn indices(sel: &Selection) -> Vec<usize> {
    sel.select(&sample())
        .unwrap()
        .tests
        .iter()
        .map(|t| t.index)
        .collect()
}

#[test]
fn no_filters_select_everything_in_input_order() {
    assert_eq!(indices(&Selection::default()), (0..9).collect::<Vec<_>>());
}

#[test]
fn type_category_and_model_filters_are_any_of() {
    let sel = Selection {
        test_types: vec!["WIDEEP".into(), "agg".into()],
        ..Selection::default()
    };
    assert_eq!(indices(&sel), vec![2, 3, 6, 7, 8]);
    let sel = Selection {
        categories: vec!["perf".into(), "stress".into()],
        ..Selection::default()
    };
    assert_eq!(indices(&sel), vec![0, 1, 2, 4]);
    // Model: case-insensitive substring.
    let sel = Selection {
        models: vec!["DEEPSEEK".into()],
        ..Selection::default()
    };
    assert_eq!(indices(&sel), vec![0, 2, 4, 5]);
    let sel = Selection {
        models: vec!["qwen3".into(), "kimi".into()],
        ..Selection::default()
    };
    assert_eq!(indices(&sel), vec![1, 3]);
    // Filters combine with AND.
    let sel = Selection {
        models: vec!["deepseek".into()],
        categories: vec!["perf".into()],
        ..Selection::default()
    };
    assert_eq!(indices(&sel), vec![0, 2]);
}

#[test]
fn keyword_expression_matches_ids_and_display_names() {
    let k = |src: &str| {
        indices(&Selection {
            keyword: Some(Expr::parse(src).unwrap()),
            ..Selection::default()
        })
    };
    assert_eq!(k("nixl and not wideep"), vec![0, 5]);
    assert_eq!(k("ccb-UCX or DEFAULT"), vec![1, 4]);
    assert_eq!(k("(kimi or qwen3) and not accuracy"), vec![1]);
    assert_eq!(k("disagg/stress/"), vec![4]); // a display-name substring
    assert_eq!(k("gpt_oss_fp4_tp1 and con256"), vec![7]);
    assert_eq!(k(""), (0..9).collect::<Vec<_>>());
}

#[test]
fn marker_expression_matches_markers_exactly() {
    let m = |src: &str| {
        indices(&Selection {
            marker: Some(Expr::parse(src).unwrap()),
            ..Selection::default()
        })
    };
    assert_eq!(m("nightly"), vec![2]);
    assert_eq!(m("perf and not nightly"), vec![0, 1]);
    assert_eq!(m("accuracy or stress"), vec![3, 4]);
    assert_eq!(m("Perf"), Vec::<usize>::new()); // exact, case-sensitive
    assert_eq!(m("perf-sanity"), vec![5, 6, 7, 8]);
}

#[test]
fn filter_values_matching_nothing_are_reported_with_the_closest_value() {
    let sel = Selection {
        test_types: vec!["dsagg".into(), "wideep".into()],
        categories: vec!["acuracy".into()],
        models: vec!["deepsek".into(), "KIMI".into()],
        marker: Some(Expr::parse("nightly or nigthly or zzz").unwrap()),
        ..Selection::default()
    };
    let w: Vec<String> = sel
        .filter_warnings(&sample())
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        w,
        vec![
            "--test-type `dsagg` matches no test (did you mean `disagg`?)",
            "--category `acuracy` matches no test (did you mean `accuracy`?)",
            "--model `deepsek` matches no test (did you mean `deepseek-r1-fp4`?)",
            "-m `nigthly` matches no test (did you mean `nightly`?)",
            "-m `zzz` matches no test",
        ]
    );
}

fn select_list(text: &str) -> Result<Selected, SelectError> {
    let sel = Selection {
        lists: vec![TestList::parse_text("l.txt", text)],
        ..Selection::default()
    };
    sel.select(&sample())
}

fn listed(text: &str) -> Vec<(usize, Option<BenchmarkMode>, Option<ListMarker>)> {
    let out = select_list(text).unwrap();
    out.tests
        .into_iter()
        .map(|t| {
            let l = t.listed.unwrap();
            (t.index, l.mode, l.marker)
        })
        .collect()
}

fn errors(text: &str) -> Vec<String> {
    select_list(text)
        .unwrap_err()
        .problems
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn every_line_form_resolves() {
    let text = "\
wideep_accuracy_kimi-k2-thinking-fp4_1k1k_ctx3_gen1_dep32_bs1024_eplb384_mtp0_ccb-NIXL
disagg/stress/deepseek-r1-fp4_1k1k_ctx2_gen1_dep48_bs16_eplb288_mtp3_ccb-DEFAULT
test_disagg.py::TestDisaggBenchmark::test_benchmark[disagg_perf_deepseek-r1-fp4_1k1k_ctx1_gen1_dep32_bs32_eplb0_mtp0_ccb-NIXL] TIMEOUT (90)
test_disagg.py::TestDisaggBenchmark::test_accuracy[wideep_perf_deepseek-r1-fp4_1k1k_ctx2_gen1_dep16_bs128_eplb288_mtp3_ccb-NIXL] SKIP (nvbugs 1)
perf/test_perf_sanity.py::test_e2e[disagg_upload-gen_only-gb200_deepseek-v32-fp4_8k1k_con4096_ctx1_dep4_gen1_dep32_eplb256_mtp0_ccb-NIXL]
perf/test_perf_sanity.py::test_e2e[disagg-e2e-gb200_deepseek-v32-fp4_8k1k_con4096_ctx1_dep4_gen1_dep32_eplb256_mtp0_ccb-NIXL]
perf/test_perf_sanity.py::test_e2e[aggr_upload-ctx_only-gb200_deepseek-v32-fp4_8k1k_con4096_ctx1_dep4_gen1_dep32_eplb256_mtp0_ccb-NIXL]
perf/test_perf_sanity.py::test_e2e[aggr_upload-gpt_oss_120b_fp4_blackwell-gpt_oss_fp4_tp1_mtp0_8k1k] ISOLATION
";
    use BenchmarkMode::*;
    assert_eq!(
        listed(text),
        vec![
            (0, None, Some(ListMarker::Timeout { minutes: 90 })),
            (
                2,
                None,
                Some(ListMarker::Skip {
                    reason: "nvbugs 1".into(),
                    waived: false,
                })
            ),
            (3, None, None),
            (4, None, None),
            (5, Some(GenOnly), None),
            (5, Some(E2e), None),
            (5, Some(CtxOnly), None),
            (6, None, Some(ListMarker::Isolation)),
            (7, None, Some(ListMarker::Isolation)),
        ]
    );
}

#[test]
fn display_name_of_an_aggregated_file_selects_all_its_cases() {
    assert_eq!(
        listed("agg/perf-sanity/gpt_oss_120b_fp4_blackwell")
            .iter()
            .map(|t| t.0)
            .collect::<Vec<_>>(),
        vec![6, 7, 8]
    );
}

#[test]
fn filters_still_apply_to_listed_tests() {
    let sel = Selection {
        lists: vec![TestList::parse_text(
            "l.txt",
            "agg/perf-sanity/gpt_oss_120b_fp4_blackwell",
        )],
        keyword: Some(Expr::parse("1k1k").unwrap()),
        ..Selection::default()
    };
    assert_eq!(
        sel.select(&sample())
            .unwrap()
            .tests
            .iter()
            .map(|t| t.index)
            .collect::<Vec<_>>(),
        vec![8]
    );
}

#[test]
fn unmatched_lines_are_errors_with_suggestions() {
    let e = errors(
        "disagg_perf_deepseek-r1-fp4_1k1k_ctx1_gen1_dep32_bs32_eplb0_mtp0_ccb-UCX\n\
         perf/test_perf_sanity.py::test_e2e[disagg-e2e-gb200_deepseek-v32-fp4_8k1k_con4096_ctx1_dep4_gen1_dep32_eplb256_mtp0_ccb-UCX]\n\
         perf/test_perf_sanity.py::test_e2e[aggr_upload-gpt_oss_120b_fp4_blackwell-gpt_oss_fp4_tp1_mtp0_8k]\n\
         zzz\n",
    );
    assert_eq!(
        e,
        vec![
            "l.txt:1:1: error: `disagg_perf_deepseek-r1-fp4_1k1k_ctx1_gen1_dep32_bs32_eplb0_mtp0_ccb-UCX` matches no test \
             (did you mean `disagg_perf_deepseek-r1-fp4_1k1k_ctx1_gen1_dep32_bs32_eplb0_mtp0_ccb-NIXL`?)",
            "l.txt:2:1: error: `gb200_deepseek-v32-fp4_8k1k_con4096_ctx1_dep4_gen1_dep32_eplb256_mtp0_ccb-UCX` matches no test \
             (did you mean `gb200_deepseek-v32-fp4_8k1k_con4096_ctx1_dep4_gen1_dep32_eplb256_mtp0_ccb-NIXL`?)",
            "l.txt:3:1: error: `gpt_oss_120b_fp4_blackwell-gpt_oss_fp4_tp1_mtp0_8k` matches no test \
             (did you mean one of `gpt_oss_120b_fp4_blackwell-gpt_oss_fp4_tp1_mtp0_8k1k`, `gpt_oss_120b_fp4_blackwell-gpt_oss_fp4_tp2_mtp0_1k1k`?)",
            "l.txt:4:1: error: `zzz` matches no test",
        ]
    );
}

#[test]
fn huge_bad_lists_stay_fast_and_stop_suggesting() {
    let keys: Vec<SelectKey> = (0..2000)
        .map(|i| {
            disagg(
                "disagg",
                "perf",
                &format!("model{i}_1k1k_ctx1_gen1_dep32_bs32_eplb0_mtp0_ccb-NIXL"),
                "m",
            )
        })
        .collect();
    let text: String = (0..1000)
        .map(|i| format!("disagg_perf_model{i}_8k1k_ctx1_gen1_dep32_bs32_eplb0_mtp0_ccb-UCX\n"))
        .collect();
    let sel = Selection {
        lists: vec![TestList::parse_text("l.txt", &text)],
        ..Selection::default()
    };
    let start = std::time::Instant::now();
    let err = sel.select(&keys).unwrap_err();
    assert_eq!(err.problems.len(), 1000);
    let suggested = err
        .problems
        .iter()
        .filter(|p| p.to_string().contains("did you mean"))
        .count();
    assert_eq!(suggested, 200);
    // Generous bound for debug builds on a small machine; typically well under a second.
    assert!(
        start.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn colon_style_ids_get_a_note() {
    let e = errors(
        "test_disagg.py::TestDisaggBenchmark::test_benchmark[wideep_perf_file:deepseek-r1-fp4_000_1k1k_dep:16_bs:128_mtp:3_ccbackend:NIXL]",
    );
    assert_eq!(e.len(), 1);
    assert!(e[0].contains("old colon-style id"), "{e:?}");
    assert!(e[0].contains("did you mean `wideep_perf_deepseek-r1-fp4_1k1k_ctx2_gen1_dep16_bs128_eplb288_mtp3_ccb-NIXL`"), "{e:?}");
}

#[test]
fn parse_errors_and_unmatched_lines_are_reported_together() {
    let err = select_list("nope\nx TIMEOUT (ten)\nwideep/accuracy/kimi-k2-thinking-fp4_1k1k_ctx3_gen1_dep32_bs1024_eplb384_mtp0_ccb-NIXL\n").unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("2 error(s) in test list(s)\n  l.txt:1:1: error: `nope` matches no test"),
        "{text}"
    );
    assert!(
        text.contains("\n  l.txt:2:3: error: Invalid syntax for TIMEOUT value: \"(ten)\""),
        "{text}"
    );
}

#[test]
fn duplicates_are_warnings_but_modes_are_distinct_tests() {
    let text = "\
disagg/perf/deepseek-r1-fp4_1k1k_ctx1_gen1_dep32_bs32_eplb0_mtp0_ccb-NIXL
disagg_perf_deepseek-r1-fp4_1k1k_ctx1_gen1_dep32_bs32_eplb0_mtp0_ccb-NIXL SKIP (dup)
perf/test_perf_sanity.py::test_e2e[disagg-e2e-gb200_deepseek-v32-fp4_8k1k_con4096_ctx1_dep4_gen1_dep32_eplb256_mtp0_ccb-NIXL]
perf/test_perf_sanity.py::test_e2e[disagg_upload-e2e-gb200_deepseek-v32-fp4_8k1k_con4096_ctx1_dep4_gen1_dep32_eplb256_mtp0_ccb-NIXL]
perf/test_perf_sanity.py::test_e2e[disagg-gen_only-gb200_deepseek-v32-fp4_8k1k_con4096_ctx1_dep4_gen1_dep32_eplb256_mtp0_ccb-NIXL]
";
    let out = select_list(text).unwrap();
    let got: Vec<(usize, Option<BenchmarkMode>, usize)> = out
        .tests
        .iter()
        .map(|t| {
            (
                t.index,
                t.listed.as_ref().unwrap().mode,
                t.listed.as_ref().unwrap().line,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (0, None, 1),
            (5, Some(BenchmarkMode::E2e), 3),
            (5, Some(BenchmarkMode::GenOnly), 5)
        ]
    );
    let w: Vec<String> = out.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        vec![
            "l.txt:2:1: warning: `disagg_perf_deepseek-r1-fp4_1k1k_ctx1_gen1_dep32_bs32_eplb0_mtp0_ccb-NIXL` is already listed at l.txt:1; this line is ignored",
            "l.txt:4:1: warning: `disagg_perf-sanity_gb200_deepseek-v32-fp4_8k1k_con4096_ctx1_dep4_gen1_dep32_eplb256_mtp0_ccb-NIXL` is already listed at l.txt:3; this line is ignored",
        ]
    );
}

#[test]
fn same_stem_in_two_places_prefers_perf_sanity_else_is_ambiguous() {
    let mut keys = sample();
    keys.push(disagg(
        "disagg",
        "perf",
        "gb200_deepseek-v32-fp4_8k1k_con4096_ctx1_dep4_gen1_dep32_eplb256_mtp0_ccb-NIXL",
        "m",
    ));
    let line = "perf/test_perf_sanity.py::test_e2e[disagg-e2e-gb200_deepseek-v32-fp4_8k1k_con4096_ctx1_dep4_gen1_dep32_eplb256_mtp0_ccb-NIXL]";
    let sel = Selection {
        lists: vec![TestList::parse_text("l.txt", line)],
        ..Selection::default()
    };
    assert_eq!(
        sel.select(&keys)
            .unwrap()
            .tests
            .iter()
            .map(|t| t.index)
            .collect::<Vec<_>>(),
        vec![5]
    );
    let line = "perf/test_perf_sanity.py::test_e2e[disagg-e2e-deepseek-r1-fp4_1k1k_ctx1_gen1_dep32_bs32_eplb0_mtp0_ccb-NIXL]";
    keys.push(disagg(
        "wideep",
        "perf",
        "deepseek-r1-fp4_1k1k_ctx1_gen1_dep32_bs32_eplb0_mtp0_ccb-NIXL",
        "m",
    ));
    let sel = Selection {
        lists: vec![TestList::parse_text("l.txt", line)],
        ..Selection::default()
    };
    let e = sel.select(&keys).unwrap_err().to_string();
    assert!(
        e.contains("is ambiguous: it matches disagg/perf/deepseek-r1"),
        "{e}"
    );
}

#[test]
fn several_lists_are_a_union() {
    let sel = Selection {
        lists: vec![
            TestList::parse_text(
                "a.txt",
                "disagg_stress_deepseek-r1-fp4_1k1k_ctx2_gen1_dep48_bs16_eplb288_mtp3_ccb-DEFAULT",
            ),
            TestList::parse_text(
                "b.txt",
                "disagg/perf/Qwen3-235B-A22B-FP4_1k1k_ctx1_gen4_tep8_bs32_eplb0_mtp0_ccb-UCX\nnope",
            ),
        ],
        ..Selection::default()
    };
    let e = sel.select(&sample()).unwrap_err();
    assert_eq!(e.problems.len(), 1);
    assert!(e.problems[0].to_string().starts_with("b.txt:2:1: error:"));
    let sel = Selection {
        lists: vec![
            sel.lists[0].clone(),
            TestList::parse_text(
                "b.txt",
                "disagg/perf/Qwen3-235B-A22B-FP4_1k1k_ctx1_gen4_tep8_bs32_eplb0_mtp0_ccb-UCX",
            ),
        ],
        ..Selection::default()
    };
    let out = sel.select(&sample()).unwrap();
    let got: Vec<(usize, String)> = out
        .tests
        .iter()
        .map(|t| (t.index, t.listed.as_ref().unwrap().file.clone()))
        .collect();
    assert_eq!(got, vec![(1, "b.txt".to_owned()), (4, "a.txt".to_owned())]);
}

#[test]
fn read_reports_missing_files() {
    let err = TestList::read(Path::new("/nonexistent/list.txt")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read test list /nonexistent/list.txt"
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Case count: PROPTEST_CASES (proptest reads it; 256 by default).

        /// Any list text, resolved against real-looking keys: errors or a selection, never a panic,
        /// and selected indices are valid and in input order.
        #[test]
        fn select_never_panics(text in "(\\PC{0,40}\n){0,8}", k in "[a-z_ ()-]{0,12}") {
            let keys = sample();
            let keyword = Expr::parse(&k).ok();
            let sel = Selection { lists: vec![TestList::parse_text("p.txt", &text)], keyword, ..Selection::default() };
            if let Ok(out) = sel.select(&keys) {
                prop_assert!(out.tests.windows(2).all(|w| w[0].index <= w[1].index));
                prop_assert!(out.tests.iter().all(|t| t.index < keys.len()));
            }
        }

        /// A list of test ids selects exactly those tests.
        #[test]
        fn listing_ids_selects_them(picks in prop::collection::vec(0usize..9, 1..6)) {
            let keys = sample();
            let text: String = picks.iter().map(|&i| format!("{}\n", keys[i].test_id)).collect();
            let sel = Selection { lists: vec![TestList::parse_text("p.txt", &text)], ..Selection::default() };
            let out = sel.select(&keys).unwrap();
            let mut want = picks.clone();
            want.sort_unstable();
            want.dedup();
            prop_assert_eq!(out.tests.iter().map(|t| t.index).collect::<Vec<_>>(), want.clone());
            prop_assert_eq!(out.warnings.len(), picks.len() - want.len());
        }
    }
}

// ---- test-db lists, waives, missing names ----------------------------------------------------

const V32: &str = "gb200_deepseek-v32-fp4_8k1k_con4096_ctx1_dep4_gen1_dep32_eplb256_mtp0_ccb-NIXL";

fn test_db() -> TestList {
    let text = format!(
        "version: 0.0.1
l0_t:
- condition:
    wildcards:
      gpu: '*gb200*'
    terms:
      stage: post_merge
  tests:
  - perf/test_perf_sanity.py::test_e2e[disagg_upload-gen_only-{V32}] TIMEOUT (90)
  - perf/test_perf_sanity.py::test_e2e[aggr_upload-gpt_oss_120b_fp4_blackwell-gpt_oss_fp4_tp2_mtp0_1k1k]
- condition:
    terms:
      stage: pre_merge
  tests:
  - perf/test_perf_sanity.py::test_e2e[disagg_upload-e2e-{V32}]
  - perf/test_perf_sanity.py::test_e2e[disagg_upload-e2e-not_in_the_tree]
"
    );
    TestList::parse_test_db("l0_t.yml", &text)
}

fn system(pairs: &[(&str, &str)]) -> System {
    let mut s = System::default();
    for (k, v) in pairs {
        s.set(k, v);
    }
    s
}

#[test]
fn test_db_blocks_select_for_the_system_and_report_the_rest() {
    let sel = Selection {
        lists: vec![test_db()],
        system: system(&[("gpu", "GB200"), ("stage", "post_merge")]),
        ..Selection::default()
    };
    // The pre_merge block's missing name is not an error: that block does not apply here.
    let out = sel.select(&sample()).unwrap();
    type Got = (
        usize,
        Option<BenchmarkMode>,
        Option<SuiteMode>,
        Option<usize>,
    );
    let got: Vec<Got> = out
        .tests
        .iter()
        .map(|t| {
            let l = t.listed.as_ref().unwrap();
            (t.index, l.mode, l.suite_mode, l.block)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                5,
                Some(BenchmarkMode::GenOnly),
                Some(SuiteMode::Disagg),
                Some(0)
            ),
            (8, None, None, Some(0)),
        ]
    );
    let report = &out.reports[0];
    assert!(report.blocks[0].matched());
    assert_eq!(
        report.blocks[1]
            .mismatches
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec!["stage is `post_merge`, the block wants `pre_merge`"]
    );
    // Every line is resolved for the report, in the non-matching block too.
    let outcomes: Vec<(usize, bool)> = report
        .lines
        .iter()
        .map(|l| (l.line, matches!(l.outcome, LineOutcome::Resolved(_))))
        .collect();
    assert_eq!(
        outcomes,
        vec![(9, true), (10, true), (15, true), (16, false)]
    );

    // On a pre_merge system the missing name is an error, or a warning with allow_missing.
    let pre = Selection {
        lists: vec![test_db()],
        system: system(&[("stage", "pre_merge")]),
        ..Selection::default()
    };
    let err = pre.select(&sample()).unwrap_err();
    assert_eq!(
        err.problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec!["l0_t.yml:16:5: error: `not_in_the_tree` matches no test"]
    );
    let allowed = Selection {
        allow_missing: true,
        ..pre
    };
    let out = allowed.select(&sample()).unwrap();
    assert_eq!(out.tests.len(), 1);
    assert!(!out.warnings[0].is_error());
}

#[test]
fn ambiguous_names_stay_errors_with_allow_missing() {
    let mut keys = sample();
    keys.push(disagg("wideep", "perf", "x", "m"));
    keys.push(disagg("disagg", "perf", "x", "m"));
    let sel = Selection {
        lists: vec![TestList::parse_text(
            "l.txt",
            "perf/test_perf_sanity.py::test_e2e[disagg-x]",
        )],
        allow_missing: true,
        ..Selection::default()
    };
    assert!(sel.select(&keys).is_err());
}

#[test]
fn waives_mark_selected_tests_skipped_with_the_reason() {
    let waives = Waives::parse_text(
        "waives.txt",
        &format!(
            "# upstream waives many tests servebench does not run\n\
             unittest/_torch/test_x.py::test_y SKIP (https://nvbugs/1)\n\
             perf/test_perf_sanity.py::test_e2e[disagg_upload-gen_only-{V32}] SKIP (https://nvbugs/2)\n\
             full:H100/agg_perf-sanity_gpt_oss_120b_fp4_blackwell-gpt_oss_fp4_tp2_mtp0_1k1k-con4_iter10_1k1k SKIP (not on H100)\n\
             full:GB200/disagg_perf_deepseek-r1-fp4_1k1k_ctx1_gen1_dep32_bs32_eplb0_mtp0_ccb-NIXL SKIP (https://nvbugs/3)\n\
             disagg_perf_gone SKIP (old)\n"
        ),
    );
    assert_eq!(waives.ignored, 1);
    assert!(
        waives.list.problems.is_empty(),
        "{:?}",
        waives.list.problems
    );
    let sel = Selection {
        lists: vec![test_db()],
        system: system(&[("gpu", "GB200"), ("stage", "post_merge")]),
        waives: Some(waives.clone()),
        ..Selection::default()
    };
    let out = sel.select(&sample()).unwrap();
    let markers: Vec<(usize, Option<ListMarker>)> = out
        .tests
        .iter()
        .map(|t| (t.index, t.listed.as_ref().unwrap().marker.clone()))
        .collect();
    assert_eq!(
        markers,
        vec![
            (
                5,
                Some(ListMarker::Skip {
                    reason: "https://nvbugs/2".into(),
                    waived: true
                })
            ),
            (8, None), // waived on H100 only
        ]
    );
    // A waive naming no test here is a warning.
    assert_eq!(
        out.warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec!["waives.txt:6:1: warning: `disagg_perf_gone` matches no test"]
    );
    // Without a list, waives still apply; the e2e listing of the same config is not gen_only.
    let plain = Selection {
        system: system(&[("gpu", "GB200")]),
        waives: Some(waives),
        ..Selection::default()
    };
    let out = plain.select(&sample()).unwrap();
    let waived: Vec<(usize, String)> = out
        .tests
        .iter()
        .filter_map(|t| {
            let l = t.listed.as_ref()?;
            Some((t.index, format!("{}:{}", l.file, l.line)))
        })
        .collect();
    assert_eq!(waived, vec![(0, "waives.txt:5".to_owned())]);
}

#[test]
fn a_waive_without_skip_is_an_error() {
    let w = Waives::parse_text(
        "w.txt",
        "disagg_perf_x TIMEOUT (3)\n  full:GB200/y XFAIL (z)\n",
    );
    assert_eq!(
        w.list
            .problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec![
            "w.txt:1:1: error: a waive needs `SKIP (reason)` after the test name, e.g. `<test> SKIP (https://nvbugs/123)`",
            "w.txt:2:14: error: a waive needs `SKIP (reason)` after the test name, e.g. `<test> SKIP (https://nvbugs/123)`",
        ]
    );
    assert!(w.list.entries.is_empty());
}

// ---- upstream fixtures ----------------------------------------------------------------------

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/upstream")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Keys for the fixture test configs, derived from their paths as SPEC 3.5 describes (the lead's
/// discovery builds the real ones; this is enough to resolve lists against).
fn fixture_keys() -> Vec<SelectKey> {
    let root = fixtures();
    let mut keys = Vec::new();
    for path in yaml_files(&root.join("tests")) {
        let rel = path.strip_prefix(&root).unwrap();
        let parts: Vec<&str> = rel.iter().map(|p| p.to_str().unwrap()).collect();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let doc = yaml_rust2::YamlLoader::load_from_str(&text)
            .unwrap()
            .remove(0);
        let model = doc["metadata"]["model_name"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let n = parts.len();
        let (test_type, category) = if parts.contains(&"test_configs") {
            (parts[n - 3].to_owned(), parts[n - 2].to_owned())
        } else {
            let category = if parts.contains(&"perf-sanity") {
                "perf-sanity"
            } else {
                "perf"
            };
            let kind = if doc["server_configs"].as_vec().is_some() {
                "agg"
            } else {
                "disagg"
            };
            (kind.to_owned(), category.to_owned())
        };
        match doc["server_configs"].as_vec() {
            Some(servers) => {
                for server in servers {
                    let sname = server["name"].as_str().unwrap();
                    // Clients per server, or (QA configs) one top-level list for every server.
                    let clients = server["client_configs"]
                        .as_vec()
                        .or(doc["client_configs"].as_vec())
                        .unwrap();
                    for client in clients {
                        keys.push(agg(
                            &category,
                            &stem,
                            sname,
                            client["name"].as_str().unwrap(),
                            &model,
                        ));
                    }
                }
            }
            None => keys.push(disagg(&test_type, &category, &stem, &model)),
        }
    }
    keys
}

#[test]
fn upstream_lists_against_the_fixture_configs() {
    let keys = fixture_keys();
    assert_eq!(keys.iter().filter(|k| k.server_name.is_none()).count(), 39);
    let lists = [
        "tests/integration/defs/perf/disagg/testlist/debug.txt",
        "tests/integration/defs/perf/disagg/testlist/disagg_gb300.txt",
        "tests/integration/defs/perf/disagg/testlist/release_sanity.txt",
        "tests/integration/defs/perf/disagg/testlist/testlist_gb200.txt",
        "tests/integration/defs/perf/disagg/testlist/testlist_wideep_gb200.txt",
        "tests/integration/defs/perf/disagg/testlist/wideep.txt",
        "tests/integration/test_lists/qa/llm_perf_multinode.txt",
    ];
    let mut report = String::new();
    let mut resolved = Vec::new();
    for rel in lists {
        let path = fixtures().join(rel);
        let mut list = TestList::read(&path).unwrap();
        let short = Path::new(rel)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        list.name = short.clone();
        for p in &mut list.problems {
            p.file = short.clone();
        }
        // No upstream list has a parse error: every line is one of the known forms.
        assert!(list.problems.is_empty(), "{rel}: {:?}", list.problems);
        report.push_str(&format!("== {short}: {} entries\n", list.entries.len()));
        let mut ok = 0;
        let entries = list.entries.len();
        // Each line on its own, so the report shows what resolves as well as what does not.
        for entry in &list.entries {
            let one = TestList {
                name: short.clone(),
                entries: vec![entry.clone()],
                problems: Vec::new(),
                blocks: Vec::new(),
            };
            let sel = Selection {
                lists: vec![one],
                ..Selection::default()
            };
            match sel.select(&keys) {
                Ok(out) => {
                    ok += 1;
                    for t in out.tests {
                        let l = t.listed.unwrap();
                        let mode = l.mode.map(|m| format!(" [{m}]")).unwrap_or_default();
                        report.push_str(&format!(
                            "ok {short}:{}: {}{mode}\n",
                            l.line, keys[t.index].display_name
                        ));
                    }
                }
                Err(e) => {
                    for p in e.problems {
                        report.push_str(&format!("{p}\n"));
                    }
                }
            }
        }
        // The whole list at once gives the same problems, all in one error.
        let whole = Selection {
            lists: vec![list],
            ..Selection::default()
        };
        if let Err(e) = whole.select(&keys) {
            let errors = e.problems.iter().filter(|p| p.is_error()).count();
            report.push_str(&format!("-> {errors} error(s)\n"));
            assert_eq!(
                errors + ok,
                entries,
                "{short}: each line resolves or is one error"
            );
        }
        resolved.push((short, ok));
    }
    // Lines that name a config present in the fixtures (a sample of upstream's), per list; every
    // other line is an error (the colon-style ids of testlist_wideep_gb200.txt included).
    let resolved: Vec<(&str, usize)> = resolved.iter().map(|(n, k)| (n.as_str(), *k)).collect();
    assert_eq!(
        resolved,
        vec![
            ("debug.txt", 0),
            ("disagg_gb300.txt", 0),
            ("release_sanity.txt", 2),
            ("testlist_gb200.txt", 0),
            ("testlist_wideep_gb200.txt", 0),
            ("wideep.txt", 6),
            ("llm_perf_multinode.txt", 3),
        ]
    );
    insta::assert_snapshot!("upstream_lists", report);
}

#[test]
fn upstream_test_db_files_parse_and_resolve_only_to_their_own_config() {
    let keys = fixture_keys();
    let dir = fixtures().join("tests/integration/test_lists/test-db");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 10);
    let (mut resolved, mut missing) = (0, 0);
    for path in &files {
        let list = TestList::read(path).unwrap();
        assert!(!list.blocks.is_empty(), "{}", path.display());
        // Every upstream test-db file has the expected shape and only known line forms.
        assert!(list.problems.is_empty(), "{:?}", list.problems);
        let sel = Selection {
            lists: vec![list.clone()],
            ..Selection::default()
        };
        // No system: no block applies, so nothing is selected and nothing fails.
        let out = sel.select(&keys).unwrap();
        assert!(out.tests.is_empty());
        let report = &out.reports[0];
        assert!(report.blocks.iter().all(|b| !b.matched()));
        for (line, entry) in report.lines.iter().zip(&list.entries) {
            let TestRef::PerfSanity(case) = &entry.reference else {
                panic!("{entry:?}");
            };
            match &line.outcome {
                LineOutcome::Resolved(found) => {
                    resolved += 1;
                    for &i in found {
                        let key = &keys[i];
                        // An upstream name resolves to exactly the config it names.
                        match &key.server_name {
                            None => assert_eq!(key.file_stem, case.rest),
                            Some(server) => {
                                assert_eq!(format!("{}-{server}", key.file_stem), case.rest)
                            }
                        }
                    }
                }
                LineOutcome::Missing(ProblemKind::Unmatched { .. }) => missing += 1,
                other => panic!("{other:?}"),
            }
        }
    }
    // The fixtures hold a sample of upstream's configs: most names have no file here.
    assert_eq!((resolved, missing), (12, 66));
}
