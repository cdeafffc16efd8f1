//! Subscriptions against a scripted server: the stream's events, the
//! bounded buffer that stops the client reading when the application
//! stops consuming, and unsubscribing.

mod support;

use std::time::Duration;

use futures::StreamExt;
use spate_client::proto::{Frame, Gap, GapReason, Policy, Start, StartStatus, Text};
use spate_client::{Client, ClientOptions, ErrorCode, Event, SubscribeOptions};
use support::{msg, FakeServer, GUARD};

fn opts() -> ClientOptions {
    ClientOptions::default().reconnect(None)
}

async fn next(sub: &mut spate_client::Subscription) -> Event {
    tokio::time::timeout(GUARD, sub.next())
        .await
        .expect("no event")
        .expect("stream ended")
}

#[tokio::test]
async fn subscription_streams_messages_batches_and_gaps_in_order() {
    let server = FakeServer::start().await;
    let (client, mut peer) = tokio::join!(
        async { Client::connect(&server.addr, opts()).await.unwrap() },
        server.accept()
    );
    let options = SubscribeOptions::default()
        .policy(Policy::DropOldest)
        .start(Start::LastN(3));
    let sub = tokio::spawn({
        let c = client.clone();
        async move { c.subscribe("orders.eu", options).await }
    });
    let (id, pattern, wire) = peer.expect_subscribe().await;
    assert_eq!(pattern, "orders.eu");
    assert_eq!(wire.policy, Some(Policy::DropOldest));
    assert_eq!(wire.start, Start::LastN(3));
    peer.subscribed(id, StartStatus::Replay, 5, 8, 10).await;
    let mut sub = sub.await.unwrap().unwrap();
    assert_eq!(sub.granted().last_seq, 10);
    assert_eq!(sub.id(), id);

    peer.message(id, "orders.eu", 5, 8).await;
    peer.send(Frame::MessageBatch {
        sub_id: id,
        messages: vec![msg("orders.eu", 5, 9), msg("orders.eu", 5, 10)],
    })
    .await;
    peer.send(Frame::Gap(Gap {
        sub_id: id,
        reason: GapReason::DroppedOldest,
        count: 2,
        first_seq: 11,
        last_seq: 12,
        topic: Text::from("orders.eu"),
    }))
    .await;
    peer.message(id, "orders.eu", 5, 13).await;

    for seq in 8..=10 {
        match next(&mut sub).await {
            Event::Message(m) => assert_eq!(m.seq, seq),
            other => panic!("expected message {seq}, got {other:?}"),
        }
    }
    match next(&mut sub).await {
        Event::Gap(g) => assert_eq!((g.count, g.reason), (2, GapReason::DroppedOldest)),
        other => panic!("expected a gap, got {other:?}"),
    }
    match next(&mut sub).await {
        Event::Message(m) => assert_eq!(m.payload, "13"),
        other => panic!("expected message 13, got {other:?}"),
    }
}

#[tokio::test]
async fn a_refused_subscribe_returns_the_server_error() {
    let server = FakeServer::start().await;
    let (client, mut peer) = tokio::join!(
        async { Client::connect(&server.addr, opts()).await.unwrap() },
        server.accept()
    );
    let sub = tokio::spawn({
        let c = client.clone();
        async move { c.subscribe("a..b", SubscribeOptions::default()).await }
    });
    let (id, _, _) = peer.expect_subscribe().await;
    peer.send(Frame::error(ErrorCode::InvalidPattern, id, "empty token"))
        .await;
    let err = sub.await.unwrap().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidPattern));
}

#[tokio::test]
async fn a_stalled_consumer_stops_the_client_reading_the_socket() {
    let server = FakeServer::start().await;
    let (client, mut peer) = tokio::join!(
        async { Client::connect(&server.addr, opts()).await.unwrap() },
        server.accept()
    );
    let sub = tokio::spawn({
        let c = client.clone();
        async move {
            c.subscribe("big", SubscribeOptions::default().buffer(4))
                .await
        }
    });
    let (id, _, _) = peer.expect_subscribe().await;
    peer.subscribed(id, StartStatus::Live, 1, 0, 0).await;
    let mut sub = sub.await.unwrap().unwrap();

    // 48 MiB of deliveries: far more than socket buffers plus a 4-event
    // client buffer can hold, so the server's writes must stall until the
    // application consumes.
    const N: u64 = 1536;
    let payload = bytes::Bytes::from(vec![b'x'; 32 * 1024]);
    let writer = tokio::spawn(async move {
        for seq in 1..=N {
            let mut m = msg("big", 1, seq);
            m.payload = payload.clone();
            peer.send(Frame::Message {
                sub_id: id,
                message: m,
            })
            .await;
        }
        peer
    });
    let stalled = tokio::time::timeout(Duration::from_millis(500), async {
        while !writer.is_finished() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        stalled.is_err(),
        "the client buffered 48 MiB it was not asked for"
    );

    for seq in 1..=N {
        match next(&mut sub).await {
            Event::Message(m) => assert_eq!(m.seq, seq),
            other => panic!("expected message {seq}, got {other:?}"),
        }
    }
    let _peer = tokio::time::timeout(GUARD, writer).await.unwrap().unwrap();
}

#[tokio::test]
async fn unsubscribe_waits_for_the_server_and_drop_unsubscribes() {
    let server = FakeServer::start().await;
    let (client, mut peer) = tokio::join!(
        async { Client::connect(&server.addr, opts()).await.unwrap() },
        server.accept()
    );
    let subs = tokio::spawn({
        let c = client.clone();
        async move {
            let a = c.subscribe("a", SubscribeOptions::default()).await.unwrap();
            let b = c.subscribe("b", SubscribeOptions::default()).await.unwrap();
            (a, b)
        }
    });
    let (a_id, _, _) = peer.expect_subscribe().await;
    peer.subscribed(a_id, StartStatus::Live, 1, 0, 0).await;
    let (b_id, _, _) = peer.expect_subscribe().await;
    peer.subscribed(b_id, StartStatus::Live, 1, 0, 0).await;
    let (a, b) = subs.await.unwrap();

    let unsub = tokio::spawn(a.unsubscribe());
    assert_eq!(peer.recv().await, Frame::Unsubscribe { sub_id: a_id });
    assert!(!unsub.is_finished());
    peer.send(Frame::Unsubscribed { sub_id: a_id }).await;
    unsub.await.unwrap().unwrap();

    drop(b);
    assert_eq!(peer.recv().await, Frame::Unsubscribe { sub_id: b_id });
}

#[tokio::test]
async fn a_closed_client_ends_its_streams_cleanly() {
    let server = FakeServer::start().await;
    let (client, mut peer) = tokio::join!(
        async { Client::connect(&server.addr, opts()).await.unwrap() },
        server.accept()
    );
    let sub = tokio::spawn({
        let c = client.clone();
        async move { c.subscribe("t", SubscribeOptions::default()).await }
    });
    let (id, _, _) = peer.expect_subscribe().await;
    peer.subscribed(id, StartStatus::Live, 1, 0, 0).await;
    peer.message(id, "t", 1, 1).await;
    let mut sub = sub.await.unwrap().unwrap();
    assert!(matches!(next(&mut sub).await, Event::Message(_)));
    client.close().await;
    assert!(tokio::time::timeout(GUARD, sub.next())
        .await
        .unwrap()
        .is_none());
    assert!(sub.end_reason().is_none());
}
