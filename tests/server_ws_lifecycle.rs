//! The WebSocket transport's lifecycle over real sockets (protocol.md
//! §2.1): graceful shutdown (GOAWAY then close 1001, or ERROR
//! `SHUTTING_DOWN` and 4108 once the drain deadline passed), the
//! connection limit (ERROR `TOO_MANY_CONNECTIONS` and 4105), WebSocket
//! pings as signs of life for the idle timeout, and the stats counting
//! WebSocket connections like TCP ones.

mod common;
mod ws_support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use spate_proto::{ErrorCode, Frame, SubscribeOptions};
use tokio_tungstenite::tungstenite::Message;

use common::{publish, RawClient, STEP};
use ws_support::{start, start_tuned, try_connect, wait_for, WsClient};

#[tokio::test]
async fn shutdown_sends_goaway_then_close_1001() {
    let mut srv = start_tuned(|c| c.timeouts.shutdown_drain_ms = 5_000).await;
    let mut ws = WsClient::connect(srv.ws).await;
    ws.subscribe(1, "news").await;
    srv.begin_shutdown();
    match ws.recv().await {
        Frame::GoAway { drain_ms, .. } => assert_eq!(drain_ms, 5_000),
        f => panic!("expected GOAWAY, got {f:?}"),
    }
    assert_eq!(ws.expect_close().await, 1001);
    // The drain ended with the last connection, long before its deadline.
    srv.stopped(Duration::from_secs(4)).await;
}

#[tokio::test]
async fn drain_deadline_passed_sends_shutting_down_then_4108() {
    const DRAIN_MS: u64 = 200;
    let mut srv = start_tuned(|c| c.timeouts.shutdown_drain_ms = DRAIN_MS).await;
    // A subscriber that does not read, with a backlog far larger than the
    // kernel buffers between it and the server: the drain cannot finish.
    let mut ws = WsClient::connect_with_window(srv.ws, 4096).await;
    ws.subscribe(1, "flood").await;
    let mut publ = RawClient::connect(srv.tcp).await;
    let body = vec![b'x'; 1024];
    for i in 0..4096u32 {
        publ.feed(Frame::Publish(publish(i + 1, "flood", body.clone(), false)))
            .await;
    }
    publ.barrier().await;
    let started = Instant::now();
    srv.begin_shutdown();
    // Creates the condition: the drain deadline passes while the client
    // still does not read. It then has `STOP_GRACE` (500 ms) to take the
    // last words.
    tokio::time::sleep(Duration::from_millis(DRAIN_MS + 100)).await;
    // GOAWAY waits behind the batch in flight (as on TCP), so this client
    // may not see it before the ERROR.
    let mut error = None;
    while let Some(f) = ws.try_recv().await {
        match f {
            Frame::Error { code, .. } => error = Some(code),
            Frame::Message { .. }
            | Frame::MessageBatch { .. }
            | Frame::Ping(_)
            | Frame::GoAway { .. } => {
                assert!(error.is_none(), "a frame after the fatal ERROR: {f:?}")
            }
            f => panic!("unexpected frame {f:?}"),
        }
    }
    assert_eq!(error, Some(ErrorCode::ShuttingDown as u16));
    let code = ws
        .close
        .clone()
        .flatten()
        .map(|c| u16::from(c.code))
        .expect("a close frame");
    assert_eq!(code, 4108);
    srv.stopped(STEP).await;
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn at_max_connections_a_websocket_client_gets_4105() {
    let srv = start_tuned(|c| c.limits.max_connections = 1).await;
    let mut tcp = RawClient::connect(srv.tcp).await;
    let mut ws = try_connect(srv.ws, None, None).await.expect("handshake");
    ws.expect_error(ErrorCode::TooManyConnections).await;
    assert_eq!(ws.expect_close().await, 4105);
    // The refused client held no permit: the TCP client is still served,
    // and once it leaves a WebSocket client gets in.
    tcp.send(Frame::Ping(3)).await;
    assert!(matches!(tcp.recv().await, Frame::Pong(3)));
    drop(tcp);
    wait_for("the TCP client is gone", STEP, || {
        srv.broker.connection_count() == 0
    })
    .await;
    let mut ws = WsClient::connect(srv.ws).await;
    ws.send(Frame::Ping(4)).await;
    assert!(matches!(ws.recv().await, Frame::Pong(4)));
}

/// Sends a WebSocket ping carrying `n` and waits for its pong.
async fn ping_once(c: &mut WsClient, n: u32) {
    c.send_message(Message::Ping(n.to_be_bytes().to_vec().into()))
        .await;
    let pong = tokio::time::timeout(STEP, async {
        loop {
            match c.ws.next().await {
                Some(Ok(Message::Pong(p))) => return p,
                Some(Ok(Message::Binary(b))) => panic!("a frame for the pinger: {b:?}"),
                Some(Ok(_)) => {}
                other => panic!("the pinger was closed: {other:?}"),
            }
        }
    })
    .await
    .expect("pong in time");
    assert_eq!(&pong[..], n.to_be_bytes());
}

#[tokio::test]
async fn websocket_pings_keep_an_otherwise_silent_client_alive() {
    const TIMEOUT: Duration = Duration::from_millis(600);
    let srv = start_tuned(|c| {
        c.timeouts.ping_timeout_ms = TIMEOUT.as_millis() as u64;
        // No protocol PINGs: only the client's WebSocket pings show life.
        c.timeouts.ping_interval_ms = 0;
    })
    .await;
    let mut pinger = WsClient::connect(srv.ws).await;
    let mut silent = WsClient::connect(srv.ws).await;
    // The silent client times out while the pinger pings.
    let mut silent_done = tokio::spawn(async move {
        silent.expect_error(ErrorCode::IdleTimeout).await;
        silent.expect_close().await
    });
    let mut n = 0u32;
    let mut until = Instant::now() + 10 * TIMEOUT;
    let mut silent_code = None;
    while Instant::now() < until {
        ping_once(&mut pinger, n).await;
        n += 1;
        if silent_code.is_none() && silent_done.is_finished() {
            silent_code = Some((&mut silent_done).await.expect("silent client task"));
            // Two more idle timeouts on pings alone.
            until = Instant::now() + 2 * TIMEOUT;
        }
        // Creates the condition: time passes between pings.
        tokio::time::sleep(TIMEOUT / 4).await;
    }
    assert_eq!(silent_code, Some(4107), "the silent client timed out");
    pinger.send(Frame::Ping(77)).await;
    match pinger.recv().await {
        Frame::Pong(77) => {}
        f => panic!("expected PONG, got {f:?}"),
    }
}

#[tokio::test]
async fn stats_count_websocket_connections_like_tcp_ones() {
    let srv = start().await;
    let mut ws = WsClient::connect(srv.ws).await;
    let ws_addr = ws.ws.get_ref().local_addr().unwrap();
    ws.subscribe(1, "to.ws").await;
    let mut tcp = RawClient::connect(srv.tcp).await;
    tcp.subscribe(2, "to.tcp", SubscribeOptions::default())
        .await;
    for _ in 0..3 {
        tcp.publish("to.ws", "hi").await;
    }
    let mut got = 0;
    while got < 3 {
        got += match ws.recv().await {
            Frame::Message { .. } => 1,
            Frame::MessageBatch { messages, .. } => messages.len(),
            f => panic!("expected a delivery, got {f:?}"),
        };
    }
    for i in 0..2 {
        ws.send(Frame::Publish(publish(i + 1, "to.tcp", "12345", true)))
            .await;
        assert!(matches!(ws.recv().await, Frame::PubAck { .. }));
    }

    let s = srv.broker.stats();
    assert_eq!(s.server.connections, 2);
    let c = s
        .connections
        .iter()
        .find(|c| c.client_name == "ws-test")
        .expect("the WebSocket connection is listed");
    assert_eq!(c.peer, ws_addr.to_string());
    assert_eq!(c.messages_in, 2);
    assert_eq!(c.subscriptions.len(), 1);
    assert_eq!(c.subscriptions[0].pattern, "to.ws");
    assert_eq!(c.subscriptions[0].delivered, 3);
    assert!(s.server.bytes_in >= 10 && s.server.messages_in >= 5);

    ws.ws.close(None).await.expect("close");
    drop(ws);
    wait_for("the WebSocket connection is gone", STEP, || {
        srv.broker.connection_count() == 1
    })
    .await;
    let s = srv.broker.stats();
    assert_eq!(s.server.disconnects.get("client").copied(), Some(1));
    assert!(s.connections.iter().all(|c| c.client_name != "ws-test"));
}

#[tokio::test]
async fn a_client_close_is_answered_with_a_close() {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    let srv = start().await;
    let mut ws = WsClient::connect(srv.ws).await;
    ws.subscribe(1, "news").await;
    ws.send_message(Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    })))
    .await;
    assert_eq!(ws.expect_close().await, 1000);
    wait_for("the connection is gone", STEP, || {
        srv.broker.connection_count() == 0
    })
    .await;
}
