//! Gap markers: the record of lost messages that sits in a queue where the
//! messages were, and becomes a GAP frame when the writer reaches it.

use bytes::Bytes;
use spate_proto::{Frame, Gap, GapReason, Text};

use super::item::Msg;

/// `count` lost messages. `topic` is `None` once the marker spans several
/// topics; then the seq range is unknown and reported as 0..0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GapMarker {
    /// Why they were lost.
    pub reason: GapReason,
    /// Exactly how many.
    pub count: u64,
    /// Lowest lost seq.
    pub first: u64,
    /// Highest lost seq.
    pub last: u64,
    /// Their topic, while they all share one.
    pub topic: Option<Bytes>,
}

impl GapMarker {
    /// A marker for the single message `m`.
    pub fn of(m: &Msg, reason: GapReason) -> GapMarker {
        GapMarker {
            reason,
            count: 1,
            first: m.seq(),
            last: m.seq(),
            topic: Some(m.topic()),
        }
    }

    /// A marker for a known range of one topic (replay truncation).
    pub fn range(reason: GapReason, topic: Bytes, first: u64, last: u64) -> GapMarker {
        GapMarker {
            reason,
            count: last - first + 1,
            first,
            last,
            topic: Some(topic),
        }
    }

    /// Folds `other` (adjacent in the stream, same reason) into `self`.
    pub fn merge(&mut self, other: &GapMarker) {
        self.count += other.count;
        match (&self.topic, &other.topic) {
            (Some(a), Some(b)) if a == b => {
                self.first = self.first.min(other.first);
                self.last = self.last.max(other.last);
            }
            _ => {
                self.topic = None;
                self.first = 0;
                self.last = 0;
            }
        }
    }

    /// The GAP frame for subscription `sub_id`.
    pub fn to_frame(&self, sub_id: u32) -> Frame {
        let topic = match &self.topic {
            Some(t) => Text::from_utf8(t.clone()).unwrap_or_default(),
            None => Text::default(),
        };
        let (first_seq, last_seq) = if self.topic.is_some() {
            (self.first, self.last)
        } else {
            (0, 0)
        };
        Frame::Gap(Gap {
            sub_id,
            reason: self.reason,
            count: self.count,
            first_seq,
            last_seq,
            topic,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(topic: &'static str, first: u64, last: u64) -> GapMarker {
        GapMarker::range(
            GapReason::DroppedOldest,
            Bytes::from_static(topic.as_bytes()),
            first,
            last,
        )
    }

    #[test]
    fn same_topic_merges_range_and_count() {
        let mut a = marker("a", 3, 5);
        a.merge(&marker("a", 9, 9));
        assert_eq!((a.count, a.first, a.last), (4, 3, 9));
        assert!(a.topic.is_some());
    }

    #[test]
    fn different_topics_lose_the_range_but_keep_the_count() {
        let mut a = marker("a", 3, 5);
        a.merge(&marker("b", 1, 1));
        assert_eq!(a.count, 4);
        assert_eq!(a.topic, None);
        match a.to_frame(7) {
            Frame::Gap(g) => assert_eq!((g.first_seq, g.last_seq, g.topic.as_str()), (0, 0, "")),
            f => panic!("{f:?}"),
        }
    }
}
