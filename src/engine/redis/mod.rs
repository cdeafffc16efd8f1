//! The Redis engine: several spate nodes on one Redis form one broker.
//!
//! - [`client`]: the command connection (reconnects, deadlines);
//! - [`scripts`]: the Lua scripts (publish run, catch-up, state CAS);
//! - [`codec`]: what a message looks like in Redis;
//! - [`fanin`]: the node's Redis subscriber, injecting into the broker;
//! - [`sync`]: catching a local replica up from the Redis stream;
//! - [`state`]: STATE_PUT/DEL/GET/LIST against Redis.
//!
//! A run of publishes is one EVALSHA (one round trip): for each message
//! the script increments the topic's seq, appends to its stream (bounded by
//! the history's message limit) and publishes on its channel, so every
//! node — the publisher's included — receives it from Redis in one order.

pub mod client;
pub mod codec;
pub mod fanin;
pub mod keys;
pub mod scripts;
pub mod state;
pub mod sync;

use std::sync::{Arc, Weak};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use redis::Value;
use spate_proto::{Condition, PublishRef, StateEntry, StateReply};
use tokio::sync::{mpsc, oneshot};

use crate::broker::remote::{PublishResult, Remote};
use crate::broker::{now_us, Broker, BrokerError, Published};
pub use client::EngineError;
use client::{unavailable, Client};
use fanin::FanCmd;
use keys::Keys;

/// What the engine's tasks share.
pub struct Shared {
    /// The broker the engine feeds (weak: the broker owns the engine).
    pub broker: Weak<Broker>,
    /// Command connection.
    pub client: Client,
    /// Key names.
    pub keys: Keys,
}

/// The engine as plugged into the broker.
pub struct RedisEngine {
    sh: Arc<Shared>,
    fanin: mpsc::UnboundedSender<FanCmd>,
}

impl RedisEngine {
    /// Starts the engine for `broker` (connects lazily; spawns the fan-in).
    pub fn start(broker: &Arc<Broker>) -> Result<Arc<RedisEngine>, EngineError> {
        let cfg = &broker.config.engine;
        let sh = Arc::new(Shared {
            broker: Arc::downgrade(broker),
            client: Client::new(cfg)?,
            keys: Keys::new(&cfg.key_prefix),
        });
        // Unbounded, yet bounded by the subscriptions: each acquire waits
        // for its answer, and there is one release per acquire.
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(fanin::run(Arc::clone(&sh), rx));
        Ok(Arc::new(RedisEngine { sh, fanin: tx }))
    }
}

/// A random non-zero epoch (candidate for a topic new in Redis).
pub fn new_epoch() -> u64 {
    rand::random::<u64>() | 1
}

/// An integer or decimal string reply.
pub fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) => u64::try_from(*i).ok(),
        other => codec::parse_u64(as_bytes(other)?).ok(),
    }
}

/// A string reply's bytes.
pub fn as_bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

impl Remote for RedisEngine {
    fn publish(&self, pubs: &[PublishRef<'_>]) -> BoxFuture<'static, Vec<PublishResult>> {
        let Some(broker) = self.sh.broker.upgrade() else {
            let e = || Err(unavailable("server is stopping".into()));
            return futures::future::ready(pubs.iter().map(|_| e()).collect()).boxed();
        };
        let mut results: Vec<Option<PublishResult>> = Vec::with_capacity(pubs.len());
        let mut topics: Vec<&str> = Vec::new();
        let mut msgs: Vec<(usize, Vec<u8>)> = Vec::with_capacity(pubs.len());
        for p in pubs {
            if let Err(e) = broker.check_topic(p.topic) {
                results.push(Some(Err(e)));
                continue;
            }
            let i = match topics.iter().position(|t| *t == p.topic) {
                Some(i) => i,
                None => {
                    topics.push(p.topic);
                    topics.len() - 1
                }
            };
            results.push(None);
            msgs.push((i + 1, codec::encode(None, p.key, p.headers, p.payload)));
        }
        let ts = now_us();
        let keys = &self.sh.keys;
        let mut inv = scripts::PUBLISH.prepare_invoke();
        inv.arg(ts).arg(keys.channel_prefix()).arg(topics.len());
        for t in &topics {
            inv.key(keys.meta(t)).key(keys.stream(t)).key(keys.state(t));
            inv.arg(*t)
                .arg(broker.history_limit(t))
                .arg(new_epoch().to_string());
        }
        for (i, blob) in &msgs {
            inv.arg(*i).arg(&blob[..]);
        }
        let sh = Arc::clone(&self.sh);
        async move {
            if msgs.is_empty() {
                return results.into_iter().flatten().collect();
            }
            let mut conn = sh.client.conn.clone();
            let r: Result<Vec<Value>, BrokerError> =
                sh.client.run("publish", inv.invoke_async(&mut conn)).await;
            let mut assigned = match r {
                Ok(v) if v.len() == 3 * msgs.len() => v
                    .chunks(3)
                    .map(|c| match (as_u64(&c[0]), as_u64(&c[1]), as_u64(&c[2])) {
                        (Some(epoch), Some(seq), Some(n)) => Ok(Published {
                            epoch,
                            seq,
                            timestamp_us: ts,
                            receivers: n.min(u32::MAX as u64) as u32,
                        }),
                        _ => Err(unavailable("unexpected reply from Redis".into())),
                    })
                    .collect::<Vec<_>>()
                    .into_iter(),
                Ok(_) => vec![].into_iter(),
                Err(e) => {
                    let msg = e.to_string();
                    (0..msgs.len())
                        .map(|_| Err(unavailable(msg.clone())))
                        .collect::<Vec<_>>()
                        .into_iter()
                }
            };
            results
                .into_iter()
                .map(|r| match r {
                    Some(r) => r,
                    None => assigned
                        .next()
                        .unwrap_or_else(|| Err(unavailable("unexpected reply from Redis".into()))),
                })
                .collect()
        }
        .boxed()
    }

    fn acquire(&self, pattern: &str) -> BoxFuture<'static, Result<(), BrokerError>> {
        let (tx, rx) = oneshot::channel();
        let sent = self
            .fanin
            .send(FanCmd::Acquire(pattern.to_owned(), tx))
            .is_ok();
        let sh = Arc::clone(&self.sh);
        let fanin = self.fanin.clone();
        let pattern = pattern.to_owned();
        async move {
            let r = async {
                if !sent {
                    return Err(unavailable("redis engine stopped".into()));
                }
                match tokio::time::timeout(sh.client.timeout, rx).await {
                    Ok(Ok(Ok(()))) => {}
                    Ok(Ok(Err(why))) => return Err(unavailable(format!("engine (Redis): {why}"))),
                    _ => {
                        return Err(unavailable(
                            "engine (Redis) did not confirm the subscription in time".into(),
                        ))
                    }
                }
                if crate::topics::is_literal(&pattern) {
                    if let Some(b) = sh.broker.upgrade() {
                        if b.check_topic(&pattern).is_ok() {
                            sync::sync_topic(&sh, &b, &pattern).await?;
                        }
                    }
                }
                Ok(())
            }
            .await;
            if r.is_err() && sent {
                let _ = fanin.send(FanCmd::Release(pattern));
            }
            r
        }
        .boxed()
    }

    fn release(&self, pattern: &str) {
        let _ = self.fanin.send(FanCmd::Release(pattern.to_owned()));
    }

    fn state_write(
        &self,
        topic: &str,
        key: &str,
        cond: Condition,
        value: Option<Bytes>,
    ) -> BoxFuture<'static, Result<StateReply, BrokerError>> {
        state::write(Arc::clone(&self.sh), topic, key, cond, value).boxed()
    }

    fn state_get(
        &self,
        topic: &str,
        key: &str,
    ) -> BoxFuture<'static, Result<StateReply, BrokerError>> {
        state::get(Arc::clone(&self.sh), topic.to_owned(), key.to_owned()).boxed()
    }

    fn state_list(
        &self,
        topic: &str,
        after: &str,
        limit: usize,
    ) -> BoxFuture<'static, Result<(Vec<StateEntry>, bool), BrokerError>> {
        state::list(
            Arc::clone(&self.sh),
            topic.to_owned(),
            after.to_owned(),
            limit,
        )
        .boxed()
    }
}
