//! `spate serve`'s SIGHUP (`systemctl reload spate`): re-read the config
//! file (with the same flags and environment as at start), validate it,
//! and put its users, permissions and limits in force without dropping
//! the connections that are still allowed ([`crate::auth::reload`]). A
//! config that fails to load or validate is logged and the old one kept.
//! Other settings (listeners, queues, timeouts) need a restart.
//!
//! [`reload`] is the one entry point: it also re-reads the TLS certificate
//! and key ([`crate::tls::reload`]) when a TLS listener is on.

use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};

use crate::broker::Broker;
use crate::config::{self, Config, ConfigFlags};
use crate::tls::reload::TlsAcceptors;

/// Reloads once: loads the config the way `spate serve` did and applies
/// what can change at run time: users, permissions and limits, then the
/// TLS certificate (if a TLS listener is on). Returns a description of
/// what went wrong; a part that failed leaves its old settings in force.
pub fn reload(
    flags: &ConfigFlags,
    broker: &Broker,
    tls: Option<&TlsAcceptors>,
) -> Result<(), String> {
    let cfg = config::load(flags).map_err(|e| super::config_cmd::describe(&e))?;
    let auth = crate::auth::reload::apply(&broker.auth, &cfg);
    if let Some(acc) = tls {
        match acc.reload(&cfg.tls) {
            Ok(()) => tracing::info!("SIGHUP: TLS certificate and key reloaded"),
            Err(e) => tracing::error!(
                error = %e,
                "SIGHUP: TLS reload failed; still serving the previous certificate"
            ),
        }
    }
    auth
}

/// Reloads on every SIGHUP, forever. Installs the handler before returning
/// the future, so a SIGHUP right after start is not the default
/// (terminating) action.
pub fn on_sighup(
    flags: ConfigFlags,
    broker: Arc<Broker>,
    tls: Option<Arc<TlsAcceptors>>,
) -> anyhow::Result<impl std::future::Future<Output = ()>> {
    let mut hup = signal(SignalKind::hangup())?;
    Ok(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the configuration");
            if let Err(e) = reload(&flags, &broker, tls.as_deref()) {
                tracing::error!(error = %e, "reload failed: keeping the configuration in force");
            }
        }
    })
}

/// Logs a loud warning when clients need no authentication but a client
/// listener is reachable from other machines.
pub fn warn_if_open(cfg: &Config, listeners: &[Option<std::net::SocketAddr>]) {
    if cfg.auth.required {
        return;
    }
    for addr in listeners.iter().flatten() {
        if !addr.ip().is_loopback() {
            tracing::warn!(
                listener = %addr,
                "AUTHENTICATION IS OFF on a listener that is not loopback: anyone who can reach \
                 {addr} may publish, subscribe and overwrite state. Set auth.required = true and \
                 add users (README, \"Securing spate\")"
            );
        }
    }
}
