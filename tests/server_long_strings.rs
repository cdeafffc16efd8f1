//! Client strings of any length (up to the 65,535 bytes a `str` can hold)
//! never make the server panic or echo them whole: error texts quote a
//! short prefix and are capped (protocol.md §13.1).

mod common;

use std::time::{Duration, Instant};

use common::{publish, start_default, RawClient};
use spate_proto::{ErrorCode, Frame, RefKind, SubscribeOptions, Text, MAX_ERROR_TEXT};

/// Waits (bounded) until the broker lists `n` connections.
async fn connections_become(srv: &common::TestServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = srv.broker.stats().connections.len();
        if now == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still {now} connections, expected {n}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Expects a non-fatal ERROR with `code` about `reference`; returns its text.
async fn expect_reject(
    c: &mut RawClient,
    code: ErrorCode,
    reference: u32,
    kind: RefKind,
) -> String {
    match c.recv().await {
        Frame::Error {
            code: got,
            reference: r,
            message,
            ref_kind,
        } => {
            assert_eq!((got, r), (code as u16, reference), "{message}");
            assert_eq!(ref_kind, Some(kind));
            message.to_string()
        }
        f => panic!("expected ERROR {code}, got {f:?}"),
    }
}

#[tokio::test]
async fn a_topic_of_40000_quotes_gets_a_capped_invalid_topic_and_the_server_survives() {
    let srv = start_default().await;
    let mut c = RawClient::connect(srv.addr).await;
    connections_become(&srv, 1).await;
    // Each `"` is escaped as `\"` when quoted: echoed whole this would be an
    // 80,002-byte error text, more than a `str` can hold.
    let topic = "\"".repeat(40_000);
    c.send(Frame::Publish(publish(5, &topic, "x", true))).await;
    let text = expect_reject(&mut c, ErrorCode::InvalidTopic, 5, RefKind::Request).await;
    assert!(text.len() <= MAX_ERROR_TEXT, "{} bytes", text.len());
    assert!(text.contains("40000 bytes"), "{text}");
    // The same for a pattern, a state key and a longest possible topic.
    let long = "x.".repeat(32_767);
    c.send(Frame::Subscribe {
        sub_id: 6,
        pattern: Text::from(long.as_str()),
        options: SubscribeOptions::default(),
    })
    .await;
    let text = expect_reject(&mut c, ErrorCode::InvalidPattern, 6, RefKind::Subscription).await;
    assert!(text.len() <= MAX_ERROR_TEXT, "{} bytes", text.len());
    c.send(Frame::StateGet {
        request_id: 7,
        topic: Text::from("cfg"),
        key: Text::from("\u{1F600}".repeat(16_383).as_str()),
    })
    .await;
    let text = expect_reject(&mut c, ErrorCode::InvalidKey, 7, RefKind::Request).await;
    assert!(text.len() <= MAX_ERROR_TEXT, "{} bytes", text.len());
    // Still usable.
    assert!(c.barrier().await.is_empty());
    c.send(Frame::Publish(publish(8, "ok.topic", "x", true)))
        .await;
    assert!(matches!(
        c.recv().await,
        Frame::PubAck { request_id: 8, .. }
    ));
    // And the connection is accounted for when the client leaves.
    drop(c);
    connections_become(&srv, 0).await;
    srv.stop().await;
}
