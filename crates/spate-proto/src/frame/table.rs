//! The one table of protocol v1's frames. Every fact about an opcode — its
//! value, its name, which side may send it, what its decoder does with
//! trailing bytes, its [`Frame`] variant with its fields, its body decoder
//! and its body encoder — is written once, in the `frames!` invocation
//! below, and everything that dispatches on opcodes or variants is
//! generated from it: the [`op`] constants, [`FRAMES`], [`opcode_name`],
//! [`frame_info`], [`Frame::opcode`], the decoders' dispatch
//! ([`Frame::decode_request`], [`Frame::decode_reply`], [`Frame::decode`])
//! and the encoder's ([`Frame::encode`]).

use bytes::Bytes;

use super::{encode, reply, request, Frame};
use crate::error::DecodeError;
use crate::wire::{Enc, Reader};

/// Which side of a connection may send a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Only clients send it; servers decode it.
    ClientToServer,
    /// Only servers send it; clients decode it.
    ServerToClient,
    /// Either side (PING and PONG).
    Both,
}

/// What a decoder does with bytes after a frame's last field
/// (protocol.md §4, last column of the opcode table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trailing {
    /// The last field is `rest`, so there are never extra bytes
    /// (STATE_REPLY: only when `has_value` = 1; otherwise they are an error).
    Rest,
    /// Extensible frame: trailing bytes are fields of a newer revision and
    /// are ignored.
    Ignore,
    /// Trailing bytes make the frame malformed.
    Error,
}

/// One row of the frame table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameInfo {
    /// Wire value.
    pub opcode: u8,
    /// Name used by protocol.md, e.g. `"PUB_ACK"`.
    pub name: &'static str,
    /// Who may send it.
    pub direction: Direction,
    /// What trailing bytes mean.
    pub trailing: Trailing,
}

/// Which frames a decoder accepts: a server decodes only what clients may
/// send and a client only what servers may send; any other opcode is
/// [`DecodeError::UnknownOpcode`], reported without looking at the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Accept {
    /// Frames of either direction (tests, tools, proxies).
    #[default]
    Any,
    /// Client → server frames and PING/PONG: what a server decodes.
    Requests,
    /// Server → client frames and PING/PONG: what a client decodes.
    Replies,
}

impl Accept {
    /// True if a frame sent in `dir` is decoded.
    pub fn allows(self, dir: Direction) -> bool {
        match (self, dir) {
            (Accept::Any, _) | (_, Direction::Both) => true,
            (Accept::Requests, d) => d == Direction::ClientToServer,
            (Accept::Replies, d) => d == Direction::ServerToClient,
        }
    }
}

macro_rules! frames {
    ($(
        $(#[$doc:meta])*
        $name:ident = $value:literal => $variant:ident $fields:tt,
            $dir:ident, $trailing:ident, $decode:path, $encode:path;
    )*) => {
        /// Opcodes (protocol.md §4).
        pub mod op {
            $( $(#[$doc])* pub const $name: u8 = $value; )*
        }

        /// Every frame of protocol v1, in opcode order.
        pub const FRAMES: &[FrameInfo] = &[ $(
            FrameInfo {
                opcode: $value,
                name: stringify!($name),
                direction: Direction::$dir,
                trailing: Trailing::$trailing,
            },
        )* ];

        /// The table row of `opcode`, or `None` if v1 has no such opcode.
        pub fn frame_info(opcode: u8) -> Option<&'static FrameInfo> {
            match opcode {
                $( $value => Some(&FrameInfo {
                    opcode: $value,
                    name: stringify!($name),
                    direction: Direction::$dir,
                    trailing: Trailing::$trailing,
                }), )*
                _ => None,
            }
        }

        impl Frame {
            /// The frame's opcode.
            pub fn opcode(&self) -> u8 {
                match self { $( Frame::$variant { .. } => $value, )* }
            }

            /// Writes the body (everything after the opcode) with the
            /// frame's encoder, which gets the variant's fields in order.
            pub(super) fn encode_body(&self, e: &mut Enc) {
                match self { $( Frame::$variant $fields => frames!(@call $encode, e, $fields), )* }
            }
        }

        /// Decodes the body of a frame with `opcode` if `accept` allows
        /// the opcode's direction; otherwise, or if v1 has no such opcode,
        /// fails with [`DecodeError::UnknownOpcode`] without reading `body`.
        pub(crate) fn decode_body(
            accept: Accept,
            opcode: u8,
            body: Bytes,
        ) -> Result<Frame, DecodeError> {
            match opcode {
                $( $value if accept.allows(Direction::$dir) => {
                    let mut r = Reader::new(stringify!($name), body);
                    let f = $decode(&mut r)?;
                    finish(r, Trailing::$trailing)?;
                    Ok(f)
                } )*
                _ => Err(DecodeError::UnknownOpcode(opcode)),
            }
        }
    };
    (@call $f:path, $e:ident, ( $($a:ident),* )) => { $f($e, $($a),*) };
    (@call $f:path, $e:ident, { $($a:ident),* }) => { $f($e, $($a),*) };
}

/// Ends a body according to its trailing-bytes rule.
fn finish(r: Reader, trailing: Trailing) -> Result<(), DecodeError> {
    match trailing {
        Trailing::Ignore => {
            r.finish_extensible();
            Ok(())
        }
        // `rest` took everything, so nothing is left unless the body ended
        // without it (STATE_REPLY with has_value = 0).
        Trailing::Rest | Trailing::Error => r.finish(),
    }
}

// One row per frame: `NAME = opcode => Variant fields, direction,
// trailing-bytes rule, body decoder, body encoder;` — `fields` names the
// variant's fields in declaration order (they are handed to the encoder in
// that order). A new frame needs its `Frame` variant, a row here, a decoder
// in `request.rs` or `reply.rs`, an encoder in `encode.rs`, and its row in
// protocol.md §4 (tests/protocol_tables.rs checks the two tables agree).
frames! {
    /// client → server: open the session.
    HELLO = 0x01 => Hello(h),
        ClientToServer, Ignore, request::hello, encode::hello;
    /// either way: liveness probe.
    PING = 0x02 => Ping(token),
        Both, Error, request::ping, encode::token;
    /// either way: answer to PING.
    PONG = 0x03 => Pong(token),
        Both, Error, request::pong, encode::token;
    /// client → server: publish one message.
    PUBLISH = 0x10 => Publish(p),
        ClientToServer, Rest, request::publish, encode::publish;
    /// client → server: publish several messages in one frame.
    PUBLISH_BATCH = 0x11 => PublishBatch(v),
        ClientToServer, Error, request::publish_batch, encode::publish_batch;
    /// client → server: start a subscription.
    SUBSCRIBE = 0x20 => Subscribe { sub_id, pattern, options },
        ClientToServer, Error, request::subscribe, encode::subscribe;
    /// client → server: end a subscription.
    UNSUBSCRIBE = 0x21 => Unsubscribe { sub_id },
        ClientToServer, Error, request::unsubscribe, encode::sub_id;
    /// client → server: set a state key.
    STATE_PUT = 0x30 => StatePut { request_id, topic, key, condition, value },
        ClientToServer, Rest, request::state_put, encode::state_put;
    /// client → server: delete a state key.
    STATE_DEL = 0x31 => StateDel { request_id, topic, key, condition },
        ClientToServer, Error, request::state_del, encode::state_del;
    /// client → server: read a state key.
    STATE_GET = 0x32 => StateGet { request_id, topic, key },
        ClientToServer, Error, request::state_get, encode::state_get;
    /// client → server: list a topic's state keys.
    STATE_LIST = 0x33 => StateList { request_id, topic, after, limit },
        ClientToServer, Error, request::state_list, encode::state_list;
    /// server → client: session accepted.
    WELCOME = 0x81 => Welcome(w),
        ServerToClient, Ignore, reply::welcome, encode::welcome;
    /// server → client: publish acknowledged.
    PUB_ACK = 0x90 => PubAck { request_id, epoch, seq, timestamp_us, receivers },
        ServerToClient, Ignore, reply::pub_ack, encode::pub_ack;
    /// server → client: one delivered message.
    MESSAGE = 0x91 => Message { sub_id, message },
        ServerToClient, Rest, reply::message, encode::message;
    /// server → client: several delivered messages of one subscription.
    MESSAGE_BATCH = 0x92 => MessageBatch { sub_id, messages },
        ServerToClient, Error, reply::message_batch, encode::message_batch;
    /// server → client: subscription accepted.
    SUBSCRIBED = 0xA0 => Subscribed(s),
        ServerToClient, Ignore, reply::subscribed, encode::subscribed;
    /// server → client: subscription ended.
    UNSUBSCRIBED = 0xA1 => Unsubscribed { sub_id },
        ServerToClient, Error, reply::unsubscribed, encode::sub_id;
    /// server → client: messages were lost.
    GAP = 0xA2 => Gap(g),
        ServerToClient, Ignore, reply::gap, encode::gap;
    /// server → client: result of a state operation.
    STATE_REPLY = 0xB0 => StateReply(r),
        ServerToClient, Rest, reply::state_reply, encode::state_reply;
    /// server → client: result of STATE_LIST.
    STATE_LIST_REPLY = 0xB1 => StateListReply { request_id, more, entries },
        ServerToClient, Error, reply::state_list_reply, encode::state_list_reply;
    /// server → client: an error.
    ERROR = 0xE0 => Error { code, reference, message, ref_kind },
        ServerToClient, Ignore, reply::error, encode::error;
    /// server → client: the server is going away.
    GOAWAY = 0xE1 => GoAway { drain_ms, reason },
        ServerToClient, Ignore, reply::goaway, encode::goaway;
}

/// The name protocol.md uses for an opcode, or `None` if v1 has no such
/// opcode.
pub fn opcode_name(opcode: u8) -> Option<&'static str> {
    frame_info(opcode).map(|f| f.name)
}
