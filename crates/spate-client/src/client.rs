//! [`Client`]: the application's handle. Cheap to clone; every clone talks
//! to the same connection task over one bounded request channel, so a
//! caller that outpaces the socket waits instead of growing a queue.

use std::sync::Arc;

use bytes::Bytes;
use spate_proto::{Condition, StateStatus, Text, Welcome};
use tokio::sync::{mpsc, oneshot};

use crate::actor::Actor;
use crate::command::{Command, Reply, StateOutcome, StateRequest};
use crate::conn;
use crate::error::{Error, StateError};
use crate::options::{ClientOptions, SubscribeOptions};
use crate::publication::{PubAck, Publication};
use crate::shared::Shared;
use crate::state::{StatePage, StateValue};
use crate::subscription::Subscription;

/// A connection to a spate server.
///
/// ```no_run
/// # async fn demo() -> Result<(), spate_client::Error> {
/// use futures::StreamExt;
/// use spate_client::{Client, ClientOptions, Event, SubscribeOptions};
///
/// let client = Client::connect("127.0.0.1:7411", ClientOptions::default()).await?;
/// let mut sub = client.subscribe("orders.>", SubscribeOptions::default()).await?;
/// client.publish("orders.eu.created", r#"{"id":1}"#).await?;
/// client.flush().await?; // the server has processed the publish
/// if let Some(Event::Message(m)) = sub.next().await {
///     println!("{} {:?}", m.topic, m.payload);
/// }
/// client.close().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    cmds: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

impl Client {
    /// Connects to `addr` (`host:port`) and performs the handshake. The
    /// first connection is not retried; later drops are, per
    /// [`ClientOptions::reconnect`]. Must be called within a Tokio runtime:
    /// the connection task is spawned on it.
    pub async fn connect(addr: impl Into<String>, opts: ClientOptions) -> Result<Client, Error> {
        let addr = addr.into();
        let (conn, welcome) = conn::open(&addr, &opts).await?;
        let shared = Arc::new(Shared::new(welcome));
        let (cmds, rx) = mpsc::channel(opts.request_buffer.max(1));
        tokio::spawn(Actor::new(addr, opts, shared.clone(), rx).run(conn));
        Ok(Client { cmds, shared })
    }

    /// The server's WELCOME (version, limits) from the latest handshake.
    pub fn server_info(&self) -> Welcome {
        self.shared.welcome()
    }

    /// Publishes `payload` to `topic` without waiting for the server.
    /// Errors the server reports about it surface in the next
    /// [`flush`](Client::flush).
    pub async fn publish(
        &self,
        topic: impl Into<Text>,
        payload: impl Into<Bytes>,
    ) -> Result<(), Error> {
        self.publish_with(Publication::new(topic, payload)).await
    }

    /// Publishes a [`Publication`] (with key or headers) without waiting
    /// for the server.
    pub async fn publish_with(&self, p: Publication) -> Result<(), Error> {
        self.check_publish(&p)?;
        self.send(Command::Publish {
            publish: p.into_publish(),
            reply: None,
        })
        .await
    }

    /// Publishes and waits for the server's acknowledgement: the seq,
    /// epoch and timestamp it assigned.
    pub async fn publish_acked(&self, p: Publication) -> Result<PubAck, Error> {
        self.check_publish(&p)?;
        self.request(|reply| Command::Publish {
            publish: p.into_publish(),
            reply: Some(reply),
        })
        .await
    }

    /// Waits until the server has processed everything sent before this
    /// call (a PING barrier), and returns the first error the server
    /// reported about unacknowledged requests since the previous flush.
    pub async fn flush(&self) -> Result<(), Error> {
        self.request(|reply| Command::Flush { reply }).await
    }

    /// Subscribes to a topic or wildcard pattern. Resolves once the server
    /// has accepted it (SUBSCRIBED); see [`Subscription`] for the stream.
    pub async fn subscribe(
        &self,
        pattern: impl Into<Text>,
        options: SubscribeOptions,
    ) -> Result<Subscription, Error> {
        let pattern = pattern.into();
        let opened = self
            .request(|reply| Command::Subscribe {
                pattern: pattern.clone(),
                options,
                reply,
            })
            .await?;
        Ok(Subscription::new(opened, pattern, self.cmds.clone()))
    }

    /// Ends a subscription (same as [`Subscription::unsubscribe`]).
    pub async fn unsubscribe(&self, sub: Subscription) -> Result<(), Error> {
        sub.unsubscribe().await
    }

    /// Sets `key` of `topic`'s state to `value` if `condition` holds;
    /// returns the new revision, or the key's current revision and value
    /// on a conflict.
    pub async fn state_put(
        &self,
        topic: impl Into<Text>,
        key: impl Into<Text>,
        value: impl Into<Bytes>,
        condition: Condition,
    ) -> Result<u64, StateError> {
        let request = StateRequest::Put {
            topic: topic.into(),
            key: key.into(),
            condition,
            value: value.into(),
        };
        write_result(self.state(request).await?)
    }

    /// Deletes `key` of `topic`'s state if `condition` holds; returns the
    /// revision of the delete.
    pub async fn state_del(
        &self,
        topic: impl Into<Text>,
        key: impl Into<Text>,
        condition: Condition,
    ) -> Result<u64, StateError> {
        let request = StateRequest::Del {
            topic: topic.into(),
            key: key.into(),
            condition,
        };
        write_result(self.state(request).await?)
    }

    /// Reads `key` of `topic`'s state; `None` if it does not exist.
    pub async fn state_get(
        &self,
        topic: impl Into<Text>,
        key: impl Into<Text>,
    ) -> Result<Option<StateValue>, Error> {
        let request = StateRequest::Get {
            topic: topic.into(),
            key: key.into(),
        };
        let r = self.state(request).await?;
        match (r.status, r.value) {
            (StateStatus::Ok, Some(value)) => Ok(Some(StateValue {
                value,
                revision: r.revision,
            })),
            (StateStatus::NotFound, _) => Ok(None),
            (status, _) => Err(Error::Protocol(format!(
                "unexpected STATE_REPLY to a GET: {status:?}"
            ))),
        }
    }

    /// Lists up to `limit` keys of `topic`'s state that sort after `after`
    /// (empty: from the first). Continue with the last key while
    /// [`StatePage::more`] is set.
    pub async fn state_list(
        &self,
        topic: impl Into<Text>,
        after: impl Into<Text>,
        limit: u32,
    ) -> Result<StatePage, Error> {
        let request = StateRequest::List {
            topic: topic.into(),
            after: after.into(),
            limit,
        };
        match self
            .request(|reply| Command::State { request, reply })
            .await?
        {
            StateOutcome::List(page) => Ok(page),
            StateOutcome::Reply(r) => Err(Error::Protocol(format!(
                "STATE_REPLY ({:?}) answered a STATE_LIST",
                r.status
            ))),
        }
    }

    /// Writes what is buffered and closes the connection. Requests still
    /// awaiting replies fail with [`Error::Closed`] and every subscription
    /// ends; call [`flush`](Client::flush) first to learn the outcome of
    /// unacknowledged publishes.
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.cmds.send(Command::Close { reply }).await.is_ok() {
            let _ = done.await;
        }
    }

    async fn state(&self, request: StateRequest) -> Result<spate_proto::StateReply, Error> {
        match self
            .request(|reply| Command::State { request, reply })
            .await?
        {
            StateOutcome::Reply(r) => Ok(r),
            StateOutcome::List(_) => Err(Error::Protocol(
                "STATE_LIST_REPLY answered a single-key operation".into(),
            )),
        }
    }

    fn check_publish(&self, p: &Publication) -> Result<(), Error> {
        self.shared.check()?;
        let max = self.shared.max_frame();
        let size = p.frame_len();
        if size - 4 > max {
            return Err(Error::TooLarge { size, max });
        }
        Ok(())
    }

    async fn send(&self, cmd: Command) -> Result<(), Error> {
        self.cmds.send(cmd).await.map_err(|_| self.shared.refusal())
    }

    async fn request<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, Error> {
        let (reply, rx) = oneshot::channel();
        self.send(make(reply)).await?;
        rx.await.unwrap_or_else(|_| Err(self.shared.refusal()))
    }
}

/// Maps the reply to a PUT or DELETE.
fn write_result(r: spate_proto::StateReply) -> Result<u64, StateError> {
    match r.status {
        StateStatus::Ok => Ok(r.revision),
        StateStatus::Conflict => Err(StateError::Conflict {
            revision: r.revision,
            value: r.value,
        }),
        StateStatus::NotFound => Err(StateError::NotFound),
    }
}
