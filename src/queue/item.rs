//! What a subscriber queue holds.

use std::sync::Arc;

use bytes::Bytes;

use super::gap::GapMarker;

/// One published message as queues and history hold it: a handle to the
/// shared body (encoded once per publish, the same bytes for every
/// subscriber) plus what a queue needs to know without decoding.
///
/// The handle is one pointer: cloning it for another queue is one refcount
/// increment, and a queue's ring packs four entries per cache line. A
/// queue's ring is private to its subscriber, so at high fan-out every
/// delivery writes one ring slot (the publisher) and reads it back (the
/// writer, usually on the other core); small entries keep that traffic low.
#[derive(Debug, Clone)]
pub struct Msg(Arc<MsgData>);

#[derive(Debug)]
struct MsgData {
    body: Bytes,
    seq: u64,
    ckey: u64,
}

impl Msg {
    /// A message with its encoded `body`, its per-topic `seq`, and `ckey`,
    /// the hash of topic and key (messages with equal `ckey` conflate).
    pub fn new(body: Bytes, seq: u64, ckey: u64) -> Msg {
        Msg(Arc::new(MsgData { body, seq, ckey }))
    }

    /// The MESSAGE body shared by all subscribers.
    pub fn body(&self) -> &Bytes {
        &self.0.body
    }

    /// Per-topic sequence number.
    pub fn seq(&self) -> u64 {
        self.0.seq
    }

    /// Hash of topic and key: messages with equal `ckey` conflate.
    pub fn ckey(&self) -> u64 {
        self.0.ckey
    }

    /// Bytes this message costs the queue: the body plus its 9-byte MESSAGE
    /// header, i.e. what it will take on the wire.
    pub fn cost(&self) -> usize {
        self.0.body.len() + 9
    }

    /// The topic name inside the body (a slice of it, no copy).
    pub fn topic(&self) -> Bytes {
        let b = &self.0.body;
        let at = spate_proto::message::BODY_TOPIC_OFFSET;
        match b.get(at..at + 2) {
            Some(l) => {
                let len = u16::from_be_bytes([l[0], l[1]]) as usize;
                b.slice(at + 2..(at + 2 + len).min(b.len()))
            }
            None => Bytes::new(),
        }
    }
}

/// An entry of a subscriber queue.
#[derive(Debug)]
pub enum Item {
    /// A message to deliver.
    Msg(Msg),
    /// Messages lost at this place in the stream (boxed: gaps are rare,
    /// and a small `Item` keeps the queue's ring compact).
    Gap(Box<GapMarker>),
    /// A pre-encoded frame that must stay in order with the deliveries
    /// (SUBSCRIBED goes first this way; boxed, like gaps, to keep `Item`
    /// two words).
    Frame(Box<Bytes>),
    /// A removed entry, skipped when drained and dropped on compaction.
    Hole,
}

#[cfg(test)]
mod tests {
    #[test]
    fn items_stay_small() {
        assert!(std::mem::size_of::<super::Item>() <= 16);
    }
}
