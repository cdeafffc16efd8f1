//! The connection task's record of one subscription: its pattern and
//! options (to re-subscribe after a reconnect), the sending side of its
//! bounded event buffer, its resume position and where it is in the
//! SUBSCRIBE → SUBSCRIBED exchange.

use std::sync::Arc;

use spate_proto::{Start, Text};
use tokio::sync::mpsc;

use crate::command::{EndSlot, Opened, Reply};
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
