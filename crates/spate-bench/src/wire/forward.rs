//! The byte forwarder's framing (see `forwarder.rs`): one role byte on
//! connect (`P` publisher, `S` subscriber) answered by `K`, then frames of
//! `u32 length (big-endian), payload`. There are no topics and no
//! subscribe requests: every subscriber receives every publisher's bytes.

use super::{Event, Role, Template};
use crate::error::BenchError;

/// Role byte a publisher sends on connect.
pub const ROLE_PUBLISHER: u8 = b'P';
/// Role byte a subscriber sends on connect.
pub const ROLE_SUBSCRIBER: u8 = b'S';
/// The forwarder's answer once the connection is registered.
pub const READY: u8 = b'K';

/// Adapter state for one forwarder connection.
#[derive(Debug, Default)]
pub struct ForwardWire {
    ready: bool,
}

impl ForwardWire {
    pub(super) fn hello(&mut self, role: Role, out: &mut Vec<u8>) {
        out.push(match role {
            Role::Publisher => ROLE_PUBLISHER,
            Role::Subscriber => ROLE_SUBSCRIBER,
        });
    }

    pub(super) fn publish_template(&self, payload_len: usize) -> Template {
        let mut bytes = (payload_len as u32).to_be_bytes().to_vec();
        bytes.resize(4 + payload_len, 0);
        Template {
            bytes,
            payload_at: 4,
        }
    }

    pub(super) fn parse(
        &mut self,
        buf: &[u8],
        sink: &mut impl FnMut(Event<'_>),
    ) -> Result<usize, BenchError> {
        let mut pos = 0;
        if !self.ready {
            match buf.first() {
                None => return Ok(0),
                Some(&READY) => {
                    self.ready = true;
                    sink(Event::Ready);
                    pos = 1;
                }
                Some(b) => return Err(BenchError::Protocol(format!("forwarder sent {b:#x}"))),
            }
        }
        while let Some(h) = buf.get(pos..pos + 4) {
            let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
            let Some(p) = buf.get(pos + 4..pos + 4 + len) else {
                break;
            };
            sink(Event::Message(p));
            pos += 4 + len;
        }
        Ok(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_then_frames() {
        let mut w = ForwardWire::default();
        let mut n = 0;
        let used = w
            .parse(b"K\0\0\0\x02hi\0\0\0\x05ab", &mut |e| {
                if matches!(e, Event::Message(b"hi") | Event::Ready) {
                    n += 1;
                }
            })
            .unwrap();
        assert_eq!((n, used), (2, 7));
    }
}
