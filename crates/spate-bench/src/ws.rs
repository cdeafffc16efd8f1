//! A client-side WebSocket as a byte stream, for brokers reached over
//! WebSocket (spate's `--ws-listen`, nats-server's `websocket` block).
//!
//! Writing: the bytes written between two flushes leave as one binary
//! message (spate wants whole frames per message; the callers write whole
//! requests and then flush). Reading: the bytes of the received binary (or
//! text) messages, in order, as one stream — message boundaries mean
//! nothing to the reader, so a broker may split its protocol bytes across
//! messages however it likes (NATS does). Ping/pong is answered by
//! tungstenite itself; a close message or the end of the stream reads as
//! end of file.
//!
//! The load generator's own adapter, not the server's (`spate::server::ws`):
//! the generator must not depend on the broker it measures.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::stream::{SplitSink, SplitStream};
use futures::{Sink, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// Runs the client handshake for `url` over `io` and splits the result
/// into a byte-stream reader and writer.
pub async fn client<S>(url: &str, io: S) -> Result<(WsRead<S>, WsWrite<S>), WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (ws, _response) = tokio_tungstenite::client_async(url, io).await?;
    Ok(split(ws))
}

/// Splits an open WebSocket into the two byte-stream halves.
pub fn split<S>(ws: WebSocketStream<S>) -> (WsRead<S>, WsWrite<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (sink, stream) = ws.split();
    (
        WsRead {
            stream,
            cur: Bytes::new(),
            done: false,
        },
        WsWrite {
            sink,
            out: BytesMut::new(),
        },
    )
}

fn io_error(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        WsError::ConnectionClosed | WsError::AlreadyClosed => io::ErrorKind::BrokenPipe.into(),
        e => io::Error::other(e),
    }
}

/// The read half: the received messages' bytes as one stream.
pub struct WsRead<S> {
    stream: SplitStream<WebSocketStream<S>>,
    /// The unread rest of the current message.
    cur: Bytes,
    done: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsRead<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while this.cur.is_empty() && !this.done {
            match ready!(Pin::new(&mut this.stream).poll_next(cx)) {
                Some(Ok(Message::Binary(b))) => this.cur = b,
                Some(Ok(Message::Text(t))) => this.cur = t.into(),
                Some(Ok(Message::Close(_))) | None => this.done = true,
                Some(Ok(_)) => {} // ping, pong: tungstenite answers pings
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
            }
        }
        let n = this.cur.len().min(buf.remaining());
        buf.put_slice(&this.cur.split_to(n));
        Poll::Ready(Ok(()))
    }
}

/// The write half: each flush sends what was written since the last one
/// as one binary message. What it holds is bounded by what the caller
/// writes between flushes.
pub struct WsWrite<S> {
    sink: SplitSink<WebSocketStream<S>, Message>,
    out: BytesMut,
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsWrite<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        b: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().out.extend_from_slice(b);
        Poll::Ready(Ok(b.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.out.is_empty() {
            ready!(Pin::new(&mut this.sink).poll_ready(cx)).map_err(io_error)?;
            let msg = Message::Binary(this.out.split().freeze());
            Pin::new(&mut this.sink).start_send(msg).map_err(io_error)?;
        }
        Pin::new(&mut this.sink).poll_flush(cx).map_err(io_error)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().sink)
            .poll_close(cx)
            .map_err(io_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::SinkExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::config::SubOptions;
    use crate::conn::ReadBuf as FrameBuf;
    use crate::wire::{Event, SpateWire, Wire};

    /// A client adapter and the server end of the same WebSocket.
    async fn pair() -> (
        (
            WsRead<tokio::io::DuplexStream>,
            WsWrite<tokio::io::DuplexStream>,
        ),
        WebSocketStream<tokio::io::DuplexStream>,
    ) {
        let (c, s) = tokio::io::duplex(1 << 20);
        let server = tokio::spawn(tokio_tungstenite::accept_async(s));
        let client = client("ws://127.0.0.1/", c).await.unwrap();
        (client, server.await.unwrap().unwrap())
    }

    fn message_frame(payload: &[u8]) -> Vec<u8> {
        let f = spate_proto::Frame::Message {
            sub_id: 1,
            message: spate_proto::Message {
                topic: spate_proto::Text::from("t"),
                payload: Bytes::copy_from_slice(payload),
                ..Default::default()
            },
        };
        f.to_bytes().to_vec()
    }

    /// Frames cut at arbitrary points across messages (one frame split
    /// over three messages, two frames in one) read back whole.
    #[tokio::test]
    async fn reads_frames_across_message_boundaries() {
        let ((mut rd, _wr), mut server) = pair().await;
        let mut bytes = Vec::new();
        for p in [&b"first"[..], b"second", b"third"] {
            bytes.extend(message_frame(p));
        }
        let cuts = [3, 10, bytes.len() - 4, bytes.len()];
        let mut at = 0;
        for cut in cuts {
            let chunk = Bytes::copy_from_slice(&bytes[at..cut]);
            server.send(Message::Binary(chunk)).await.unwrap();
            at = cut;
        }
        server.close(None).await.unwrap();

        let mut wire = Wire::Spate(SpateWire::new(SubOptions::default()));
        let mut buf = FrameBuf::new(64);
        let mut got = Vec::new();
        let mut replies = Vec::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let n = tokio::time::timeout_at(deadline, buf.fill(&mut rd, 1 << 16))
                .await
                .expect("no end of stream within 10 s")
                .unwrap();
            let used = wire
                .parse(buf.data(), &mut replies, &mut |e| {
                    if let Event::Message(p) = e {
                        got.push(p.to_vec());
                    }
                })
                .unwrap();
            buf.consume(used);
            if n == 0 {
                break;
            }
        }
        assert_eq!(
            got,
            vec![b"first".to_vec(), b"second".to_vec(), b"third".to_vec()]
        );
        assert!(buf.data().is_empty(), "no bytes left over");
    }

    /// What is written between two flushes leaves as one binary message.
    #[tokio::test]
    async fn each_flush_is_one_message() {
        let ((_rd, mut wr), mut server) = pair().await;
        wr.write_all(b"ab").await.unwrap();
        wr.write_all(b"cd").await.unwrap();
        wr.flush().await.unwrap();
        wr.write_all(b"e").await.unwrap();
        wr.flush().await.unwrap();
        wr.flush().await.unwrap(); // nothing written: no empty message
        wr.shutdown().await.unwrap();
        let mut msgs = Vec::new();
        while let Some(m) = server.next().await {
            match m.unwrap() {
                Message::Binary(b) => msgs.push(b.to_vec()),
                Message::Close(_) => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(msgs, vec![b"abcd".to_vec(), b"e".to_vec()]);
    }

    /// The end of the WebSocket reads as end of file.
    #[tokio::test]
    async fn close_reads_as_eof() {
        let ((mut rd, _wr), mut server) = pair().await;
        server
            .send(Message::Binary(Bytes::from_static(b"xy")))
            .await
            .unwrap();
        server.close(None).await.unwrap();
        let mut all = Vec::new();
        let read =
            tokio::time::timeout(std::time::Duration::from_secs(10), rd.read_to_end(&mut all))
                .await
                .expect("no end of stream within 10 s");
        read.unwrap();
        assert_eq!(all, b"xy");
    }
}
