//! A connection whose JWT expires while connected: GOAWAY first (with the
//! time left), then ERROR TOKEN_EXPIRED and the close.

mod auth_support;
mod common;

use std::time::Duration;

use auth_support::*;
use jsonwebtoken::Algorithm;
use serde_json::json;
use spate_proto::{ErrorCode, Frame};

#[tokio::test]
async fn goaway_before_expiry_then_token_expired() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = auth_config(vec![]);
    jwt_config(&mut c, dir.path());
    c.auth.expiry_notice_secs = 2;
    let s = common::start(c).await;
    let t = jwt(
        Algorithm::HS256,
        "web",
        now() + 3,
        json!({"subscribe": {"allow": [">"]}}),
    );
    let mut cl = login(s.addr, &t).await;
    cl.subscribe(1, "a", Default::default()).await;
    match cl.recv_skip_ping().await {
        Frame::GoAway { drain_ms, reason } => {
            assert!(drain_ms <= 2_000, "{drain_ms}");
            assert!(reason.as_str().contains("expires"), "{reason}");
        }
        f => panic!("expected GOAWAY, got {f:?}"),
    }
    // Still usable until the expiry.
    cl.barrier().await;
    let f = tokio::time::timeout(Duration::from_secs(10), cl.recv_skip_ping())
        .await
        .unwrap();
    assert_eq!(error_of(&f).0, ErrorCode::TokenExpired as u16);
    assert!(cl.try_recv().await.is_none());
    s.stop().await;
}
