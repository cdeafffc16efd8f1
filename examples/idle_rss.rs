//! What an idle connection costs a running spate server, over TCP or
//! WebSocket: opens N connections one after another (at most 200
//! handshakes in flight), each completing HELLO/WELCOME, holds them idle,
//! and prints the server's RSS before and with every connection open.
//! Loopback only. See benches/README.md ("Idle WebSocket connections").
//!
//! Usage: cargo run --release --example idle_rss -- --addr 127.0.0.1:PORT
//! --pid SERVER_PID [--conns 10000] [--ws]
//!
//! The server needs `--max-connections` above N and an open-file limit
//! above N; so does this program (`ulimit -n`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use spate_proto::{Frame, Hello, Text};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// One held connection.
enum Conn {
    Tcp(#[allow(dead_code)] TcpStream),
    Ws(#[allow(dead_code)] Box<WebSocketStream<TcpStream>>),
}

/// Hard limit on one connection's connect + handshake.
const STEP: Duration = Duration::from_secs(20);

fn hello() -> Vec<u8> {
    Frame::Hello(Hello {
        version: 1,
        flags: 0,
        client_name: Text::from_static("idle-rss"),
        auth_token: Text::default(),
    })
    .to_bytes()
    .to_vec()
}

async fn open(addr: SocketAddr, ws: bool) -> Result<Conn, String> {
    let mut tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    if !ws {
        tcp.write_all(&hello()).await.map_err(|e| e.to_string())?;
        let mut len = [0u8; 4];
        tcp.read_exact(&mut len).await.map_err(|e| e.to_string())?;
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        tcp.read_exact(&mut body).await.map_err(|e| e.to_string())?;
        if body.first() != Some(&0x81) {
            return Err(format!("expected WELCOME, got opcode {:?}", body.first()));
        }
        return Ok(Conn::Tcp(tcp));
    }
    // The client's own buffers small: this process holds N of them too.
    let cfg = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut c, _) =
        tokio_tungstenite::client_async_with_config(format!("ws://{addr}/"), tcp, Some(cfg))
            .await
            .map_err(|e| e.to_string())?;
    c.send(Message::Binary(hello().into()))
        .await
        .map_err(|e| e.to_string())?;
    match c.next().await {
        Some(Ok(Message::Binary(b))) if b.get(4) == Some(&0x81) => Ok(Conn::Ws(Box::new(c))),
        other => Err(format!("expected WELCOME, got {other:?}")),
    }
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("server pid");
    let line = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    line[6..]
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .expect("VmRSS value")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut addr, mut pid, mut conns, mut ws) = (None, None, 10_000usize, false);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--addr" => addr = args.next().and_then(|v| v.parse::<SocketAddr>().ok()),
            "--pid" => pid = args.next().and_then(|v| v.parse::<u32>().ok()),
            "--conns" => conns = args.next().and_then(|v| v.parse().ok()).expect("--conns N"),
            "--ws" => ws = true,
            other => panic!("unknown argument {other}"),
        }
    }
    let addr = addr.expect("--addr HOST:PORT");
    let pid = pid.expect("--pid SERVER_PID");
    assert!(addr.ip().is_loopback(), "loopback only");

    // One warm connection first: the server's first-use allocations are
    // not per-connection costs.
    let warm = tokio::time::timeout(STEP, open(addr, ws))
        .await
        .expect("warm-up in time")
        .expect("warm-up connection");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid);
    let start = Instant::now();
    let mut held = Vec::with_capacity(conns);
    let mut left = conns;
    while left > 0 {
        let n = left.min(200);
        let batch: Vec<_> = (0..n)
            .map(|_| tokio::spawn(tokio::time::timeout(STEP, open(addr, ws))))
            .collect();
        for t in batch {
            match t.await.expect("task") {
                Ok(Ok(c)) => held.push(c),
                Ok(Err(e)) => panic!("connection {}: {e}", held.len()),
                Err(_) => panic!("connection {}: no WELCOME within {STEP:?}", held.len()),
            }
        }
        left -= n;
    }
    let took = start.elapsed();
    // Let the server's tasks settle into their idle state.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let open_kib = rss_kib(pid);
    let per_conn = (open_kib.saturating_sub(before)) * 1024 / held.len() as u64;
    println!(
        "transport={} conns={} handshakes_secs={:.2} rss_before_kib={before} rss_open_kib={open_kib} bytes_per_conn={per_conn}",
        if ws { "ws" } else { "tcp" },
        held.len(),
        took.as_secs_f64(),
    );
    drop((held, warm));
}
