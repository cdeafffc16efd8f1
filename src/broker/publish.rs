//! Publishing: assign the next seq, encode the message body once, retain
//! it, and push the same bytes to every matching subscription — all under
//! the topic's mutex so every subscriber sees one order.

use std::sync::Arc;

use spate_proto::message::BodyParts;
use spate_proto::{PublishRef, StateChange, Text};

use super::{now_us, Broker, BrokerError, Topic, TopicInner};
use crate::queue::{Credit, Msg, PushOutcome, SubscriberQueue, Wakes};
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
    pub headers: &'a [(Text, Text)],
    pub payload: &'a [u8],
    pub state: Option<StateChange>,
}

/// Per-connection scratch space for [`Broker::publish_many`], reused so
/// the publish path does not allocate per batch.
#[derive(Debug, Default)]
pub struct PublishScratch {
    msgs: Vec<Msg>,
    receivers: Vec<u32>,
    wakes: Wakes,
}

impl Broker {
    /// Publishes a run of messages, as read from one socket read, in order:
    /// consecutive messages to the same topic are appended under one lock
    /// and pushed to each subscriber queue with one lock; each writer is
    /// woken once, after the whole run is queued.
    /// One result per message is appended to `out`.
    pub fn publish_many(
        &self,
        pubs: &[PublishRef<'_>],
        out: &mut Vec<Result<Published, BrokerError>>,
        blocked: &mut Vec<Arc<SubscriberQueue>>,
        scratch: &mut PublishScratch,
    ) {
        let mut credit = Credit::new(&self.budget);
        let mut i = 0;
        while i < pubs.len() {
            let name = pubs[i].topic;
            if let Err(e) = self.check_topic(name) {
                out.push(Err(e));
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while j < pubs.len() && pubs[j].topic == name {
                j += 1;
            }
            let run = &pubs[i..j];
            let r = self.with_topic(name, |topic, inner| {
                let appends = run.iter().map(|p| Append {
                    key: p.key,
                    headers: p.headers,
                    payload: p.payload,
                    state: None,
                });
                let (first_seq, timestamp_us) =
                    self.append_all(topic, inner, appends, blocked, scratch, &mut credit);
                out.extend(scratch.receivers.iter().enumerate().map(|(k, r)| {
                    Ok(Published {
                        epoch: topic.epoch,
                        seq: first_seq + k as u64,
                        timestamp_us,
                        receivers: *r,
                    })
                }));
                Ok(())
            });
            if let Err(e) = r {
                let msg = e.to_string();
                out.extend(
                    run.iter()
                        .map(|_| Err(BrokerError::Refused(e.code(), msg.clone()))),
                );
            }
            i = j;
        }
        credit.settle();
        scratch.wakes.wake_all();
    }

    /// Appends messages to a locked topic — next seqs, one encode of each
    /// shared body, history — then pushes them to every matching queue
    /// together. Leaves the messages in `scratch.msgs` and the receivers of
    /// each in `scratch.receivers`; returns the first seq and the timestamp.
    /// Memory is paid from `credit`, the run's slice of the budget.
    fn append_all<'a>(
        &self,
        topic: &Topic,
        inner: &mut TopicInner,
        appends: impl Iterator<Item = Append<'a>>,
        blocked: &mut Vec<Arc<SubscriberQueue>>,
        scratch: &mut PublishScratch,
        credit: &mut Credit<'_>,
    ) -> (u64, u64) {
        self.refresh_matches(topic, inner);
        let timestamp_us = now_us();
        let first_seq = inner.seq + 1;
        let history_before = inner.history.bytes();
        scratch.msgs.clear();
        for a in appends {
            inner.seq += 1;
            if let Some(p) = inner.persist.as_mut() {
                p.on_seq(&topic.name, inner.seq);
            }
            let body = BodyParts {
                epoch: topic.epoch,
                seq: inner.seq,
                timestamp_us,
                state: a.state,
                topic: &topic.name,
                key: a.key,
                headers: a.headers,
                payload: a.payload,
            }
            .encode();
            if let Some(p) = inner.persist.as_ref() {
                p.on_message(&body, a.state.is_some());
            }
            let msg = Msg::new(body, inner.seq, self.ckey(&topic.name, a.key));
            inner.history.push(&msg, timestamp_us, credit);
            scratch.msgs.push(msg);
        }
        self.counters
            .history_changed(history_before, inner.history.bytes());
        fan_out(
            inner,
            &scratch.msgs,
            &mut scratch.receivers,
            blocked,
            &mut scratch.wakes,
            credit,
        );
        (first_seq, timestamp_us)
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

    /// Appends one message (a state change) to a locked topic and fans it
    /// out; returns what was assigned and the message itself.
    pub(crate) fn append(
        &self,
        topic: &Topic,
        inner: &mut TopicInner,
        a: Append<'_>,
        blocked: &mut Vec<Arc<SubscriberQueue>>,
    ) -> (Published, Msg) {
        let mut scratch = PublishScratch::default();
        let mut credit = Credit::new(&self.budget);
        let (seq, timestamp_us) = self.append_all(
            topic,
            inner,
            std::iter::once(a),
            blocked,
            &mut scratch,
            &mut credit,
        );
        credit.settle();
        scratch.wakes.wake_all();
        let published = Published {
            epoch: topic.epoch,
            seq,
            timestamp_us,
            receivers: scratch.receivers[0],
        };
        (published, scratch.msgs.swap_remove(0))
    }
}

/// Pushes the same messages to every queue matching a locked topic, one
/// lock per queue: the fan-out of both a local publish run and a run the
/// engine ordered elsewhere (`remote.rs`). Sets `receivers[i]` to the
/// queues that took `msgs[i]`; adds each `block` queue the run overfilled
/// to `blocked` once.
pub(crate) fn fan_out(
    inner: &TopicInner,
    msgs: &[Msg],
    receivers: &mut Vec<u32>,
    blocked: &mut Vec<Arc<SubscriberQueue>>,
    wakes: &mut Wakes,
    credit: &mut Credit<'_>,
) {
    receivers.clear();
    receivers.resize(msgs.len(), 0);
    for q in &inner.matches {
        if q.push_many(msgs, receivers, wakes, credit) == PushOutcome::MustWait
            && !blocked.iter().any(|b| Arc::ptr_eq(b, q))
        {
            blocked.push(Arc::clone(q));
        }
    }
}
