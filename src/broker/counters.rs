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

    /// Folds an ended subscription's loss counters in.
    pub fn fold_lost(&self, reason: GapReason, n: u64) {
        self.closed_lost[reason as usize - 1].fetch_add(n, Ordering::Relaxed);
    }
}
