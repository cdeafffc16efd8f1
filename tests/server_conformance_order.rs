//! Reply order as a client written from protocol.md relies on it (§5.2,
//! §5.3, §8.4): requests pipelined in one write are answered in request
//! order, SUBSCRIBED is never overtaken or lost, a subscription's
//! deliveries (backlog included) come after its SUBSCRIBED and before its
//! UNSUBSCRIBED. Each scenario is repeated on fresh connections, because the
//! old defects were races that showed in a fraction of the tries.

mod common;

use bytes::{Bytes, BytesMut};
use common::*;
use spate_proto::{Condition, Frame, Hello, Policy, Start, StartStatus, SubscribeOptions, Text};

/// Tries per scenario: the old code failed 11–69 in 100.
const TRIES: u32 = 100;

fn encode(frames: &[Frame]) -> Bytes {
    let mut b = BytesMut::new();
    for f in frames {
        f.encode(&mut b);
    }
    b.freeze()
}

fn sub(sub_id: u32, pattern: &str, options: SubscribeOptions) -> Frame {
    Frame::Subscribe {
        sub_id,
        pattern: Text::from(pattern),
        options,
    }
}

fn state_put_on(topic: &str, key: &str) -> Frame {
    Frame::StatePut {
        request_id: 1,
        topic: Text::from(topic),
        key: Text::from(key),
        condition: Condition::None,
        value: Bytes::from_static(b"v"),
    }
}

fn state_put(key: &str) -> Frame {
    state_put_on("order.d", key)
}

fn hello() -> Frame {
    Frame::Hello(Hello {
        version: 1,
        flags: 0,
        client_name: Text::from("order"),
        auth_token: Text::default(),
    })
}

/// A short name for a frame, for readable assertion messages.
fn name(f: &Frame) -> String {
    match f {
        Frame::Welcome(_) => "WELCOME".into(),
        Frame::Subscribed(s) => format!("SUBSCRIBED({})", s.sub_id),
        Frame::Unsubscribed { sub_id } => format!("UNSUBSCRIBED({sub_id})"),
        Frame::PubAck { request_id, .. } => format!("PUB_ACK({request_id})"),
        Frame::Pong(_) => "PONG".into(),
        Frame::Message { sub_id, .. } => format!("MESSAGE({sub_id})"),
        Frame::MessageBatch { sub_id, .. } => format!("MESSAGE_BATCH({sub_id})"),
        Frame::Gap(g) => format!("GAP({})", g.sub_id),
        Frame::Error { code, .. } => format!("ERROR({code})"),
        other => format!("{other:?}"),
    }
}

/// Reads frames until PONG `token`; returns them (PONG included).
async fn until_pong(c: &mut RawClient, token: u64) -> Vec<Frame> {
    let mut got = Vec::new();
    loop {
        let f = c.recv().await;
        let done = matches!(f, Frame::Pong(t) if t == token);
        got.push(f);
        if done {
            return got;
        }
    }
}

fn is_delivery(f: &Frame) -> bool {
    matches!(
        f,
        Frame::Message { .. } | Frame::MessageBatch { .. } | Frame::Gap(_)
    )
}

fn replies(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| !is_delivery(f))
        .map(name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribed_comes_before_a_pipelined_pong() {
    let srv = start_default().await;
    for i in 0..TRIES {
        let mut c = RawClient::connect(srv.addr).await;
        c.send_bytes(&encode(&[
            sub(1, "order.a", SubscribeOptions::default()),
            Frame::Ping(7),
        ]))
        .await;
        let got = until_pong(&mut c, 7).await;
        assert_eq!(
            replies(&got),
            ["SUBSCRIBED(1)", "PONG"],
            "try {i}: replies out of request order"
        );
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_subscribe_publish_ping_in_one_write_are_answered_in_order() {
    let srv = start_default().await;
    for i in 0..TRIES {
        let topic = format!("order.b{i}");
        let mut c = RawClient::connect_raw(srv.addr).await;
        c.send_bytes(&encode(&[
            hello(),
            sub(1, &topic, SubscribeOptions::default()),
            Frame::Publish(publish(5, &topic, "x", true)),
            Frame::Ping(9),
        ]))
        .await;
        let mut got = until_pong(&mut c, 9).await;
        // The delivery of the publish may come before or after the PONG
        // (deliveries interleave), but always after SUBSCRIBED.
        if !got.iter().any(is_delivery) {
            got.push(c.recv().await);
        }
        assert_eq!(
            replies(&got),
            ["WELCOME", "SUBSCRIBED(1)", "PUB_ACK(5)", "PONG"],
            "try {i}: replies out of request order"
        );
        let subscribed = got
            .iter()
            .position(|f| matches!(f, Frame::Subscribed(_)))
            .unwrap();
        let delivered = got.iter().position(is_delivery).unwrap();
        assert!(
            subscribed < delivered,
            "try {i}: a delivery came before its SUBSCRIBED: {:?}",
            got.iter().map(name).collect::<Vec<_>>()
        );
    }
    srv.stop().await;
}

/// The option sets the independent client tried with SUBSCRIBE +
/// UNSUBSCRIBE + PING.
fn option_variants() -> Vec<(&'static str, SubscribeOptions)> {
    vec![
        ("none", SubscribeOptions::default()),
        (
            "last_n",
            SubscribeOptions {
                start: Start::LastN(5),
                ..Default::default()
            },
        ),
        (
            "snapshot",
            SubscribeOptions {
                start: Start::Snapshot,
                ..Default::default()
            },
        ),
        (
            "block",
            SubscribeOptions {
                policy: Some(Policy::Block),
                ..Default::default()
            },
        ),
        (
            "max_batch",
            SubscribeOptions {
                max_batch: Some(16),
                ..Default::default()
            },
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_then_unsubscribe_in_one_write_still_gets_subscribed() {
    let srv = start_default().await;
    // History and state on the topic, so the backlog variants have one.
    let mut p = RawClient::connect(srv.addr).await;
    for k in 0..10 {
        p.publish("order.c", format!("v{k}")).await;
    }
    p.send(state_put_on("order.c", "k")).await;
    p.barrier().await;
    for (what, options) in option_variants() {
        for i in 0..TRIES {
            let mut c = RawClient::connect(srv.addr).await;
            c.send_bytes(&encode(&[
                sub(3, "order.c", options.clone()),
                Frame::Unsubscribe { sub_id: 3 },
                Frame::Ping(11),
            ]))
            .await;
            let got = until_pong(&mut c, 11).await;
            assert_eq!(
                replies(&got),
                ["SUBSCRIBED(3)", "UNSUBSCRIBED(3)", "PONG"],
                "{what}, try {i}: {:?}",
                got.iter().map(name).collect::<Vec<_>>()
            );
            let unsubscribed = got
                .iter()
                .position(|f| matches!(f, Frame::Unsubscribed { .. }))
                .unwrap();
            assert!(
                !got[unsubscribed..].iter().any(is_delivery),
                "{what}, try {i}: a delivery after UNSUBSCRIBED"
            );
        }
    }
    assert_eq!(srv.broker.subscription_count(), 0);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backlog_deliveries_follow_subscribed_and_precede_unsubscribed() {
    let srv = start_default().await;
    let mut p = RawClient::connect(srv.addr).await;
    for k in 0..20 {
        p.publish("order.d", format!("v{k}")).await;
    }
    for k in 0..4 {
        p.send(state_put(&format!("k{k}"))).await;
    }
    let acks = p.barrier().await;
    assert_eq!(acks.len(), 4, "state replies: {acks:?}");
    let starts = [
        (Start::LastN(24), StartStatus::Replay, 24),
        (Start::FromSeq { seq: 1, epoch: 0 }, StartStatus::Replay, 24),
        (Start::Snapshot, StartStatus::Snapshot, 4),
    ];
    for (start, status, backlog) in starts {
        for i in 0..TRIES / 4 {
            let mut c = RawClient::connect(srv.addr).await;
            let options = SubscribeOptions {
                start,
                max_batch: Some(3),
                ..Default::default()
            };
            c.send_bytes(&encode(&[sub(4, "order.d", options), Frame::Ping(13)]))
                .await;
            let mut got = until_pong(&mut c, 13).await;
            match &got[0] {
                Frame::Subscribed(s) => assert_eq!(s.start, status),
                f => panic!("{start:?}, try {i}: first frame {}", name(f)),
            }
            let mut t = Tally::default();
            for f in got.drain(1..) {
                if !matches!(f, Frame::Pong(_)) {
                    assert!(t.record(f));
                }
            }
            while t.accounted() < backlog {
                assert!(t.record(c.recv().await));
            }
            assert_eq!(t.seqs.len() as u64, backlog, "{start:?}, try {i}");
            // UNSUBSCRIBED comes after every delivery of the subscription.
            c.send(Frame::Unsubscribe { sub_id: 4 }).await;
            assert!(matches!(c.recv().await, Frame::Unsubscribed { sub_id: 4 }));
        }
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_of_a_subscription_follows_its_unsubscribed_under_live_traffic() {
    let srv = start_default().await;
    let addr = srv.addr;
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let publisher = tokio::spawn(async move {
        let mut p = RawClient::connect(addr).await;
        for _ in 0..2_000 {
            for _ in 0..50 {
                p.feed(Frame::Publish(publish(0, "order.live", "m", false)))
                    .await;
            }
            p.flush_io().await;
            p.barrier().await;
            if stop_rx.try_recv().is_ok() {
                break;
            }
        }
    });
    for i in 0..TRIES / 4 {
        let mut c = RawClient::connect(srv.addr).await;
        c.subscribe(6, "order.live", SubscribeOptions::default())
            .await;
        // Some live deliveries, then UNSUBSCRIBE while more are coming.
        let mut seen = 0;
        while seen < 10 {
            assert!(is_delivery(&c.recv().await), "try {i}");
            seen += 1;
        }
        c.send_bytes(&encode(&[
            Frame::Unsubscribe { sub_id: 6 },
            Frame::Ping(21),
        ]))
        .await;
        let got = until_pong(&mut c, 21).await;
        let at = got
            .iter()
            .position(|f| matches!(f, Frame::Unsubscribed { sub_id: 6 }))
            .expect("UNSUBSCRIBED");
        assert!(
            !got[at..].iter().any(is_delivery),
            "try {i}: a delivery after UNSUBSCRIBED"
        );
    }
    let _ = stop_tx.send(());
    publisher.await.unwrap();
    srv.stop().await;
}
