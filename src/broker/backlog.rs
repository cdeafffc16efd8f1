//! What a new subscription to a literal topic receives before live
//! messages: nothing, retained history from a seq or the last N, or the
//! state snapshot — decided under the topic's lock so the switch to live is
//! atomic.

use bytes::Bytes;
use spate_proto::{GapReason, Start, StartStatus};

use super::TopicInner;
use crate::queue::{GapMarker, Msg};

/// The backlog of a new subscription.
#[derive(Debug)]
pub struct Backlog {
    /// Reported in SUBSCRIBED.
    pub status: StartStatus,
    /// Lost range announced first (requested seqs no longer retained).
    pub gap: Option<GapMarker>,
    /// Messages to deliver before live ones, in seq order.
    pub msgs: Vec<Msg>,
    /// The first seq this backlog owes the subscriber, when every seq from
    /// it to the topic's last must be accounted for: seqs missing in
    /// between (skipped after a crash, see `storage`) are announced by
    /// GAP `NOT_RETAINED` ([`holes`]). `None` for live and snapshot starts.
    pub owed_from: Option<u64>,
}

/// The ranges of seqs from `owed_from` to `last_seq` that no message of
/// `msgs` carries, each with the index of the message it precedes
/// (`msgs.len()` for a range at the end).
pub fn holes(b: &Backlog, last_seq: u64) -> Vec<(usize, u64, u64)> {
    let Some(mut next) = b.owed_from else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, m) in b.msgs.iter().enumerate() {
        if m.seq() > next {
            out.push((i, next, m.seq() - 1));
        }
        next = m.seq() + 1;
    }
    if next <= last_seq {
        out.push((b.msgs.len(), next, last_seq));
    }
    out
}

impl Backlog {
    /// Seq of the first backlog message, 0 if none.
    pub fn first_seq(&self) -> u64 {
        self.msgs.first().map_or(0, |m| m.seq())
    }
}

/// Plans the backlog for `start` on a topic whose epoch is `epoch`.
pub fn plan(inner: &TopicInner, topic: &str, epoch: u64, start: Start) -> Backlog {
    let live = Backlog {
        status: StartStatus::Live,
        gap: None,
        msgs: Vec::new(),
        owed_from: None,
    };
    match start {
        Start::New => live,
        Start::LastN(n) => {
            let msgs: Vec<Msg> = inner.history.last(n as usize).cloned().collect();
            if msgs.is_empty() {
                return live;
            }
            Backlog {
                status: StartStatus::Replay,
                gap: None,
                owed_from: msgs.first().map(Msg::seq),
                msgs,
            }
        }
        Start::Snapshot => Backlog {
            status: StartStatus::Snapshot,
            gap: None,
            msgs: inner.state.snapshot(),
            owed_from: None,
        },
        Start::FromSeq { epoch: e, .. } if e != 0 && e != epoch => {
            let msgs: Vec<Msg> = inner.history.since(0).cloned().collect();
            Backlog {
                status: StartStatus::EpochChanged,
                gap: None,
                owed_from: msgs.first().map(Msg::seq),
                msgs,
            }
        }
        Start::FromSeq { seq, .. } => {
            let seq = seq.max(1);
            if seq > inner.seq {
                return live;
            }
            let earliest = inner.history.earliest_seq().unwrap_or(inner.seq + 1);
            if seq >= earliest {
                return Backlog {
                    status: StartStatus::Replay,
                    gap: None,
                    msgs: inner.history.since(seq).cloned().collect(),
                    owed_from: Some(seq),
                };
            }
            let gap = GapMarker::range(
                GapReason::NotRetained,
                Bytes::copy_from_slice(topic.as_bytes()),
                seq,
                earliest - 1,
            );
            Backlog {
                status: StartStatus::Truncated,
                gap: Some(gap),
                msgs: inner.history.since(earliest).cloned().collect(),
                owed_from: Some(earliest),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backlog(owed_from: Option<u64>, seqs: &[u64]) -> Backlog {
        Backlog {
            status: StartStatus::Replay,
            gap: None,
            msgs: seqs
                .iter()
                .map(|&s| Msg::new(Bytes::from_static(b"x"), s, 0))
                .collect(),
            owed_from,
        }
    }

    #[test]
    fn holes_are_the_owed_seqs_no_message_carries() {
        // Contiguous up to the last seq: nothing to announce.
        assert!(holes(&backlog(Some(3), &[3, 4, 5]), 5).is_empty());
        // Skipped after a crash: 6..=99 between messages, 101..=200 at the end.
        assert_eq!(
            holes(&backlog(Some(4), &[4, 5, 100]), 200),
            vec![(2, 6, 99), (3, 101, 200)]
        );
        // Asked from inside a hole, nothing retained after it.
        assert_eq!(holes(&backlog(Some(7), &[]), 50), vec![(0, 7, 50)]);
        // Live and snapshot starts owe nothing.
        assert!(holes(&backlog(None, &[1, 9]), 20).is_empty());
    }
}
