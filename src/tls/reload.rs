//! The TLS acceptors behind an [`ArcSwap`], so a new certificate takes
//! effect for the next handshake while connections already open keep
//! theirs; [`on_sighup`] re-reads the files on SIGHUP (bad new files: logged,
//! the old ones stay).

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::signal::unix::{signal, SignalKind};
use tokio_rustls::TlsAcceptor;

use super::config::{load_configs, TlsConfigs, TlsError};
use crate::config::settings::Tls;

/// The current TLS server configurations, swapped whole on reload.
#[derive(Debug)]
pub struct TlsAcceptors {
    current: ArcSwap<TlsConfigs>,
}

impl TlsAcceptors {
    /// Loads the files `tls` names.
    pub fn load(tls: &Tls) -> Result<TlsAcceptors, TlsError> {
        Ok(TlsAcceptors {
            current: ArcSwap::from_pointee(load_configs(tls)?),
        })
    }

    /// Acceptor for the TLS listener, with the current certificate.
    pub fn tcp(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.load().tcp.clone())
    }

    /// Acceptor for the `wss` listener, with the current certificate.
    pub fn wss(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.load().wss.clone())
    }

    /// Re-reads the files; on error the current configuration stays.
    pub fn reload(&self, tls: &Tls) -> Result<(), TlsError> {
        self.current.store(Arc::new(load_configs(tls)?));
        Ok(())
    }
}

/// Until the process ends: on each SIGHUP, takes the `[tls]` settings from
/// `settings` (which re-reads the configuration the way `spate serve` did)
/// and reloads `acceptors` from them. Errors are logged; the previous
/// certificate stays in use.
pub async fn on_sighup<F>(acceptors: Arc<TlsAcceptors>, settings: F)
where
    F: Fn() -> Result<Tls, String> + Send + 'static,
{
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot install the SIGHUP handler: TLS certificates will not be reloaded");
            return;
        }
    };
    while hup.recv().await.is_some() {
        let result = settings().and_then(|tls| acceptors.reload(&tls).map_err(|e| e.to_string()));
        match result {
            Ok(()) => tracing::info!("SIGHUP: TLS certificate and key reloaded"),
            Err(e) => tracing::error!(
                error = %e,
                "SIGHUP: TLS reload failed; still serving the previous certificate"
            ),
        }
    }
}
