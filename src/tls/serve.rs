//! One connection on the TLS listener or the `wss` listener: handshake
//! ([`super::accept`]), then the ordinary connection (or, at
//! `max_connections`, ERROR `TOO_MANY_CONNECTIONS` over TLS and a close).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use spate_proto::{ErrorCode, Frame};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio_rustls::TlsAcceptor;

use super::accept::{handshake, peer_of};
use super::stream::TlsReader;
use crate::broker::Broker;
use crate::conn::Transport;
use crate::server::{connection, ws, Stage};

/// Serves one socket accepted on the TLS listener until it closes.
pub async fn tls_conn(
    acceptor: TlsAcceptor,
    sock: TcpStream,
    addr: SocketAddr,
    broker: Arc<Broker>,
    stage: watch::Receiver<Stage>,
    permit: Option<OwnedSemaphorePermit>,
) {
    let deadline = Duration::from_millis(broker.config.timeouts.hello_ms);
    let Some(stream) = handshake(acceptor, sock, addr, deadline).await else {
        return;
    };
    let peer = peer_of(&stream, addr, Transport::Tls);
    let Some(permit) = permit else {
        let max = broker.config.limits.max_connections;
        crate::log_limited!(warn, "conn.max", %peer, max, "TLS connection refused: at max_connections");
        refuse_busy(stream, max).await;
        return;
    };
    let (rd, wr) = tokio::io::split(stream);
    connection::serve(TlsReader::new(rd), wr, peer, broker, stage).await;
    drop(permit);
}

/// Serves one socket accepted on the `wss` listener until it closes.
pub async fn wss_conn(
    acceptor: TlsAcceptor,
    sock: TcpStream,
    addr: SocketAddr,
    broker: Arc<Broker>,
    stage: watch::Receiver<Stage>,
    permit: Option<OwnedSemaphorePermit>,
) {
    let deadline = Duration::from_millis(broker.config.timeouts.hello_ms);
    let Some(stream) = handshake(acceptor, sock, addr, deadline).await else {
        return;
    };
    let peer = peer_of(&stream, addr, Transport::Wss);
    ws::handle_stream(stream, peer, broker, stage, permit).await;
}

async fn refuse_busy<W: AsyncWrite + Unpin>(mut wr: W, max: u32) {
    let f = Frame::error(
        ErrorCode::TooManyConnections,
        0,
        format!("server is at its limit of {max} connections"),
    )
    .to_bytes();
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        wr.write_all(&f).await?;
        wr.shutdown().await
    })
    .await;
}
