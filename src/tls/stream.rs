//! [`TlsReader`]: the read half of a TLS stream as the frame reader wants
//! it ([`ReadSource`]). A TLS stream cannot say "readable" without
//! decrypting, so waiting reads a first chunk into a small buffer that is
//! handed over (and released) by the next `try_read_buf`; an idle TLS
//! connection holds no buffer of its own (rustls keeps its own).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use tokio::io::{AsyncRead, ReadBuf, ReadHalf};

use crate::server::reader::ReadSource;

/// Bytes the first read after a wait may take: one TLS record's worth.
const FIRST_CHUNK: usize = 16 * 1024;

/// The read half of a (TLS) stream, waitable without a caller's buffer.
pub struct TlsReader<S> {
    rd: ReadHalf<S>,
    /// Read while waiting, not yet taken.
    pending: BytesMut,
    /// The stream ended (or failed) while waiting; reported after `pending`.
    end: Option<io::Result<()>>,
}

impl<S> TlsReader<S> {
    /// Wraps a read half (from `tokio::io::split`).
    pub fn new(rd: ReadHalf<S>) -> TlsReader<S> {
        TlsReader {
            rd,
            pending: BytesMut::new(),
            end: None,
        }
    }
}

/// Reads once into `buf`'s spare room; `Ok(0)` is the end of the stream.
fn poll_read_buf<S: AsyncRead>(
    rd: &mut ReadHalf<S>,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
) -> Poll<io::Result<usize>> {
    if buf.capacity() == buf.len() {
        buf.reserve(FIRST_CHUNK);
    }
    tokio_util::io::poll_read_buf(Pin::new(rd), cx, buf)
}

impl<S: AsyncRead + Send> TlsReader<S> {
    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.pending.is_empty() || self.end.is_some() {
            return Poll::Ready(Ok(()));
        }
        match poll_read_buf(&mut self.rd, cx, &mut self.pending) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(0)) => {
                self.end = Some(Ok(()));
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Ok(_)) => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => {
                self.end = Some(Err(e));
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl<S: AsyncRead + Send> ReadSource for TlsReader<S> {
    fn readable(&mut self) -> impl std::future::Future<Output = io::Result<()>> + Send {
        std::future::poll_fn(move |cx| self.poll_wait(cx))
    }

    fn try_read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        let mut n = 0;
        if !self.pending.is_empty() {
            n = self.pending.len();
            buf.extend_from_slice(&self.pending);
            // Give the buffer back: the next wait allocates anew.
            self.pending = BytesMut::new();
        }
        if self.end.is_some() {
            return match n {
                0 => self.end.take().unwrap_or(Ok(())).map(|()| 0),
                _ => Ok(n),
            };
        }
        // Take what is already decrypted or on the socket, without waiting:
        // a noop waker, as the next wait polls again with a real one.
        let mut cx = Context::from_waker(Waker::noop());
        while buf.len() < buf.capacity() {
            match poll_read_buf(&mut self.rd, &mut cx, buf) {
                Poll::Ready(Ok(0)) => {
                    self.end = Some(Ok(()));
                    break;
                }
                Poll::Ready(Ok(k)) => n += k,
                Poll::Ready(Err(e)) if n == 0 => return Err(e),
                Poll::Ready(Err(e)) => {
                    self.end = Some(Err(e));
                    break;
                }
                Poll::Pending => break,
            }
        }
        match (n, &self.end) {
            (0, Some(_)) => self.end.take().unwrap_or(Ok(())).map(|()| 0),
            (0, None) => Err(io::ErrorKind::WouldBlock.into()),
            _ => Ok(n),
        }
    }
}

impl<S: AsyncRead + Send> AsyncRead for TlsReader<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.pending.is_empty() {
            let k = this.pending.len().min(buf.remaining());
            buf.put_slice(&this.pending.split_to(k));
            return Poll::Ready(Ok(()));
        }
        if let Some(end) = this.end.take() {
            this.end = Some(Ok(()));
            return Poll::Ready(end);
        }
        Pin::new(&mut this.rd).poll_read(cx, buf)
    }
}
