//! What a persisted topic carries (in its `TopicInner`, under its mutex):
//! the log handle, what to persist, and the seq reservation.

use std::sync::Arc;

use bytes::Bytes;

use super::log::{Item, Log};

/// Seqs reserved per RESERVE record. A new block is reserved when half of
/// the current one is used, so the reservation normally reaches disk long
/// before its seqs are handed out.
pub const RESERVE_BLOCK: u64 = 1 << 20;

/// A persisted topic's link to the log.
#[derive(Debug)]
pub struct TopicLog {
    log: Arc<Log>,
    state: bool,
    history: bool,
    reserved: u64,
}

impl TopicLog {
    /// Link for a topic whose seqs up to `reserved` are already reserved.
    pub fn new(log: Arc<Log>, state: bool, history: bool, reserved: u64) -> TopicLog {
        TopicLog {
            log,
            state,
            history,
            reserved,
        }
    }

    /// Called with each new seq before it is handed out: logs a new
    /// reservation when the current one runs low.
    pub fn on_seq(&mut self, topic: &Arc<str>, seq: u64) {
        if seq + RESERVE_BLOCK / 2 > self.reserved {
            self.reserved = seq + RESERVE_BLOCK;
            self.log.append(Item::Reserve(topic.clone(), self.reserved));
        }
    }

    /// Logs the message `body` if this topic persists it.
    pub fn on_message(&self, body: &Bytes, is_state: bool) {
        if self.history || (self.state && is_state) {
            self.log.append(Item::Message(body.clone()));
        }
    }

    /// Persists state / history?
    pub fn persists(&self) -> (bool, bool) {
        (self.state, self.history)
    }

    /// Highest reserved seq.
    pub fn reserved(&self) -> u64 {
        self.reserved
    }

    /// Clean shutdown: the exact last seq becomes the reservation, so the
    /// next run continues without a gap.
    pub fn on_close(&mut self, topic: &Arc<str>, seq: u64) {
        self.reserved = seq;
        self.log.append(Item::Reserve(topic.clone(), seq));
    }
}
