//! The on-disk record layout. A segment file starts with [`MAGIC`], then
//! records back to back, each:
//!
//! ```text
//! len   u32 LE   bytes of `payload`
//! crc   u32 LE   CRC-32 (IEEE, crc32fast) of `kind` and `payload`
//! kind  u8       1 EPOCH, 2 RESERVE, 3 MESSAGE, 4 CLEAN, 5 APPLIED
//! payload
//! ```
//!
//! - EPOCH: topic (u16 BE length + UTF-8), epoch u64 BE — the topic's epoch,
//!   written when a persisted topic is created;
//! - RESERVE: topic, seq u64 BE — seqs up to this one may have been handed
//!   out; after a restart the topic continues after it (a clean shutdown
//!   writes the exact last seq, so no gap);
//! - MESSAGE: the MESSAGE body exactly as subscribers receive it
//!   (protocol.md §7.1: epoch, seq, timestamp, flags, topic, key, headers,
//!   payload);
//! - CLEAN: empty; the server stopped cleanly after this record;
//! - APPLIED: topic, seq — (in a compaction snapshot) every message of the
//!   topic up to this seq is already reflected: later copies are skipped.

use bytes::{BufMut, Bytes};

/// First bytes of every segment file (format version 1).
pub const MAGIC: &[u8; 8] = b"SPATELG1";
/// Bytes before a record's payload.
pub const HEADER: usize = 9;
/// Largest payload a record may have (larger = corrupt length).
pub const MAX_PAYLOAD: usize = 512 * 1024 * 1024;

const EPOCH: u8 = 1;
const RESERVE: u8 = 2;
const MESSAGE: u8 = 3;
const CLEAN: u8 = 4;
const APPLIED: u8 = 5;

/// One log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A persisted topic's epoch.
    Epoch {
        /// Topic name.
        topic: String,
        /// Its epoch.
        epoch: u64,
    },
    /// Seqs of `topic` up to `seq` may have been handed out.
    Reserve {
        /// Topic name.
        topic: String,
        /// Highest reserved seq.
        seq: u64,
    },
    /// A published message's shared body.
    Message(Bytes),
    /// Clean shutdown marker.
    Clean,
    /// Messages of `topic` up to `seq` are already reflected.
    Applied {
        /// Topic name.
        topic: String,
        /// Highest reflected seq.
        seq: u64,
    },
}

/// Why bytes at some offset are not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Bad {
    /// The file ends inside the record (a torn write).
    #[error("the file ends inside a record (torn write)")]
    Short,
    /// The checksum does not match.
    #[error("checksum mismatch")]
    Checksum,
    /// The length or the payload makes no sense.
    #[error("malformed record: {0}")]
    Malformed(&'static str),
}

impl Record {
    /// Appends the framed record to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Record::Epoch { topic, epoch } => frame_topic_u64(out, EPOCH, topic, *epoch),
            Record::Reserve { topic, seq } => frame_topic_u64(out, RESERVE, topic, *seq),
            Record::Message(body) => frame(out, MESSAGE, body),
            Record::Clean => frame(out, CLEAN, &[]),
            Record::Applied { topic, seq } => frame_topic_u64(out, APPLIED, topic, *seq),
        }
    }

    /// Decodes the record at the start of `buf`; returns it and its framed
    /// length. A message body is copied out, so retained history does not
    /// pin a whole segment's buffer.
    pub fn decode(buf: &[u8]) -> Result<(Record, usize), Bad> {
        if buf.len() < HEADER {
            return Err(Bad::Short);
        }
        let len = u32::from_le_bytes(buf[0..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(buf[4..8].try_into().expect("4 bytes"));
        if len > MAX_PAYLOAD {
            return Err(Bad::Malformed("length too large"));
        }
        let Some(rec) = buf.get(8..HEADER + len) else {
            return Err(Bad::Short);
        };
        if crc32fast::hash(rec) != crc {
            return Err(Bad::Checksum);
        }
        let (kind, payload) = (rec[0], &rec[1..]);
        let r = match kind {
            EPOCH | RESERVE | APPLIED => {
                let (topic, n) = topic_u64(payload)?;
                match kind {
                    EPOCH => Record::Epoch { topic, epoch: n },
                    RESERVE => Record::Reserve { topic, seq: n },
                    _ => Record::Applied { topic, seq: n },
                }
            }
            MESSAGE => Record::Message(Bytes::copy_from_slice(payload)),
            CLEAN => Record::Clean,
            _ => return Err(Bad::Malformed("unknown kind")),
        };
        Ok((r, HEADER + len))
    }
}

fn frame(out: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    let mut h = crc32fast::Hasher::new();
    h.update(&[kind]);
    h.update(payload);
    out.put_u32_le(payload.len() as u32);
    out.put_u32_le(h.finalize());
    out.put_u8(kind);
    out.extend_from_slice(payload);
}

fn frame_topic_u64(out: &mut Vec<u8>, kind: u8, topic: &str, n: u64) {
    let mut p = Vec::with_capacity(topic.len() + 10);
    p.put_u16(topic.len() as u16);
    p.extend_from_slice(topic.as_bytes());
    p.put_u64(n);
    frame(out, kind, &p);
}

fn topic_u64(p: &[u8]) -> Result<(String, u64), Bad> {
    let bad = Bad::Malformed("bad topic record");
    let n = u16::from_be_bytes(p.get(0..2).ok_or(bad.clone())?.try_into().expect("2")) as usize;
    let name = p.get(2..2 + n).ok_or(bad.clone())?;
    let num = p.get(2 + n..2 + n + 8).ok_or(bad.clone())?;
    if p.len() != 2 + n + 8 {
        return Err(bad);
    }
    let name = std::str::from_utf8(name).map_err(|_| Bad::Malformed("topic not UTF-8"))?;
    Ok((
        name.to_owned(),
        u64::from_be_bytes(num.try_into().expect("8")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_damage_is_detected() {
        let recs = [
            Record::Epoch {
                topic: "a.b".into(),
                epoch: 7,
            },
            Record::Reserve {
                topic: "a.b".into(),
                seq: 1 << 40,
            },
            Record::Message(Bytes::from_static(b"body bytes")),
            Record::Clean,
            Record::Applied {
                topic: "x".into(),
                seq: 9,
            },
        ];
        let mut buf = Vec::new();
        for r in &recs {
            r.encode(&mut buf);
        }
        let mut at = 0;
        for r in &recs {
            let (got, n) = Record::decode(&buf[at..]).unwrap();
            assert_eq!(&got, r);
            at += n;
        }
        assert_eq!(at, buf.len());
        // Torn: any strict prefix of a record is Short.
        let mut one = Vec::new();
        recs[2].encode(&mut one);
        for cut in 0..one.len() {
            assert_eq!(Record::decode(&one[..cut]), Err(Bad::Short), "cut at {cut}");
        }
        // A flipped bit anywhere after the length fails the checksum.
        for i in 4..one.len() {
            let mut d = one.clone();
            d[i] ^= 0x10;
            assert_eq!(Record::decode(&d), Err(Bad::Checksum), "bit in byte {i}");
        }
    }
}
