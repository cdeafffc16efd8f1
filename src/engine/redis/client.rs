//! The command connection: one multiplexed, pipelining connection that
//! reconnects by itself (redis-rs `ConnectionManager`), and a deadline on
//! every command so a Redis that does not answer becomes
//! ENGINE_UNAVAILABLE, never a hung client.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use spate_proto::ErrorCode;

use crate::broker::BrokerError;
use crate::config::engine::EngineConfig;

/// Why the engine could not be started.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The URL or settings were refused by the client.
    #[error("redis engine: {0}")]
    Client(#[from] redis::RedisError),
}

/// Commands to Redis with a deadline.
#[derive(Clone)]
pub struct Client {
    /// The shared connection (cheap to clone).
    pub conn: ConnectionManager,
    /// Deadline of one command.
    pub timeout: Duration,
    /// Opens extra connections (the pub/sub one).
    pub client: redis::Client,
    /// Deadline of one connection attempt.
    pub connect_timeout: Duration,
}

impl Client {
    /// A lazily connecting client: a node starts without Redis and serves
    /// engine requests once Redis is reachable.
    pub fn new(cfg: &EngineConfig) -> Result<Client, EngineError> {
        let client = redis::Client::open(cfg.url.as_str())?;
        let timeout = Duration::from_millis(cfg.command_timeout_ms);
        let connect_timeout = Duration::from_millis(cfg.connect_timeout_ms);
        let mc = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), mc)?;
        Ok(Client {
            conn,
            timeout,
            client,
            connect_timeout,
        })
    }

    /// Runs `f` with the command deadline; a Redis error or the deadline
    /// becomes ENGINE_UNAVAILABLE.
    pub async fn run<T, F>(&self, what: &str, f: F) -> Result<T, BrokerError>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, what, "redis command failed");
                Err(unavailable(format!(
                    "engine (Redis) failed during {what}: {e}"
                )))
            }
            Err(_) => Err(unavailable(format!(
                "engine (Redis) did not answer {what} within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }
}

/// ENGINE_UNAVAILABLE with a reason.
pub fn unavailable(msg: String) -> BrokerError {
    BrokerError::Refused(ErrorCode::EngineUnavailable, msg)
}
