//! One client connection, from accept to close: the HELLO/WELCOME
//! handshake, then the read loop that decodes frames and runs commands,
//! with the writer task ([`super::writer`]) running beside it.
//!
//! [`serve`] is the one seam for transports: it takes any byte stream
//! (a read half and a write half). TCP ([`handle`]) and WebSocket
//! ([`super::ws`]) are its callers; everything above the bytes (sessions,
//! policies, limits, metrics) is shared.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Buf;
use futures::FutureExt;
use spate_proto::{
    Codec, CodecError, DecodeError, ErrorCode, Frame, RawCodec, Text, Welcome, PROTOCOL_VERSION,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::reader::{FrameReader, ReadSource};
use super::Stage;
use crate::broker::{Broker, ConnInfo, DisconnectReason};
use crate::commands;
use crate::conn::outbox::Outbox;
use crate::conn::session::Session;
use crate::conn::writer;
use crate::conn::Peer;

/// The receive side: its buffer exists only while the client is sending
/// ([`FrameReader`]), so idle connections stay cheap.
type Frames<R> = FrameReader<R>;

/// Serves one accepted TCP socket until it closes; returns why it closed.
pub async fn handle(
    stream: TcpStream,
    peer: SocketAddr,
    broker: Arc<Broker>,
    stage: watch::Receiver<Stage>,
) -> DisconnectReason {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    serve(rd, wr, Peer::tcp(peer), broker, stage).await
}

/// Serves one connection over any byte stream until it closes; returns why
/// it closed. `wr` must deliver what was written by the time a `flush`
/// completes, and `shutdown` ends the stream (a FIN for TCP, a close frame
/// for WebSocket).
pub async fn serve<R, W>(
    rd: R,
    mut wr: W,
    peer: Peer,
    broker: Arc<Broker>,
    stage: watch::Receiver<Stage>,
) -> DisconnectReason
where
    R: ReadSource + AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let cfg = broker.config.clone();
    let codec = RawCodec(Codec::new(cfg.limits.max_frame_bytes as usize));
    let mut frames = FrameReader::new(rd, codec);

    let hello_timeout = Duration::from_millis(cfg.timeouts.hello_ms);
    let first = tokio::time::timeout(hello_timeout, frames.next()).await;
    let hello = match first {
        Err(_) => {
            let msg = format!("no HELLO within {} ms", cfg.timeouts.hello_ms);
            return refuse(
                wr,
                peer,
                ErrorCode::HelloRequired,
                msg,
                DisconnectReason::Timeout,
            )
            .await;
        }
        Ok(None) | Ok(Some(Err(CodecError::Io(_)))) => return DisconnectReason::Client,
        Ok(Some(Err(CodecError::Decode(e)))) => {
            return refuse(
                wr,
                peer,
                e.code(),
                e.to_string(),
                DisconnectReason::ProtocolError,
            )
            .await
        }
        Ok(Some(Ok((op, body)))) => match Frame::decode_request(op, body) {
            Ok(Frame::Hello(h)) => h,
            Ok(f) => {
                let msg = format!(
                    "the first frame must be HELLO (0x01), got opcode 0x{:02x}",
                    f.opcode()
                );
                return refuse(
                    wr,
                    peer,
                    ErrorCode::HelloRequired,
                    msg,
                    DisconnectReason::ProtocolError,
                )
                .await;
            }
            Err(e) => {
                let code = match e {
                    DecodeError::UnknownOpcode(_) => ErrorCode::HelloRequired,
                    _ => e.code(),
                };
                let msg = format!("expected HELLO: {e}");
                return refuse(wr, peer, code, msg, DisconnectReason::ProtocolError).await;
            }
        },
    };
    if hello.version != PROTOCOL_VERSION {
        let msg = format!(
            "this server speaks protocol version {PROTOCOL_VERSION}, the client asked for {}",
            hello.version
        );
        return refuse(
            wr,
            peer,
            ErrorCode::UnsupportedVersion,
            msg,
            DisconnectReason::ProtocolError,
        )
        .await;
    }
    let token = hello.auth_token.to_string();
    let auth = match super::auth_events::admit_ip(&broker, &peer) {
        Ok(ip) => super::auth_events::authenticate(&broker, &peer, token, ip, hello_timeout).await,
        Err(r) => Err(r),
    };
    let auth = match auth {
        Ok(a) => a,
        Err((code, msg)) => {
            return refuse(wr, peer, code, msg, DisconnectReason::ProtocolError).await;
        }
    };
    let welcome = Frame::Welcome(Welcome {
        version: PROTOCOL_VERSION,
        server: Text::from(format!("spate {}", env!("CARGO_PKG_VERSION"))),
        server_id: broker.server_id,
        max_frame: cfg.limits.max_frame_bytes,
        max_subscriptions: cfg.limits.max_subscriptions_per_connection,
        max_topic_len: cfg.limits.max_topic_len,
        ping_interval_ms: cfg.timeouts.ping_interval_ms as u32,
    });
    let sent = async {
        wr.write_all(&welcome.to_bytes()).await?;
        wr.flush().await
    };
    if sent.await.is_err() {
        return DisconnectReason::IoError;
    }

    let conn = Arc::new(ConnInfo::new(
        broker.next_id(),
        peer.addr,
        hello.client_name.to_string(),
    ));
    // HELLO's fields borrow the receive buffer it arrived in: kept for the
    // life of the connection, they would pin that 64 KiB allocation.
    drop((hello, welcome));
    broker.register_connection(conn.clone());
    crate::log_limited!(info, "conn.open", conn = conn.id, %peer, client = %conn.client_name, "client connected");
    let outbox = Arc::new(Outbox::new());
    let writer = tokio::spawn(writer::run(
        outbox.clone(),
        wr,
        conn.clone(),
        broker.budget.clone(),
    ));
    let mut session = Session::new(broker.clone(), outbox.clone(), conn.clone()).with_auth(auth);
    let mut stop = stage.clone();

    // The session ends by itself, or when the server stops (whatever the
    // reader is waiting for then: a `block` queue, reply space, a rate
    // limit). A handler that panics ends it too: the cleanup below must
    // run whatever happened, or the connection would stay registered, its
    // subscriptions live and its permit taken.
    let session_fut =
        std::panic::AssertUnwindSafe(read_loop(&mut session, &mut frames, stage)).catch_unwind();
    let reason = tokio::select! {
        r = session_fut => match r {
            Ok(reason) => reason,
            Err(_) => {
                crate::log_limited!(error, "conn.panic", conn = conn.id, %peer, "a request handler panicked: closing the connection");
                outbox.kill_with(Frame::error(ErrorCode::Internal, 0, "internal server error: connection closed").to_bytes());
                DisconnectReason::IoError
            }
        },
        _ = stopped(&mut stop) => {
            outbox.kill_with(Frame::error(ErrorCode::ShuttingDown, 0, "server stopped: drain deadline passed").to_bytes());
            DisconnectReason::Shutdown
        }
    };
    drop(session);

    let subs: Vec<_> = conn.subs.lock().drain().map(|(_, q)| q).collect();
    for q in &subs {
        broker.unsubscribe(q);
    }
    outbox.finish();
    // Bounded: the writer gets `CLOSE_GRACE` (less once the server stops)
    // to finish the frame in flight and the last words, then is cut off,
    // so a peer that stops reading cannot hold its connection (and its
    // permit) forever.
    let grace = if *stop.borrow() == Stage::Stop {
        super::STOP_GRACE
    } else {
        CLOSE_GRACE
    };
    let close_by = Instant::now() + grace;
    let mut writer = writer;
    let flushed = tokio::time::timeout_at(close_by, &mut writer).await.is_ok();
    if !flushed {
        crate::log_limited!(warn, "conn.close.cut", conn = conn.id, %peer, grace_ms = grace.as_millis() as u64, "the client did not take its last frames in time: closing regardless");
        writer.abort();
        let _ = writer.await;
    } else {
        match reason {
            DisconnectReason::Client | DisconnectReason::IoError => {}
            // Drained and told GOAWAY: take what the client already sent.
            DisconnectReason::Shutdown => linger(frames.get_mut(), Instant::now(), &mut stop).await,
            // Killed with a fatal ERROR: let the client read it and close.
            _ => linger(frames.get_mut(), close_by, &mut stop).await,
        }
    }
    outbox.clear();
    broker.unregister_connection(conn.id);
    broker.counters.disconnected(reason);
    let (msgs_in, msgs_out) = (
        conn.messages_in.load(std::sync::atomic::Ordering::Relaxed),
        conn.messages_out.load(std::sync::atomic::Ordering::Relaxed),
    );
    match reason {
        DisconnectReason::Client | DisconnectReason::Shutdown => crate::log_limited!(
            info, "conn.close", conn = conn.id, %peer, client = %conn.client_name,
            reason = reason.name(), msgs_in, msgs_out, subscriptions = subs.len(), "client disconnected"
        ),
        _ => crate::log_limited!(
            warn, "conn.close.abnormal", conn = conn.id, %peer, client = %conn.client_name,
            reason = reason.name(), msgs_in, msgs_out, subscriptions = subs.len(), "client disconnected"
        ),
    }
    reason
}

/// How long a closing connection may take to write what it still owes
/// (the frame in flight, the ERROR saying why, replies being flushed) and
/// for the client to close its side, before it is closed regardless.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Resolves when the server reaches [`Stage::Stop`] (or is gone).
async fn stopped(stage: &mut watch::Receiver<Stage>) {
    loop {
        if *stage.borrow_and_update() == Stage::Stop {
            return;
        }
        if stage.changed().await.is_err() {
            return;
        }
    }
}

/// Most reads a lingering close discards (of up to 4 KiB each).
const LINGER_MAX_READS: usize = 4096;

/// Lingering close: the writer has sent its last frame and a FIN. Until
/// the client closes its side (or `until`, or the server starts shutting
/// down), read and discard what it still sends; what is readable at once
/// is always taken. Closing a socket with unread input makes the kernel
/// reset the connection and throw away output not yet delivered — the
/// client would lose the end of the stream, even the ERROR saying why it
/// was closed.
async fn linger<R: AsyncRead + Unpin>(
    rd: &mut R,
    until: Instant,
    stage: &mut watch::Receiver<Stage>,
) {
    use tokio::io::AsyncReadExt;
    let mut sink = [0u8; 4096];
    let mut shutting_down = *stage.borrow_and_update() != Stage::Running;
    // Bounded even against a client that floods: at most 16 MiB discarded.
    for _ in 0..LINGER_MAX_READS {
        let read = rd.read(&mut sink);
        let more = if shutting_down || Instant::now() >= until {
            read.now_or_never()
        } else {
            tokio::select! {
                r = read => Some(r),
                _ = tokio::time::sleep_until(until) => None,
                _ = stage.changed() => {
                    shutting_down = true;
                    continue;
                }
            }
        };
        match more {
            Some(Ok(n)) if n > 0 => {}
            _ => return,
        }
    }
}

/// Writes one fatal ERROR before the session started and closes.
async fn refuse<W: AsyncWrite + Unpin>(
    mut wr: W,
    peer: Peer,
    code: ErrorCode,
    message: String,
    reason: DisconnectReason,
) -> DisconnectReason {
    crate::log_limited!(warn, "conn.refused", %peer, %code, %message, "refusing connection before HELLO completed");
    let f = Frame::error(code, 0, message).to_bytes();
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = wr.write_all(&f).await;
        let _ = wr.flush().await;
        let _ = wr.shutdown().await;
    })
    .await;
    reason
}

async fn read_loop<R: ReadSource + AsyncRead + Unpin>(
    s: &mut Session,
    frames: &mut Frames<R>,
    mut stage: watch::Receiver<Stage>,
) -> DisconnectReason {
    let t = &s.broker().config.timeouts;
    let ping_interval = Duration::from_millis(t.ping_interval_ms);
    let ping_timeout = Duration::from_millis(t.ping_timeout_ms.max(1));
    let tick_every = if t.ping_interval_ms == 0 {
        ping_timeout / 2
    } else {
        (ping_interval / 2).min(ping_timeout / 2)
    }
    .max(Duration::from_millis(50));
    let mut tick = tokio::time::interval(tick_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_rx = Instant::now();
    let mut got_frame = false;
    let mut pinged = false;
    let mut ping_token = 0u64;
    let drain_ms = s.broker().config.timeouts.shutdown_drain_ms as u32;
    let outbox = s.outbox().clone();
    loop {
        tokio::select! {
            biased;
            _ = outbox.killed() => return DisconnectReason::SlowConsumer,
            _ = outbox.writer_closed() => {
                return if s.is_draining() { DisconnectReason::Shutdown } else { DisconnectReason::IoError };
            }
            r = stage.changed() => {
                let now = *stage.borrow_and_update();
                if r.is_err() || now == Stage::Stop {
                    s.outbox().kill_with(Frame::error(ErrorCode::ShuttingDown, 0, "server stopped: drain deadline passed").to_bytes());
                    return DisconnectReason::Shutdown;
                }
                if now == Stage::Draining && !s.is_draining() {
                    s.set_draining();
                    s.outbox().send_now(&Frame::GoAway { drain_ms, reason: Text::from("server shutting down") });
                    s.outbox().finish();
                }
            }
            ev = s.auth_mut().next_event() => {
                if let Some(reason) = super::auth_events::on_event(s, ev).await {
                    return reason;
                }
            }
            _ = tick.tick() => {
                let now = Instant::now();
                if got_frame {
                    last_rx = now;
                    got_frame = false;
                    pinged = false;
                }
                let idle = now - last_rx;
                if idle >= ping_timeout {
                    s.outbox().kill_with(Frame::error(ErrorCode::IdleTimeout, 0, format!("no frame from the client for {} ms", ping_timeout.as_millis())).to_bytes());
                    return DisconnectReason::Timeout;
                }
                if !ping_interval.is_zero() && idle >= ping_interval && !pinged {
                    pinged = true;
                    ping_token += 1;
                    s.outbox().send_now(&Frame::Ping(ping_token));
                }
            }
            f = frames.next() => {
                got_frame = true;
                if let Some(reason) = handle_frames(s, frames, f).await {
                    return reason;
                }
                // Let the writers this run woke go first: a woken task sits in
                // this worker's LIFO slot and would otherwise wait until a
                // publisher that always has more to read runs out of budget,
                // starving subscribers; yielding also lets the other worker
                // steal this reader, so reading and writing use both cores.
                tokio::task::yield_now().await;
            }
        }
    }
}

/// Ends the connection for a protocol violation: publishes received before
/// it are still handled, then the ERROR is the last frame written.
async fn fatal(s: &mut Session, code: ErrorCode, message: String) -> DisconnectReason {
    commands::flush(s).await;
    s.outbox()
        .kill_with(Frame::error(code, 0, message).to_bytes());
    DisconnectReason::ProtocolError
}

/// Most frames handled per wake-up before publishes are flushed and the
/// loop looks at its other duties (signals, pings).
const MAX_RUN: usize = 1024;
/// Most frame bytes gathered into one run: bounds how far a `block` queue
/// can overshoot its limit (protocol.md, policies).
const MAX_RUN_BYTES: usize = 256 * 1024;

type Next = Option<Result<(u8, bytes::Bytes), CodecError>>;

/// Handles `first` and every further frame already readable without
/// waiting (up to [`MAX_RUN`]), then flushes the gathered publishes as one
/// batch. Returns why the connection must end, if it must.
async fn handle_frames<R: ReadSource + AsyncRead + Unpin>(
    s: &mut Session,
    frames: &mut Frames<R>,
    first: Next,
) -> Option<DisconnectReason> {
    let mut next = first;
    let (mut n, mut bytes) = (0, 0);
    let end = loop {
        let (op, body) = match next {
            None | Some(Err(CodecError::Io(_))) => break Some(DisconnectReason::Client),
            Some(Err(CodecError::Decode(e))) => {
                return Some(fatal(s, e.code(), e.to_string()).await)
            }
            Some(Ok(raw)) => raw,
        };
        bytes += body.len() + 5;
        match Frame::decode_request(op, body) {
            Ok(frame) => {
                if let Err(f) = commands::apply(s, frame).await {
                    return Some(fatal(s, f.code, f.message).await);
                }
            }
            Err(DecodeError::UnknownOpcode(op)) => {
                commands::flush(s).await;
                let msg = format!("unknown opcode 0x{op:02x}; frame ignored");
                s.reply(Frame::error(ErrorCode::UnknownOpcode, 0, msg))
                    .await;
            }
            Err(e) => return Some(fatal(s, e.code(), e.to_string()).await),
        }
        n += 1;
        if n >= MAX_RUN || bytes >= MAX_RUN_BYTES {
            break None;
        }
        let (taken, used) = publish_in_place(s, frames, MAX_RUN - n, MAX_RUN_BYTES - bytes).await;
        n += taken;
        bytes += used;
        if n >= MAX_RUN || bytes >= MAX_RUN_BYTES {
            break None;
        }
        match frames.next().now_or_never() {
            Some(f) => next = f,
            None => break None,
        }
    };
    commands::flush(s).await;
    end
}

/// The fast path for a publisher: the complete PUBLISH frames of the common
/// shape (no headers) at the front of the receive buffer are read in place
/// — no split, no copy, no reference count per frame — and published as
/// one run with those gathered before them, then dropped from the buffer.
/// Stops at any other frame, which the ordinary path then decodes (and
/// reports, if it is bad), and within the run's limits (`max_frames` and
/// `max_bytes`, both at least 1). Returns the frames and bytes taken.
async fn publish_in_place<R: ReadSource + AsyncRead + Unpin>(
    s: &mut Session,
    frames: &mut Frames<R>,
    max_frames: usize,
    max_bytes: usize,
) -> (usize, usize) {
    let codec = &frames.decoder().0;
    let buf: &[u8] = frames.read_buffer();
    let Some((first, len)) = codec.peek_publish(buf) else {
        // Nothing to add: the gathered publishes wait for the rest of the run.
        return (0, 0);
    };
    let (mut taken, mut used) = (1, len);
    let rest = std::iter::from_fn(|| {
        if taken == max_frames || used >= max_bytes {
            return None;
        }
        let (p, len) = codec.peek_publish(&buf[used..])?;
        taken += 1;
        used += len;
        Some(p)
    });
    commands::flush_with(s, std::iter::once(first).chain(rest)).await;
    frames.read_buffer_mut().advance(used);
    (taken, used)
}
