//! `spate serve`: load the configuration (file, `SPATE_*`, flags), set up
//! logging, bind the client and admin listeners, tell systemd we are ready,
//! and run until SIGTERM or SIGINT. SIGHUP reloads users, permissions and
//! limits (`super::reload`). The first signal starts a graceful
//! shutdown (stop accepting, GOAWAY to every client, drain queues for up to
//! `timeouts.shutdown_drain_ms`) and the process exits 0 when it is done;
//! a second signal exits at once with 128 + the signal number.
//!
//! SIGINT is treated exactly like SIGTERM: Ctrl-C in a terminal and
//! `systemctl stop` (SIGTERM) both mean "drain and go".

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::watch;

use crate::admin::{self, systemd, Exporter, StatsSource};
use crate::config::{self, Config, ConfigFlags};
use crate::server::Server;

/// Grace past the drain deadline before the process gives up on a clean
/// exit (the server itself closes what is left 2 s after the deadline).
const EXIT_GRACE: Duration = Duration::from_secs(10);

/// Flags of `spate serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Settings; each flag also reads the SPATE_* variable shown.
    #[command(flatten)]
    pub config: Box<ConfigFlags>,
}

/// Runs the broker until it has shut down.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let cfg = config::load(&args.config)
        .map_err(|e| anyhow::anyhow!("{}", super::config_cmd::describe(&e)))?;
    crate::logging::init(&cfg.log.level, &cfg.log.format)?;
    raise_nofile(cfg.limits.max_connections);
    if let Some(start_purge) = ALLOCATOR_PURGE.get() {
        start_purge();
    }
    let mut b = tokio::runtime::Builder::new_multi_thread();
    // A task woken from a worker goes to that worker's LIFO slot, which no
    // other worker may steal: a publisher's reader then runs the writers it
    // woke on its own core while the other idles (16% idle at 1 KiB 1×1).
    // Without the slot the other worker takes them. Measured (two servers,
    // alternated, medians): fanout 1 KiB 1×1 706 k → 801 k msgs/s, 16 B
    // 4×4 6.90 M → 7.68 M, other cases −3…+4% (noise), latency unchanged.
    #[cfg(tokio_unstable)]
    b.disable_lifo_slot();
    #[cfg(not(tokio_unstable))]
    tracing::warn!(
        "built without --cfg tokio_unstable (RUSTFLAGS replaces .cargo/config.toml's flags): \
         tokio's LIFO slot stays on, fan-out to few subscribers is slower"
    );
    let rt = b
        .enable_all()
        .thread_name("spate")
        .build()
        .context("starting the async runtime")?;
    let code = rt.block_on(serve(cfg, *args.config))?;
    // Connections still closing after a drain deadline must not hold the
    // exit up.
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(code)
}

/// Set by the binary that chose the global allocator: a function that
/// starts returning freed memory to the OS in the background. A broker
/// that goes quiet after a flood of connections would otherwise keep it
/// all (with mimalloc, 10,000 closed connections left 430 MiB resident
/// indefinitely). It lives in `main.rs` because that is the one place
/// allowed the allocator's FFI call; the library has no `unsafe`.
pub static ALLOCATOR_PURGE: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Every client is a file descriptor: raise the soft open-file limit to
/// the hard one (see `server::nofile`), and say so if even that is below
/// `limits.max_connections`.
fn raise_nofile(max_connections: u32) {
    match crate::server::nofile::raise_to_hard() {
        Ok(l) => {
            // Listeners, admin connections, files: a little room on top.
            let need = u64::from(max_connections) + 64;
            if l.now < need {
                tracing::warn!(
                    limit = l.now,
                    max_connections,
                    "the open-file limit (RLIMIT_NOFILE, hard) is below limits.max_connections: raise LimitNOFILE / ulimit -Hn"
                );
            } else if l.now != l.before {
                tracing::debug!(from = l.before, to = l.now, "raised the open-file limit");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
}

async fn serve(cfg: Config, flags: ConfigFlags) -> anyhow::Result<ExitCode> {
    let file = flags.config.clone();
    // Take over SIGTERM/SIGINT before anything else, so a signal during
    // start-up is a clean shutdown rather than the default abrupt exit.
    let signals = Signals::new()?;
    let cfg = Arc::new(cfg);
    let global_metrics = admin::install_global();
    // Fold facade histogram samples on a timer, with or without the admin
    // listener and whether or not anybody scrapes.
    if let Some(handle) = global_metrics.clone() {
        tokio::spawn(admin::metrics::run_upkeep(handle));
    }
    let server = Server::bind(cfg.clone()).await.map_err(|e| match &e {
        crate::server::ServerError::Bind { addr, source }
            if source.kind() == std::io::ErrorKind::AddrInUse =>
        {
            anyhow::anyhow!(
                "cannot listen on {addr} (server.listen): {source}\n\
                 hint: another process (another broker?) holds this port; choose another \
                 with --listen, and another admin port with --admin-listen (or --no-admin)"
            )
        }
        _ => anyhow::Error::new(e),
    })?;
    let off =
        |a: Option<std::net::SocketAddr>| a.map_or_else(|| "off".to_owned(), |a| a.to_string());
    let (server_tls_text, server_wss_text) =
        (off(server.tls_local_addr()), off(server.wss_local_addr()));
    let listen = server.local_addr();
    let ws_addr = server.ws_local_addr();
    let broker = server.broker();
    let admin_listener = match cfg.server.admin_enabled {
        true => Some(
            TcpListener::bind(cfg.server.admin_listen)
                .await
                .map_err(|e| {
                    let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                        format!(
                            "\nhint: another process (another broker?) holds the admin port; \
                             choose another with --admin-listen (e.g. --admin-listen 127.0.0.1:{}) \
                             or run without the admin listener with --no-admin",
                            cfg.server.admin_listen.port().wrapping_add(10)
                        )
                    } else {
                        String::new()
                    };
                    anyhow::anyhow!(
                        "cannot listen on {} (server.admin_listen, the admin HTTP listener): {e}{hint}",
                        cfg.server.admin_listen
                    )
                })?,
        ),
        false => None,
    };
    let admin_addr = admin_listener
        .as_ref()
        .map(|l| l.local_addr())
        .transpose()?;

    let (stop_tx, stop_rx) = watch::channel(false);
    // The admin listener outlives the drain, so /readyz reports 503 and
    // /metrics stays scrapable while clients are being flushed.
    let (admin_stop_tx, admin_stop_rx) = watch::channel(false);
    let admin_task = admin_listener.map(|l| {
        let source: Arc<dyn StatsSource> = broker.clone();
        let stop = wait_for(admin_stop_rx);
        tokio::spawn(admin::serve(l, source, Exporter::new(global_metrics), stop))
    });
    super::reload::warn_if_open(
        &cfg,
        &[
            Some(listen),
            ws_addr,
            server.tls_local_addr(),
            server.wss_local_addr(),
        ],
    );
    // SIGHUP: users, permissions, limits and the TLS certificate.
    let tls_acceptors = server.tls_acceptors();
    tokio::spawn(super::reload::on_sighup(
        flags,
        broker.clone(),
        tls_acceptors,
    )?);
    let drain = Duration::from_millis(cfg.timeouts.shutdown_drain_ms);
    tokio::spawn(signals.handle(stop_tx, drain));

    let admin_text = admin_addr.map_or_else(|| "off".to_owned(), |a| a.to_string());
    let ws_text = ws_addr.map_or_else(|| "off".to_owned(), |a| a.to_string());
    tracing::info!(
        listen = %listen,
        admin = %admin_text,
        ws = %ws_text,
        tls = %server_tls_text,
        wss = %server_wss_text,
        config = %file.as_ref().map_or_else(|| "(defaults)".to_owned(), |p| p.display().to_string()),
        version = env!("CARGO_PKG_VERSION"),
        "spate ready"
    );
    systemd::ready(&format!(
        "serving clients on {listen}, admin on {admin_text}"
    ));
    // Pings start after READY=1: systemd counts the watchdog from there.
    if let Some(every) = systemd::watchdog_interval(|k| std::env::var(k).ok()) {
        tracing::info!(
            interval_ms = every.as_millis() as u64,
            "systemd watchdog enabled"
        );
        tokio::spawn(systemd::watchdog(every));
    }

    server.run(wait_for(stop_rx)).await?;
    let _ = admin_stop_tx.send(true);

    if let Some(task) = admin_task {
        match tokio::time::timeout(Duration::from_secs(2), task).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "admin listener failed"),
            Ok(Err(e)) => tracing::warn!(error = %e, "admin listener task failed"),
            Ok(Ok(Ok(()))) | Err(_) => {}
        }
    }
    tracing::info!("spate stopped");
    Ok(ExitCode::SUCCESS)
}

/// Resolves once `rx` reads `true` (or its sender is gone).
async fn wait_for(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// The two signals that mean "shut down".
struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        })
    }

    /// Which signal arrived next, with its number.
    async fn next(&mut self) -> (&'static str, i32) {
        tokio::select! {
            _ = self.term.recv() => ("SIGTERM", 15),
            _ = self.int.recv() => ("SIGINT", 2),
        }
    }

    /// First signal: start the graceful shutdown. Second signal, or the
    /// drain running far past its deadline: exit at once.
    async fn handle(mut self, stop: watch::Sender<bool>, drain: Duration) {
        let (name, _) = self.next().await;
        tracing::info!(
            signal = name,
            drain_ms = drain.as_millis() as u64,
            "shutting down gracefully; send the signal again to exit at once"
        );
        systemd::stopping(&format!("{name}: draining clients"));
        let _ = stop.send(true);
        tokio::select! {
            (name, num) = self.next() => {
                tracing::warn!(signal = name, "second signal: exiting without draining");
                std::process::exit(128 + num);
            }
            _ = tokio::time::sleep(drain + EXIT_GRACE) => {
                tracing::error!("shutdown did not finish {EXIT_GRACE:?} after the drain deadline: exiting");
                std::process::exit(1);
            }
        }
    }
}
