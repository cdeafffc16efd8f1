//! Core pub/sub over real sockets: round trip, wildcards, fan-out,
//! unsubscribe, per-publisher ordering, and a subscriber vanishing
//! mid-stream without disturbing the others.

mod common;

use common::*;
use spate_proto::{Frame, Message, StartStatus, SubscribeOptions, Text};

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

/// One write holding publishes of every shape — plain ones (read in place
/// from the receive buffer), one with headers and a PUBLISH_BATCH (decoded
/// the ordinary way) and a SUBSCRIBE in between — is handled in stream
/// order: seqs, acks, deliveries and the publisher's own subscription all
/// follow the order the frames were sent in.
#[tokio::test]
async fn pipelined_publishes_of_every_shape_keep_stream_order() {
    let srv = start_default().await;
    let mut sub = RawClient::connect(srv.addr).await;
    sub.subscribe(1, "mix", SubscribeOptions::default()).await;
    let mut p = RawClient::connect(srv.addr).await;
    let with_headers = spate_proto::Publish {
        headers: vec![(Text::from("h"), Text::from("v"))],
        ..publish(2, "mix", "b", true)
    };
    let with_key = spate_proto::Publish {
        key: Some(Text::from("k")),
        ..publish(3, "mix", "c", true)
    };
    p.feed(Frame::Publish(publish(1, "mix", "a", true))).await;
    p.feed(Frame::Publish(with_headers)).await;
    p.feed(Frame::Publish(with_key)).await;
    p.feed(Frame::Subscribe {
        sub_id: 9,
        pattern: Text::from("mix"),
        options: SubscribeOptions::default(),
    })
    .await;
    p.feed(Frame::Publish(publish(4, "mix", "d", true))).await;
    p.feed(Frame::PublishBatch(vec![
        publish(5, "mix", "e", true),
        publish(6, "mix", "f", true),
    ]))
    .await;
    p.feed(Frame::Publish(publish(7, "mix", "g", true))).await;
    p.flush_io().await;

    let (mut acks, mut own, mut subscribed_at) = (Vec::new(), Vec::new(), None);
    while acks.len() < 7 || own.len() < 4 {
        match p.recv().await {
            Frame::PubAck {
                request_id, seq, ..
            } => acks.push((request_id, seq)),
            Frame::Subscribed(s) => subscribed_at = Some(s.last_seq),
            f => own.push(message(f)),
        }
    }
    let want: Vec<(u32, u64)> = (1..=7).map(|i| (i, u64::from(i))).collect();
    assert_eq!(acks, want, "acks in stream order, seq = position");
    assert_eq!(
        subscribed_at,
        Some(3),
        "SUBSCRIBE ran after the first three publishes, before the rest"
    );
    let own: Vec<_> = own
        .iter()
        .map(|(id, m)| (*id, m.seq, m.payload.clone()))
        .collect();
    assert_eq!(
        own,
        vec![
            (9, 4, "d".into()),
            (9, 5, "e".into()),
            (9, 6, "f".into()),
            (9, 7, "g".into())
        ]
    );

    let mut got = Vec::new();
    for _ in 0..7 {
        got.push(message(sub.recv().await).1);
    }
    let payloads: Vec<_> = got.iter().map(|m| (m.seq, m.payload.clone())).collect();
    let want: Vec<(u64, bytes::Bytes)> = "abcdefg"
        .chars()
        .zip(1u64..)
        .map(|(c, s)| (s, c.to_string().into()))
        .collect();
    assert_eq!(payloads, want);
    assert_eq!(got[1].headers, vec![(Text::from("h"), Text::from("v"))]);
    assert_eq!(got[2].key.as_deref(), Some("k"));
    srv.stop().await;
}
