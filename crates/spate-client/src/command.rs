//! Requests from the application's handles to the connection task, and
//! the replies it owes them. Every request travels over a bounded channel;
//! every reply over a oneshot.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use spate_proto::{Condition, Publish, StateReply, Subscribed, Text};
use tokio::sync::{mpsc, oneshot};

use crate::error::Error;
use crate::event::Event;
use crate::options::SubscribeOptions;
use crate::publication::PubAck;
use crate::state::StatePage;

/// A reply channel.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// One request to the connection task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Send a PUBLISH; with `reply`, ask for and await its PUB_ACK.
    Publish {
        publish: Publish,
        reply: Option<Reply<PubAck>>,
    },
    /// Send a PING and answer when its PONG arrives.
    Flush { reply: Reply<()> },
    /// Start a subscription.
    Subscribe {
        pattern: Text,
        options: SubscribeOptions,
        reply: Reply<Opened>,
    },
    /// End a subscription (`reply` is `None` when a dropped handle asks).
    Unsubscribe {
        sub_id: u32,
        reply: Option<Reply<()>>,
    },
    /// A state operation.
    State {
        request: StateRequest,
        reply: Reply<StateOutcome>,
    },
    /// Write what is buffered, close the socket and stop.
    Close { reply: oneshot::Sender<()> },
}

/// The four state operations.
#[derive(Debug)]
pub(crate) enum StateRequest {
    Put {
        topic: Text,
        key: Text,
        condition: Condition,
        value: Bytes,
    },
    Del {
        topic: Text,
        key: Text,
        condition: Condition,
    },
    Get {
        topic: Text,
        key: Text,
    },
    List {
        topic: Text,
        after: Text,
        limit: u32,
    },
}

/// What a state operation got back.
#[derive(Debug)]
pub(crate) enum StateOutcome {
    Reply(StateReply),
    List(StatePage),
}

/// A request awaiting the server's answer, by request id (or sub id for
/// UNSUBSCRIBE).
#[derive(Debug)]
pub(crate) enum Pending {
    Ack(Reply<PubAck>),
    State(Reply<StateOutcome>),
    Unsubscribe(Reply<()>),
}

impl Pending {
    /// Answers the request with an error.
    pub(crate) fn fail(self, e: Error) {
        match self {
            Pending::Ack(r) => drop(r.send(Err(e))),
            Pending::State(r) => drop(r.send(Err(e))),
            Pending::Unsubscribe(r) => drop(r.send(Err(e))),
        }
    }
}

/// Why a subscription's stream ended, written by the connection task
/// before it drops the sender and read by the handle after the last event.
#[derive(Debug, Default)]
pub(crate) struct EndSlot(Mutex<Option<Error>>);

impl EndSlot {
    pub(crate) fn set(&self, e: Error) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
    }

    pub(crate) fn get(&self) -> Option<Error> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// What a successful SUBSCRIBE hands back to the caller.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) sub_id: u32,
    pub(crate) granted: Subscribed,
    pub(crate) events: mpsc::Receiver<Event>,
    pub(crate) end: Arc<EndSlot>,
}
