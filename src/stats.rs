//! A point-in-time picture of the broker for `/v1/stats` and `spate stats`
//! ([`StatsSnapshot`], built on demand by [`crate::broker::Broker::stats`]),
//! and the server-wide running totals `/metrics` exports ([`Totals`], from
//! [`crate::broker::Broker::totals`], which locks no topic). The hot path
//! only bumps counters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::broker::counters::LatencyFigures;

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
    /// Random id of this process (also sent in WELCOME). A JSON string:
    /// it exceeds 2^53, which JSON readers such as jq and JavaScript round.
    #[serde(with = "u64_string")]
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
    /// Current epoch (random, above 2^53: a JSON string, like `server_id`).
    #[serde(with = "u64_string")]
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

/// What `/metrics` exports: server-wide figures only, no per-topic or
/// per-connection lists. Not part of the `/v1/stats` JSON.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Server-wide figures (same meaning as in [`StatsSnapshot::server`]).
    pub server: ServerStats,
    /// Live subscriptions by policy name.
    pub subscriptions_by_policy: BTreeMap<String, u64>,
    /// Fill of the fullest subscriber queue (the larger of messages/limit
    /// and bytes/limit).
    pub queue_max_fill_ratio: f64,
    /// Publish-ack latency histogram.
    pub ack_latency: LatencyFigures,
    /// Authentication failures and refusals (h-auth).
    pub auth: crate::auth::metrics::AuthFigures,
}

/// `used / limit`, 0 when there is no limit.
pub fn fill_ratio(used: u64, limit: u64) -> f64 {
    if limit == 0 {
        0.0
    } else {
        used as f64 / limit as f64
    }
}

impl From<&StatsSnapshot> for Totals {
    /// The totals a snapshot implies (for stats sources that only have a
    /// snapshot, such as test doubles); no latency samples.
    fn from(s: &StatsSnapshot) -> Totals {
        let mut t = Totals {
            server: s.server.clone(),
            ..Totals::default()
        };
        for sub in s.connections.iter().flat_map(|c| &c.subscriptions) {
            *t.subscriptions_by_policy
                .entry(sub.policy.clone())
                .or_default() += 1;
            t.queue_max_fill_ratio = t
                .queue_max_fill_ratio
                .max(fill_ratio(sub.queue_messages, sub.queue_limit_messages))
                .max(fill_ratio(sub.queue_bytes, sub.queue_limit_bytes));
        }
        t
    }
}

/// Serde for ids that may exceed 2^53 (random ids and epochs): written as
/// a decimal JSON string, so readers that hold numbers as doubles (jq,
/// JavaScript) keep them exact; read from a string or a number.
pub mod u64_string {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `v` as a decimal string.
    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    /// Reads a decimal string or a number.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Num(u64),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Num(n) => Ok(n),
            Either::Text(t) => t.trim().parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod id_tests {
    use super::*;

    #[test]
    fn large_ids_are_json_strings_and_read_back_from_either_form() {
        let mut s = StatsSnapshot::default();
        s.server.server_id = (1 << 60) + 1;
        s.topics.push(TopicStats {
            epoch: u64::MAX,
            ..TopicStats::default()
        });
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["server"]["server_id"], "1152921504606846977");
        assert_eq!(v["topics"][0]["epoch"], "18446744073709551615");
        assert_eq!(v["server"]["uptime_secs"], 0, "counts stay numbers");
        let back: StatsSnapshot = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back.server.server_id, (1 << 60) + 1);
        let mut old = v;
        old["server"]["server_id"] = serde_json::json!(12345u64);
        let back: StatsSnapshot = serde_json::from_value(old).unwrap();
        assert_eq!(back.server.server_id, 12345);
    }
}
