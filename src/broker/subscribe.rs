//! Subscribing and unsubscribing. A literal topic is subscribed under its
//! lock (backlog, then index insertion) so no message falls between the
//! backlog and live delivery; wildcard patterns only touch the index.

use std::sync::Arc;

use spate_proto::{Start, StartStatus, SubscribeOptions, Subscribed};

use super::backlog;
use super::{Broker, BrokerError};
use crate::queue::subscriber::Scheduler;
use crate::queue::{QueueLimits, SubscriberQueue};
use crate::topics::{is_literal, validate_pattern};

impl Broker {
    /// Creates subscription `sub_id` on `pattern` for a caller with no
    /// client to tell (benches, tests): [`Self::subscribe_held`] with its
    /// SUBSCRIBED dropped and the queue released at once.
    pub fn subscribe(
        &self,
        sub_id: u32,
        pattern: &str,
        options: &SubscribeOptions,
        sched: Arc<dyn Scheduler>,
    ) -> Result<Arc<SubscriberQueue>, BrokerError> {
        let (q, _) = self.subscribe_held(sub_id, pattern, options, sched)?;
        q.release();
        Ok(q)
    }

    /// Creates subscription `sub_id` on `pattern` and returns its queue,
    /// **held** ([`SubscriberQueue::hold`]), with the SUBSCRIBED reply that
    /// describes it. The queue holds any backlog, then live messages. The
    /// caller queues the SUBSCRIBED reply in request order, then releases
    /// the queue: deliveries never precede their SUBSCRIBED, and SUBSCRIBED
    /// never overtakes the replies to earlier requests (protocol.md §5.3).
    pub fn subscribe_held(
        &self,
        sub_id: u32,
        pattern: &str,
        options: &SubscribeOptions,
        sched: Arc<dyn Scheduler>,
    ) -> Result<(Arc<SubscriberQueue>, Subscribed), BrokerError> {
        validate_pattern(pattern, self.config.limits.max_topic_len as usize).map_err(|source| {
            BrokerError::InvalidPattern {
                pattern: pattern.to_owned(),
                source,
            }
        })?;
        if let Some(t) = options.unknown_critical.first() {
            return Err(BrokerError::InvalidOption(format!(
                "unknown critical option tag 0x{t:02x}"
            )));
        }
        let limits = QueueLimits::resolve(options, &self.config.queues, &self.config.rate_limits)?;
        let literal = is_literal(pattern);
        if !literal && options.start != Start::New {
            return Err(BrokerError::InvalidOption(
                "FROM_SEQ, LAST_N and SNAPSHOT need a literal topic, not a wildcard pattern".into(),
            ));
        }
        let q = Arc::new(SubscriberQueue::new(
            sub_id,
            self.next_id(),
            pattern.to_owned(),
            limits,
            sched,
            Arc::clone(&self.budget),
        ));
        q.hold();
        if !literal {
            let frame = subscribed(&q, StartStatus::Live, 0, 0, 0);
            self.index_insert(&q);
            return Ok((q, frame));
        }
        let frame = self.with_topic(pattern, |topic, inner| {
            let b = backlog::plan(inner, pattern, topic.epoch, options.start);
            let frame = subscribed(&q, b.status, topic.epoch, b.first_seq(), inner.seq);
            if let Some(g) = b.gap.clone() {
                q.push_gap(g);
            }
            let mut holes = backlog::holes(&b, inner.seq).into_iter().peekable();
            for (i, m) in b.msgs.iter().enumerate() {
                while let Some((_, first, last)) = holes.next_if(|h| h.0 == i) {
                    q.push_gap(skipped(pattern, first, last));
                }
                q.push_backlog(m.clone());
            }
            for (_, first, last) in holes {
                q.push_gap(skipped(pattern, first, last));
            }
            self.index_insert(&q);
            Ok(frame)
        })?;
        Ok((q, frame))
    }

    /// Ends a subscription: out of the index, queue dropped, counters
    /// folded into the server totals.
    pub fn unsubscribe(&self, q: &Arc<SubscriberQueue>) {
        self.index_remove(q);
        q.close();
        // Shared engine: this node may stop receiving the pattern.
        if let Some(r) = self.remote() {
            r.release(&q.pattern);
        }
        for r in crate::queue::counters::ALL_GAP_REASONS {
            self.counters.fold_lost(r, q.counters.lost(r));
        }
        self.counters.closed_gap_notices.fetch_add(
            q.counters
                .gap_notices
                .load(std::sync::atomic::Ordering::Relaxed),
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}

fn subscribed(
    q: &SubscriberQueue,
    start: StartStatus,
    epoch: u64,
    first_seq: u64,
    last_seq: u64,
) -> Subscribed {
    Subscribed {
        sub_id: q.sub_id,
        policy: q.limits.policy,
        queue_msgs: q.limits.max_msgs as u32,
        queue_bytes: q.limits.max_bytes as u64,
        start,
        epoch,
        first_seq,
        last_seq,
    }
}

/// GAP for seqs a backlog owes but no message carries (skipped after a
/// crash of a persisted topic: protocol.md §14.1).
fn skipped(topic: &str, first: u64, last: u64) -> crate::queue::GapMarker {
    crate::queue::GapMarker::range(
        spate_proto::GapReason::NotRetained,
        bytes::Bytes::copy_from_slice(topic.as_bytes()),
        first,
        last,
    )
}
