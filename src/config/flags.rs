//! The command-line flags that override settings, each with its `SPATE_*`
//! environment variable. clap reads the flag first and falls back to the
//! variable, so a flag beats the environment; [`ConfigFlags::apply`] then
//! lays whatever was given over the file's values.
//!
//! | flag | environment | setting |
//! |---|---|---|
//! | `--config` | `SPATE_CONFIG` | (the file to read) |
//! | `--listen` | `SPATE_LISTEN` | `server.listen` |
//! | `--admin-listen` | `SPATE_ADMIN_LISTEN` | `server.admin_listen` |
//! | `--ws-listen` | `SPATE_WS_LISTEN` | `server.ws_listen` |
//! | `--no-admin` | `SPATE_NO_ADMIN` | `server.admin_enabled = false` |
//! | `--max-connections` | `SPATE_MAX_CONNECTIONS` | `limits.max_connections` |
//! | `--max-frame` | `SPATE_MAX_FRAME` | `limits.max_frame_bytes` |
//! | `--max-subscriptions` | `SPATE_MAX_SUBSCRIPTIONS` | `limits.max_subscriptions_per_connection` |
//! | `--memory-budget` | `SPATE_MEMORY_BUDGET` | `queues.memory_budget_bytes` |
//! | `--default-policy` | `SPATE_DEFAULT_POLICY` | `queues.default_policy` |
//! | `--default-queue-msgs` | `SPATE_DEFAULT_QUEUE_MSGS` | `queues.default_msgs` |
//! | `--default-queue-bytes` | `SPATE_DEFAULT_QUEUE_BYTES` | `queues.default_bytes` |
//! | `--max-queue-msgs` | `SPATE_MAX_QUEUE_MSGS` | `queues.max_msgs` |
//! | `--max-queue-bytes` | `SPATE_MAX_QUEUE_BYTES` | `queues.max_bytes` |
//! | `--history-msgs` | `SPATE_HISTORY_MSGS` | `history.max_msgs` |
//! | `--history-bytes` | `SPATE_HISTORY_BYTES` | `history.max_bytes` |
//! | `--history-age-secs` | `SPATE_HISTORY_AGE_SECS` | `history.max_age_secs` |
//! | `--publish-rate` | `SPATE_PUBLISH_RATE` | `rate_limits.publish_per_connection` |
//! | `--shutdown-drain-ms` | `SPATE_SHUTDOWN_DRAIN_MS` | `timeouts.shutdown_drain_ms` |
//! | `--log-level` | `SPATE_LOG_LEVEL`, then `RUST_LOG` | `log.level` |
//! | `--log-format` | `SPATE_LOG_FORMAT` | `log.format` |
//!
//! Byte sizes take `K`/`M`/`G` suffixes (powers of 1024, see
//! [`super::units`]).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use spate_proto::Policy;

use super::units::{parse_bytes, parse_bytes_u32};
use super::Config;

/// Flags shared by `spate serve` and `spate config show`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigFlags {
    /// Config file (TOML); without one, the built-in defaults apply.
    #[arg(long, short = 'c', env = "SPATE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Client protocol listener address.
    #[arg(long, env = "SPATE_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Admin HTTP listener address (/metrics, /healthz, /readyz, /v1/stats).
    #[arg(long, env = "SPATE_ADMIN_LISTEN", value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,

    /// WebSocket listener address (the same protocol over WebSocket; off
    /// unless given here or in the file).
    #[arg(long, env = "SPATE_WS_LISTEN", value_name = "ADDR")]
    pub ws_listen: Option<SocketAddr>,

    /// Do not start the admin HTTP listener.
    #[arg(long, env = "SPATE_NO_ADMIN", value_parser = BoolishValueParser::new())]
    pub no_admin: bool,

    /// Most concurrent client connections.
    #[arg(long, env = "SPATE_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<u32>,

    /// Largest frame a client may send (bytes; K/M/G suffixes allowed).
    #[arg(long, env = "SPATE_MAX_FRAME", value_name = "BYTES", value_parser = parse_bytes_u32)]
    pub max_frame: Option<u32>,

    /// Most subscriptions per connection.
    #[arg(long, env = "SPATE_MAX_SUBSCRIPTIONS", value_name = "N")]
    pub max_subscriptions: Option<u32>,

    /// Server-wide cap on queued plus retained bytes.
    #[arg(long, env = "SPATE_MEMORY_BUDGET", value_name = "BYTES", value_parser = parse_bytes)]
    pub memory_budget: Option<u64>,

    /// Backpressure policy of subscriptions that do not choose one:
    /// block, drop-oldest, drop-newest, conflate or disconnect.
    #[arg(long, env = "SPATE_DEFAULT_POLICY", value_name = "POLICY")]
    pub default_policy: Option<Policy>,

    /// Queue limit in messages when a subscriber does not ask.
    #[arg(long, env = "SPATE_DEFAULT_QUEUE_MSGS", value_name = "N")]
    pub default_queue_msgs: Option<u32>,

    /// Queue limit in bytes when a subscriber does not ask.
    #[arg(long, env = "SPATE_DEFAULT_QUEUE_BYTES", value_name = "BYTES", value_parser = parse_bytes)]
    pub default_queue_bytes: Option<u64>,

    /// Largest queue limit in messages a subscriber may ask for.
    #[arg(long, env = "SPATE_MAX_QUEUE_MSGS", value_name = "N")]
    pub max_queue_msgs: Option<u32>,

    /// Largest queue limit in bytes a subscriber may ask for.
    #[arg(long, env = "SPATE_MAX_QUEUE_BYTES", value_name = "BYTES", value_parser = parse_bytes)]
    pub max_queue_bytes: Option<u64>,

    /// Messages retained per topic for replay (0 disables history).
    #[arg(long, env = "SPATE_HISTORY_MSGS", value_name = "N")]
    pub history_msgs: Option<u32>,

    /// Bytes retained per topic for replay.
    #[arg(long, env = "SPATE_HISTORY_BYTES", value_name = "BYTES", value_parser = parse_bytes)]
    pub history_bytes: Option<u64>,

    /// Oldest retained message age in seconds (0 = no age limit).
    #[arg(long, env = "SPATE_HISTORY_AGE_SECS", value_name = "SECS")]
    pub history_age_secs: Option<u64>,

    /// Messages per second one connection may publish (0 = unlimited).
    #[arg(long, env = "SPATE_PUBLISH_RATE", value_name = "N")]
    pub publish_rate: Option<u32>,

    /// On shutdown, longest time spent flushing subscriber queues, ms.
    #[arg(long, env = "SPATE_SHUTDOWN_DRAIN_MS", value_name = "MS")]
    pub shutdown_drain_ms: Option<u64>,

    /// Log level or tracing filter (error, warn, info, debug, trace,
    /// or e.g. `spate=debug,info`); `RUST_LOG` is read when neither this
    /// flag nor SPATE_LOG_LEVEL is set.
    #[arg(long, env = "SPATE_LOG_LEVEL", value_name = "FILTER")]
    pub log_level: Option<String>,

    /// Log format: `text` (human, coloured on a terminal) or `json` (one
    /// object per line, for log shippers).
    #[arg(long, env = "SPATE_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,

    /// TLS listeners (`--tls-listen`, `--tls-cert`, ...: see
    /// [`super::tls_flags`]).
    #[command(flatten)]
    pub tls: super::tls_flags::TlsFlags,
}

impl ConfigFlags {
    /// Lays every given flag over `cfg` and returns the dotted paths of the
    /// settings it replaced (so validation can tell a bad flag from a bad
    /// line in the file).
    pub fn apply(&self, cfg: &mut Config) -> Vec<&'static str> {
        let mut set = Vec::new();
        macro_rules! over {
            ($flag:expr, $field:expr, $path:literal) => {
                if let Some(v) = $flag.clone() {
                    $field = v.into();
                    set.push($path);
                }
            };
        }
        over!(self.listen, cfg.server.listen, "server.listen");
        over!(
            self.admin_listen,
            cfg.server.admin_listen,
            "server.admin_listen"
        );
        if let Some(a) = self.ws_listen {
            cfg.server.ws_listen = Some(a);
            set.push("server.ws_listen");
        }
        if self.no_admin {
            cfg.server.admin_enabled = false;
            set.push("server.admin_enabled");
        }
        over!(
            self.max_connections,
            cfg.limits.max_connections,
            "limits.max_connections"
        );
        over!(
            self.max_frame,
            cfg.limits.max_frame_bytes,
            "limits.max_frame_bytes"
        );
        over!(
            self.max_subscriptions,
            cfg.limits.max_subscriptions_per_connection,
            "limits.max_subscriptions_per_connection"
        );
        over!(
            self.memory_budget,
            cfg.queues.memory_budget_bytes,
            "queues.memory_budget_bytes"
        );
        over!(
            self.default_policy,
            cfg.queues.default_policy,
            "queues.default_policy"
        );
        over!(
            self.default_queue_msgs,
            cfg.queues.default_msgs,
            "queues.default_msgs"
        );
        over!(
            self.default_queue_bytes,
            cfg.queues.default_bytes,
            "queues.default_bytes"
        );
        over!(self.max_queue_msgs, cfg.queues.max_msgs, "queues.max_msgs");
        over!(
            self.max_queue_bytes,
            cfg.queues.max_bytes,
            "queues.max_bytes"
        );
        over!(self.history_msgs, cfg.history.max_msgs, "history.max_msgs");
        over!(
            self.history_bytes,
            cfg.history.max_bytes,
            "history.max_bytes"
        );
        over!(
            self.history_age_secs,
            cfg.history.max_age_secs,
            "history.max_age_secs"
        );
        over!(
            self.publish_rate,
            cfg.rate_limits.publish_per_connection,
            "rate_limits.publish_per_connection"
        );
        over!(
            self.shutdown_drain_ms,
            cfg.timeouts.shutdown_drain_ms,
            "timeouts.shutdown_drain_ms"
        );
        over!(self.log_level, cfg.log.level, "log.level");
        over!(self.log_format, cfg.log.format, "log.format");
        self.tls.apply(cfg, &mut set);
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_flags_change_nothing() {
        let mut cfg = Config::default();
        assert!(ConfigFlags::default().apply(&mut cfg).is_empty());
        assert_eq!(cfg, Config::default());
    }

    #[test]
    fn given_flags_replace_their_settings_only() {
        let flags = ConfigFlags {
            listen: Some("0.0.0.0:9000".parse().unwrap()),
            default_policy: Some(Policy::Conflate),
            memory_budget: Some(1 << 20),
            no_admin: true,
            ..ConfigFlags::default()
        };
        let mut cfg = Config::default();
        let set = flags.apply(&mut cfg);
        assert_eq!(
            set,
            [
                "server.listen",
                "server.admin_enabled",
                "queues.memory_budget_bytes",
                "queues.default_policy"
            ]
        );
        assert_eq!(cfg.server.listen.port(), 9000);
        assert!(!cfg.server.admin_enabled);
        assert_eq!(cfg.queues.default_policy, Policy::Conflate);
        assert_eq!(cfg.queues.memory_budget_bytes, 1 << 20);
        assert_eq!(cfg.limits, Config::default().limits);
    }
}
