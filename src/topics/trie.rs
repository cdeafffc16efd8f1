//! TEMPORARY stand-in (branch `topics` replaces it).

/// Linear stand-in.
pub struct SubscriptionTrie<V> {
    subs: Vec<(String, u64, V)>,
}

impl<V: Clone> Default for SubscriptionTrie<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Clone> SubscriptionTrie<V> {
    /// New.
    pub fn new() -> Self {
        SubscriptionTrie { subs: Vec::new() }
    }
    /// Insert.
    pub fn insert(&mut self, pattern: &str, id: u64, value: V) {
        self.subs.push((pattern.to_string(), id, value));
    }
    /// Remove.
    pub fn remove(&mut self, pattern: &str, id: u64) -> Option<V> {
        let i = self.subs.iter().position(|(p, i, _)| p == pattern && *i == id)?;
        Some(self.subs.swap_remove(i).2)
    }
    /// Matches.
    pub fn matches(&self, topic: &str, out: &mut Vec<V>) {
        for (p, _, v) in &self.subs {
            if super::name::pattern_matches(p, topic) {
                out.push(v.clone());
            }
        }
    }
    /// Len.
    pub fn len(&self) -> usize {
        self.subs.len()
    }
    /// Empty.
    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }
}
