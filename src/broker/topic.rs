//! One topic: its epoch, sequence counter, history, state and the cached
//! list of subscriptions that match it. Everything that must be ordered
//! with the topic's publishes sits behind its one mutex.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::history::{History, Retention};
use super::state::StateStore;
use crate::queue::SubscriberQueue;

/// A topic and its ordered state.
#[derive(Debug)]
pub struct Topic {
    /// Name.
    pub name: Arc<str>,
    /// Random id of this topic's life in this process.
    pub epoch: u64,
    /// Ordered state; never held across an `.await`.
    pub inner: Mutex<TopicInner>,
    rate_bits: AtomicU64,
}

/// What the topic's mutex guards.
#[derive(Debug)]
pub struct TopicInner {
    /// Last assigned sequence number (= messages published in this epoch).
    pub seq: u64,
    /// Retained recent messages.
    pub history: History,
    /// Versioned key/value state.
    pub state: StateStore,
    /// Subscriptions matching this topic, valid for `generation`.
    pub matches: Vec<Arc<SubscriberQueue>>,
    /// Subscription-index generation `matches` was computed at.
    pub generation: u64,
    /// Removed from the registry: publishers must look the topic up again.
    pub retired: bool,
    /// `seq` when the sweeper last sampled the rate.
    pub rate_seq: u64,
    /// Consecutive sweeps with nothing to keep the topic alive.
    pub idle_sweeps: u32,
    /// h-storage: the link to the log of a persisted topic.
    pub persist: Option<crate::storage::hook::TopicLog>,
}

impl Topic {
    /// A new topic with an empty history.
    pub fn new(name: &str, epoch: u64, retention: Retention) -> Topic {
        Topic {
            name: Arc::from(name),
            epoch,
            inner: Mutex::new(TopicInner {
                seq: 0,
                history: History::new(retention),
                state: StateStore::default(),
                matches: Vec::new(),
                generation: u64::MAX,
                retired: false,
                rate_seq: 0,
                idle_sweeps: 0,
                persist: None,
            }),
            rate_bits: AtomicU64::new(0),
        }
    }

    /// Messages per second at the last sweep.
    pub fn rate(&self) -> f64 {
        f64::from_bits(self.rate_bits.load(Ordering::Relaxed))
    }

    /// Records the rate measured by the sweeper.
    pub fn set_rate(&self, r: f64) {
        self.rate_bits.store(r.to_bits(), Ordering::Relaxed);
    }
}
