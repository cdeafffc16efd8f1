//! Core NATS text protocol, hand-rolled: CONNECT with verbose and pedantic
//! off, `PUB`, `SUB`, `MSG`, and PING/PONG both as keep-alive and as the
//! flush that confirms everything before it was processed (the NATS way to
//! know SUBs are live).

use std::collections::VecDeque;

use super::{find_crlf, parse_decimal, Event, Template};
use crate::error::BenchError;

/// Longest control line accepted before the stream is declared broken
/// (the server's own limit is 4096).
const MAX_LINE: usize = 64 * 1024;

/// Adapter state for one NATS connection.
#[derive(Debug, Default)]
pub struct NatsWire {
    /// The CONNECT's PING was answered.
    ready: bool,
    /// Subscription counts waiting for the PONG that follows their SUBs.
    pending_subs: VecDeque<u64>,
}

impl NatsWire {
    pub(super) fn hello(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"spate-bench\"}\r\nPING\r\n",
        );
    }

    pub(super) fn publish_template(&self, topic: &str, payload_len: usize) -> Template {
        let mut bytes = format!("PUB {topic} {payload_len}\r\n").into_bytes();
        let payload_at = bytes.len();
        bytes.resize(payload_at + payload_len, 0);
        bytes.extend_from_slice(b"\r\n");
        Template { bytes, payload_at }
    }

    pub(super) fn subscribe(&mut self, subs: &[(u32, String)], out: &mut Vec<u8>) -> u64 {
        for (id, pattern) in subs {
            out.extend_from_slice(format!("SUB {pattern} {id}\r\n").as_bytes());
        }
        out.extend_from_slice(b"PING\r\n");
        self.pending_subs.push_back(subs.len() as u64);
        subs.len() as u64
    }

    pub(super) fn flush(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"PING\r\n");
    }

    pub(super) fn parse(
        &mut self,
        buf: &[u8],
        replies: &mut Vec<u8>,
        sink: &mut impl FnMut(Event<'_>),
    ) -> Result<usize, BenchError> {
        let mut pos = 0;
        while pos < buf.len() {
            let Some(eol) = find_crlf(buf, pos) else {
                if buf.len() - pos > MAX_LINE {
                    return Err(BenchError::Protocol("NATS control line too long".into()));
                }
                break;
            };
            let line = &buf[pos..eol];
            let next = eol + 2;
            if line.starts_with(b"MSG ") {
                let size = line
                    .rsplit(|&b| b == b' ')
                    .next()
                    .and_then(parse_decimal)
                    .ok_or_else(|| bad_line(line))?;
                if buf.len() < next + size + 2 {
                    break;
                }
                sink(Event::Message(&buf[next..next + size]));
                pos = next + size + 2;
                continue;
            }
            match line {
                b"PING" => replies.extend_from_slice(b"PONG\r\n"),
                b"PONG" => sink(self.pong()),
                b"+OK" => sink(Event::Other),
                _ if line.starts_with(b"-ERR") => {
                    sink(Event::Error(String::from_utf8_lossy(line).into_owned()))
                }
                _ if line.starts_with(b"INFO") => sink(Event::Other),
                _ => return Err(bad_line(line)),
            }
            pos = next;
        }
        Ok(pos)
    }

    fn pong(&mut self) -> Event<'static> {
        if !self.ready {
            self.ready = true;
            Event::Ready
        } else if let Some(n) = self.pending_subs.pop_front() {
            Event::Subscribed(n)
        } else {
            Event::Pong
        }
    }
}

fn bad_line(line: &[u8]) -> BenchError {
    let shown = &line[..line.len().min(80)];
    BenchError::Protocol(format!(
        "unexpected NATS line {:?}",
        String::from_utf8_lossy(shown)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_subscribe_and_messages() {
        let mut w = NatsWire::default();
        let mut out = Vec::new();
        assert_eq!(
            w.subscribe(&[(1, "a.*".into()), (2, "b".into())], &mut out),
            2
        );
        assert_eq!(out, b"SUB a.* 1\r\nSUB b 2\r\nPING\r\n");
        let input = b"INFO {}\r\nPONG\r\nPONG\r\nMSG a.x 1 5\r\nhello\r\nPING\r\nMSG b 2 r 3\r\nabc\r\nPONG\r\nMSG a 1 9\r\npart";
        let mut ev = Vec::new();
        let mut replies = Vec::new();
        let used = w
            .parse(input, &mut replies, &mut |e| ev.push(format!("{e:?}")))
            .unwrap();
        assert_eq!(&input[used..], b"MSG a 1 9\r\npart");
        assert_eq!(replies, b"PONG\r\n");
        assert_eq!(
            ev,
            [
                "Other",
                "Ready",
                "Subscribed(2)",
                "Message([104, 101, 108, 108, 111])",
                "Message([97, 98, 99])",
                "Pong"
            ]
        );
    }

    #[test]
    fn errors_are_reported() {
        let mut w = NatsWire::default();
        let mut ev = Vec::new();
        w.parse(b"-ERR 'Slow Consumer'\r\n", &mut Vec::new(), &mut |e| {
            ev.push(format!("{e:?}"))
        })
        .unwrap();
        assert_eq!(ev, ["Error(\"-ERR 'Slow Consumer'\")"]);
        assert!(w.parse(b"BOGUS\r\n", &mut Vec::new(), &mut |_| {}).is_err());
    }

    #[test]
    fn template() {
        let t = NatsWire::default().publish_template("t", 4);
        assert_eq!(t.bytes, b"PUB t 4\r\n\0\0\0\0\r\n");
        assert_eq!(t.payload_at, 9);
    }
}
