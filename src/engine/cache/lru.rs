//! A least-recently-used map with a byte budget (weights given by the caller).
//!
//! Hand-written rather than a crate: `lru`/`moka` are not in the dependency tree, and the
//! cache needs only get, insert with weight, remove and eviction by total weight. Recency is
//! a tick per access; a `BTreeMap` from tick to key yields the oldest entry in O(log n).

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

struct Entry<V> {
    value: V,
    weight: u64,
    tick: u64,
}

/// An LRU map whose entries' weights sum to at most `budget`.
pub struct WeightedLru<K, V> {
    entries: HashMap<K, Entry<V>>,
    /// Access tick → key; the first entry is the least recently used.
    order: BTreeMap<u64, K>,
    next_tick: u64,
    used: u64,
    budget: u64,
}

impl<K: Hash + Eq + Clone, V: Clone> WeightedLru<K, V> {
    /// An empty map holding at most `budget` weight (bytes).
    pub fn new(budget: u64) -> Self {
        WeightedLru {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_tick: 0,
            used: 0,
            budget,
        }
    }

    fn tick(&mut self) -> u64 {
        self.next_tick += 1;
        self.next_tick
    }

    /// Whether `key` is cached (its recency is left as it is).
    pub fn contains(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }

    /// The value of `key`, now the most recently used.
    pub fn get(&mut self, key: &K) -> Option<V> {
        let tick = self.tick();
        let entry = self.entries.get_mut(key)?;
        self.order.remove(&entry.tick);
        entry.tick = tick;
        self.order.insert(tick, key.clone());
        Some(entry.value.clone())
    }

    /// Inserts (or replaces) `key` with `weight`, evicting least recently used entries until
    /// it fits. A value heavier than the whole budget is not kept. Returns the number of
    /// entries evicted.
    pub fn insert(&mut self, key: K, value: V, weight: u64) -> u64 {
        self.remove(&key);
        if weight > self.budget {
            return 0;
        }
        let mut evicted = 0;
        while self.used + weight > self.budget {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some(entry) = self.entries.remove(&oldest) {
                self.used -= entry.weight;
                evicted += 1;
            }
        }
        let tick = self.tick();
        self.order.insert(tick, key.clone());
        self.entries.insert(
            key,
            Entry {
                value,
                weight,
                tick,
            },
        );
        self.used += weight;
        evicted
    }

    /// Removes `key`; whether it was present.
    pub fn remove(&mut self, key: &K) -> bool {
        match self.entries.remove(key) {
            Some(entry) => {
                self.order.remove(&entry.tick);
                self.used -= entry.weight;
                true
            }
            None => false,
        }
    }

    /// Removes every entry whose key fails `keep`.
    pub fn retain(&mut self, mut keep: impl FnMut(&K) -> bool) {
        let doomed: Vec<K> = self.entries.keys().filter(|k| !keep(k)).cloned().collect();
        for key in doomed {
            self.remove(&key);
        }
    }

    /// Total weight held.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_within_budget() {
        let mut lru = WeightedLru::new(10);
        assert_eq!(lru.insert("a", 1, 4), 0);
        assert_eq!(lru.insert("b", 2, 4), 0);
        // Touch "a": "b" is now the oldest.
        assert_eq!(lru.get(&"a"), Some(1));
        assert_eq!(lru.insert("c", 3, 4), 1);
        assert_eq!(lru.get(&"b"), None);
        assert_eq!(lru.get(&"a"), Some(1));
        assert_eq!(lru.get(&"c"), Some(3));
        assert_eq!(lru.used(), 8);
        assert_eq!(lru.len(), 2);
    }

    #[test]
    fn too_heavy_values_and_replacement() {
        let mut lru = WeightedLru::new(10);
        lru.insert("a", 1, 6);
        // Heavier than the budget: not kept, nothing evicted.
        assert_eq!(lru.insert("big", 9, 11), 0);
        assert_eq!(lru.get(&"big"), None);
        assert_eq!(lru.get(&"a"), Some(1));
        // Replacing a key re-weighs it instead of counting it twice.
        lru.insert("a", 2, 8);
        assert_eq!(lru.used(), 8);
        assert_eq!(lru.get(&"a"), Some(2));
        assert!(lru.remove(&"a"));
        assert!(!lru.remove(&"a"));
        assert_eq!(lru.used(), 0);
        lru.insert("x", 1, 1);
        lru.insert("y", 1, 1);
        lru.retain(|k| *k == "y");
        assert_eq!(lru.len(), 1);
        assert_eq!(lru.used(), 1);
    }
}
