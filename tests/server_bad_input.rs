//! Every kind of bad input gets an ERROR frame with its code; the server
//! closes that one connection when the stream can no longer be trusted (or
//! rejects just the request when it can) and keeps serving everyone else.

mod common;

use common::*;
use spate_proto::{ErrorCode, Frame, Hello, SubscribeOptions, Text};

/// A healthy pub/sub pair that must keep working after each bad client.
async fn still_serving(addr: std::net::SocketAddr) {
    let mut s = RawClient::connect(addr).await;
    s.subscribe(1, "health.check", SubscribeOptions::default())
        .await;
    let mut p = RawClient::connect(addr).await;
    p.publish("health.check", "ok").await;
    match s.recv().await {
        Frame::Message { message, .. } => assert_eq!(&message.payload[..], b"ok"),
        f => panic!("{f:?}"),
    }
}

#[tokio::test]
async fn garbage_bytes_get_an_error_and_a_close() {
    let srv = start_default().await;
    let mut c = RawClient::connect_raw(srv.addr).await;
    c.send_bytes(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    // "GET " as a length is ~1.2 GB: far over max_frame.
    c.expect_error(ErrorCode::FrameTooLarge, true).await;
    still_serving(srv.addr).await;
    srv.stop().await;
}

#[tokio::test]
async fn wrong_protocol_version_is_refused() {
    let srv = start_default().await;
    let mut c = RawClient::connect_raw(srv.addr).await;
    c.send(Frame::Hello(Hello {
        version: 9,
        flags: 0,
        client_name: Text::from("future"),
        auth_token: Text::default(),
    }))
    .await;
    let msg = c.expect_error(ErrorCode::UnsupportedVersion, true).await;
    assert!(msg.contains('9'), "{msg}");
    still_serving(srv.addr).await;
    srv.stop().await;
}

#[tokio::test]
async fn a_frame_before_hello_is_refused() {
    let srv = start_default().await;
    let mut c = RawClient::connect_raw(srv.addr).await;
    c.publish("a.b", "too early").await;
    c.expect_error(ErrorCode::HelloRequired, true).await;
    still_serving(srv.addr).await;
    srv.stop().await;
}

#[tokio::test]
async fn a_second_hello_is_fatal() {
    let srv = start_default().await;
    let mut c = RawClient::connect(srv.addr).await;
    c.send(Frame::Hello(Hello {
        version: 1,
        ..Hello::default()
    }))
    .await;
    c.expect_error(ErrorCode::HelloRequired, true).await;
    srv.stop().await;
}

#[tokio::test]
async fn an_oversize_frame_is_refused_after_hello_too() {
    let mut cfg = test_config();
    cfg.limits.max_frame_bytes = 4096;
    let srv = start(cfg).await;
    let mut c = RawClient::connect(srv.addr).await;
    assert_eq!(c.welcome.as_ref().unwrap().max_frame, 4096);
    c.publish("big.one", vec![0u8; 8192]).await;
    c.expect_error(ErrorCode::FrameTooLarge, true).await;
    still_serving(srv.addr).await;
    srv.stop().await;
}

#[tokio::test]
async fn a_zero_length_frame_is_malformed() {
    let srv = start_default().await;
    let mut c = RawClient::connect(srv.addr).await;
    c.send_bytes(&[0, 0, 0, 0]).await;
    c.expect_error(ErrorCode::MalformedFrame, true).await;
    srv.stop().await;
}

#[tokio::test]
async fn a_malformed_body_is_fatal() {
    let srv = start_default().await;
    let mut c = RawClient::connect(srv.addr).await;
    // PUBLISH whose topic length runs past the end of the frame.
    c.send_bytes(&[0, 0, 0, 8, 0x10, 0, 0, 0, 1, 0, 0, 50])
        .await;
    c.expect_error(ErrorCode::MalformedFrame, true).await;
    // Invalid UTF-8 in a topic.
    let mut c = RawClient::connect(srv.addr).await;
    c.send_bytes(&[0, 0, 0, 10, 0x10, 0, 0, 0, 1, 0, 0, 2, 0xff, 0xfe])
        .await;
    c.expect_error(ErrorCode::MalformedFrame, true).await;
    still_serving(srv.addr).await;
    srv.stop().await;
}

#[tokio::test]
async fn an_unknown_opcode_is_skipped_and_the_connection_stays() {
    let srv = start_default().await;
    let mut c = RawClient::connect(srv.addr).await;
    c.send_bytes(&[0, 0, 0, 3, 0x7f, 1, 2]).await;
    c.expect_error(ErrorCode::UnknownOpcode, false).await;
    assert!(c.barrier().await.is_empty(), "connection still usable");
    srv.stop().await;
}

#[tokio::test]
async fn invalid_topics_and_patterns_reject_only_the_request() {
    let srv = start_default().await;
    let mut c = RawClient::connect(srv.addr).await;
    for bad in ["", "a..b", ".a", "a.", "a.*", "a.>", "sp ace"] {
        c.send(Frame::Publish(publish(77, bad, "x", true))).await;
        match c.recv().await {
            Frame::Error {
                code,
                reference,
                message,
                ref_kind,
            } => {
                assert_eq!(code, ErrorCode::InvalidTopic as u16, "{bad:?}: {message}");
                assert_eq!(reference, 77);
                assert_eq!(ref_kind, Some(spate_proto::RefKind::Request));
            }
            f => panic!("{bad:?}: {f:?}"),
        }
    }
    for bad in ["", "a.>.b", "a*", "a.b*"] {
        c.send(Frame::Subscribe {
            sub_id: 5,
            pattern: Text::from(bad),
            options: SubscribeOptions::default(),
        })
        .await;
        match c.recv().await {
            Frame::Error {
                code, reference, ..
            } => {
                assert_eq!(
                    (code, reference),
                    (ErrorCode::InvalidPattern as u16, 5),
                    "{bad:?}"
                )
            }
            f => panic!("{bad:?}: {f:?}"),
        }
    }
    let long = "x".repeat(300);
    c.send(Frame::Publish(publish(3, &long, "x", true))).await;
    c.expect_error(ErrorCode::InvalidTopic, false).await;
    c.send(Frame::Publish(publish(4, "fine.topic", "x", true)))
        .await;
    assert!(matches!(
        c.recv().await,
        Frame::PubAck { request_id: 4, .. }
    ));
    srv.stop().await;
}

#[tokio::test]
async fn bad_subscribe_options_are_rejected() {
    let srv = start_default().await;
    let mut c = RawClient::connect(srv.addr).await;
    let cases = [
        SubscribeOptions {
            start: spate_proto::Start::LastN(5),
            ..Default::default()
        },
        SubscribeOptions {
            queue_msgs: Some(0),
            ..Default::default()
        },
        SubscribeOptions {
            unknown_critical: vec![0x42],
            ..Default::default()
        },
    ];
    for (i, o) in cases.into_iter().enumerate() {
        c.send(Frame::Subscribe {
            sub_id: i as u32,
            pattern: Text::from("opts.>"),
            options: o,
        })
        .await;
        c.expect_error(ErrorCode::InvalidOption, false).await;
    }
    c.subscribe(9, "opts.a", SubscribeOptions::default()).await;
    c.send(Frame::Subscribe {
        sub_id: 9,
        pattern: Text::from("opts.b"),
        options: SubscribeOptions::default(),
    })
    .await;
    c.expect_error(ErrorCode::DuplicateSubscription, false)
        .await;
    srv.stop().await;
}

#[tokio::test]
async fn a_silent_client_is_dropped_after_the_hello_timeout() {
    let mut cfg = test_config();
    cfg.timeouts.hello_ms = 200;
    let srv = start(cfg).await;
    let mut c = RawClient::connect_raw(srv.addr).await;
    c.expect_error(ErrorCode::HelloRequired, true).await;
    srv.stop().await;
}

#[tokio::test]
async fn connections_over_the_limit_are_refused_with_a_reason() {
    let mut cfg = test_config();
    cfg.limits.max_connections = 2;
    let srv = start(cfg).await;
    let _a = RawClient::connect(srv.addr).await;
    let _b = RawClient::connect(srv.addr).await;
    let mut c = RawClient::connect_raw(srv.addr).await;
    c.expect_error(ErrorCode::TooManyConnections, true).await;
    srv.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_answering_pings_is_disconnected() {
    let mut cfg = test_config();
    cfg.timeouts.ping_interval_ms = 100;
    cfg.timeouts.ping_timeout_ms = 300;
    let srv = start(cfg).await;
    let mut c = RawClient::connect(srv.addr).await;
    assert!(
        matches!(c.recv().await, Frame::Ping(_)),
        "server pings an idle client"
    );
    c.expect_error(ErrorCode::IdleTimeout, true).await;
    srv.stop().await;
}

/// Valid publishes and then a malformed one in the same write: the valid
/// ones (read in place from the receive buffer) are published, then the
/// malformed one is reported and the connection closed.
#[tokio::test]
async fn publishes_before_a_malformed_frame_in_one_write_are_delivered() {
    let srv = start_default().await;
    let mut sub = RawClient::connect(srv.addr).await;
    sub.subscribe(1, "t", SubscribeOptions::default()).await;
    let mut c = RawClient::connect(srv.addr).await;
    let mut wire = Vec::new();
    for i in 0..3u32 {
        wire.extend_from_slice(&Frame::Publish(publish(i, "t", "ok", false)).to_bytes());
    }
    // PUBLISH with invalid UTF-8 in its topic.
    wire.extend_from_slice(&[0, 0, 0, 10, 0x10, 0, 0, 0, 9, 0, 0, 2, 0xff, 0xfe]);
    c.send_bytes(&wire).await;
    c.expect_error(ErrorCode::MalformedFrame, true).await;
    for seq in 1..=3 {
        match sub.recv().await {
            Frame::Message { message, .. } => {
                assert_eq!((message.seq, &message.payload[..]), (seq, &b"ok"[..]))
            }
            f => panic!("expected MESSAGE, got {f:?}"),
        }
    }
    still_serving(srv.addr).await;
    srv.stop().await;
}
