//! Server-wide counters. Hot-path figures (messages in and out) are
//! counted per connection and folded in here when a connection closes, so
//! publishers on different cores do not contend on one cache line.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::queue::counters::GAP_REASONS;
use spate_proto::GapReason;

/// Why a connection ended, for the disconnect counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The client closed it.
    Client,
    /// A subscription overflowed its disconnect/block policy.
    SlowConsumer,
    /// The client broke the protocol.
    ProtocolError,
    /// The client stopped answering PINGs or never sent HELLO.
    Timeout,
    /// The server shut down.
    Shutdown,
    /// The socket failed.
    IoError,
}

impl DisconnectReason {
    /// All reasons, for reporting.
    pub const ALL: [DisconnectReason; 6] = [
        DisconnectReason::Client,
        DisconnectReason::SlowConsumer,
        DisconnectReason::ProtocolError,
        DisconnectReason::Timeout,
        DisconnectReason::Shutdown,
        DisconnectReason::IoError,
    ];

    /// Stable name for metrics labels and stats.
    pub fn name(self) -> &'static str {
        match self {
            DisconnectReason::Client => "client",
            DisconnectReason::SlowConsumer => "slow_consumer",
            DisconnectReason::ProtocolError => "protocol_error",
            DisconnectReason::Timeout => "timeout",
            DisconnectReason::Shutdown => "shutdown",
            DisconnectReason::IoError => "io_error",
        }
    }
}

/// Server-wide totals.
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages published by connections that have closed.
    pub closed_messages_in: AtomicU64,
    /// Payload bytes published by connections that have closed.
    pub closed_bytes_in: AtomicU64,
    /// Messages written by connections that have closed.
    pub closed_messages_out: AtomicU64,
    /// Bytes written by connections that have closed.
    pub closed_bytes_out: AtomicU64,
    /// Messages lost by reason, by subscriptions that have ended.
    pub closed_lost: [AtomicU64; GAP_REASONS],
    /// GAP notices sent by subscriptions that have ended.
    pub closed_gap_notices: AtomicU64,
    /// Connections closed, by [`DisconnectReason`] index.
    pub disconnects: [AtomicU64; 6],
    /// Publishes that waited on a `block` queue.
    pub publisher_blocks: AtomicU64,
    /// Connections accepted since start.
    pub connections_accepted: AtomicU64,
    /// Bytes retained in all topic histories, kept as histories change
    /// (under each topic's lock) so `/metrics` need not lock every topic.
    pub history_bytes: AtomicU64,
    /// Publish-ack latency, in fixed buckets.
    pub ack_latency: AckLatency,
}

impl Counters {
    /// Counts a closed connection.
    pub fn disconnected(&self, why: DisconnectReason) {
        let i = DisconnectReason::ALL
            .iter()
            .position(|r| *r == why)
            .unwrap_or(0);
        self.disconnects[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Records that a history went from `before` to `after` bytes.
    pub fn history_changed(&self, before: usize, after: usize) {
        if after > before {
            self.history_bytes
                .fetch_add((after - before) as u64, Ordering::Relaxed);
        } else if before > after {
            self.history_bytes
                .fetch_sub((before - after) as u64, Ordering::Relaxed);
        }
    }

    /// Folds an ended subscription's loss counters in.
    pub fn fold_lost(&self, reason: GapReason, n: u64) {
        self.closed_lost[reason as usize - 1].fetch_add(n, Ordering::Relaxed);
    }
}

/// Upper bounds of the [`AckLatency`] buckets, seconds: 25 µs to 1 s.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 1.0,
];

/// Stripes of [`AckLatency`]: publishers on different cores usually update
/// different cache lines.
const STRIPES: usize = 8;

/// A latency histogram of fixed size: one counter per bucket plus count and
/// sum. Recording costs three relaxed atomic adds per call, whatever the
/// rate, and memory never grows (unlike a recorder that keeps each sample
/// until it is folded).
#[derive(Debug, Default)]
pub struct AckLatency {
    stripes: [Stripe; STRIPES],
}

#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe {
    /// Samples per bucket; the last slot counts samples above every bound.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

/// What an [`AckLatency`] holds, read at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyFigures {
    /// Cumulative counts: `cumulative[i]` samples were at most
    /// `LATENCY_BUCKETS[i]`.
    pub cumulative: [u64; LATENCY_BUCKETS.len()],
    /// Samples recorded.
    pub count: u64,
    /// Sum of the samples, seconds.
    pub sum_secs: f64,
}

impl AckLatency {
    /// Records `n` samples of `secs` seconds; `stripe` spreads concurrent
    /// recorders (a connection id is a good choice).
    pub fn record(&self, stripe: u64, secs: f64, n: u64) {
        if n == 0 {
            return;
        }
        let s = &self.stripes[(stripe as usize) % STRIPES];
        let i = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        let r = Ordering::Relaxed;
        s.buckets[i].fetch_add(n, r);
        s.count.fetch_add(n, r);
        let ns = (secs.max(0.0) * 1e9) as u64;
        s.sum_ns.fetch_add(ns.saturating_mul(n), r);
    }

    /// The figures so far, summed over the stripes.
    pub fn figures(&self) -> LatencyFigures {
        let r = Ordering::Relaxed;
        let mut f = LatencyFigures::default();
        let mut per_bucket = [0u64; LATENCY_BUCKETS.len() + 1];
        let mut sum_ns = 0u64;
        for s in &self.stripes {
            for (acc, b) in per_bucket.iter_mut().zip(&s.buckets) {
                *acc += b.load(r);
            }
            sum_ns = sum_ns.wrapping_add(s.sum_ns.load(r));
        }
        let mut run = 0;
        for (i, c) in f.cumulative.iter_mut().enumerate() {
            run += per_bucket[i];
            *c = run;
        }
        // The count is derived from the buckets, so that it always equals
        // the `+Inf` bucket even while samples are being recorded.
        f.count = run + per_bucket[LATENCY_BUCKETS.len()];
        f.sum_secs = sum_ns as f64 / 1e9;
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_buckets_are_cumulative_and_bounded_in_size() {
        let h = AckLatency::default();
        h.record(1, 0.000_01, 3); // first bucket
        h.record(2, 0.000_3, 2); // le 0.0005
        h.record(3, 5.0, 1); // above every bound
        h.record(4, 0.1, 0); // nothing
        let f = h.figures();
        assert_eq!(f.count, 6);
        assert_eq!(f.cumulative[0], 3);
        assert_eq!(f.cumulative[3], 3, "le 0.00025");
        assert_eq!(f.cumulative[4], 5, "le 0.0005");
        assert_eq!(f.cumulative[LATENCY_BUCKETS.len() - 1], 5, "le 1");
        assert!((f.sum_secs - (0.000_03 + 0.000_6 + 5.0)).abs() < 1e-6);
        // Fixed size, whatever was recorded.
        assert!(std::mem::size_of::<AckLatency>() <= STRIPES * 256);
    }
}
