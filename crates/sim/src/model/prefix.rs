//! The prefix cache of one server (`kv_cache_config.enable_block_reuse`): KV blocks of prompts
//! already computed, found again by their chained block hashes, evicted least recently used.
//!
//! A request's block `k` hash covers its blocks `0..=k`, so the reusable prefix of a new prompt
//! is its longest run of leading hashes present in the cache. Cached blocks live in the KV memory
//! that running requests do not reserve: the cache holds at most `(capacity - reserved) / B`
//! blocks, and shrinks (oldest use first) when admissions reserve more.

use std::collections::{BTreeMap, HashMap};

/// Cached KV blocks by hash, with a use stamp each.
#[derive(Debug)]
pub(crate) struct PrefixCache {
    /// Tokens per block.
    block_tokens: u32,
    /// Hash -> last-use stamp.
    stamps: HashMap<u64, u64>,
    /// Last-use stamp -> hash (the eviction order).
    order: BTreeMap<u64, u64>,
    clock: u64,
}

impl PrefixCache {
    /// An empty cache of `block_tokens`-token blocks.
    pub(crate) fn new(block_tokens: u32) -> Self {
        Self {
            block_tokens: block_tokens.max(1),
            stamps: HashMap::new(),
            order: BTreeMap::new(),
            clock: 0,
        }
    }

    /// Tokens of the longest cached prefix of `blocks`, marking those blocks used.
    pub(crate) fn lookup(&mut self, blocks: &[u64]) -> u64 {
        let hit = blocks
            .iter()
            .take_while(|h| self.stamps.contains_key(h))
            .count();
        if let Some(hits) = blocks.get(..hit) {
            self.touch(hits);
        }
        hit as u64 * u64::from(self.block_tokens)
    }

    /// Adds (or refreshes) the blocks of a prompt whose prefill is done.
    pub(crate) fn insert(&mut self, blocks: &[u64]) {
        self.touch(blocks);
    }

    fn touch(&mut self, blocks: &[u64]) {
        for &h in blocks {
            self.clock += 1;
            if let Some(old) = self.stamps.insert(h, self.clock) {
                self.order.remove(&old);
            }
            self.order.insert(self.clock, h);
        }
    }

    /// Evicts least recently used blocks until the cache fits in `free_tokens` of KV memory.
    pub(crate) fn fit(&mut self, free_tokens: u64) {
        let most = free_tokens / u64::from(self.block_tokens);
        while self.stamps.len() as u64 > most {
            let Some((_, h)) = self.order.pop_first() else {
                break;
            };
            self.stamps.remove(&h);
        }
    }

    /// Blocks held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.stamps.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_cached_prefix_and_lru_eviction() {
        let mut c = PrefixCache::new(4);
        assert_eq!(c.lookup(&[1, 2, 3]), 0);
        c.insert(&[1, 2, 3]);
        assert_eq!(c.lookup(&[1, 2, 9]), 8, "two leading blocks hit");
        assert_eq!(
            c.lookup(&[9, 2, 3]),
            0,
            "a prefix must match from the start"
        );
        c.insert(&[7, 8]);
        // Room for 3 blocks: the least recently used go first. The lookup touched 1 and 2 after
        // 3 was inserted, so 3 and then 1 are evicted; 2, 7 and 8 stay.
        c.fit(12);
        assert_eq!(c.len(), 3);
        assert_eq!(c.lookup(&[7, 8]), 8);
        assert_eq!(
            c.lookup(&[1, 2, 3]),
            0,
            "block 1 is gone, so nothing after it counts"
        );
        c.fit(0);
        assert_eq!(c.len(), 0);
    }
}
