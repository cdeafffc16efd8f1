//! Every frame of protocol v1 as one enum ([`Frame`]), split by job:
//!
//! - [`table`]: the one table of opcodes (value, name, direction,
//!   trailing-bytes rule, variant, decoder) and what is generated from it;
//! - [`types`]: the typed payloads (HELLO, WELCOME, SUBSCRIBED, GAP, …);
//! - `request` / `reply`: body decoders of client → server and
//!   server → client frames, kept apart so that a server
//!   ([`Frame::decode_request`]) cannot parse a frame only servers send;
//! - `encode`: body encoders, which never panic;
//! - [`header`]: the prebuilt MESSAGE / MESSAGE_BATCH headers.
//!
//! Frame: `u32 length` (big-endian; counts the opcode and body, not
//! itself), `u8 opcode`, body. protocol.md documents the layouts byte by
//! byte.

mod encode;
pub mod header;
mod reply;
mod request;
pub mod table;
pub mod types;

use bytes::{Bytes, BytesMut};

use crate::error::{cap_text, DecodeError, EncodeError, ErrorCode, MAX_ERROR_TEXT};
use crate::message::{Message, Publish};
use crate::options::SubscribeOptions;
use crate::wire::Text;

pub use header::{message_batch_header, message_header};
pub use table::{frame_info, op, opcode_name, Accept, Direction, FrameInfo, Trailing, FRAMES};
pub use types::{
    Condition, Gap, GapReason, Hello, RefKind, StartStatus, StateEntry, StateReply, StateStatus,
    Subscribed, Welcome,
};

/// Protocol version spoken by this crate.
pub const PROTOCOL_VERSION: u16 = 1;

/// Bytes before the body: the u32 length and the opcode.
pub const HEADER_LEN: usize = 5;

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
        /// Which id space `reference` is in. Every server ERROR carries
        /// it; `None` when decoding an ERROR from an older server that
        /// does not send it (and then it is not encoded either).
        ref_kind: Option<RefKind>,
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
    /// Builds an ERROR frame, with the message cut to [`MAX_ERROR_TEXT`]
    /// bytes and the reference kind inferred from `code` (see
    /// [`RefKind::infer`]); [`Frame::error_about`] names it explicitly.
    pub fn error(code: ErrorCode, reference: u32, message: impl Into<String>) -> Frame {
        Frame::error_about(code, RefKind::infer(code), reference, message)
    }

    /// Builds an ERROR frame about `reference` of the given kind, with the
    /// message cut to [`MAX_ERROR_TEXT`] bytes.
    pub fn error_about(
        code: ErrorCode,
        kind: RefKind,
        reference: u32,
        message: impl Into<String>,
    ) -> Frame {
        Frame::Error {
            code: code as u16,
            reference,
            message: Text::from(cap_text(message.into(), MAX_ERROR_TEXT)),
            ref_kind: Some(kind),
        }
    }

    /// Decodes a frame body of either direction (tests and tools; a server
    /// uses [`Frame::decode_request`], a client [`Frame::decode_reply`]).
    pub fn decode(opcode: u8, body: Bytes) -> Result<Frame, DecodeError> {
        table::decode_body(Accept::Any, opcode, body)
    }

    /// Decodes a frame a client sent: a client → server frame or PING/PONG.
    /// Any other opcode — unknown, or one only servers send — is
    /// [`DecodeError::UnknownOpcode`], and the body is not looked at.
    pub fn decode_request(opcode: u8, body: Bytes) -> Result<Frame, DecodeError> {
        table::decode_body(Accept::Requests, opcode, body)
    }

    /// Decodes a frame a server sent: a server → client frame or PING/PONG.
    /// Any other opcode is [`DecodeError::UnknownOpcode`].
    pub fn decode_reply(opcode: u8, body: Bytes) -> Result<Frame, DecodeError> {
        table::decode_body(Accept::Replies, opcode, body)
    }

    /// Decodes a body with the opcodes `accept` allows.
    pub fn decode_with(accept: Accept, opcode: u8, body: Bytes) -> Result<Frame, DecodeError> {
        table::decode_body(accept, opcode, body)
    }

    /// Appends the whole frame (length, opcode, body) to `dst`.
    ///
    /// Never panics, whatever the field lengths: a field longer than its
    /// length prefix can say (a `str` over 65,535 bytes, more than 65,535
    /// headers or batch entries) is clamped — a `str` is cut at a char
    /// boundary, a list to its first entries — so the output is always a
    /// well-formed frame, though not this exact one. Use
    /// [`Frame::try_encode`] to be told instead.
    pub fn encode(&self, dst: &mut BytesMut) {
        let _ = self.encode_checked(dst);
    }

    /// Appends the whole frame to `dst` if every field fits its length
    /// prefix; otherwise leaves `dst` unchanged and says which field does
    /// not. Never panics.
    pub fn try_encode(&self, dst: &mut BytesMut) -> Result<(), EncodeError> {
        let start = dst.len();
        match self.encode_checked(dst) {
            None => Ok(()),
            Some(e) => {
                dst.truncate(start);
                Err(e)
            }
        }
    }

    /// Encodes the frame into a fresh buffer (as [`Frame::encode`]).
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::new();
        self.encode(&mut b);
        b.freeze()
    }
}
