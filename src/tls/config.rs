//! Loads `[tls]` (certificate chain, key, client CA) into the rustls
//! server configurations of the TLS and `wss` listeners.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::ring;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::settings::{ClientCertMode, Tls};

/// ALPN protocol name the TLS listener offers (a client may offer it or
/// none; `wss` negotiates none, as browsers offer `http/1.1`).
pub const ALPN: &[u8] = b"spate/1";

/// Why the TLS files could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// `tls.cert` or `tls.key` is not set.
    #[error("tls.{0} is not set (needed by server.tls_listen / server.wss_listen)")]
    Missing(&'static str),
    /// A file could not be read.
    #[error("cannot read {field} {path}: {source}")]
    Read {
        /// Setting that names the file.
        field: &'static str,
        /// The file.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// A file holds no usable PEM item of the expected kind.
    #[error("{field} {path}: {reason}")]
    Pem {
        /// Setting that names the file.
        field: &'static str,
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the certificate, key or CA.
    #[error("{0}")]
    Rustls(String),
}

/// The server configurations built from one reading of the files: one
/// for the TLS listener (ALPN `spate/1`), one for `wss` (no ALPN).
#[derive(Debug, Clone)]
pub struct TlsConfigs {
    /// For `server.tls_listen`.
    pub tcp: Arc<ServerConfig>,
    /// For `server.wss_listen`.
    pub wss: Arc<ServerConfig>,
}

fn read(field: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        field,
        path: path.to_owned(),
        source,
    })
}

fn certs(field: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(field, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            field,
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            field,
            path: path.to_owned(),
            reason: "no CERTIFICATE in the file".into(),
        });
    }
    Ok(certs)
}

fn key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read("tls.key", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::Pem {
        field: "tls.key",
        path: path.to_owned(),
        reason: format!("no usable private key: {e}"),
    })
}

/// Reads the files `tls` names and builds both server configurations.
pub fn load_configs(tls: &Tls) -> Result<TlsConfigs, TlsError> {
    let cert_path = tls.cert.as_deref().ok_or(TlsError::Missing("cert"))?;
    let key_path = tls.key.as_deref().ok_or(TlsError::Missing("key"))?;
    let chain = certs("tls.cert", cert_path)?;
    let key = key(key_path)?;
    let provider = Arc::new(ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = match &tls.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in certs("tls.client_ca", ca)? {
                roots.add(c).map_err(|e| TlsError::Pem {
                    field: "tls.client_ca",
                    path: ca.clone(),
                    reason: e.to_string(),
                })?;
            }
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let v = match tls.client_cert {
                ClientCertMode::Required => v,
                ClientCertMode::Optional => v.allow_unauthenticated(),
            };
            let verifier = v.build().map_err(|e| TlsError::Rustls(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut tcp = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Rustls(format!("tls.cert / tls.key: {e}")))?;
    let wss = tcp.clone();
    tcp.alpn_protocols = vec![ALPN.to_vec()];
    Ok(TlsConfigs {
        tcp: Arc::new(tcp),
        wss: Arc::new(wss),
    })
}
