//! The WebSocket transport over real sockets (protocol.md, "WebSocket
//! transport"): handshake, pub/sub between WebSocket and TCP clients,
//! several frames per message, bad input, text and oversized messages,
//! Origin, close codes, and the connection count going back to 0.

mod common;
mod ws_support;

use std::net::SocketAddr;

use bytes::Bytes;
use futures::StreamExt;
use spate_proto::{ErrorCode, Frame, SubscribeOptions};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use common::{publish, RawClient, STEP};
use ws_support::{start, start_with, try_connect, wait_for, WsClient};

fn payload_of(f: &Frame) -> Vec<Bytes> {
    match f {
        Frame::Message { message, .. } => vec![message.payload.clone()],
        Frame::MessageBatch { messages, .. } => {
            messages.iter().map(|m| m.payload.clone()).collect()
        }
        f => panic!("expected a delivery, got {f:?}"),
    }
}

#[tokio::test]
async fn pubsub_between_websocket_and_tcp_both_ways() {
    let srv = start().await;
    let mut ws = try_connect(srv.ws, None, Some("spate.v1"))
        .await
        .expect("handshake");
    assert_eq!(ws.protocol.as_deref(), Some("spate.v1"));
    ws.hello().await;
    let mut tcp = RawClient::connect(srv.tcp).await;
    tcp.subscribe(1, "to.tcp", SubscribeOptions::default())
        .await;
    ws.subscribe(2, "to.ws").await;

    // WebSocket → TCP, acknowledged.
    ws.send(Frame::Publish(publish(7, "to.tcp", "from ws", true)))
        .await;
    match ws.recv().await {
        Frame::PubAck { request_id: 7, .. } => {}
        f => panic!("expected PUB_ACK, got {f:?}"),
    }
    assert_eq!(payload_of(&tcp.recv().await), vec![Bytes::from("from ws")]);

    // TCP → WebSocket.
    tcp.publish("to.ws", "from tcp").await;
    assert_eq!(payload_of(&ws.recv().await), vec![Bytes::from("from tcp")]);

    assert_eq!(srv.broker.connection_count(), 2);
    ws.ws.close(None).await.expect("close");
    drop(ws);
    drop(tcp);
    wait_for("connections closed", STEP, || {
        srv.broker.connection_count() == 0
    })
    .await;
}

#[tokio::test]
async fn several_frames_in_one_message_each_handled() {
    let srv = start().await;
    let mut ws = WsClient::connect(srv.ws).await;
    let mut tcp = RawClient::connect(srv.tcp).await;
    tcp.subscribe(1, "many", SubscribeOptions::default()).await;
    let frames: Vec<Frame> = (0..50)
        .map(|i| Frame::Publish(publish(i, "many", format!("m{i}"), false)))
        .chain([Frame::Ping(99)])
        .collect();
    ws.send_all(&frames).await;
    match ws.recv().await {
        Frame::Pong(99) => {}
        f => panic!("expected PONG, got {f:?}"),
    }
    let mut got = Vec::new();
    while got.len() < 50 {
        got.extend(payload_of(&tcp.recv().await));
    }
    let want: Vec<Bytes> = (0..50).map(|i| Bytes::from(format!("m{i}"))).collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn malformed_frame_gets_its_error_then_a_close_with_the_code() {
    let srv = start().await;
    let mut ws = WsClient::connect(srv.ws).await;
    // SUBSCRIBE (0x20) whose body is cut short.
    let bad = [0u8, 0, 0, 3, 0x20, 0, 0];
    ws.send_message(Message::Binary(Bytes::copy_from_slice(&bad)))
        .await;
    ws.expect_error(ErrorCode::MalformedFrame).await;
    assert_eq!(ws.expect_close().await, 4100);
    wait_for("connection closed", STEP, || {
        srv.broker.connection_count() == 0
    })
    .await;
}

#[tokio::test]
async fn frame_too_large_and_no_hello_map_to_their_close_codes() {
    let srv = start().await;
    let mut ws = try_connect(srv.ws, None, None).await.expect("handshake");
    ws.send(Frame::Ping(1)).await;
    ws.expect_error(ErrorCode::HelloRequired).await;
    assert_eq!(ws.expect_close().await, 4103);

    let mut ws = WsClient::connect(srv.ws).await;
    let huge = (64u32 * 1024 * 1024).to_be_bytes();
    ws.send_message(Message::Binary(Bytes::copy_from_slice(&huge)))
        .await;
    ws.expect_error(ErrorCode::FrameTooLarge).await;
    assert_eq!(ws.expect_close().await, 4101);
}

#[tokio::test]
async fn text_message_is_refused_with_1003() {
    let srv = start().await;
    let mut ws = WsClient::connect(srv.ws).await;
    ws.send_message(Message::Text("hello".into())).await;
    assert_eq!(ws.expect_close().await, 1003);
    wait_for("connection closed", STEP, || {
        srv.broker.connection_count() == 0
    })
    .await;
}

#[tokio::test]
async fn oversized_message_is_refused_with_1009() {
    let srv = start_with(Vec::new(), Some(4096)).await;
    let mut ws = WsClient::connect(srv.ws).await;
    // Bigger than max_frame + 64 KiB.
    let big = vec![0u8; 4096 + 64 * 1024 + 1];
    ws.send_message(Message::Binary(big.into())).await;
    assert_eq!(ws.expect_close().await, 1009);
    wait_for("connection closed", STEP, || {
        srv.broker.connection_count() == 0
    })
    .await;
}

#[tokio::test]
async fn frame_cut_by_the_end_of_its_message_closes_with_1002() {
    let srv = start().await;
    let mut ws = WsClient::connect(srv.ws).await;
    let whole = Frame::Ping(5).to_bytes();
    let mut m = whole.to_vec();
    m.extend_from_slice(&whole[..6]);
    ws.send_message(Message::Binary(m.into())).await;
    // The whole frame before the cut is still answered.
    match ws.recv().await {
        Frame::Pong(5) => {}
        f => panic!("expected PONG, got {f:?}"),
    }
    assert_eq!(ws.expect_close().await, 1002);
}

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let srv = start().await;
    let mut ws = WsClient::connect(srv.ws).await;
    ws.send_message(Message::Ping(Bytes::from_static(b"are you there")))
        .await;
    let got = tokio::time::timeout(STEP, async {
        loop {
            match ws.ws.next().await {
                Some(Ok(Message::Pong(p))) => return p,
                Some(Ok(_)) => {}
                other => panic!("closed before the pong: {other:?}"),
            }
        }
    })
    .await
    .expect("pong in time");
    assert_eq!(&got[..], b"are you there");
}

#[tokio::test]
async fn origins_are_checked() {
    let srv = start().await;
    // No Origin (not a browser) and local pages are allowed.
    for origin in [
        None,
        Some("http://localhost:5173"),
        Some("https://127.0.0.1"),
    ] {
        let mut c = try_connect(srv.ws, origin, None)
            .await
            .unwrap_or_else(|e| panic!("{origin:?} refused: {e}"));
        c.hello().await;
    }
    match try_connect(srv.ws, Some("https://evil.example"), None).await {
        Err(WsError::Http(resp)) => assert_eq!(resp.status().as_u16(), 403),
        Err(e) => panic!("expected HTTP 403, got {e}"),
        Ok(_) => panic!("a foreign origin was accepted"),
    }

    let srv = start_with(vec!["https://app.example".into()], None).await;
    let mut c = try_connect(srv.ws, Some("https://app.example"), None)
        .await
        .expect("listed origin");
    c.hello().await;
    assert!(try_connect(srv.ws, Some("http://localhost"), None)
        .await
        .is_err());
    wait_for("refused handshakes hold no connection", STEP, || {
        srv.broker.connection_count() == 1
    })
    .await;
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// One malformed vector over WebSocket (its bytes as one binary message);
/// `Err` says how the reaction differed from what the file requires.
async fn check_vector(addr: SocketAddr, v: &serde_json::Value) -> Result<(), String> {
    let bytes = unhex(v["hex"].as_str().expect("hex"));
    let want = &v["server"];
    let mut c = try_connect(addr, None, None)
        .await
        .map_err(|e| e.to_string())?;
    if v["hello_first"].as_bool().expect("hello_first") {
        c.hello().await;
    }
    c.send_message(Message::Binary(bytes.into())).await;
    let reply = c
        .try_recv()
        .await
        .ok_or_else(|| format!("closed without a reply ({:?})", c.close))?;
    let mut fatal_code = None;
    match (want["reply"].as_str().expect("reply"), &reply) {
        (
            "ERROR",
            Frame::Error {
                code, reference, ..
            },
        ) => {
            let (wc, wr) = (want["error_code"].as_u64(), want["reference"].as_u64());
            if (Some(u64::from(*code)), Some(u64::from(*reference))) != (wc, wr) {
                return Err(format!(
                    "expected ERROR {wc:?} reference {wr:?}, got {reply:?}"
                ));
            }
            fatal_code = Some(*code);
        }
        ("SUBSCRIBED", Frame::Subscribed(_)) | ("WELCOME", Frame::Welcome(_)) => {}
        (w, _) => return Err(format!("expected {w}, got {reply:?}")),
    }
    match want["connection"].as_str().expect("connection") {
        "closed" => {
            let code = c.expect_close().await;
            match fatal_code {
                Some(f) if code != 4000 + f => Err(format!("close code {code}, want {}", 4000 + f)),
                _ => Ok(()),
            }
        }
        "open" => {
            c.send(Frame::Ping(0x5eed)).await;
            match c.try_recv().await {
                Some(Frame::Pong(0x5eed)) => Ok(()),
                other => Err(format!(
                    "expected PONG, got {other:?} (close {:?})",
                    c.close
                )),
            }
        }
        other => panic!("unknown connection reaction {other}"),
    }
}

#[tokio::test]
async fn every_malformed_vector_gets_the_same_reaction_over_websocket() {
    let srv = start().await;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/conformance/vectors.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors.json")).unwrap();
    let vecs = v["malformed"].as_array().expect("malformed array");
    assert!(vecs.len() >= 50);
    let mut failures = Vec::new();
    for m in vecs {
        if let Err(e) = check_vector(srv.ws, m).await {
            failures.push(format!("`{}`: {e}", m["id"].as_str().unwrap_or("?")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} vectors got the wrong reaction over WebSocket:\n{}",
        failures.len(),
        failures.join("\n")
    );
    wait_for("connections closed", STEP, || {
        srv.broker.connection_count() == 0
    })
    .await;
}
