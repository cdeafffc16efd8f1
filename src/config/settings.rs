//! The server's settings as one typed tree, with the defaults a fresh
//! install runs with. Loading (file, environment, flags) lives in
//! `config::load`; this file only says what can be set and to what.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use spate_proto::Policy;

/// Every server setting. Field names are the TOML keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Listeners.
    pub server: ServerConfig,
    /// Hard limits that protect the server from its clients.
    pub limits: Limits,
    /// Per-subscription queue defaults, maxima and the memory budget.
    pub queues: Queues,
    /// Per-topic history retention.
    pub history: History,
    /// Rate limits.
    pub rate_limits: RateLimits,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Logging.
    pub log: Log,
    /// Authentication, users and permissions (`crate::auth`).
    pub auth: crate::auth::AuthConfig,
    /// TLS certificate, key and client certificates (for `server.tls_listen`
    /// and `server.wss_listen`).
    pub tls: Tls,
    /// Durability (h-storage): `[storage]`, see `config::storage`.
    pub storage: super::storage::Storage,
    /// Engine: memory (one node) or Redis (several nodes, one broker).
    pub engine: super::engine::EngineConfig,
}

/// Listener settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Client protocol listener.
    pub listen: SocketAddr,
    /// Admin HTTP listener (metrics, health, stats).
    pub admin_listen: SocketAddr,
    /// Serve the admin HTTP listener at all.
    pub admin_enabled: bool,
    /// WebSocket listener carrying the same protocol (protocol.md, WebSocket
    /// transport); off when unset.
    pub ws_listen: Option<SocketAddr>,
    /// Origins a WebSocket handshake may come from (exact
    /// `scheme://host[:port]`, or `*` for any). Empty: requests without an
    /// Origin header and http(s) origins on localhost/127.0.0.1 only.
    pub ws_allowed_origins: Vec<String>,
    /// Serve plaintext TCP on `listen` at all (off for a TLS-only broker).
    pub plaintext_enabled: bool,
    /// TLS listener carrying the same protocol (protocol.md §2.2); off when
    /// unset. Needs `[tls] cert` and `key`.
    pub tls_listen: Option<SocketAddr>,
    /// WebSocket-over-TLS (`wss`) listener; off when unset. Needs `[tls]`.
    pub wss_listen: Option<SocketAddr>,
}

/// Limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Most concurrent client connections; more are refused with
    /// TOO_MANY_CONNECTIONS.
    pub max_connections: u32,
    /// Largest frame a client may send, bytes.
    pub max_frame_bytes: u32,
    /// Most subscriptions per connection.
    pub max_subscriptions_per_connection: u32,
    /// Most topics the server tracks at once.
    pub max_topics: u64,
    /// Longest topic name or pattern, bytes.
    pub max_topic_len: u16,
    /// Most state keys one topic may hold.
    pub max_state_keys_per_topic: u32,
    /// Most concurrent connections from one source IP address (0 =
    /// unlimited); more are refused with TOO_MANY_CONNECTIONS_FROM_IP.
    pub max_connections_per_ip: u32,
    /// Most concurrent connections of one authenticated user (0 =
    /// unlimited; `auth.users[].max_connections` overrides it); more are
    /// refused with TOO_MANY_USER_CONNECTIONS.
    pub max_connections_per_user: u32,
}

/// Queue settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Queues {
    /// Policy of a subscription that does not choose one.
    #[serde(with = "policy_name")]
    pub default_policy: Policy,
    /// Queue limit in messages when the client does not ask.
    pub default_msgs: u32,
    /// Queue limit in bytes when the client does not ask.
    pub default_bytes: u64,
    /// Largest queue limit in messages a client may ask for.
    pub max_msgs: u32,
    /// Largest queue limit in bytes a client may ask for.
    pub max_bytes: u64,
    /// Server-wide cap on all queued plus retained bytes.
    pub memory_budget_bytes: u64,
    /// Bytes every queue may hold even when the budget is exhausted, so a
    /// subscriber that keeps up is never starved by one that does not.
    pub guaranteed_bytes: u64,
    /// `disconnect` policy: how long a queue may stay full before its
    /// subscriber is disconnected.
    pub disconnect_grace_ms: u64,
    /// `block` policy: longest a publisher waits for a full queue before
    /// that queue's subscriber is disconnected.
    pub block_timeout_ms: u64,
    /// Largest `max_batch` a client may ask for.
    pub max_batch: u16,
    /// Largest `linger` a client may ask for, microseconds.
    pub max_linger_us: u32,
}

/// History retention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct History {
    /// Messages retained per topic (0 disables history).
    pub max_msgs: u32,
    /// Bytes retained per topic.
    pub max_bytes: u64,
    /// Oldest retained message age, seconds (0 = no age limit).
    pub max_age_secs: u64,
    /// Per-pattern overrides; the first matching pattern wins.
    pub overrides: Vec<HistoryOverride>,
}

/// Retention for the topics matching `pattern`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryOverride {
    /// Topic pattern (wildcards allowed).
    pub pattern: String,
    /// Messages retained per topic.
    pub max_msgs: u32,
    /// Bytes retained per topic.
    pub max_bytes: u64,
    /// Oldest retained message age, seconds (0 = none).
    #[serde(default)]
    pub max_age_secs: u64,
}

/// Rate limits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// Messages per second one connection may publish (0 = unlimited). A
    /// publisher over it is slowed (the server reads its socket more
    /// slowly), never dropped.
    pub publish_per_connection: u32,
    /// Largest `max_rate` a subscriber may ask for (0 = unlimited).
    pub max_subscriber_rate: u32,
    /// Messages per second one authenticated user may publish, all its
    /// connections together (0 = unlimited; `auth.users[].publish_per_sec`
    /// overrides it). Publishes over it get ERROR RATE_LIMITED.
    pub publish_per_user: u32,
}

/// Timeouts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// Time a new connection has to send HELLO.
    pub hello_ms: u64,
    /// Idle time after which the server PINGs a client (0 = never).
    pub ping_interval_ms: u64,
    /// Longest silence from a client (since the last frame received)
    /// before it is disconnected with IDLE_TIMEOUT.
    pub ping_timeout_ms: u64,
    /// On shutdown, longest time spent flushing queues before exit.
    pub shutdown_drain_ms: u64,
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// `error`, `warn`, `info`, `debug`, `trace`, or a tracing filter.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:7411".parse().expect("literal address"),
            admin_listen: "127.0.0.1:7412".parse().expect("literal address"),
            admin_enabled: true,
            ws_listen: None,
            ws_allowed_origins: Vec::new(),
            plaintext_enabled: true,
            tls_listen: None,
            wss_listen: None,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            max_frame_bytes: spate_proto::DEFAULT_MAX_FRAME as u32,
            max_subscriptions_per_connection: 10_000,
            max_topics: 1_000_000,
            max_topic_len: 256,
            max_state_keys_per_topic: 100_000,
            max_connections_per_ip: 0,
            max_connections_per_user: 0,
        }
    }
}

impl Default for Queues {
    fn default() -> Self {
        Queues {
            default_policy: Policy::DropOldest,
            default_msgs: 10_000,
            default_bytes: 8 * 1024 * 1024,
            max_msgs: 1_000_000,
            max_bytes: 256 * 1024 * 1024,
            memory_budget_bytes: 1024 * 1024 * 1024,
            guaranteed_bytes: 64 * 1024,
            disconnect_grace_ms: 5_000,
            block_timeout_ms: 10_000,
            max_batch: 1024,
            max_linger_us: 100_000,
        }
    }
}

impl Default for History {
    fn default() -> Self {
        History {
            max_msgs: 128,
            max_bytes: 128 * 1024,
            max_age_secs: 3_600,
            overrides: Vec::new(),
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            hello_ms: 10_000,
            ping_interval_ms: 30_000,
            ping_timeout_ms: 60_000,
            shutdown_drain_ms: 5_000,
        }
    }
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

/// (De)serializes a [`Policy`] by its CLI name, e.g. `"drop-oldest"`.
mod policy_name {
    use serde::{Deserialize, Deserializer, Serializer};
    use spate_proto::Policy;

    pub fn serialize<S: Serializer>(p: &Policy, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(p.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Policy, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// TLS settings (h-tls): the server's certificate chain and key, and the
/// CA that client certificates must chain to (mutual TLS). Re-read on
/// SIGHUP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    /// PEM file with the server certificate chain, leaf first.
    pub cert: Option<std::path::PathBuf>,
    /// PEM file with the server's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<std::path::PathBuf>,
    /// PEM file with the CA certificate(s) client certificates must chain
    /// to; setting it turns on client certificates (mutual TLS).
    pub client_ca: Option<std::path::PathBuf>,
    /// With `client_ca`: whether a client must present a certificate.
    pub client_cert: ClientCertMode,
}

/// Whether a TLS client must present a certificate (with `tls.client_ca`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientCertMode {
    /// A client without a certificate is refused in the handshake.
    #[default]
    Required,
    /// A client may present one (then it must verify) or none.
    Optional,
}
