//! [`WsIo`]: the socket under a server WebSocket, shared between
//! tungstenite (which reads every message and writes the control frames:
//! pongs, close) and the server's own data-frame writer
//! ([`super::writer::ServerWriter`]), which writes binary frames straight
//! from the connection's write batch — no copy into a message buffer, none
//! into tungstenite's.
//!
//! WebSocket frames must not interleave on the wire (control frames may
//! come between the fragments of a message, RFC 6455 §5.4, but not inside
//! a frame). So the writer declares each data frame it starts
//! ([`Core::raw_left`]); bytes tungstenite writes meanwhile wait in
//! [`Core::pending`] and go out once the frame is complete. Both sides may
//! wait for the socket to become writable, from two tasks: the socket
//! keeps one waker per direction, so it gets a proxy that wakes both.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use bytes::{Buf, BytesMut};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Most bytes of control frames tungstenite may have waiting here; beyond
/// it its writes wait (and its own bounded buffer takes the rest).
const PENDING_MAX: usize = 16 * 1024;

/// Who waits for the socket to become writable.
#[derive(Clone, Copy)]
pub(super) enum Side {
    /// tungstenite (its own proxy covers its reader and sink).
    Tungstenite = 0,
    /// The data-frame writer.
    Writer = 1,
}

/// Wakes every side that waited for the socket.
#[derive(Default)]
struct Proxy {
    wakers: Mutex<[Option<Waker>; 2]>,
}

impl Wake for Proxy {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let ws = std::mem::take(&mut *self.wakers.lock());
        for w in ws.into_iter().flatten() {
            w.wake();
        }
    }
}

/// The shared state: the socket and who may write to it now.
pub(super) struct Core<S> {
    io: S,
    /// tungstenite's bytes (whole control frames) not yet written.
    pending: BytesMut,
    /// A frame of the writer's is in progress (started, not all written):
    /// `pending` waits.
    pub(super) in_frame: bool,
    /// Payload bytes of that frame still to be written.
    pub(super) raw_left: usize,
    proxy: Arc<Proxy>,
    proxy_waker: Waker,
}

/// The socket handed to tungstenite (and, through [`Shared`], to the
/// data-frame writer).
pub struct WsIo<S> {
    core: Shared<S>,
}

/// A handle on the shared [`Core`].
pub(super) type Shared<S> = Arc<Mutex<Core<S>>>;

impl<S> WsIo<S> {
    /// Wraps an accepted socket.
    pub fn new(io: S) -> WsIo<S> {
        let proxy = Arc::new(Proxy::default());
        let proxy_waker = Waker::from(proxy.clone());
        WsIo {
            core: Arc::new(Mutex::new(Core {
                io,
                pending: BytesMut::new(),
                in_frame: false,
                raw_left: 0,
                proxy,
                proxy_waker,
            })),
        }
    }

    /// The shared core, for the data-frame writer.
    pub(super) fn shared(&self) -> Shared<S> {
        self.core.clone()
    }
}

impl<S: AsyncWrite + Unpin> Core<S> {
    /// Registers `side`'s waker for the socket's writability and returns
    /// the context to poll the socket with.
    fn register(&mut self, side: Side, cx: &Context<'_>) {
        let mut ws = self.proxy.wakers.lock();
        let slot = &mut ws[side as usize];
        match slot {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *slot = Some(cx.waker().clone()),
        }
    }

    /// Writes `bufs` to the socket, waking `side` when it is writable
    /// again if it is not now.
    pub(super) fn poll_write_vectored(
        &mut self,
        side: Side,
        cx: &Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.register(side, cx);
        let waker = self.proxy_waker.clone();
        let mut pcx = Context::from_waker(&waker);
        Pin::new(&mut self.io).poll_write_vectored(&mut pcx, bufs)
    }

    /// Writes what tungstenite left waiting, unless a data frame is in
    /// progress. Ready once nothing waits.
    pub(super) fn poll_pending(&mut self, side: Side, cx: &Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            if self.in_frame {
                // The writer finishes its frame, then writes these.
                self.register(side, cx);
                return Poll::Pending;
            }
            let b = std::mem::take(&mut self.pending);
            let r = self.poll_write_vectored(side, cx, &[io::IoSlice::new(&b)]);
            self.pending = b;
            match r {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.pending.advance(n),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Flushes the socket.
    pub(super) fn poll_flush_io(&mut self, side: Side, cx: &Context<'_>) -> Poll<io::Result<()>> {
        self.register(side, cx);
        let waker = self.proxy_waker.clone();
        let mut pcx = Context::from_waker(&waker);
        Pin::new(&mut self.io).poll_flush(&mut pcx)
    }

    /// The data frame in progress is complete: whoever waited for it
    /// (tungstenite's control frames) may go on.
    pub(super) fn frame_done(&mut self) {
        self.in_frame = false;
        self.proxy.wake_by_ref();
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WsIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Only tungstenite reads, from one task at a time.
        Pin::new(&mut self.core.lock().io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WsIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut core = self.core.lock();
        if core.pending.len() >= PENDING_MAX {
            match core.poll_pending(Side::Tungstenite, cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        core.pending.extend_from_slice(buf);
        // Best effort now; what stays is written by the next flush or
        // after the writer's frame.
        if let Poll::Ready(Err(e)) = core.poll_pending(Side::Tungstenite, cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut core = self.core.lock();
        std::task::ready!(core.poll_pending(Side::Tungstenite, cx))?;
        core.poll_flush_io(Side::Tungstenite, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut core = self.core.lock();
        std::task::ready!(core.poll_pending(Side::Tungstenite, cx))?;
        core.register(Side::Tungstenite, cx);
        let waker = core.proxy_waker.clone();
        let mut pcx = Context::from_waker(&waker);
        Pin::new(&mut core.io).poll_shutdown(&mut pcx)
    }
}
