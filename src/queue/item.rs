//! What a subscriber queue holds.

use bytes::Bytes;

use super::gap::GapMarker;

/// One queued message: the shared body (encoded once per publish, the same
/// bytes for every subscriber) plus what the queue needs to know about it
/// without decoding.
#[derive(Debug, Clone)]
pub struct Msg {
    /// The MESSAGE body shared by all subscribers.
    pub body: Bytes,
    /// Per-topic sequence number.
    pub seq: u64,
    /// Hash of topic and key: messages with equal `ckey` conflate.
    pub ckey: u64,
}

impl Msg {
    /// Bytes this message costs the queue: the body plus its 9-byte MESSAGE
    /// header, i.e. what it will take on the wire.
    pub fn cost(&self) -> usize {
        self.body.len() + 9
    }

    /// The topic name inside the body (a slice of it, no copy).
    pub fn topic(&self) -> Bytes {
        let b = &self.body;
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
    /// (SUBSCRIBED goes first this way).
    Frame(Bytes),
    /// A removed entry, skipped when drained and dropped on compaction.
    Hole,
}

#[cfg(test)]
mod tests {
    #[test]
    fn items_stay_small() {
        assert!(std::mem::size_of::<super::Item>() <= 56);
    }
}
