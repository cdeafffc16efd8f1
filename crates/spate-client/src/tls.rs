//! TLS connections (feature `tls`): [`TlsOptions`] holds the rustls client
//! configuration (trusted CAs, an optional client certificate for mutual
//! TLS) and the name to verify; `connect` wraps a TCP stream in TLS.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::ring;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::error::Error;

/// ALPN protocol the client offers (protocol.md §2.2).
pub const ALPN: &[u8] = b"spate/1";

/// How to talk TLS to the server.
#[derive(Clone)]
pub struct TlsOptions {
    config: Arc<ClientConfig>,
    server_name: Option<String>,
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem = std::fs::read(path)
        .map_err(|e| Error::Tls(format!("cannot read {}: {e}", path.display())))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Error::Tls(format!(
            "{}: no CERTIFICATE in the file",
            path.display()
        )));
    }
    Ok(certs)
}

impl TlsOptions {
    /// Trusts the CA certificates in the PEM file `ca` (or, without one,
    /// the system's trusted CAs), and presents the client certificate
    /// chain and key in `cert_key` (PEM files) if given.
    pub fn from_files(
        ca: Option<&Path>,
        cert_key: Option<(&Path, &Path)>,
    ) -> Result<TlsOptions, Error> {
        let mut roots = RootCertStore::empty();
        match ca {
            Some(ca) => {
                for c in read_certs(ca)? {
                    roots
                        .add(c)
                        .map_err(|e| Error::Tls(format!("{}: {e}", ca.display())))?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
                if roots.is_empty() {
                    return Err(Error::Tls(
                        "no trusted CA certificates found on this system: give the CA with --ca FILE"
                            .into(),
                    ));
                }
            }
        }
        let builder = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_root_certificates(roots);
        let mut config = match cert_key {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = read_certs(cert)?;
                let pem = std::fs::read(key)
                    .map_err(|e| Error::Tls(format!("cannot read {}: {e}", key.display())))?;
                let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
                    Error::Tls(format!("{}: no usable private key: {e}", key.display()))
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| Error::Tls(format!("client certificate: {e}")))?
            }
        };
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(TlsOptions::from_config(Arc::new(config)))
    }

    /// Uses a rustls configuration built by the application.
    pub fn from_config(config: Arc<ClientConfig>) -> TlsOptions {
        TlsOptions {
            config,
            server_name: None,
        }
    }

    /// Verifies the server's certificate for `name` instead of the host
    /// part of the address dialled.
    pub fn server_name(mut self, name: impl Into<String>) -> TlsOptions {
        self.server_name = Some(name.into());
        self
    }
}

/// The host part of `addr` (`host:port`, `[v6]:port`).
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// The TLS handshake over `stream`, verifying the server's certificate.
pub(crate) async fn connect(
    stream: TcpStream,
    addr: &str,
    tls: &TlsOptions,
) -> Result<TlsStream<TcpStream>, Error> {
    let name = tls.server_name.as_deref().unwrap_or_else(|| host_of(addr));
    let server_name = ServerName::try_from(name.to_owned())
        .map_err(|e| Error::Tls(format!("{name:?} is not a valid server name: {e}")))?;
    TlsConnector::from(tls.config.clone())
        .connect(server_name, stream)
        .await
        .map_err(|e| {
            let hint = if e.to_string().contains("InvalidContentType")
                || e.to_string().contains("corrupt message")
            {
                " (is this the plaintext port? TLS is served on the server's tls_listen port)"
            } else if e.to_string().contains("certificate") {
                " (is --ca the CA that signed the server's certificate, and --server-name its name?)"
            } else {
                ""
            };
            Error::Tls(format!("handshake with {addr} failed: {e}{hint}"))
        })
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn host_is_the_address_without_its_port() {
        assert_eq!(host_of("localhost:7443"), "localhost");
        assert_eq!(host_of("[::1]:7443"), "::1");
        assert_eq!(host_of("10.0.0.1:1"), "10.0.0.1");
    }
}
