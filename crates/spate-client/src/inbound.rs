//! The connection task's handling of frames from the server: replies go
//! to the request awaiting them, deliveries to their subscription's buffer
//! (through the resume tracker, which drops duplicates after a resume),
//! errors to whoever they refer to, and PINGs get their PONG.

use std::collections::VecDeque;

use spate_proto::{Frame, Gap, Message, RefKind, Subscribed, Text};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::Sender;
use tokio::time::Instant;

use crate::actor::{Actor, GOAWAY_GRACE, KEEPALIVE_TOKEN};
use crate::command::{Opened, Pending, StateOutcome};
use crate::conn::{Conn, Parked};
use crate::error::{Error, ServerError};
use crate::event::{Event, Notice};
use crate::publication::PubAck;
use crate::state::StatePage;
use crate::subs::Phase;

impl Actor {
    /// Handles one frame; an error ends the connection.
    pub(crate) fn on_frame(&mut self, c: &mut Conn, frame: Frame) -> Result<(), Error> {
        match frame {
            Frame::Ping(t) => Frame::Pong(t).encode(&mut self.out),
            Frame::Pong(t) => self.on_pong(t),
            Frame::PubAck {
                request_id,
                epoch,
                seq,
                timestamp_us,
                receivers,
            } => match self.pending.remove(&request_id) {
                Some(Pending::Ack(r)) => {
                    let _ = r.send(Ok(PubAck {
                        epoch,
                        seq,
                        timestamp_us,
                        receivers,
                    }));
                }
                Some(other) => return Err(mismatch(other, "PUB_ACK")),
                None => {}
            },
            Frame::StateReply(r) => self.on_state(r.request_id, StateOutcome::Reply(r))?,
            Frame::StateListReply {
                request_id,
                more,
                entries,
            } => self.on_state(request_id, StateOutcome::List(StatePage { entries, more }))?,
            Frame::Subscribed(s) => self.on_subscribed(s),
            Frame::Unsubscribed { sub_id } => {
                if let Some(Pending::Unsubscribe(r)) = self.pending.remove(&sub_id) {
                    let _ = r.send(Ok(()));
                }
            }
            Frame::Message { sub_id, message } => self.on_messages(sub_id, [message]),
            Frame::MessageBatch { sub_id, messages } => self.on_messages(sub_id, messages),
            Frame::Gap(g) => self.on_gap(g),
            Frame::Error {
                code,
                reference,
                message,
                ref_kind,
            } => self.on_error(
                c,
                ServerError::new(code, message.as_str()),
                reference,
                ref_kind,
            ),
            Frame::GoAway { drain_ms, reason } => self.on_goaway(c, drain_ms, reason),
            other => {
                return Err(Error::Protocol(format!(
                    "unexpected {} frame from the server",
                    spate_proto::opcode_name(other.opcode()).unwrap_or("?")
                )))
            }
        }
        Ok(())
    }

    /// A flush's PONG: everything sent before its PING was processed, so
    /// the errors seen since belong to that flush.
    fn on_pong(&mut self, token: u64) {
        if token == KEEPALIVE_TOKEN {
            return;
        }
        while self.flushes.front().is_some_and(|(t, _)| *t <= token) {
            let (_, reply) = self.flushes.pop_front().expect("checked");
            let result = match self.unreported.take() {
                Some(e) => Err(e),
                None => Ok(()),
            };
            let _ = reply.send(result);
        }
    }

    fn on_state(&mut self, request_id: u32, outcome: StateOutcome) -> Result<(), Error> {
        match self.pending.remove(&request_id) {
            Some(Pending::State(r)) => {
                let _ = r.send(Ok(outcome));
                Ok(())
            }
            Some(other) => Err(mismatch(other, "STATE_REPLY")),
            None => Ok(()),
        }
    }

    fn on_subscribed(&mut self, s: Subscribed) {
        let id = s.sub_id;
        let Some(sub) = self.subs.get_mut(&id) else {
            return; // unsubscribed meanwhile
        };
        let events = match std::mem::replace(&mut sub.phase, Phase::Active) {
            Phase::Opening {
                reply,
                events,
                requested,
            } => {
                let notices = sub.tracker.on_subscribed(&s, requested);
                let opened = Opened {
                    sub_id: id,
                    granted: s,
                    events,
                    end: sub.end.clone(),
                };
                if reply.send(Ok(opened)).is_err() {
                    // The caller stopped waiting: nobody will read this.
                    self.forget_sub(id);
                    return;
                }
                notices
            }
            Phase::Resuming { requested } => sub.tracker.on_subscribed(&s, requested),
            Phase::Active => Vec::new(),
        };
        let tx = sub.tx.clone();
        if !push_all(&mut self.parked, id, &tx, events) {
            self.forget_sub(id);
        }
    }

    fn on_messages(&mut self, id: u32, messages: impl IntoIterator<Item = Message>) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return; // unsubscribed meanwhile
        };
        let mut alive = true;
        for m in messages {
            if !sub.tracker.admit(&m) {
                continue;
            }
            if alive {
                alive = push(&mut self.parked, id, &sub.tx, Event::Message(m));
            }
        }
        if !alive {
            self.forget_sub(id);
        }
    }

    fn on_gap(&mut self, g: Gap) {
        let id = g.sub_id;
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        sub.tracker.on_gap(&g);
        if !push(&mut self.parked, id, &sub.tx, Event::Gap(g)) {
            self.forget_sub(id);
        }
    }

    /// An ERROR: fails what `reference` names. `kind` (sent by current
    /// servers) says whether it is a request id or a subscription id; an
    /// older server does not say, and then a non-zero reference is looked
    /// up among both.
    fn on_error(&mut self, c: &mut Conn, e: ServerError, reference: u32, kind: Option<RefKind>) {
        tracing::debug!(error = %e, reference, ?kind, "server error");
        if e.is_fatal() {
            // The server closes the connection next; everything waiting
            // learns this error then. Subscriptions resume after reconnect.
            c.fatal.get_or_insert(Error::Server(e));
            return;
        }
        let (requests, subs) = match kind {
            Some(RefKind::Connection) => (false, false),
            Some(RefKind::Request) => (true, false),
            Some(RefKind::Subscription) => (false, true),
            None => (reference != 0, reference != 0),
        };
        if requests || subs {
            let wanted = |p: &Pending| match p {
                Pending::Ack(_) | Pending::State(_) => requests,
                Pending::Unsubscribe(_) => subs,
            };
            if self.pending.get(&reference).is_some_and(wanted) {
                if let Some(p) = self.pending.remove(&reference) {
                    return p.fail(Error::Server(e));
                }
            }
            if subs && self.subs.contains_key(&reference) {
                return self.end_sub(reference, Error::Server(e));
            }
        }
        self.unreported.get_or_insert(Error::Server(e));
    }

    fn on_goaway(&mut self, c: &mut Conn, drain_ms: u32, reason: Text) {
        let reason = reason.to_string();
        tracing::info!(reason = %reason, drain_ms, "server is going away");
        // With a token that refreshes, reconnect at once (a fresh token
        // replaces one about to expire, protocol.md §5.6).
        let deadline = if self.opts.token.as_ref().is_some_and(|t| t.refreshes()) {
            Instant::now()
        } else {
            Instant::now() + std::time::Duration::from_millis(drain_ms.into()) + GOAWAY_GRACE
        };
        c.goaway = Some((reason.clone(), deadline));
        self.shared.refuse(Error::GoingAway(reason.clone()));
        for s in self.subs.values() {
            let _ = s.tx.try_send(Event::Notice(Notice::ServerGoingAway {
                reason: reason.clone(),
            }));
        }
    }
}

/// Queues `ev` for a subscription: straight into its buffer if there is
/// room, else parked (which pauses reading). False if the receiver is gone.
fn push(parked: &mut Option<Parked>, sub_id: u32, tx: &Sender<Event>, ev: Event) -> bool {
    if let Some(p) = parked {
        // Reading pauses once something is parked, so only the rest of
        // the same frame (same subscription) can arrive here.
        debug_assert_eq!(p.sub_id, sub_id);
        p.events.push_back(ev);
        return true;
    }
    match tx.try_send(ev) {
        Ok(()) => true,
        Err(TrySendError::Full(ev)) => {
            *parked = Some(Parked {
                sub_id,
                tx: tx.clone(),
                events: VecDeque::from([ev]),
            });
            true
        }
        Err(TrySendError::Closed(_)) => false,
    }
}

fn push_all(parked: &mut Option<Parked>, sub_id: u32, tx: &Sender<Event>, evs: Vec<Event>) -> bool {
    evs.into_iter().all(|ev| push(parked, sub_id, tx, ev))
}

fn mismatch(p: Pending, frame: &str) -> Error {
    let e = Error::Protocol(format!("{frame} answered a request of another kind"));
    p.fail(e.clone());
    e
}
