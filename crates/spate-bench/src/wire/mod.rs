//! Protocol adapters: the few bytes each target broker needs to connect,
//! publish, subscribe and flush, and a parser that turns its replies into
//! [`Event`]s. Sans-IO like `spate-proto`: the tasks in `publisher.rs` and
//! `subscriber.rs` own the sockets, the adapters only make and read bytes.
//!
//! Patterns are written in the spate/NATS form (`*` one token, `>` the
//! rest); each adapter translates them for its broker.
//!
//! [`Wire`] is an enum rather than a trait object: the parser is called
//! once per socket read (not per message), and the hot per-message
//! callback stays a static closure.

pub mod forward;
mod nats;
mod redis;
mod spate;

pub use forward::ForwardWire;
pub use nats::NatsWire;
pub use redis::RedisWire;
pub use spate::SpateWire;

use crate::config::{BrokerKind, SubOptions};
use crate::error::BenchError;

/// What a broker said, as far as the load generator cares.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// The connection handshake completed.
    Ready,
    /// This many subscriptions are now confirmed live.
    Subscribed(u64),
    /// A delivered message's payload.
    Message(&'a [u8]),
    /// The broker reports this many messages lost (spate GAP).
    Gap(u64),
    /// The answer to a flush request.
    Pong,
    /// The broker reported an error.
    Error(String),
    /// Anything else (publish replies, informational lines).
    Other,
}

/// Which end of the benchmark a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends messages.
    Publisher,
    /// Receives messages.
    Subscriber,
}

/// A publish request for one topic, encoded once with a zeroed payload:
/// publishing copies it and overwrites the payload's stamp.
#[derive(Debug, Clone)]
pub struct Template {
    /// The whole request as sent on the wire.
    pub bytes: Vec<u8>,
    /// Offset of the payload's first byte in `bytes`.
    pub payload_at: usize,
}

/// One adapter per target broker.
#[derive(Debug)]
pub enum Wire {
    /// spate protocol v1.
    Spate(SpateWire),
    /// Core NATS text protocol.
    Nats(NatsWire),
    /// Redis RESP pub/sub.
    Redis(RedisWire),
    /// The byte forwarder's length-prefixed frames.
    Forward(ForwardWire),
}

impl Wire {
    /// A fresh adapter for one connection to a `kind` broker.
    pub fn new(kind: BrokerKind, opts: &SubOptions) -> Wire {
        match kind {
            BrokerKind::Spate => Wire::Spate(SpateWire::new(opts.clone())),
            BrokerKind::Nats => Wire::Nats(NatsWire::default()),
            BrokerKind::Redis => Wire::Redis(RedisWire::default()),
            BrokerKind::Forwarder => Wire::Forward(ForwardWire::default()),
        }
    }

    /// Bytes to send right after connecting; the broker answers with
    /// [`Event::Ready`].
    pub fn hello(&mut self, role: Role, out: &mut Vec<u8>) {
        match self {
            Wire::Spate(w) => w.hello(out),
            Wire::Nats(w) => w.hello(out),
            Wire::Redis(w) => w.hello(out),
            Wire::Forward(w) => w.hello(role, out),
        }
    }

    /// The publish request for `topic` with a `payload_len`-byte payload.
    pub fn publish_template(&self, topic: &str, payload_len: usize) -> Template {
        match self {
            Wire::Spate(w) => w.publish_template(topic, payload_len),
            Wire::Nats(w) => w.publish_template(topic, payload_len),
            Wire::Redis(w) => w.publish_template(topic, payload_len),
            Wire::Forward(w) => w.publish_template(payload_len),
        }
    }

    /// Appends the requests subscribing to each `(id, pattern)`; returns
    /// how many [`Event::Subscribed`] units confirm them all.
    pub fn subscribe(&mut self, subs: &[(u32, String)], out: &mut Vec<u8>) -> u64 {
        match self {
            Wire::Spate(w) => w.subscribe(subs, out),
            Wire::Nats(w) => w.subscribe(subs, out),
            Wire::Redis(w) => w.subscribe(subs, out),
            Wire::Forward(_) => 0,
        }
    }

    /// Appends a request the broker answers with [`Event::Pong`] only
    /// after it has processed everything sent before it. Returns false if
    /// the target has no such request (the forwarder).
    pub fn flush(&mut self, out: &mut Vec<u8>) -> bool {
        match self {
            Wire::Spate(w) => w.flush(out),
            Wire::Nats(w) => w.flush(out),
            Wire::Redis(w) => w.flush(out),
            Wire::Forward(_) => return false,
        }
        true
    }

    /// Parses complete replies at the start of `buf`, calling `sink` for
    /// each; keep-alive answers the broker expects go to `replies`.
    /// Returns the number of bytes consumed (a partial reply is left).
    pub fn parse(
        &mut self,
        buf: &[u8],
        replies: &mut Vec<u8>,
        sink: &mut impl FnMut(Event<'_>),
    ) -> Result<usize, BenchError> {
        match self {
            Wire::Spate(w) => w.parse(buf, replies, sink),
            Wire::Nats(w) => w.parse(buf, replies, sink),
            Wire::Redis(w) => w.parse(buf, sink),
            Wire::Forward(w) => w.parse(buf, sink),
        }
    }
}

/// Whether a pattern in spate/NATS form contains a wildcard.
pub fn is_pattern(p: &str) -> bool {
    p.split('.').any(|t| t == "*" || t == ">")
}

/// Parses an ASCII decimal, as in NATS and RESP length fields.
fn parse_decimal(b: &[u8]) -> Option<usize> {
    if b.is_empty() || b.len() > 19 {
        return None;
    }
    let mut n: usize = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as usize;
    }
    Some(n)
}

/// Position of the first `\r\n` in `buf` at or after `from`.
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let nl = buf.get(from..)?.iter().position(|&b| b == b'\n')? + from;
    (nl > from && buf[nl - 1] == b'\r').then_some(nl - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_and_crlf() {
        assert_eq!(parse_decimal(b"1024"), Some(1024));
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"1x"), None);
        assert_eq!(find_crlf(b"ab\r\ncd", 0), Some(2));
        assert_eq!(find_crlf(b"ab\r", 0), None);
        assert_eq!(find_crlf(b"a\nb", 0), None);
    }

    #[test]
    fn patterns() {
        assert!(is_pattern("a.*.c"));
        assert!(is_pattern("a.>"));
        assert!(!is_pattern("a.b*c"));
    }
}
