//! A topic's versioned state: the latest value of each key with its
//! revision (the seq of the message that wrote it), for GET/LIST and for
//! snapshot subscriptions.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::queue::Msg;

/// One key's current value.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Seq of the message that last wrote it.
    pub revision: u64,
    /// Value.
    pub value: Bytes,
    /// The state message itself, replayed by snapshot subscriptions.
    pub msg: Msg,
}

/// Keys in order, for paginated listing.
#[derive(Debug, Default)]
pub struct StateStore {
    map: BTreeMap<String, Entry>,
}

impl StateStore {
    /// Current entry of `key`.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.map.get(key)
    }

    /// Sets `key`.
    pub fn put(&mut self, key: &str, entry: Entry) {
        self.map.insert(key.to_owned(), entry);
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) -> Option<Entry> {
        self.map.remove(key)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// No keys?
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Keys strictly after `after`, in order, at most `limit`, stopping
    /// once `max_bytes` of keys and values are collected. Returns the page
    /// and whether more keys follow.
    pub fn page(&self, after: &str, limit: usize, max_bytes: usize) -> (Vec<(&str, &Entry)>, bool) {
        use std::ops::Bound::{Excluded, Unbounded};
        let lower = if after.is_empty() {
            Unbounded
        } else {
            Excluded(after)
        };
        let mut out = Vec::new();
        let mut bytes = 0;
        let mut iter = self.map.range::<str, _>((lower, Unbounded)).peekable();
        while let Some((k, e)) = iter.peek() {
            let cost = k.len() + e.value.len() + 14;
            if out.len() >= limit || (bytes + cost > max_bytes && !out.is_empty()) {
                break;
            }
            bytes += cost;
            out.push((k.as_str(), *e));
            iter.next();
        }
        (out, iter.peek().is_some())
    }

    /// The state messages of all keys, in revision order (a snapshot).
    pub fn snapshot(&self) -> Vec<Msg> {
        let mut v: Vec<&Entry> = self.map.values().collect();
        v.sort_by_key(|e| e.revision);
        v.into_iter().map(|e| e.msg.clone()).collect()
    }
}
