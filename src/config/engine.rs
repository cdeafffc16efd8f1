//! `[engine]`: which engine owns seqs, epochs, history and state. The
//! in-memory engine (the default) keeps them in this process; the Redis
//! engine keeps them in Redis so several spate nodes form one broker
//! (see `crate::engine`).

use serde::{Deserialize, Serialize};

use super::Problem;

/// Which engine runs the topics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// Everything in this process (one node).
    #[default]
    Memory,
    /// Seqs, epochs, history and state in Redis; nodes share topics.
    Redis,
}

/// Engine settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// `memory` or `redis`.
    pub kind: EngineKind,
    /// Redis server, `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// Prefix of every Redis key and channel spate uses.
    pub key_prefix: String,
    /// Longest wait to (re)connect to Redis.
    pub connect_timeout_ms: u64,
    /// Longest wait for one Redis command (a publish run, a state write);
    /// past it the client gets ENGINE_UNAVAILABLE.
    pub command_timeout_ms: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            kind: EngineKind::Memory,
            url: "redis://127.0.0.1:6379".into(),
            key_prefix: "spate:".into(),
            connect_timeout_ms: 2_000,
            command_timeout_ms: 2_000,
        }
    }
}

/// Reports what is wrong with `[engine]`.
pub(super) fn validate(e: &EngineConfig, p: &mut Vec<Problem>) {
    if e.kind != EngineKind::Redis {
        return;
    }
    if let Err(err) = redis::Client::open(e.url.as_str()) {
        p.push(Problem::new(
            "engine.url",
            format!("not a usable Redis URL: {err}"),
        ));
    }
    if e.key_prefix.is_empty() {
        p.push(Problem::new(
            "engine.key_prefix",
            "must not be empty: spate's keys would mix with others'",
        ));
    }
    for (field, v) in [
        ("engine.connect_timeout_ms", e.connect_timeout_ms),
        ("engine.command_timeout_ms", e.command_timeout_ms),
    ] {
        if v == 0 {
            p.push(Problem::new(field, "must be at least 1"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(e: &EngineConfig) -> Vec<String> {
        let mut p = Vec::new();
        validate(e, &mut p);
        p.into_iter().map(|x| x.field).collect()
    }

    #[test]
    fn memory_engine_ignores_redis_settings() {
        let e = EngineConfig {
            url: "nonsense".into(),
            ..EngineConfig::default()
        };
        assert!(fields(&e).is_empty());
    }

    #[test]
    fn redis_engine_checks_url_prefix_and_timeouts() {
        let mut e = EngineConfig {
            kind: EngineKind::Redis,
            ..EngineConfig::default()
        };
        assert!(fields(&e).is_empty());
        e.url = "http://x".into();
        e.key_prefix.clear();
        e.command_timeout_ms = 0;
        assert_eq!(
            fields(&e),
            [
                "engine.url",
                "engine.key_prefix",
                "engine.command_timeout_ms"
            ]
        );
    }
}
