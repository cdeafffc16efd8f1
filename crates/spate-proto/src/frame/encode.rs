//! Body encoders of every frame, both directions, one function per frame
//! shape; the frame table ([`super::table`]) dispatches to them with the
//! variant's fields in order. They write through [`Enc`], so no length a
//! peer controls can make them panic: a field too long for its prefix is
//! clamped and reported ([`Frame::try_encode`]).

use bytes::{BufMut, Bytes, BytesMut};

use super::{Condition, Frame, Gap, Hello, RefKind, StateEntry, StateReply, Subscribed, Welcome};
use crate::error::EncodeError;
use crate::message::{Message, Publish};
use crate::options::SubscribeOptions;
use crate::wire::{Enc, Text};

impl Frame {
    /// Encodes the whole frame; returns the first field that had to be
    /// clamped, if any (the bytes written are well-formed either way).
    pub(super) fn encode_checked(&self, dst: &mut BytesMut) -> Option<EncodeError> {
        let start = dst.len();
        dst.put_u32(0); // patched below
        dst.put_u8(self.opcode());
        let mut e = Enc::new(dst);
        self.encode_body(&mut e);
        let mut err = e.finish();
        let len = dst.len() - start - 4;
        let len = u32::try_from(len).unwrap_or_else(|_| {
            err.get_or_insert(EncodeError::TooLong {
                field: "frame",
                len,
                max: u32::MAX as usize,
            });
            u32::MAX
        });
        dst[start..start + 4].copy_from_slice(&len.to_be_bytes());
        err
    }
}

pub(super) fn hello(e: &mut Enc, h: &Hello) {
    e.dst.put_u16(h.version);
    e.dst.put_u32(h.flags);
    e.str("client_name", &h.client_name);
    e.str("auth_token", &h.auth_token);
}

/// PING and PONG.
pub(super) fn token(e: &mut Enc, token: &u64) {
    e.dst.put_u64(*token);
}

pub(super) fn publish(e: &mut Enc, p: &Publish) {
    p.encode(e);
}

pub(super) fn publish_batch(e: &mut Enc, v: &[Publish]) {
    let n = e.count16("count", v.len());
    for p in &v[..n] {
        e.len32("entry", p.encoded_len());
        p.encode(e);
    }
}

pub(super) fn subscribe(e: &mut Enc, sub_id: &u32, pattern: &Text, options: &SubscribeOptions) {
    e.dst.put_u32(*sub_id);
    e.str("pattern", pattern);
    options.encode(e.dst);
}

/// UNSUBSCRIBE and UNSUBSCRIBED.
pub(super) fn sub_id(e: &mut Enc, sub_id: &u32) {
    e.dst.put_u32(*sub_id);
}

pub(super) fn state_put(
    e: &mut Enc,
    request_id: &u32,
    topic: &Text,
    key: &Text,
    condition: &Condition,
    value: &Bytes,
) {
    state_del(e, request_id, topic, key, condition);
    e.dst.put_slice(value);
}

pub(super) fn state_del(
    e: &mut Enc,
    request_id: &u32,
    topic: &Text,
    key: &Text,
    condition: &Condition,
) {
    state_get(e, request_id, topic, key);
    let (c, rev) = condition.wire();
    e.dst.put_u8(c);
    e.dst.put_u64(rev);
}

pub(super) fn state_get(e: &mut Enc, request_id: &u32, topic: &Text, key: &Text) {
    e.dst.put_u32(*request_id);
    e.str("topic", topic);
    e.str("key", key);
}

pub(super) fn state_list(e: &mut Enc, request_id: &u32, topic: &Text, after: &Text, limit: &u32) {
    e.dst.put_u32(*request_id);
    e.str("topic", topic);
    e.str("after", after);
    e.dst.put_u32(*limit);
}

pub(super) fn welcome(e: &mut Enc, w: &Welcome) {
    e.dst.put_u16(w.version);
    e.str("server", &w.server);
    e.dst.put_u64(w.server_id);
    e.dst.put_u32(w.max_frame);
    e.dst.put_u32(w.max_subscriptions);
    e.dst.put_u16(w.max_topic_len);
    e.dst.put_u32(w.ping_interval_ms);
}

pub(super) fn pub_ack(
    e: &mut Enc,
    request_id: &u32,
    epoch: &u64,
    seq: &u64,
    timestamp_us: &u64,
    receivers: &u32,
) {
    e.dst.put_u32(*request_id);
    e.dst.put_u64(*epoch);
    e.dst.put_u64(*seq);
    e.dst.put_u64(*timestamp_us);
    e.dst.put_u32(*receivers);
}

pub(super) fn message(e: &mut Enc, sub_id: &u32, message: &Message) {
    e.dst.put_u32(*sub_id);
    message.encode_checked(e);
}

pub(super) fn message_batch(e: &mut Enc, sub_id: &u32, messages: &[Message]) {
    e.dst.put_u32(*sub_id);
    let n = e.count16("count", messages.len());
    for m in &messages[..n] {
        e.len32("entry", m.body_len());
        m.encode_checked(e);
    }
}

pub(super) fn subscribed(e: &mut Enc, s: &Subscribed) {
    e.dst.put_u32(s.sub_id);
    e.dst.put_u8(s.policy as u8);
    e.dst.put_u32(s.queue_msgs);
    e.dst.put_u64(s.queue_bytes);
    e.dst.put_u8(s.start as u8);
    e.dst.put_u64(s.epoch);
    e.dst.put_u64(s.first_seq);
    e.dst.put_u64(s.last_seq);
}

pub(super) fn gap(e: &mut Enc, g: &Gap) {
    e.dst.put_u32(g.sub_id);
    e.dst.put_u8(g.reason as u8);
    e.dst.put_u64(g.count);
    e.dst.put_u64(g.first_seq);
    e.dst.put_u64(g.last_seq);
    e.str("topic", &g.topic);
}

pub(super) fn state_reply(e: &mut Enc, r: &StateReply) {
    e.dst.put_u32(r.request_id);
    e.dst.put_u8(r.status as u8);
    e.dst.put_u64(r.revision);
    match &r.value {
        None => e.dst.put_u8(0),
        Some(v) => {
            e.dst.put_u8(1);
            e.dst.put_slice(v);
        }
    }
}

pub(super) fn state_list_reply(e: &mut Enc, request_id: &u32, more: &bool, entries: &[StateEntry]) {
    e.dst.put_u32(*request_id);
    e.dst.put_u8(*more as u8);
    let n = e.count32("count", entries.len());
    for en in &entries[..n] {
        e.str("key", &en.key);
        e.dst.put_u64(en.revision);
        e.bytes("value", &en.value);
    }
}

/// ERROR; `ref_kind` is written when known (always, from a server).
pub(super) fn error(
    e: &mut Enc,
    code: &u16,
    reference: &u32,
    message: &Text,
    ref_kind: &Option<RefKind>,
) {
    e.dst.put_u16(*code);
    e.dst.put_u32(*reference);
    e.str("message", message);
    if let Some(k) = ref_kind {
        e.dst.put_u8(*k as u8);
    }
}

pub(super) fn goaway(e: &mut Enc, drain_ms: &u32, reason: &Text) {
    e.dst.put_u32(*drain_ms);
    e.str("reason", reason);
}
