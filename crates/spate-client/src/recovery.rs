//! What the connection task does when a connection ends: answer every
//! request that depended on it, tell the subscriptions, then reconnect with
//! backoff (delivering events already received and refusing new requests
//! meanwhile) and re-subscribe, or finish the client.

use std::future::Future;

use tokio::sync::mpsc;

use crate::actor::{room, Actor};
use crate::backoff::Backoff;
use crate::command::{Command, Pending};
use crate::conn::{self, Conn};
use crate::error::Error;
use crate::event::{Event, Notice};
use crate::options::Reconnect;
use crate::subs::Phase;

impl Actor {
    /// Hands parked events to their subscription as room appears.
    pub(crate) fn unpark(&mut self, receiver_alive: bool) {
        let Some(mut p) = self.parked.take() else {
            return;
        };
        if receiver_alive {
            while let Some(ev) = p.events.pop_front() {
                match p.tx.try_send(ev) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(ev)) => {
                        p.events.push_front(ev);
                        self.parked = Some(p);
                        return;
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => break,
                }
            }
            if p.events.is_empty() {
                return;
            }
        }
        self.forget_sub(p.sub_id);
    }

    /// Between connections: runs `fut` (a backoff sleep, a connection
    /// attempt) while delivering parked events and refusing requests.
    /// `None` if the client was closed meanwhile.
    pub(crate) async fn offline<T>(&mut self, fut: impl Future<Output = T>) -> Option<T> {
        tokio::pin!(fut);
        loop {
            let parked = self.parked.is_some();
            tokio::select! {
                out = &mut fut => return Some(out),
                ok = room(&self.parked), if parked => self.unpark(ok),
                cmd = self.cmds.recv() => if !self.refuse_offline(cmd) {
                    return None;
                },
            }
        }
    }

    /// Hands every parked event to its subscription (refusing requests
    /// meanwhile); false if the client was closed first.
    pub(crate) async fn drain_parked(&mut self) -> bool {
        while self.parked.is_some() {
            tokio::select! {
                ok = room(&self.parked) => self.unpark(ok),
                cmd = self.cmds.recv() => if !self.refuse_offline(cmd) {
                    return false;
                },
            }
        }
        true
    }

    /// Refuses a request made between connections; false for a close (or
    /// when every handle is gone).
    fn refuse_offline(&mut self, cmd: Option<Command>) -> bool {
        match cmd {
            Some(Command::Close { reply }) => {
                self.close_reply = Some(reply);
                false
            }
            Some(cmd) => {
                let why = self.shared.refusal();
                self.refuse(cmd, why);
                true
            }
            None => false,
        }
    }

    /// Reconnects with backoff and re-subscribes everything; `None` when
    /// the client was closed or gave up (and has been finished).
    pub(crate) async fn reconnect(&mut self, policy: Reconnect) -> Option<Conn> {
        let mut backoff = Backoff::new(policy);
        loop {
            let Some(delay) = backoff.next_delay(&mut self.rng) else {
                let n = backoff.attempts();
                self.finish(Some(Error::Disconnected(format!(
                    "gave up reconnecting after {n} attempts"
                ))));
                return None;
            };
            let (addr, opts) = (self.addr.clone(), self.opts.clone());
            let attempt = async move {
                tokio::time::sleep(delay).await;
                conn::open(&addr, &opts).await
            };
            let Some(result) = self.offline(attempt).await else {
                self.finish(None);
                return None;
            };
            match result {
                Ok((c, welcome)) => {
                    tracing::info!(server = %self.addr, "reconnected");
                    self.out.clear();
                    self.shared.connected(welcome);
                    self.resubscribe();
                    return Some(c);
                }
                Err(e) if e.is_permanent() => {
                    self.finish(Some(e));
                    return None;
                }
                Err(e) => tracing::debug!(server = %self.addr, error = %e, "reconnect failed"),
            }
        }
    }

    /// Answers everything that depended on the lost connection.
    pub(crate) fn on_lost(&mut self, cause: &Error, reconnecting: bool) {
        self.shared.refuse(if reconnecting {
            Error::NotConnected
        } else {
            cause.clone()
        });
        self.out.clear();
        self.fail_requests(cause);
        let opening: Vec<u32> = self
            .subs
            .iter()
            .filter(|(_, s)| matches!(s.phase, Phase::Opening { .. }))
            .map(|(id, _)| *id)
            .collect();
        for id in opening {
            self.end_sub(id, cause.clone());
        }
        if reconnecting {
            let parked = self.parked.as_ref().map(|p| p.sub_id);
            let notice = Notice::Disconnected {
                reason: cause.to_string(),
            };
            for (id, s) in &self.subs {
                if Some(*id) != parked {
                    let _ = s.tx.try_send(Event::Notice(notice.clone()));
                }
            }
        }
    }

    /// Fails every request awaiting a reply, and arranges for the next
    /// flush to report `cause` if unacknowledged publishes were in flight.
    fn fail_requests(&mut self, cause: &Error) {
        for (_, p) in self.pending.drain() {
            match p {
                // The connection is gone, so is the subscription.
                Pending::Unsubscribe(r) => drop(r.send(Ok(()))),
                p => p.fail(cause.clone()),
            }
        }
        if self.flushes.is_empty() {
            if self.dirty {
                self.unreported.get_or_insert_with(|| cause.clone());
            }
        } else {
            for (_, r) in self.flushes.drain(..) {
                let e = self.unreported.take().unwrap_or_else(|| cause.clone());
                let _ = r.send(Err(e));
            }
        }
        self.dirty = false;
    }

    /// Ends the client: fails what is pending, ends every subscription
    /// (with `cause`, or cleanly when closed) and stops.
    pub(crate) fn finish(&mut self, cause: Option<Error>) {
        let err = cause.clone().unwrap_or(Error::Closed);
        self.shared.refuse(err.clone());
        self.fail_requests(&err);
        self.parked = None;
        let ids: Vec<u32> = self.subs.keys().copied().collect();
        for id in ids {
            match &cause {
                Some(e) => self.end_sub(id, e.clone()),
                None => self.forget_sub(id),
            }
        }
        if let Some(r) = self.close_reply.take() {
            let _ = r.send(());
        }
    }
}
