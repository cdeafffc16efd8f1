//! Acknowledged-publish throughput, for the durability bench
//! (benches/durability.sh): C connections, each keeping W acked PUBLISHes
//! in flight to its own topic `bench.ack.<i>`, for S seconds; prints the
//! acknowledged messages per second.
//!
//! `cargo run --release --example ack_throughput -- ADDR PAYLOAD_BYTES CONNS WINDOW SECONDS`

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use spate_proto::{Codec, Frame, Hello, Publish, Text};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: &str| a.get(i).cloned().unwrap_or_else(|| d.to_owned());
    let addr: SocketAddr = arg(0, "127.0.0.1:7411").parse().expect("ADDR");
    assert!(addr.ip().is_loopback(), "loopback only");
    let size: usize = arg(1, "16").parse().expect("PAYLOAD_BYTES");
    let conns: usize = arg(2, "4").parse().expect("CONNS");
    let window: usize = arg(3, "256").parse().expect("WINDOW");
    let secs: u64 = arg(4, "5").parse().expect("SECONDS");
    let end = Instant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..conns)
        .map(|i| tokio::spawn(run(addr, i, size, window, end)))
        .collect();
    let mut total = 0u64;
    for t in tasks {
        total += t.await.expect("connection task");
    }
    println!("{:.0}", total as f64 / secs as f64);
}

/// One connection; returns the acks received before `end`.
async fn run(addr: SocketAddr, i: usize, size: usize, window: usize, end: Instant) -> u64 {
    let s = TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let mut io = Framed::new(s, Codec::new(16 << 20));
    io.send(Frame::Hello(Hello {
        version: 1,
        flags: 0,
        client_name: Text::from("ack-bench"),
        auth_token: Text::default(),
    }))
    .await
    .expect("hello");
    match io.next().await {
        Some(Ok(Frame::Welcome(_))) => {}
        f => panic!("expected WELCOME, got {f:?}"),
    }
    let topic = Text::from(format!("bench.ack.{i}").as_str());
    let payload = Bytes::from(vec![b'x'; size]);
    let publish = |n: u32| {
        Frame::Publish(Publish {
            request_id: n,
            ack: true,
            topic: topic.clone(),
            key: None,
            headers: Vec::new(),
            payload: payload.clone(),
        })
    };
    let (mut sent, mut acked) = (0u32, 0u64);
    for _ in 0..window {
        sent += 1;
        io.feed(publish(sent)).await.expect("send");
    }
    io.flush().await.expect("flush");
    loop {
        let deadline = tokio::time::Instant::from_std(end);
        let f = match tokio::time::timeout_at(deadline, io.next()).await {
            Err(_) => return acked,
            Ok(f) => f,
        };
        match f {
            Some(Ok(Frame::PubAck { .. })) => {
                acked += 1;
                sent += 1;
                io.feed(publish(sent)).await.expect("send");
                // Refill in bursts: flush when the read side has nothing
                // buffered, i.e. once per read of acks.
                if io.read_buffer().is_empty() {
                    io.flush().await.expect("flush");
                }
            }
            Some(Ok(Frame::Ping(t))) => io.send(Frame::Pong(t)).await.expect("pong"),
            f => panic!("unexpected {f:?}"),
        }
    }
}
