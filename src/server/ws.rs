//! The WebSocket transport (protocol.md, "WebSocket transport"): the
//! handshake (Origin check, optional `spate.v1` subprotocol, message size
//! limit), then an adapter that turns the WebSocket into the byte stream
//! [`connection::serve`] takes. Each binary message carries whole protocol
//! frames; the adapter hands their bytes to the ordinary frame reader. The
//! server writes its data frames itself, straight from the write batch
//! ([`ServerWriter`]); tungstenite reads and writes the control frames.
//! Close codes say why the server closed: a fatal ERROR code `c` becomes
//! close code `4000 + c`, GOAWAY's end 1001, a text message 1003, an
//! oversized message 1009, a frame cut by the end of its message 1002.

mod io;
mod scan;
mod writer;

pub use io::WsIo;
pub use writer::ServerWriter;

use std::io as stdio;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::stream::SplitStream;
use futures::{Stream, StreamExt};
use parking_lot::Mutex;
use spate_proto::{ErrorCode, Frame};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::reader::ReadSource;
use super::{connection, Stage};
use crate::broker::Broker;
use crate::conn::Peer;

/// The subprotocol the server selects when a client offers it. Optional:
/// a client that offers none is served the same.
pub const SUBPROTOCOL: &str = "spate.v1";

/// Room a WebSocket message has beyond `max_frame`: a message may pack
/// several frames, and up to this much more than one largest frame.
pub const MESSAGE_MARGIN: usize = 64 * 1024;

/// WebSocket close code for a fatal ERROR code `c`: `4000 + c`.
pub fn close_code_for(code: ErrorCode) -> u16 {
    4000 + code as u16
}

/// tungstenite's receive buffer: allocated (and zero-filled) for every
/// connection and kept for its life, so it is what an idle WebSocket
/// costs (64 KiB made one cost 75 KiB, against 10 KiB on TCP; see
/// benches/README.md, "Idle WebSocket connections"). It also caps one
/// read: a larger message takes several (its frame grows the buffer to
/// its size).
pub const READ_BUFFER: usize = 8 * 1024;

/// Most bytes tungstenite may hold unsent: the server writes only control
/// frames through it (a pong flood from a client that does not read ends
/// its connection here).
const CONTROL_BUFFER_MAX: usize = 64 * 1024;

/// Serves one accepted TCP socket on the WebSocket listener: handshake
/// within `timeouts.hello_ms`, then the ordinary connection. Without a
/// `permit` (the server is at `max_connections`) the client gets ERROR
/// `TOO_MANY_CONNECTIONS` and a close instead.
#[allow(clippy::result_large_err)] // the handshake callback's signature is tungstenite's
pub async fn handle(
    sock: TcpStream,
    peer: SocketAddr,
    broker: Arc<Broker>,
    stage: watch::Receiver<Stage>,
    permit: Option<OwnedSemaphorePermit>,
) {
    let _ = sock.set_nodelay(true);
    handle_stream(sock, Peer::ws(peer), broker, stage, permit).await
}

/// [`handle`] over any byte stream: plain TCP, or TLS for `wss`
/// (`crate::tls`), with the [`Peer`] its listener made.
#[allow(clippy::result_large_err)] // the handshake callback's signature is tungstenite's
pub async fn handle_stream<S>(
    sock: S,
    peer: Peer,
    broker: Arc<Broker>,
    stage: watch::Receiver<Stage>,
    permit: Option<OwnedSemaphorePermit>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let cfg = broker.config.clone();
    let max_frame = cfg.limits.max_frame_bytes as usize;
    let max_msg = max_frame + MESSAGE_MARGIN;
    let ws_cfg = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(CONTROL_BUFFER_MAX)
        .max_message_size(Some(max_msg))
        .max_frame_size(Some(max_msg));
    let origins = cfg.server.ws_allowed_origins.clone();
    let check = move |req: &Request, resp: Response| on_request(&origins, req, resp);
    let deadline = Duration::from_millis(cfg.timeouts.hello_ms);
    let io = WsIo::new(sock);
    let core = io.shared();
    let accepted = tokio::time::timeout(
        deadline,
        tokio_tungstenite::accept_hdr_async_with_config(io, check, Some(ws_cfg)),
    )
    .await;
    let ws = match accepted {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            crate::log_limited!(info, "ws.handshake", %peer, error = %e, "WebSocket handshake failed");
            return;
        }
        Err(_) => {
            crate::log_limited!(info, "ws.handshake", %peer, "WebSocket handshake timed out");
            return;
        }
    };
    let closing = Arc::new(Closing::default());
    let (sink, stream) = ws.split();
    let rd = WsReader::new(stream, max_frame, closing.clone());
    let wr = ServerWriter::new(core, sink, closing);
    match permit {
        Some(permit) => {
            connection::serve(rd, wr, peer, broker, stage).await;
            drop(permit);
        }
        None => {
            let max = cfg.limits.max_connections;
            let f = Frame::error(
                ErrorCode::TooManyConnections,
                0,
                format!("server is at its limit of {max} connections"),
            )
            .to_bytes();
            let mut wr = wr;
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                wr.write_all(&f).await?;
                wr.shutdown().await
            })
            .await;
        }
    }
}

// The result type is tungstenite's `Callback` signature.
#[allow(clippy::result_large_err)]
/// The handshake check: the Origin header (if any) must be allowed; the
/// `spate.v1` subprotocol is selected if offered.
fn on_request(
    allowed: &[String],
    req: &Request,
    mut resp: Response,
) -> Result<Response, ErrorResponse> {
    if let Some(origin) = req.headers().get("origin") {
        let ok = origin.to_str().is_ok_and(|o| origin_allowed(allowed, o));
        if !ok {
            let mut e = ErrorResponse::new(Some("origin not allowed\n".into()));
            *e.status_mut() = StatusCode::FORBIDDEN;
            return Err(e);
        }
    }
    let offered = req
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL);
    if offered {
        resp.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static(SUBPROTOCOL),
        );
    }
    Ok(resp)
}

/// Whether a browser page from `origin` may connect. With no list
/// configured: http(s) pages on localhost, 127.0.0.1 or [::1] (any port).
/// With a list: `*`, or an exact (case-insensitive) match.
pub fn origin_allowed(allowed: &[String], origin: &str) -> bool {
    if !allowed.is_empty() {
        return allowed
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(origin));
    }
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host = if rest.starts_with('[') {
        match rest.find(']') {
            Some(i) => &rest[..=i],
            None => return false,
        }
    } else {
        rest.split(':').next().unwrap_or("")
    };
    let after = &rest[host.len()..];
    let port_ok = after.is_empty()
        || after.strip_prefix(':').is_some_and(|p| {
            !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
        });
    port_ok
        && matches!(
            host.to_ascii_lowercase().as_str(),
            "localhost" | "127.0.0.1" | "[::1]"
        )
}

/// Why the server closes, chosen by the read side (which saw the cause)
/// for the write side (which sends the close frame).
#[derive(Debug, Default)]
pub(crate) struct Closing {
    close: Mutex<Option<(u16, &'static str)>>,
    /// The client sent its close frame: no data frame may follow the reply.
    peer_closed: std::sync::atomic::AtomicBool,
}

impl Closing {
    fn peer_closed(&self) -> bool {
        self.peer_closed.load(std::sync::atomic::Ordering::Acquire)
    }

    fn set(&self, code: u16, reason: &'static str) {
        self.close.lock().get_or_insert((code, reason));
    }

    /// The close code and reason: the read side's cause if it saw one,
    /// else what the last frame sent (`last`, see [`FrameScan`]) calls for.
    fn choose(&self, last: Option<u16>) -> (u16, &'static str) {
        match (*self.close.lock(), last) {
            (Some((c, r)), _) => (c, r),
            (None, Some(1001)) => (1001, "server shutting down"),
            (None, Some(c)) => (c, "fatal error, see the ERROR frame"),
            (None, None) => (1000, ""),
        }
    }
}

/// A protocol PONG (token 0) standing for a WebSocket ping or pong from
/// the client: any frame resets the idle timeout, and the session ignores
/// PONGs otherwise. Only after the first binary message (which holds
/// HELLO), so it never comes before HELLO.
const LIVENESS_PONG: [u8; 13] = [0, 0, 0, 9, 0x03, 0, 0, 0, 0, 0, 0, 0, 0];

/// The read half: the bytes of the binary messages, in order.
pub struct WsReader<S = TcpStream> {
    stream: SplitStream<WebSocketStream<S>>,
    cur: Bytes,
    done: bool,
    /// A binary message has arrived (so HELLO has, or the session ended).
    got_binary: bool,
    max_frame: usize,
    closing: Arc<Closing>,
}

/// Where the last whole frame in `msg` ends, or `None` if the message
/// ends on a frame boundary or holds a length prefix the frame reader
/// must see to report (0 or more than `max_frame`).
fn cut_frame_at(msg: &[u8], max_frame: usize) -> Option<usize> {
    let mut pos = 0;
    while pos < msg.len() {
        if msg.len() - pos < 4 {
            return Some(pos);
        }
        let len = u32::from_be_bytes([msg[pos], msg[pos + 1], msg[pos + 2], msg[pos + 3]]) as usize;
        if len == 0 || len > max_frame {
            return None;
        }
        if msg.len() - pos - 4 < len {
            return Some(pos);
        }
        pos += 4 + len;
    }
    None
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsReader<S> {
    fn new(
        stream: SplitStream<WebSocketStream<S>>,
        max_frame: usize,
        closing: Arc<Closing>,
    ) -> WsReader<S> {
        WsReader {
            stream,
            cur: Bytes::new(),
            done: false,
            got_binary: false,
            max_frame,
            closing,
        }
    }

    /// Waits until a message's bytes are at hand (or the stream ended).
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<stdio::Result<()>> {
        let this = self;
        loop {
            if !this.cur.is_empty() || this.done {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.stream).poll_next(cx)) {
                Some(Ok(Message::Binary(mut b))) => {
                    this.got_binary = true;
                    if let Some(at) = cut_frame_at(&b, this.max_frame) {
                        // Whole frames before the cut are still handled.
                        b.truncate(at);
                        this.closing
                            .set(1002, "a frame does not end within its message");
                        this.done = true;
                    }
                    this.cur = b;
                }
                Some(Ok(Message::Text(_))) => {
                    this.closing
                        .set(1003, "text messages are not part of the spate protocol");
                    this.done = true;
                }
                // tungstenite answers pings itself. After the handshake a
                // ping or pong from the client is a sign of life, as any
                // frame is: the session sees a protocol PONG, which it
                // ignores but for the idle timeout (protocol.md §2.1).
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                    if this.got_binary {
                        this.cur = Bytes::from_static(&LIVENESS_PONG);
                    }
                }
                Some(Ok(Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) => {
                    this.closing
                        .peer_closed
                        .store(true, std::sync::atomic::Ordering::Release);
                    this.done = true;
                }
                None => this.done = true,
                Some(Err(WsError::Capacity(_))) => {
                    this.closing.set(1009, "message too big");
                    this.done = true;
                }
                Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => this.done = true,
                Some(Err(WsError::Protocol(_))) => {
                    this.closing.set(1002, "WebSocket protocol error");
                    this.done = true;
                }
                Some(Err(e)) => return Poll::Ready(Err(stdio::Error::other(e))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsReader<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<stdio::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_fill(cx))?;
        let n = this.cur.len().min(buf.remaining());
        buf.put_slice(&this.cur.split_to(n));
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> ReadSource for WsReader<S> {
    fn readable(&mut self) -> impl std::future::Future<Output = stdio::Result<()>> + Send {
        std::future::poll_fn(move |cx| self.poll_fill(cx))
    }

    fn try_read_buf(&mut self, buf: &mut BytesMut) -> stdio::Result<usize> {
        if self.cur.is_empty() {
            return match self.done {
                true => Ok(0),
                false => Err(stdio::ErrorKind::WouldBlock.into()),
            };
        }
        let n = self.cur.len();
        buf.extend_from_slice(&self.cur.split_to(n));
        Ok(n)
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

    #[test]
    fn origins() {
        let none: Vec<String> = Vec::new();
        for ok in [
            "http://localhost",
            "http://localhost:5173",
            "https://127.0.0.1:8443",
            "http://[::1]:3000",
            "HTTP://LOCALHOST:1",
        ] {
            assert!(origin_allowed(&none, &ok.to_ascii_lowercase()), "{ok}");
        }
        for bad in [
            "http://evil.example",
            "http://localhost.evil.example",
            "http://127.0.0.1.evil:80",
            "http://localhost:80x",
            "file://",
            "null",
            "http://localhost@evil.example",
        ] {
            assert!(!origin_allowed(&none, bad), "{bad}");
        }
        let list = vec!["https://app.example".to_string()];
        assert!(origin_allowed(&list, "https://app.example"));
        assert!(!origin_allowed(&list, "http://localhost"));
        assert!(origin_allowed(&["*".to_string()], "http://anything"));
    }

    #[test]
    fn cut_frames_are_found() {
        let mut m = frame(1, b"abc");
        m.extend(frame(2, b"de"));
        assert_eq!(cut_frame_at(&m, 100), None);
        let whole = m.len();
        m.extend(&frame(3, b"xyz")[..5]);
        assert_eq!(cut_frame_at(&m, 100), Some(whole));
        m.truncate(whole + 2);
        assert_eq!(cut_frame_at(&m, 100), Some(whole));
        // A length the frame reader must report itself.
        let mut big = (1000u32).to_be_bytes().to_vec();
        big.push(1);
        assert_eq!(cut_frame_at(&big, 100), None);
    }

    #[test]
    fn liveness_pong_is_a_pong_frame() {
        assert_eq!(&LIVENESS_PONG[..], &Frame::Pong(0).to_bytes()[..]);
    }
}
