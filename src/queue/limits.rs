//! A subscription's effective limits: what the client asked for in
//! SUBSCRIBE, clamped to the server's maxima, with server defaults filling
//! what it left out.

use std::time::Duration;

use spate_proto::{Policy, SubscribeOptions};

use crate::config::settings::{Queues, RateLimits};

/// Protocol ceiling on messages per MESSAGE_BATCH frame, whatever the
/// configuration says (protocol.md: MAX_BATCH).
pub const MAX_BATCH: u16 = 1024;

/// Limits and options in force for one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueLimits {
    /// Overflow policy.
    pub policy: Policy,
    /// Most live messages queued.
    pub max_msgs: usize,
    /// Most bytes queued (wire size of the queued frames).
    pub max_bytes: usize,
    /// Delivery rate limit, messages per second (0 = none).
    pub max_rate: u32,
    /// Most messages per MESSAGE_BATCH frame (1 = plain MESSAGE frames).
    pub max_batch: usize,
    /// How long to wait for a batch to fill.
    pub linger: Duration,
    /// `disconnect`: how long the queue may stay full.
    pub disconnect_grace: Duration,
    /// `block`: how long a publisher waits before the subscriber is cut.
    pub block_timeout: Duration,
    /// Bytes this queue may hold even when the memory budget is exhausted.
    pub guaranteed_bytes: usize,
}

/// Why SUBSCRIBE options were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// A limit of zero would make the subscription useless.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
}

impl QueueLimits {
    /// Resolves the client's options against the server's settings.
    pub fn resolve(
        o: &SubscribeOptions,
        q: &Queues,
        r: &RateLimits,
    ) -> Result<QueueLimits, LimitError> {
        if o.queue_msgs == Some(0) {
            return Err(LimitError::Zero("queue_msgs"));
        }
        if o.queue_bytes == Some(0) {
            return Err(LimitError::Zero("queue_bytes"));
        }
        if o.max_batch == Some(0) {
            return Err(LimitError::Zero("max_batch"));
        }
        let mut max_rate = o.max_rate.unwrap_or(0);
        if r.max_subscriber_rate > 0 && (max_rate == 0 || max_rate > r.max_subscriber_rate) {
            max_rate = r.max_subscriber_rate;
        }
        Ok(QueueLimits {
            policy: o.policy.unwrap_or(q.default_policy),
            max_msgs: o.queue_msgs.unwrap_or(q.default_msgs).min(q.max_msgs) as usize,
            max_bytes: o.queue_bytes.unwrap_or(q.default_bytes).min(q.max_bytes) as usize,
            max_rate,
            max_batch: usize::from(
                o.max_batch
                    .unwrap_or(1)
                    .min(q.max_batch.clamp(1, MAX_BATCH)),
            ),
            linger: Duration::from_micros(u64::from(o.linger_us.unwrap_or(0).min(q.max_linger_us))),
            disconnect_grace: Duration::from_millis(q.disconnect_grace_ms),
            block_timeout: Duration::from_millis(q.block_timeout_ms),
            guaranteed_bytes: q.guaranteed_bytes as usize,
        })
    }

    /// Limits for tests and benchmarks: `policy` with `msgs` and a large
    /// byte limit.
    pub fn simple(policy: Policy, msgs: usize) -> QueueLimits {
        QueueLimits {
            policy,
            max_msgs: msgs,
            max_bytes: usize::MAX / 2,
            max_rate: 0,
            max_batch: 1,
            linger: Duration::ZERO,
            disconnect_grace: Duration::from_secs(5),
            block_timeout: Duration::from_secs(10),
            guaranteed_bytes: 64 * 1024,
        }
    }
}
