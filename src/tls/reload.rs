//! The TLS acceptors behind an [`ArcSwap`], so a new certificate takes
//! effect for the next handshake while connections already open keep
//! theirs. `spate serve`'s SIGHUP handler (`crate::cli::reload`) calls
//! [`TlsAcceptors::reload`] (bad new files: logged, the old ones stay).

use std::sync::Arc;

use arc_swap::ArcSwap;
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
