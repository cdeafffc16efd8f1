//! The node's Redis subscriber. One pub/sub connection receives the
//! channels of the topics this node's clients subscribe to — literal
//! topics by channel, wildcard patterns by a glob (the local trie does
//! the exact matching) — reference-counted as subscriptions come and go.
//! Each message is injected into the local broker with its Redis-assigned
//! epoch and seq; a seq after a hole first catches the replica up from the
//! Redis stream. When the connection drops, the task reconnects,
//! resubscribes and catches every replica up: what Redis no longer retains
//! reaches subscribers as a GAP.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use super::{codec, sync, Shared};

/// Pause between reconnection attempts.
const RETRY: Duration = Duration::from_millis(200);

/// A request to the fan-in task.
#[derive(Debug)]
pub enum FanCmd {
    /// One more subscription needs `pattern`; answered once Redis has
    /// confirmed the subscription.
    Acquire(String, oneshot::Sender<Result<(), String>>),
    /// One subscription on `pattern` ended.
    Release(String),
}

/// A Redis subscription: how many local subscriptions need it.
#[derive(Debug)]
struct Sub {
    refs: usize,
    glob: bool,
}

/// The task: runs until the engine is dropped (its sender closes).
pub async fn run(sh: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<FanCmd>) {
    let mut subs: HashMap<String, Sub> = HashMap::new();
    loop {
        let conn = tokio::time::timeout(
            sh.client.connect_timeout,
            sh.client.client.get_async_pubsub(),
        )
        .await;
        let Ok(Ok(ps)) = conn else {
            if !pause(&mut rx, &mut subs, &sh).await {
                return;
            }
            continue;
        };
        let (mut sink, mut stream) = ps.split();
        let mut ok = true;
        for (name, s) in &subs {
            let r = match s.glob {
                true => tokio::time::timeout(sh.client.timeout, sink.psubscribe(name)).await,
                false => tokio::time::timeout(sh.client.timeout, sink.subscribe(name)).await,
            };
            if !matches!(r, Ok(Ok(()))) {
                ok = false;
                break;
            }
        }
        if !ok {
            if !pause(&mut rx, &mut subs, &sh).await {
                return;
            }
            continue;
        }
        tracing::info!("redis engine: subscriber connected");
        // Replicas to catch up: all covered ones after a (re)connection;
        // retried until the catch-up succeeds.
        let mut behind = covered_topics(&sh);
        let mut retry = tokio::time::interval(RETRY);
        loop {
            tokio::select! {
                c = rx.recv() => {
                    let Some(c) = c else { return };
                    if !online(&mut subs, &sh, &mut sink, c).await {
                        break;
                    }
                }
                m = stream.next() => match m {
                    Some(m) => on_message(&sh, &m, &mut behind).await,
                    None => break,
                },
                _ = retry.tick(), if !behind.is_empty() => catch_up(&sh, &mut behind).await,
            }
        }
        tracing::warn!("redis engine: subscriber connection lost; reconnecting");
    }
}

/// Waits before the next connection attempt, answering requests as they
/// come; false once the engine is gone.
async fn pause(
    rx: &mut mpsc::UnboundedReceiver<FanCmd>,
    subs: &mut HashMap<String, Sub>,
    sh: &Shared,
) -> bool {
    let until = tokio::time::Instant::now() + RETRY;
    loop {
        tokio::select! {
            c = rx.recv() => match c {
                None => return false,
                Some(c) => offline(subs, sh, c),
            },
            _ = tokio::time::sleep_until(until) => return true,
        }
    }
}

/// Handles a request while disconnected: counts it, refuses acquisitions.
fn offline(subs: &mut HashMap<String, Sub>, sh: &Shared, c: FanCmd) {
    match c {
        FanCmd::Acquire(p, tx) => {
            add_ref(subs, sh, &p);
            let _ = tx.send(Err("not connected to Redis".into()));
        }
        FanCmd::Release(p) => {
            drop_ref(subs, sh, &p);
        }
    }
}

/// Handles a request while connected; false if the connection failed.
async fn online(
    subs: &mut HashMap<String, Sub>,
    sh: &Shared,
    sink: &mut redis::aio::PubSubSink,
    c: FanCmd,
) -> bool {
    let t = sh.client.timeout;
    match c {
        FanCmd::Acquire(p, tx) => {
            let (name, glob, first) = add_ref(subs, sh, &p);
            if !first {
                let _ = tx.send(Ok(()));
                return true;
            }
            let r = match glob {
                true => tokio::time::timeout(t, sink.psubscribe(&name)).await,
                false => tokio::time::timeout(t, sink.subscribe(&name)).await,
            };
            let ok = matches!(r, Ok(Ok(())));
            let _ = tx.send(match ok {
                true => Ok(()),
                false => Err("Redis did not confirm the subscription".into()),
            });
            ok
        }
        FanCmd::Release(p) => {
            let Some((name, glob)) = drop_ref(subs, sh, &p) else {
                return true;
            };
            let r = match glob {
                true => tokio::time::timeout(t, sink.punsubscribe(&name)).await,
                false => tokio::time::timeout(t, sink.unsubscribe(&name)).await,
            };
            matches!(r, Ok(Ok(())))
        }
    }
}

/// One more reference to `pattern`'s Redis subscription: (its name, glob?,
/// first reference?).
fn add_ref(subs: &mut HashMap<String, Sub>, sh: &Shared, pattern: &str) -> (String, bool, bool) {
    let (name, glob) = sh.keys.subscription(pattern);
    let s = subs.entry(name.clone()).or_insert(Sub { refs: 0, glob });
    s.refs += 1;
    (name, glob, s.refs == 1)
}

/// One reference fewer; the name to unsubscribe if it was the last.
fn drop_ref(subs: &mut HashMap<String, Sub>, sh: &Shared, pattern: &str) -> Option<(String, bool)> {
    let (name, glob) = sh.keys.subscription(pattern);
    let s = subs.get_mut(&name)?;
    s.refs -= 1;
    if s.refs > 0 {
        return None;
    }
    subs.remove(&name);
    Some((name, glob))
}

/// The local replicas this node's subscriptions cover.
fn covered_topics(sh: &Shared) -> HashSet<String> {
    let Some(broker) = sh.broker.upgrade() else {
        return HashSet::new();
    };
    broker
        .topic_list()
        .into_iter()
        .filter(|t| broker.is_wanted(&t.name))
        .map(|t| t.name.to_string())
        .collect()
}

/// Catches up the replicas in `behind`; those that fail stay for the next
/// try.
async fn catch_up(sh: &Shared, behind: &mut HashSet<String>) {
    let Some(broker) = sh.broker.upgrade() else {
        return;
    };
    let topics: Vec<String> = behind.iter().cloned().collect();
    for t in topics {
        match sync::sync_topic(sh, &broker, &t).await {
            Ok(()) => {
                behind.remove(&t);
            }
            Err(e) => {
                tracing::debug!(topic = %t, error = %e, "redis engine: catch-up failed, will retry");
                return;
            }
        }
    }
}

/// A message from a topic channel.
async fn on_message(sh: &Shared, m: &redis::Msg, behind: &mut HashSet<String>) {
    let Some(broker) = sh.broker.upgrade() else {
        return;
    };
    let Some(topic) = sh.keys.topic_of(m.get_channel_name()) else {
        return;
    };
    let msg = match codec::decode_channel(m.get_payload_bytes()) {
        Ok(msg) => msg,
        Err(e) => {
            tracing::warn!(topic, error = %e, "redis engine: message skipped");
            return;
        }
    };
    match broker.local_position(topic) {
        None if !broker.is_wanted(topic) => return,
        Some((e, l)) if e != msg.epoch || msg.seq > l + 1 => {
            // A hole (or the topic restarted): fetch what is missing first.
            if let Err(err) = sync::sync_topic(sh, &broker, topic).await {
                // Leave the message to the retried catch-up (it is in the
                // stream, or becomes part of the GAP if not retained).
                tracing::warn!(topic, error = %err, "redis engine: catch-up failed");
                behind.insert(topic.to_owned());
                return;
            }
        }
        _ => {}
    }
    if let Err(e) = broker.inject(topic, std::slice::from_ref(&msg)) {
        tracing::warn!(topic, error = %e, "redis engine: message not delivered");
    }
}
