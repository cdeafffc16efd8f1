//! Certificates for the TLS tests, made with rcgen into a temporary
//! directory: two CAs, a server certificate (localhost, 127.0.0.1) and
//! client certificates signed by each; and a server with a TLS listener.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use spate::broker::Broker;
use spate::config::Config;
use spate::server::Server;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A CA able to sign certificates, with its certificate in a PEM file.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// The CA certificate (PEM).
    pub pem: PathBuf,
}

impl Ca {
    /// A new CA named `name`, its certificate written to `dir/name.pem`.
    pub fn new(dir: &Path, name: &str) -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap();
        let pem = dir.join(format!("{name}.pem"));
        std::fs::write(&pem, issuer.pem()).unwrap();
        Ca { issuer, pem }
    }

    /// A leaf certificate signed by this CA: `(cert PEM, key PEM)`.
    pub fn leaf(&self, cn: &str, sans: &[&str], client: bool) -> (String, String) {
        let mut p =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// [`Ca::leaf`] written to `dir/name.crt` and `dir/name.key`.
    pub fn leaf_files(
        &self,
        dir: &Path,
        name: &str,
        cn: &str,
        sans: &[&str],
        client: bool,
    ) -> (PathBuf, PathBuf) {
        let (c, k) = self.leaf(cn, sans, client);
        let (cp, kp) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&cp, c).unwrap();
        std::fs::write(&kp, k).unwrap();
        (cp, kp)
    }
}

/// Everything a TLS test needs on disk.
pub struct Pki {
    /// Holds the files.
    pub dir: tempfile::TempDir,
    /// The CA that signed the server's and alice's certificates.
    pub ca: Ca,
    /// Another CA, trusted by nobody.
    pub other_ca: Ca,
    /// Server certificate chain and key (names localhost and 127.0.0.1).
    pub server: (PathBuf, PathBuf),
    /// Client certificate of `alice`, signed by `ca`.
    pub alice: (PathBuf, PathBuf),
    /// Client certificate of `mallory`, signed by `other_ca`.
    pub mallory: (PathBuf, PathBuf),
}

/// Makes the certificates.
pub fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "ca");
    let other_ca = Ca::new(dir.path(), "other-ca");
    let server = ca.leaf_files(
        dir.path(),
        "server",
        "spate test server",
        &["localhost", "127.0.0.1"],
        false,
    );
    let alice = ca.leaf_files(dir.path(), "alice", "alice", &[], true);
    let mallory = other_ca.leaf_files(dir.path(), "mallory", "mallory", &[], true);
    Pki {
        dir,
        ca,
        other_ca,
        server,
        alice,
        mallory,
    }
}

/// A config with a plaintext listener and a TLS listener (ports 0), the
/// server certificate of `pki`, admin off.
pub fn tls_config(pki: &Pki) -> Config {
    let mut c = Config::default();
    c.server.listen = "127.0.0.1:0".parse().unwrap();
    c.server.admin_enabled = false;
    c.server.tls_listen = Some("127.0.0.1:0".parse().unwrap());
    c.tls.cert = Some(pki.server.0.clone());
    c.tls.key = Some(pki.server.1.clone());
    c
}

/// A server running in this process with TLS listeners.
pub struct TlsServer {
    /// Plaintext listener, if on.
    pub plain: Option<SocketAddr>,
    /// TLS listener, if on.
    pub tls: Option<SocketAddr>,
    /// wss listener, if on.
    pub wss: Option<SocketAddr>,
    /// The broker.
    pub broker: Arc<Broker>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

/// Starts a server with `config`.
pub async fn start_tls(config: Config) -> TlsServer {
    let plain_on = config.server.plaintext_enabled;
    let server = Server::bind(Arc::new(config)).await.expect("bind");
    let (tx, rx) = oneshot::channel::<()>();
    let s = TlsServer {
        plain: plain_on.then(|| server.local_addr()),
        tls: server.tls_local_addr(),
        wss: server.wss_local_addr(),
        broker: server.broker(),
        stop: Some(tx),
        task: tokio::spawn(async move {
            server
                .run(async {
                    let _ = rx.await;
                })
                .await
                .expect("server run");
        }),
    };
    s
}

impl TlsServer {
    /// Graceful shutdown.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(30), &mut self.task).await;
    }
}

/// Client options trusting `ca`, without reconnects.
pub fn client_opts(ca: &Path, cert: Option<&(PathBuf, PathBuf)>) -> spate_client::ClientOptions {
    let tls = spate_client::TlsOptions::from_files(
        Some(ca),
        cert.map(|(c, k)| (c.as_path(), k.as_path())),
    )
    .expect("client TLS options");
    spate_client::ClientOptions::default()
        .reconnect(None)
        .tls(tls)
}
