//! The TLS listener's side of a connection: check that the client speaks
//! TLS at all (a plaintext spate client gets ERROR `TLS_REQUIRED` in
//! plaintext rather than a hang), the handshake within
//! `timeouts.hello_ms`, then the ordinary connection over the decrypted
//! stream with the client certificate's identity in its [`Peer`].

use std::net::SocketAddr;
use std::time::Duration;

use spate_proto::{ErrorCode, Frame};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::identity::identity;
use crate::conn::peer::Transport;
use crate::conn::Peer;

/// First byte of every TLS record that starts a handshake.
pub const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Why a TLS connection did not get past its handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeFailure {
    /// Nothing arrived within the deadline, or the peer closed first.
    Silent,
    /// The first byte was not a TLS handshake record.
    Plaintext,
    /// The TLS handshake failed (bad certificate, protocol error, ...).
    Tls,
    /// The TLS handshake did not finish within the deadline.
    Timeout,
}

impl HandshakeFailure {
    /// Label for the `spate_tls_handshake_failures_total` metric.
    pub fn as_str(self) -> &'static str {
        match self {
            HandshakeFailure::Silent => "silent",
            HandshakeFailure::Plaintext => "plaintext",
            HandshakeFailure::Tls => "tls",
            HandshakeFailure::Timeout => "timeout",
        }
    }
}

fn count(f: HandshakeFailure) {
    metrics::counter!("spate_tls_handshake_failures_total", "reason" => f.as_str()).increment(1);
}

/// Peeks the first byte within `deadline`: `Ok(())` if it starts a TLS
/// handshake; otherwise a plaintext client is told ERROR `TLS_REQUIRED`.
pub async fn expect_tls(sock: &mut TcpStream, deadline: Duration) -> Result<(), HandshakeFailure> {
    let mut first = [0u8; 1];
    match tokio::time::timeout(deadline, sock.peek(&mut first)).await {
        Ok(Ok(1)) if first[0] == TLS_HANDSHAKE_RECORD => Ok(()),
        Ok(Ok(1)) => {
            let f = Frame::error(
                ErrorCode::TlsRequired,
                0,
                "this port speaks TLS: connect with TLS (spate --tls), or use the plaintext port",
            )
            .to_bytes();
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                sock.write_all(&f).await?;
                sock.shutdown().await
            })
            .await;
            Err(HandshakeFailure::Plaintext)
        }
        _ => Err(HandshakeFailure::Silent),
    }
}

/// The TLS handshake on `sock` (after [`expect_tls`]), bounded by
/// `deadline`. Failures are logged (rate-limited) and counted.
pub async fn handshake(
    acceptor: TlsAcceptor,
    mut sock: TcpStream,
    addr: SocketAddr,
    deadline: Duration,
) -> Option<TlsStream<TcpStream>> {
    let _ = sock.set_nodelay(true);
    let started = tokio::time::Instant::now();
    let result = match expect_tls(&mut sock, deadline).await {
        Err(f) => Err((f, None)),
        Ok(()) => {
            let left = deadline.saturating_sub(started.elapsed());
            match tokio::time::timeout(left, acceptor.accept(sock)).await {
                Ok(Ok(s)) => Ok(s),
                Ok(Err(e)) => Err((HandshakeFailure::Tls, Some(e.to_string()))),
                Err(_) => Err((HandshakeFailure::Timeout, None)),
            }
        }
    };
    match result {
        Ok(s) => Some(s),
        Err((f, error)) => {
            count(f);
            match error {
                Some(error) => {
                    crate::log_limited!(info, "tls.handshake", peer = %addr, reason = f.as_str(), %error, "TLS handshake failed")
                }
                None => {
                    crate::log_limited!(info, "tls.handshake", peer = %addr, reason = f.as_str(), "TLS handshake failed")
                }
            }
            None
        }
    }
}

/// The [`Peer`] of an established TLS stream: its verified client
/// certificate's identity, if any.
pub fn peer_of(stream: &TlsStream<TcpStream>, addr: SocketAddr, transport: Transport) -> Peer {
    let (_, conn) = stream.get_ref();
    let cert_identity = conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(identity);
    Peer {
        addr,
        transport,
        cert_identity,
    }
}
