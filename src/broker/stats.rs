//! Builds a [`StatsSnapshot`] by walking topics and connections. Runs on
//! demand (admin HTTP), never on the hot path.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use super::{Broker, DisconnectReason};
use crate::queue::counters::ALL_GAP_REASONS;
use crate::stats::{ConnectionStats, ServerStats, StatsSnapshot, SubscriptionStats, TopicStats};

impl Broker {
    /// A point-in-time picture of the whole broker.
    pub fn stats(&self) -> StatsSnapshot {
        let c = &self.counters;
        let mut s = ServerStats {
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
            ..ServerStats::default()
        };
        let mut lost: BTreeMap<String, u64> = ALL_GAP_REASONS
            .iter()
            .map(|r| {
                (
                    r.name().to_owned(),
                    c.closed_lost[*r as usize - 1].load(Relaxed),
                )
            })
            .collect();
        s.disconnects = DisconnectReason::ALL
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name().to_owned(), c.disconnects[i].load(Relaxed)))
            .collect();

        let mut connections = Vec::new();
        for conn in self.connections.iter() {
            s.messages_in += conn.messages_in.load(Relaxed);
            s.bytes_in += conn.bytes_in.load(Relaxed);
            s.messages_out += conn.messages_out.load(Relaxed);
            s.bytes_out += conn.bytes_out.load(Relaxed);
            let subs: Vec<_> = conn.subs.lock().values().cloned().collect();
            let mut cs = ConnectionStats {
                id: conn.id,
                peer: conn.peer.to_string(),
                client_name: conn.client_name.clone(),
                connected_secs: conn.connected_at.elapsed().as_secs(),
                messages_in: conn.messages_in.load(Relaxed),
                subscriptions: Vec::with_capacity(subs.len()),
            };
            for q in subs {
                let (msgs, bytes) = q.depth();
                s.queued_messages += msgs as u64;
                s.queued_bytes += bytes as u64;
                s.subscriptions += 1;
                let gaps = q.counters.gap_notices.load(Relaxed);
                s.gap_notices += gaps;
                let mut sub_lost = BTreeMap::new();
                for r in ALL_GAP_REASONS {
                    let n = q.counters.lost(r);
                    *lost.entry(r.name().to_owned()).or_default() += n;
                    sub_lost.insert(r.name().to_owned(), n);
                }
                cs.subscriptions.push(SubscriptionStats {
                    sub_id: q.sub_id,
                    pattern: q.pattern.clone(),
                    policy: q.limits.policy.name().to_owned(),
                    queue_messages: msgs as u64,
                    queue_bytes: bytes as u64,
                    queue_limit_messages: q.limits.max_msgs as u64,
                    queue_limit_bytes: q.limits.max_bytes as u64,
                    delivered: q.counters.delivered.load(Relaxed),
                    lost: sub_lost,
                    gap_notices: gaps,
                });
            }
            connections.push(cs);
        }
        s.connections = connections.len() as u64;
        s.lost_messages = lost;

        let mut topics = Vec::new();
        for t in self.topics.iter() {
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
}
