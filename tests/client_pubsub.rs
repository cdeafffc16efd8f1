//! The Rust client against a real server: publish and subscribe round
//! trips, wildcards, acknowledged publishes, flush as an error barrier,
//! unsubscribe, replay options, batching, and loss that is always counted.

mod common;

use bytes::Bytes;
use common::*;
use futures::StreamExt;
use spate_client::{
    Client, ClientOptions, ErrorCode, Event, Message, Policy, Publication, Start, StartStatus,
    SubscribeOptions, Subscription,
};

async fn connect(srv: &TestServer) -> Client {
    Client::connect(srv.addr.to_string(), ClientOptions::default())
        .await
        .expect("connect")
}

async fn next_event(sub: &mut Subscription) -> Event {
    tokio::time::timeout(STEP, sub.next())
        .await
        .expect("no event in time")
        .expect("stream ended")
}

async fn next_message(sub: &mut Subscription) -> Message {
    match next_event(sub).await {
        Event::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test]
async fn round_trip_carries_key_headers_seq_and_epoch() {
    let srv = start_default().await;
    let client = connect(&srv).await;
    let mut sub = client
        .subscribe("orders.eu.created", SubscribeOptions::default())
        .await
        .unwrap();
    assert_eq!(sub.granted().start, StartStatus::Live);
    let ack = client
        .publish_acked(
            Publication::new("orders.eu.created", r#"{"id":1}"#)
                .key("order-1")
                .header("source", "web"),
        )
        .await
        .unwrap();
    assert_eq!((ack.seq, ack.receivers), (1, 1));
    assert_eq!(ack.epoch, sub.granted().epoch);
    let m = next_message(&mut sub).await;
    assert_eq!(&*m.topic, "orders.eu.created");
    assert_eq!(m.payload, Bytes::from(r#"{"id":1}"#));
    assert_eq!(m.key.as_deref(), Some("order-1"));
    assert_eq!(m.headers[0].0.as_str(), "source");
    assert_eq!(
        (m.seq, m.epoch, m.timestamp_us),
        (1, ack.epoch, ack.timestamp_us)
    );
    client.close().await;
    srv.stop().await;
}

#[tokio::test]
async fn wildcards_deliver_to_every_matching_subscription() {
    let srv = start_default().await;
    let client = connect(&srv).await;
    let mut all = client
        .subscribe("orders.>", SubscribeOptions::default())
        .await
        .unwrap();
    let mut created = client
        .subscribe("orders.*.created", SubscribeOptions::default())
        .await
        .unwrap();
    for t in [
        "orders.eu.created",
        "orders.us.shipped",
        "orders.eu.created.late",
        "other.eu.created",
    ] {
        client.publish(t, t).await.unwrap();
    }
    client.publish("orders.us.created", "last").await.unwrap();
    client.flush().await.unwrap();

    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(next_message(&mut all).await.topic.to_string());
    }
    assert_eq!(
        got,
        [
            "orders.eu.created",
            "orders.us.shipped",
            "orders.eu.created.late",
            "orders.us.created"
        ]
    );
    assert_eq!(
        &*next_message(&mut created).await.topic,
        "orders.eu.created"
    );
    assert_eq!(
        &*next_message(&mut created).await.topic,
        "orders.us.created"
    );
    srv.stop().await;
}

#[tokio::test]
async fn flush_reports_a_rejected_fire_and_forget_publish() {
    let srv = start_default().await;
    let client = connect(&srv).await;
    client.publish("ok.topic", "1").await.unwrap();
    client.publish("bad..topic", "2").await.unwrap();
    client.publish("also.*.bad", "3").await.unwrap();
    let err = client.flush().await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidTopic), "{err}");
    // Reported once; the connection is still usable.
    client.publish("ok.topic", "4").await.unwrap();
    client.flush().await.unwrap();
    let err = client
        .publish_acked(Publication::new("bad..topic", "5"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidTopic));
    srv.stop().await;
}

#[tokio::test]
async fn a_refused_subscribe_is_an_error_and_the_client_carries_on() {
    let srv = start_default().await;
    let client = connect(&srv).await;
    let err = client
        .subscribe("a.>", SubscribeOptions::default().start(Start::LastN(3)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidOption), "{err}");
    let err = client
        .subscribe("a..b", SubscribeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidPattern), "{err}");
    client
        .subscribe("a.b", SubscribeOptions::default())
        .await
        .unwrap();
    srv.stop().await;
}

#[tokio::test]
async fn unsubscribe_ends_the_stream_cleanly() {
    let srv = start_default().await;
    let client = connect(&srv).await;
    let sub = client
        .subscribe("u.t", SubscribeOptions::default())
        .await
        .unwrap();
    assert_eq!(srv.broker.subscription_count(), 1);
    client.unsubscribe(sub).await.unwrap();
    // UNSUBSCRIBED has arrived, so the server has dropped it.
    assert_eq!(srv.broker.subscription_count(), 0);
    srv.stop().await;
}

#[tokio::test]
async fn replay_from_seq_and_last_n() {
    let srv = start_default().await;
    let client = connect(&srv).await;
    for i in 1..=10 {
        client.publish("hist.a", i.to_string()).await.unwrap();
    }
    client.flush().await.unwrap();

    let mut from = client
        .subscribe(
            "hist.a",
            SubscribeOptions::default().start(Start::FromSeq { seq: 4, epoch: 0 }),
        )
        .await
        .unwrap();
    assert_eq!(from.granted().start, StartStatus::Replay);
    for seq in 4..=10 {
        assert_eq!(next_message(&mut from).await.seq, seq);
    }
    let mut last = client
        .subscribe("hist.a", SubscribeOptions::default().start(Start::LastN(2)))
        .await
        .unwrap();
    assert_eq!(next_message(&mut last).await.payload, Bytes::from("9"));
    assert_eq!(next_message(&mut last).await.payload, Bytes::from("10"));
    client.publish("hist.a", "11").await.unwrap();
    assert_eq!(next_message(&mut from).await.seq, 11);
    assert_eq!(next_message(&mut last).await.seq, 11);
    srv.stop().await;
}

#[tokio::test]
async fn batched_delivery_arrives_whole_and_in_order() {
    let srv = start_default().await;
    let client = connect(&srv).await;
    let options = SubscribeOptions {
        max_batch: Some(64),
        linger_us: Some(1000),
        ..SubscribeOptions::default()
    };
    let mut sub = client.subscribe("batch.t", options).await.unwrap();
    let publisher = connect(&srv).await;
    const N: u64 = 5000;
    for i in 1..=N {
        publisher.publish("batch.t", i.to_string()).await.unwrap();
    }
    publisher.flush().await.unwrap();
    for seq in 1..=N {
        let m = next_message(&mut sub).await;
        assert_eq!(m.seq, seq);
        assert_eq!(m.payload, Bytes::from(seq.to_string()));
    }
    srv.stop().await;
}

#[tokio::test]
async fn a_stalled_application_sees_every_loss_counted() {
    let srv = start_default().await;
    let client = connect(&srv).await;
    // A tiny client buffer and server queue: while the application does
    // not consume, the client stops reading and the server drops oldest.
    let options = SubscribeOptions {
        policy: Some(Policy::DropOldest),
        queue_msgs: Some(100),
        buffer: 1,
        ..SubscribeOptions::default()
    };
    let mut sub = client.subscribe("burst.load", options).await.unwrap();
    let publisher = connect(&srv).await;
    const N: u64 = 50_000;
    let payload = Bytes::from(vec![b'x'; 256]);
    for _ in 0..N {
        publisher
            .publish("burst.load", payload.clone())
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();

    let (mut delivered, mut lost, mut last_seq) = (0u64, 0u64, 0u64);
    while delivered + lost < N {
        match next_event(&mut sub).await {
            Event::Message(m) => {
                assert!(m.seq > last_seq, "seqs increase");
                last_seq = m.seq;
                delivered += 1;
            }
            Event::Gap(g) => lost += g.count,
            Event::Notice(n) => panic!("unexpected notice {n}"),
        }
    }
    assert_eq!(delivered + lost, N);
    assert!(lost > 0, "the stall should have cost something");
    assert_eq!(last_seq, N, "drop-oldest keeps the newest message");
    srv.stop().await;
}
