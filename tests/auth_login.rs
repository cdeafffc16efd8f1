//! Authentication over real sockets: secrets, JWTs (HS256, EdDSA, RS256),
//! expired and badly signed tokens, the failure delay and its counter,
//! anonymous access when auth is not required.

mod auth_support;
mod common;

use std::time::{Duration, Instant};

use auth_support::*;
use jsonwebtoken::Algorithm;
use serde_json::json;
use spate::auth::PermissionSpec;
use spate_proto::ErrorCode;

fn failures(s: &common::TestServer, reason: &str) -> u64 {
    let t = s.broker.totals();
    let i = spate::auth::metrics::FAILURE_REASONS
        .iter()
        .position(|r| *r == reason)
        .unwrap();
    t.auth.failures[i]
}

#[tokio::test]
async fn right_secret_is_welcome_wrong_secret_fails_after_the_delay() {
    let s = common::start(auth_config(vec![user(
        "alice",
        "s3cret",
        PermissionSpec::default(),
    )]))
    .await;
    login(s.addr, "alice:s3cret").await;

    let t0 = Instant::now();
    refused(s.addr, "alice:wrong", ErrorCode::AuthFailed).await;
    // 200 ms configured, -20% jitter at most.
    assert!(
        t0.elapsed() >= Duration::from_millis(160),
        "{:?}",
        t0.elapsed()
    );
    refused(s.addr, "mallory:s3cret", ErrorCode::AuthFailed).await;
    refused(s.addr, "no-colon", ErrorCode::AuthFailed).await;
    refused(s.addr, "", ErrorCode::AuthFailed).await;
    assert_eq!(failures(&s, "bad_secret"), 2);
    assert_eq!(failures(&s, "malformed"), 1);
    assert_eq!(failures(&s, "no_token"), 1);
    s.stop().await;
}

#[tokio::test]
async fn anonymous_is_allowed_only_when_auth_is_not_required() {
    let mut c = auth_config(vec![user("alice", "pw", PermissionSpec::default())]);
    c.auth.required = false;
    let s = common::start(c).await;
    let mut anon = login(s.addr, "").await;
    anon.subscribe(1, ">", Default::default()).await;
    // A credential, if given, is still checked.
    refused(s.addr, "alice:bad", ErrorCode::AuthFailed).await;
    // A token in neither form is ignored, as before authentication existed.
    let mut legacy = login(s.addr, "secret").await;
    legacy.subscribe(2, ">", Default::default()).await;
    s.stop().await;
}

#[tokio::test]
async fn jwts_of_each_algorithm_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = auth_config(vec![]);
    jwt_config(&mut c, dir.path());
    let s = common::start(c).await;
    for alg in [Algorithm::HS256, Algorithm::EdDSA, Algorithm::RS256] {
        let t = jwt(
            alg,
            "web-42",
            now() + 600,
            json!({"subscribe": {"allow": ["a.>"]}}),
        );
        let mut cl = login(s.addr, &t).await;
        cl.subscribe(1, "a.b", Default::default()).await;
    }
    s.stop().await;
}

#[tokio::test]
async fn expired_and_badly_signed_jwts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = auth_config(vec![]);
    jwt_config(&mut c, dir.path());
    let s = common::start(c).await;

    let expired = jwt(Algorithm::HS256, "web", now() - 10, json!({}));
    refused(s.addr, &expired, ErrorCode::TokenExpired).await;
    assert_eq!(failures(&s, "expired"), 1);

    // Signed with another key.
    let good = jwt(Algorithm::HS256, "web", now() + 600, json!({}));
    let claims = good.split('.').nth(1).unwrap();
    let forged_sig = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &json!({"sub": "web", "exp": now() + 600, "spate": {"publish": {"allow": [">"]}}}),
        &jsonwebtoken::EncodingKey::from_secret(b"another-key-another-key-another-key!"),
    )
    .unwrap();
    refused(s.addr, &forged_sig, ErrorCode::AuthFailed).await;
    // Claims altered under the original signature.
    let mut parts: Vec<&str> = good.split('.').collect();
    let altered = base64_claims(json!({"sub": "root", "exp": now() + 600}));
    assert_ne!(altered, claims);
    parts[1] = &altered;
    refused(s.addr, &parts.join("."), ErrorCode::AuthFailed).await;
    assert_eq!(failures(&s, "bad_token"), 2);
    s.stop().await;
}

#[tokio::test]
async fn a_jwt_is_refused_when_its_algorithm_has_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = auth_config(vec![]);
    jwt_config(&mut c, dir.path());
    c.auth.jwt.rs256_public_key_file = None;
    let s = common::start(c).await;
    let t = jwt(Algorithm::RS256, "web", now() + 600, json!({}));
    refused(s.addr, &t, ErrorCode::AuthFailed).await;
    s.stop().await;
}

fn base64_claims(v: serde_json::Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}
