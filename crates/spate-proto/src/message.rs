//! The two message shapes: what a publisher sends ([`Publish`]) and what a
//! subscriber receives ([`Message`]).
//!
//! A MESSAGE frame is `[len][0x91][sub_id]` followed by the *message body*.
//! The body holds nothing subscriber-specific, so the server encodes it once
//! per publish ([`Message::encode_body`]) and shares the same bytes with
//! every subscriber, prefixing only the 9-byte per-subscriber header
//! ([`crate::frame::message_header`]).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::DecodeError;
use crate::wire::{str_len, Enc, Reader, Text};

/// Most headers one message may carry.
pub const MAX_HEADERS: usize = 64;

/// PUBLISH flag: the server replies with PUB_ACK.
pub const PUB_ACK: u8 = 0x80;
/// Body flag (PUBLISH and MESSAGE): a `key` field is present.
pub const HAS_KEY: u8 = 0x01;
/// Body flag (PUBLISH and MESSAGE): a `headers` field is present.
pub const HAS_HEADERS: u8 = 0x02;
/// MESSAGE flag: this message records a state PUT of `key`.
pub const STATE_PUT: u8 = 0x04;
/// MESSAGE flag: this message records a state DELETE of `key` (payload empty).
pub const STATE_DELETE: u8 = 0x08;

const PUBLISH_FLAGS: u8 = PUB_ACK | HAS_KEY | HAS_HEADERS;
const MESSAGE_FLAGS: u8 = HAS_KEY | HAS_HEADERS | STATE_PUT | STATE_DELETE;

/// Header name/value pairs, in the order sent.
pub type Headers = Vec<(Text, Text)>;

/// A PUBLISH request (also each entry of PUBLISH_BATCH).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Publish {
    /// Client-chosen id echoed in PUB_ACK and in any ERROR about this
    /// publish. 0 is allowed but cannot be told apart from connection errors.
    pub request_id: u32,
    /// Ask the server for a PUB_ACK.
    pub ack: bool,
    /// Topic name (no wildcards).
    pub topic: Text,
    /// Optional key: conflation and state use it.
    pub key: Option<Text>,
    /// Optional headers.
    pub headers: Headers,
    /// Opaque payload.
    pub payload: Bytes,
}

impl Publish {
    pub(crate) fn decode(r: &mut Reader) -> Result<Publish, DecodeError> {
        let request_id = r.u32("request_id")?;
        let flags = r.u8("flags")?;
        if flags & !PUBLISH_FLAGS != 0 {
            return Err(r.invalid("flags", "unknown flag bits set"));
        }
        let topic = r.str("topic")?;
        let key = if flags & HAS_KEY != 0 {
            Some(r.str("key")?)
        } else {
            None
        };
        let headers = if flags & HAS_HEADERS != 0 {
            decode_headers(r)?
        } else {
            Vec::new()
        };
        Ok(Publish {
            request_id,
            ack: flags & PUB_ACK != 0,
            topic,
            key,
            headers,
            payload: r.rest(),
        })
    }

    /// Encoded size of the PUBLISH body.
    pub fn encoded_len(&self) -> usize {
        4 + 1
            + str_len(&self.topic)
            + self.key.as_ref().map_or(0, |k| str_len(k))
            + headers_len(&self.headers)
            + self.payload.len()
    }

    pub(crate) fn encode(&self, e: &mut Enc) {
        let mut flags = 0;
        if self.ack {
            flags |= PUB_ACK;
        }
        if self.key.is_some() {
            flags |= HAS_KEY;
        }
        if !self.headers.is_empty() {
            flags |= HAS_HEADERS;
        }
        e.dst.put_u32(self.request_id);
        e.dst.put_u8(flags);
        e.str("topic", &self.topic);
        if let Some(k) = &self.key {
            e.str("key", k);
        }
        if !self.headers.is_empty() {
            encode_headers(e, &self.headers);
        }
        e.dst.put_slice(&self.payload);
    }
}

/// A PUBLISH seen in place: its fields borrowed from a decoded [`Publish`]
/// or straight from the receive buffer ([`PublishRef::parse`]), so handing
/// a run of publishes to the broker copies nothing and touches no reference
/// count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishRef<'a> {
    /// As [`Publish::request_id`].
    pub request_id: u32,
    /// As [`Publish::ack`].
    pub ack: bool,
    /// As [`Publish::topic`].
    pub topic: &'a str,
    /// As [`Publish::key`].
    pub key: Option<&'a str>,
    /// As [`Publish::headers`].
    pub headers: &'a [(Text, Text)],
    /// As [`Publish::payload`].
    pub payload: &'a [u8],
}

impl<'a> PublishRef<'a> {
    /// Reads a PUBLISH body (the bytes after the opcode) in place. Only the
    /// common shape is read this way — no headers, known flags, valid UTF-8
    /// — and `None` means "decode it with [`crate::Frame::decode_request`]", which
    /// also reports exactly what is wrong with a malformed body. Whatever
    /// this accepts, `Publish::decode` decodes to the same fields.
    pub fn parse(body: &'a [u8]) -> Option<PublishRef<'a>> {
        let (head, rest) = body.split_first_chunk::<5>()?;
        let flags = head[4];
        if flags & !(PUB_ACK | HAS_KEY) != 0 {
            return None;
        }
        let (topic, rest) = str_in_place(rest)?;
        let (key, payload) = if flags & HAS_KEY != 0 {
            let (k, rest) = str_in_place(rest)?;
            (Some(k), rest)
        } else {
            (None, rest)
        };
        Some(PublishRef {
            request_id: u32::from_be_bytes([head[0], head[1], head[2], head[3]]),
            ack: flags & PUB_ACK != 0,
            topic,
            key,
            headers: &[],
            payload,
        })
    }
}

impl<'a> From<&'a Publish> for PublishRef<'a> {
    fn from(p: &'a Publish) -> PublishRef<'a> {
        PublishRef {
            request_id: p.request_id,
            ack: p.ack,
            topic: &p.topic,
            key: p.key.as_deref(),
            headers: &p.headers,
            payload: &p.payload,
        }
    }
}

/// A `str` field (u16 length, UTF-8) at the front of `b`, and what follows.
fn str_in_place(b: &[u8]) -> Option<(&str, &[u8])> {
    let (len, rest) = b.split_first_chunk::<2>()?;
    let n = u16::from_be_bytes(*len) as usize;
    let (s, rest) = rest.split_at_checked(n)?;
    Some((std::str::from_utf8(s).ok()?, rest))
}

/// A delivered message: the shared MESSAGE body, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// Epoch of the topic's history this seq belongs to.
    pub epoch: u64,
    /// Per-topic sequence number, from 1.
    pub seq: u64,
    /// Server time of the publish, microseconds since the Unix epoch.
    pub timestamp_us: u64,
    /// The message records a state change (PUT or DELETE of `key`).
    pub state: Option<StateChange>,
    /// Topic the message was published to.
    pub topic: Text,
    /// Key, if the publisher gave one.
    pub key: Option<Text>,
    /// Headers, if any.
    pub headers: Headers,
    /// Payload (empty for a state DELETE).
    pub payload: Bytes,
}

/// What kind of state change a message records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateChange {
    /// The key was set to the payload; its revision is the message's seq.
    Put,
    /// The key was deleted.
    Delete,
}

impl Message {
    /// Decodes a message body (the part after `sub_id`).
    pub fn decode_body(body: Bytes) -> Result<Message, DecodeError> {
        let mut r = Reader::new("MESSAGE", body);
        Message::decode(&mut r)
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Message, DecodeError> {
        let epoch = r.u64("epoch")?;
        let seq = r.u64("seq")?;
        let timestamp_us = r.u64("timestamp_us")?;
        let flags = r.u8("flags")?;
        if flags & !MESSAGE_FLAGS != 0 {
            return Err(r.invalid("flags", "unknown flag bits set"));
        }
        let state = match (flags & STATE_PUT != 0, flags & STATE_DELETE != 0) {
            (false, false) => None,
            (true, false) => Some(StateChange::Put),
            (false, true) => Some(StateChange::Delete),
            (true, true) => return Err(r.invalid("flags", "both PUT and DELETE set")),
        };
        let topic = r.str("topic")?;
        let key = if flags & HAS_KEY != 0 {
            Some(r.str("key")?)
        } else {
            None
        };
        let headers = if flags & HAS_HEADERS != 0 {
            decode_headers(r)?
        } else {
            Vec::new()
        };
        Ok(Message {
            epoch,
            seq,
            timestamp_us,
            state,
            topic,
            key,
            headers,
            payload: r.rest(),
        })
    }

    /// Encoded size of the body.
    pub fn body_len(&self) -> usize {
        self.parts().len()
    }

    /// Encodes the shared body into a fresh buffer, sized exactly.
    pub fn encode_body(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(self.body_len());
        self.encode_body_into(&mut b);
        b.freeze()
    }

    /// Appends the shared body to `dst`.
    pub fn encode_body_into(&self, dst: &mut BytesMut) {
        self.parts().encode_into(dst);
    }

    /// Appends the shared body, recording any clamped field in `e`.
    pub(crate) fn encode_checked(&self, e: &mut Enc) {
        self.parts().encode_checked(e);
    }

    /// The body's fields by reference.
    fn parts(&self) -> BodyParts<'_> {
        BodyParts {
            epoch: self.epoch,
            seq: self.seq,
            timestamp_us: self.timestamp_us,
            state: self.state,
            topic: &self.topic,
            key: self.key.as_deref(),
            headers: &self.headers,
            payload: &self.payload,
        }
    }
}

/// The fields of a message body by reference: lets the server encode the
/// shared body straight from a PUBLISH without building a [`Message`].
#[derive(Debug, Clone, Copy)]
pub struct BodyParts<'a> {
    /// Topic epoch.
    pub epoch: u64,
    /// Sequence number.
    pub seq: u64,
    /// Server timestamp, µs since the Unix epoch.
    pub timestamp_us: u64,
    /// State change recorded, if any.
    pub state: Option<StateChange>,
    /// Topic.
    pub topic: &'a str,
    /// Key.
    pub key: Option<&'a str>,
    /// Headers.
    pub headers: &'a [(Text, Text)],
    /// Payload.
    pub payload: &'a [u8],
}

impl BodyParts<'_> {
    /// Encoded size.
    pub fn len(&self) -> usize {
        8 + 8
            + 8
            + 1
            + str_len(self.topic)
            + self.key.map_or(0, str_len)
            + headers_len(self.headers)
            + self.payload.len()
    }

    /// Never empty: a body always holds its fixed fields.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Encodes into a fresh, exactly sized buffer.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(self.len());
        self.encode_into(&mut b);
        b.freeze()
    }

    /// Appends the body to `dst`. Never panics: an over-long field is
    /// clamped as [`crate::Frame::encode`] describes.
    pub fn encode_into(&self, dst: &mut BytesMut) {
        self.encode_checked(&mut Enc::new(dst));
    }

    /// Appends the body, recording any clamped field in `e`.
    pub(crate) fn encode_checked(&self, e: &mut Enc) {
        let mut flags = 0;
        if self.key.is_some() {
            flags |= HAS_KEY;
        }
        if !self.headers.is_empty() {
            flags |= HAS_HEADERS;
        }
        match self.state {
            Some(StateChange::Put) => flags |= STATE_PUT,
            Some(StateChange::Delete) => flags |= STATE_DELETE,
            None => {}
        }
        e.dst.put_u64(self.epoch);
        e.dst.put_u64(self.seq);
        e.dst.put_u64(self.timestamp_us);
        e.dst.put_u8(flags);
        e.str("topic", self.topic);
        if let Some(k) = self.key {
            e.str("key", k);
        }
        if !self.headers.is_empty() {
            encode_headers(e, self.headers);
        }
        e.dst.put_slice(self.payload);
    }
}

/// Offset of the topic's `str` field inside a message body: after epoch,
/// seq, timestamp (8 bytes each) and flags (1).
pub const BODY_TOPIC_OFFSET: usize = 25;

/// Reads `seq` from an encoded message body without decoding the rest.
pub fn body_seq(body: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(body.get(8..16)?.try_into().ok()?))
}

fn decode_headers(r: &mut Reader) -> Result<Headers, DecodeError> {
    let n = r.u16("header_count")? as usize;
    if n > MAX_HEADERS {
        return Err(r.invalid("header_count", "more than 64 headers"));
    }
    let mut h = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.str("header_name")?;
        let value = r.str("header_value")?;
        h.push((name, value));
    }
    Ok(h)
}

fn encode_headers(e: &mut Enc, h: &[(Text, Text)]) {
    let n = e.count16("header_count", h.len());
    for (n, v) in &h[..n] {
        e.str("header_name", n);
        e.str("header_value", v);
    }
}

fn headers_len(h: &[(Text, Text)]) -> usize {
    if h.is_empty() {
        0
    } else {
        2 + h
            .iter()
            .take(u16::MAX as usize)
            .map(|(n, v)| str_len(n) + str_len(v))
            .sum::<usize>()
    }
}
