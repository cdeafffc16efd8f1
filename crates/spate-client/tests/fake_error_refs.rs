//! ERROR's `ref_kind` tells the client which id space `reference` is in: a
//! request error whose number happens to equal a live subscription's id
//! must not end that subscription, and the other way round.

mod support;

use futures::StreamExt;
use spate_client::proto::{Frame, RefKind, StartStatus};
use spate_client::{Client, ClientOptions, ErrorCode, Event, Publication, SubscribeOptions};
use support::{FakeServer, GUARD};

fn opts() -> ClientOptions {
    ClientOptions::default().reconnect(None)
}

#[tokio::test]
async fn ref_kind_keeps_request_and_subscription_ids_apart() {
    let server = FakeServer::start().await;
    let (client, mut peer) = tokio::join!(
        async { Client::connect(&server.addr, opts()).await.unwrap() },
        server.accept()
    );
    let sub = tokio::spawn({
        let c = client.clone();
        async move { c.subscribe("t", SubscribeOptions::default()).await }
    });
    let (sub_id, _, _) = peer.expect_subscribe().await;
    peer.subscribed(sub_id, StartStatus::Live, 1, 0, 0).await;
    let mut sub = sub.await.unwrap().unwrap();

    let acked = tokio::spawn({
        let c = client.clone();
        async move { c.publish_acked(Publication::new("t", "x")).await }
    });
    let request_id = match peer.recv().await {
        Frame::Publish(p) => p.request_id,
        other => panic!("expected PUBLISH, got {other:?}"),
    };
    // A request error numbered like the subscription: not about it.
    peer.send(Frame::error_about(
        ErrorCode::InvalidTopic,
        RefKind::Request,
        sub_id,
        "some request",
    ))
    .await;
    // A subscription error numbered like the pending publish: not about it.
    peer.send(Frame::error_about(
        ErrorCode::UnknownSubscription,
        RefKind::Subscription,
        request_id,
        "some subscription",
    ))
    .await;
    peer.send(Frame::PubAck {
        request_id,
        epoch: 1,
        seq: 1,
        timestamp_us: 1,
        receivers: 1,
    })
    .await;
    peer.message(sub_id, "t", 1, 1).await;

    let ack = tokio::time::timeout(GUARD, acked).await.unwrap().unwrap();
    assert_eq!(ack.unwrap().seq, 1, "the publish was not failed");
    match tokio::time::timeout(GUARD, sub.next()).await.unwrap() {
        Some(Event::Message(m)) => assert_eq!(m.seq, 1),
        other => panic!("the subscription should live on, got {other:?}"),
    }

    // With the right kind, the error does end the subscription.
    peer.send(Frame::error_about(
        ErrorCode::InvalidOption,
        RefKind::Subscription,
        sub_id,
        "gone",
    ))
    .await;
    let end = tokio::time::timeout(GUARD, sub.next()).await.unwrap();
    assert!(end.is_none(), "the subscription ended, got {end:?}");
}
