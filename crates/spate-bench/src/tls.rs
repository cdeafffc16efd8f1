//! TLS for `spate bench` (spate only, `--tls --ca FILE`): the rustls client
//! configuration, and the handshake on a connected socket. The bench then
//! speaks the same bytes inside TLS ([`super::conn::ConnStream::Tls`]).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::ring;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::error::BenchError;

/// How bench connections do TLS.
#[derive(Clone)]
pub struct BenchTls {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for BenchTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BenchTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl BenchTls {
    /// Trusts the CA certificates in `ca` and verifies the broker's
    /// certificate for `server_name`.
    pub fn new(ca: &Path, server_name: &str) -> Result<BenchTls, BenchError> {
        let bad = |e: String| BenchError::Refused(format!("TLS: {}: {e}", ca.display()));
        let pem = std::fs::read(ca).map_err(|e| bad(e.to_string()))?;
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&pem) {
            roots
                .add(c.map_err(|e| bad(e.to_string()))?)
                .map_err(|e| bad(e.to_string()))?;
        }
        let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let server_name = ServerName::try_from(server_name.to_owned())
            .map_err(|e| BenchError::Refused(format!("TLS server name: {e}")))?;
        Ok(BenchTls {
            config: Arc::new(config),
            server_name,
        })
    }

    /// The TLS handshake on `stream`.
    pub async fn connect(
        &self,
        stream: TcpStream,
        addr: SocketAddr,
    ) -> Result<TlsStream<TcpStream>, BenchError> {
        TlsConnector::from(self.config.clone())
            .connect(self.server_name.clone(), stream)
            .await
            .map_err(|e| BenchError::Refused(format!("TLS handshake with {addr}: {e}")))
    }
}
