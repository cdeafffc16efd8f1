//! Versioned state: PUT, DELETE (both optionally conditional), GET, LIST.
//! A write checks its condition and appends its message under the topic's
//! lock, so compare-and-set is linearizable with the topic's publishes and
//! the key's revision is the seq of that message.

use std::sync::Arc;

use bytes::Bytes;
use spate_proto::{Condition, StateChange, StateEntry, StateReply, StateStatus, Text};

use super::publish::Append;
use super::state::Entry;
use super::{Broker, BrokerError};
use crate::queue::{Msg, SubscriberQueue};

/// Longest state key, bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// Why a state request is invalid (beyond broker errors).
fn check_key(key: &str) -> Result<(), BrokerError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(BrokerError::InvalidKey);
    }
    Ok(())
}

fn reply(status: StateStatus, revision: u64, value: Option<Bytes>) -> StateReply {
    StateReply {
        request_id: 0,
        status,
        revision,
        value,
    }
}

/// The conflict reply for `cond`, or `None` if the condition holds.
fn check_condition(cond: Condition, cur: Option<&Entry>) -> Option<StateReply> {
    let ok = match (cond, cur) {
        (Condition::None, _) => true,
        (Condition::IfAbsent, None) => true,
        (Condition::IfAbsent, Some(_)) => false,
        (Condition::IfRevision(r), Some(e)) => e.revision == r,
        (Condition::IfRevision(r), None) => r == 0,
    };
    if ok {
        return None;
    }
    Some(match cur {
        Some(e) => reply(StateStatus::Conflict, e.revision, Some(e.value.clone())),
        None => reply(StateStatus::Conflict, 0, None),
    })
}

/// The stored copy of a state value: a slice of the state message's own
/// encoded body (which ends with the payload), never of `value` itself, which
/// usually points into the connection's read buffer and would keep all of
/// that buffer alive, uncharged, for as long as the key exists. Costs no
/// allocation; copies only if the body does not end with the value.
fn value_in_body(msg: &Msg, value: &Bytes) -> Bytes {
    let body = msg.body();
    if body.ends_with(value) {
        body.slice(body.len() - value.len()..)
    } else {
        Bytes::copy_from_slice(value)
    }
}

impl Broker {
    /// Sets `key` on `topic` if `cond` holds; the change is published.
    pub fn state_put(
        &self,
        topic: &str,
        key: &str,
        cond: Condition,
        value: &Bytes,
        blocked: &mut Vec<Arc<SubscriberQueue>>,
    ) -> Result<StateReply, BrokerError> {
        self.check_topic(topic)?;
        check_key(key)?;
        let max_keys = self.config.limits.max_state_keys_per_topic;
        self.with_topic(topic, |t, inner| {
            let cur = inner.state.get(key);
            if let Some(conflict) = check_condition(cond, cur) {
                return Ok(conflict);
            }
            if cur.is_none() && inner.state.len() >= max_keys as usize {
                return Err(BrokerError::StateFull(max_keys));
            }
            let a = Append {
                key: Some(key),
                headers: &[],
                payload: value,
                state: Some(StateChange::Put),
            };
            let (p, msg) = self.append(t, inner, a, blocked);
            let value = value_in_body(&msg, value);
            inner.state.put(
                key,
                Entry {
                    revision: p.seq,
                    value,
                    msg,
                },
            );
            Ok(reply(StateStatus::Ok, p.seq, None))
        })
    }

    /// Deletes `key` on `topic` if `cond` holds; the deletion is published.
    pub fn state_del(
        &self,
        topic: &str,
        key: &str,
        cond: Condition,
        blocked: &mut Vec<Arc<SubscriberQueue>>,
    ) -> Result<StateReply, BrokerError> {
        self.check_topic(topic)?;
        check_key(key)?;
        self.with_topic(topic, |t, inner| {
            let cur = inner.state.get(key);
            if let Some(conflict) = check_condition(cond, cur) {
                return Ok(conflict);
            }
            if cur.is_none() {
                return Ok(reply(StateStatus::NotFound, 0, None));
            }
            let a = Append {
                key: Some(key),
                headers: &[],
                payload: &[],
                state: Some(StateChange::Delete),
            };
            let (p, _) = self.append(t, inner, a, blocked);
            inner.state.remove(key);
            Ok(reply(StateStatus::Ok, p.seq, None))
        })
    }

    /// Reads `key` on `topic`.
    pub fn state_get(&self, topic: &str, key: &str) -> Result<StateReply, BrokerError> {
        self.check_topic(topic)?;
        check_key(key)?;
        let Some(t) = self.existing_topic(topic) else {
            return Ok(reply(StateStatus::NotFound, 0, None));
        };
        let inner = t.inner.lock();
        Ok(match inner.state.get(key) {
            Some(e) => reply(StateStatus::Ok, e.revision, Some(e.value.clone())),
            None => reply(StateStatus::NotFound, 0, None),
        })
    }

    /// Lists keys of `topic` after `after`, in key order, and whether more
    /// follow. `max_bytes` caps the page so the
    /// reply fits in a frame.
    pub fn state_list(
        &self,
        topic: &str,
        after: &str,
        limit: usize,
        max_bytes: usize,
    ) -> Result<(Vec<StateEntry>, bool), BrokerError> {
        self.check_topic(topic)?;
        let Some(t) = self.existing_topic(topic) else {
            return Ok((Vec::new(), false));
        };
        let inner = t.inner.lock();
        let (page, more) = inner.state.page(after, limit, max_bytes);
        let entries = page
            .into_iter()
            .map(|(k, e)| StateEntry {
                key: Text::from(k),
                revision: e.revision,
                value: e.value.clone(),
            })
            .collect();
        Ok((entries, more))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// True if `inner` lies within `outer`'s memory.
    fn inside(inner: &[u8], outer: &[u8]) -> bool {
        let o = outer.as_ptr_range();
        let i = inner.as_ptr_range();
        o.start <= i.start && i.end <= o.end
    }

    #[test]
    fn stored_values_do_not_pin_the_read_buffer() {
        let broker = Broker::new(Arc::new(Config::default()));
        // A value as it arrives: a slice of a 64 KiB read buffer.
        let read_buf = Bytes::from(vec![b'x'; 64 * 1024]);
        let value = read_buf.slice(100..140);
        let mut blocked = Vec::new();
        let r = broker
            .state_put("cfg.app", "color", Condition::None, &value, &mut blocked)
            .unwrap();
        assert_eq!(r.status, StateStatus::Ok);

        let t = broker.existing_topic("cfg.app").unwrap();
        let inner = t.inner.lock();
        let e = inner.state.get("color").unwrap();
        assert_eq!(e.value, value);
        assert!(
            !inside(&e.value, &read_buf),
            "the stored value still points into the read buffer"
        );
        assert!(
            inside(&e.value, e.msg.body()),
            "the value shares the state message's own body"
        );
        drop(inner);
        let got = broker.state_get("cfg.app", "color").unwrap();
        assert_eq!(got.value.as_deref(), Some(&value[..]));
    }
}
