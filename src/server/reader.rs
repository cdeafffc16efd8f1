//! [`FrameReader`]: the read side of one connection. Splits raw frames off
//! a receive buffer that exists only while the client is sending: it is
//! allocated when the socket becomes readable and given back as soon as
//! the socket runs dry with no partial frame left, so an idle connection
//! holds no read buffer at all (10,000 idle clients used to hold 64 KiB
//! each). A busy publisher keeps its buffer for as long as bytes keep
//! arriving, so the hot path reads as before.

use bytes::{Bytes, BytesMut};
use spate_proto::{CodecError, RawCodec};
use std::future::Future;
use std::io;

use tokio::net::tcp::OwnedReadHalf;
use tokio_util::codec::Decoder;

/// Bytes a fresh receive buffer gets: large enough to take many small
/// frames per syscall. A larger frame grows it to that frame's size
/// (bounded by `limits.max_frame_bytes`, checked by the codec).
pub const READ_CHUNK: usize = 64 * 1024;

/// An empty buffer with less room than this is replaced by a fresh one.
const MIN_READ: usize = 4 * 1024;

/// Frames from a socket, read into a buffer allocated on demand.
#[derive(Debug)]
pub struct FrameReader<R = OwnedReadHalf> {
    rd: R,
    codec: RawCodec,
    buf: BytesMut,
    eof: bool,
}

/// What a [`FrameReader`] reads from: a transport's read half that can
/// wait for input without a buffer and then take what arrived without
/// waiting. TCP ([`OwnedReadHalf`]) and WebSocket
/// ([`super::ws::WsReader`]) implement it.
pub trait ReadSource: Send {
    /// Resolves once input (or the end of the stream, or an error) is
    /// there to take. Cancel-safe.
    fn readable(&mut self) -> impl Future<Output = io::Result<()>> + Send;
    /// Appends what can be read without waiting; `Ok(0)` is the end of the
    /// stream, `WouldBlock` means nothing yet.
    fn try_read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize>;
}

impl ReadSource for OwnedReadHalf {
    fn readable(&mut self) -> impl Future<Output = io::Result<()>> + Send {
        OwnedReadHalf::readable(self)
    }

    fn try_read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        OwnedReadHalf::try_read_buf(self, buf)
    }
}

impl<R: ReadSource> FrameReader<R> {
    /// A reader holding no buffer yet.
    pub fn new(rd: R, codec: RawCodec) -> FrameReader<R> {
        FrameReader {
            rd,
            codec,
            buf: BytesMut::new(),
            eof: false,
        }
    }

    /// The socket's read half (to drain it while closing).
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.rd
    }

    /// The codec (for reading frames in place).
    pub fn decoder(&self) -> &RawCodec {
        &self.codec
    }

    /// Received bytes not yet taken as frames.
    pub fn read_buffer(&self) -> &BytesMut {
        &self.buf
    }

    /// Received bytes not yet taken as frames, to drop what was read in
    /// place.
    pub fn read_buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Bytes the receive buffer holds allocated (0 while idle).
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The next raw frame; `None` once the client has closed. Cancel-safe:
    /// the only wait is for readiness, and everything read is kept in the
    /// reader, so a dropped call loses nothing.
    pub async fn next(&mut self) -> Option<Result<(u8, Bytes), CodecError>> {
        loop {
            if self.eof {
                // As FramedRead: what is left must be whole frames.
                return self.codec.decode_eof(&mut self.buf).transpose();
            }
            if let Some(r) = self.codec.decode(&mut self.buf).transpose() {
                return Some(r);
            }
            if self.buf.is_empty() && self.buf.capacity() < MIN_READ {
                // Only the tail of a used buffer is left: start a fresh one
                // rather than reading a few bytes per syscall.
                self.buf = BytesMut::new();
            }
            if self.buf.capacity() == 0 {
                // Nothing buffered: wait without holding a buffer.
                if let Err(e) = self.rd.readable().await {
                    return Some(Err(e.into()));
                }
                self.buf.reserve(READ_CHUNK);
            } else {
                // A partial frame, or room left in a buffer being used.
                self.buf.reserve(1);
            }
            match self.rd.try_read_buf(&mut self.buf) {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if self.buf.is_empty() {
                        // Ran dry between frames: give the buffer back.
                        self.buf = BytesMut::new();
                    } else if let Err(e) = self.rd.readable().await {
                        return Some(Err(e.into()));
                    }
                }
                Err(e) => return Some(Err(e.into())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use spate_proto::Codec;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    async fn pair() -> (FrameReader, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        let (rd, _wr) = server.into_split();
        // The write half is dropped: that only shuts down our sending side.
        let codec = RawCodec(Codec::new(1024 * 1024));
        (FrameReader::new(rd, codec), client)
    }

    fn frame(op: u8, body_len: usize) -> Vec<u8> {
        let mut f = ((body_len + 1) as u32).to_be_bytes().to_vec();
        f.push(op);
        f.extend((0..body_len).map(|i| i as u8));
        f
    }

    /// Polls `next` until it has waited `quiet` for more bytes.
    async fn next_or_quiet(r: &mut FrameReader) -> Option<(u8, Bytes)> {
        let quiet = Duration::from_millis(50);
        match tokio::time::timeout(quiet, r.next()).await {
            Ok(Some(Ok(f))) => Some(f),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) => None,
        }
    }

    #[tokio::test]
    async fn an_idle_reader_holds_no_buffer_and_loses_nothing_when_cancelled() {
        let (mut r, mut c) = pair().await;
        assert_eq!(r.buffer_capacity(), 0);
        c.write_all(&frame(1, 10)).await.unwrap();
        let d = Duration::from_secs(5);
        let (op, body) = tokio::time::timeout(d, r.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!((op, body.len()), (1, 10));
        drop(body);
        // Nothing more to read: the buffer goes back while it waits.
        assert!(next_or_quiet(&mut r).await.is_none());
        assert_eq!(r.buffer_capacity(), 0);
        // The cancelled wait lost nothing: the next frame arrives whole.
        c.write_all(&frame(2, 3)).await.unwrap();
        let (op, body) = tokio::time::timeout(d, r.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!((op, &body[..]), (2, &[0u8, 1, 2][..]));
    }

    #[tokio::test]
    async fn a_partial_frame_is_kept_and_large_frames_grow_the_buffer() {
        let (mut r, mut c) = pair().await;
        let big = frame(3, 200 * 1024);
        c.write_all(&big[..1000]).await.unwrap();
        assert!(next_or_quiet(&mut r).await.is_none());
        assert!(r.buffer_capacity() > 0, "a partial frame keeps its bytes");
        c.write_all(&big[1000..]).await.unwrap();
        c.write_all(&frame(4, 1)).await.unwrap();
        let d = Duration::from_secs(5);
        let (op, body) = tokio::time::timeout(d, r.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!((op, body.len()), (3, 200 * 1024));
        assert_eq!(&body[..], &big[5..]);
        let (op, _) = tokio::time::timeout(d, r.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(op, 4);
        drop(c);
        assert!(tokio::time::timeout(d, r.next()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_close_inside_a_frame_is_an_error() {
        let (mut r, mut c) = pair().await;
        c.write_all(&frame(1, 10)[..6]).await.unwrap();
        drop(c);
        let d = Duration::from_secs(5);
        let got = tokio::time::timeout(d, r.next()).await.unwrap();
        assert!(matches!(got, Some(Err(CodecError::Io(_)))), "{got:?}");
    }
}
