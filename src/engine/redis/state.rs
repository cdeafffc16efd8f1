//! Versioned state in Redis: one hash per topic (`<revision>:<value>` per
//! key). A write is one script that checks the condition, appends the
//! state message (seq = the new revision) and updates the hash atomically,
//! so compare-and-set holds across every node on the same Redis.

use std::sync::Arc;

use bytes::Bytes;
use redis::Value;
use spate_proto::{Condition, StateChange, StateEntry, StateReply, StateStatus, Text};

use super::client::unavailable;
use super::scripts::STATE_WRITE;
use super::{as_bytes, as_u64, codec, new_epoch, now_us, Shared};
use crate::broker::state_ops::MAX_KEY_LEN;
use crate::broker::{Broker, BrokerError};

fn reply(status: StateStatus, revision: u64, value: Option<Bytes>) -> StateReply {
    StateReply {
        request_id: 0,
        status,
        revision,
        value,
    }
}

fn check(broker: &Broker, topic: &str, key: &str) -> Result<(), BrokerError> {
    broker.check_topic(topic)?;
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(BrokerError::InvalidKey);
    }
    Ok(())
}

fn broker(sh: &Shared) -> Result<Arc<Broker>, BrokerError> {
    sh.broker
        .upgrade()
        .ok_or_else(|| unavailable("server is stopping".into()))
}

/// `<revision>:<value>` as stored.
fn split_stored(b: &[u8]) -> Option<(u64, Bytes)> {
    let i = b.iter().position(|&c| c == b':')?;
    let rev = codec::parse_u64(&b[..i]).ok()?;
    Some((rev, Bytes::copy_from_slice(&b[i + 1..])))
}

/// STATE_PUT (`value` Some) or STATE_DEL (None).
pub fn write(
    sh: Arc<Shared>,
    topic: &str,
    key: &str,
    cond: Condition,
    value: Option<Bytes>,
) -> impl std::future::Future<Output = Result<StateReply, BrokerError>> + Send + 'static {
    let prepared = broker(&sh).and_then(|b| {
        check(&b, topic, key)?;
        let change = match value {
            Some(_) => StateChange::Put,
            None => StateChange::Delete,
        };
        let payload = value.clone().unwrap_or_default();
        let blob = codec::encode(Some(change), Some(key), &[], &payload);
        let (ck, crev) = match cond {
            Condition::None => ("n", 0),
            Condition::IfAbsent => ("a", 0),
            Condition::IfRevision(r) => ("r", r),
        };
        let max_keys = b.config.limits.max_state_keys_per_topic;
        let k = &sh.keys;
        let mut inv = STATE_WRITE.prepare_invoke();
        inv.key(k.meta(topic))
            .key(k.stream(topic))
            .key(k.state(topic))
            .arg(now_us())
            .arg(format!("{}{topic}", k.channel_prefix()))
            .arg(b.history_limit(topic))
            .arg(new_epoch().to_string())
            .arg(key)
            .arg(ck)
            .arg(crev)
            .arg(if value.is_some() { "p" } else { "d" })
            .arg(blob)
            .arg(&payload[..])
            .arg(max_keys);
        Ok((inv, max_keys))
    });
    async move {
        let (inv, max_keys) = prepared?;
        let mut conn = sh.client.conn.clone();
        let v: Vec<Value> = sh
            .client
            .run("state write", inv.invoke_async(&mut conn))
            .await?;
        let bad = || unavailable("unexpected reply from Redis (state write)".into());
        let [status, rev, val, _epoch] = &v[..] else {
            return Err(bad());
        };
        let rev = as_u64(rev).ok_or_else(bad)?;
        let val = as_bytes(val).map(Bytes::copy_from_slice);
        match as_bytes(status).ok_or_else(bad)? {
            b"ok" => Ok(reply(StateStatus::Ok, rev, None)),
            b"conflict" => Ok(reply(StateStatus::Conflict, rev, val)),
            b"notfound" => Ok(reply(StateStatus::NotFound, 0, None)),
            b"full" => Err(BrokerError::StateFull(max_keys)),
            _ => Err(bad()),
        }
    }
}

/// STATE_GET.
pub async fn get(sh: Arc<Shared>, topic: String, key: String) -> Result<StateReply, BrokerError> {
    check(&*broker(&sh)?, &topic, &key)?;
    let mut conn = sh.client.conn.clone();
    let cmd = redis::cmd("HGET")
        .arg(sh.keys.state(&topic))
        .arg(&key)
        .to_owned();
    let v: Option<Vec<u8>> = sh
        .client
        .run("state get", cmd.query_async(&mut conn))
        .await?;
    Ok(match v.as_deref().and_then(split_stored) {
        Some((rev, value)) => reply(StateStatus::Ok, rev, Some(value)),
        None => reply(StateStatus::NotFound, 0, None),
    })
}

/// STATE_LIST: keys after `after` in key order, at most `limit`, and
/// whether more follow; a page stops early to fit half a frame.
pub async fn list(
    sh: Arc<Shared>,
    topic: String,
    after: String,
    limit: usize,
) -> Result<(Vec<StateEntry>, bool), BrokerError> {
    let b = broker(&sh)?;
    b.check_topic(&topic)?;
    let max_bytes = b.config.limits.max_frame_bytes as usize / 2;
    let mut conn = sh.client.conn.clone();
    let cmd = redis::cmd("HGETALL").arg(sh.keys.state(&topic)).to_owned();
    let mut all: Vec<(String, Vec<u8>)> = sh
        .client
        .run("state list", cmd.query_async(&mut conn))
        .await?;
    all.retain(|(k, _)| k.as_str() > after.as_str());
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::new();
    let mut bytes = 0;
    for (k, stored) in &all {
        let Some((revision, value)) = split_stored(stored) else {
            continue;
        };
        let cost = k.len() + value.len() + 16;
        if out.len() >= limit || (bytes + cost > max_bytes && !out.is_empty()) {
            return Ok((out, true));
        }
        bytes += cost;
        out.push(StateEntry {
            key: Text::from(k.as_str()),
            revision,
            value,
        });
    }
    Ok((out, false))
}
