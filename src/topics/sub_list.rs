//! The subscriptions that end at one trie node: a list with fast removal.
//!
//! Matching walks these lists, so they are plain vectors (cheap to iterate,
//! one allocation). Removal by id must not be linear when thousands of
//! subscribers share one pattern (a mass disconnect would be quadratic), so
//! once a list grows past [`INDEX_FROM`] entries it also keeps an id → slot
//! map, and drops it again when the list shrinks well below that size.

use std::collections::HashMap;

/// Length above which a list builds its id → slot index.
const INDEX_FROM: usize = 32;

/// Length below which a list drops its index again (hysteresis, so a list
/// hovering around [`INDEX_FROM`] does not rebuild on every change).
const UNINDEX_BELOW: usize = INDEX_FROM / 2;

/// An id → slot map with the trie's hasher.
type SlotIndex = HashMap<u64, usize, foldhash::fast::RandomState>;

/// Subscriptions (id, value) with unique ids, in no particular order.
#[derive(Debug)]
pub(crate) struct SubList<V> {
    entries: Vec<(u64, V)>,
    /// Present only while the list is long; always agrees with `entries`.
    slots: Option<Box<SlotIndex>>,
}

impl<V> Default for SubList<V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            slots: None,
        }
    }
}

impl<V> SubList<V> {
    /// Adds a subscription, or replaces the value of the one with this id;
    /// returns the replaced value.
    pub(crate) fn insert(&mut self, id: u64, value: V) -> Option<V> {
        if let Some(slot) = self.slot_of(id) {
            return Some(std::mem::replace(&mut self.entries[slot].1, value));
        }
        self.entries.push((id, value));
        match &mut self.slots {
            Some(slots) => {
                slots.insert(id, self.entries.len() - 1);
            }
            None if self.entries.len() > INDEX_FROM => self.build_index(),
            None => {}
        }
        None
    }

    /// Removes the subscription with this id, returning its value.
    pub(crate) fn remove(&mut self, id: u64) -> Option<V> {
        let slot = self.slot_of(id)?;
        let (_, value) = self.entries.swap_remove(slot);
        if let Some(slots) = &mut self.slots {
            slots.remove(&id);
            if let Some((moved, _)) = self.entries.get(slot) {
                slots.insert(*moved, slot);
            }
        }
        if self.entries.len() < UNINDEX_BELOW {
            self.slots = None;
        }
        if self.entries.is_empty() {
            // Give the memory back: this node may stay alive for its children.
            self.entries = Vec::new();
        }
        Some(value)
    }

    /// The values, in no particular order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, value)| value)
    }

    /// Appends a clone of every value to `out`: the matching hot path, which
    /// meets mostly empty lists and so checks for that before anything else.
    #[inline]
    pub(crate) fn append_to(&self, out: &mut Vec<V>)
    where
        V: Clone,
    {
        if !self.entries.is_empty() {
            out.extend(self.values().cloned());
        }
    }

    /// Whether the list is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Where the subscription with this id sits, if present.
    fn slot_of(&self, id: u64) -> Option<usize> {
        match &self.slots {
            Some(slots) => slots.get(&id).copied(),
            None => self.entries.iter().position(|(have, _)| *have == id),
        }
    }

    fn build_index(&mut self) {
        let mut slots = SlotIndex::with_capacity_and_hasher(self.entries.len(), Default::default());
        slots.extend(
            self.entries
                .iter()
                .enumerate()
                .map(|(slot, (id, _))| (*id, slot)),
        );
        self.slots = Some(Box::new(slots));
    }

    /// Checks that the index agrees with the entries (tests only).
    #[cfg(test)]
    fn assert_consistent(&self) {
        if let Some(slots) = &self.slots {
            assert_eq!(slots.len(), self.entries.len());
            for (slot, (id, _)) in self.entries.iter().enumerate() {
                assert_eq!(slots.get(id), Some(&slot));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_replace_remove() {
        let mut list = SubList::default();
        assert_eq!(list.insert(1, "a"), None);
        assert_eq!(list.insert(2, "b"), None);
        assert_eq!(list.insert(1, "c"), Some("a"));
        assert_eq!(list.values().count(), 2);
        assert_eq!(list.remove(3), None);
        assert_eq!(list.remove(1), Some("c"));
        assert_eq!(list.remove(1), None);
        assert_eq!(list.values().copied().collect::<Vec<_>>(), vec!["b"]);
        assert_eq!(list.remove(2), Some("b"));
        assert!(list.is_empty());
    }

    #[test]
    fn index_stays_consistent_while_growing_and_shrinking() {
        let mut list = SubList::default();
        for id in 0..200u64 {
            list.insert(id, id * 10);
            list.assert_consistent();
        }
        assert!(list.slots.is_some());
        // Remove in an order that moves entries around with swap_remove.
        for id in (0..200u64)
            .filter(|id| id % 3 == 0)
            .chain((0..200).filter(|id| id % 3 != 0))
        {
            assert_eq!(list.remove(id), Some(id * 10), "{id}");
            list.assert_consistent();
            assert_eq!(list.remove(id), None);
        }
        assert!(list.is_empty());
        assert!(list.slots.is_none());
    }
}
