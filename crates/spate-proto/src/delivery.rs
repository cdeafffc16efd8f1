//! MESSAGE and MESSAGE_BATCH read in place: [`MessageRef`] borrows its
//! fields from the receive buffer, so a subscriber that reads many
//! messages per second (the load generator) decodes them with the same
//! rules as [`crate::Frame::decode_reply`] but allocates nothing and
//! touches no reference count. Whatever these accept, `decode_reply`
//! decodes to the same fields, and they reject what it rejects.
//! [`message_payload`] and [`message_batch_payloads`] walk the same
//! layout for the payloads alone and skip the UTF-8 check of the text
//! fields, the one check that costs (measured in benches/README.md,
//! "Layout change (#13)").

use crate::error::DecodeError;
use crate::message::{StateChange, HAS_HEADERS, HAS_KEY, MAX_HEADERS, STATE_DELETE, STATE_PUT};

const MESSAGE_FLAGS: u8 = HAS_KEY | HAS_HEADERS | STATE_PUT | STATE_DELETE;

/// A delivered message's body, borrowed (see [`crate::Message`] for the
/// fields' meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageRef<'a> {
    /// Topic epoch.
    pub epoch: u64,
    /// Per-topic sequence number.
    pub seq: u64,
    /// Server time of the publish, µs since the Unix epoch.
    pub timestamp_us: u64,
    /// State change recorded, if any.
    pub state: Option<StateChange>,
    /// Topic.
    pub topic: &'a str,
    /// Key, if present.
    pub key: Option<&'a str>,
    /// Number of header pairs ([`Self::headers`] walks them).
    pub header_count: u16,
    /// The encoded header pairs (after the count), already checked.
    headers_raw: &'a [u8],
    /// Payload.
    pub payload: &'a [u8],
}

impl<'a> MessageRef<'a> {
    /// Reads a message body (the part of MESSAGE after `sub_id`, or one
    /// MESSAGE_BATCH entry).
    #[inline]
    pub fn parse(body: &'a [u8]) -> Result<MessageRef<'a>, DecodeError> {
        Self::parse_in("MESSAGE", body)
    }

    #[inline]
    fn parse_in(frame: &'static str, body: &'a [u8]) -> Result<MessageRef<'a>, DecodeError> {
        Self::from_raw(frame, walk::<true>(frame, body)?)
    }

    #[inline]
    fn from_raw(frame: &'static str, raw: Raw<'a>) -> Result<MessageRef<'a>, DecodeError> {
        let text = |field, b| {
            std::str::from_utf8(b).map_err(|_| DecodeError::Invalid {
                frame,
                field,
                reason: "not valid UTF-8",
            })
        };
        Ok(MessageRef {
            epoch: raw.epoch,
            seq: raw.seq,
            timestamp_us: raw.timestamp_us,
            state: raw.state,
            topic: text("topic", raw.topic)?,
            key: raw.key.map(|k| text("key", k)).transpose()?,
            header_count: raw.header_count,
            headers_raw: raw.headers_raw,
            payload: raw.payload,
        })
    }

    /// The header pairs, in the order sent.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let mut r = SliceReader {
            buf: self.headers_raw,
            frame: "MESSAGE",
        };
        // Checked by `parse`: every pair is there and valid UTF-8.
        let mut s = move || std::str::from_utf8(r.bytes("h").ok()?).ok();
        std::iter::from_fn(move || Some((s()?, s()?)))
    }
}

/// A message body's fields with the text fields not yet checked as UTF-8
/// (the headers are when `TEXT`).
struct Raw<'a> {
    epoch: u64,
    seq: u64,
    timestamp_us: u64,
    state: Option<StateChange>,
    topic: &'a [u8],
    key: Option<&'a [u8]>,
    header_count: u16,
    headers_raw: &'a [u8],
    payload: &'a [u8],
}

/// Walks a message body's layout (protocol.md, "MESSAGE"); with `TEXT`
/// the headers are checked as UTF-8 too (the topic and key are left to
/// [`MessageRef::from_raw`], which needs them as `str` anyway).
#[inline]
fn walk<'a, const TEXT: bool>(frame: &'static str, body: &'a [u8]) -> Result<Raw<'a>, DecodeError> {
    let mut r = SliceReader { buf: body, frame };
    let epoch = r.u64("epoch")?;
    let seq = r.u64("seq")?;
    let timestamp_us = r.u64("timestamp_us")?;
    let flags = r.take("flags", 1)?[0];
    if flags & !MESSAGE_FLAGS != 0 {
        return Err(r.invalid("flags", "unknown flag bits set"));
    }
    let state = match (flags & STATE_PUT != 0, flags & STATE_DELETE != 0) {
        (false, false) => None,
        (true, false) => Some(StateChange::Put),
        (false, true) => Some(StateChange::Delete),
        (true, true) => return Err(r.invalid("flags", "both PUT and DELETE set")),
    };
    let topic = r.bytes("topic")?;
    let key = match flags & HAS_KEY != 0 {
        true => Some(r.bytes("key")?),
        false => None,
    };
    let (header_count, headers_raw) = match flags & HAS_HEADERS != 0 {
        true => {
            let n = r.u16("header_count")?;
            if n as usize > MAX_HEADERS {
                return Err(r.invalid("header_count", "more than 64 headers"));
            }
            let start = r.buf;
            for _ in 0..n {
                for field in ["header_name", "header_value"] {
                    let b = r.bytes(field)?;
                    if TEXT && std::str::from_utf8(b).is_err() {
                        return Err(r.invalid(field, "not valid UTF-8"));
                    }
                }
            }
            (n, &start[..start.len() - r.buf.len()])
        }
        false => (0, &[][..]),
    };
    Ok(Raw {
        epoch,
        seq,
        timestamp_us,
        state,
        topic,
        key,
        header_count,
        headers_raw,
        payload: r.buf,
    })
}

/// Reads a MESSAGE frame's body (after the opcode): `sub_id` and the
/// message.
#[inline]
pub fn message(body: &[u8]) -> Result<(u32, MessageRef<'_>), DecodeError> {
    let (sub_id, rest) = sub_id(body)?;
    Ok((sub_id, MessageRef::parse(rest)?))
}

/// Reads a MESSAGE_BATCH frame's body (after the opcode), calling `each`
/// for every entry in order; returns the `sub_id`. An entry that fails to
/// parse stops the walk with its error (entries before it were seen), as
/// do bytes after the last entry.
#[inline]
pub fn message_batch<'a>(
    body: &'a [u8],
    mut each: impl FnMut(MessageRef<'a>),
) -> Result<u32, DecodeError> {
    let frame = "MESSAGE_BATCH entry";
    batch::<true, _>(body, |raw| {
        each(MessageRef::from_raw(frame, raw)?);
        Ok(())
    })
}

/// The payload of a MESSAGE frame's body, and its `sub_id`: the layout is
/// walked and checked as by [`message`], except that the text fields
/// (topic, key, headers) are skipped without checking that they are
/// UTF-8. For a reader that wants only payloads, many million a second
/// (the load generator): the UTF-8 check is most of [`message`]'s cost.
#[inline]
pub fn message_payload(body: &[u8]) -> Result<(u32, &[u8]), DecodeError> {
    let (sub_id, rest) = sub_id(body)?;
    Ok((sub_id, walk::<false>("MESSAGE", rest)?.payload))
}

/// [`message_payload`] for MESSAGE_BATCH: calls `each` with every entry's
/// payload, in order; returns the `sub_id`.
#[inline]
pub fn message_batch_payloads<'a>(
    body: &'a [u8],
    mut each: impl FnMut(&'a [u8]),
) -> Result<u32, DecodeError> {
    batch::<false, _>(body, |raw| {
        each(raw.payload);
        Ok(())
    })
}

#[inline]
fn sub_id(body: &[u8]) -> Result<(u32, &[u8]), DecodeError> {
    let mut r = SliceReader {
        buf: body,
        frame: "MESSAGE",
    };
    Ok((r.u32("sub_id")?, r.buf))
}

#[inline]
fn batch<'a, const TEXT: bool, F>(body: &'a [u8], mut each: F) -> Result<u32, DecodeError>
where
    F: FnMut(Raw<'a>) -> Result<(), DecodeError>,
{
    let mut r = SliceReader {
        buf: body,
        frame: "MESSAGE_BATCH",
    };
    let sub_id = r.u32("sub_id")?;
    let count = r.u16("count")?;
    for _ in 0..count {
        let len = r.u32("entry")? as usize;
        let entry = r.take("entry", len)?;
        each(walk::<TEXT>("MESSAGE_BATCH entry", entry)?)?;
    }
    if !r.buf.is_empty() {
        return Err(DecodeError::TrailingBytes {
            frame: "MESSAGE_BATCH",
            extra: r.buf.len(),
        });
    }
    Ok(sub_id)
}

/// `crate::wire::Reader` over a borrowed slice.
struct SliceReader<'a> {
    buf: &'a [u8],
    frame: &'static str,
}

impl<'a> SliceReader<'a> {
    #[inline]
    fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], DecodeError> {
        let Some((head, rest)) = self.buf.split_at_checked(n) else {
            return Err(DecodeError::Truncated {
                frame: self.frame,
                field,
                needed: n,
                available: self.buf.len(),
            });
        };
        self.buf = rest;
        Ok(head)
    }

    fn invalid(&self, field: &'static str, reason: &'static str) -> DecodeError {
        DecodeError::Invalid {
            frame: self.frame,
            field,
            reason,
        }
    }

    #[inline]
    fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        let b = self.take(field, 2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    #[inline]
    fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(field, 4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    #[inline]
    fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let b = self.take(field, 8)?;
        let mut a = [0; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// A `str` field's bytes (u16 length, then the bytes), unchecked.
    #[inline]
    fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.u16(field)? as usize;
        self.take(field, n)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::{op, Frame, Message, Text};

    fn msg(payload: &'static [u8], key: bool, headers: usize) -> Message {
        Message {
            epoch: 3,
            seq: 9,
            timestamp_us: 5,
            state: key.then_some(StateChange::Put),
            topic: Text::from("a.b"),
            key: key.then(|| Text::from("k")),
            headers: (0..headers)
                .map(|i| (Text::from(format!("h{i}")), Text::from("v")))
                .collect(),
            payload: Bytes::from_static(payload),
        }
    }

    fn same(r: &MessageRef<'_>, m: &Message) {
        assert_eq!(
            (r.epoch, r.seq, r.timestamp_us, r.state),
            (m.epoch, m.seq, m.timestamp_us, m.state)
        );
        assert_eq!((r.topic, r.key), (&*m.topic, m.key.as_deref()));
        let h: Vec<_> = r.headers().collect();
        let want: Vec<_> = m.headers.iter().map(|(a, b)| (&**a, &**b)).collect();
        assert_eq!(h, want);
        assert_eq!(r.payload, &m.payload[..]);
    }

    #[test]
    fn message_reads_what_decode_reply_reads() {
        for m in [msg(b"one", false, 0), msg(b"", true, 2), msg(b"x", true, 0)] {
            let wire = Frame::Message {
                sub_id: 7,
                message: m.clone(),
            }
            .to_bytes();
            assert_eq!(wire[4], op::MESSAGE);
            let (sub_id, r) = message(&wire[5..]).unwrap();
            assert_eq!(sub_id, 7);
            same(&r, &m);
        }
    }

    #[test]
    fn batch_walks_every_entry() {
        let ms = vec![
            msg(b"a", false, 0),
            msg(b"bb", true, 1),
            msg(b"ccc", false, 3),
        ];
        let wire = Frame::MessageBatch {
            sub_id: 4,
            messages: ms.clone(),
        }
        .to_bytes();
        assert_eq!(wire[4], op::MESSAGE_BATCH);
        let mut seen = Vec::new();
        let sub_id = message_batch(&wire[5..], |r| seen.push(r)).unwrap();
        assert_eq!(sub_id, 4);
        assert_eq!(seen.len(), 3);
        for (r, m) in seen.iter().zip(&ms) {
            same(r, m);
        }
        // Trailing bytes are an error, as for decode_reply.
        let mut extra = wire[5..].to_vec();
        extra.push(0);
        assert!(message_batch(&extra, |_| {}).is_err());
        assert!(Frame::decode_reply(op::MESSAGE_BATCH, Bytes::from(extra)).is_err());
    }

    /// The payload readers see the same payloads and sub_id, and reject
    /// what the full readers reject except invalid UTF-8.
    #[test]
    fn payload_readers_agree() {
        let ms = vec![msg(b"a", false, 0), msg(b"bb", true, 2)];
        let wire = Frame::MessageBatch {
            sub_id: 4,
            messages: ms.clone(),
        }
        .to_bytes();
        let mut seen = Vec::new();
        assert_eq!(message_batch_payloads(&wire[5..], |p| seen.push(p)), Ok(4));
        assert_eq!(seen, vec![&b"a"[..], b"bb"]);
        for cut in 0..wire.len() - 5 {
            let short = &wire[5..5 + cut];
            assert!(
                message_batch_payloads(short, |_| {}).is_err(),
                "cut at {cut}"
            );
        }

        let wire = Frame::Message {
            sub_id: 9,
            message: ms[1].clone(),
        }
        .to_bytes();
        let body = &wire[5..];
        assert_eq!(message_payload(body), Ok((9, &b"bb"[..])));
        for cut in 0..body.len() {
            let short = &body[..cut];
            assert_eq!(
                message_payload(short).is_ok(),
                message(short).is_ok(),
                "{cut}"
            );
        }
        // A topic that is not UTF-8: only the full reader rejects it.
        let mut bad = body.to_vec();
        bad[4 + 25 + 2] = 0xff;
        assert!(message(&bad).is_err());
        assert_eq!(message_payload(&bad).map(|(_, p)| p), Ok(&b"bb"[..]));
    }

    /// Every cut of a valid body is rejected by both decoders alike, and
    /// bad flags too.
    #[test]
    fn rejects_what_decode_reply_rejects() {
        let m = msg(b"payload", true, 2);
        let wire = Frame::Message {
            sub_id: 1,
            message: m,
        }
        .to_bytes();
        let body = &wire[5..];
        for cut in 0..body.len() {
            let short = &body[..cut];
            let ours = message(short).is_ok();
            let theirs = Frame::decode_reply(op::MESSAGE, Bytes::copy_from_slice(short)).is_ok();
            assert_eq!(ours, theirs, "cut at {cut}");
        }
        let mut bad = body.to_vec();
        bad[4 + 24] |= 0x40; // unknown flag
        assert!(message(&bad).is_err());
        bad[4 + 24] = STATE_PUT | STATE_DELETE;
        assert!(message(&bad).is_err());
    }
}
