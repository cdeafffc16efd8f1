//! The connection task: the one task that owns the socket. It takes
//! requests from the handles over a bounded channel, encodes them into one
//! output buffer written as the socket accepts it (many frames per write),
//! reads frames and routes them to the request or subscription awaiting
//! them, and reconnects with backoff when the connection drops.
//!
//! Backpressure runs end to end. No request is taken in while the output
//! buffer is over its limit or too many requests await replies; and when a
//! subscription's event buffer is full, the delivery is parked and the
//! socket is not read until the application makes room, so the broker sees
//! a slow consumer instead of the client buffering without bound.
//!
//! Frame handling is in `inbound.rs`, request handling in `outbound.rs`,
//! connection loss and reconnects in `recovery.rs`.

use std::collections::{HashMap, VecDeque};
use std::future::pending;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::command::{Command, Pending, Reply};
use crate::conn::{codec_error, Conn, Parked};
use crate::error::Error;
use crate::options::ClientOptions;
use crate::shared::Shared;
use crate::subs::SubEntry;

/// Token of keepalive PINGs (flush PINGs count up from 1).
pub(crate) const KEEPALIVE_TOKEN: u64 = u64::MAX;

/// Requests taken from the channel in one go before the socket gets a
/// chance to be written.
const COMMAND_BATCH: usize = 256;

/// How a served connection ended.
enum Outcome {
    /// The application closed the client.
    Closed,
    /// The connection failed or the server closed it.
    Lost(Error),
}

/// The connection task's state.
pub(crate) struct Actor {
    pub(crate) addr: String,
    pub(crate) opts: ClientOptions,
    pub(crate) shared: Arc<Shared>,
    pub(crate) cmds: mpsc::Receiver<Command>,
    pub(crate) subs: HashMap<u32, SubEntry>,
    /// Requests awaiting replies, by request id (sub id for UNSUBSCRIBE).
    pub(crate) pending: HashMap<u32, Pending>,
    /// Flushes awaiting their PONG, in token order.
    pub(crate) flushes: VecDeque<(u64, Reply<()>)>,
    /// First error nobody claimed since the last flush was answered.
    pub(crate) unreported: Option<Error>,
    /// Unacknowledged publishes were sent since the last flush.
    pub(crate) dirty: bool,
    /// Encoded frames waiting for the socket.
    pub(crate) out: BytesMut,
    /// A delivery waiting for room in a subscription's buffer.
    pub(crate) parked: Option<Parked>,
    pub(crate) next_id: u32,
    pub(crate) next_token: u64,
    pub(crate) closing: bool,
    pub(crate) close_reply: Option<oneshot::Sender<()>>,
    close_deadline: Option<Instant>,
    pub(crate) rng: StdRng,
}

impl Actor {
    pub(crate) fn new(
        addr: String,
        opts: ClientOptions,
        shared: Arc<Shared>,
        cmds: mpsc::Receiver<Command>,
    ) -> Actor {
        Actor {
            addr,
            out: BytesMut::with_capacity(opts.write_buffer.min(1 << 20)),
            opts,
            shared,
            cmds,
            subs: HashMap::new(),
            pending: HashMap::new(),
            flushes: VecDeque::new(),
            unreported: None,
            dirty: false,
            parked: None,
            next_id: 1,
            next_token: 1,
            closing: false,
            close_reply: None,
            close_deadline: None,
            rng: StdRng::from_entropy(),
        }
    }

    /// Serves `conn`, reconnecting as the policy allows, until the client
    /// is closed or gives up.
    pub(crate) async fn run(mut self, mut conn: Conn) {
        loop {
            let cause = match self.serve(&mut conn).await {
                Outcome::Closed => return self.finish(None),
                Outcome::Lost(e) => e,
            };
            drop(conn);
            let policy = self
                .opts
                .reconnect
                .clone()
                .filter(|_| !cause.is_permanent());
            tracing::warn!(server = %self.addr, error = %cause, reconnect = policy.is_some(), "connection lost");
            self.on_lost(&cause, policy.is_some());
            let Some(policy) = policy else {
                // Hand over what was already received before ending.
                let cause = if self.drain_parked().await {
                    Some(cause)
                } else {
                    None
                };
                return self.finish(cause);
            };
            match self.reconnect(policy).await {
                Some(c) => conn = c,
                None => return,
            }
        }
    }

    /// Drives one connection until it ends.
    async fn serve(&mut self, c: &mut Conn) -> Outcome {
        let mut keepalive = self.opts.keepalive.map(|d| {
            let mut i = tokio::time::interval_at(Instant::now() + d, d);
            i.set_missed_tick_behavior(MissedTickBehavior::Delay);
            i
        });
        loop {
            if self.closing {
                if self.out.is_empty() {
                    let _ = c.writer.shutdown().await;
                    return Outcome::Closed;
                }
                self.close_deadline
                    .get_or_insert_with(|| Instant::now() + self.opts.connect_timeout);
            }
            let read = self.parked.is_none();
            let take = !self.closing
                && self.out.len() < self.opts.write_buffer
                && self.pending.len() + self.flushes.len() < self.opts.max_in_flight;
            let deadline = match (&c.goaway, self.close_deadline) {
                (_, Some(d)) => Some(d),
                (Some((_, d)), None) => Some(*d),
                (None, None) => None,
            };
            tokio::select! {
                frame = c.reader.next(), if read => match frame {
                    Some(Ok(f)) => {
                        c.last_heard = Instant::now();
                        c.ping_outstanding = false;
                        if let Err(e) = self.on_frame(c, f) {
                            return Outcome::Lost(e);
                        }
                    }
                    Some(Err(e)) => return Outcome::Lost(c.fatal.take().unwrap_or(codec_error(e))),
                    None => return Outcome::Lost(eof_cause(c)),
                },
                r = c.writer.write_buf(&mut self.out), if !self.out.is_empty() => match r {
                    Ok(0) => return Outcome::Lost(Error::Disconnected("the socket closed".into())),
                    Ok(_) => {}
                    Err(e) => return Outcome::Lost(c.fatal.take().unwrap_or(Error::io(e))),
                },
                ok = room(&self.parked), if !read => self.unpark(ok),
                cmd = self.cmds.recv(), if take => match cmd {
                    Some(cmd) => {
                        self.on_command(c, cmd);
                        self.take_more(c);
                    }
                    // Every handle is gone: write what is queued and stop.
                    None => self.closing = true,
                },
                _ = tick(&mut keepalive) => {
                    if let Err(e) = self.keepalive(c) {
                        return Outcome::Lost(e);
                    }
                }
                _ = sleep_until(deadline) => {
                    if self.closing {
                        return Outcome::Closed;
                    }
                    return Outcome::Lost(eof_cause(c));
                }
            }
        }
    }

    /// Takes in requests already queued, up to a batch, so they share one
    /// write.
    fn take_more(&mut self, c: &mut Conn) {
        for _ in 0..COMMAND_BATCH {
            if self.closing
                || self.out.len() >= self.opts.write_buffer
                || self.pending.len() + self.flushes.len() >= self.opts.max_in_flight
            {
                return;
            }
            match self.cmds.try_recv() {
                Ok(cmd) => self.on_command(c, cmd),
                Err(_) => return,
            }
        }
    }

    /// Sends a keepalive PING after a silent interval; a second silent
    /// interval means the connection is dead.
    fn keepalive(&mut self, c: &mut Conn) -> Result<(), Error> {
        let Some(interval) = self.opts.keepalive else {
            return Ok(());
        };
        if self.parked.is_some() {
            // Not reading is our choice, not the server's silence.
            c.last_heard = Instant::now();
            return Ok(());
        }
        if c.last_heard.elapsed() < interval {
            return Ok(());
        }
        if c.ping_outstanding {
            return Err(Error::Timeout("the server did not answer a keepalive PING"));
        }
        c.ping_outstanding = true;
        spate_proto::Frame::Ping(KEEPALIVE_TOKEN).encode(&mut self.out);
        Ok(())
    }

    /// A fresh id for a request or subscription. One counter serves both,
    /// so an ERROR's reference names exactly one of them.
    pub(crate) fn alloc_id(&mut self) -> u32 {
        loop {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1).max(1);
            if !self.pending.contains_key(&id) && !self.subs.contains_key(&id) {
                return id;
            }
        }
    }
}

/// Why a connection ended when the server closed it.
fn eof_cause(c: &mut Conn) -> Error {
    if let Some(e) = c.fatal.take() {
        return e;
    }
    match &c.goaway {
        Some((reason, _)) => Error::GoingAway(reason.clone()),
        None => Error::Disconnected("the server closed the connection".into()),
    }
}

/// Resolves when the parked subscription has room (true) or its receiver
/// is gone (false); never when nothing is parked.
pub(crate) async fn room(parked: &Option<Parked>) -> bool {
    match parked {
        Some(p) => p.tx.reserve().await.is_ok(),
        None => pending().await,
    }
}

async fn tick(i: &mut Option<Interval>) {
    match i {
        Some(i) => {
            i.tick().await;
        }
        None => pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => pending().await,
    }
}

/// Grace added to a GOAWAY's drain time before the client stops waiting
/// for the server to close.
pub(crate) const GOAWAY_GRACE: Duration = Duration::from_secs(1);
