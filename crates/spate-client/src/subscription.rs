//! [`Subscription`]: a stream of one subscription's [`Event`]s, fed through
//! a bounded buffer. When the application stops polling, the buffer fills,
//! the client stops reading the socket and the broker applies the
//! subscription's backpressure policy: nothing accumulates in the client.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use spate_proto::{Subscribed, Text};
use tokio::sync::{mpsc, oneshot};

use crate::command::{Command, EndSlot, Opened};
use crate::error::Error;
use crate::event::Event;

/// An active subscription. Poll it as a [`Stream`] of [`Event`]s; it ends
/// (`None`) when unsubscribed, when the client is closed, or on an error
/// ([`Subscription::end_reason`]). Dropping it unsubscribes.
///
/// All subscriptions of a client share its connection: one that is not
/// consumed pauses reading for all of them once its buffer is full. Give
/// independent consumers their own [`crate::Client`].
#[derive(Debug)]
pub struct Subscription {
    id: u32,
    pattern: Text,
    granted: Subscribed,
    events: mpsc::Receiver<Event>,
    end: Arc<EndSlot>,
    cmds: mpsc::Sender<Command>,
    active: bool,
}

impl Subscription {
    pub(crate) fn new(o: Opened, pattern: Text, cmds: mpsc::Sender<Command>) -> Subscription {
        Subscription {
            id: o.sub_id,
            pattern,
            granted: o.granted,
            events: o.events,
            end: o.end,
            cmds,
            active: true,
        }
    }

    /// The subscription id on the wire (as in GAP frames).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The topic or pattern subscribed to.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// What the server granted in its first SUBSCRIBED: policy, queue
    /// limits, how the stream starts, and the topic's epoch and last seq.
    pub fn granted(&self) -> &Subscribed {
        &self.granted
    }

    /// Why the stream ended, once it has: `None` for an unsubscribe or a
    /// close, else the error (a server refusal, a lost connection that
    /// could not be resumed).
    pub fn end_reason(&self) -> Option<Error> {
        self.end.get()
    }

    /// Ends the subscription and waits for the server to confirm.
    pub async fn unsubscribe(mut self) -> Result<(), Error> {
        self.active = false;
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Unsubscribe {
            sub_id: self.id,
            reply: Some(reply),
        };
        if self.cmds.send(cmd).await.is_err() {
            return Ok(()); // the client is gone, and the subscription with it
        }
        rx.await.unwrap_or(Ok(()))
    }
}

impl Stream for Subscription {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.events.poll_recv(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if self.active {
            // Best effort: if the request channel is full, the connection
            // task notices the closed buffer at the next delivery.
            let _ = self.cmds.try_send(Command::Unsubscribe {
                sub_id: self.id,
                reply: None,
            });
        }
    }
}
