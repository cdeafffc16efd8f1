//! [`FrameScan`]: follows the protocol frames in the byte stream a
//! WebSocket writer sends, without holding them: where the next frame
//! starts (a message may only end there) and whether the last complete
//! frame says why the connection ends (a fatal ERROR, or GOAWAY), for the
//! close code.

use std::io::IoSlice;

use spate_proto::ErrorCode;

/// Bytes of a frame's start that decide its close code: length (4),
/// opcode (1), ERROR's `code` (2) and `reference` (4).
const HEAD: usize = 11;

/// Position in the protocol frame stream.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct FrameScan {
    head: [u8; HEAD],
    /// Bytes of the current frame seen so far (0: at a frame boundary).
    pos: usize,
    /// Close code of the last complete frame, if it ends the connection.
    ending: Option<u16>,
}

impl FrameScan {
    /// Whether the bytes seen so far end on a frame boundary.
    #[cfg(test)]
    pub(super) fn at_boundary(&self) -> bool {
        self.pos == 0
    }

    /// The close code the last complete frame calls for, if any.
    pub(super) fn ending(&self) -> Option<u16> {
        self.ending
    }

    /// How many of the first `n` bytes of `bufs` end on the last frame
    /// boundary among them (0 if none does).
    pub(super) fn last_boundary(&self, bufs: &[IoSlice<'_>], n: usize) -> usize {
        let mut s = *self;
        let mut at = 0;
        let mut fed = 0;
        for b in bufs {
            if fed == n {
                break;
            }
            let take = b.len().min(n - fed);
            if let Some(k) = s.feed(&b[..take]) {
                at = fed + k;
            }
            fed += take;
        }
        at
    }

    /// Follows `n` more bytes, the first `n` of `bufs`.
    pub(super) fn advance(&mut self, bufs: &[IoSlice<'_>], mut n: usize) {
        for b in bufs {
            if n == 0 {
                break;
            }
            let take = b.len().min(n);
            self.feed(&b[..take]);
            n -= take;
        }
    }

    fn total(&self) -> Option<usize> {
        (self.pos >= 4).then(|| {
            4 + u32::from_be_bytes([self.head[0], self.head[1], self.head[2], self.head[3]])
                as usize
        })
    }

    /// Follows `b`; returns where in it the last frame that ended there
    /// ended, if one did.
    fn feed(&mut self, mut b: &[u8]) -> Option<usize> {
        let len = b.len();
        let mut last = None;
        while !b.is_empty() {
            if self.pos < HEAD {
                let want = match self.total() {
                    Some(t) => t.min(HEAD),
                    None => 4,
                };
                if self.pos < want {
                    let k = (want - self.pos).min(b.len());
                    self.head[self.pos..self.pos + k].copy_from_slice(&b[..k]);
                    self.pos += k;
                    b = &b[k..];
                    if self.finish_if_complete() {
                        last = Some(len - b.len());
                    }
                    continue;
                }
            }
            let total = self.total().expect("length known past the head");
            let k = (total - self.pos).min(b.len());
            self.pos += k;
            b = &b[k..];
            if self.finish_if_complete() {
                last = Some(len - b.len());
            }
        }
        last
    }

    /// Ends the current frame if it is complete; says whether it did.
    fn finish_if_complete(&mut self) -> bool {
        if self.total() == Some(self.pos) {
            self.ending = ending_code(&self.head[..self.pos.min(HEAD)]);
            self.pos = 0;
            return true;
        }
        false
    }
}

/// The close code a frame (given by its first bytes, up to [`HEAD`])
/// calls for: `4000 + code` after a fatal ERROR, 1001 after GOAWAY.
fn ending_code(head: &[u8]) -> Option<u16> {
    let op = *head.get(4)?;
    let body = &head[5..];
    match op {
        0xE0 if body.len() >= 6 => {
            let code = u16::from_be_bytes([body[0], body[1]]);
            let reference = u32::from_be_bytes([body[2], body[3], body[4], body[5]]);
            let fatal = (100..200).contains(&code)
                || (code == ErrorCode::Internal as u16 && reference == 0);
            fatal.then_some(4000 + code)
        }
        0xE1 => Some(1001),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(op: u8, body: &[u8]) -> Vec<u8> {
        let mut f = ((body.len() + 1) as u32).to_be_bytes().to_vec();
        f.push(op);
        f.extend_from_slice(body);
        f
    }

    fn err(code: u16, reference: u32) -> Vec<u8> {
        let mut b = code.to_be_bytes().to_vec();
        b.extend(reference.to_be_bytes());
        b.extend([0, 0, 0]);
        frame(0xE0, &b)
    }

    /// The ending after `bytes` fed in pieces of `step`.
    fn scan(bytes: &[u8], step: usize) -> FrameScan {
        let mut s = FrameScan::default();
        for c in bytes.chunks(step) {
            s.advance(&[IoSlice::new(c)], c.len());
        }
        s
    }

    #[test]
    fn endings_in_any_pieces() {
        for step in [1, 2, 3, 5, 7, 100] {
            assert_eq!(scan(&err(100, 0), step).ending(), Some(4100));
            assert_eq!(scan(&err(201, 5), step).ending(), None);
            assert_eq!(scan(&err(500, 0), step).ending(), Some(4500));
            assert_eq!(scan(&err(500, 3), step).ending(), None);
            let mut m = err(106, 1);
            assert_eq!(scan(&m, step).ending(), Some(4106));
            m.extend(frame(0x91, b"x"));
            assert_eq!(scan(&m, step).ending(), None);
            assert_eq!(scan(&frame(0xE1, &[0; 6]), step).ending(), Some(1001));
        }
    }

    #[test]
    fn boundaries() {
        let mut m = frame(1, b"abc");
        m.extend(frame(2, &[9; 300]));
        for step in [1, 4, 6, 64, 1000] {
            assert!(scan(&m, step).at_boundary());
            assert!(!scan(&m[..m.len() - 1], step).at_boundary());
            assert!(!scan(&m[..2], step).at_boundary());
            assert!(scan(&m[..8], step).at_boundary());
        }
        // The last boundary within the first `n` bytes.
        let (a, b) = m.split_at(5);
        let bufs = [IoSlice::new(a), IoSlice::new(b)];
        let s = FrameScan::default();
        assert_eq!(s.last_boundary(&bufs, m.len()), m.len());
        assert_eq!(s.last_boundary(&bufs, m.len() - 1), 8);
        assert_eq!(s.last_boundary(&bufs, 7), 0);
        let mut mid = FrameScan::default();
        mid.advance(&bufs, 3);
        assert_eq!(mid.last_boundary(&[IoSlice::new(&m[3..])], 10), 5);
        // Only the first `n` bytes of the slices count.
        let mut s = FrameScan::default();
        let (a, b) = m.split_at(5);
        s.advance(&[IoSlice::new(a), IoSlice::new(b)], 8);
        assert!(s.at_boundary());
    }
}
