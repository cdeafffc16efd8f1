//! Builds a [`StatsSnapshot`] by walking topics and connections, and the
//! [`Totals`] `/metrics` exports, which walks connections only and reads the
//! running totals: it locks no topic. Both run on demand (admin HTTP), never
//! on the hot path, and follow the lock order in the `broker` module doc
//! (map entries are copied out before anything is locked).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use super::{Broker, ConnInfo, DisconnectReason};
use crate::queue::counters::ALL_GAP_REASONS;
use crate::queue::SubscriberQueue;
use crate::stats::{
    fill_ratio, ConnectionStats, ServerStats, StatsSnapshot, SubscriptionStats, TopicStats, Totals,
};

impl Broker {
    /// Server-wide figures from the counters of what has ended, before
    /// the live connections and subscriptions are added in.
    fn closed_figures(&self) -> ServerStats {
        let c = &self.counters;
        ServerStats {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            server_id: self.server_id,
            uptime_secs: self.uptime().as_secs(),
            accepting: self.is_accepting(),
            messages_in: c.closed_messages_in.load(Relaxed),
            bytes_in: c.closed_bytes_in.load(Relaxed),
            messages_out: c.closed_messages_out.load(Relaxed),
            bytes_out: c.closed_bytes_out.load(Relaxed),
            memory_budget_bytes: self.budget.limit(),
            memory_used_bytes: self.budget.used(),
            gap_notices: c.closed_gap_notices.load(Relaxed),
            publisher_blocks: c.publisher_blocks.load(Relaxed),
            lost_messages: ALL_GAP_REASONS
                .iter()
                .map(|r| {
                    (
                        r.name().to_owned(),
                        c.closed_lost[*r as usize - 1].load(Relaxed),
                    )
                })
                .collect(),
            disconnects: DisconnectReason::ALL
                .iter()
                .enumerate()
                .map(|(i, r)| (r.name().to_owned(), c.disconnects[i].load(Relaxed)))
                .collect(),
            ..ServerStats::default()
        }
    }

    /// Walks every open connection and its subscriptions, adding their
    /// figures to `s`; `visit` sees each connection with its subscriptions
    /// and their depths. Locks one connection's `subs`, then (after
    /// copying them out) one queue at a time.
    fn walk_connections(
        &self,
        s: &mut ServerStats,
        mut visit: impl FnMut(&ConnInfo, &[(Arc<SubscriberQueue>, usize, usize)]),
    ) {
        let mut subs = Vec::new();
        for conn in self.connection_list() {
            s.connections += 1;
            s.messages_in += conn.messages_in.load(Relaxed);
            s.bytes_in += conn.bytes_in.load(Relaxed);
            s.messages_out += conn.messages_out.load(Relaxed);
            s.bytes_out += conn.bytes_out.load(Relaxed);
            let queues: Vec<_> = conn.subs.lock().values().cloned().collect();
            subs.clear();
            for q in queues {
                let (msgs, bytes) = q.depth();
                s.queued_messages += msgs as u64;
                s.queued_bytes += bytes as u64;
                s.subscriptions += 1;
                s.gap_notices += q.counters.gap_notices.load(Relaxed);
                for r in ALL_GAP_REASONS {
                    *s.lost_messages.entry(r.name().to_owned()).or_default() += q.counters.lost(r);
                }
                subs.push((q, msgs, bytes));
            }
            visit(&conn, &subs);
        }
    }

    /// A point-in-time picture of the whole broker.
    pub fn stats(&self) -> StatsSnapshot {
        let mut s = self.closed_figures();
        let mut connections = Vec::new();
        self.walk_connections(&mut s, |conn, subs| {
            connections.push(ConnectionStats {
                id: conn.id,
                peer: conn.peer.to_string(),
                client_name: conn.client_name.clone(),
                connected_secs: conn.connected_at.elapsed().as_secs(),
                messages_in: conn.messages_in.load(Relaxed),
                subscriptions: subs
                    .iter()
                    .map(|(q, msgs, bytes)| SubscriptionStats {
                        sub_id: q.sub_id,
                        pattern: q.pattern.clone(),
                        policy: q.limits.policy.name().to_owned(),
                        queue_messages: *msgs as u64,
                        queue_bytes: *bytes as u64,
                        queue_limit_messages: q.limits.max_msgs as u64,
                        queue_limit_bytes: q.limits.max_bytes as u64,
                        delivered: q.counters.delivered.load(Relaxed),
                        lost: ALL_GAP_REASONS
                            .iter()
                            .map(|r| (r.name().to_owned(), q.counters.lost(*r)))
                            .collect::<BTreeMap<_, _>>(),
                        gap_notices: q.counters.gap_notices.load(Relaxed),
                    })
                    .collect(),
            });
        });

        let mut topics = Vec::new();
        for t in self.topic_list() {
            let inner = t.inner.lock();
            s.history_bytes += inner.history.bytes() as u64;
            topics.push(TopicStats {
                name: t.name.to_string(),
                epoch: t.epoch,
                seq: inner.seq,
                messages_in: inner.seq,
                rate_per_sec: t.rate(),
                subscribers: inner.matches.iter().filter(|q| !q.is_closed()).count() as u64,
                history_messages: inner.history.len() as u64,
                history_bytes: inner.history.bytes() as u64,
                state_keys: inner.state.len() as u64,
            });
        }
        topics.sort_by(|a, b| {
            b.rate_per_sec
                .total_cmp(&a.rate_per_sec)
                .then(b.seq.cmp(&a.seq))
        });
        s.topics = topics.len() as u64;
        StatsSnapshot {
            server: s,
            topics,
            connections,
        }
    }

    /// The server-wide figures `/metrics` exports, from running totals: the
    /// counters, each connection's counters and each queue's depth. Locks
    /// no topic (the history total is kept as histories change).
    pub fn totals(&self) -> Totals {
        let mut s = self.closed_figures();
        let mut by_policy: BTreeMap<String, u64> = spate_proto::Policy::ALL
            .iter()
            .map(|p| (p.name().to_owned(), 0))
            .collect();
        let mut max_fill: f64 = 0.0;
        self.walk_connections(&mut s, |_, subs| {
            for (q, msgs, bytes) in subs {
                *by_policy
                    .entry(q.limits.policy.name().to_owned())
                    .or_default() += 1;
                max_fill = max_fill
                    .max(fill_ratio(*msgs as u64, q.limits.max_msgs as u64))
                    .max(fill_ratio(*bytes as u64, q.limits.max_bytes as u64));
            }
        });
        s.topics = self.topic_count() as u64;
        s.history_bytes = self.counters.history_bytes.load(Relaxed);
        Totals {
            server: s,
            subscriptions_by_policy: by_policy,
            queue_max_fill_ratio: max_fill,
            ack_latency: self.counters.ack_latency.figures(),
            auth: self.auth.counters.figures(),
        }
    }
}
