//! Per-subscription counters, kept with relaxed atomics so the stats
//! endpoint can read them while the queue is in use.

use std::sync::atomic::{AtomicU64, Ordering};

use spate_proto::GapReason;

/// Number of [`GapReason`] values (they are numbered 1..=5 on the wire).
pub const GAP_REASONS: usize = 5;

/// What happened to one subscription's messages.
#[derive(Debug, Default)]
pub struct SubCounters {
    /// Messages written to the subscriber's socket buffer.
    pub delivered: AtomicU64,
    /// Messages lost, indexed by `GapReason as usize - 1`.
    pub lost: [AtomicU64; GAP_REASONS],
    /// GAP notices written.
    pub gap_notices: AtomicU64,
}

impl SubCounters {
    /// Counts `n` messages lost for `reason`.
    pub fn add_lost(&self, reason: GapReason, n: u64) {
        self.lost[reason as usize - 1].fetch_add(n, Ordering::Relaxed);
    }

    /// Messages lost for `reason` so far.
    pub fn lost(&self, reason: GapReason) -> u64 {
        self.lost[reason as usize - 1].load(Ordering::Relaxed)
    }
}

/// Every gap reason, in wire order.
pub const ALL_GAP_REASONS: [GapReason; GAP_REASONS] = [
    GapReason::DroppedOldest,
    GapReason::DroppedNewest,
    GapReason::Conflated,
    GapReason::MemoryBudget,
    GapReason::NotRetained,
];
