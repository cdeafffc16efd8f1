//! What travels through Redis for one message: the node encodes the parts
//! that do not depend on ordering (state change, key, headers, payload) as
//! a blob; the publish script prefixes `epoch:seq:timestamp:` on the
//! channel and stores seq (entry id), timestamp and blob in the stream.
//! Every node rebuilds the MESSAGE body from these with the same bytes.

use bytes::Bytes;
use spate_proto::{StateChange, Text};
use thiserror::Error;

use crate::broker::remote::Injected;

/// A blob or channel payload that cannot be read.
#[derive(Debug, Error)]
#[error("malformed message from Redis: {0}")]
pub struct CodecError(&'static str);

/// Encodes the order-independent parts of a message.
pub fn encode(
    state: Option<StateChange>,
    key: Option<&str>,
    headers: &[(Text, Text)],
    payload: &[u8],
) -> Vec<u8> {
    let hl: usize = headers.iter().map(|(k, v)| 8 + k.len() + v.len()).sum();
    let mut b = Vec::with_capacity(8 + key.map_or(0, str::len) + hl + payload.len());
    b.push(match state {
        None => 0,
        Some(StateChange::Put) => 1,
        Some(StateChange::Delete) => 2,
    });
    match key {
        Some(k) => {
            b.push(1);
            b.extend_from_slice(&(k.len() as u32).to_le_bytes());
            b.extend_from_slice(k.as_bytes());
        }
        None => b.push(0),
    }
    b.extend_from_slice(&(headers.len() as u32).to_le_bytes());
    for (k, v) in headers {
        for t in [k, v] {
            b.extend_from_slice(&(t.len() as u32).to_le_bytes());
            b.extend_from_slice(t.as_bytes());
        }
    }
    b.extend_from_slice(payload);
    b
}

struct Rd<'a>(&'a [u8]);

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.0.len() < n {
            return Err(CodecError("truncated"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<usize, CodecError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
    fn text(&mut self) -> Result<Text, CodecError> {
        let n = self.u32()?;
        let s = self.take(n)?;
        Text::from_utf8(Bytes::copy_from_slice(s)).map_err(|_| CodecError("invalid UTF-8"))
    }
}

/// Decodes a blob into a message with the given order.
pub fn decode(
    epoch: u64,
    seq: u64,
    timestamp_us: u64,
    blob: &[u8],
) -> Result<Injected, CodecError> {
    let mut r = Rd(blob);
    let state = match r.u8()? {
        0 => None,
        1 => Some(StateChange::Put),
        2 => Some(StateChange::Delete),
        _ => return Err(CodecError("unknown state kind")),
    };
    let key = match r.u8()? {
        0 => None,
        _ => Some(r.text()?.as_str().to_owned()),
    };
    let n = r.u32()?;
    if n > blob.len() / 8 {
        return Err(CodecError("header count"));
    }
    let mut headers = Vec::with_capacity(n);
    for _ in 0..n {
        headers.push((r.text()?, r.text()?));
    }
    Ok(Injected {
        epoch,
        seq,
        timestamp_us,
        state,
        key,
        headers,
        payload: Bytes::copy_from_slice(r.0),
    })
}

/// Splits a channel payload `epoch:seq:ts:blob` and decodes it.
pub fn decode_channel(payload: &[u8]) -> Result<Injected, CodecError> {
    let mut nums = [0u64; 3];
    let mut rest = payload;
    for n in &mut nums {
        let i = rest
            .iter()
            .position(|&c| c == b':')
            .ok_or(CodecError("missing field"))?;
        *n = parse_u64(&rest[..i])?;
        rest = &rest[i + 1..];
    }
    decode(nums[0], nums[1], nums[2], rest)
}

/// A decimal u64.
pub fn parse_u64(b: &[u8]) -> Result<u64, CodecError> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(CodecError("not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_the_channel_format() {
        let h = vec![(Text::from("a"), Text::from("b"))];
        let blob = encode(Some(StateChange::Put), Some("k"), &h, b"x:y");
        let mut wire = b"77:5:123:".to_vec();
        wire.extend_from_slice(&blob);
        let m = decode_channel(&wire).unwrap();
        assert_eq!((m.epoch, m.seq, m.timestamp_us), (77, 5, 123));
        assert_eq!(m.state, Some(StateChange::Put));
        assert_eq!(m.key.as_deref(), Some("k"));
        assert_eq!(m.headers, h);
        assert_eq!(&m.payload[..], b"x:y");
        assert!(decode_channel(b"1:2").is_err());
        assert!(decode(1, 1, 1, &[9]).is_err());
    }
}
