//! Decoders of the bodies a client sends (and of PING/PONG, which both
//! sides send). A server decodes with these alone ([`super::Frame::decode_request`]),
//! so it never parses a body only a server sends. Each reads the fields in
//! protocol.md's order; the caller applies the trailing-bytes rule.

use super::{Condition, Frame, Hello};
use crate::error::DecodeError;
use crate::message::Publish;
use crate::options::SubscribeOptions;
use crate::wire::Reader;

pub(crate) fn hello(r: &mut Reader) -> Result<Frame, DecodeError> {
    Ok(Frame::Hello(Hello {
        version: r.u16("version")?,
        flags: r.u32("flags")?,
        client_name: r.str("client_name")?,
        auth_token: r.str("auth_token")?,
    }))
}

pub(crate) fn ping(r: &mut Reader) -> Result<Frame, DecodeError> {
    Ok(Frame::Ping(r.u64("token")?))
}

pub(crate) fn pong(r: &mut Reader) -> Result<Frame, DecodeError> {
    Ok(Frame::Pong(r.u64("token")?))
}

pub(crate) fn publish(r: &mut Reader) -> Result<Frame, DecodeError> {
    Ok(Frame::Publish(Publish::decode(r)?))
}

pub(crate) fn publish_batch(r: &mut Reader) -> Result<Frame, DecodeError> {
    let n = r.u16("count")? as usize;
    let mut v = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let entry = r.bytes("entry")?;
        v.push(Publish::decode(&mut Reader::new(
            "PUBLISH_BATCH entry",
            entry,
        ))?);
    }
    Ok(Frame::PublishBatch(v))
}

pub(crate) fn subscribe(r: &mut Reader) -> Result<Frame, DecodeError> {
    Ok(Frame::Subscribe {
        sub_id: r.u32("sub_id")?,
        pattern: r.str("pattern")?,
        options: SubscribeOptions::decode(r)?,
    })
}

pub(crate) fn unsubscribe(r: &mut Reader) -> Result<Frame, DecodeError> {
    Ok(Frame::Unsubscribe {
        sub_id: r.u32("sub_id")?,
    })
}

pub(crate) fn state_put(r: &mut Reader) -> Result<Frame, DecodeError> {
    Ok(Frame::StatePut {
        request_id: r.u32("request_id")?,
        topic: r.str("topic")?,
        key: r.str("key")?,
        condition: Condition::decode(r)?,
        value: r.rest(),
    })
}

pub(crate) fn state_del(r: &mut Reader) -> Result<Frame, DecodeError> {
    Ok(Frame::StateDel {
        request_id: r.u32("request_id")?,
        topic: r.str("topic")?,
        key: r.str("key")?,
        condition: Condition::decode(r)?,
    })
}

pub(crate) fn state_get(r: &mut Reader) -> Result<Frame, DecodeError> {
    Ok(Frame::StateGet {
        request_id: r.u32("request_id")?,
        topic: r.str("topic")?,
        key: r.str("key")?,
    })
}

pub(crate) fn state_list(r: &mut Reader) -> Result<Frame, DecodeError> {
    Ok(Frame::StateList {
        request_id: r.u32("request_id")?,
        topic: r.str("topic")?,
        after: r.str("after")?,
        limit: r.u32("limit")?,
    })
}
