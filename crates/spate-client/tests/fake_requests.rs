//! Requests against a scripted server: what the client puts on the wire
//! and how it maps the answers (acks, flush barriers and their errors,
//! state replies, PINGs, frame limits).

mod support;

use bytes::Bytes;
use spate_client::proto::{Frame, StateReply, StateStatus, Text};
use spate_client::{Client, ClientOptions, Condition, Error, ErrorCode, Publication, StateError};
use support::FakeServer;

fn opts() -> ClientOptions {
    ClientOptions::default().reconnect(None)
}

#[tokio::test]
async fn publishes_are_pipelined_in_order_and_flush_waits_for_the_barrier() {
    let server = FakeServer::start().await;
    let (client, mut peer) = tokio::join!(
        async { Client::connect(&server.addr, opts()).await.unwrap() },
        server.accept()
    );
    let publisher = tokio::spawn({
        let client = client.clone();
        async move {
            for i in 0..2000u32 {
                client.publish("t", i.to_string()).await.unwrap();
            }
            client.flush().await
        }
    });
    let mut ids = std::collections::HashSet::new();
    for i in 0..2000u32 {
        match peer.recv().await {
            Frame::Publish(p) => {
                assert_eq!(&*p.topic, "t");
                assert_eq!(p.payload, Bytes::from(i.to_string()));
                assert!(!p.ack);
                assert!(ids.insert(p.request_id), "request ids are unique");
            }
            other => panic!("expected PUBLISH {i}, got {other:?}"),
        }
    }
    let token = match peer.recv().await {
        Frame::Ping(t) => t,
        other => panic!("expected the flush PING, got {other:?}"),
    };
    assert!(!publisher.is_finished());
    peer.send(Frame::Pong(token)).await;
    publisher.await.unwrap().unwrap();
}

#[tokio::test]
async fn flush_returns_the_first_error_since_the_previous_flush() {
    let server = FakeServer::start().await;
    let (client, mut peer) = tokio::join!(
        async { Client::connect(&server.addr, opts()).await.unwrap() },
        server.accept()
    );
    client.publish("a..b", "x").await.unwrap();
    client.publish("c..d", "y").await.unwrap();
    let flush = tokio::spawn({
        let c = client.clone();
        async move { c.flush().await }
    });
    let mut refs = Vec::new();
    for _ in 0..2 {
        match peer.recv().await {
            Frame::Publish(p) => refs.push((p.request_id, p.topic.to_string())),
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }
    let Frame::Ping(token) = peer.recv().await else {
        panic!("expected PING")
    };
    for (id, topic) in &refs {
        peer.send(Frame::error(
            ErrorCode::InvalidTopic,
            *id,
            format!("bad topic {topic}"),
        ))
        .await;
    }
    peer.send(Frame::Pong(token)).await;
    let err = flush.await.unwrap().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidTopic));
    assert!(err.to_string().contains("bad topic a..b"), "{err}");

    // The errors were reported once: the next flush is clean.
    let flush = tokio::spawn({
        let c = client.clone();
        async move { c.flush().await }
    });
    let Frame::Ping(token) = peer.recv().await else {
        panic!("expected PING")
    };
    peer.send(Frame::Pong(token)).await;
    flush.await.unwrap().unwrap();
}

#[tokio::test]
async fn acked_publish_returns_what_the_server_assigned() {
    let server = FakeServer::start().await;
    let (client, mut peer) = tokio::join!(
        async { Client::connect(&server.addr, opts()).await.unwrap() },
        server.accept()
    );
    let ack = tokio::spawn({
        let c = client.clone();
        async move {
            c.publish_acked(Publication::new("t", "v").key("k").header("h", "1"))
                .await
        }
    });
    let Frame::Publish(p) = peer.recv().await else {
        panic!("expected PUBLISH")
    };
    assert!(p.ack);
    assert_eq!(p.key.as_deref(), Some("k"));
    assert_eq!(p.headers, vec![(Text::from("h"), Text::from("1"))]);
    peer.send(Frame::PubAck {
        request_id: p.request_id,
        epoch: 9,
        seq: 77,
        timestamp_us: 123,
        receivers: 2,
    })
    .await;
    let ack = ack.await.unwrap().unwrap();
    assert_eq!(
        (ack.epoch, ack.seq, ack.timestamp_us, ack.receivers),
        (9, 77, 123, 2)
    );
}

#[tokio::test]
async fn acked_publish_rejection_carries_the_code() {
    let server = FakeServer::start().await;
    let (client, mut peer) = tokio::join!(
        async { Client::connect(&server.addr, opts()).await.unwrap() },
        server.accept()
    );
    let ack = tokio::spawn({
        let c = client.clone();
        async move { c.publish_acked(Publication::new("a.*", "v")).await }
    });
    let Frame::Publish(p) = peer.recv().await else {
        panic!("expected PUBLISH")
    };
    peer.send(Frame::error(
        ErrorCode::InvalidTopic,
        p.request_id,
        "wildcard in a publish topic",
    ))
    .await;
    let err = ack.await.unwrap().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidTopic));
}

#[tokio::test]
async fn state_operations_map_conflicts_and_absence() {
    let server = FakeServer::start().await;
    let (client, mut peer) = tokio::join!(
        async { Client::connect(&server.addr, opts()).await.unwrap() },
        server.accept()
    );
    let put = tokio::spawn({
        let c = client.clone();
        async move {
            c.state_put("cfg", "k", "new", Condition::IfRevision(3))
                .await
        }
    });
    let Frame::StatePut {
        request_id,
        condition,
        value,
        ..
    } = peer.recv().await
    else {
        panic!("expected STATE_PUT")
    };
    assert_eq!(condition, Condition::IfRevision(3));
    assert_eq!(value, Bytes::from("new"));
    peer.send(Frame::StateReply(StateReply {
        request_id,
        status: StateStatus::Conflict,
        revision: 5,
        value: Some(Bytes::from("current")),
    }))
    .await;
    match put.await.unwrap() {
        Err(StateError::Conflict { revision, value }) => {
            assert_eq!(revision, 5);
            assert_eq!(value, Some(Bytes::from("current")));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }

    let get = tokio::spawn({
        let c = client.clone();
        async move { c.state_get("cfg", "missing").await }
    });
    let Frame::StateGet { request_id, .. } = peer.recv().await else {
        panic!("expected STATE_GET")
    };
    peer.send(Frame::StateReply(StateReply {
        request_id,
        status: StateStatus::NotFound,
        revision: 0,
        value: None,
    }))
    .await;
    assert_eq!(get.await.unwrap().unwrap(), None);

    let list = tokio::spawn({
        let c = client.clone();
        async move { c.state_list("cfg", "a", 2).await }
    });
    let Frame::StateList {
        request_id,
        after,
        limit,
        ..
    } = peer.recv().await
    else {
        panic!("expected STATE_LIST")
    };
    assert_eq!((&*after, limit), ("a", 2));
    peer.send(Frame::StateListReply {
        request_id,
        more: true,
        entries: vec![spate_client::StateEntry {
            key: Text::from("b"),
            revision: 4,
            value: Bytes::from("vb"),
        }],
    })
    .await;
    let page = list.await.unwrap().unwrap();
    assert!(page.more);
    assert_eq!(&*page.entries[0].key, "b");
}

#[tokio::test]
async fn server_pings_are_answered() {
    let server = FakeServer::start().await;
    let (_client, mut peer) = tokio::join!(
        async { Client::connect(&server.addr, opts()).await.unwrap() },
        server.accept()
    );
    peer.send(Frame::Ping(31)).await;
    assert_eq!(peer.recv().await, Frame::Pong(31));
}

#[tokio::test]
async fn oversize_publish_is_refused_before_sending() {
    let mut server = FakeServer::start().await;
    server.welcome.max_frame = 1024;
    let (client, mut peer) = tokio::join!(
        async { Client::connect(&server.addr, opts()).await.unwrap() },
        server.accept()
    );
    let err = client.publish("t", vec![0u8; 2000]).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { max: 1024, .. }), "{err}");
    let err = client
        .state_put("t", "k", vec![0u8; 2000], Condition::None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StateError::Client(Error::TooLarge { .. })),
        "{err}"
    );
    // Nothing oversize reached the wire: the next frame is the small one.
    client.publish("t", "small").await.unwrap();
    let Frame::Publish(p) = peer.recv().await else {
        panic!("expected PUBLISH")
    };
    assert_eq!(p.payload, Bytes::from("small"));
}

#[tokio::test]
async fn a_fatal_error_fails_the_flush_and_ends_the_client_without_reconnect() {
    let server = FakeServer::start().await;
    let (client, mut peer) = tokio::join!(
        async { Client::connect(&server.addr, opts()).await.unwrap() },
        server.accept()
    );
    client.publish("t", "x").await.unwrap();
    let flush = tokio::spawn({
        let c = client.clone();
        async move { c.flush().await }
    });
    assert!(matches!(peer.recv().await, Frame::Publish(_)));
    assert!(matches!(peer.recv().await, Frame::Ping(_)));
    peer.send(Frame::error(ErrorCode::SlowConsumer, 0, "too slow"))
        .await;
    drop(peer);
    let err = flush.await.unwrap().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::SlowConsumer), "{err}");
    // Without reconnection the client is finished, and says why.
    let err = client.publish("t", "y").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::SlowConsumer), "{err}");
}

#[tokio::test]
async fn close_writes_buffered_publishes_then_closes() {
    let server = FakeServer::start().await;
    let (client, mut peer) = tokio::join!(
        async { Client::connect(&server.addr, opts()).await.unwrap() },
        server.accept()
    );
    for i in 0..100u32 {
        client.publish("t", i.to_string()).await.unwrap();
    }
    client.close().await;
    for _ in 0..100 {
        assert!(matches!(peer.recv().await, Frame::Publish(_)));
    }
    peer.expect_eof().await;
    assert!(matches!(
        client.publish("t", "late").await,
        Err(Error::Closed)
    ));
}
