//! The broker: state shared by every connection.
//!
//! - [`topic`]: per-topic seq, epoch, history and state, behind one mutex;
//! - the subscription index (a wildcard trie) with a generation counter
//!   that invalidates each topic's cached match list;
//! - [`publish`], [`subscribe`], [`state_ops`]: the operations;
//! - the memory [`Budget`] and server-wide [`counters`];
//! - [`sweeper`]: once a second, rates, history expiry, idle topics.
//!
//! # Lock order
//!
//! One order everywhere, so no two threads can wait on each other:
//!
//! 1. a map guard of `topics` or `connections` (DashMap shard locks) is a
//!    **leaf**: while one is held, no other lock is taken. Walks over all
//!    topics or connections (sweeper, stats, metrics) first copy the
//!    `Arc`s out ([`Broker::topic_list`], [`Broker::connection_list`]) and
//!    lock each entry afterwards. Removing a topic from the map while
//!    holding its mutex (the sweeper does) is then safe;
//! 2. a topic's mutex ([`Topic::inner`]), then
//! 3. the subscription index (`RwLock`), then
//! 4. a subscriber queue's own mutex.
//!
//! A connection's `subs` mutex is taken alone (its `Arc`s are copied out
//! before any queue is locked). No parking_lot or DashMap guard is ever
//! held across an `.await`.

pub mod backlog;
pub mod connections;
pub mod counters;
pub mod error;
pub mod history;
pub mod persist;
pub mod publish;
pub mod remote;
pub mod state;
pub mod state_ops;
pub mod stats;
pub mod subscribe;
pub mod sweeper;
pub mod topic;

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use dashmap::DashMap;
use parking_lot::RwLock;

pub use connections::ConnInfo;
pub use counters::{Counters, DisconnectReason};
pub use error::BrokerError;
pub use publish::{PublishScratch, Published};
pub use topic::{Topic, TopicInner};

use crate::config::Config;
use crate::queue::{Budget, SubscriberQueue};
use crate::topics::{pattern_matches, SubscriptionTrie};
use history::Retention;

type FastMap<K, V> = DashMap<K, V, foldhash::fast::RandomState>;

/// Shared broker state. One per server; connections hold an `Arc`.
pub struct Broker {
    /// Settings in force.
    pub config: Arc<Config>,
    /// Random id of this process, sent in WELCOME.
    pub server_id: u64,
    /// Memory budget shared by queues and histories.
    pub budget: Arc<Budget>,
    /// Server-wide counters.
    pub counters: Counters,
    started: Instant,
    topics: FastMap<Box<str>, Arc<Topic>>,
    index: RwLock<SubscriptionTrie<Arc<SubscriberQueue>>>,
    generation: AtomicU64,
    connections: FastMap<u64, Arc<ConnInfo>>,
    next_id: AtomicU64,
    accepting: AtomicBool,
    hasher: foldhash::fast::RandomState,
    /// Users, permissions and per-user/per-IP limits in force (h-auth).
    pub auth: crate::auth::Auth,
    /// h-storage: the log, when `[storage] dir` is set.
    storage: Option<Arc<crate::storage::Storage>>,
    /// Shared engine (Redis) when topics live there (`remote.rs`).
    remote: std::sync::OnceLock<Arc<dyn remote::Remote>>,
}

impl Broker {
    /// A broker with no topics or subscriptions.
    pub fn new(config: Arc<Config>) -> Broker {
        Broker {
            budget: Arc::new(Budget::new(config.queues.memory_budget_bytes)),
            server_id: rand::random::<u64>() | 1,
            counters: Counters::default(),
            started: Instant::now(),
            topics: FastMap::default(),
            index: RwLock::new(SubscriptionTrie::new()),
            generation: AtomicU64::new(0),
            connections: FastMap::default(),
            next_id: AtomicU64::new(1),
            accepting: AtomicBool::new(true),
            hasher: foldhash::fast::RandomState::default(),
            auth: crate::auth::Auth::default(),
            storage: None,
            remote: std::sync::OnceLock::new(),
            config,
        }
    }

    /// A fresh server-unique id (connections, subscriptions).
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Accepting new clients and requests?
    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::Relaxed)
    }

    /// Stops accepting (graceful shutdown has begun).
    pub fn stop_accepting(&self) {
        self.accepting.store(false, Ordering::Relaxed);
    }

    /// Time since the broker started.
    pub fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    /// The topic called `name`, created if new.
    pub fn topic(&self, name: &str) -> Result<Arc<Topic>, BrokerError> {
        if let Some(t) = self.topics.get(name) {
            return Ok(Arc::clone(&t));
        }
        let max = self.config.limits.max_topics;
        if self.topics.len() as u64 >= max {
            return Err(BrokerError::TooManyTopics(max));
        }
        let t = self
            .topics
            .entry(name.into())
            .or_insert_with(|| Arc::new(self.new_topic(name)));
        Ok(Arc::clone(&t))
    }

    /// The topic called `name`, if it exists.
    pub fn existing_topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.get(name).map(|t| Arc::clone(&t))
    }

    /// Number of topics tracked.
    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }

    /// Every topic, copied out of the map so that the caller can lock each
    /// one without holding a map guard (see the lock order above).
    pub fn topic_list(&self) -> Vec<Arc<Topic>> {
        self.topics.iter().map(|t| Arc::clone(t.value())).collect()
    }

    /// Every open connection, copied out of the map like
    /// [`Broker::topic_list`].
    pub fn connection_list(&self) -> Vec<Arc<ConnInfo>> {
        self.connections
            .iter()
            .map(|c| Arc::clone(c.value()))
            .collect()
    }

    /// A new topic (persisted if a `[[storage.persist]]` rule says so).
    fn new_topic(&self, name: &str) -> Topic {
        let mut t = Topic::new(name, new_epoch(), self.retention_for(name));
        self.attach_log(&mut t);
        t
    }

    pub(crate) fn retention_for(&self, name: &str) -> Retention {
        let h = &self.config.history;
        let (msgs, bytes, age) = h
            .overrides
            .iter()
            .find(|o| pattern_matches(&o.pattern, name))
            .map_or((h.max_msgs, h.max_bytes, h.max_age_secs), |o| {
                (o.max_msgs, o.max_bytes, o.max_age_secs)
            });
        Retention {
            max_msgs: msgs as usize,
            max_bytes: bytes as usize,
            max_age_us: age.saturating_mul(1_000_000),
        }
    }

    /// Brings `inner.matches` up to date with the subscription index.
    pub(crate) fn refresh_matches(&self, topic: &Topic, inner: &mut TopicInner) {
        if inner.generation == self.generation.load(Ordering::Acquire) {
            return;
        }
        let index = self.index.read();
        inner.generation = self.generation.load(Ordering::Acquire);
        inner.matches.clear();
        index.matches(&topic.name, &mut inner.matches);
    }

    fn index_insert(&self, q: &Arc<SubscriberQueue>) {
        let mut index = self.index.write();
        index.insert(&q.pattern, q.id, Arc::clone(q));
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn index_remove(&self, q: &SubscriberQueue) {
        let mut index = self.index.write();
        index.remove(&q.pattern, q.id);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Live subscriptions in the index.
    pub fn subscription_count(&self) -> usize {
        self.index.read().len()
    }

    /// Conflation key of (topic, key): equal for messages that replace
    /// each other under the `conflate` policy.
    pub(crate) fn ckey(&self, topic: &str, key: Option<&str>) -> u64 {
        self.hasher.hash_one((topic, key))
    }

    /// Registers a connection for stats.
    pub fn register_connection(&self, c: Arc<ConnInfo>) {
        self.connections.insert(c.id, c);
    }

    /// Forgets a connection, folding its counters into the totals.
    pub fn unregister_connection(&self, id: u64) {
        if let Some((_, c)) = self.connections.remove(&id) {
            c.fold_into(&self.counters);
        }
    }

    /// Open connections.
    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }
}

/// Current time, µs since the Unix epoch.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

pub(crate) fn new_epoch() -> u64 {
    rand::random::<u64>() | 1
}
