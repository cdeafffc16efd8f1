//! The 16 bytes every benchmark payload starts with: the send time (for
//! end-to-end latency) and the publisher's id and sequence number (for
//! loss and gap counting that works on every broker, even those that do
//! not report loss themselves).
//!
//! Layout (little-endian): `u64 send time, ns since the process's clock
//! origin`, `u32 publisher id`, `u32 sequence number from 0`. Publishers
//! and subscribers run in the same process, so one monotonic clock serves
//! both ends.

use std::sync::OnceLock;
use std::time::Instant;

/// Bytes of the stamp; payloads must be at least this long.
pub const STAMP_LEN: usize = 16;

/// The stamp read back from a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Send time, ns since [`now_ns`]'s origin.
    pub sent_ns: u64,
    /// Which publisher sent it.
    pub publisher: u32,
    /// The publisher's sequence number for it, from 0.
    pub seq: u32,
}

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Monotonic nanoseconds since the first call in this process.
pub fn now_ns() -> u64 {
    origin().elapsed().as_nanos() as u64
}

/// Writes a stamp into the first [`STAMP_LEN`] bytes of `dst`.
pub fn write(dst: &mut [u8], s: Stamp) {
    dst[..8].copy_from_slice(&s.sent_ns.to_le_bytes());
    dst[8..12].copy_from_slice(&s.publisher.to_le_bytes());
    dst[12..16].copy_from_slice(&s.seq.to_le_bytes());
}

/// Reads the stamp from a payload, or `None` if it is too short.
pub fn read(payload: &[u8]) -> Option<Stamp> {
    let b: &[u8; STAMP_LEN] = payload.get(..STAMP_LEN)?.try_into().ok()?;
    let mut u64b = [0u8; 8];
    u64b.copy_from_slice(&b[..8]);
    let mut u32b = [0u8; 4];
    u32b.copy_from_slice(&b[8..12]);
    let publisher = u32::from_le_bytes(u32b);
    u32b.copy_from_slice(&b[12..16]);
    Some(Stamp {
        sent_ns: u64::from_le_bytes(u64b),
        publisher,
        seq: u32::from_le_bytes(u32b),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let s = Stamp {
            sent_ns: 0x0102_0304_0506_0708,
            publisher: 7,
            seq: 4_000_000_000,
        };
        let mut b = [0u8; 20];
        write(&mut b, s);
        assert_eq!(read(&b), Some(s));
        assert_eq!(read(&b[..15]), None);
    }

    #[test]
    fn clock_is_monotonic() {
        let a = now_ns();
        let b = now_ns();
        assert!(b >= a);
    }
}
