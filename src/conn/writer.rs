//! The writer task of one connection: waits for its outbox, drains ready
//! subscriber queues and control frames into one [`WriteBatch`], and writes
//! it with vectored I/O — one syscall for many messages. It never holds a
//! queue lock across the write.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use spate_proto::{message_batch_header, message_header, Policy};
use tokio::io::{AsyncWrite, AsyncWriteExt as _};
use tokio::time::Instant;

use super::batch::WriteBatch;
use super::outbox::{Outbox, Work};
use crate::broker::ConnInfo;
use crate::queue::{Budget, Credit, DrainState, Item, SubscriberQueue};

/// Stop gathering once a batch holds this much; write, then continue.
const BATCH_TARGET: usize = 256 * 1024;
/// Most message bytes taken from one queue per round, for fairness.
const PER_QUEUE: usize = 64 * 1024;
/// Most message-body bytes in one MESSAGE_BATCH frame. With at most 1,024
/// entries (4 bytes of length each) a batch frame stays under 64 KiB plus a
/// single oversized message, so server frames never exceed
/// `max_frame + 65,536` (protocol.md, frame header).
const MAX_BATCH_FRAME: usize = 60 * 1024;

enum Exit {
    Finished,
    Killed,
    Io,
}

/// How long a killed connection gets to take the rest of the batch in
/// flight plus the ERROR frame saying why, before it is closed regardless.
const LAST_WORDS: Duration = Duration::from_secs(5);

/// Runs until the outbox is finished and flushed, the connection is
/// killed, or the socket fails. What the drained queues held goes back to
/// `budget` once per round.
pub async fn run<W: AsyncWrite + Unpin>(
    outbox: Arc<Outbox>,
    mut sock: W,
    conn: Arc<ConnInfo>,
    budget: Arc<Budget>,
) {
    let mut work = Work::default();
    let mut batch = WriteBatch::new();
    let mut items: Vec<Item> = Vec::new();
    let mut carry: Vec<Arc<SubscriberQueue>> = Vec::new();
    let mut timers: Vec<(Instant, Arc<SubscriberQueue>)> = Vec::new();
    // `disconnect` queues drained this round: told once the batch is written.
    let mut graced: Vec<Arc<SubscriberQueue>> = Vec::new();
    let exit = loop {
        let wake = outbox.wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        outbox.take(&mut work);
        for f in work.control.drain(..) {
            batch.put_shared(f);
        }
        let now = Instant::now();
        let mut i = 0;
        while i < timers.len() {
            if timers[i].0 <= now {
                work.ready.push(timers.swap_remove(i).1);
            } else {
                i += 1;
            }
        }
        work.ready.append(&mut carry);
        let messages = {
            // What the round frees goes back to the budget at once, when the
            // credit drops at the end of this block — before any `.await`.
            let mut credit = Credit::new(&budget);
            let mut messages = 0;
            for q in work.ready.drain(..) {
                if batch.len() >= BATCH_TARGET {
                    carry.push(q);
                    continue;
                }
                let state = q.drain_into(&mut items, PER_QUEUE, now.into_std(), &mut credit);
                if q.limits.policy == Policy::Disconnect {
                    graced.push(q.clone());
                }
                messages += encode(&q, &mut items, &mut batch);
                match state {
                    DrainState::More => carry.push(q),
                    DrainState::WaitUntil(t) => timers.push((t.into(), q)),
                    DrainState::Empty => {}
                }
            }
            messages
        };
        conn.messages_out.fetch_add(messages, Relaxed);
        if !batch.is_empty() {
            let n = batch.len() as u64;
            tokio::select! {
                biased;
                _ = outbox.killed() => break Exit::Killed,
                r = write_batch(&mut batch, &mut sock) => if r.is_err() { break Exit::Io },
            }
            conn.bytes_out.fetch_add(n, Relaxed);
        }
        for q in graced.drain(..) {
            q.note_written();
        }
        if outbox.is_killed() {
            break Exit::Killed;
        }
        if !carry.is_empty() {
            tokio::task::yield_now().await;
            continue;
        }
        if work.finishing && timers.is_empty() {
            break Exit::Finished;
        }
        let next = timers.iter().map(|t| t.0).min();
        batch.idle();
        tokio::select! {
            biased;
            _ = outbox.killed() => break Exit::Killed,
            _ = &mut wake => {}
            _ = sleep_until_opt(next) => {}
        }
    };
    if let Exit::Killed = exit {
        // Finish the frame in flight (a half-written frame would garble the
        // stream), then say why; queued messages are dropped.
        if let Some(f) = outbox.kill_frame() {
            batch.put_slice(&f);
        }
        let _ = tokio::time::timeout(LAST_WORDS, write_batch(&mut batch, &mut sock)).await;
    }
    if !matches!(exit, Exit::Io) {
        let _ = tokio::time::timeout(Duration::from_secs(1), sock.shutdown()).await;
    }
    outbox.closed.cancel();
    outbox.clear();
}

/// Writes the batch and flushes it: a no-op for TCP, the end of one
/// message (holding whole frames) for WebSocket. Cancel-safe as
/// [`WriteBatch::write_to`].
async fn write_batch<W: AsyncWrite + Unpin>(
    batch: &mut WriteBatch,
    sock: &mut W,
) -> std::io::Result<()> {
    batch.write_to(sock).await?;
    sock.flush().await
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Encodes drained items as frames for `q`'s subscriber, moving their
/// bodies into the batch (no refcount traffic); returns the number of
/// messages. Leaves `items` empty.
fn encode(q: &SubscriberQueue, items: &mut Vec<Item>, batch: &mut WriteBatch) -> u64 {
    let sub = q.sub_id;
    let max_batch = q.limits.max_batch.min(u16::MAX as usize);
    let mut delivered = 0u64;
    let mut i = 0;
    while i < items.len() {
        match &mut items[i] {
            Item::Msg(_) if max_batch > 1 => {
                let mut j = i;
                let mut bodies = 0;
                while j < items.len() && j - i < max_batch {
                    match &items[j] {
                        Item::Msg(m) if j == i || bodies + m.body().len() <= MAX_BATCH_FRAME => {
                            bodies += m.body().len();
                            j += 1;
                        }
                        _ => break,
                    }
                }
                let count = j - i;
                batch.put_slice(&message_batch_header(sub, count as u16, bodies));
                for it in &mut items[i..j] {
                    if let Item::Msg(m) = std::mem::replace(it, Item::Hole) {
                        batch.put_slice(&(m.body().len() as u32).to_be_bytes());
                        batch.put_msg(m);
                    }
                }
                delivered += count as u64;
                i = j;
                continue;
            }
            Item::Msg(_) => {
                if let Item::Msg(m) = std::mem::replace(&mut items[i], Item::Hole) {
                    batch.put_slice(&message_header(sub, m.body().len()));
                    batch.put_msg(m);
                }
                delivered += 1;
            }
            Item::Gap(g) => {
                batch.put_slice(&g.to_frame(sub).to_bytes());
                q.counters.gap_notices.fetch_add(1, Relaxed);
            }
            Item::Frame(f) => batch.put_shared(std::mem::take(&mut **f)),
            Item::Hole => {}
        }
        i += 1;
    }
    items.clear();
    q.note_delivered(delivered);
    delivered
}
