//! TLS flags of the client subcommands (`pub`, `sub`, `state`, `ping`,
//! `info`), part of [`super::ServerArg`]: `--tls`, `--ca`, `--cert`/`--cert-key`
//! (mutual TLS), `--server-name`, each with its `SPATE_*` variable.

use std::path::PathBuf;

use clap::builder::BoolishValueParser;

/// How a client subcommand reaches the broker over TLS.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// Connect with TLS (to the broker's tls_listen port). Implied by
    /// --ca, --cert and --server-name.
    #[arg(long, env = "SPATE_TLS", value_parser = BoolishValueParser::new())]
    pub tls: bool,

    /// PEM file of the CA that signed the broker's certificate (default:
    /// the system's trusted CAs).
    #[arg(long, env = "SPATE_CA", value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// PEM client certificate chain, for a broker that asks for one
    /// (mutual TLS); needs --cert-key.
    #[arg(long, env = "SPATE_CERT", value_name = "FILE", requires = "cert_key")]
    pub cert: Option<PathBuf>,

    /// PEM private key of --cert. (Not `--key`: `pub` and `state` use
    /// that for the message or state key.)
    #[arg(long, env = "SPATE_CERT_KEY", value_name = "FILE", requires = "cert")]
    pub cert_key: Option<PathBuf>,

    /// Name to verify the broker's certificate against (default: the host
    /// of --server).
    #[arg(long, env = "SPATE_SERVER_NAME", value_name = "NAME")]
    pub server_name: Option<String>,
}

impl TlsArgs {
    /// Whether TLS is asked for, explicitly or by a TLS-only flag.
    pub fn enabled(&self) -> bool {
        self.tls || self.ca.is_some() || self.cert.is_some() || self.server_name.is_some()
    }

    /// `opts` with TLS set up as the flags ask (unchanged without TLS).
    pub fn apply(
        &self,
        opts: spate_client::ClientOptions,
    ) -> anyhow::Result<spate_client::ClientOptions> {
        if !self.enabled() {
            return Ok(opts);
        }
        let cert_key = self.cert.as_deref().zip(self.cert_key.as_deref());
        // The error says "TLS: ..." and names the file.
        let mut tls = spate_client::TlsOptions::from_files(self.ca.as_deref(), cert_key)?;
        if let Some(name) = &self.server_name {
            tls = tls.server_name(name.clone());
        }
        Ok(opts.tls(tls))
    }
}
