//! One connection's request-side state, handed to each command: the
//! broker, this connection's outbox and record, and the publishers'
//! flow-control state (block-policy waits, publish rate limit).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use spate_proto::{ErrorCode, Frame, Publish, PublishRef};

use super::outbox::Outbox;
use crate::broker::{Broker, BrokerError, ConnInfo, PublishScratch, Published};
use crate::queue::rate::TokenBucket;
use crate::queue::SubscriberQueue;

/// A request that breaks the protocol badly enough to close the connection.
#[derive(Debug)]
pub struct Fatal {
    /// Code for the ERROR frame.
    pub code: ErrorCode,
    /// Explanation.
    pub message: String,
}

/// Request-side state of one connection. Its fields are private: the
/// commands go through the methods below.
pub struct Session {
    /// Shared broker.
    broker: Arc<Broker>,
    /// Where replies go.
    outbox: Arc<Outbox>,
    /// This connection's record.
    conn: Arc<ConnInfo>,
    /// GOAWAY sent: new publishes and subscriptions are refused.
    draining: bool,
    /// `block` queues this connection's last publish overfilled.
    blocked: Vec<Arc<SubscriberQueue>>,
    /// Publishes gathered from one socket read, handed over together.
    pending_pubs: Vec<Publish>,
    /// Reused buffers of the publish path.
    scratch: PublishScratch,
    /// Reused per-message publish results.
    results: Vec<Result<Published, BrokerError>>,
    replies: BytesMut,
    pub_bucket: Option<TokenBucket>,
    /// Who the client is and what it may do (h-auth).
    auth: crate::auth::session::SessionAuth,
}

impl Session {
    /// State for a connection that has completed its handshake.
    pub fn new(broker: Arc<Broker>, outbox: Arc<Outbox>, conn: Arc<ConnInfo>) -> Session {
        let rate = broker.config.rate_limits.publish_per_connection;
        Session {
            pub_bucket: (rate > 0).then(|| TokenBucket::new(rate, Instant::now())),
            broker,
            outbox,
            conn,
            draining: false,
            blocked: Vec::new(),
            pending_pubs: Vec::new(),
            scratch: PublishScratch::default(),
            results: Vec::new(),
            replies: BytesMut::new(),
            auth: crate::auth::session::SessionAuth::unrestricted(),
        }
    }

    /// The session with `auth` as its authentication state.
    pub fn with_auth(mut self, auth: crate::auth::session::SessionAuth) -> Session {
        self.auth = auth;
        self
    }

    /// Who the client is and what it may do.
    pub fn auth(&self) -> &crate::auth::session::SessionAuth {
        &self.auth
    }

    /// Mutable authentication state (publish checks, reloads).
    pub fn auth_mut(&mut self) -> &mut crate::auth::session::SessionAuth {
        &mut self.auth
    }

    /// The shared broker.
    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Where this connection's replies and deliveries wait for the writer.
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// This connection's record (id, subscriptions, counters).
    pub fn conn(&self) -> &Arc<ConnInfo> {
        &self.conn
    }

    /// True once GOAWAY was sent: new publishes, subscriptions and state
    /// writes are refused.
    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// Marks the session as draining (GOAWAY sent).
    pub fn set_draining(&mut self) {
        self.draining = true;
    }

    /// The `block` queues a request overfilled, for the broker to add to;
    /// [`Self::wait_blocked`] then waits for them.
    pub fn blocked_mut(&mut self) -> &mut Vec<Arc<SubscriberQueue>> {
        &mut self.blocked
    }

    /// Gathers a publish for the next run (see `commands::flush`).
    pub fn push_pending(&mut self, p: Publish) {
        self.pending_pubs.push(p);
    }

    /// Gathers a PUBLISH_BATCH's entries for the next run.
    pub fn extend_pending(&mut self, ps: Vec<Publish>) {
        self.pending_pubs.extend(ps);
    }

    /// Takes the gathered publishes; give the (emptied) list back with
    /// [`Self::restore_pending`] so its allocation is reused.
    pub fn take_pending(&mut self) -> Vec<Publish> {
        std::mem::take(&mut self.pending_pubs)
    }

    /// Returns the list [`Self::take_pending`] took, emptied.
    pub fn restore_pending(&mut self, mut ps: Vec<Publish>) {
        ps.clear();
        self.pending_pubs = ps;
    }

    /// Hands a run of publishes to the broker (overfilled `block` queues
    /// are remembered for [`Self::wait_blocked`]); returns one result per
    /// publish in a reused list to give back with [`Self::recycle_results`].
    pub fn publish_many(&mut self, pubs: &[PublishRef<'_>]) -> Vec<Result<Published, BrokerError>> {
        let mut results = std::mem::take(&mut self.results);
        self.broker
            .publish_many(pubs, &mut results, &mut self.blocked, &mut self.scratch);
        results
    }

    /// Gives back the list [`Self::publish_many`] returned (drained).
    pub fn recycle_results(&mut self, mut results: Vec<Result<Published, BrokerError>>) {
        results.clear();
        self.results = results;
    }

    /// Sends a reply frame, after any queued ones (waits if the client is
    /// not reading its replies).
    pub async fn reply(&mut self, frame: Frame) {
        self.queue_reply(&frame);
        self.flush_replies().await;
    }

    /// Sends a non-fatal ERROR about request `reference`.
    pub async fn reject(&mut self, reference: u32, e: &BrokerError) {
        self.reply(Frame::error(e.code(), reference, e.to_string()))
            .await;
    }

    /// Encodes a reply into the pending buffer: the replies to one run of
    /// requests leave as one outbox entry.
    pub fn queue_reply(&mut self, frame: &Frame) {
        frame.encode(&mut self.replies);
    }

    /// Queues a non-fatal ERROR about request `reference`.
    pub fn queue_reject(&mut self, reference: u32, e: &BrokerError) {
        self.queue_reply(&Frame::error(e.code(), reference, e.to_string()));
    }

    /// Hands the pending replies to the writer.
    pub async fn flush_replies(&mut self) {
        if !self.replies.is_empty() {
            let b = self.replies.split().freeze();
            self.outbox.send(b).await;
        }
    }

    /// Publish rate limit: waits until this connection may publish `n` more
    /// messages. Over-limit publishers are slowed, never dropped.
    pub async fn pace(&mut self, n: u64) {
        let Some(b) = self.pub_bucket.as_mut() else {
            return;
        };
        let mut left = n;
        while left > 0 {
            let avail = b.available(Instant::now());
            if avail == 0 {
                let at = b.next_token_at();
                tokio::time::sleep_until(at.into()).await;
                continue;
            }
            let take = avail.min(left);
            b.take(take);
            left -= take;
        }
    }

    /// Records how long `n` acknowledged publishes (handled together) took.
    /// One bucket update for all `n`, into the broker's fixed-size
    /// histogram (nothing is kept per sample).
    pub fn record_acks(&self, since: Instant, n: usize) {
        let secs = since.elapsed().as_secs_f64();
        self.broker
            .counters
            .ack_latency
            .record(self.conn.id, secs, n as u64);
    }

    /// Counts published messages.
    pub fn count_in(&self, messages: u64, payload_bytes: usize) {
        self.conn.messages_in.fetch_add(messages, Relaxed);
        self.conn.bytes_in.fetch_add(payload_bytes as u64, Relaxed);
    }

    /// `block` policy: waits for every queue the last run of publishes
    /// overfilled. The block timeout is per wait: it runs from the moment
    /// this run's wait starts, for all its queues together (each with its
    /// own timeout), and every later run that overfills a queue starts a
    /// new one. A queue still over its limit when its timeout ends has its
    /// subscriber disconnected, so one stuck consumer cannot stall a topic
    /// forever.
    pub async fn wait_blocked(&mut self) {
        if self.blocked.is_empty() {
            return;
        }
        self.broker.counters.publisher_blocks.fetch_add(1, Relaxed);
        let start = tokio::time::Instant::now();
        for q in std::mem::take(&mut self.blocked) {
            let deadline = start + q.limits.block_timeout;
            let ok = tokio::select! {
                ok = q.wait_for_space(deadline) => ok,
                _ = self.outbox.killed() => return,
            };
            if !ok {
                crate::log_limited!(
                    warn, "slow.block", publisher_conn = self.conn.id, sub_id = q.sub_id, pattern = %q.pattern,
                    "block timeout: disconnecting the slow subscriber"
                );
                q.kill("queue stayed full past the block timeout");
            }
        }
    }
}
