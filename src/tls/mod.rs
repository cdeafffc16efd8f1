//! TLS for the client listeners (protocol.md §2.2): the server's
//! certificate and key loaded into a rustls configuration ([`config`]),
//! kept behind a swappable acceptor reloaded on SIGHUP ([`reload`]), the
//! identity a verified client certificate proves ([`identity`]), the
//! accept path with its plaintext check ([`accept`]) and the read half the
//! frame reader takes ([`stream`]).

pub mod accept;
pub mod config;
pub mod identity;
pub mod reload;
pub mod serve;
pub mod stream;

pub use config::{load_configs, TlsConfigs, TlsError, ALPN};
pub use reload::TlsAcceptors;
