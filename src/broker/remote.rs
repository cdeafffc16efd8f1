//! The broker's side of a shared engine (Redis, `crate::engine`): when an
//! engine is set, seqs, epochs, history of record and state belong to it,
//! and the local topics become replicas that only fan out. This file holds
//! the hook the engine plugs into ([`Remote`]) and the one entry point that
//! appends messages the engine has already ordered ([`Broker::inject`]):
//! no local seq assignment; a seq the node never received is announced to
//! its subscribers as a GAP, a seq it already has is dropped.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use spate_proto::message::BodyParts;
use spate_proto::{Condition, GapReason, PublishRef, StateChange, StateEntry, StateReply, Text};

use super::{Broker, BrokerError, Published, Topic, TopicInner};
use crate::queue::{Credit, GapMarker, Msg, SubscriberQueue, Wakes};

/// Result of one publish of a run.
pub type PublishResult = Result<Published, BrokerError>;

/// A shared engine as the broker and the commands see it.
pub trait Remote: Send + Sync + 'static {
    /// Orders, retains and distributes a run of publishes; one result per
    /// message, in order. Local delivery happens when the engine hands the
    /// messages back through [`Broker::inject`].
    fn publish(&self, pubs: &[PublishRef<'_>]) -> BoxFuture<'static, Vec<PublishResult>>;
    /// Makes sure this node receives `pattern`'s messages (and, for a
    /// literal topic, that its local replica has caught up) before a
    /// subscription on it is created. Every `Ok` is paired with one
    /// [`Remote::release`].
    fn acquire(&self, pattern: &str) -> BoxFuture<'static, Result<(), BrokerError>>;
    /// The subscription `acquire` was for has ended.
    fn release(&self, pattern: &str);
    /// STATE_PUT / STATE_DEL (`value` None) with compare-and-set.
    fn state_write(
        &self,
        topic: &str,
        key: &str,
        cond: Condition,
        value: Option<Bytes>,
    ) -> BoxFuture<'static, Result<StateReply, BrokerError>>;
    /// STATE_GET.
    fn state_get(
        &self,
        topic: &str,
        key: &str,
    ) -> BoxFuture<'static, Result<StateReply, BrokerError>>;
    /// STATE_LIST: keys after `after`, at most `limit`, and whether more follow.
    fn state_list(
        &self,
        topic: &str,
        after: &str,
        limit: usize,
    ) -> BoxFuture<'static, Result<(Vec<StateEntry>, bool), BrokerError>>;
}

/// A message the engine ordered, to append to the local replica.
#[derive(Debug, Clone)]
pub struct Injected {
    /// Epoch the engine assigned.
    pub epoch: u64,
    /// Seq the engine assigned.
    pub seq: u64,
    /// Timestamp recorded with it, µs since the Unix epoch.
    pub timestamp_us: u64,
    /// State change, if it is a state message.
    pub state: Option<StateChange>,
    /// Key.
    pub key: Option<String>,
    /// Headers.
    pub headers: Vec<(Text, Text)>,
    /// Payload.
    pub payload: Bytes,
}

impl Broker {
    /// Plugs in a shared engine; only the first call takes effect.
    pub fn set_remote(&self, r: Arc<dyn Remote>) {
        let _ = self.remote.set(r);
    }

    /// The shared engine, if one runs this broker's topics.
    pub fn remote(&self) -> Option<&Arc<dyn Remote>> {
        self.remote.get()
    }

    /// Where the local replica of `name` stands: (epoch, last seq).
    pub fn local_position(&self, name: &str) -> Option<(u64, u64)> {
        let t = self.existing_topic(name)?;
        let inner = t.inner.lock();
        (!inner.retired).then_some((t.epoch, inner.seq))
    }

    /// Runs `f` on the local replica of `name` in `epoch`: a replica of
    /// another epoch is replaced (the engine's topic started over), a
    /// missing one created. `fresh` tells `f` the replica is new.
    fn with_replica<R>(
        &self,
        name: &str,
        epoch: u64,
        mut f: impl FnMut(&Topic, &mut TopicInner, bool) -> R,
    ) -> Result<R, BrokerError> {
        loop {
            if let Some(t) = self.existing_topic(name) {
                let mut inner = t.inner.lock();
                if inner.retired {
                    continue;
                }
                if t.epoch == epoch {
                    return Ok(f(&t, &mut inner, false));
                }
                inner.retired = true;
                let before = inner.history.bytes();
                inner.history.clear(&self.budget);
                self.counters.history_changed(before, 0);
                // Topic mutex, then a map guard that is a leaf: allowed.
                self.topics.remove_if(name, |_, v| Arc::ptr_eq(v, &t));
                continue;
            }
            let max = self.config.limits.max_topics;
            if self.topics.len() as u64 >= max {
                return Err(BrokerError::TooManyTopics(max));
            }
            let mut created = false;
            let t = Arc::clone(&self.topics.entry(name.into()).or_insert_with(|| {
                created = true;
                Arc::new(Topic::new(name, epoch, self.retention_for(name)))
            }));
            if !created {
                continue;
            }
            let mut inner = t.inner.lock();
            if inner.retired || t.epoch != epoch {
                continue;
            }
            return Ok(f(&t, &mut inner, true));
        }
    }

    /// Moves the replica of `name` to `seq` in `epoch` without a message
    /// (the engine has it, this node cannot get it): the skipped seqs are
    /// announced as a GAP to the subscriptions that match.
    pub fn advance(&self, name: &str, epoch: u64, seq: u64) -> Result<(), BrokerError> {
        self.with_replica(name, epoch, |topic, inner, fresh| {
            if seq <= inner.seq {
                return;
            }
            if fresh {
                inner.seq = seq;
                return;
            }
            self.announce_gap(topic, inner, seq);
            inner.seq = seq;
        })
    }

    /// GAP `NOT_RETAINED` for seqs `inner.seq + 1 .. upto - 1` to every
    /// matching subscription. The replica's history starts over after the
    /// hole: it must stay contiguous for replay.
    fn announce_gap(&self, topic: &Topic, inner: &mut TopicInner, upto: u64) {
        if upto <= inner.seq + 1 {
            return;
        }
        self.refresh_matches(topic, inner);
        let name = Bytes::copy_from_slice(topic.name.as_bytes());
        for q in &inner.matches {
            q.push_gap(GapMarker::range(
                GapReason::NotRetained,
                name.clone(),
                inner.seq + 1,
                upto - 1,
            ));
        }
        let before = inner.history.bytes();
        inner.history.clear(&self.budget);
        self.counters.history_changed(before, 0);
    }

    /// Appends messages the engine ordered (one topic, increasing seqs) to
    /// the local replica and fans them out. Seqs the replica already has
    /// are skipped; a hole before a message is announced as a GAP (the
    /// caller has already tried to fetch it). A new replica starts at the
    /// first message without a GAP: nobody here was waiting for earlier ones.
    /// Returns the subscriptions a `block` queue overfilled.
    pub fn inject(
        &self,
        name: &str,
        msgs: &[Injected],
    ) -> Result<Vec<Arc<SubscriberQueue>>, BrokerError> {
        let mut blocked = Vec::new();
        let Some(first) = msgs.first() else {
            return Ok(blocked);
        };
        let mut wakes = Wakes::default();
        let mut credit = Credit::new(&self.budget);
        self.with_replica(name, first.epoch, |topic, inner, fresh| {
            if fresh {
                inner.seq = first.seq.saturating_sub(1);
            }
            self.refresh_matches(topic, inner);
            let mut history_before = inner.history.bytes();
            let mut out: Vec<Msg> = Vec::with_capacity(msgs.len());
            let mut receivers = Vec::new();
            for m in msgs.iter().filter(|m| m.epoch == topic.epoch) {
                if m.seq <= inner.seq {
                    continue;
                }
                if m.seq > inner.seq + 1 {
                    // Deliver what came before the hole, then the GAP.
                    self.push_out(
                        inner,
                        &mut out,
                        &mut receivers,
                        &mut blocked,
                        &mut wakes,
                        &mut credit,
                    );
                    self.counters
                        .history_changed(history_before, inner.history.bytes());
                    self.announce_gap(topic, inner, m.seq);
                    history_before = 0;
                }
                inner.seq = m.seq;
                let body = BodyParts {
                    epoch: topic.epoch,
                    seq: m.seq,
                    timestamp_us: m.timestamp_us,
                    state: m.state,
                    topic: &topic.name,
                    key: m.key.as_deref(),
                    headers: &m.headers,
                    payload: &m.payload,
                }
                .encode();
                let msg = Msg::new(body, m.seq, self.ckey(&topic.name, m.key.as_deref()));
                inner.history.push(&msg, m.timestamp_us, &mut credit);
                self.mirror_state(inner, m, &msg);
                out.push(msg);
            }
            self.push_out(
                inner,
                &mut out,
                &mut receivers,
                &mut blocked,
                &mut wakes,
                &mut credit,
            );
            self.counters
                .history_changed(history_before, inner.history.bytes());
        })?;
        credit.settle();
        wakes.wake_all();
        Ok(blocked)
    }

    /// Pushes `out` to every matching queue and empties it.
    fn push_out(
        &self,
        inner: &TopicInner,
        out: &mut Vec<Msg>,
        receivers: &mut Vec<u32>,
        blocked: &mut Vec<Arc<SubscriberQueue>>,
        wakes: &mut Wakes,
        credit: &mut Credit<'_>,
    ) {
        if out.is_empty() {
            return;
        }
        super::publish::fan_out(inner, out, receivers, blocked, wakes, credit);
        out.clear();
    }

    /// Keeps the replica's state in step with state messages, so SNAPSHOT
    /// subscriptions on this node see what it has received.
    fn mirror_state(&self, inner: &mut TopicInner, m: &Injected, msg: &Msg) {
        let (Some(change), Some(key)) = (m.state, m.key.as_deref()) else {
            return;
        };
        match change {
            StateChange::Put => inner.state.put(
                key,
                super::state::Entry {
                    revision: m.seq,
                    value: m.payload.clone(),
                    msg: msg.clone(),
                },
            ),
            StateChange::Delete => {
                inner.state.remove(key);
            }
        }
    }
}

impl Broker {
    /// Most messages the history of `name` retains (the engine's stream
    /// keeps as many).
    pub fn history_limit(&self, name: &str) -> usize {
        self.retention_for(name).max_msgs
    }

    /// Does any subscription on this node match topic `name`?
    pub fn is_wanted(&self, name: &str) -> bool {
        let mut v = Vec::new();
        self.index.read().matches(name, &mut v);
        !v.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn m(epoch: u64, seq: u64) -> Injected {
        Injected {
            epoch,
            seq,
            timestamp_us: 1,
            state: None,
            key: None,
            headers: Vec::new(),
            payload: Bytes::from(format!("p{seq}")),
        }
    }

    fn history(b: &Broker, name: &str) -> Vec<u64> {
        let t = b.existing_topic(name).unwrap();
        let inner = t.inner.lock();
        inner.history.since(0).map(|m| m.seq()).collect()
    }

    #[test]
    fn replica_skips_duplicates_and_restarts_history_after_a_hole() {
        let b = Broker::new(Arc::new(Config::default()));
        b.inject("t", &[m(7, 3), m(7, 4)]).unwrap();
        assert_eq!(
            b.local_position("t"),
            Some((7, 4)),
            "a new replica starts where it is"
        );
        b.inject("t", &[m(7, 4), m(7, 5)]).unwrap();
        assert_eq!(history(&b, "t"), [3, 4, 5], "seq 4 was not appended twice");
        b.inject("t", &[m(7, 8)]).unwrap();
        assert_eq!(b.local_position("t"), Some((7, 8)));
        assert_eq!(history(&b, "t"), [8], "history stays contiguous for replay");
        b.advance("t", 7, 10).unwrap();
        assert_eq!(b.local_position("t"), Some((7, 10)));
        assert!(history(&b, "t").is_empty());
        b.inject("t", &[m(9, 1)]).unwrap();
        assert_eq!(
            b.local_position("t"),
            Some((9, 1)),
            "another epoch replaces the replica"
        );
        assert_eq!(history(&b, "t"), [1]);
    }
}
