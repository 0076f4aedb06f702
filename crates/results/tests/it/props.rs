//! Properties: parsers never panic, a cut never yields wrong numbers, percentiles parse.

use proptest::prelude::*;
use servebench_results::parse::{
    Format, parse_accuracy_any, parse_any, parse_result_text, parse_text_blocks,
};

use crate::bundle::{builtin_json, text_block};
use crate::fixtures::fixture_files;

fn fixtures() -> Vec<String> {
    fixture_files()
        .iter()
        .map(|f| String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned())
        .chain([text_block(8, 32, 2, true), builtin_json(8, 32, 1, true)])
        .collect()
}

/// The fixtures and the inputs of the newer formats (`tests/inputs`).
fn all_texts() -> Vec<String> {
    let mut all = fixtures();
    all.extend(inputs());
    all
}

fn inputs() -> Vec<String> {
    crate::formats::input_files()
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

fn cut(s: &str, at: usize) -> &str {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    &s[..at]
}

proptest! {
    // Case count: PROPTEST_CASES (proptest reads it; 256 by default).
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,400}") {
        let _ = parse_any(&s);
        let _ = parse_result_text(&s);
        let _ = parse_accuracy_any(&s);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        let s = String::from_utf8_lossy(&b);
        let _ = parse_any(&s);
        let _ = parse_accuracy_any(&s);
    }

    #[test]
    fn mutated_fixtures_never_panic(i in 0usize..64, at in 0usize..6000, junk in "[ -~\\n\\r\\x1b{}\\[\\]\":=|]{0,40}") {
        let all = all_texts();
        let f = &all[i % all.len()];
        let head = cut(f, at);
        let s = format!("{head}{junk}{}", &f[head.len()..]);
        let _ = parse_any(&s);
        let _ = parse_result_text(&s);
        let _ = parse_accuracy_any(&s);
    }

    /// Truncation: every block a prefix calls complete is the same block the whole text has;
    /// the numbers read from a prefix are never different from the whole text's.
    #[test]
    fn truncation_never_invents_numbers(i in 0usize..64, at in 0usize..6000) {
        let all = all_texts();
        let f = &all[i % all.len()];
        let prefix = cut(f, at);
        let whole = parse_text_blocks(f);
        let part = parse_text_blocks(prefix);
        prop_assert!(part.len() <= whole.len());
        for (k, p) in part.iter().enumerate() {
            let w = &whole[k];
            for (name, v) in &p.metrics {
                prop_assert_eq!(Some(v), w.metrics.get(name), "{} in block {}", name, k);
            }
            if p.complete {
                prop_assert_eq!(&p.metrics, &w.metrics);
            }
        }
        if let (Ok(p), Ok(w)) = (parse_result_text(prefix), parse_result_text(f))
            && p.format == w.format
            && p.format != Format::AiperfRecords
            && p.format != Format::GuidellmJson
        {
            for (name, v) in &p.metrics {
                if let Some(wv) = w.metrics.get(name) {
                    prop_assert_eq!(v, wv, "{}", name);
                }
            }
        }
    }

    /// Any percentile row of the upstream layout parses to `p<N>_<metric>_ms`.
    #[test]
    fn percentile_rows_parse(
        whole in 0u32..100,
        frac in prop_oneof![Just(None), (1u32..10).prop_map(Some)],
        metric in prop_oneof![Just("TTFT"), Just("TPOT"), Just("ITL"), Just("E2EL")],
        value in 0.0f64..1.0e6,
        indent in "[ >#]{0,4}",
    ) {
        let p = match frac {
            Some(f) => format!("{whole}.{f}"),
            None => whole.to_string(),
        };
        let label = format!("P{p} {metric} (ms):");
        let v = format!("{value:.2}");
        let text = format!(
            "============ Serving Benchmark Result ============\n{indent}{label:<40} {v:<10}\n==================================================\n"
        );
        let b = parse_text_blocks(&text);
        prop_assert_eq!(b.len(), 1);
        let key = format!("p{p}_{}_ms", metric.to_lowercase());
        prop_assert_eq!(b[0].metrics.get(&key), Some(&v.parse::<f64>().unwrap()), "{:?}", b[0]);
        prop_assert!(b[0].complete);
        // The same key in result JSON (vLLM's `p99.9_ttft_ms`), SGLang's E2EL spelling too.
        let json = format!("{{\"completed\": 1, \"{key}\": {value}}}");
        let j = parse_result_text(&json).unwrap();
        prop_assert_eq!(j.metrics.get(&key), Some(&value));
        if metric == "E2EL" {
            let json = format!("{{\"completed\": 1, \"p{p}_e2e_latency_ms\": {value}}}");
            let j = parse_result_text(&json).unwrap();
            prop_assert_eq!(j.metrics.get(&key), Some(&value));
        }
    }
}

/// Every cut of every fixture (at each line end and mid-line): no panic, and a prefix never
/// claims a complete block the whole text does not have.
#[test]
fn every_cut_of_every_fixture() {
    // The inputs are larger (box-drawing characters are 3 bytes): cut them more coarsely.
    let texts = fixtures()
        .into_iter()
        .map(|f| (f, 9))
        .chain(inputs().into_iter().map(|f| (f, 53)));
    for (f, step) in texts {
        let whole = parse_text_blocks(&f);
        let mut at = 0;
        while at <= f.len() {
            let prefix = cut(&f, at);
            let part = parse_any(prefix);
            let _ = parse_accuracy_any(prefix);
            for p in part
                .iter()
                .filter(|p| p.complete && p.format.as_str() == "text-block")
            {
                assert!(
                    whole.iter().any(|w| w.complete && w.metrics == p.metrics),
                    "cut at {at}: {p:?}"
                );
            }
            at += step;
        }
    }
}
