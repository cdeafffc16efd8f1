//! Decoders of the bodies a server sends. A client decodes with these
//! (and the PING/PONG decoders) alone ([`super::Frame::decode_reply`]).
//! Each reads the fields in protocol.md's order; the caller applies the
//! trailing-bytes rule.

use super::{
    Frame, Gap, GapReason, RefKind, StartStatus, StateEntry, StateReply, StateStatus, Subscribed,
    Welcome,
};
use crate::error::DecodeError;
use crate::message::Message;
use crate::options::Policy;
use crate::wire::Reader;

pub(crate) fn welcome(r: &mut Reader) -> Result<Frame, DecodeError> {
    Ok(Frame::Welcome(Welcome {
        version: r.u16("version")?,
        server: r.str("server")?,
        server_id: r.u64("server_id")?,
        max_frame: r.u32("max_frame")?,
        max_subscriptions: r.u32("max_subscriptions")?,
        max_topic_len: r.u16("max_topic_len")?,
        ping_interval_ms: r.u32("ping_interval_ms")?,
    }))
}

pub(crate) fn pub_ack(r: &mut Reader) -> Result<Frame, DecodeError> {
    Ok(Frame::PubAck {
        request_id: r.u32("request_id")?,
        epoch: r.u64("epoch")?,
        seq: r.u64("seq")?,
        timestamp_us: r.u64("timestamp_us")?,
        receivers: r.u32("receivers")?,
    })
}

pub(crate) fn message(r: &mut Reader) -> Result<Frame, DecodeError> {
    Ok(Frame::Message {
        sub_id: r.u32("sub_id")?,
        message: Message::decode(r)?,
    })
}

pub(crate) fn message_batch(r: &mut Reader) -> Result<Frame, DecodeError> {
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
    Ok(Frame::MessageBatch { sub_id, messages })
}

pub(crate) fn subscribed(r: &mut Reader) -> Result<Frame, DecodeError> {
    let sub_id = r.u32("sub_id")?;
    let policy = r.u8("policy")?;
    let policy = Policy::from_u8(policy).ok_or_else(|| r.invalid("policy", "unknown policy"))?;
    let queue_msgs = r.u32("queue_msgs")?;
    let queue_bytes = r.u64("queue_bytes")?;
    let start = r.u8("start")?;
    let start =
        StartStatus::from_u8(start).ok_or_else(|| r.invalid("start", "unknown start status"))?;
    Ok(Frame::Subscribed(Subscribed {
        sub_id,
        policy,
        queue_msgs,
        queue_bytes,
        start,
        epoch: r.u64("epoch")?,
        first_seq: r.u64("first_seq")?,
        last_seq: r.u64("last_seq")?,
    }))
}

pub(crate) fn unsubscribed(r: &mut Reader) -> Result<Frame, DecodeError> {
    Ok(Frame::Unsubscribed {
        sub_id: r.u32("sub_id")?,
    })
}

pub(crate) fn gap(r: &mut Reader) -> Result<Frame, DecodeError> {
    let sub_id = r.u32("sub_id")?;
    let reason = r.u8("reason")?;
    let reason =
        GapReason::from_u8(reason).ok_or_else(|| r.invalid("reason", "unknown gap reason"))?;
    Ok(Frame::Gap(Gap {
        sub_id,
        reason,
        count: r.u64("count")?,
        first_seq: r.u64("first_seq")?,
        last_seq: r.u64("last_seq")?,
        topic: r.str("topic")?,
    }))
}

pub(crate) fn state_reply(r: &mut Reader) -> Result<Frame, DecodeError> {
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
    Ok(Frame::StateReply(StateReply {
        request_id,
        status,
        revision,
        value,
    }))
}

pub(crate) fn state_list_reply(r: &mut Reader) -> Result<Frame, DecodeError> {
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
    Ok(Frame::StateListReply {
        request_id,
        more,
        entries,
    })
}

/// ERROR; its trailing `ref_kind` is optional (older v1 servers do not
/// send it).
pub(crate) fn error(r: &mut Reader) -> Result<Frame, DecodeError> {
    let code = r.u16("code")?;
    let reference = r.u32("reference")?;
    let message = r.str("message")?;
    let ref_kind = if r.remaining() > 0 {
        let k = r.u8("ref_kind")?;
        Some(RefKind::from_u8(k).ok_or_else(|| r.invalid("ref_kind", "unknown reference kind"))?)
    } else {
        None
    };
    Ok(Frame::Error {
        code,
        reference,
        message,
        ref_kind,
    })
}

pub(crate) fn goaway(r: &mut Reader) -> Result<Frame, DecodeError> {
    Ok(Frame::GoAway {
        drain_ms: r.u32("drain_ms")?,
        reason: r.str("reason")?,
    })
}
