//! An idle WebSocket connection stays cheap: tungstenite's receive buffer,
//! allocated for every connection and kept for its life, is small
//! (`server::ws::READ_BUFFER`; it was 64 KiB, which made each idle
//! WebSocket cost 75 KiB against 10 KiB on TCP).

mod common;
mod ws_support;

use futures::{SinkExt, StreamExt};
use spate_proto::{Frame, Hello, Text, PROTOCOL_VERSION};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use common::STEP;

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line[6..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A client with small buffers of its own (this process holds both ends).
async fn open(addr: std::net::SocketAddr) -> WebSocketStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let cfg = WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(0);
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(format!("ws://{addr}/"), tcp, Some(cfg))
            .await
            .expect("handshake");
    let hello = Frame::Hello(Hello {
        version: PROTOCOL_VERSION,
        flags: 0,
        client_name: Text::from_static("idle"),
        auth_token: Text::default(),
    });
    ws.send(Message::Binary(hello.to_bytes())).await.unwrap();
    match tokio::time::timeout(STEP, ws.next())
        .await
        .expect("WELCOME in time")
    {
        Some(Ok(Message::Binary(b))) => assert_eq!(b[4], 0x81, "WELCOME"),
        other => panic!("expected WELCOME, got {other:?}"),
    }
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_websocket_connections_stay_small() {
    const CONNS: u64 = 300;
    let srv = ws_support::start().await;
    let warm = open(srv.ws).await;
    let before = rss_kib();
    let mut conns = Vec::new();
    for _ in 0..CONNS {
        conns.push(open(srv.ws).await);
    }
    let per_conn = (rss_kib().saturating_sub(before)) * 1024 / CONNS;
    println!("{per_conn} bytes resident per idle WebSocket connection (both ends)");
    // Both ends are in this process; a 64 KiB server buffer alone would
    // be over the limit.
    assert!(
        per_conn < 40 * 1024,
        "{per_conn} bytes resident per idle WebSocket connection"
    );
    drop((conns, warm));
}
