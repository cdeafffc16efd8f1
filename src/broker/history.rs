//! A topic's retained history: the most recent messages, bounded by count,
//! bytes and age, for replay (`FROM_SEQ`, `LAST_N`). Entries share the
//! published body; retaining costs a refcount, not a copy.

use std::collections::VecDeque;

use crate::queue::{Budget, Credit, Msg};

/// Retention limits for one topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Most messages (0 = history off).
    pub max_msgs: usize,
    /// Most bytes.
    pub max_bytes: usize,
    /// Oldest age in µs (0 = no limit).
    pub max_age_us: u64,
}

/// The ring of retained messages, oldest first, seqs contiguous.
#[derive(Debug)]
pub struct History {
    retention: Retention,
    entries: VecDeque<(Msg, u64)>,
    bytes: usize,
}

impl History {
    /// Empty history with these limits.
    pub fn new(retention: Retention) -> History {
        History {
            retention,
            entries: VecDeque::new(),
            bytes: 0,
        }
    }

    /// Retains `msg` published at `ts_us`, evicting what the limits or the
    /// memory budget no longer allow. The budget (the publish run's credit)
    /// sees one net change per push, not one per eviction.
    pub fn push(&mut self, msg: &Msg, ts_us: u64, budget: &mut Credit<'_>) {
        let r = self.retention;
        if r.max_msgs == 0 {
            return;
        }
        let cost = msg.cost();
        let mut freed = 0;
        while !self.entries.is_empty()
            && (self.entries.len() >= r.max_msgs || self.bytes + cost > r.max_bytes)
        {
            freed += self.pop_front_unaccounted();
        }
        freed += self.evict_expired(ts_us);
        // History yields to subscriber queues: when the budget is short,
        // evict our own oldest entries; if that is not enough, skip.
        loop {
            if freed >= cost {
                budget.release((freed - cost) as u64);
                break;
            }
            if budget.try_reserve((cost - freed) as u64) {
                break;
            }
            if self.entries.is_empty() {
                budget.release(freed as u64);
                return;
            }
            freed += self.pop_front_unaccounted();
        }
        self.entries.push_back((msg.clone(), ts_us));
        self.bytes += cost;
    }

    /// Pops the oldest entry without telling the budget; returns its cost.
    fn pop_front_unaccounted(&mut self) -> usize {
        match self.entries.pop_front() {
            Some((m, _)) => {
                self.bytes -= m.cost();
                m.cost()
            }
            None => 0,
        }
    }

    /// Drops entries older than the age limit.
    pub fn expire(&mut self, now_us: u64, budget: &Budget) {
        let freed = self.evict_expired(now_us);
        budget.release(freed as u64);
    }

    /// Pops entries older than the age limit without telling the budget;
    /// returns the bytes freed.
    fn evict_expired(&mut self, now_us: u64) -> usize {
        let max_age = self.retention.max_age_us;
        let mut freed = 0;
        if max_age == 0 {
            return freed;
        }
        while let Some((_, ts)) = self.entries.front() {
            if now_us.saturating_sub(*ts) <= max_age {
                break;
            }
            freed += self.pop_front_unaccounted();
        }
        freed
    }

    /// Releases everything (topic forgotten).
    pub fn clear(&mut self, budget: &Budget) {
        budget.release(self.bytes as u64);
        self.entries.clear();
        self.bytes = 0;
    }

    /// Seq of the oldest retained message, if any.
    pub fn earliest_seq(&self) -> Option<u64> {
        self.entries.front().map(|(m, _)| m.seq())
    }

    /// Retained messages with seq ≥ `seq`, oldest first. Seqs are
    /// increasing but not always contiguous: after a crash a persisted
    /// topic continues past its reserved seqs (`storage`), hence the search.
    pub fn since(&self, seq: u64) -> impl Iterator<Item = &Msg> {
        let skip = self.entries.partition_point(|(m, _)| m.seq() < seq);
        self.entries.iter().skip(skip).map(|(m, _)| m)
    }

    /// The last `n` retained messages, oldest first.
    pub fn last(&self, n: usize) -> impl Iterator<Item = &Msg> {
        let skip = self.entries.len().saturating_sub(n);
        self.entries.iter().skip(skip).map(|(m, _)| m)
    }

    /// Retained message count.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Nothing retained?
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Retained bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg(seq: u64) -> Msg {
        Msg::new(Bytes::from(vec![0u8; 91]), seq, 0)
    }

    fn ring(max_msgs: usize, max_bytes: usize, max_age_us: u64) -> History {
        History::new(Retention {
            max_msgs,
            max_bytes,
            max_age_us,
        })
    }

    /// One push as its own publish run.
    fn put(h: &mut History, seq: u64, ts: u64, budget: &Budget) {
        h.push(&msg(seq), ts, &mut Credit::new(budget));
    }

    #[test]
    fn keeps_the_newest_within_count_and_bytes() {
        let budget = Budget::new(u64::MAX / 2);
        let mut h = ring(3, 10_000, 0);
        for s in 1..=5 {
            put(&mut h, s, s, &budget);
        }
        assert_eq!(
            h.since(0).map(|m| m.seq()).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        assert_eq!(h.since(4).map(|m| m.seq()).collect::<Vec<_>>(), vec![4, 5]);
        assert_eq!(h.last(2).map(|m| m.seq()).collect::<Vec<_>>(), vec![4, 5]);
        assert_eq!(budget.used(), 300);
        let mut h = ring(100, 250, 0);
        for s in 1..=5 {
            put(&mut h, s, s, &budget);
        }
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn expires_by_age_and_yields_to_the_budget() {
        let budget = Budget::new(250);
        let mut h = ring(100, 10_000, 10);
        put(&mut h, 1, 0, &budget);
        put(&mut h, 2, 5, &budget);
        put(&mut h, 3, 100, &budget);
        assert_eq!(h.earliest_seq(), Some(3));
        put(&mut h, 4, 101, &budget);
        put(&mut h, 5, 102, &budget);
        assert_eq!(h.len(), 2, "budget of 250 holds two 100-byte entries");
        assert_eq!(
            budget.used(),
            h.bytes() as u64,
            "the budget sees exactly what is retained"
        );
        h.clear(&budget);
        assert_eq!(budget.used(), 0);
    }
}
