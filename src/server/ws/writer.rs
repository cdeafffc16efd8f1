//! [`ServerWriter`]: the write half of a server WebSocket. Each write
//! becomes one binary WebSocket data frame written straight from the
//! caller's buffers (vectored, with its 2–10 byte header in front): no
//! copy into a message buffer and none into tungstenite's. The frame takes
//! the write's bytes up to the last protocol-frame boundary among them and
//! is then a whole message (FIN set), which a client takes without joining
//! fragments; only a write with no boundary in it (inside a large protocol
//! frame) becomes a fragment of a message that later frames end. So every
//! message holds whole protocol frames; a flush ends one left open. tungstenite still writes the control frames (pong,
//! close) through the shared [`WsIo`](super::io::WsIo).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures::stream::SplitSink;
use futures::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::io::{Shared, Side, WsIo};
use super::scan::FrameScan;
use super::Closing;

/// Most iovecs handed to one `writev` (the header's included).
const MAX_IOVECS: usize = 64;

/// The header of a data frame in progress.
#[derive(Debug, Default)]
struct Header {
    bytes: [u8; 10],
    len: u8,
    /// Bytes of it written.
    off: u8,
}

impl Header {
    /// A server (unmasked) frame header.
    fn new(fin: bool, opcode: u8, payload: usize) -> Header {
        let mut h = Header::default();
        h.bytes[0] = if fin { 0x80 } else { 0 } | opcode;
        if payload < 126 {
            h.bytes[1] = payload as u8;
            h.len = 2;
        } else if payload <= u16::MAX as usize {
            h.bytes[1] = 126;
            h.bytes[2..4].copy_from_slice(&(payload as u16).to_be_bytes());
            h.len = 4;
        } else {
            h.bytes[1] = 127;
            h.bytes[2..10].copy_from_slice(&(payload as u64).to_be_bytes());
            h.len = 10;
        }
        h
    }

    fn rest(&self) -> &[u8] {
        &self.bytes[self.off as usize..self.len as usize]
    }
}

/// The write half: see the module documentation. Callers write one
/// continuous byte stream (as `AsyncWrite` callers do: after a partial
/// write, the rest comes next).
pub struct ServerWriter<S> {
    core: Shared<S>,
    sink: SplitSink<WebSocketStream<WsIo<S>>, Message>,
    /// The data frame in progress (its header not yet all written).
    header: Option<Header>,
    /// The empty final fragment ending an open message, being written.
    end: Option<Header>,
    /// A message was started and not yet ended (its last frame had no FIN).
    in_message: bool,
    scan: FrameScan,
    close_sent: bool,
    closing: Arc<Closing>,
}

impl<S> ServerWriter<S> {
    pub(super) fn new(
        core: Shared<S>,
        sink: SplitSink<WebSocketStream<WsIo<S>>, Message>,
        closing: Arc<Closing>,
    ) -> ServerWriter<S> {
        ServerWriter {
            core,
            sink,
            header: None,
            end: None,
            in_message: false,
            scan: FrameScan::default(),
            close_sent: false,
            closing,
        }
    }
}

/// The first `n` bytes of `bufs`, at most `MAX_IOVECS - 1` slices.
fn take<'a>(bufs: &'a [IoSlice<'a>], mut n: usize, out: &mut Vec<IoSlice<'a>>) {
    for b in bufs {
        if n == 0 || out.len() == MAX_IOVECS - 1 {
            break;
        }
        let k = b.len().min(n);
        out.push(IoSlice::new(&b[..k]));
        n -= k;
    }
}

impl<S: AsyncWrite + Unpin> ServerWriter<S> {
    /// Starts a data frame for `bufs` (their first `MAX_IOVECS - 1`
    /// slices) unless one is in progress, and writes what the socket
    /// takes of it; returns the payload bytes written.
    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.closing.peer_closed() {
            // tungstenite answers the client's close; nothing may follow.
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if self.end.is_some() {
            // A flush was cut short while ending a message: finish that.
            ready!(self.poll_end_message(cx))?;
        }
        let mut core = self.core.lock();
        if !core.in_frame {
            // A new frame: what tungstenite left waiting goes first.
            ready!(core.poll_pending(Side::Writer, cx))?;
            let bufs = &bufs[..bufs.len().min(MAX_IOVECS - 1)];
            let all: usize = bufs.iter().map(|b| b.len()).sum();
            if all == 0 {
                return Poll::Ready(Ok(0));
            }
            // Up to the last protocol frame boundary, if there is one: a
            // whole message in one WebSocket frame, which a client takes
            // without joining fragments. Else all of it, as a fragment.
            let (n, fin) = match self.scan.last_boundary(bufs, all) {
                0 => (all, false),
                k => (k, true),
            };
            let opcode = if self.in_message { 0x0 } else { 0x2 };
            self.header = Some(Header::new(fin, opcode, n));
            self.in_message = !fin;
            core.raw_left = n;
            core.in_frame = true;
        }
        let payload = loop {
            let mut iov: Vec<IoSlice<'_>> = Vec::with_capacity(MAX_IOVECS);
            let head_len = self.header.as_ref().map_or(0, |h| h.rest().len());
            if let Some(h) = &self.header {
                iov.push(IoSlice::new(h.rest()));
            }
            take(bufs, core.raw_left, &mut iov);
            let wrote = ready!(core.poll_write_vectored(Side::Writer, cx, &iov))?;
            if wrote == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            match &mut self.header {
                // Part of the header only: try again (the socket says
                // when it is full).
                Some(h) if wrote < head_len => h.off += wrote as u8,
                // The header only, to its end: the payload next (a write
                // must take some of it).
                Some(_) if wrote == head_len => self.header = None,
                _ => {
                    self.header = None;
                    break wrote - head_len;
                }
            }
        };
        core.raw_left -= payload;
        if core.raw_left == 0 {
            core.frame_done();
        }
        drop(core);
        self.scan.advance(bufs, payload);
        Poll::Ready(Ok(payload))
    }

    /// Ends a message left open (a flush in the middle of a protocol
    /// frame) with an empty final fragment.
    fn poll_end_message(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut core = self.core.lock();
        if core.raw_left > 0 {
            return Poll::Ready(Err(io::Error::other("WebSocket flush inside a data frame")));
        }
        if self.in_message {
            ready!(core.poll_pending(Side::Writer, cx))?;
            self.end = Some(Header::new(true, 0x0, 0));
            self.in_message = false;
            core.in_frame = true;
        }
        while let Some(h) = &mut self.end {
            let wrote =
                ready!(core.poll_write_vectored(Side::Writer, cx, &[IoSlice::new(h.rest())]))?;
            if wrote == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            h.off += wrote as u8;
            if h.rest().is_empty() {
                self.end = None;
                core.frame_done();
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for ServerWriter<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_frame(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_frame(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_end_message(cx))?;
        // tungstenite's control frames (a pong, the reply to the client's
        // close) go out too, and the socket is flushed.
        Pin::new(&mut this.sink)
            .poll_flush(cx)
            .map_err(io::Error::other)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        let this = self.get_mut();
        if !this.close_sent {
            ready!(Pin::new(&mut this.sink).poll_ready(cx)).map_err(io::Error::other)?;
            let (code, reason) = this.closing.choose(this.scan.ending());
            this.close_sent = true;
            Pin::new(&mut this.sink)
                .start_send(Message::Close(Some(CloseFrame {
                    code: CloseCode::from(code),
                    reason: reason.into(),
                })))
                .map_err(io::Error::other)?;
        }
        Pin::new(&mut this.sink)
            .poll_flush(cx)
            .map_err(io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use futures::{SinkExt, StreamExt};
    use tokio::io::AsyncWriteExt;
    use tokio_tungstenite::tungstenite::protocol::Role;

    use super::super::Closing;
    use super::*;

    fn frame(op: u8, body: &[u8]) -> Vec<u8> {
        let mut f = ((body.len() + 1) as u32).to_be_bytes().to_vec();
        f.push(op);
        f.extend_from_slice(body);
        f
    }

    /// Over a pipe that takes 7 bytes at a time (headers are cut too),
    /// with the client pinging all along: every message holds whole
    /// protocol frames, together they are exactly what was written, and
    /// every ping gets its pong between them.
    #[tokio::test]
    async fn data_frames_and_pongs_never_interleave() {
        let (srv, cli) = tokio::io::duplex(7);
        let io = WsIo::new(srv);
        let core = io.shared();
        let ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
        let (sink, mut stream) = ws.split();
        let mut wr = ServerWriter::new(core, sink, Arc::new(Closing::default()));
        // The server's reader task: tungstenite answers pings as it reads.
        let reader = tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });

        let mut client = WebSocketStream::from_raw_socket(cli, Role::Client, None).await;
        let mut want = Vec::new();
        let mut writes = Vec::new();
        for i in 0..60u32 {
            let mut w = frame(0x91, &vec![i as u8; (i as usize * 37) % 300]);
            w.extend(frame(0x92, &i.to_be_bytes()));
            want.extend_from_slice(&w);
            writes.push(w);
        }
        let writer = tokio::spawn(async move {
            for w in writes {
                // Cut across frame boundaries: each write is its own data
                // frame, the message ends where the frames do.
                let (a, b) = w.split_at(w.len() / 3);
                wr.write_all(a).await.unwrap();
                wr.write_all(b).await.unwrap();
                wr.flush().await.unwrap();
            }
            wr.shutdown().await.unwrap();
        });
        let (mut got, mut pings, mut pongs) = (Vec::new(), 0u32, 0u32);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if pings < 40 {
                client
                    .send(Message::Ping(Bytes::from(pings.to_be_bytes().to_vec())))
                    .await
                    .unwrap();
                pings += 1;
            }
            let m = tokio::time::timeout_at(deadline, client.next())
                .await
                .expect("in time");
            match m {
                Some(Ok(Message::Binary(b))) => {
                    let mut scan = FrameScan::default();
                    scan.advance(&[IoSlice::new(&b)], b.len());
                    assert!(scan.at_boundary(), "a message ends inside a frame");
                    got.extend_from_slice(&b);
                }
                Some(Ok(Message::Pong(p))) => {
                    assert_eq!(&p[..], pongs.to_be_bytes());
                    pongs += 1;
                }
                Some(Ok(Message::Close(c))) => {
                    assert_eq!(u16::from(c.expect("a close frame").code), 1000);
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(got, want);
        assert!(pongs > 0, "some pings answered before the close");
        writer.await.unwrap();
        drop(client);
        reader.await.unwrap();
    }
}
