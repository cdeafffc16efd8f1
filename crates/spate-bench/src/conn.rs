//! Connection plumbing shared by publishers and subscribers: connect
//! (loopback, `TCP_NODELAY`), run the adapter's handshake, subscribe and
//! wait for every confirmation, and [`ReadBuf`], the reusable receive
//! buffer the parsers work on. spate and nats-server can also be reached
//! over WebSocket ([`ConnStream::Ws`], the client adapter in `ws.rs`): the
//! same bytes, each flushed write one binary message.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};

use crate::config::{BrokerKind, SubOptions};
use crate::error::BenchError;
use crate::wire::{Event, Role, Wire};
use crate::ws::{WsRead, WsWrite};

type WsReader = WsRead<TcpStream>;
type WsWriter = WsWrite<TcpStream>;

/// Receive buffer of a fast connection.
pub const READ_BUF: usize = 256 * 1024;

/// Time allowed for connect plus handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A byte buffer filled from a socket and consumed from the front.
#[derive(Debug)]
pub struct ReadBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuf {
    /// An empty buffer of `capacity` bytes (grown only for a frame larger
    /// than it).
    pub fn new(capacity: usize) -> ReadBuf {
        ReadBuf {
            buf: vec![0; capacity],
            start: 0,
            end: 0,
        }
    }

    /// Unconsumed bytes.
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks `n` bytes at the front as used.
    pub fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads at most `limit` bytes once; `Ok(0)` is end of stream.
    /// Cancel-safe: a read either happened or did not.
    pub async fn fill<R: AsyncRead + Unpin>(
        &mut self,
        r: &mut R,
        limit: usize,
    ) -> std::io::Result<usize> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let n = self.buf.len() * 2;
                self.buf.resize(n, 0);
            }
        }
        let stop = self.buf.len().min(self.end + limit.max(1));
        let n = r.read(&mut self.buf[self.end..stop]).await?;
        self.end += n;
        Ok(n)
    }
}

/// A TLS stream to the broker.
type Tls = tokio_rustls::client::TlsStream<TcpStream>;

/// A connection's byte stream: TCP, or WebSocket, or TLS (spate only).
pub enum ConnStream {
    /// Plain TCP.
    Tcp(TcpStream),
    /// WebSocket: both halves of the adapter.
    Ws(WsReader, WsWriter),
    /// TLS: both halves.
    Tls(tokio::io::ReadHalf<Tls>, tokio::io::WriteHalf<Tls>),
}

/// The read half of a [`ConnStream`].
pub enum ConnRead {
    /// Plain TCP.
    Tcp(OwnedReadHalf),
    /// WebSocket.
    Ws(WsReader),
    /// TLS.
    Tls(tokio::io::ReadHalf<Tls>),
}

/// The write half of a [`ConnStream`]; over WebSocket, each flush sends
/// what was written since as one message.
pub enum ConnWrite {
    /// Plain TCP.
    Tcp(OwnedWriteHalf),
    /// WebSocket.
    Ws(WsWriter),
    /// TLS.
    Tls(tokio::io::WriteHalf<Tls>),
}

impl ConnStream {
    /// Splits into halves owned by separate tasks.
    pub fn into_split(self) -> (ConnRead, ConnWrite) {
        match self {
            ConnStream::Tcp(s) => {
                let (r, w) = s.into_split();
                (ConnRead::Tcp(r), ConnWrite::Tcp(w))
            }
            ConnStream::Ws(r, w) => (ConnRead::Ws(r), ConnWrite::Ws(w)),
            ConnStream::Tls(r, w) => (ConnRead::Tls(r), ConnWrite::Tls(w)),
        }
    }
}

macro_rules! delegate_read {
    ($t:ty, $($v:ident),*) => {
        impl AsyncRead for $t {
            fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut tokio::io::ReadBuf<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $(Self::$v(r, ..) => Pin::new(r).poll_read(cx, buf),)*
                }
            }
        }
    };
}
delegate_read!(ConnRead, Tcp, Ws, Tls);

impl AsyncRead for ConnStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ConnStream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            ConnStream::Ws(r, _) => Pin::new(r).poll_read(cx, buf),
            ConnStream::Tls(r, _) => Pin::new(r).poll_read(cx, buf),
        }
    }
}

macro_rules! delegate_write {
    ($t:ty, $tcp:pat => $tw:ident, $ws:pat => $ww:ident, $tls:pat => $lw:ident) => {
        impl AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                b: &[u8],
            ) -> Poll<io::Result<usize>> {
                match self.get_mut() {
                    $tcp => Pin::new($tw).poll_write(cx, b),
                    $ws => Pin::new($ww).poll_write(cx, b),
                    $tls => Pin::new($lw).poll_write(cx, b),
                }
            }
            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $tcp => Pin::new($tw).poll_flush(cx),
                    $ws => Pin::new($ww).poll_flush(cx),
                    $tls => Pin::new($lw).poll_flush(cx),
                }
            }
            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $tcp => Pin::new($tw).poll_shutdown(cx),
                    $ws => Pin::new($ww).poll_shutdown(cx),
                    $tls => Pin::new($lw).poll_shutdown(cx),
                }
            }
        }
    };
}
delegate_write!(ConnWrite, ConnWrite::Tcp(w) => w, ConnWrite::Ws(w) => w, ConnWrite::Tls(w) => w);
delegate_write!(ConnStream, ConnStream::Tcp(w) => w, ConnStream::Ws(_, w) => w, ConnStream::Tls(_, w) => w);

/// A connected, handshaken connection and its adapter.
pub struct Conn {
    /// The socket.
    pub stream: ConnStream,
    /// Its protocol adapter.
    pub wire: Wire,
    /// Bytes received after the handshake, not yet parsed.
    pub rbuf: ReadBuf,
}

/// Connects to `addr` and completes the `kind` handshake as `role`.
/// `recv_buffer` shrinks the kernel receive buffer (the slow subscriber
/// uses it so the broker feels its backpressure early).
pub async fn connect(
    kind: BrokerKind,
    addr: SocketAddr,
    opts: &SubOptions,
    role: Role,
    recv_buffer: Option<u32>,
    ws: bool,
    tls: Option<&crate::tls::BenchTls>,
) -> Result<Conn, BenchError> {
    let cerr = |source| BenchError::Connect { addr, source };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(cerr)?;
    if let Some(n) = recv_buffer {
        socket.set_recv_buffer_size(n).map_err(cerr)?;
    }
    let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, socket.connect(addr))
        .await
        .map_err(|_| BenchError::Timeout("connect"))?
        .map_err(cerr)?;
    stream.set_nodelay(true)?;
    let stream = if let Some(tls) = tls {
        let s = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.connect(stream, addr))
            .await
            .map_err(|_| BenchError::Timeout("TLS handshake"))??;
        let (r, w) = tokio::io::split(s);
        ConnStream::Tls(r, w)
    } else if ws {
        let url = format!("ws://{addr}/");
        let (r, w) = tokio::time::timeout(HANDSHAKE_TIMEOUT, crate::ws::client(&url, stream))
            .await
            .map_err(|_| BenchError::Timeout("WebSocket handshake"))?
            .map_err(|e| BenchError::Refused(format!("WebSocket handshake: {e}")))?;
        ConnStream::Ws(r, w)
    } else {
        ConnStream::Tcp(stream)
    };
    let mut conn = Conn {
        stream,
        wire: Wire::new(kind, opts),
        rbuf: ReadBuf::new(if recv_buffer.is_some() {
            64 * 1024
        } else {
            READ_BUF
        }),
    };
    let mut out = Vec::new();
    conn.wire.hello(role, &mut out);
    conn.stream.write_all(&out).await?;
    conn.stream.flush().await?;
    tokio::time::timeout(HANDSHAKE_TIMEOUT, conn.await_units("handshake", 1, true))
        .await
        .map_err(|_| BenchError::Timeout("handshake"))??;
    Ok(conn)
}

impl Conn {
    /// Subscribes to `patterns` (ids from 1) and waits, at most `limit`,
    /// until the broker confirmed them all.
    pub async fn subscribe(
        &mut self,
        patterns: &[String],
        limit: Duration,
    ) -> Result<(), BenchError> {
        let subs: Vec<(u32, String)> = patterns
            .iter()
            .enumerate()
            .map(|(i, p)| (i as u32 + 1, p.clone()))
            .collect();
        let mut out = Vec::new();
        let want = self.wire.subscribe(&subs, &mut out);
        self.stream.write_all(&out).await?;
        self.stream.flush().await?;
        tokio::time::timeout(limit, self.await_units("subscribe", want, false))
            .await
            .map_err(|_| BenchError::Timeout("subscribe confirmations"))?
    }

    /// Reads until `want` Ready (handshake) or Subscribed units arrived.
    async fn await_units(
        &mut self,
        stage: &'static str,
        want: u64,
        handshake: bool,
    ) -> Result<(), BenchError> {
        let mut got = 0;
        let mut replies = Vec::new();
        while got < want {
            let mut err = None;
            let used = self
                .wire
                .parse(self.rbuf.data(), &mut replies, &mut |e| match e {
                    Event::Ready if handshake => got += 1,
                    Event::Subscribed(n) if !handshake => got += n,
                    Event::Error(m) => err = Some(m),
                    _ => {}
                })?;
            self.rbuf.consume(used);
            if let Some(m) = err {
                return Err(BenchError::Refused(m));
            }
            if !replies.is_empty() {
                self.stream.write_all(&replies).await?;
                self.stream.flush().await?;
                replies.clear();
            }
            if got >= want {
                break;
            }
            if self.rbuf.fill(&mut self.stream, READ_BUF).await? == 0 {
                return Err(BenchError::Closed(stage));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readbuf_compacts_and_grows() {
        let data: Vec<u8> = (0..=255).collect();
        let mut src: &[u8] = &data;
        let mut rb = ReadBuf::new(8);
        assert_eq!(rb.fill(&mut src, 100).await.unwrap(), 8);
        rb.consume(3);
        assert_eq!(rb.fill(&mut src, 100).await.unwrap(), 3); // compacted
        assert_eq!(rb.data(), &data[3..11]);
        assert_eq!(rb.fill(&mut src, 100).await.unwrap(), 8); // grown
        assert_eq!(rb.data(), &data[3..19]);
        rb.consume(16);
        assert!(rb.data().is_empty());
    }
}
