//! One publisher connection's task: connect, build the publish request of
//! each of its topics once, report ready, wait for the start signal, then
//! send its messages in large coalesced writes (full speed) or paced to a
//! rate, stamping each payload as it is written. A companion task drains
//! the broker's replies (Redis answers every PUBLISH). At the end a flush
//! request (PING) measures when the broker had processed everything.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::conn::{self, ConnRead, ReadBuf, READ_BUF};
use crate::error::BenchError;
use crate::phase::Ctx;
use crate::stamp::{self, now_ns, Stamp};
use crate::wire::{Event, Role, Template, Wire};

/// Bytes gathered before one write at full speed.
const WRITE_BATCH: usize = 64 * 1024;

/// Pacing step of a rate-limited publisher (tokio's timer resolution).
const PACE_TICK: Duration = Duration::from_millis(1);

/// One publisher connection's plan.
#[derive(Debug, Clone)]
pub struct PubPlan {
    /// Publisher id, written into every stamp.
    pub id: u32,
    /// Topics, published to round-robin.
    pub topics: Vec<String>,
    /// Index into `topics` of the first message.
    pub first_topic: usize,
    /// Messages to send.
    pub messages: u64,
    /// Messages per second for this publisher; `None` = full speed.
    pub rate: Option<f64>,
}

/// What a publisher did.
#[derive(Debug, Default)]
pub struct PubOutcome {
    /// Messages written.
    pub sent: u64,
    /// When the broker confirmed it had processed them (or the last write
    /// ended, for a target without flush), ns on the stamp clock.
    pub finished_ns: u64,
    /// Stopped early at the phase deadline.
    pub truncated: bool,
    /// Errors the broker reported or the connection hit.
    pub errors: Vec<String>,
}

/// Runs one publisher; see the module doc.
pub async fn run(
    ctx: Arc<Ctx>,
    plan: PubPlan,
    ready: mpsc::Sender<Result<(), BenchError>>,
    mut start: watch::Receiver<bool>,
) -> PubOutcome {
    let mut out = PubOutcome::default();
    let c = match conn::connect(
        ctx.broker,
        ctx.addr,
        &ctx.sub_options,
        Role::Publisher,
        None,
        ctx.ws,
        ctx.tls.as_ref(),
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            out.errors.push(e.to_string());
            let _ = ready.send(Err(e)).await;
            return out;
        }
    };
    let mut wire = c.wire;
    let templates: Vec<Template> = plan
        .topics
        .iter()
        .map(|t| wire.publish_template(t, ctx.payload))
        .collect();
    let mut flush = Vec::new();
    let has_flush = wire.flush(&mut flush);
    let (rd, mut wr) = c.stream.into_split();
    let (pong_tx, pong_rx) = oneshot::channel();
    let drain = tokio::spawn(drain(rd, c.rbuf, wire, pong_tx));
    let _ = ready.send(Ok(())).await;
    if start.wait_for(|s| *s).await.is_err() {
        drain.abort();
        return out;
    }

    let began = Instant::now();
    let mut buf = Vec::with_capacity(WRITE_BATCH + templates[0].bytes.len());
    let mut next_topic = plan.first_topic % templates.len();
    while out.sent < plan.messages {
        if Instant::now() >= ctx.deadline {
            out.truncated = true;
            break;
        }
        let mut quota = plan.messages - out.sent;
        if let Some(rate) = plan.rate {
            let due = (began.elapsed().as_secs_f64() * rate) as u64;
            if due <= out.sent {
                let next = began + Duration::from_secs_f64((out.sent + 1) as f64 / rate);
                tokio::time::sleep_until(next.max(Instant::now() + PACE_TICK)).await;
                continue;
            }
            quota = quota.min(due - out.sent);
        }
        let now = now_ns();
        while quota > 0 && buf.len() < WRITE_BATCH {
            let t = &templates[next_topic];
            let at = buf.len() + t.payload_at;
            buf.extend_from_slice(&t.bytes);
            let s = Stamp {
                sent_ns: now,
                publisher: plan.id,
                seq: out.sent as u32,
            };
            stamp::write(&mut buf[at..], s);
            out.sent += 1;
            quota -= 1;
            next_topic += 1;
            if next_topic == templates.len() {
                next_topic = 0;
            }
        }
        if let Err(e) = write_flush(&mut wr, &buf).await {
            out.errors.push(format!("publish write: {e}"));
            break;
        }
        buf.clear();
    }
    out.finished_ns = now_ns();
    if has_flush && out.errors.is_empty() && write_flush(&mut wr, &flush).await.is_ok() {
        let wait = ctx.deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait, pong_rx).await {
            Ok(Ok(())) => out.finished_ns = now_ns(),
            _ => out
                .errors
                .push("broker did not answer the final flush".into()),
        }
    }
    let _ = wr.shutdown().await;
    let mut drain = drain;
    match tokio::time::timeout(Duration::from_millis(200), &mut drain).await {
        Ok(Ok(errs)) => out.errors.extend(errs),
        _ => drain.abort(),
    }
    out
}

/// Writes `b` and flushes it (one message over WebSocket; a no-op flush
/// over TCP).
async fn write_flush(wr: &mut conn::ConnWrite, b: &[u8]) -> std::io::Result<()> {
    wr.write_all(b).await?;
    wr.flush().await
}

/// Reads and discards the broker's replies; signals the first PONG (the
/// final flush) and returns the errors the broker sent.
async fn drain(
    mut rd: ConnRead,
    mut rbuf: ReadBuf,
    mut wire: Wire,
    pong: oneshot::Sender<()>,
) -> Vec<String> {
    let mut pong = Some(pong);
    let mut errors = Vec::new();
    let mut replies = Vec::new();
    loop {
        let used = wire.parse(rbuf.data(), &mut replies, &mut |e| match e {
            Event::Pong => {
                if let Some(p) = pong.take() {
                    let _ = p.send(());
                }
            }
            Event::Error(m) if errors.len() < 10 => errors.push(m),
            _ => {}
        });
        match used {
            Ok(n) => rbuf.consume(n),
            Err(e) => {
                errors.push(e.to_string());
                return errors;
            }
        }
        // Keep-alive answers are dropped: a run ends long before any of
        // the brokers gives up on an unanswered PING.
        replies.clear();
        match rbuf.fill(&mut rd, READ_BUF).await {
            Ok(0) | Err(_) => return errors,
            Ok(_) => {}
        }
    }
}
