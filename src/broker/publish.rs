//! Publishing: assign the next seq, encode the message body once, retain
//! it, and push the same bytes to every matching subscription — all under
//! the topic's mutex so every subscriber sees one order.

use std::sync::Arc;

use bytes::Bytes;
use spate_proto::message::BodyParts;
use spate_proto::{Headers, Publish, StateChange};

use super::{now_us, Broker, BrokerError, Topic, TopicInner};
use crate::queue::{Msg, PushOutcome, SubscriberQueue};
use crate::topics::validate_topic;

/// What the broker assigned to a published message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// Topic epoch.
    pub epoch: u64,
    /// Sequence number.
    pub seq: u64,
    /// Server timestamp, µs since the Unix epoch.
    pub timestamp_us: u64,
    /// Subscriptions it was queued for.
    pub receivers: u32,
}

/// A message about to be appended to a topic.
pub(crate) struct Append<'a> {
    pub key: Option<&'a str>,
    pub headers: &'a Headers,
    pub payload: &'a Bytes,
    pub state: Option<StateChange>,
}

impl Broker {
    /// Publishes `p`. Subscriptions with the `block` policy that are now
    /// over their limit are added to `blocked`: the caller must wait for
    /// them before reading more from its publisher.
    pub fn publish(
        &self,
        p: &Publish,
        blocked: &mut Vec<Arc<SubscriberQueue>>,
    ) -> Result<Published, BrokerError> {
        self.check_topic(&p.topic)?;
        let append = Append {
            key: p.key.as_deref(),
            headers: &p.headers,
            payload: &p.payload,
            state: None,
        };
        self.with_topic(&p.topic, |topic, inner| {
            Ok(self.append(topic, inner, &append, blocked).0)
        })
    }

    /// Validates a topic name for publishing or state.
    pub(crate) fn check_topic(&self, name: &str) -> Result<(), BrokerError> {
        validate_topic(name, self.config.limits.max_topic_len as usize).map_err(|source| {
            BrokerError::InvalidTopic {
                topic: name.to_owned(),
                source,
            }
        })
    }

    /// Runs `f` with the topic `name` locked, creating the topic if new and
    /// retrying if the sweeper retired it meanwhile.
    pub(crate) fn with_topic<R>(
        &self,
        name: &str,
        mut f: impl FnMut(&Topic, &mut TopicInner) -> Result<R, BrokerError>,
    ) -> Result<R, BrokerError> {
        loop {
            let topic = self.topic(name)?;
            let mut inner = topic.inner.lock();
            if inner.retired {
                continue;
            }
            return f(&topic, &mut inner);
        }
    }

    /// Appends one message to a locked topic and fans it out.
    pub(crate) fn append(
        &self,
        topic: &Topic,
        inner: &mut TopicInner,
        a: &Append<'_>,
        blocked: &mut Vec<Arc<SubscriberQueue>>,
    ) -> (Published, Msg) {
        self.refresh_matches(topic, inner);
        inner.seq += 1;
        let seq = inner.seq;
        let timestamp_us = now_us();
        let body = BodyParts {
            epoch: topic.epoch,
            seq,
            timestamp_us,
            state: a.state,
            topic: &topic.name,
            key: a.key,
            headers: a.headers,
            payload: a.payload,
        }
        .encode();
        let msg = Msg {
            body,
            seq,
            ckey: self.ckey(&topic.name, a.key),
        };
        inner.history.push(&msg, timestamp_us, &self.budget);
        let mut receivers = 0u32;
        for q in &inner.matches {
            match q.push(&msg) {
                PushOutcome::Queued => receivers += 1,
                PushOutcome::MustWait => {
                    receivers += 1;
                    if !blocked.iter().any(|b| Arc::ptr_eq(b, q)) {
                        blocked.push(Arc::clone(q));
                    }
                }
                PushOutcome::Lost | PushOutcome::Closed => {}
            }
        }
        let published = Published {
            epoch: topic.epoch,
            seq,
            timestamp_us,
            receivers,
        };
        (published, msg)
    }
}
