//! spate protocol v1 through `spate-proto`: HELLO/WELCOME, PUBLISH frames
//! pipelined without acks, SUBSCRIBE with the run's options, and MESSAGE,
//! MESSAGE_BATCH and GAP deliveries.
//!
//! Control frames are decoded with the crate's [`Frame::decode_reply`]. The
//! two delivery frames are read in place with `spate_proto::delivery`'s
//! payload readers (the same layout and checks, borrowed: no `Bytes` or
//! `Vec` per message, and no UTF-8 check of the topic it does not read),
//! because the generator reads every message S times over and must not
//! become the bottleneck it is trying to measure.

use bytes::{Bytes, BytesMut};
use spate_proto::{delivery, op, Frame, Hello, Publish, SubscribeOptions, Text, PROTOCOL_VERSION};

use super::{Event, Template};
use crate::config::SubOptions;
use crate::error::BenchError;

/// Largest frame the adapter accepts from the server.
const MAX_FRAME: usize = 16 * 1024 * 1024;

/// Adapter state for one spate connection.
#[derive(Debug)]
pub struct SpateWire {
    opts: SubOptions,
    ping_token: u64,
}

impl SpateWire {
    /// An adapter whose SUBSCRIBEs carry `opts`.
    pub fn new(opts: SubOptions) -> SpateWire {
        SpateWire {
            opts,
            ping_token: 0,
        }
    }

    pub(super) fn hello(&mut self, out: &mut Vec<u8>) {
        put(
            out,
            &Frame::Hello(Hello {
                version: PROTOCOL_VERSION,
                flags: 0,
                client_name: Text::from_static("spate-bench"),
                // h-auth: the same SPATE_TOKEN the other commands read.
                auth_token: std::env::var("SPATE_TOKEN")
                    .map_or_else(|_| Text::default(), Text::from),
            }),
        );
    }

    pub(super) fn publish_template(&self, topic: &str, payload_len: usize) -> Template {
        let frame = Frame::Publish(Publish {
            request_id: 0,
            ack: false,
            topic: Text::from(topic),
            key: None,
            headers: Vec::new(),
            payload: Bytes::from(vec![0u8; payload_len]),
        });
        let bytes = frame.to_bytes().to_vec();
        let payload_at = bytes.len() - payload_len;
        Template { bytes, payload_at }
    }

    pub(super) fn subscribe(&mut self, subs: &[(u32, String)], out: &mut Vec<u8>) -> u64 {
        let options = SubscribeOptions {
            policy: self.opts.policy,
            queue_msgs: self.opts.queue_msgs,
            queue_bytes: self.opts.queue_bytes,
            max_batch: self.opts.max_batch,
            ..SubscribeOptions::default()
        };
        for (id, pattern) in subs {
            put(
                out,
                &Frame::Subscribe {
                    sub_id: *id,
                    pattern: Text::from(pattern.as_str()),
                    options: options.clone(),
                },
            );
        }
        subs.len() as u64
    }

    pub(super) fn flush(&mut self, out: &mut Vec<u8>) {
        self.ping_token += 1;
        put(out, &Frame::Ping(self.ping_token));
    }

    pub(super) fn parse(
        &mut self,
        buf: &[u8],
        replies: &mut Vec<u8>,
        sink: &mut impl FnMut(Event<'_>),
    ) -> Result<usize, BenchError> {
        let mut pos = 0;
        while let Some(head) = buf.get(pos..pos + 5) {
            let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
            if len == 0 || len > MAX_FRAME {
                return Err(BenchError::Protocol(format!("frame length {len}")));
            }
            let Some(body) = buf.get(pos + 5..pos + 4 + len) else {
                break;
            };
            match head[4] {
                op::MESSAGE => sink(Event::Message(
                    delivery::message_payload(body).map_err(proto)?.1,
                )),
                op::MESSAGE_BATCH => {
                    delivery::message_batch_payloads(body, |p| sink(Event::Message(p)))
                        .map_err(proto)?;
                }
                opcode => self.control(opcode, body, replies, sink)?,
            }
            pos += 4 + len;
        }
        Ok(pos)
    }

    fn control(
        &mut self,
        opcode: u8,
        body: &[u8],
        replies: &mut Vec<u8>,
        sink: &mut impl FnMut(Event<'_>),
    ) -> Result<(), BenchError> {
        let frame = Frame::decode_reply(opcode, Bytes::copy_from_slice(body)).map_err(proto)?;
        match frame {
            Frame::Welcome(_) => sink(Event::Ready),
            Frame::Subscribed(_) => sink(Event::Subscribed(1)),
            Frame::Gap(g) => sink(Event::Gap(g.count)),
            Frame::Ping(t) => put(replies, &Frame::Pong(t)),
            Frame::Pong(_) => sink(Event::Pong),
            Frame::Error { code, message, .. } => {
                sink(Event::Error(format!("ERROR {code}: {message}")))
            }
            Frame::GoAway { reason, .. } => sink(Event::Error(format!("GOAWAY: {reason}"))),
            _ => sink(Event::Other),
        }
        Ok(())
    }
}

fn put(out: &mut Vec<u8>, frame: &Frame) {
    let mut b = BytesMut::new();
    frame.encode(&mut b);
    out.extend_from_slice(&b);
}

fn proto(e: spate_proto::DecodeError) -> BenchError {
    BenchError::Protocol(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use spate_proto::{Gap, GapReason, Message};

    fn msg(payload: &'static [u8], key: bool) -> Message {
        Message {
            epoch: 1,
            seq: 9,
            timestamp_us: 5,
            topic: Text::from("a.b"),
            key: key.then(|| Text::from("k")),
            headers: vec![(Text::from("h"), Text::from("v"))],
            payload: Bytes::from_static(payload),
            ..Message::default()
        }
    }

    fn parse_all(frames: &[Frame]) -> (Vec<Vec<u8>>, u64, usize) {
        let mut buf = Vec::new();
        for f in frames {
            put(&mut buf, f);
        }
        let mut w = SpateWire::new(SubOptions::default());
        let (mut msgs, mut gaps) = (Vec::new(), 0);
        let mut replies = Vec::new();
        // A partial frame at the end must be left unconsumed.
        buf.extend_from_slice(&[0, 0, 0, 9, op::MESSAGE]);
        let used = w
            .parse(&buf, &mut replies, &mut |e| match e {
                Event::Message(p) => msgs.push(p.to_vec()),
                Event::Gap(n) => gaps += n,
                _ => {}
            })
            .unwrap();
        assert_eq!(used, buf.len() - 5);
        (msgs, gaps, replies.len())
    }

    #[test]
    fn walks_messages_batches_and_gaps() {
        let frames = [
            Frame::Message {
                sub_id: 1,
                message: msg(b"one", true),
            },
            Frame::Gap(Gap {
                sub_id: 1,
                reason: GapReason::DroppedOldest,
                count: 7,
                first_seq: 0,
                last_seq: 0,
                topic: Text::default(),
            }),
            Frame::MessageBatch {
                sub_id: 1,
                messages: vec![msg(b"two", false), msg(b"three", true)],
            },
            Frame::Ping(3),
        ];
        let (msgs, gaps, replies) = parse_all(&frames);
        assert_eq!(
            msgs,
            vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
        );
        assert_eq!(gaps, 7);
        assert!(replies > 0, "PING must be answered");
    }

    #[test]
    fn template_payload_offset() {
        let w = SpateWire::new(SubOptions::default());
        let t = w.publish_template("x.y", 16);
        assert_eq!(t.bytes.len() - t.payload_at, 16);
        let f = Frame::decode(t.bytes[4], Bytes::copy_from_slice(&t.bytes[5..])).unwrap();
        assert!(matches!(f, Frame::Publish(p) if &*p.topic == "x.y" && p.payload.len() == 16));
    }
}
