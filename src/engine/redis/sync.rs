//! Catching a local replica up with Redis: the topic's epoch and last seq,
//! and the stream entries after what the replica holds. What the stream no
//! longer retains becomes a GAP to the node's subscribers — never an
//! invented message, never a duplicate (the replica skips seqs it has).

use redis::Value;

use super::codec;
use super::scripts::SYNC;
use super::Shared;
use crate::broker::remote::Injected;
use crate::broker::{Broker, BrokerError};

/// Brings the replica of `topic` up to what Redis holds.
pub async fn sync_topic(sh: &Shared, broker: &Broker, topic: &str) -> Result<(), BrokerError> {
    let (local_epoch, from) = match broker.local_position(topic) {
        Some((e, s)) => (e, s + 1),
        None => (0, 1),
    };
    let count = broker.history_limit(topic);
    let mut inv = SYNC.prepare_invoke();
    inv.key(sh.keys.meta(topic))
        .key(sh.keys.stream(topic))
        .key(sh.keys.state(topic))
        .arg(super::new_epoch().to_string())
        .arg(local_epoch.to_string())
        .arg(from)
        .arg(count);
    let mut conn = sh.client.conn.clone();
    let v: Vec<Value> = sh
        .client
        .run("catch-up", inv.invoke_async(&mut conn))
        .await?;
    let bad =
        |what: &str| super::client::unavailable(format!("unexpected reply from Redis ({what})"));
    let [e, last, entries] = &v[..] else {
        return Err(bad("sync"));
    };
    let epoch = super::as_u64(e).ok_or_else(|| bad("epoch"))?;
    let last = super::as_u64(last).ok_or_else(|| bad("seq"))?;
    let msgs = parse_entries(epoch, entries).ok_or_else(|| bad("stream"))?;
    if !msgs.is_empty() {
        broker.inject(topic, &msgs)?;
    }
    broker.advance(topic, epoch, last)
}

/// XRANGE entries `[[id, [field, value, ...]], ...]` as messages.
fn parse_entries(epoch: u64, v: &Value) -> Option<Vec<Injected>> {
    let Value::Array(items) = v else {
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        let Value::Array(pair) = it else { return None };
        let [id, Value::Array(fields)] = &pair[..] else {
            return None;
        };
        let id = super::as_bytes(id)?;
        let seq = codec::parse_u64(id.split(|&c| c == b'-').next()?).ok()?;
        let (mut ts, mut blob) = (None, None);
        for f in fields.chunks(2) {
            match (super::as_bytes(&f[0])?, f.get(1)) {
                (b"t", Some(x)) => ts = super::as_u64(x),
                (b"d", Some(x)) => blob = super::as_bytes(x),
                _ => {}
            }
        }
        out.push(codec::decode(epoch, seq, ts?, blob?).ok()?);
    }
    Some(out)
}
