//! # spate-proto: the spate wire protocol, v1
//!
//! Sans-IO: frame types, their byte layouts and a strict
//! `tokio_util::codec` [`Codec`]; no sockets. The server, the Rust client,
//! the benchmarks and the fuzz/property tests share this one definition, and
//! `protocol.md` at the repository root specifies the same bytes for client
//! authors in other languages.
//!
//! Decoding is direction-aware: a server decodes with
//! [`Frame::decode_request`] (or [`Codec::requests`]) and never parses a
//! frame only servers send; a client with [`Frame::decode_reply`] (or
//! [`Codec::replies`]). Encoding never panics ([`Frame::encode`] clamps
//! what the wire cannot carry, [`Frame::try_encode`] reports it).
//!
//! ```text
//! +------------------+-----------+----------------------+
//! | length: u32 BE   | opcode u8 | body (length-1 bytes) |
//! +------------------+-----------+----------------------+
//! ```

#![forbid(unsafe_code)]

pub mod codec;
pub mod delivery;
pub mod error;
pub mod frame;
pub mod message;
pub mod options;
pub mod wire;

pub use codec::{Codec, RawCodec, DEFAULT_MAX_FRAME};
pub use error::{
    cap_text, quote_prefix, CodecError, DecodeError, EncodeError, ErrorCode, MAX_ERROR_TEXT,
};
pub use frame::{
    frame_info, message_batch_header, message_header, op, opcode_name, Accept, Condition,
    Direction, Frame, FrameInfo, Gap, GapReason, Hello, RefKind, StartStatus, StateEntry,
    StateReply, StateStatus, Subscribed, Trailing, Welcome, FRAMES, PROTOCOL_VERSION,
};
pub use message::{BodyParts, Headers, Message, Publish, PublishRef, StateChange};
pub use options::{Policy, Start, SubscribeOptions};
// MESSAGE / MESSAGE_BATCH read in place (the load generator's hot path).
pub use delivery::MessageRef;
pub use wire::Text;
