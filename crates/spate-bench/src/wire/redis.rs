//! Redis Pub/Sub over RESP2: PUBLISH pipelined (its integer replies are
//! drained and ignored), SUBSCRIBE and PSUBSCRIBE in chunks, and the
//! `message`/`pmessage` push arrays. PING answers `+PONG` outside
//! subscribed mode, which serves as both handshake and flush.

use super::{find_crlf, is_pattern, parse_decimal, Event, Template};
use crate::error::BenchError;

/// Channels per SUBSCRIBE/PSUBSCRIBE command.
const SUBSCRIBE_CHUNK: usize = 1000;

/// Most elements of a reply array this adapter reads (pmessage has 4).
const MAX_ELEMS: usize = 4;

/// Adapter state for one Redis connection.
#[derive(Debug, Default)]
pub struct RedisWire {
    ready: bool,
}

/// One element of a flat RESP reply.
#[derive(Debug, Clone, Copy)]
enum Elem<'a> {
    Bulk(&'a [u8]),
    Int,
    Nil,
}

impl RedisWire {
    pub(super) fn hello(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"PING\r\n");
    }

    pub(super) fn publish_template(&self, topic: &str, payload_len: usize) -> Template {
        let mut bytes = format!(
            "*3\r\n$7\r\nPUBLISH\r\n${}\r\n{topic}\r\n${payload_len}\r\n",
            topic.len()
        )
        .into_bytes();
        let payload_at = bytes.len();
        bytes.resize(payload_at + payload_len, 0);
        bytes.extend_from_slice(b"\r\n");
        Template { bytes, payload_at }
    }

    pub(super) fn subscribe(&mut self, subs: &[(u32, String)], out: &mut Vec<u8>) -> u64 {
        let (patterns, channels): (Vec<&str>, Vec<&str>) = subs
            .iter()
            .map(|(_, p)| p.as_str())
            .partition(|p| is_pattern(p));
        for c in channels.chunks(SUBSCRIBE_CHUNK) {
            command(out, "SUBSCRIBE", c.iter().map(|s| s.to_string()));
        }
        for c in patterns.chunks(SUBSCRIBE_CHUNK) {
            command(out, "PSUBSCRIBE", c.iter().map(|s| glob(s)));
        }
        subs.len() as u64
    }

    pub(super) fn flush(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"PING\r\n");
    }

    pub(super) fn parse(
        &mut self,
        buf: &[u8],
        sink: &mut impl FnMut(Event<'_>),
    ) -> Result<usize, BenchError> {
        let mut pos = 0;
        while pos < buf.len() {
            let Some(eol) = find_crlf(buf, pos) else {
                break;
            };
            let line = &buf[pos..eol];
            let mut next = eol + 2;
            match line.first().copied().unwrap_or(0) {
                b'+' => {
                    if &line[1..] == b"PONG" && !self.ready {
                        self.ready = true;
                        sink(Event::Ready);
                    } else if &line[1..] == b"PONG" {
                        sink(Event::Pong);
                    } else {
                        sink(Event::Other);
                    }
                }
                b'-' => sink(Event::Error(String::from_utf8_lossy(line).into_owned())),
                b':' => sink(Event::Other),
                b'$' => match bulk(buf, line, next)? {
                    Some((_, after)) => {
                        next = after;
                        sink(Event::Other);
                    }
                    None => break,
                },
                b'*' => {
                    let n = parse_decimal(&line[1..]).ok_or_else(|| bad(line))?;
                    if n > MAX_ELEMS {
                        return Err(bad(line));
                    }
                    let mut elems = [Elem::Nil; MAX_ELEMS];
                    let mut complete = true;
                    for e in elems.iter_mut().take(n) {
                        match element(buf, next)? {
                            Some((v, after)) => {
                                *e = v;
                                next = after;
                            }
                            None => {
                                complete = false;
                                break;
                            }
                        }
                    }
                    if !complete {
                        break;
                    }
                    sink(push(&elems[..n]));
                }
                _ => return Err(bad(line)),
            }
            pos = next;
        }
        Ok(pos)
    }
}

/// Translates a spate/NATS pattern to a Redis glob: a `>` tail becomes
/// `*` (Redis's `*` also crosses dots, so `a.*` matches more than in
/// spate; the benchmark's patterns are built so both match the same).
fn glob(p: &str) -> String {
    p.replace('>', "*")
}

fn command(out: &mut Vec<u8>, name: &str, args: impl ExactSizeIterator<Item = String>) {
    out.extend_from_slice(
        format!("*{}\r\n${}\r\n{name}\r\n", args.len() + 1, name.len()).as_bytes(),
    );
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
}

/// Reads a bulk string whose header line is `line`, data starting at
/// `data`: `Some((bytes, position after it))`, or `None` if incomplete.
fn bulk<'a>(
    buf: &'a [u8],
    line: &[u8],
    data: usize,
) -> Result<Option<(Elem<'a>, usize)>, BenchError> {
    if &line[1..] == b"-1" {
        return Ok(Some((Elem::Nil, data)));
    }
    let n = parse_decimal(&line[1..]).ok_or_else(|| bad(line))?;
    if buf.len() < data + n + 2 {
        return Ok(None);
    }
    Ok(Some((Elem::Bulk(&buf[data..data + n]), data + n + 2)))
}

fn element(buf: &[u8], pos: usize) -> Result<Option<(Elem<'_>, usize)>, BenchError> {
    let Some(eol) = find_crlf(buf, pos) else {
        return Ok(None);
    };
    let line = &buf[pos..eol];
    match line.first() {
        Some(b'$') => bulk(buf, line, eol + 2),
        Some(b':') => Ok(Some((Elem::Int, eol + 2))),
        _ => Err(bad(line)),
    }
}

/// Interprets a push array: deliveries and subscription confirmations.
fn push<'a>(e: &[Elem<'a>]) -> Event<'a> {
    match e {
        [Elem::Bulk(b"message"), _, Elem::Bulk(p)] => Event::Message(p),
        [Elem::Bulk(b"pmessage"), _, _, Elem::Bulk(p)] => Event::Message(p),
        [Elem::Bulk(b"subscribe" | b"psubscribe"), _, Elem::Int] => Event::Subscribed(1),
        [Elem::Bulk(b"pong"), ..] => Event::Pong,
        _ => Event::Other,
    }
}

fn bad(line: &[u8]) -> BenchError {
    let shown = &line[..line.len().min(80)];
    BenchError::Protocol(format!(
        "unexpected RESP line {:?}",
        String::from_utf8_lossy(shown)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(w: &mut RedisWire, input: &[u8]) -> (Vec<String>, usize) {
        let mut ev = Vec::new();
        let used = w.parse(input, &mut |e| ev.push(format!("{e:?}"))).unwrap();
        (ev, used)
    }

    #[test]
    fn replies_and_pushes() {
        let mut w = RedisWire::default();
        let input = b"+PONG\r\n:3\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n\
*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n\
*4\r\n$8\r\npmessage\r\n$3\r\na.*\r\n$3\r\na.b\r\n$1\r\nx\r\n+PONG\r\n\
*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$5\r\nhel";
        let (ev, used) = events(&mut w, input);
        assert_eq!(
            ev,
            [
                "Ready",
                "Other",
                "Subscribed(1)",
                "Message([104, 105])",
                "Message([120])",
                "Pong"
            ]
        );
        assert!(input[used..].starts_with(b"*3\r\n$7\r\nmessage"));
        let (_, used) = events(&mut w, b"-ERR wrong\r\n");
        assert_eq!(used, 12);
    }

    #[test]
    fn subscribe_splits_channels_and_patterns() {
        let mut w = RedisWire::default();
        let mut out = Vec::new();
        let n = w.subscribe(&[(1, "a.b".into()), (2, "a.>".into())], &mut out);
        assert_eq!(n, 2);
        assert_eq!(
            out,
            b"*2\r\n$9\r\nSUBSCRIBE\r\n$3\r\na.b\r\n*2\r\n$10\r\nPSUBSCRIBE\r\n$3\r\na.*\r\n"
        );
    }

    #[test]
    fn template() {
        let t = RedisWire::default().publish_template("t", 2);
        assert_eq!(t.bytes, b"*3\r\n$7\r\nPUBLISH\r\n$1\r\nt\r\n$2\r\n\0\0\r\n");
        assert_eq!(t.bytes.len() - t.payload_at, 4);
    }
}
