//! Who is at the other end of a connection, as its transport saw it: the
//! socket address, which transport carried it, and (with mutual TLS) the
//! identity its client certificate proved. Built by the listener in
//! `server/`, read by the handshake (authentication) and the logs.

use std::fmt;
use std::net::SocketAddr;

/// The transport a connection arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain TCP.
    Tcp,
    /// TCP inside TLS.
    Tls,
    /// WebSocket over plain TCP.
    Ws,
    /// WebSocket over TLS.
    Wss,
}

impl Transport {
    /// Lower-case name for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
        }
    }
}

/// The remote end of one connection.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Remote socket address.
    pub addr: SocketAddr,
    /// Transport it arrived on.
    pub transport: Transport,
    /// Identity proven by a verified TLS client certificate (mutual TLS),
    /// if any: the certificate's subject common name, else its first DNS
    /// subject alternative name.
    pub cert_identity: Option<String>,
}

impl Peer {
    /// A peer on plain TCP.
    pub fn tcp(addr: SocketAddr) -> Peer {
        Peer {
            addr,
            transport: Transport::Tcp,
            cert_identity: None,
        }
    }

    /// A peer on a plain WebSocket.
    pub fn ws(addr: SocketAddr) -> Peer {
        Peer {
            addr,
            transport: Transport::Ws,
            cert_identity: None,
        }
    }
}

/// Displays as the socket address, as the logs always have.
impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.addr.fmt(f)
    }
}
