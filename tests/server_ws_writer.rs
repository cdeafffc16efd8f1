//! The server's WebSocket write path over a real socket (protocol.md
//! §2.1): a subscriber that reads slowly through a small window, so that
//! the server's data frames are written in pieces, gets every message in
//! order, small and large, each WebSocket message holding whole protocol
//! frames (the test client checks that), with the pongs to the pings it
//! sends meanwhile coming between them unharmed.

mod common;
mod ws_support;

use bytes::Bytes;
use spate_proto::Frame;
use tokio_tungstenite::tungstenite::Message;

use common::{publish, RawClient};
use ws_support::{start, WsClient};

/// Payload `i`: its index first, then `len` bytes in all.
fn payload(i: u32, len: usize) -> Bytes {
    let mut p = i.to_be_bytes().to_vec();
    p.resize(len.max(4), (i % 251) as u8);
    p.into()
}

#[tokio::test]
async fn a_slow_reader_gets_whole_frames_and_its_pongs() {
    let srv = start().await;
    let mut ws = WsClient::connect_with_window(srv.ws, 4096).await;
    ws.subscribe(1, "bulk").await;
    let mut publ = RawClient::connect(srv.tcp).await;
    // 2,000 small messages and, every 200th, a large one: about 3.5 MiB,
    // within the default queue (8 MiB, 10,000 messages), so none is lost.
    let len = |i: u32| if i % 200 == 199 { 300 * 1024 } else { 1024 };
    for i in 0..2000u32 {
        publ.feed(Frame::Publish(publish(
            i + 1,
            "bulk",
            payload(i, len(i)),
            false,
        )))
        .await;
    }
    publ.barrier().await;

    let (mut next, mut pings) = (0u32, 0usize);
    while next < 2000 {
        if next / 100 >= pings as u32 {
            ws.send_message(Message::Ping(Bytes::from_static(b"p")))
                .await;
            pings += 1;
        }
        let msgs = match ws.recv().await {
            Frame::Message { message, .. } => vec![message.payload],
            Frame::MessageBatch { messages, .. } => {
                messages.into_iter().map(|m| m.payload).collect()
            }
            f => panic!("expected a delivery, got {f:?}"),
        };
        for p in msgs {
            assert_eq!(p, payload(next, len(next)), "message {next}");
            next += 1;
        }
    }
    // A protocol PING after the last ping: its PONG comes after their pongs.
    ws.send(Frame::Ping(5)).await;
    match ws.recv().await {
        Frame::Pong(5) => {}
        f => panic!("expected PONG, got {f:?}"),
    }
    assert_eq!(ws.pongs, pings, "every WebSocket ping got its pong");
}
