//! [`Recorder`]: what one subscriber connection saw — message and byte
//! counts, end-to-end latency (HDR histogram), loss the broker reported
//! (spate GAP) and loss or reordering detected from the payload stamps.
//! Recorders are merged per phase by `report.rs`.

use hdrhistogram::Histogram;

use crate::stamp;

/// Lowest latency the histogram tells apart, ns.
const LOWEST_NS: u64 = 100;
/// Highest latency recorded, ns (longer ones are clamped to it): one
/// minute, longer than any phase may run.
const HIGHEST_NS: u64 = 60_000_000_000;
/// Significant decimal digits kept (0.1 % resolution).
const SIGFIGS: u8 = 3;

/// A fresh latency histogram with the bounds every recorder uses.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LOWEST_NS, HIGHEST_NS, SIGFIGS).expect("static bounds are valid")
}

/// Counters and latencies of one subscriber connection.
#[derive(Debug)]
pub struct Recorder {
    /// End-to-end latency of every delivered message, ns.
    pub latency: Histogram<u64>,
    /// Messages delivered.
    pub received: u64,
    /// Payload bytes delivered.
    pub bytes: u64,
    /// Messages the broker said were lost (spate GAP counts).
    pub gaps_reported: u64,
    /// Sequence numbers skipped, per the stamps (only when tracking).
    pub seq_skipped: u64,
    /// Messages whose sequence number went backwards (duplicates or
    /// reordering; only when tracking).
    pub seq_backwards: u64,
    /// Arrival time of the last message, ns on the stamp clock.
    pub last_ns: u64,
    /// The connection ended before the subscriber was done (EOF, reset).
    pub closed_early: bool,
    /// Errors the broker sent or the connection hit.
    pub errors: Vec<String>,
    /// Next expected sequence number per publisher, when tracking.
    next_seq: Option<Vec<u32>>,
}

impl Recorder {
    /// A recorder; `track_publishers` = `Some(P)` checks per-publisher
    /// sequence numbers (only meaningful when this subscriber should see
    /// every message of P publishers).
    pub fn new(track_publishers: Option<usize>) -> Recorder {
        Recorder {
            latency: new_histogram(),
            received: 0,
            bytes: 0,
            gaps_reported: 0,
            seq_skipped: 0,
            seq_backwards: 0,
            last_ns: 0,
            closed_early: false,
            errors: Vec::new(),
            next_seq: track_publishers.map(|p| vec![0; p]),
        }
    }

    /// Records one delivered payload that arrived at `now_ns`.
    #[inline]
    pub fn message(&mut self, payload: &[u8], now_ns: u64) {
        self.received += 1;
        self.bytes += payload.len() as u64;
        self.last_ns = now_ns;
        let Some(s) = stamp::read(payload) else {
            return;
        };
        let lat = now_ns
            .saturating_sub(s.sent_ns)
            .clamp(LOWEST_NS, HIGHEST_NS);
        // Cannot fail: the value is clamped into the histogram's bounds.
        let _ = self.latency.record(lat);
        if let Some(next) = self
            .next_seq
            .as_mut()
            .and_then(|v| v.get_mut(s.publisher as usize))
        {
            if s.seq >= *next {
                self.seq_skipped += u64::from(s.seq - *next);
                *next = s.seq + 1;
            } else {
                self.seq_backwards += 1;
            }
        }
    }

    /// Messages accounted for: delivered plus reported lost.
    pub fn accounted(&self) -> u64 {
        self.received + self.gaps_reported
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stamp::{write, Stamp};

    fn payload(publisher: u32, seq: u32, sent_ns: u64) -> [u8; 16] {
        let mut b = [0u8; 16];
        write(
            &mut b,
            Stamp {
                sent_ns,
                publisher,
                seq,
            },
        );
        b
    }

    #[test]
    fn counts_latency_and_sequence_holes() {
        let mut r = Recorder::new(Some(2));
        r.message(&payload(0, 0, 1_000), 6_000);
        r.message(&payload(0, 3, 1_000), 11_000);
        r.message(&payload(1, 0, 1_000), 2_000);
        r.message(&payload(0, 2, 1_000), 2_000);
        assert_eq!(r.received, 4);
        assert_eq!(r.bytes, 64);
        assert_eq!(r.seq_skipped, 2);
        assert_eq!(r.seq_backwards, 1);
        assert_eq!(r.latency.len(), 4);
        // 64 ns resolution at this magnitude (lowest discernible 100 ns).
        assert!(r.latency.max().abs_diff(10_000) < 64);
    }

    #[test]
    fn untracked_ignores_sequences() {
        let mut r = Recorder::new(None);
        r.message(&payload(5, 9, 0), 1);
        r.gaps_reported = 3;
        assert_eq!((r.seq_skipped, r.accounted()), (0, 4));
    }
}
