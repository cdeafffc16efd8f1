//! What the broker knows of each open connection, for stats: who it is and
//! its subscriptions. Per-connection traffic counters live here so the hot
//! path bumps an uncontended cache line.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::Counters;
use crate::queue::SubscriberQueue;

/// One open connection.
#[derive(Debug)]
pub struct ConnInfo {
    /// Server-assigned id.
    pub id: u64,
    /// Peer address.
    pub peer: SocketAddr,
    /// Client name from HELLO.
    pub client_name: String,
    /// When it connected.
    pub connected_at: Instant,
    /// Its subscriptions by sub id.
    pub subs: Mutex<HashMap<u32, Arc<SubscriberQueue>>>,
    /// Messages it published.
    pub messages_in: AtomicU64,
    /// Payload bytes it published.
    pub bytes_in: AtomicU64,
    /// Messages written to it.
    pub messages_out: AtomicU64,
    /// Bytes written to it.
    pub bytes_out: AtomicU64,
}

impl ConnInfo {
    /// A new connection record.
    pub fn new(id: u64, peer: SocketAddr, client_name: String) -> ConnInfo {
        ConnInfo {
            id,
            peer,
            client_name,
            connected_at: Instant::now(),
            subs: Mutex::new(HashMap::new()),
            messages_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            messages_out: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        }
    }

    /// Adds this connection's traffic to the closed-connection totals.
    pub fn fold_into(&self, c: &Counters) {
        let r = Ordering::Relaxed;
        c.closed_messages_in.fetch_add(self.messages_in.load(r), r);
        c.closed_bytes_in.fetch_add(self.bytes_in.load(r), r);
        c.closed_messages_out
            .fetch_add(self.messages_out.load(r), r);
        c.closed_bytes_out.fetch_add(self.bytes_out.load(r), r);
    }
}
