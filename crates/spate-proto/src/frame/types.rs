//! The typed payloads of frames: HELLO/WELCOME, conditions, SUBSCRIBED,
//! GAP, state replies and the ERROR reference kind, with the small enums
//! they carry. Layouts are in protocol.md; encoders and decoders are in
//! the sibling modules.

use bytes::Bytes;

use crate::error::{DecodeError, ErrorCode};
use crate::options::Policy;
use crate::wire::{Reader, Text};

/// Client's HELLO.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hello {
    /// Protocol version the client speaks.
    pub version: u16,
    /// Reserved, must be 0.
    pub flags: u32,
    /// Free-form client name, for logs and stats.
    pub client_name: Text,
    /// Auth token: empty, a JWT, or `user:secret` (protocol.md §5.6).
    pub auth_token: Text,
}

/// Server's WELCOME.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Welcome {
    /// Protocol version the server speaks.
    pub version: u16,
    /// Server software version, e.g. `spate 0.1.0`.
    pub server: Text,
    /// Random id of this server process; changes on every start.
    pub server_id: u64,
    /// Largest frame length the server accepts.
    pub max_frame: u32,
    /// Most subscriptions one connection may hold.
    pub max_subscriptions: u32,
    /// Longest topic name in bytes.
    pub max_topic_len: u16,
    /// Interval at which the server PINGs an idle client, milliseconds
    /// (0 = never).
    pub ping_interval_ms: u32,
}

/// Condition for a state write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Condition {
    /// Unconditional (last writer wins).
    #[default]
    None,
    /// Succeed only if the key's current revision equals this.
    IfRevision(u64),
    /// Succeed only if the key does not exist.
    IfAbsent,
}

impl Condition {
    pub(crate) fn decode(r: &mut Reader) -> Result<Condition, DecodeError> {
        let c = r.u8("condition")?;
        let rev = r.u64("revision")?;
        Ok(match c {
            0 => Condition::None,
            1 => Condition::IfRevision(rev),
            2 => Condition::IfAbsent,
            _ => return Err(r.invalid("condition", "unknown condition")),
        })
    }

    /// The wire form: `(condition byte, revision)`.
    pub(crate) fn wire(self) -> (u8, u64) {
        match self {
            Condition::None => (0, 0),
            Condition::IfRevision(r) => (1, r),
            Condition::IfAbsent => (2, 0),
        }
    }
}

/// How a subscription starts, as reported in SUBSCRIBED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum StartStatus {
    /// Live messages only.
    #[default]
    Live = 0,
    /// Replaying history from the requested position, then live.
    Replay = 1,
    /// The requested position is no longer retained: a GAP (NOT_RETAINED)
    /// follows, then history from the earliest retained seq.
    Truncated = 2,
    /// The client's epoch is not the topic's: all retained history of the
    /// current epoch follows.
    EpochChanged = 3,
    /// The topic's state (latest message per live key) follows.
    Snapshot = 4,
}

impl StartStatus {
    pub(crate) fn from_u8(v: u8) -> Option<StartStatus> {
        Some(match v {
            0 => StartStatus::Live,
            1 => StartStatus::Replay,
            2 => StartStatus::Truncated,
            3 => StartStatus::EpochChanged,
            4 => StartStatus::Snapshot,
            _ => return None,
        })
    }
}

/// Server's SUBSCRIBED: the subscription is live, with the limits granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribed {
    /// Subscription id the client chose.
    pub sub_id: u32,
    /// Policy in force.
    pub policy: Policy,
    /// Queue limit in messages, as granted.
    pub queue_msgs: u32,
    /// Queue limit in bytes, as granted.
    pub queue_bytes: u64,
    /// How the subscription starts.
    pub start: StartStatus,
    /// Topic epoch (0 for wildcard patterns).
    pub epoch: u64,
    /// First seq of the backlog that follows (0 if none).
    pub first_seq: u64,
    /// Topic's last assigned seq at the moment the subscription went live:
    /// messages with a larger seq are live (0 for wildcard patterns).
    pub last_seq: u64,
}

/// Why messages were lost, in a GAP frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum GapReason {
    /// A full drop-oldest queue discarded its oldest messages.
    DroppedOldest = 1,
    /// A full queue rejected new messages (drop-newest, or disconnect
    /// during its grace period).
    DroppedNewest = 2,
    /// Replaced by a newer message with the same key (conflate).
    Conflated = 3,
    /// The server-wide memory budget was exhausted.
    MemoryBudget = 4,
    /// Replay asked for messages no longer retained.
    NotRetained = 5,
}

impl GapReason {
    /// Decodes a wire value.
    pub fn from_u8(v: u8) -> Option<GapReason> {
        Some(match v {
            1 => GapReason::DroppedOldest,
            2 => GapReason::DroppedNewest,
            3 => GapReason::Conflated,
            4 => GapReason::MemoryBudget,
            5 => GapReason::NotRetained,
            _ => return None,
        })
    }

    /// Stable lowercase name for logs, JSON and metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            GapReason::DroppedOldest => "dropped_oldest",
            GapReason::DroppedNewest => "dropped_newest",
            GapReason::Conflated => "conflated",
            GapReason::MemoryBudget => "memory_budget",
            GapReason::NotRetained => "not_retained",
        }
    }
}

/// Server's GAP: `count` messages of this subscription were lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// Subscription that lost them.
    pub sub_id: u32,
    /// Why.
    pub reason: GapReason,
    /// Exactly how many messages were lost.
    pub count: u64,
    /// Lowest lost seq of `topic` (0 when `topic` is empty).
    pub first_seq: u64,
    /// Highest lost seq of `topic` (0 when `topic` is empty).
    pub last_seq: u64,
    /// The topic the lost messages belong to; empty when they span
    /// several topics.
    pub topic: Text,
}

/// Outcome of a state operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum StateStatus {
    /// Done; `revision` is the key's new (or current, for GET) revision.
    Ok = 0,
    /// The condition failed; `revision` and `value` are the key's current
    /// ones (revision 0 and no value if absent).
    Conflict = 1,
    /// GET, or unconditional DELETE, of a key that does not exist.
    NotFound = 2,
}

/// Server's STATE_REPLY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateReply {
    /// Request id of the operation.
    pub request_id: u32,
    /// Outcome.
    pub status: StateStatus,
    /// Revision (see [`StateStatus`]).
    pub revision: u64,
    /// Value, if the reply carries one.
    pub value: Option<Bytes>,
}

/// One key of STATE_LIST_REPLY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateEntry {
    /// Key.
    pub key: Text,
    /// Revision.
    pub revision: u64,
    /// Value.
    pub value: Bytes,
}

/// What ERROR's `reference` names (its trailing `ref_kind` field,
/// protocol.md §13.1): request ids and subscription ids are chosen by the
/// client from separate spaces, and this says which one `reference` is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RefKind {
    /// The error is about the connection as a whole; `reference` is 0.
    Connection = 0,
    /// `reference` is the `request_id` of a PUBLISH (or PUBLISH_BATCH
    /// entry) or of a state operation.
    Request = 1,
    /// `reference` is the `sub_id` of a SUBSCRIBE, UNSUBSCRIBE or of the
    /// subscription that overflowed (`SLOW_CONSUMER`).
    Subscription = 2,
}

impl RefKind {
    /// The kind an ERROR with `code` refers to when the sender does not say
    /// ([`super::Frame::error`]): connection-level for `UNKNOWN_OPCODE` and
    /// fatal codes except `SLOW_CONSUMER`; a subscription for
    /// `SLOW_CONSUMER` and the SUBSCRIBE/UNSUBSCRIBE codes 202-206; a
    /// request otherwise. Codes that can concern either requests or
    /// subscriptions (`NOT_ALLOWED`, `TOO_MANY_TOPICS`, `INTERNAL`) default
    /// to a request: the SUBSCRIBE path names its kind with
    /// [`super::Frame::error_about`].
    pub fn infer(code: ErrorCode) -> RefKind {
        match code {
            ErrorCode::SlowConsumer
            | ErrorCode::InvalidPattern
            | ErrorCode::InvalidOption
            | ErrorCode::DuplicateSubscription
            | ErrorCode::UnknownSubscription
            | ErrorCode::TooManySubscriptions => RefKind::Subscription,
            ErrorCode::UnknownOpcode => RefKind::Connection,
            c if c.is_fatal() => RefKind::Connection,
            _ => RefKind::Request,
        }
    }

    /// Decodes a wire value.
    pub fn from_u8(v: u8) -> Option<RefKind> {
        Some(match v {
            0 => RefKind::Connection,
            1 => RefKind::Request,
            2 => RefKind::Subscription,
            _ => return None,
        })
    }
}
