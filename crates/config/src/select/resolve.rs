//! Matching list entries against the discovered test cases, with close-match suggestions.

use std::cell::{Cell, OnceCell};
use std::collections::HashMap;

use super::SelectKey;
use super::problem::ProblemKind;
use super::testlist::{ListEntry, TestRef};

/// Suggestions offered for a line that matches nothing.
const MAX_SUGGESTIONS: usize = 3;
/// Candidates kept by the cheap bigram pre-filter before the edit-distance ranking.
const PREFILTER: usize = 32;
/// Lines past this many unmatched ones get no suggestions (bounds the cost on huge bad lists).
const MAX_SUGGESTED_LINES: usize = 200;
/// Minimum normalised Levenshtein similarity for a suggestion.
const MIN_SIMILARITY: f64 = 0.5;
/// Suggestions must be within this similarity of the best one (one clear winner stays alone).
const MARGIN: f64 = 0.08;

/// Lookup tables over the test cases, built once per selection.
pub(crate) struct Resolver<'a> {
    keys: &'a [SelectKey],
    by_id: HashMap<&'a str, Vec<usize>>,
    by_display: HashMap<&'a str, Vec<usize>>,
    /// Non-aggregated cases by config file stem.
    by_stem: HashMap<&'a str, Vec<usize>>,
    /// Aggregated cases by `(file stem, server name)`.
    by_server: HashMap<(&'a str, &'a str), Vec<usize>>,
    ids: OnceCell<Pool>,
    stems: OnceCell<Pool>,
    servers: OnceCell<Pool>,
    /// Unmatched lines seen so far.
    unmatched: Cell<usize>,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(keys: &'a [SelectKey]) -> Resolver<'a> {
        let mut r = Resolver {
            keys,
            by_id: HashMap::new(),
            by_display: HashMap::new(),
            by_stem: HashMap::new(),
            by_server: HashMap::new(),
            ids: OnceCell::new(),
            stems: OnceCell::new(),
            servers: OnceCell::new(),
            unmatched: Cell::new(0),
        };
        for (i, k) in keys.iter().enumerate() {
            r.by_id.entry(&k.test_id).or_default().push(i);
            r.by_display.entry(&k.display_name).or_default().push(i);
            match &k.server_name {
                None => r.by_stem.entry(&k.file_stem).or_default().push(i),
                Some(server) => r
                    .by_server
                    .entry((&k.file_stem, server))
                    .or_default()
                    .push(i),
            }
        }
        r
    }

    /// The test cases an entry names (at least one), or why it names none.
    pub(crate) fn resolve(&self, entry: &ListEntry) -> Result<Vec<usize>, ProblemKind> {
        match &entry.reference {
            TestRef::Name(name) => {
                if let Some(found) = self
                    .by_id
                    .get(name.as_str())
                    .or_else(|| self.by_display.get(name.as_str()))
                {
                    return Ok(found.clone());
                }
                Err(self.unmatched(name, PoolKind::Ids))
            }
            TestRef::DisaggNode { test_id, .. } => match self.by_id.get(test_id.as_str()) {
                Some(found) => Ok(found.clone()),
                None => Err(self.unmatched(test_id, PoolKind::Ids)),
            },
            TestRef::PerfSanity(case) if case.prefix.is_disagg() || case.mode.is_some() => {
                let Some(found) = self.by_stem.get(case.rest.as_str()) else {
                    return Err(self.unmatched(&case.rest, PoolKind::Stems));
                };
                // The same stem under several directories: prefer the perf-sanity copy.
                let found = if found.len() > 1 {
                    let sanity: Vec<usize> = found
                        .iter()
                        .copied()
                        .filter(|&i| self.key(i).is_some_and(|k| k.category == "perf-sanity"))
                        .collect();
                    if sanity.is_empty() {
                        found.clone()
                    } else {
                        sanity
                    }
                } else {
                    found.clone()
                };
                if found.len() > 1 {
                    return Err(ProblemKind::Ambiguous {
                        reference: case.rest.clone(),
                        candidates: found
                            .iter()
                            .filter_map(|&i| self.key(i))
                            .map(|k| k.display_name.clone())
                            .collect(),
                    });
                }
                Ok(found)
            }
            TestRef::PerfSanity(case) => {
                // `<config file>-<server name>`: either part may contain dashes, so try every split.
                let mut found = Vec::new();
                for (dash, _) in case.rest.match_indices('-') {
                    let (Some(file), Some(server)) =
                        (case.rest.get(..dash), case.rest.get(dash + 1..))
                    else {
                        continue;
                    };
                    if let Some(hit) = self.by_server.get(&(file, server)) {
                        found.extend(hit.iter().copied());
                    }
                }
                if found.is_empty() {
                    return Err(self.unmatched(&case.rest, PoolKind::Servers));
                }
                found.sort_unstable();
                found.dedup();
                Ok(found)
            }
        }
    }

    pub(crate) fn key(&self, index: usize) -> Option<&'a SelectKey> {
        self.keys.get(index)
    }

    fn unmatched(&self, reference: &str, kind: PoolKind) -> ProblemKind {
        let colon_style = reference.contains(':');
        let query = if colon_style {
            normalise_colon_id(reference)
        } else {
            reference.to_owned()
        };
        let pool =
            match kind {
                PoolKind::Ids => self
                    .ids
                    .get_or_init(|| Pool::new(self.keys.iter().map(|k| k.test_id.clone()))),
                PoolKind::Stems => self.stems.get_or_init(|| {
                    Pool::new(
                        self.keys
                            .iter()
                            .filter(|k| k.server_name.is_none())
                            .map(|k| k.file_stem.clone()),
                    )
                }),
                PoolKind::Servers => self.servers.get_or_init(|| {
                    Pool::new(self.keys.iter().filter_map(|k| {
                        Some(format!("{}-{}", k.file_stem, k.server_name.as_ref()?))
                    }))
                }),
            };
        let note = colon_style.then(|| {
            "this is an old colon-style id (Nov 2025 scheme, e.g. `file:`, `dep:16`, `ccbackend:NIXL`); \
             current ids are `{test_type}_{category}_{config file stem}`"
                .to_owned()
        });
        let seen = self.unmatched.get() + 1;
        self.unmatched.set(seen);
        let suggestions = if seen <= MAX_SUGGESTED_LINES {
            pool.suggest(&query)
        } else {
            Vec::new()
        };
        ProblemKind::Unmatched {
            reference: reference.to_owned(),
            suggestions,
            note,
        }
    }
}

#[derive(Clone, Copy)]
enum PoolKind {
    Ids,
    Stems,
    Servers,
}

/// Rewrites an old colon-style id towards the current scheme so suggestions are closer.
fn normalise_colon_id(id: &str) -> String {
    id.replace("file:", "")
        .replace("ccbackend:", "ccb-")
        .replace(':', "")
}

/// Candidate names with their character bigrams, for suggestions.
struct Pool {
    items: Vec<(String, Vec<u64>)>,
}

impl Pool {
    fn new(names: impl Iterator<Item = String>) -> Pool {
        let mut names: Vec<String> = names.collect();
        names.sort();
        names.dedup();
        Pool {
            items: names
                .into_iter()
                .map(|n| {
                    let grams = bigrams(&n);
                    (n, grams)
                })
                .collect(),
        }
    }

    /// The closest names to `query`, best first.
    fn suggest(&self, query: &str) -> Vec<String> {
        let q = bigrams(query);
        let mut rough: Vec<(f64, &str)> = self
            .items
            .iter()
            .map(|(name, grams)| (jaccard(&q, grams), name.as_str()))
            .collect();
        rough.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        rough.truncate(PREFILTER);
        let query = query.to_lowercase();
        let mut scored: Vec<(f64, &str)> = rough
            .into_iter()
            .map(|(_, name)| {
                (
                    strsim::normalized_levenshtein(&query, &name.to_lowercase()),
                    name,
                )
            })
            .filter(|(score, _)| *score >= MIN_SIMILARITY)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let best = scored.first().map_or(0.0, |s| s.0);
        scored
            .into_iter()
            .take_while(|s| s.0 >= best - MARGIN)
            .take(MAX_SUGGESTIONS)
            .map(|(_, name)| name.to_owned())
            .collect()
    }
}

fn bigrams(s: &str) -> Vec<u64> {
    let chars: Vec<char> = s.chars().flat_map(char::to_lowercase).collect();
    let mut grams: Vec<u64> = chars
        .windows(2)
        .map(|w| match w {
            [a, b] => (u64::from(u32::from(*a)) << 32) | u64::from(u32::from(*b)),
            _ => 0,
        })
        .collect();
    grams.sort_unstable();
    grams.dedup();
    grams
}

/// Jaccard similarity of two sorted, deduplicated sets.
fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        match x.cmp(y) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - common;
    if union == 0 {
        0.0
    } else {
        common as f64 / union as f64
    }
}
