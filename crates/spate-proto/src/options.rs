//! The SUBSCRIBE options block: a list of tag-length-value entries, so later
//! protocol revisions can add options without breaking old peers.
//!
//! Layout: `u16 total_len`, then entries `u8 tag, u16 len, value[len]`.
//! Tags below 0x80 are *critical*: a server that does not know one rejects
//! the SUBSCRIBE with INVALID_OPTION. Tags 0x80 and above are *advisory*:
//! unknown ones are skipped.

use bytes::{BufMut, BytesMut};

use crate::error::DecodeError;
use crate::wire::Reader;

/// Option tags (protocol.md, "SUBSCRIBE options").
pub mod tag {
    /// u8: backpressure policy, see [`super::Policy`].
    pub const POLICY: u8 = 0x01;
    /// u32: queue limit in messages.
    pub const QUEUE_MSGS: u8 = 0x02;
    /// u64: queue limit in bytes.
    pub const QUEUE_BYTES: u8 = 0x03;
    /// u32: most messages per second delivered (token bucket), 0 = no limit.
    pub const MAX_RATE: u8 = 0x04;
    /// u16: most messages per MESSAGE_BATCH frame; 1 = plain MESSAGE frames.
    pub const MAX_BATCH: u8 = 0x05;
    /// u32: microseconds to wait for a batch to fill.
    pub const LINGER_US: u8 = 0x06;
    /// u64 seq, u64 epoch: replay from `seq` of `epoch` (epoch 0 = any).
    pub const FROM_SEQ: u8 = 0x07;
    /// u32: replay the last N retained messages first.
    pub const LAST_N: u8 = 0x08;
    /// empty: deliver the topic's state snapshot first.
    pub const SNAPSHOT: u8 = 0x09;
}

/// What a subscription's full queue does with the next message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Policy {
    /// Lossless: the publishers feeding the queue are slowed until it drains;
    /// past the server's block timeout the subscriber is disconnected.
    Block = 1,
    /// Discard the oldest queued message to admit the new one.
    DropOldest = 2,
    /// Reject the new message.
    DropNewest = 3,
    /// Keep only the latest message per key (per topic when keyless).
    Conflate = 4,
    /// Drop new messages during a grace period, then disconnect.
    Disconnect = 5,
}

impl Policy {
    /// Decodes a wire value.
    pub fn from_u8(v: u8) -> Option<Policy> {
        Some(match v {
            1 => Policy::Block,
            2 => Policy::DropOldest,
            3 => Policy::DropNewest,
            4 => Policy::Conflate,
            5 => Policy::Disconnect,
            _ => return None,
        })
    }

    /// The name used by the CLI, config and stats: `drop-oldest` etc.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Block => "block",
            Policy::DropOldest => "drop-oldest",
            Policy::DropNewest => "drop-newest",
            Policy::Conflate => "conflate",
            Policy::Disconnect => "disconnect",
        }
    }

    /// Every policy.
    pub const ALL: [Policy; 5] = [
        Policy::Block,
        Policy::DropOldest,
        Policy::DropNewest,
        Policy::Conflate,
        Policy::Disconnect,
    ];
}

impl std::str::FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Policy, String> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                format!("unknown policy {s:?}: expected block, drop-oldest, drop-newest, conflate or disconnect")
            })
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Start {
    /// Only messages published after the subscription (the default).
    #[default]
    New,
    /// Replay retained history from `seq`; `epoch` is the epoch the client
    /// last saw (0 = whatever the current one is).
    FromSeq {
        /// First sequence number wanted.
        seq: u64,
        /// Epoch that `seq` belongs to, 0 for any.
        epoch: u64,
    },
    /// Replay the last `n` retained messages.
    LastN(u32),
    /// Deliver the topic's state (latest value per key) first.
    Snapshot,
}

/// Decoded SUBSCRIBE options. `None` means "server default".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscribeOptions {
    /// Backpressure policy.
    pub policy: Option<Policy>,
    /// Queue limit in messages.
    pub queue_msgs: Option<u32>,
    /// Queue limit in bytes.
    pub queue_bytes: Option<u64>,
    /// Delivery rate limit, messages per second (0 = none).
    pub max_rate: Option<u32>,
    /// Messages per batch frame.
    pub max_batch: Option<u16>,
    /// Batch linger, microseconds.
    pub linger_us: Option<u32>,
    /// Where to start.
    pub start: Start,
    /// Tags of unknown critical options: the server rejects these.
    pub unknown_critical: Vec<u8>,
}

impl SubscribeOptions {
    pub(crate) fn decode(r: &mut Reader) -> Result<SubscribeOptions, DecodeError> {
        let total = r.u16("options_len")? as usize;
        let mut block = Reader::new("SUBSCRIBE options", r.raw("options", total)?);
        let mut o = SubscribeOptions::default();
        let mut seen = [false; 256];
        while block.remaining() > 0 {
            let t = block.u8("option_tag")?;
            let len = block.u16("option_len")? as usize;
            let mut v = Reader::new("SUBSCRIBE option", block.raw("option_value", len)?);
            if seen[t as usize] {
                return Err(v.invalid("option_tag", "option given twice"));
            }
            seen[t as usize] = true;
            let start = |o: &mut SubscribeOptions, s: Start| {
                if o.start != Start::New {
                    return Err(v_invalid("start", "only one of FROM_SEQ, LAST_N, SNAPSHOT"));
                }
                o.start = s;
                Ok(())
            };
            match t {
                tag::POLICY => {
                    let p = v.u8("policy")?;
                    o.policy = Some(
                        Policy::from_u8(p).ok_or_else(|| v.invalid("policy", "unknown policy"))?,
                    );
                }
                tag::QUEUE_MSGS => o.queue_msgs = Some(v.u32("queue_msgs")?),
                tag::QUEUE_BYTES => o.queue_bytes = Some(v.u64("queue_bytes")?),
                tag::MAX_RATE => o.max_rate = Some(v.u32("max_rate")?),
                tag::MAX_BATCH => o.max_batch = Some(v.u16("max_batch")?),
                tag::LINGER_US => o.linger_us = Some(v.u32("linger_us")?),
                tag::FROM_SEQ => {
                    let seq = v.u64("from_seq")?;
                    let epoch = v.u64("from_epoch")?;
                    start(&mut o, Start::FromSeq { seq, epoch })?;
                }
                tag::LAST_N => {
                    let n = v.u32("last_n")?;
                    start(&mut o, Start::LastN(n))?;
                }
                tag::SNAPSHOT => start(&mut o, Start::Snapshot)?,
                t if t >= 0x80 => continue, // advisory and unknown: skip
                t => {
                    o.unknown_critical.push(t);
                    continue;
                }
            }
            v.finish()?;
        }
        Ok(o)
    }

    pub(crate) fn encode(&self, dst: &mut BytesMut) {
        let mut b = BytesMut::new();
        let mut put = |t: u8, v: &[u8]| {
            b.put_u8(t);
            b.put_u16(v.len() as u16);
            b.put_slice(v);
        };
        if let Some(p) = self.policy {
            put(tag::POLICY, &[p as u8]);
        }
        if let Some(n) = self.queue_msgs {
            put(tag::QUEUE_MSGS, &n.to_be_bytes());
        }
        if let Some(n) = self.queue_bytes {
            put(tag::QUEUE_BYTES, &n.to_be_bytes());
        }
        if let Some(n) = self.max_rate {
            put(tag::MAX_RATE, &n.to_be_bytes());
        }
        if let Some(n) = self.max_batch {
            put(tag::MAX_BATCH, &n.to_be_bytes());
        }
        if let Some(n) = self.linger_us {
            put(tag::LINGER_US, &n.to_be_bytes());
        }
        match self.start {
            Start::New => {}
            Start::FromSeq { seq, epoch } => {
                let mut v = [0u8; 16];
                v[..8].copy_from_slice(&seq.to_be_bytes());
                v[8..].copy_from_slice(&epoch.to_be_bytes());
                put(tag::FROM_SEQ, &v);
            }
            Start::LastN(n) => put(tag::LAST_N, &n.to_be_bytes()),
            Start::Snapshot => put(tag::SNAPSHOT, &[]),
        }
        for &t in &self.unknown_critical {
            put(t, &[]);
        }
        dst.put_u16(b.len() as u16);
        dst.put_slice(&b);
    }

    /// Encoded size of the block, including its u16 length.
    pub fn encoded_len(&self) -> usize {
        let mut b = BytesMut::new();
        self.encode(&mut b);
        b.len()
    }
}

fn v_invalid(field: &'static str, reason: &'static str) -> DecodeError {
    DecodeError::Invalid {
        frame: "SUBSCRIBE option",
        field,
        reason,
    }
}
