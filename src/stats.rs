//! A point-in-time picture of the broker for `/v1/stats`, `/metrics` and
//! `spate stats`. Built on demand by [`crate::broker::Broker::stats`]; the
//! hot path only bumps counters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything `/v1/stats` returns.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Server-wide figures.
    pub server: ServerStats,
    /// Topics, busiest (by message rate) first.
    pub topics: Vec<TopicStats>,
    /// Client connections with their subscriptions.
    pub connections: Vec<ConnectionStats>,
}

/// Server-wide figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ServerStats {
    /// Software version.
    pub version: String,
    /// Random id of this process (also sent in WELCOME).
    pub server_id: u64,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Accepting new clients (false while shutting down).
    pub accepting: bool,
    /// Open client connections.
    pub connections: u64,
    /// Live subscriptions.
    pub subscriptions: u64,
    /// Topics tracked.
    pub topics: u64,
    /// Messages published (accepted) since start.
    pub messages_in: u64,
    /// Payload bytes published since start.
    pub bytes_in: u64,
    /// Messages written to subscribers since start.
    pub messages_out: u64,
    /// Bytes written to client sockets since start.
    pub bytes_out: u64,
    /// Messages currently queued for subscribers.
    pub queued_messages: u64,
    /// Bytes currently queued for subscribers.
    pub queued_bytes: u64,
    /// Bytes retained in topic histories.
    pub history_bytes: u64,
    /// Server-wide memory budget (queues + history), bytes.
    pub memory_budget_bytes: u64,
    /// Bytes of the budget in use.
    pub memory_used_bytes: u64,
    /// Messages lost by subscribers, by reason (`dropped_oldest`, ...).
    pub lost_messages: BTreeMap<String, u64>,
    /// GAP notices sent.
    pub gap_notices: u64,
    /// Connections closed, by reason (`client`, `slow_consumer`, ...).
    pub disconnects: BTreeMap<String, u64>,
    /// Publishes that had to wait for a `block` queue.
    pub publisher_blocks: u64,
}

/// One topic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TopicStats {
    /// Name.
    pub name: String,
    /// Current epoch.
    pub epoch: u64,
    /// Last assigned sequence number.
    pub seq: u64,
    /// Messages published to it since it was created.
    pub messages_in: u64,
    /// Messages per second over the last second.
    pub rate_per_sec: f64,
    /// Subscriptions whose pattern matches it.
    pub subscribers: u64,
    /// Messages retained in history.
    pub history_messages: u64,
    /// Bytes retained in history.
    pub history_bytes: u64,
    /// State keys held.
    pub state_keys: u64,
}

/// One client connection.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConnectionStats {
    /// Server-assigned connection id.
    pub id: u64,
    /// Peer address.
    pub peer: String,
    /// Client name from HELLO.
    pub client_name: String,
    /// Seconds since the connection opened.
    pub connected_secs: u64,
    /// Messages this connection published.
    pub messages_in: u64,
    /// Its subscriptions.
    pub subscriptions: Vec<SubscriptionStats>,
}

/// One subscription.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SubscriptionStats {
    /// Client-chosen id.
    pub sub_id: u32,
    /// Topic or pattern.
    pub pattern: String,
    /// Backpressure policy.
    pub policy: String,
    /// Messages queued now.
    pub queue_messages: u64,
    /// Bytes queued now.
    pub queue_bytes: u64,
    /// Queue limit, messages.
    pub queue_limit_messages: u64,
    /// Queue limit, bytes.
    pub queue_limit_bytes: u64,
    /// Messages delivered (written to the socket).
    pub delivered: u64,
    /// Messages lost, by reason.
    pub lost: BTreeMap<String, u64>,
    /// GAP notices sent.
    pub gap_notices: u64,
}
