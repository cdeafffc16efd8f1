//! Reconnect and resume against a scripted server that cuts connections:
//! literal subscriptions resume from the seq after the last delivered one
//! without duplicates, or say what could not be recovered; wildcard
//! subscriptions resume live with a notice; requests while disconnected
//! fail fast.

mod support;

use std::time::Duration;

use futures::StreamExt;
use spate_client::proto::{Frame, Gap, GapReason, Start, StartStatus, Text};
use spate_client::{
    Client, ClientOptions, Error, Event, Notice, Reconnect, SubscribeOptions, Subscription,
};
use support::{FakeServer, Peer, GUARD};

fn fast_reconnect() -> ClientOptions {
    ClientOptions::default().reconnect(Some(Reconnect {
        initial: Duration::from_millis(5),
        max: Duration::from_millis(20),
        multiplier: 2.0,
        max_attempts: None,
    }))
}

async fn next(sub: &mut Subscription) -> Event {
    tokio::time::timeout(GUARD, sub.next())
        .await
        .expect("no event")
        .expect("stream ended")
}

async fn expect_seq(sub: &mut Subscription, seq: u64) {
    match next(sub).await {
        Event::Message(m) => assert_eq!(m.seq, seq),
        other => panic!("expected message {seq}, got {other:?}"),
    }
}

async fn expect_notice(sub: &mut Subscription) -> Notice {
    match next(sub).await {
        Event::Notice(n) => n,
        other => panic!("expected a notice, got {other:?}"),
    }
}

/// Connects, subscribes to `pattern` and answers with a live SUBSCRIBED.
async fn live_subscription(
    server: &FakeServer,
    pattern: &str,
    epoch: u64,
    last_seq: u64,
) -> (Client, Subscription, Peer, u32) {
    let (client, mut peer) = tokio::join!(
        async {
            Client::connect(&server.addr, fast_reconnect())
                .await
                .unwrap()
        },
        server.accept()
    );
    let sub = tokio::spawn({
        let c = client.clone();
        let p = pattern.to_string();
        async move { c.subscribe(p, SubscribeOptions::default()).await }
    });
    let (id, _, wire) = peer.expect_subscribe().await;
    assert_eq!(wire.start, Start::New);
    peer.subscribed(id, StartStatus::Live, epoch, 0, last_seq)
        .await;
    (client, sub.await.unwrap().unwrap(), peer, id)
}

#[tokio::test]
async fn literal_subscription_resumes_without_loss_or_duplicates() {
    let server = FakeServer::start().await;
    let (_client, mut sub, mut peer, id) = live_subscription(&server, "t", 7, 10).await;
    peer.message(id, "t", 7, 11).await;
    peer.message(id, "t", 7, 12).await;
    expect_seq(&mut sub, 11).await;
    expect_seq(&mut sub, 12).await;
    drop(peer); // the server cuts the connection

    assert!(matches!(
        expect_notice(&mut sub).await,
        Notice::Disconnected { .. }
    ));
    let mut peer = server.accept().await;
    let (id2, pattern, wire) = peer.expect_subscribe().await;
    assert_eq!((id2, pattern.as_str()), (id, "t"));
    assert_eq!(wire.start, Start::FromSeq { seq: 13, epoch: 7 });
    peer.subscribed(id, StartStatus::Replay, 7, 13, 14).await;
    peer.message(id, "t", 7, 12).await; // a duplicate the client must drop
    peer.message(id, "t", 7, 13).await;
    peer.message(id, "t", 7, 14).await;
    assert_eq!(
        expect_notice(&mut sub).await,
        Notice::Resumed {
            from_seq: 13,
            epoch: 7
        }
    );
    expect_seq(&mut sub, 13).await;
    expect_seq(&mut sub, 14).await;
}

#[tokio::test]
async fn resume_beyond_retention_yields_a_notice_and_the_gap() {
    let server = FakeServer::start().await;
    let (_client, mut sub, mut peer, id) = live_subscription(&server, "t", 7, 10).await;
    peer.message(id, "t", 7, 11).await;
    expect_seq(&mut sub, 11).await;
    drop(peer);

    assert!(matches!(
        expect_notice(&mut sub).await,
        Notice::Disconnected { .. }
    ));
    let mut peer = server.accept().await;
    let (_, _, wire) = peer.expect_subscribe().await;
    assert_eq!(wire.start, Start::FromSeq { seq: 12, epoch: 7 });
    peer.subscribed(id, StartStatus::Truncated, 7, 40, 41).await;
    peer.send(Frame::Gap(Gap {
        sub_id: id,
        reason: GapReason::NotRetained,
        count: 28,
        first_seq: 12,
        last_seq: 39,
        topic: Text::from("t"),
    }))
    .await;
    peer.message(id, "t", 7, 40).await;
    assert_eq!(
        expect_notice(&mut sub).await,
        Notice::Truncated {
            requested_seq: 12,
            first_seq: 40
        }
    );
    match next(&mut sub).await {
        Event::Gap(g) => assert_eq!((g.count, g.first_seq, g.last_seq), (28, 12, 39)),
        other => panic!("expected the gap, got {other:?}"),
    }
    expect_seq(&mut sub, 40).await;
}

#[tokio::test]
async fn resume_into_a_new_epoch_says_so() {
    let server = FakeServer::start().await;
    let (_client, mut sub, peer, id) = live_subscription(&server, "t", 7, 10).await;
    drop(peer);
    assert!(matches!(
        expect_notice(&mut sub).await,
        Notice::Disconnected { .. }
    ));
    let mut peer = server.accept().await;
    let (_, _, wire) = peer.expect_subscribe().await;
    assert_eq!(wire.start, Start::FromSeq { seq: 11, epoch: 7 });
    peer.subscribed(id, StartStatus::EpochChanged, 8, 1, 1)
        .await;
    peer.message(id, "t", 8, 1).await;
    assert_eq!(
        expect_notice(&mut sub).await,
        Notice::EpochChanged {
            old_epoch: 7,
            new_epoch: 8
        }
    );
    expect_seq(&mut sub, 1).await;
}

#[tokio::test]
async fn wildcard_subscription_resumes_live_with_a_notice() {
    let server = FakeServer::start().await;
    let (_client, mut sub, mut peer, id) = live_subscription(&server, "orders.>", 0, 0).await;
    peer.message(id, "orders.eu", 3, 5).await;
    expect_seq(&mut sub, 5).await;
    drop(peer);
    assert!(matches!(
        expect_notice(&mut sub).await,
        Notice::Disconnected { .. }
    ));
    let mut peer = server.accept().await;
    let (_, _, wire) = peer.expect_subscribe().await;
    assert_eq!(wire.start, Start::New);
    peer.subscribed(id, StartStatus::Live, 0, 0, 0).await;
    peer.message(id, "orders.us", 2, 9).await;
    assert_eq!(expect_notice(&mut sub).await, Notice::ResumedLive);
    expect_seq(&mut sub, 9).await;
}

#[tokio::test]
async fn requests_fail_fast_while_disconnected_then_work_again() {
    let server = FakeServer::start().await;
    let (client, mut sub, peer, _) = live_subscription(&server, "t", 1, 0).await;
    drop(peer);
    // The notice proves the client has noticed the loss; the fake has not
    // accepted the reconnect yet, so the client is between connections.
    assert!(matches!(
        expect_notice(&mut sub).await,
        Notice::Disconnected { .. }
    ));
    assert!(matches!(
        client.publish("t", "x").await,
        Err(Error::NotConnected)
    ));
    assert!(matches!(client.flush().await, Err(Error::NotConnected)));

    let mut peer = server.accept().await;
    let (id, _, _) = peer.expect_subscribe().await;
    peer.subscribed(id, StartStatus::Replay, 1, 0, 0).await;
    assert!(matches!(
        expect_notice(&mut sub).await,
        Notice::Resumed { .. }
    ));
    client.publish("t", "y").await.unwrap();
    assert!(matches!(peer.recv().await, Frame::Publish(_)));
}

#[tokio::test]
async fn goaway_leads_to_a_reconnect() {
    let server = FakeServer::start().await;
    let (client, mut sub, mut peer, id) = live_subscription(&server, "t", 1, 0).await;
    peer.send(Frame::GoAway {
        drain_ms: 1000,
        reason: Text::from("restarting"),
    })
    .await;
    assert_eq!(
        expect_notice(&mut sub).await,
        Notice::ServerGoingAway {
            reason: "restarting".into()
        }
    );
    assert!(matches!(
        client.publish("t", "x").await,
        Err(Error::GoingAway(_))
    ));
    drop(peer);
    assert!(matches!(
        expect_notice(&mut sub).await,
        Notice::Disconnected { .. }
    ));
    let mut peer = server.accept().await;
    let (id2, _, _) = peer.expect_subscribe().await;
    assert_eq!(id2, id);
}

#[tokio::test]
async fn without_reconnect_the_stream_ends_with_the_reason() {
    let server = FakeServer::start().await;
    let (client, mut peer) = tokio::join!(
        async {
            Client::connect(&server.addr, ClientOptions::default().reconnect(None))
                .await
                .unwrap()
        },
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
    drop(peer);
    // What was received is still delivered, then the stream ends.
    expect_seq(&mut sub, 1).await;
    assert!(tokio::time::timeout(GUARD, sub.next())
        .await
        .unwrap()
        .is_none());
    assert!(matches!(sub.end_reason(), Some(Error::Disconnected(_))));
}
