//! One subscriber connection's task: connect, subscribe, report ready,
//! then read and record until it has every expected message, or the
//! publishers are done and it has been idle for the configured time, or
//! the phase's hard deadline passes.
//!
//! A slow subscriber reads through a small kernel buffer and either reads
//! at a fixed rate or not at all while the publishers run. Once they are
//! done it drains at full speed, so that what it lost can be counted
//! without waiting minutes at 1,000 msgs/s.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::config::SlowMode;
use crate::conn::{self, Conn, READ_BUF};
use crate::error::BenchError;
use crate::phase::Ctx;
use crate::recorder::Recorder;
use crate::stamp::now_ns;
use crate::wire::{Event, Role};

/// Kernel receive buffer of a slow subscriber.
const SLOW_RECV_BUFFER: u32 = 64 * 1024;
/// Bytes a slow subscriber takes per read.
const SLOW_READ: usize = 16 * 1024;

/// What a subscriber connection does in a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubRole {
    /// A measured subscriber.
    Normal,
    /// The burst scenario's slow subscriber.
    Slow(SlowMode),
    /// Holds subscriptions that match nothing (wildcards scenario).
    Filler,
}

/// One subscriber connection's plan.
#[derive(Debug, Clone)]
pub struct SubPlan {
    /// Role.
    pub role: SubRole,
    /// Topics or patterns it subscribes to.
    pub patterns: Vec<String>,
    /// Messages it should receive in total.
    pub expected: u64,
    /// `Some(P)`: check the per-publisher sequence numbers of P publishers.
    pub track_publishers: Option<usize>,
}

/// Runs one subscriber. Sends `Ok` (or the setup error) on `ready` once
/// subscribed; `done` turns true when every publisher has finished.
pub async fn run(
    ctx: Arc<Ctx>,
    plan: SubPlan,
    ready: mpsc::Sender<Result<(), BenchError>>,
    done: watch::Receiver<bool>,
) -> Recorder {
    let mut rec = Recorder::new(plan.track_publishers);
    let slow = match plan.role {
        SubRole::Slow(m) => Some(m),
        _ => None,
    };
    let setup = async {
        let mut c = conn::connect(
            ctx.broker,
            ctx.addr,
            &ctx.sub_options,
            Role::Subscriber,
            slow.map(|_| SLOW_RECV_BUFFER),
            ctx.ws,
            ctx.tls.as_ref(),
        )
        .await?;
        c.subscribe(&plan.patterns, ctx.timeout).await?;
        Ok::<Conn, BenchError>(c)
    };
    let conn = match setup.await {
        Ok(c) => {
            let _ = ready.send(Ok(())).await;
            c
        }
        Err(e) => {
            rec.errors.push(e.to_string());
            let _ = ready.send(Err(e)).await;
            return rec;
        }
    };
    if let Err(e) = receive(&ctx, conn, &plan, slow, done, &mut rec).await {
        rec.errors.push(e.to_string());
        rec.closed_early = true;
    }
    rec
}

async fn receive(
    ctx: &Ctx,
    mut c: Conn,
    plan: &SubPlan,
    slow: Option<SlowMode>,
    mut done: watch::Receiver<bool>,
    rec: &mut Recorder,
) -> Result<(), BenchError> {
    let mut replies = Vec::new();
    let mut idle_until = Instant::now() + ctx.idle;
    let mut first_at: Option<Instant> = None;
    loop {
        let finished = *done.borrow_and_update();
        if rec.accounted() >= plan.expected && (plan.expected > 0 || finished) {
            return Ok(());
        }
        let wait_until = if finished {
            idle_until.min(ctx.deadline)
        } else {
            ctx.deadline
        };
        let throttled = slow.filter(|_| !finished);
        if throttled == Some(SlowMode::Stall) {
            tokio::select! {
                _ = done.changed() => {}
                _ = tokio::time::sleep_until(ctx.deadline) => return Ok(()),
            }
            idle_until = Instant::now() + ctx.idle;
            continue;
        }
        let limit = if throttled.is_some() {
            SLOW_READ
        } else {
            READ_BUF
        };
        tokio::select! {
            r = c.rbuf.fill(&mut c.stream, limit) => {
                if r? == 0 {
                    rec.closed_early = rec.accounted() < plan.expected;
                    return Ok(());
                }
            }
            _ = done.changed(), if !finished => {
                idle_until = Instant::now() + ctx.idle;
                continue;
            }
            _ = tokio::time::sleep_until(wait_until) => return Ok(()),
        }
        let now = now_ns();
        let used = c
            .wire
            .parse(c.rbuf.data(), &mut replies, &mut |e| match e {
                Event::Message(p) => rec.message(p, now),
                Event::Gap(n) => rec.gaps_reported += n,
                Event::Error(m) => rec.errors.push(m),
                _ => {}
            })?;
        c.rbuf.consume(used);
        if !replies.is_empty() {
            c.stream.write_all(&replies).await?;
            c.stream.flush().await?;
            replies.clear();
        }
        idle_until = Instant::now() + ctx.idle;
        if let Some(SlowMode::Rate(rate)) = throttled {
            let first = *first_at.get_or_insert_with(Instant::now);
            let due = first + Duration::from_secs_f64(rec.received as f64 / rate.max(1) as f64);
            tokio::select! {
                _ = tokio::time::sleep_until(due.min(ctx.deadline)) => {}
                _ = done.changed() => {}
            }
        }
    }
}
