//! The network side: [`Server`] binds the client listeners (TCP, and
//! WebSocket if configured) and accepts connections (bounded by one
//! semaphore); each connection runs a reader ([`connection`]) and a writer
//! ([`crate::conn::writer`]) task around its [`Outbox`].
//! On shutdown: stop accepting, GOAWAY to every client, drain until the
//! deadline, then close what is left.

pub mod auth_events;
pub mod connection;
pub mod nofile;
pub mod reader;
pub mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use spate_proto::{ErrorCode, Frame};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{watch, Semaphore};
use tokio_util::task::TaskTracker;

pub use crate::conn::Outbox;

use crate::broker::Broker;
use crate::config::Config;

/// Once the drain deadline has passed, how long a connection still gets to
/// write the end of the frame in flight and ERROR `SHUTTING_DOWN` before it
/// is closed. Shutdown takes at most the drain time plus twice this
/// (protocol.md §5.4).
pub const STOP_GRACE: Duration = Duration::from_millis(500);

/// Lifecycle stage broadcast to every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Normal operation.
    Running,
    /// GOAWAY sent; flushing queues.
    Draining,
    /// Drain deadline passed; close now.
    Stop,
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The client listener could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// OS error.
        source: std::io::Error,
    },
    /// The `[auth]` section could not be put in force (a key file).
    #[error("authentication: {0}")]
    Auth(String),
    /// The TLS certificate, key or client CA could not be loaded.
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// h-storage: the storage directory could not be recovered.
    #[error("storage: {0}")]
    Storage(#[from] crate::storage::StorageError),
    /// The configured engine could not be started.
    #[error(transparent)]
    Engine(#[from] crate::engine::redis::EngineError),
}

/// A bound, not yet running, broker server.
pub struct Server {
    listener: Option<TcpListener>,
    ws_listener: Option<TcpListener>,
    broker: Arc<Broker>,
    tls: TlsListeners,
}

/// The TLS and `wss` listeners (h-tls), with the acceptors they share.
#[derive(Default)]
struct TlsListeners {
    acceptors: Option<Arc<crate::tls::TlsAcceptors>>,
    tls: Option<TcpListener>,
    wss: Option<TcpListener>,
}

impl TlsListeners {
    /// Binds `server.tls_listen` and `server.wss_listen` if set, with the
    /// `[tls]` files loaded.
    fn bind(config: &Config) -> Result<TlsListeners, ServerError> {
        let s = &config.server;
        if s.tls_listen.is_none() && s.wss_listen.is_none() {
            return Ok(TlsListeners::default());
        }
        let acceptors = Arc::new(crate::tls::TlsAcceptors::load(&config.tls)?);
        let bind = |a: Option<SocketAddr>| {
            a.map(|addr| listen(addr).map_err(|source| ServerError::Bind { addr, source }))
                .transpose()
        };
        Ok(TlsListeners {
            acceptors: Some(acceptors),
            tls: bind(s.tls_listen)?,
            wss: bind(s.wss_listen)?,
        })
    }
}

impl Server {
    /// Binds the client listener from `config.server.listen`.
    pub async fn bind(config: Arc<Config>) -> Result<Server, ServerError> {
        let addr = config.server.listen;
        let listener = match config.server.plaintext_enabled {
            true => Some(listen(addr).map_err(|source| ServerError::Bind { addr, source })?),
            false => None,
        };
        let tls = TlsListeners::bind(&config)?;
        let ws_listener = match config.server.ws_listen {
            Some(addr) => Some(listen(addr).map_err(|source| ServerError::Bind { addr, source })?),
            None => None,
        };
        let table = crate::auth::AuthTable::from_config(&config).map_err(ServerError::Auth)?;
        let broker = Arc::new(Broker::open(config)?);
        broker.auth.replace(table);
        crate::engine::attach(&broker)?;
        Ok(Server {
            listener,
            ws_listener,
            broker,
            tls,
        })
    }

    /// The address actually bound (useful with port 0): the plaintext
    /// listener's, or the TLS listener's when plaintext is off.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .as_ref()
            .or(self.tls.tls.as_ref())
            .or(self.ws_listener.as_ref())
            .or(self.tls.wss.as_ref())
            .and_then(|l| l.local_addr().ok())
            .unwrap_or(self.broker.config.server.listen)
    }

    /// The address the TLS listener actually bound, if it is on.
    pub fn tls_local_addr(&self) -> Option<SocketAddr> {
        self.tls.tls.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The address the `wss` listener actually bound, if it is on.
    pub fn wss_local_addr(&self) -> Option<SocketAddr> {
        self.tls.wss.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The TLS acceptors (to reload on SIGHUP), if a TLS listener is on.
    pub fn tls_acceptors(&self) -> Option<Arc<crate::tls::TlsAcceptors>> {
        self.tls.acceptors.clone()
    }

    /// The address the WebSocket listener actually bound, if it is on.
    pub fn ws_local_addr(&self) -> Option<SocketAddr> {
        self.ws_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The shared broker, for the admin listener and tests.
    pub fn broker(&self) -> Arc<Broker> {
        self.broker.clone()
    }

    /// Serves until `shutdown` resolves, then drains gracefully: GOAWAY to
    /// every client, queues flushed for up to `timeouts.shutdown_drain_ms`,
    /// then the remaining connections are closed.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let Server {
            listener,
            ws_listener,
            broker,
            tls,
        } = self;
        let TlsListeners {
            acceptors,
            tls: tls_listener,
            wss: wss_listener,
        } = tls;
        let cfg = broker.config.clone();
        let (stage_tx, stage_rx) = watch::channel(Stage::Running);
        let permits = Arc::new(Semaphore::new(cfg.limits.max_connections as usize));
        let tracker = TaskTracker::new();
        tokio::spawn(broker.clone().run_sweeper());
        tokio::spawn(broker.clone().run_compactor());
        let plain_addr = listener.as_ref().and_then(|l| l.local_addr().ok());
        tracing::info!(addr = %plain_addr.map(|a| a.to_string()).unwrap_or_else(|| "off".into()), "accepting clients");
        tokio::pin!(shutdown);
        let mut backoff = Duration::from_millis(5);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = accept_opt(ws_listener.as_ref()) => match accepted {
                    Ok((sock, peer)) => {
                        broker.counters.connections_accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let permit = permits.clone().try_acquire_owned().ok();
                        if permit.is_none() {
                            crate::log_limited!(warn, "conn.max", %peer, max = cfg.limits.max_connections, "WebSocket connection refused: at max_connections");
                        }
                        tracker.spawn(ws::handle(sock, peer, broker.clone(), stage_rx.clone(), permit));
                    }
                    Err(e) => {
                        crate::log_limited!(warn, "accept", error = %e, "WebSocket accept failed");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                    }
                },
                // Unconstrained: tokio's cooperative budget would make this
                // task yield after 128 accepts and queue behind the handshakes
                // it just spawned, while the kernel's accept queue fills up and
                // drops SYNs. Accepting is cheap; taking the whole queue at
                // once keeps it empty.
                accepted = accept_opt(tls_listener.as_ref()) => match accepted {
                    Ok((sock, peer)) => {
                        broker.counters.connections_accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let permit = permits.clone().try_acquire_owned().ok();
                        let Some(acceptor) = acceptors.as_ref().map(|a| a.tcp()) else { continue };
                        tracker.spawn(crate::tls::serve::tls_conn(acceptor, sock, peer, broker.clone(), stage_rx.clone(), permit));
                    }
                    Err(e) => {
                        crate::log_limited!(warn, "accept", error = %e, "TLS accept failed");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                    }
                },
                accepted = accept_opt(wss_listener.as_ref()) => match accepted {
                    Ok((sock, peer)) => {
                        broker.counters.connections_accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let permit = permits.clone().try_acquire_owned().ok();
                        let Some(acceptor) = acceptors.as_ref().map(|a| a.wss()) else { continue };
                        tracker.spawn(crate::tls::serve::wss_conn(acceptor, sock, peer, broker.clone(), stage_rx.clone(), permit));
                    }
                    Err(e) => {
                        crate::log_limited!(warn, "accept", error = %e, "wss accept failed");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                    }
                },
                accepted = tokio::task::unconstrained(accept_opt(listener.as_ref())) => match accepted {
                    Ok((sock, peer)) => {
                        backoff = Duration::from_millis(5);
                        broker.counters.connections_accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        match permits.clone().try_acquire_owned() {
                            Ok(permit) => {
                                let (b, st) = (broker.clone(), stage_rx.clone());
                                tracker.spawn(async move {
                                    connection::handle(sock, peer, b, st).await;
                                    drop(permit);
                                });
                            }
                            Err(_) => {
                                crate::log_limited!(warn, "conn.max", %peer, max = cfg.limits.max_connections, "connection refused: at max_connections");
                                tracker.spawn(refuse_busy(sock, cfg.limits.max_connections));
                            }
                        }
                    }
                    Err(e) => {
                        // Usually EMFILE/ENFILE: back off instead of spinning.
                        crate::log_limited!(warn, "accept", error = %e, "accept failed");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                    }
                },
            }
        }
        drop(listener);
        drop(ws_listener);
        drop(tls_listener);
        drop(wss_listener);
        broker.stop_accepting();
        let drain = Duration::from_millis(cfg.timeouts.shutdown_drain_ms);
        tracing::info!(
            connections = broker.connection_count(),
            drain_ms = drain.as_millis() as u64,
            "shutting down: draining"
        );
        let _ = stage_tx.send(Stage::Draining);
        tracker.close();
        if tokio::time::timeout(drain, tracker.wait()).await.is_err() {
            tracing::warn!(
                connections = broker.connection_count(),
                "drain deadline passed: closing remaining connections"
            );
            let _ = stage_tx.send(Stage::Stop);
            // Every connection closes within STOP_GRACE of Stop; the rest
            // of the margin is for the tasks to be scheduled.
            let _ = tokio::time::timeout(STOP_GRACE * 2, tracker.wait()).await;
        }
        broker.close_storage();
        tracing::info!("shutdown complete");
        Ok(())
    }
}

/// Accepts on `l`, or never resolves if there is no such listener.
async fn accept_opt(
    l: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match l {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Accept-queue length asked of the kernel, which caps it at
/// `net.core.somaxconn` (4,096 on current kernels). `TcpListener::bind`
/// asks for 1,024: after a restart every client reconnects at once, the
/// queue overflowed, and the kernel dropped SYNs that clients then resent
/// only after 1 s.
pub const LISTEN_BACKLOG: u32 = 65_535;

/// Binds `addr` (with `SO_REUSEADDR`, as `TcpListener::bind` does, so a
/// restart does not wait for old connections in TIME_WAIT) and listens
/// with [`LISTEN_BACKLOG`].
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let sock = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    sock.set_reuseaddr(true)?;
    sock.bind(addr)?;
    sock.listen(LISTEN_BACKLOG)
}

async fn refuse_busy(mut sock: tokio::net::TcpStream, max: u32) {
    let f = Frame::error(
        ErrorCode::TooManyConnections,
        0,
        format!("server is at its limit of {max} connections"),
    )
    .to_bytes();
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = sock.write_all(&f).await;
        let _ = sock.shutdown().await;
    })
    .await;
}
