//! What the application publishes ([`Publication`]: topic, payload,
//! optional key and headers) and what an acknowledged publish returns
//! ([`PubAck`]: the seq, epoch and timestamp the server assigned).

use bytes::Bytes;
use spate_proto::{Publish, Text};

/// A message to publish. Build with [`Publication::new`] and the chained
/// setters.
///
/// ```
/// use spate_client::Publication;
/// let p = Publication::new("orders.eu.created", r#"{"id":1}"#)
///     .key("order-1")
///     .header("source", "web");
/// assert_eq!(p.topic(), "orders.eu.created");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    inner: Publish,
}

impl Publication {
    /// A message for `topic` (no wildcards) with `payload`.
    pub fn new(topic: impl Into<Text>, payload: impl Into<Bytes>) -> Publication {
        Publication {
            inner: Publish {
                topic: topic.into(),
                payload: payload.into(),
                ..Publish::default()
            },
        }
    }

    /// Sets the key (used by conflation and state).
    pub fn key(mut self, key: impl Into<Text>) -> Publication {
        self.inner.key = Some(key.into());
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<Text>, value: impl Into<Text>) -> Publication {
        self.inner.headers.push((name.into(), value.into()));
        self
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.inner.topic
    }

    /// Bytes the PUBLISH frame takes on the wire.
    pub(crate) fn frame_len(&self) -> usize {
        spate_proto::codec::wire_len(self.inner.encoded_len())
    }

    /// The PUBLISH request, with its id and ack flag still to be set.
    pub(crate) fn into_publish(self) -> Publish {
        self.inner
    }
}

/// The server's acknowledgement of a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PubAck {
    /// Epoch of the topic's history.
    pub epoch: u64,
    /// Sequence number assigned to the message.
    pub seq: u64,
    /// Server time of the publish, µs since the Unix epoch.
    pub timestamp_us: u64,
    /// Subscriptions the message was queued for.
    pub receivers: u32,
}
