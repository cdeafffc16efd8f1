//! Where each subscription stands in its topic's history, so that after a
//! reconnect it can ask for exactly what it has not yet delivered.
//!
//! A literal-topic subscription tracks `(epoch, next_seq)`: every seq below
//! `next_seq` has been delivered to the application or reported lost by a
//! GAP. On resume it asks for `FromSeq{next_seq, epoch}` and drops any
//! message below `next_seq` as a safety net against duplicates. A wildcard
//! subscription spans many topics and can only resume live, with a notice.
//! Snapshot messages come in key order, not seq order, so they are neither
//! deduplicated nor used as a position; the first live change ends the
//! snapshot phase.

use spate_proto::{Gap, GapReason, Message, Start, StartStatus, Subscribed, Text};

use crate::event::{Event, Notice};

/// True if `pattern` holds a wildcard token (`*` or `>`).
pub(crate) fn is_wildcard(pattern: &str) -> bool {
    pattern.split('.').any(|t| t == "*" || t == ">")
}

/// One subscription's position.
#[derive(Debug, Clone)]
pub(crate) struct Tracker {
    sub_id: u32,
    pattern: Text,
    literal: bool,
    /// The start the application asked for, used until the first SUBSCRIBED.
    initial: Start,
    /// Set once a SUBSCRIBED arrived: resubscribes resume from the position.
    established: bool,
    epoch: u64,
    next_seq: u64,
    /// `Some(last_seq)` while snapshot messages (seq ≤ last_seq) arrive.
    snapshot_until: Option<u64>,
    /// Granted policy `conflate`: with a rate limit the server delivers
    /// keys in turn, so a lower seq after a higher one is a key's latest
    /// value, not a duplicate (protocol.md §10.4).
    conflate: bool,
}

impl Tracker {
    /// A tracker for a new subscription.
    pub(crate) fn new(sub_id: u32, pattern: Text, start: Start) -> Tracker {
        Tracker {
            sub_id,
            literal: !is_wildcard(&pattern),
            pattern,
            initial: start,
            established: false,
            epoch: 0,
            next_seq: 0,
            snapshot_until: None,
            conflate: false,
        }
    }

    /// Where to start the next SUBSCRIBE of this subscription.
    pub(crate) fn start(&self) -> Start {
        if !self.established {
            self.initial
        } else if !self.literal {
            Start::New
        } else if self.snapshot_until.is_some() {
            Start::Snapshot
        } else {
            Start::FromSeq {
                seq: self.next_seq,
                epoch: self.epoch,
            }
        }
    }

    /// Takes in a SUBSCRIBED answering a SUBSCRIBE that asked for
    /// `requested`; returns the events to deliver before any message.
    pub(crate) fn on_subscribed(&mut self, s: &Subscribed, requested: Start) -> Vec<Event> {
        let resuming = self.established;
        let old_epoch = match requested {
            Start::FromSeq { epoch, .. } => epoch,
            _ => self.epoch,
        };
        self.established = true;
        self.conflate = s.policy == spate_proto::Policy::Conflate;
        self.epoch = s.epoch;
        self.snapshot_until = None;
        let backlog_start = if s.first_seq > 0 {
            s.first_seq
        } else {
            s.last_seq + 1
        };
        let mut out = Vec::new();
        match s.start {
            StartStatus::Snapshot => {
                self.snapshot_until = Some(s.last_seq);
                self.next_seq = s.last_seq + 1;
                if resuming {
                    out.push(Event::Notice(Notice::SnapshotRestarted));
                }
            }
            StartStatus::Replay => {
                self.next_seq = backlog_start;
                if resuming {
                    out.push(Event::Notice(Notice::Resumed {
                        from_seq: backlog_start,
                        epoch: s.epoch,
                    }));
                }
            }
            StartStatus::Truncated => {
                self.next_seq = backlog_start;
                let requested_seq = match requested {
                    Start::FromSeq { seq, .. } => seq,
                    _ => backlog_start,
                };
                out.push(Event::Notice(Notice::Truncated {
                    requested_seq,
                    first_seq: backlog_start,
                }));
            }
            StartStatus::EpochChanged => {
                self.next_seq = backlog_start;
                out.push(Event::Notice(Notice::EpochChanged {
                    old_epoch,
                    new_epoch: s.epoch,
                }));
            }
            StartStatus::Live => {
                self.next_seq = s.last_seq + 1;
                if resuming {
                    out.extend(self.live_resume(s, requested, old_epoch));
                }
            }
        }
        out
    }

    /// The server resumed live although history was asked for: work out
    /// what was missed.
    fn live_resume(&self, s: &Subscribed, requested: Start, old_epoch: u64) -> Vec<Event> {
        if !self.literal {
            return vec![Event::Notice(Notice::ResumedLive)];
        }
        let Start::FromSeq { seq, .. } = requested else {
            return vec![Event::Notice(Notice::ResumedLive)];
        };
        if old_epoch != 0 && old_epoch != s.epoch {
            return vec![Event::Notice(Notice::EpochChanged {
                old_epoch,
                new_epoch: s.epoch,
            })];
        }
        if s.last_seq < seq {
            return vec![Event::Notice(Notice::Resumed {
                from_seq: seq,
                epoch: s.epoch,
            })];
        }
        vec![
            Event::Notice(Notice::Truncated {
                requested_seq: seq,
                first_seq: s.last_seq + 1,
            }),
            Event::Gap(Gap {
                sub_id: self.sub_id,
                reason: GapReason::NotRetained,
                count: s.last_seq - seq + 1,
                first_seq: seq,
                last_seq: s.last_seq,
                topic: self.pattern.clone(),
            }),
        ]
    }

    /// Decides whether `m` is delivered (false: a duplicate of something
    /// already delivered) and advances the position.
    pub(crate) fn admit(&mut self, m: &Message) -> bool {
        if !self.literal {
            return true;
        }
        if let Some(until) = self.snapshot_until {
            if m.seq <= until {
                return true;
            }
            self.snapshot_until = None;
        }
        if m.epoch != self.epoch {
            self.epoch = m.epoch;
        } else if m.seq < self.next_seq {
            return self.conflate;
        }
        self.next_seq = m.seq + 1;
        true
    }

    /// Advances the position past messages a GAP reports lost, so a resume
    /// does not replay what was already counted as lost.
    pub(crate) fn on_gap(&mut self, g: &Gap) {
        if self.literal
            && self.snapshot_until.is_none()
            && !g.topic.is_empty()
            && g.last_seq >= self.next_seq
        {
            self.next_seq = g.last_seq + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spate_proto::Policy;

    fn subscribed(start: StartStatus, epoch: u64, first_seq: u64, last_seq: u64) -> Subscribed {
        Subscribed {
            sub_id: 1,
            policy: Policy::DropOldest,
            queue_msgs: 100,
            queue_bytes: 1 << 20,
            start,
            epoch,
            first_seq,
            last_seq,
        }
    }

    fn msg(epoch: u64, seq: u64) -> Message {
        Message {
            epoch,
            seq,
            topic: Text::from("t"),
            ..Message::default()
        }
    }

    fn live_tracker(epoch: u64, last_seq: u64) -> Tracker {
        let mut t = Tracker::new(1, Text::from("t"), Start::New);
        let ev = t.on_subscribed(
            &subscribed(StartStatus::Live, epoch, 0, last_seq),
            Start::New,
        );
        assert!(ev.is_empty());
        t
    }

    #[test]
    fn wildcard_detection() {
        assert!(is_wildcard("a.*"));
        assert!(is_wildcard("a.>"));
        assert!(is_wildcard(">"));
        assert!(!is_wildcard("a.b"));
        assert!(!is_wildcard("a*b.c"));
    }

    #[test]
    fn live_then_resume_from_next_seq_and_drop_duplicates() {
        let mut t = live_tracker(7, 10);
        assert_eq!(t.start(), Start::FromSeq { seq: 11, epoch: 7 });
        assert!(t.admit(&msg(7, 11)));
        assert!(t.admit(&msg(7, 12)));
        let requested = t.start();
        assert_eq!(requested, Start::FromSeq { seq: 13, epoch: 7 });
        let ev = t.on_subscribed(&subscribed(StartStatus::Replay, 7, 13, 20), requested);
        assert_eq!(
            ev,
            vec![Event::Notice(Notice::Resumed {
                from_seq: 13,
                epoch: 7
            })]
        );
        assert!(!t.admit(&msg(7, 12)), "duplicate must be dropped");
        assert!(t.admit(&msg(7, 13)));
    }

    #[test]
    fn conflate_keys_out_of_seq_order_are_not_duplicates() {
        let mut t = Tracker::new(1, Text::from("t"), Start::New);
        let mut s = subscribed(StartStatus::Live, 7, 0, 10);
        s.policy = Policy::Conflate;
        t.on_subscribed(&s, Start::New);
        assert!(t.admit(&msg(7, 14)));
        assert!(t.admit(&msg(7, 12)), "another key's latest value");
        assert_eq!(t.start(), Start::FromSeq { seq: 15, epoch: 7 });
    }

    #[test]
    fn truncated_resume_notices() {
        let mut t = live_tracker(7, 10);
        let requested = t.start();
        let ev = t.on_subscribed(&subscribed(StartStatus::Truncated, 7, 50, 60), requested);
        assert_eq!(
            ev,
            vec![Event::Notice(Notice::Truncated {
                requested_seq: 11,
                first_seq: 50
            })]
        );
        assert_eq!(t.start(), Start::FromSeq { seq: 50, epoch: 7 });
    }

    #[test]
    fn epoch_change_notices_and_resets_position() {
        let mut t = live_tracker(7, 10);
        let requested = t.start();
        let ev = t.on_subscribed(&subscribed(StartStatus::EpochChanged, 9, 1, 3), requested);
        assert_eq!(
            ev,
            vec![Event::Notice(Notice::EpochChanged {
                old_epoch: 7,
                new_epoch: 9
            })]
        );
        assert!(t.admit(&msg(9, 1)));
        assert_eq!(t.start(), Start::FromSeq { seq: 2, epoch: 9 });
    }

    #[test]
    fn live_answer_to_a_resume_synthesizes_the_gap() {
        let mut t = live_tracker(7, 10);
        let requested = t.start();
        let ev = t.on_subscribed(&subscribed(StartStatus::Live, 7, 0, 15), requested);
        assert_eq!(ev.len(), 2);
        match &ev[1] {
            Event::Gap(g) => {
                assert_eq!((g.count, g.first_seq, g.last_seq), (5, 11, 15));
                assert_eq!(g.reason, GapReason::NotRetained);
            }
            other => panic!("expected a gap, got {other:?}"),
        }
    }

    #[test]
    fn wildcard_resumes_live_with_notice() {
        let mut t = Tracker::new(1, Text::from("a.>"), Start::New);
        t.on_subscribed(&subscribed(StartStatus::Live, 0, 0, 0), Start::New);
        assert!(t.admit(&msg(3, 5)));
        assert!(t.admit(&msg(4, 1)), "wildcards never deduplicate");
        assert_eq!(t.start(), Start::New);
        let ev = t.on_subscribed(&subscribed(StartStatus::Live, 0, 0, 0), Start::New);
        assert_eq!(ev, vec![Event::Notice(Notice::ResumedLive)]);
    }

    #[test]
    fn snapshot_phase_neither_deduplicates_nor_resumes_from_seq() {
        let mut t = Tracker::new(1, Text::from("t"), Start::Snapshot);
        assert_eq!(t.start(), Start::Snapshot);
        t.on_subscribed(
            &subscribed(StartStatus::Snapshot, 7, 3, 10),
            Start::Snapshot,
        );
        assert!(t.admit(&msg(7, 9)));
        assert!(t.admit(&msg(7, 4)), "snapshot entries come in key order");
        assert_eq!(t.start(), Start::Snapshot);
        assert!(t.admit(&msg(7, 11)));
        assert_eq!(t.start(), Start::FromSeq { seq: 12, epoch: 7 });
        assert!(!t.admit(&msg(7, 11)));
    }

    #[test]
    fn gaps_advance_the_position() {
        let mut t = live_tracker(7, 10);
        t.on_gap(&Gap {
            sub_id: 1,
            reason: GapReason::DroppedOldest,
            count: 5,
            first_seq: 11,
            last_seq: 15,
            topic: Text::from("t"),
        });
        assert_eq!(t.start(), Start::FromSeq { seq: 16, epoch: 7 });
    }

    #[test]
    fn before_the_first_subscribed_the_requested_start_is_kept() {
        let t = Tracker::new(1, Text::from("t"), Start::LastN(5));
        assert_eq!(t.start(), Start::LastN(5));
    }
}
