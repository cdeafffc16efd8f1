//! The connection task's record of one subscription: its pattern and
//! options (to re-subscribe after a reconnect), the sending side of its
//! bounded event buffer, its resume position and where it is in the
//! SUBSCRIBE → SUBSCRIBED exchange; and the connection task's operations
//! on that record (forget, end, re-subscribe).

use std::sync::Arc;

use spate_proto::{Start, Text};
use tokio::sync::mpsc;

use crate::actor::Actor;
use crate::command::{EndSlot, Opened, Reply};
use crate::error::Error;
use crate::event::Event;
use crate::options::SubscribeOptions;
use crate::resume::Tracker;

/// Where a subscription is in its (re)subscribe exchange.
#[derive(Debug)]
pub(crate) enum Phase {
    /// First SUBSCRIBE sent; the caller awaits the SUBSCRIBED, which hands
    /// it the receiving side of the buffer.
    Opening {
        reply: Reply<Opened>,
        events: mpsc::Receiver<Event>,
        requested: Start,
    },
    /// Re-subscribed after a reconnect, asking for `requested`.
    Resuming { requested: Start },
    /// SUBSCRIBED received.
    Active,
}

/// One subscription.
#[derive(Debug)]
pub(crate) struct SubEntry {
    pub(crate) pattern: Text,
    pub(crate) options: SubscribeOptions,
    pub(crate) tx: mpsc::Sender<Event>,
    pub(crate) end: Arc<EndSlot>,
    pub(crate) tracker: Tracker,
    pub(crate) phase: Phase,
}

impl Actor {
    /// Removes a subscription whose receiver is gone (or that the client
    /// closed), telling the server if connected.
    pub(crate) fn forget_sub(&mut self, id: u32) {
        if let Some(s) = self.subs.remove(&id) {
            if let Phase::Opening { reply, .. } = s.phase {
                let _ = reply.send(Err(Error::Closed));
            }
            if self.shared.check().is_ok() {
                spate_proto::Frame::Unsubscribe { sub_id: id }.encode(&mut self.out);
            }
        }
        if self.parked.as_ref().is_some_and(|p| p.sub_id == id) {
            self.parked = None;
        }
    }

    /// Ends a subscription with an error: a pending subscribe fails, an
    /// established stream ends after its buffered events with `e` as the
    /// reason.
    pub(crate) fn end_sub(&mut self, id: u32, e: Error) {
        let Some(s) = self.subs.remove(&id) else {
            return;
        };
        match s.phase {
            Phase::Opening { reply, .. } => drop(reply.send(Err(e))),
            _ => s.end.set(e),
        }
    }

    /// Re-sends SUBSCRIBE for every subscription after a reconnect,
    /// resuming from its position.
    pub(crate) fn resubscribe(&mut self) {
        let mut ids: Vec<u32> = self.subs.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let s = self.subs.get_mut(&id).expect("listed above");
            if s.tx.is_closed() {
                self.forget_sub(id);
                continue;
            }
            let requested = s.tracker.start();
            s.phase = Phase::Resuming { requested };
            spate_proto::Frame::Subscribe {
                sub_id: id,
                pattern: s.pattern.clone(),
                options: s.options.to_wire(requested),
            }
            .encode(&mut self.out);
        }
    }
}
