//! Every frame of protocol v1 as one enum, with its opcode, encoder and
//! decoder. protocol.md documents the same layouts byte by byte.
//!
//! Frame: `u32 length` (big-endian; counts the opcode and body, not
//! itself), `u8 opcode`, body.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, ErrorCode};
use crate::message::{Message, Publish};
use crate::options::{Policy, SubscribeOptions};
use crate::wire::{put_bytes, put_str, Reader, Text};

/// Protocol version spoken by this crate.
pub const PROTOCOL_VERSION: u16 = 1;

/// Bytes before the body: the u32 length and the opcode.
pub const HEADER_LEN: usize = 5;

/// Opcodes (protocol.md, "Frames").
pub mod op {
    /// client → server: open the session.
    pub const HELLO: u8 = 0x01;
    /// either way: liveness probe.
    pub const PING: u8 = 0x02;
    /// either way: answer to PING.
    pub const PONG: u8 = 0x03;
    /// client → server: publish one message.
    pub const PUBLISH: u8 = 0x10;
    /// client → server: publish several messages in one frame.
    pub const PUBLISH_BATCH: u8 = 0x11;
    /// client → server: start a subscription.
    pub const SUBSCRIBE: u8 = 0x20;
    /// client → server: end a subscription.
    pub const UNSUBSCRIBE: u8 = 0x21;
    /// client → server: set a state key.
    pub const STATE_PUT: u8 = 0x30;
    /// client → server: delete a state key.
    pub const STATE_DEL: u8 = 0x31;
    /// client → server: read a state key.
    pub const STATE_GET: u8 = 0x32;
    /// client → server: list a topic's state keys.
    pub const STATE_LIST: u8 = 0x33;
    /// server → client: session accepted.
    pub const WELCOME: u8 = 0x81;
    /// server → client: publish acknowledged.
    pub const PUB_ACK: u8 = 0x90;
    /// server → client: one delivered message.
    pub const MESSAGE: u8 = 0x91;
    /// server → client: several delivered messages of one subscription.
    pub const MESSAGE_BATCH: u8 = 0x92;
    /// server → client: subscription accepted.
    pub const SUBSCRIBED: u8 = 0xA0;
    /// server → client: subscription ended.
    pub const UNSUBSCRIBED: u8 = 0xA1;
    /// server → client: messages were lost.
    pub const GAP: u8 = 0xA2;
    /// server → client: result of a state operation.
    pub const STATE_REPLY: u8 = 0xB0;
    /// server → client: result of STATE_LIST.
    pub const STATE_LIST_REPLY: u8 = 0xB1;
    /// server → client: an error.
    pub const ERROR: u8 = 0xE0;
    /// server → client: the server is going away.
    pub const GOAWAY: u8 = 0xE1;
}

/// Client's HELLO.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hello {
    /// Protocol version the client speaks.
    pub version: u16,
    /// Reserved, must be 0.
    pub flags: u32,
    /// Free-form client name, for logs and stats.
    pub client_name: Text,
    /// Auth token; empty for none (reserved: v1 servers ignore it).
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
    fn decode(r: &mut Reader) -> Result<Condition, DecodeError> {
        let c = r.u8("condition")?;
        let rev = r.u64("revision")?;
        Ok(match c {
            0 => Condition::None,
            1 => Condition::IfRevision(rev),
            2 => Condition::IfAbsent,
            _ => return Err(r.invalid("condition", "unknown condition")),
        })
    }

    fn encode(self, dst: &mut BytesMut) {
        let (c, rev) = match self {
            Condition::None => (0, 0),
            Condition::IfRevision(r) => (1, r),
            Condition::IfAbsent => (2, 0),
        };
        dst.put_u8(c);
        dst.put_u64(rev);
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
    fn from_u8(v: u8) -> Option<StartStatus> {
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

/// Any frame of protocol v1, in either direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// 0x01
    Hello(Hello),
    /// 0x02: opaque token echoed by PONG.
    Ping(u64),
    /// 0x03
    Pong(u64),
    /// 0x10
    Publish(Publish),
    /// 0x11
    PublishBatch(Vec<Publish>),
    /// 0x20
    Subscribe {
        /// Client-chosen id, unique on the connection; echoed in deliveries.
        sub_id: u32,
        /// Topic or wildcard pattern.
        pattern: Text,
        /// Options block.
        options: SubscribeOptions,
    },
    /// 0x21
    Unsubscribe {
        /// Subscription to end.
        sub_id: u32,
    },
    /// 0x30
    StatePut {
        /// Correlates the STATE_REPLY.
        request_id: u32,
        /// Topic holding the state.
        topic: Text,
        /// Key.
        key: Text,
        /// Write condition.
        condition: Condition,
        /// New value.
        value: Bytes,
    },
    /// 0x31
    StateDel {
        /// Correlates the STATE_REPLY.
        request_id: u32,
        /// Topic holding the state.
        topic: Text,
        /// Key.
        key: Text,
        /// Delete condition.
        condition: Condition,
    },
    /// 0x32
    StateGet {
        /// Correlates the STATE_REPLY.
        request_id: u32,
        /// Topic holding the state.
        topic: Text,
        /// Key.
        key: Text,
    },
    /// 0x33
    StateList {
        /// Correlates the STATE_LIST_REPLY.
        request_id: u32,
        /// Topic holding the state.
        topic: Text,
        /// List keys strictly greater than this (empty = from the start).
        after: Text,
        /// Most entries wanted (the server may return fewer).
        limit: u32,
    },
    /// 0x81
    Welcome(Welcome),
    /// 0x90
    PubAck {
        /// Request id of the PUBLISH.
        request_id: u32,
        /// Topic epoch.
        epoch: u64,
        /// Seq assigned.
        seq: u64,
        /// Server timestamp assigned, µs since the Unix epoch.
        timestamp_us: u64,
        /// Subscriptions the message was queued for.
        receivers: u32,
    },
    /// 0x91
    Message {
        /// Subscription it is delivered for.
        sub_id: u32,
        /// The message.
        message: Message,
    },
    /// 0x92
    MessageBatch {
        /// Subscription they are delivered for.
        sub_id: u32,
        /// The messages, in order.
        messages: Vec<Message>,
    },
    /// 0xA0
    Subscribed(Subscribed),
    /// 0xA1
    Unsubscribed {
        /// Subscription that ended.
        sub_id: u32,
    },
    /// 0xA2
    Gap(Gap),
    /// 0xB0
    StateReply(StateReply),
    /// 0xB1
    StateListReply {
        /// Request id of the STATE_LIST.
        request_id: u32,
        /// More keys follow after the last one returned.
        more: bool,
        /// Entries in key order.
        entries: Vec<StateEntry>,
    },
    /// 0xE0
    Error {
        /// Stable code.
        code: u16,
        /// Request id or sub id of the failed request; 0 for the connection.
        reference: u32,
        /// Human-readable explanation.
        message: Text,
    },
    /// 0xE1
    GoAway {
        /// How long the server keeps draining before it closes, ms.
        drain_ms: u32,
        /// Why.
        reason: Text,
    },
}

impl Frame {
    /// Builds an ERROR frame.
    pub fn error(code: ErrorCode, reference: u32, message: impl Into<String>) -> Frame {
        Frame::Error {
            code: code as u16,
            reference,
            message: Text::from(message.into()),
        }
    }

    /// The frame's opcode.
    pub fn opcode(&self) -> u8 {
        match self {
            Frame::Hello(_) => op::HELLO,
            Frame::Ping(_) => op::PING,
            Frame::Pong(_) => op::PONG,
            Frame::Publish(_) => op::PUBLISH,
            Frame::PublishBatch(_) => op::PUBLISH_BATCH,
            Frame::Subscribe { .. } => op::SUBSCRIBE,
            Frame::Unsubscribe { .. } => op::UNSUBSCRIBE,
            Frame::StatePut { .. } => op::STATE_PUT,
            Frame::StateDel { .. } => op::STATE_DEL,
            Frame::StateGet { .. } => op::STATE_GET,
            Frame::StateList { .. } => op::STATE_LIST,
            Frame::Welcome(_) => op::WELCOME,
            Frame::PubAck { .. } => op::PUB_ACK,
            Frame::Message { .. } => op::MESSAGE,
            Frame::MessageBatch { .. } => op::MESSAGE_BATCH,
            Frame::Subscribed(_) => op::SUBSCRIBED,
            Frame::Unsubscribed { .. } => op::UNSUBSCRIBED,
            Frame::Gap(_) => op::GAP,
            Frame::StateReply(_) => op::STATE_REPLY,
            Frame::StateListReply { .. } => op::STATE_LIST_REPLY,
            Frame::Error { .. } => op::ERROR,
            Frame::GoAway { .. } => op::GOAWAY,
        }
    }

    /// Decodes a frame from its opcode and body (the bytes after the
    /// opcode). Zero-copy: payloads and strings slice `body`.
    pub fn decode(opcode: u8, body: Bytes) -> Result<Frame, DecodeError> {
        let name = opcode_name(opcode).ok_or(DecodeError::UnknownOpcode(opcode))?;
        let mut r = Reader::new(name, body);
        let f = match opcode {
            op::HELLO => {
                let h = Hello {
                    version: r.u16("version")?,
                    flags: r.u32("flags")?,
                    client_name: r.str("client_name")?,
                    auth_token: r.str("auth_token")?,
                };
                r.finish_extensible();
                return Ok(Frame::Hello(h));
            }
            op::PING => Frame::Ping(r.u64("token")?),
            op::PONG => Frame::Pong(r.u64("token")?),
            op::PUBLISH => return Ok(Frame::Publish(Publish::decode(&mut r)?)),
            op::PUBLISH_BATCH => {
                let n = r.u16("count")? as usize;
                let mut v = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    let entry = r.bytes("entry")?;
                    v.push(Publish::decode(&mut Reader::new(
                        "PUBLISH_BATCH entry",
                        entry,
                    ))?);
                }
                Frame::PublishBatch(v)
            }
            op::SUBSCRIBE => Frame::Subscribe {
                sub_id: r.u32("sub_id")?,
                pattern: r.str("pattern")?,
                options: SubscribeOptions::decode(&mut r)?,
            },
            op::UNSUBSCRIBE => Frame::Unsubscribe {
                sub_id: r.u32("sub_id")?,
            },
            op::STATE_PUT => {
                return Ok(Frame::StatePut {
                    request_id: r.u32("request_id")?,
                    topic: r.str("topic")?,
                    key: r.str("key")?,
                    condition: Condition::decode(&mut r)?,
                    value: r.rest(),
                })
            }
            op::STATE_DEL => Frame::StateDel {
                request_id: r.u32("request_id")?,
                topic: r.str("topic")?,
                key: r.str("key")?,
                condition: Condition::decode(&mut r)?,
            },
            op::STATE_GET => Frame::StateGet {
                request_id: r.u32("request_id")?,
                topic: r.str("topic")?,
                key: r.str("key")?,
            },
            op::STATE_LIST => Frame::StateList {
                request_id: r.u32("request_id")?,
                topic: r.str("topic")?,
                after: r.str("after")?,
                limit: r.u32("limit")?,
            },
            op::WELCOME => {
                let w = Welcome {
                    version: r.u16("version")?,
                    server: r.str("server")?,
                    server_id: r.u64("server_id")?,
                    max_frame: r.u32("max_frame")?,
                    max_subscriptions: r.u32("max_subscriptions")?,
                    max_topic_len: r.u16("max_topic_len")?,
                    ping_interval_ms: r.u32("ping_interval_ms")?,
                };
                r.finish_extensible();
                return Ok(Frame::Welcome(w));
            }
            op::PUB_ACK => {
                let f = Frame::PubAck {
                    request_id: r.u32("request_id")?,
                    epoch: r.u64("epoch")?,
                    seq: r.u64("seq")?,
                    timestamp_us: r.u64("timestamp_us")?,
                    receivers: r.u32("receivers")?,
                };
                r.finish_extensible();
                return Ok(f);
            }
            op::MESSAGE => {
                return Ok(Frame::Message {
                    sub_id: r.u32("sub_id")?,
                    message: Message::decode(&mut r)?,
                })
            }
            op::MESSAGE_BATCH => {
                let sub_id = r.u32("sub_id")?;
                let n = r.u16("count")? as usize;
                let mut messages = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    let body = r.bytes("entry")?;
                    messages.push(Message::decode(&mut Reader::new(
                        "MESSAGE_BATCH entry",
                        body,
                    ))?);
                }
                Frame::MessageBatch { sub_id, messages }
            }
            op::SUBSCRIBED => {
                let sub_id = r.u32("sub_id")?;
                let policy = r.u8("policy")?;
                let policy =
                    Policy::from_u8(policy).ok_or_else(|| r.invalid("policy", "unknown policy"))?;
                let queue_msgs = r.u32("queue_msgs")?;
                let queue_bytes = r.u64("queue_bytes")?;
                let start = r.u8("start")?;
                let start = StartStatus::from_u8(start)
                    .ok_or_else(|| r.invalid("start", "unknown start status"))?;
                let s = Subscribed {
                    sub_id,
                    policy,
                    queue_msgs,
                    queue_bytes,
                    start,
                    epoch: r.u64("epoch")?,
                    first_seq: r.u64("first_seq")?,
                    last_seq: r.u64("last_seq")?,
                };
                r.finish_extensible();
                return Ok(Frame::Subscribed(s));
            }
            op::UNSUBSCRIBED => Frame::Unsubscribed {
                sub_id: r.u32("sub_id")?,
            },
            op::GAP => {
                let sub_id = r.u32("sub_id")?;
                let reason = r.u8("reason")?;
                let reason = GapReason::from_u8(reason)
                    .ok_or_else(|| r.invalid("reason", "unknown gap reason"))?;
                let g = Gap {
                    sub_id,
                    reason,
                    count: r.u64("count")?,
                    first_seq: r.u64("first_seq")?,
                    last_seq: r.u64("last_seq")?,
                    topic: r.str("topic")?,
                };
                r.finish_extensible();
                return Ok(Frame::Gap(g));
            }
            op::STATE_REPLY => {
                let request_id = r.u32("request_id")?;
                let status = match r.u8("status")? {
                    0 => StateStatus::Ok,
                    1 => StateStatus::Conflict,
                    2 => StateStatus::NotFound,
                    _ => return Err(r.invalid("status", "unknown state status")),
                };
                let revision = r.u64("revision")?;
                let value = match r.u8("has_value")? {
                    0 => None,
                    1 => Some(r.rest()),
                    _ => return Err(r.invalid("has_value", "must be 0 or 1")),
                };
                Frame::StateReply(StateReply {
                    request_id,
                    status,
                    revision,
                    value,
                })
            }
            op::STATE_LIST_REPLY => {
                let request_id = r.u32("request_id")?;
                let more = match r.u8("more")? {
                    0 => false,
                    1 => true,
                    _ => return Err(r.invalid("more", "must be 0 or 1")),
                };
                let n = r.u32("count")? as usize;
                let mut entries = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    entries.push(StateEntry {
                        key: r.str("key")?,
                        revision: r.u64("revision")?,
                        value: r.bytes("value")?,
                    });
                }
                Frame::StateListReply {
                    request_id,
                    more,
                    entries,
                }
            }
            op::ERROR => {
                let f = Frame::Error {
                    code: r.u16("code")?,
                    reference: r.u32("reference")?,
                    message: r.str("message")?,
                };
                r.finish_extensible();
                return Ok(f);
            }
            op::GOAWAY => {
                let f = Frame::GoAway {
                    drain_ms: r.u32("drain_ms")?,
                    reason: r.str("reason")?,
                };
                r.finish_extensible();
                return Ok(f);
            }
            _ => unreachable!("opcode_name returned Some"),
        };
        r.finish()?;
        Ok(f)
    }

    /// Appends the whole frame (length, opcode, body) to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        let start = dst.len();
        dst.put_u32(0); // patched below
        dst.put_u8(self.opcode());
        self.encode_body(dst);
        let len = (dst.len() - start - 4) as u32;
        dst[start..start + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// Encodes the frame into a fresh buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::new();
        self.encode(&mut b);
        b.freeze()
    }

    fn encode_body(&self, d: &mut BytesMut) {
        match self {
            Frame::Hello(h) => {
                d.put_u16(h.version);
                d.put_u32(h.flags);
                put_str(d, &h.client_name);
                put_str(d, &h.auth_token);
            }
            Frame::Ping(t) | Frame::Pong(t) => d.put_u64(*t),
            Frame::Publish(p) => p.encode(d),
            Frame::PublishBatch(v) => {
                d.put_u16(v.len() as u16);
                for p in v {
                    d.put_u32(p.encoded_len() as u32);
                    p.encode(d);
                }
            }
            Frame::Subscribe {
                sub_id,
                pattern,
                options,
            } => {
                d.put_u32(*sub_id);
                put_str(d, pattern);
                options.encode(d);
            }
            Frame::Unsubscribe { sub_id } | Frame::Unsubscribed { sub_id } => d.put_u32(*sub_id),
            Frame::StatePut {
                request_id,
                topic,
                key,
                condition,
                value,
            } => {
                d.put_u32(*request_id);
                put_str(d, topic);
                put_str(d, key);
                condition.encode(d);
                d.put_slice(value);
            }
            Frame::StateDel {
                request_id,
                topic,
                key,
                condition,
            } => {
                d.put_u32(*request_id);
                put_str(d, topic);
                put_str(d, key);
                condition.encode(d);
            }
            Frame::StateGet {
                request_id,
                topic,
                key,
            } => {
                d.put_u32(*request_id);
                put_str(d, topic);
                put_str(d, key);
            }
            Frame::StateList {
                request_id,
                topic,
                after,
                limit,
            } => {
                d.put_u32(*request_id);
                put_str(d, topic);
                put_str(d, after);
                d.put_u32(*limit);
            }
            Frame::Welcome(w) => {
                d.put_u16(w.version);
                put_str(d, &w.server);
                d.put_u64(w.server_id);
                d.put_u32(w.max_frame);
                d.put_u32(w.max_subscriptions);
                d.put_u16(w.max_topic_len);
                d.put_u32(w.ping_interval_ms);
            }
            Frame::PubAck {
                request_id,
                epoch,
                seq,
                timestamp_us,
                receivers,
            } => {
                d.put_u32(*request_id);
                d.put_u64(*epoch);
                d.put_u64(*seq);
                d.put_u64(*timestamp_us);
                d.put_u32(*receivers);
            }
            Frame::Message { sub_id, message } => {
                d.put_u32(*sub_id);
                message.encode_body_into(d);
            }
            Frame::MessageBatch { sub_id, messages } => {
                d.put_u32(*sub_id);
                d.put_u16(messages.len() as u16);
                for m in messages {
                    d.put_u32(m.body_len() as u32);
                    m.encode_body_into(d);
                }
            }
            Frame::Subscribed(s) => {
                d.put_u32(s.sub_id);
                d.put_u8(s.policy as u8);
                d.put_u32(s.queue_msgs);
                d.put_u64(s.queue_bytes);
                d.put_u8(s.start as u8);
                d.put_u64(s.epoch);
                d.put_u64(s.first_seq);
                d.put_u64(s.last_seq);
            }
            Frame::Gap(g) => {
                d.put_u32(g.sub_id);
                d.put_u8(g.reason as u8);
                d.put_u64(g.count);
                d.put_u64(g.first_seq);
                d.put_u64(g.last_seq);
                put_str(d, &g.topic);
            }
            Frame::StateReply(s) => {
                d.put_u32(s.request_id);
                d.put_u8(s.status as u8);
                d.put_u64(s.revision);
                match &s.value {
                    None => d.put_u8(0),
                    Some(v) => {
                        d.put_u8(1);
                        d.put_slice(v);
                    }
                }
            }
            Frame::StateListReply {
                request_id,
                more,
                entries,
            } => {
                d.put_u32(*request_id);
                d.put_u8(*more as u8);
                d.put_u32(entries.len() as u32);
                for e in entries {
                    put_str(d, &e.key);
                    d.put_u64(e.revision);
                    put_bytes(d, &e.value);
                }
            }
            Frame::Error {
                code,
                reference,
                message,
            } => {
                d.put_u16(*code);
                d.put_u32(*reference);
                put_str(d, message);
            }
            Frame::GoAway { drain_ms, reason } => {
                d.put_u32(*drain_ms);
                put_str(d, reason);
            }
        }
    }
}

/// The name protocol.md uses for an opcode, or `None` if v1 has no such
/// opcode.
pub fn opcode_name(opcode: u8) -> Option<&'static str> {
    Some(match opcode {
        op::HELLO => "HELLO",
        op::PING => "PING",
        op::PONG => "PONG",
        op::PUBLISH => "PUBLISH",
        op::PUBLISH_BATCH => "PUBLISH_BATCH",
        op::SUBSCRIBE => "SUBSCRIBE",
        op::UNSUBSCRIBE => "UNSUBSCRIBE",
        op::STATE_PUT => "STATE_PUT",
        op::STATE_DEL => "STATE_DEL",
        op::STATE_GET => "STATE_GET",
        op::STATE_LIST => "STATE_LIST",
        op::WELCOME => "WELCOME",
        op::PUB_ACK => "PUB_ACK",
        op::MESSAGE => "MESSAGE",
        op::MESSAGE_BATCH => "MESSAGE_BATCH",
        op::SUBSCRIBED => "SUBSCRIBED",
        op::UNSUBSCRIBED => "UNSUBSCRIBED",
        op::GAP => "GAP",
        op::STATE_REPLY => "STATE_REPLY",
        op::STATE_LIST_REPLY => "STATE_LIST_REPLY",
        op::ERROR => "ERROR",
        op::GOAWAY => "GOAWAY",
        _ => return None,
    })
}

/// The 9-byte header of a MESSAGE frame whose shared body is `body_len`
/// bytes: `[len][0x91][sub_id]`. The server writes this before the body it
/// shares among all subscribers.
pub fn message_header(sub_id: u32, body_len: usize) -> [u8; 9] {
    let mut h = [0u8; 9];
    h[..4].copy_from_slice(&((1 + 4 + body_len) as u32).to_be_bytes());
    h[4] = op::MESSAGE;
    h[5..].copy_from_slice(&sub_id.to_be_bytes());
    h
}

/// The 11-byte header of a MESSAGE_BATCH frame holding `count` entries
/// whose bodies total `bodies_len` bytes (each entry adds a u32 length).
pub fn message_batch_header(sub_id: u32, count: u16, bodies_len: usize) -> [u8; 11] {
    let len = 1 + 4 + 2 + 4 * count as usize + bodies_len;
    let mut h = [0u8; 11];
    h[..4].copy_from_slice(&(len as u32).to_be_bytes());
    h[4] = op::MESSAGE_BATCH;
    h[5..9].copy_from_slice(&sub_id.to_be_bytes());
    h[9..].copy_from_slice(&count.to_be_bytes());
    h
}
