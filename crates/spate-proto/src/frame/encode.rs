//! Body encoders of every frame, both directions. They write through
//! [`Enc`], so no length a peer controls can make them panic: a field too
//! long for its prefix is clamped and reported ([`Frame::try_encode`]).

use bytes::{BufMut, BytesMut};

use super::Frame;
use crate::error::EncodeError;
use crate::wire::Enc;

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

    fn encode_body(&self, e: &mut Enc) {
        match self {
            Frame::Hello(h) => {
                e.dst.put_u16(h.version);
                e.dst.put_u32(h.flags);
                e.str("client_name", &h.client_name);
                e.str("auth_token", &h.auth_token);
            }
            Frame::Ping(t) | Frame::Pong(t) => e.dst.put_u64(*t),
            Frame::Publish(p) => p.encode(e),
            Frame::PublishBatch(v) => {
                let n = e.count16("count", v.len());
                for p in &v[..n] {
                    e.len32("entry", p.encoded_len());
                    p.encode(e);
                }
            }
            Frame::Subscribe {
                sub_id,
                pattern,
                options,
            } => {
                e.dst.put_u32(*sub_id);
                e.str("pattern", pattern);
                options.encode(e.dst);
            }
            Frame::Unsubscribe { sub_id } | Frame::Unsubscribed { sub_id } => {
                e.dst.put_u32(*sub_id)
            }
            Frame::StatePut {
                request_id,
                topic,
                key,
                condition,
                value,
            } => {
                e.dst.put_u32(*request_id);
                e.str("topic", topic);
                e.str("key", key);
                put_condition(e, *condition);
                e.dst.put_slice(value);
            }
            Frame::StateDel {
                request_id,
                topic,
                key,
                condition,
            } => {
                e.dst.put_u32(*request_id);
                e.str("topic", topic);
                e.str("key", key);
                put_condition(e, *condition);
            }
            Frame::StateGet {
                request_id,
                topic,
                key,
            } => {
                e.dst.put_u32(*request_id);
                e.str("topic", topic);
                e.str("key", key);
            }
            Frame::StateList {
                request_id,
                topic,
                after,
                limit,
            } => {
                e.dst.put_u32(*request_id);
                e.str("topic", topic);
                e.str("after", after);
                e.dst.put_u32(*limit);
            }
            Frame::Welcome(w) => {
                e.dst.put_u16(w.version);
                e.str("server", &w.server);
                e.dst.put_u64(w.server_id);
                e.dst.put_u32(w.max_frame);
                e.dst.put_u32(w.max_subscriptions);
                e.dst.put_u16(w.max_topic_len);
                e.dst.put_u32(w.ping_interval_ms);
            }
            Frame::PubAck {
                request_id,
                epoch,
                seq,
                timestamp_us,
                receivers,
            } => {
                e.dst.put_u32(*request_id);
                e.dst.put_u64(*epoch);
                e.dst.put_u64(*seq);
                e.dst.put_u64(*timestamp_us);
                e.dst.put_u32(*receivers);
            }
            Frame::Message { sub_id, message } => {
                e.dst.put_u32(*sub_id);
                message.encode_checked(e);
            }
            Frame::MessageBatch { sub_id, messages } => {
                e.dst.put_u32(*sub_id);
                let n = e.count16("count", messages.len());
                for m in &messages[..n] {
                    e.len32("entry", m.body_len());
                    m.encode_checked(e);
                }
            }
            Frame::Subscribed(s) => {
                e.dst.put_u32(s.sub_id);
                e.dst.put_u8(s.policy as u8);
                e.dst.put_u32(s.queue_msgs);
                e.dst.put_u64(s.queue_bytes);
                e.dst.put_u8(s.start as u8);
                e.dst.put_u64(s.epoch);
                e.dst.put_u64(s.first_seq);
                e.dst.put_u64(s.last_seq);
            }
            Frame::Gap(g) => {
                e.dst.put_u32(g.sub_id);
                e.dst.put_u8(g.reason as u8);
                e.dst.put_u64(g.count);
                e.dst.put_u64(g.first_seq);
                e.dst.put_u64(g.last_seq);
                e.str("topic", &g.topic);
            }
            Frame::StateReply(s) => {
                e.dst.put_u32(s.request_id);
                e.dst.put_u8(s.status as u8);
                e.dst.put_u64(s.revision);
                match &s.value {
                    None => e.dst.put_u8(0),
                    Some(v) => {
                        e.dst.put_u8(1);
                        e.dst.put_slice(v);
                    }
                }
            }
            Frame::StateListReply {
                request_id,
                more,
                entries,
            } => {
                e.dst.put_u32(*request_id);
                e.dst.put_u8(*more as u8);
                let n = e.count32("count", entries.len());
                for en in &entries[..n] {
                    e.str("key", &en.key);
                    e.dst.put_u64(en.revision);
                    e.bytes("value", &en.value);
                }
            }
            Frame::Error {
                code,
                reference,
                message,
                ref_kind,
            } => {
                e.dst.put_u16(*code);
                e.dst.put_u32(*reference);
                e.str("message", message);
                if let Some(k) = ref_kind {
                    e.dst.put_u8(*k as u8);
                }
            }
            Frame::GoAway { drain_ms, reason } => {
                e.dst.put_u32(*drain_ms);
                e.str("reason", reason);
            }
        }
    }
}

fn put_condition(e: &mut Enc, c: super::Condition) {
    let (c, rev) = c.wire();
    e.dst.put_u8(c);
    e.dst.put_u64(rev);
}
