//! Engines: who owns a topic's order, history and state.
//!
//! ```text
//!                      memory engine (default)        Redis engine (kind = "redis")
//! seq / epoch          broker/publish.rs, per topic   Redis: HINCRBY in the publish script,
//!                      under the topic mutex          epoch kept in the topic's meta hash
//! history of record    broker/history.rs ring         Redis stream per topic (XADD MAXLEN)
//! state + CAS          broker/state_ops.rs            Redis hash per topic, CAS in a script
//! cross-node fan-in    —                              one pub/sub connection per node,
//!                                                     channels ref-counted by local subs
//! per-subscriber       queue/ (policies, budget, GAPs) — the same in both: the Redis engine
//! queues, fan-out                                     injects ordered messages into the
//!                                                     local broker (broker/remote.rs)
//! ```
//!
//! With the Redis engine the local topics are replicas: they keep a
//! history ring and a state mirror of what this node received, so
//! backlogs (`FROM_SEQ`, `LAST_N`, `SNAPSHOT`) are planned exactly as in
//! memory, after the replica has caught up from the Redis stream.

pub mod redis;

use std::sync::Arc;

use crate::broker::Broker;
use crate::config::engine::EngineKind;

/// Plugs the configured engine into `broker` (nothing for `memory`).
pub fn attach(broker: &Arc<Broker>) -> Result<(), redis::EngineError> {
    match broker.config.engine.kind {
        EngineKind::Memory => Ok(()),
        EngineKind::Redis => {
            let e = redis::RedisEngine::start(broker)?;
            broker.set_remote(e);
            Ok(())
        }
    }
}
