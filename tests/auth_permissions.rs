//! Permissions over real sockets: publish, subscribe and state refused
//! with NOT_AUTHORIZED and their reference while the connection stays
//! open; wildcard escalation; deny wins; permissions from a JWT's claims.

mod auth_support;
mod common;

use auth_support::*;
use jsonwebtoken::Algorithm;
use serde_json::json;
use spate::auth::{PermissionSpec, RuleSpec};
use spate_proto::{Condition, ErrorCode, Frame, RefKind, Text};

fn orders_user() -> spate::auth::UserConfig {
    user(
        "orders",
        "pw",
        PermissionSpec {
            publish: allow(&["orders.>"]),
            subscribe: RuleSpec {
                allow: vec!["orders.>".into()],
                deny: vec!["orders.secret.>".into()],
            },
            state_read: allow(&["cfg.*"]),
            state_write: allow(&["cfg.orders"]),
        },
    )
}

#[tokio::test]
async fn publish_is_refused_outside_the_allowed_topics_and_the_connection_stays_open() {
    let s = common::start(auth_config(vec![orders_user()])).await;
    let mut c = login(s.addr, "orders:pw").await;
    c.send(Frame::Publish(common::publish(7, "billing.eu", "x", true)))
        .await;
    let (code, reference, kind) = error_of(&c.recv().await);
    assert_eq!(
        (code, reference, kind),
        (ErrorCode::NotAuthorized as u16, 7, Some(RefKind::Request))
    );
    // Order kept inside one run: refused, accepted, refused.
    c.feed(Frame::Publish(common::publish(8, "billing.x", "x", true)))
        .await;
    c.feed(Frame::Publish(common::publish(9, "orders.eu", "x", true)))
        .await;
    c.feed(Frame::Publish(common::publish(10, "x", "x", true)))
        .await;
    c.flush_io().await;
    assert_eq!(error_of(&c.recv().await).1, 8);
    assert!(matches!(
        c.recv().await,
        Frame::PubAck { request_id: 9, .. }
    ));
    assert_eq!(error_of(&c.recv().await).1, 10);
    c.barrier().await;
    s.stop().await;
}

#[tokio::test]
async fn wildcard_escalation_is_refused() {
    let s = common::start(auth_config(vec![orders_user()])).await;
    let mut c = login(s.addr, "orders:pw").await;
    for (id, pattern) in [(1, ">"), (2, "*.eu"), (3, "orders"), (4, "orders.*.>")] {
        c.send(Frame::Subscribe {
            sub_id: id,
            pattern: Text::from(pattern),
            options: Default::default(),
        })
        .await;
        let f = c.recv().await;
        let ok = matches!(f, Frame::Subscribed(_));
        // orders.*.> can reach orders.secret.x, which is denied.
        assert!(!ok, "{pattern} should be refused, got {f:?}");
        assert_eq!(
            error_of(&f),
            (
                ErrorCode::NotAuthorized as u16,
                id,
                Some(RefKind::Subscription)
            )
        );
    }
    // Inside the allowed space and clear of the denied one: fine.
    c.subscribe(5, "orders.eu.>", Default::default()).await;
    s.stop().await;
}

#[tokio::test]
async fn allowed_patterns_subscribe_and_receive() {
    let s = common::start(auth_config(vec![orders_user()])).await;
    let mut c = login(s.addr, "orders:pw").await;
    // (orders.*.created would be refused: it can match orders.secret.created.)
    c.subscribe(1, "orders.eu.*", Default::default()).await;
    c.subscribe(2, "orders.eu", Default::default()).await;
    c.publish("orders.eu.created", "hi").await;
    let f = c.recv().await;
    assert!(matches!(f, Frame::Message { sub_id: 1, .. }), "{f:?}");
    s.stop().await;
}

#[tokio::test]
async fn state_reads_and_writes_are_checked_separately() {
    let s = common::start(auth_config(vec![orders_user()])).await;
    let mut c = login(s.addr, "orders:pw").await;
    let put = |id, topic: &str| Frame::StatePut {
        request_id: id,
        topic: Text::from(topic),
        key: Text::from("k"),
        condition: Condition::None,
        value: bytes::Bytes::from_static(b"v"),
    };
    let get = |id, topic: &str| Frame::StateGet {
        request_id: id,
        topic: Text::from(topic),
        key: Text::from("k"),
    };
    c.send(put(1, "cfg.orders")).await;
    assert!(matches!(c.recv().await, Frame::StateReply(_)));
    c.send(put(2, "cfg.billing")).await;
    assert_eq!(
        error_of(&c.recv().await),
        (ErrorCode::NotAuthorized as u16, 2, Some(RefKind::Request))
    );
    c.send(get(3, "cfg.billing")).await;
    assert!(matches!(c.recv().await, Frame::StateReply(_)));
    c.send(get(4, "other")).await;
    assert_eq!(error_of(&c.recv().await).0, ErrorCode::NotAuthorized as u16);
    c.send(Frame::StateList {
        request_id: 5,
        topic: Text::from("other"),
        after: Text::default(),
        limit: 0,
    })
    .await;
    assert_eq!(
        error_of(&c.recv().await),
        (ErrorCode::NotAuthorized as u16, 5, Some(RefKind::Request))
    );
    c.barrier().await;
    s.stop().await;
}

#[tokio::test]
async fn a_jwt_carries_its_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = auth_config(vec![]);
    jwt_config(&mut cfg, dir.path());
    let s = common::start(cfg).await;
    let t = jwt(
        Algorithm::EdDSA,
        "browser-1",
        now() + 600,
        json!({"publish": {"allow": ["chat.>"], "deny": ["chat.admin"]}}),
    );
    let mut c = login(s.addr, &t).await;
    c.send(Frame::Publish(common::publish(1, "chat.room1", "x", true)))
        .await;
    assert!(matches!(
        c.recv().await,
        Frame::PubAck { request_id: 1, .. }
    ));
    c.send(Frame::Publish(common::publish(2, "chat.admin", "x", true)))
        .await;
    assert_eq!(error_of(&c.recv().await).1, 2);
    // No subscribe permission in the claim: nothing may be subscribed.
    c.send(Frame::Subscribe {
        sub_id: 3,
        pattern: Text::from("chat.room1"),
        options: Default::default(),
    })
    .await;
    assert_eq!(error_of(&c.recv().await).0, ErrorCode::NotAuthorized as u16);
    s.stop().await;
}
