//! The TLS flags of `spate serve` (h-tls), each with its `SPATE_*`
//! variable, flattened into [`super::ConfigFlags`]:
//!
//! | flag | environment | setting |
//! |---|---|---|
//! | `--tls-listen` | `SPATE_TLS_LISTEN` | `server.tls_listen` |
//! | `--wss-listen` | `SPATE_WSS_LISTEN` | `server.wss_listen` |
//! | `--no-plaintext` | `SPATE_NO_PLAINTEXT` | `server.plaintext_enabled = false` |
//! | `--tls-cert` | `SPATE_TLS_CERT` | `tls.cert` |
//! | `--tls-key` | `SPATE_TLS_KEY` | `tls.key` |
//! | `--tls-client-ca` | `SPATE_TLS_CLIENT_CA` | `tls.client_ca` |

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::BoolishValueParser;

use super::Config;

/// TLS listener flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsFlags {
    /// TLS listener address (the same protocol inside TLS; needs
    /// --tls-cert and --tls-key or [tls] in the file).
    #[arg(long, env = "SPATE_TLS_LISTEN", value_name = "ADDR")]
    pub tls_listen: Option<SocketAddr>,

    /// WebSocket-over-TLS (wss) listener address.
    #[arg(long, env = "SPATE_WSS_LISTEN", value_name = "ADDR")]
    pub wss_listen: Option<SocketAddr>,

    /// Do not serve plaintext TCP on --listen (TLS only).
    #[arg(long, env = "SPATE_NO_PLAINTEXT", value_parser = BoolishValueParser::new())]
    pub no_plaintext: bool,

    /// PEM certificate chain of the TLS listeners.
    #[arg(long, env = "SPATE_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of the TLS listeners.
    #[arg(long, env = "SPATE_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// PEM CA that client certificates must chain to (turns on mutual TLS).
    #[arg(long, env = "SPATE_TLS_CLIENT_CA", value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,
}

impl TlsFlags {
    /// Lays the given flags over `cfg`; appends the settings replaced.
    pub fn apply(&self, cfg: &mut Config, set: &mut Vec<&'static str>) {
        if let Some(a) = self.tls_listen {
            cfg.server.tls_listen = Some(a);
            set.push("server.tls_listen");
        }
        if let Some(a) = self.wss_listen {
            cfg.server.wss_listen = Some(a);
            set.push("server.wss_listen");
        }
        if self.no_plaintext {
            cfg.server.plaintext_enabled = false;
            set.push("server.plaintext_enabled");
        }
        if let Some(p) = &self.tls_cert {
            cfg.tls.cert = Some(p.clone());
            set.push("tls.cert");
        }
        if let Some(p) = &self.tls_key {
            cfg.tls.key = Some(p.clone());
            set.push("tls.key");
        }
        if let Some(p) = &self.tls_client_ca {
            cfg.tls.client_ca = Some(p.clone());
            set.push("tls.client_ca");
        }
    }
}
