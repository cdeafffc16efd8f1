//! What a [`crate::Subscription`] yields: messages, GAP reports of lost
//! messages, and [`Notice`]s about the subscription itself (reconnects,
//! truncated history, a changed epoch). Loss is never silent: every message
//! the stream will not deliver is either counted by a [`Gap`] or announced
//! by a notice.

use std::fmt;

pub use spate_proto::{Gap, GapReason, Message, StateChange};

/// One item of a subscription's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A delivered message.
    Message(Message),
    /// Messages of this subscription were lost; `count` says exactly how
    /// many (reported by the server, or by the client when a resume could
    /// not recover them).
    Gap(Gap),
    /// Something happened to the subscription; the stream continues.
    Notice(Notice),
}

/// Informational events about a subscription. The stream continues after
/// each one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// The connection was lost and the client is reconnecting. Best effort:
    /// skipped if the subscription's buffer is full at that moment (the
    /// notices that follow the reconnect are never skipped).
    Disconnected {
        /// Why the connection was lost.
        reason: String,
    },
    /// The server said it is shutting down (GOAWAY); the client will
    /// reconnect once it closes.
    ServerGoingAway {
        /// The server's reason.
        reason: String,
    },
    /// Re-subscribed after a reconnect, replaying from `from_seq`: nothing
    /// was lost and nothing is delivered twice.
    Resumed {
        /// First seq asked for.
        from_seq: u64,
        /// Epoch of the topic.
        epoch: u64,
    },
    /// The history asked for is no longer retained: seqs from
    /// `requested_seq` up to `first_seq - 1` are lost. A [`Gap`] with
    /// reason `not_retained` and the exact count accompanies this notice.
    Truncated {
        /// Seq the subscription asked to start from.
        requested_seq: u64,
        /// Seq delivery continues from.
        first_seq: u64,
    },
    /// The topic's history was reset (its epoch changed, e.g. the broker
    /// restarted): messages after the last one delivered from `old_epoch`
    /// are unknown, and delivery continues with the retained history of
    /// `new_epoch`.
    EpochChanged {
        /// Epoch the subscription was following (0 if none yet).
        old_epoch: u64,
        /// The topic's current epoch.
        new_epoch: u64,
    },
    /// A wildcard subscription was re-established after a reconnect. It
    /// can only resume live: messages published while disconnected were
    /// missed and cannot be counted.
    ResumedLive,
    /// A snapshot subscription was interrupted before its first live
    /// change; the snapshot is delivered again from the start.
    SnapshotRestarted,
}

impl Notice {
    /// Stable lowercase name, for JSON output and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Notice::Disconnected { .. } => "disconnected",
            Notice::ServerGoingAway { .. } => "server_going_away",
            Notice::Resumed { .. } => "resumed",
            Notice::Truncated { .. } => "truncated",
            Notice::EpochChanged { .. } => "epoch_changed",
            Notice::ResumedLive => "resumed_live",
            Notice::SnapshotRestarted => "snapshot_restarted",
        }
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Disconnected { reason } => write!(f, "disconnected ({reason}); reconnecting"),
            Notice::ServerGoingAway { reason } => {
                write!(f, "server is going away ({reason}); will reconnect")
            }
            Notice::Resumed { from_seq, epoch } => {
                write!(f, "reconnected; resumed from seq {from_seq} (epoch {epoch}), nothing lost")
            }
            Notice::Truncated {
                requested_seq,
                first_seq,
            } => write!(
                f,
                "history from seq {requested_seq} is no longer retained; continuing from seq {first_seq}"
            ),
            Notice::EpochChanged {
                old_epoch,
                new_epoch,
            } => write!(
                f,
                "topic history was reset (epoch {old_epoch} -> {new_epoch}); continuing with the new epoch's retained history"
            ),
            Notice::ResumedLive => f.write_str(
                "reconnected; wildcard subscription resumed live: messages published while disconnected were missed",
            ),
            Notice::SnapshotRestarted => {
                f.write_str("reconnected during the snapshot; the snapshot restarts")
            }
        }
    }
}
