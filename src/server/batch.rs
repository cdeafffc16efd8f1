//! [`WriteBatch`]: many frames gathered into one vectored write. Small
//! pieces are copied into a contiguous chunk; large shared message bodies
//! are written straight from the publisher's buffer (refcounted, never
//! copied per subscriber).

use std::io::IoSlice;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;

/// Bodies up to this size are copied into the batch's chunk: cheaper than
/// an extra iovec. Larger ones are referenced.
const INLINE_MAX: usize = 512;
/// Most iovecs per `writev` call.
const MAX_IOVECS: usize = 64;

/// Frames waiting to be written in one go.
#[derive(Debug, Default)]
pub struct WriteBatch {
    segs: Vec<Bytes>,
    cur: BytesMut,
    len: usize,
    /// Write progress: first unwritten segment and offset into it. Kept in
    /// the batch so an interrupted write can be resumed exactly.
    idx: usize,
    off: usize,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }

    /// Appends bytes by copying them.
    pub fn put_slice(&mut self, b: &[u8]) {
        if self.cur.capacity() - self.cur.len() < b.len() {
            self.cur.reserve(b.len().max(64 * 1024));
        }
        self.cur.extend_from_slice(b);
        self.len += b.len();
    }

    /// Appends shared bytes: copied if small, referenced if large.
    pub fn put_shared(&mut self, b: &Bytes) {
        if b.len() <= INLINE_MAX {
            self.put_slice(b);
            return;
        }
        self.seal();
        self.len += b.len();
        self.segs.push(b.clone());
    }

    fn seal(&mut self) {
        if !self.cur.is_empty() {
            self.segs.push(self.cur.split().freeze());
        }
    }

    /// Bytes in the batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing to write?
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes the whole batch with as few `writev` calls as possible and
    /// empties it. Cancel-safe: if the future is dropped, the batch keeps
    /// what was not yet written, and a later call continues from there.
    pub async fn write_to<W: AsyncWriteExt + Unpin>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.seal();
        while self.idx < self.segs.len() {
            let (idx, off) = (self.idx, self.off);
            let mut iov = [IoSlice::new(&[]); MAX_IOVECS];
            let mut n_iov = 0;
            for (k, s) in self.segs[idx..].iter().take(MAX_IOVECS).enumerate() {
                iov[k] = IoSlice::new(if k == 0 { &s[off..] } else { s });
                n_iov += 1;
            }
            let mut n = w.write_vectored(&iov[..n_iov]).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            while n > 0 {
                let left = self.segs[self.idx].len() - self.off;
                if n >= left {
                    n -= left;
                    self.idx += 1;
                    self.off = 0;
                } else {
                    self.off += n;
                    n = 0;
                }
            }
        }
        self.segs.clear();
        self.len = 0;
        self.idx = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_small_and_large_pieces_in_order() {
        let mut b = WriteBatch::new();
        let big = Bytes::from(vec![7u8; 4000]);
        b.put_slice(b"ab");
        b.put_shared(&big);
        b.put_shared(&Bytes::from_static(b"cd"));
        b.put_shared(&big);
        assert_eq!(b.len(), 8004);
        let mut out = Vec::new();
        b.write_to(&mut out).await.unwrap();
        assert_eq!(out.len(), 8004);
        assert_eq!(&out[..2], b"ab");
        assert_eq!(&out[4002..4004], b"cd");
        assert!(b.is_empty());
    }
}
