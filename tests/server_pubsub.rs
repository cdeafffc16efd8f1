//! Core pub/sub over real sockets: round trip, wildcards, fan-out,
//! unsubscribe, per-publisher ordering, and a subscriber vanishing
//! mid-stream without disturbing the others.

mod common;

use common::*;
use spate_proto::{Frame, Message, StartStatus, SubscribeOptions};

fn message(f: Frame) -> (u32, Message) {
    match f {
        Frame::Message { sub_id, message } => (sub_id, message),
        f => panic!("expected MESSAGE, got {f:?}"),
    }
}

#[tokio::test]
async fn publish_reaches_a_subscriber_with_seq_and_ack() {
    let srv = start_default().await;
    let mut sub = RawClient::connect(srv.addr).await;
    let s = sub
        .subscribe(7, "orders.eu.created", SubscribeOptions::default())
        .await;
    assert_eq!(s.start, StartStatus::Live);
    assert_eq!(s.last_seq, 0);
    let mut publ = RawClient::connect(srv.addr).await;
    publ.send(Frame::Publish(publish(
        42,
        "orders.eu.created",
        "{\"id\":1}",
        true,
    )))
    .await;
    let ack = publ.recv().await;
    let Frame::PubAck {
        request_id,
        seq,
        receivers,
        epoch,
        ..
    } = ack
    else {
        panic!("{ack:?}")
    };
    assert_eq!((request_id, seq, receivers), (42, 1, 1));
    let (sub_id, m) = message(sub.recv().await);
    assert_eq!(sub_id, 7);
    assert_eq!(m.topic.as_str(), "orders.eu.created");
    assert_eq!(&m.payload[..], b"{\"id\":1}");
    assert_eq!((m.seq, m.epoch), (1, epoch));
    assert_eq!(s.epoch, epoch);
    srv.stop().await;
}

#[tokio::test]
async fn wildcards_match_like_nats() {
    let srv = start_default().await;
    let mut sub = RawClient::connect(srv.addr).await;
    sub.subscribe(1, "orders.>", SubscribeOptions::default())
        .await;
    sub.subscribe(2, "orders.*.created", SubscribeOptions::default())
        .await;
    sub.subscribe(3, "*", SubscribeOptions::default()).await;
    let mut p = RawClient::connect(srv.addr).await;
    for t in [
        "orders.eu.created",
        "orders.eu",
        "orders",
        "orders.us.created.x",
        "other",
    ] {
        p.publish(t, t.to_owned()).await;
    }
    p.barrier().await;
    let mut got: Vec<(u32, String)> = Vec::new();
    for _ in 0..6 {
        let (id, m) = message(sub.recv().await);
        got.push((id, m.topic.to_string()));
    }
    got.sort();
    let want: Vec<(u32, String)> = [
        (1, "orders.eu"),
        (1, "orders.eu.created"),
        (1, "orders.us.created.x"),
        (2, "orders.eu.created"),
        (3, "orders"),
        (3, "other"),
    ]
    .iter()
    .map(|(i, t)| (*i, t.to_string()))
    .collect();
    assert_eq!(got, want);
    assert!(sub.barrier().await.is_empty(), "nothing else delivered");
    srv.stop().await;
}

#[tokio::test]
async fn one_publish_fans_out_to_many_subscribers() {
    let srv = start_default().await;
    let mut subs = Vec::new();
    for i in 0..50 {
        let mut c = RawClient::connect(srv.addr).await;
        c.subscribe(i, "fan.out", SubscribeOptions::default()).await;
        subs.push(c);
    }
    let mut p = RawClient::connect(srv.addr).await;
    p.send(Frame::Publish(publish(1, "fan.out", "x", true)))
        .await;
    let Frame::PubAck { receivers, .. } = p.recv().await else {
        panic!()
    };
    assert_eq!(receivers, 50);
    for (i, c) in subs.iter_mut().enumerate() {
        let (id, m) = message(c.recv().await);
        assert_eq!((id as usize, &m.payload[..]), (i, &b"x"[..]));
    }
    srv.stop().await;
}

#[tokio::test]
async fn unsubscribe_stops_delivery_and_is_confirmed() {
    let srv = start_default().await;
    let mut c = RawClient::connect(srv.addr).await;
    c.subscribe(1, "u.t", SubscribeOptions::default()).await;
    c.publish("u.t", "before").await;
    let (_, m) = message(c.recv().await);
    assert_eq!(&m.payload[..], b"before");
    c.send(Frame::Unsubscribe { sub_id: 1 }).await;
    assert_eq!(c.recv().await, Frame::Unsubscribed { sub_id: 1 });
    c.publish("u.t", "after").await;
    assert!(
        c.barrier().await.is_empty(),
        "no delivery after UNSUBSCRIBED"
    );
    c.send(Frame::Unsubscribe { sub_id: 1 }).await;
    c.expect_error(spate_proto::ErrorCode::UnknownSubscription, false)
        .await;
    srv.stop().await;
}

#[tokio::test]
async fn concurrent_publishers_keep_their_own_order_and_one_global_seq_order() {
    let srv = start_default().await;
    let mut subs = Vec::new();
    for i in 0..3 {
        let mut c = RawClient::connect(srv.addr).await;
        c.subscribe(i, "ord.x", SubscribeOptions::default()).await;
        subs.push(c);
    }
    const PER: u32 = 2000;
    let mut tasks = Vec::new();
    for p in 0..4u32 {
        let addr = srv.addr;
        tasks.push(tokio::spawn(async move {
            let mut c = RawClient::connect(addr).await;
            for i in 0..PER {
                c.feed(Frame::Publish(publish(
                    i,
                    "ord.x",
                    format!("{p}:{i}"),
                    false,
                )))
                .await;
            }
            c.flush_io().await;
            c.barrier().await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut orders = Vec::new();
    for c in subs.iter_mut() {
        let mut last_per_pub = [None::<u32>; 4];
        let mut seqs = Vec::new();
        for _ in 0..4 * PER {
            let (_, m) = message(c.recv().await);
            let s = std::str::from_utf8(&m.payload).unwrap().to_owned();
            let (p, i) = s.split_once(':').unwrap();
            let (p, i): (usize, u32) = (p.parse().unwrap(), i.parse().unwrap());
            assert!(
                last_per_pub[p].is_none_or(|l| i == l + 1),
                "publisher {p} order broken at {i}"
            );
            last_per_pub[p] = Some(i);
            seqs.push((m.seq, s));
        }
        assert!(
            seqs.windows(2).all(|w| w[1].0 == w[0].0 + 1),
            "seqs contiguous and increasing"
        );
        orders.push(seqs);
    }
    assert_eq!(orders[0], orders[1], "subscribers see one order");
    assert_eq!(orders[1], orders[2], "subscribers see one order");
    srv.stop().await;
}

#[tokio::test]
async fn a_subscriber_vanishing_mid_stream_does_not_disturb_others() {
    let srv = start_default().await;
    let mut keep = RawClient::connect(srv.addr).await;
    keep.subscribe(1, "mid.stream", SubscribeOptions::default())
        .await;
    let mut gone = RawClient::connect(srv.addr).await;
    gone.subscribe(1, "mid.stream", SubscribeOptions::default())
        .await;
    let mut p = RawClient::connect(srv.addr).await;
    for i in 0..5000u32 {
        p.feed(Frame::Publish(publish(
            i,
            "mid.stream",
            i.to_be_bytes().to_vec(),
            false,
        )))
        .await;
        if i == 2500 {
            p.flush_io().await;
            drop(std::mem::replace(
                &mut gone,
                RawClient::connect(srv.addr).await,
            ));
        }
    }
    p.flush_io().await;
    p.barrier().await;
    for i in 0..5000u32 {
        let (_, m) = message(keep.recv().await);
        assert_eq!(&m.payload[..], &i.to_be_bytes());
    }
    srv.stop().await;
}
