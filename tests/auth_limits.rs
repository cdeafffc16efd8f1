//! Per-IP and per-user connection limits and the per-user publish rate,
//! each refused with its own code and counted.

mod auth_support;
mod common;

use auth_support::*;
use spate::auth::PermissionSpec;
use spate_proto::{ErrorCode, Frame};

fn refusals(s: &common::TestServer, reason: &str) -> u64 {
    let i = spate::auth::metrics::REFUSAL_REASONS
        .iter()
        .position(|r| *r == reason)
        .unwrap();
    s.broker.totals().auth.refusals[i]
}

fn publisher() -> PermissionSpec {
    PermissionSpec {
        publish: allow(&[">"]),
        ..Default::default()
    }
}

#[tokio::test]
async fn connections_per_ip_are_capped_and_freed_on_close() {
    let mut c = test_config_open();
    c.limits.max_connections_per_ip = 2;
    let s = common::start(c).await;
    let a = login(s.addr, "").await;
    let _b = login(s.addr, "").await;
    refused(s.addr, "", ErrorCode::TooManyConnectionsFromIp).await;
    assert_eq!(refusals(&s, "ip_connections"), 1);
    drop(a);
    // The slot comes back once the server has seen the close.
    let deadline = tokio::time::Instant::now() + common::STEP;
    loop {
        let (_c, f) = hello(s.addr, "").await;
        if matches!(f, Frame::Welcome(_)) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "slot never freed");
        tokio::task::yield_now().await;
    }
    s.stop().await;
}

fn test_config_open() -> spate::config::Config {
    common::test_config()
}

#[tokio::test]
async fn connections_per_user_are_capped() {
    let mut u = user("svc", "pw", publisher());
    u.max_connections = Some(1);
    let s = common::start(auth_config(vec![u, user("other", "pw", publisher())])).await;
    let _a = login(s.addr, "svc:pw").await;
    refused(s.addr, "svc:pw", ErrorCode::TooManyUserConnections).await;
    // Another user is not affected.
    login(s.addr, "other:pw").await;
    assert_eq!(refusals(&s, "user_connections"), 1);
    s.stop().await;
}

#[tokio::test]
async fn a_users_publish_rate_is_shared_by_its_connections() {
    let mut u = user("svc", "pw", publisher());
    // 1 per second: a burst of one message, the next token a second later.
    u.publish_per_sec = Some(1);
    let s = common::start(auth_config(vec![u])).await;
    let mut a = login(s.addr, "svc:pw").await;
    let mut b = login(s.addr, "svc:pw").await;
    a.send(Frame::Publish(common::publish(1, "t", "x", true)))
        .await;
    assert!(matches!(
        a.recv().await,
        Frame::PubAck { request_id: 1, .. }
    ));
    // The bucket is empty now, for the other connection too.
    b.send(Frame::Publish(common::publish(2, "t", "x", true)))
        .await;
    assert_eq!(error_of(&b.recv().await).0, ErrorCode::RateLimited as u16);
    assert!(refusals(&s, "publish_rate") >= 1);
    s.stop().await;
}
