//! Connection plumbing shared by publishers and subscribers: connect
//! (loopback, `TCP_NODELAY`), run the adapter's handshake, subscribe and
//! wait for every confirmation, and [`ReadBuf`], the reusable receive
//! buffer the parsers work on.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::bench::config::{BrokerKind, SubOptions};
use crate::bench::error::BenchError;
use crate::bench::wire::{Event, Role, Wire};

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

/// A connected, handshaken connection and its adapter.
pub struct Conn {
    /// The socket.
    pub stream: TcpStream,
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
