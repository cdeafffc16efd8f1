//! Shared by the tests/auth_*.rs files: users with hashed secrets, JWTs
//! signed in the test (HS256 with a generated key, EdDSA and RS256 with the
//! test keys in tests/data/auth), and HELLO with a token over real TCP.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use spate::auth::{PermissionSpec, RuleSpec, UserConfig};
use spate::config::Config;
use spate_proto::{Frame, Hello, Text};

use crate::common::{test_config, RawClient};

/// The HS256 shared key every test uses (written to a file by [`jwt_config`]).
pub const HS_KEY: &[u8] = b"0123456789abcdef0123456789abcdef-test-key";

/// tests/data/auth/`name`.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/auth")
        .join(name)
}

/// Allow-only rules.
pub fn allow(p: &[&str]) -> RuleSpec {
    RuleSpec {
        allow: p.iter().map(|s| s.to_string()).collect(),
        deny: vec![],
    }
}

/// A user with `secret` and `perms`.
pub fn user(name: &str, secret: &str, perms: PermissionSpec) -> UserConfig {
    UserConfig {
        name: name.into(),
        secret_hash: Some(spate::auth::users::hash_secret(secret).unwrap()),
        permissions: perms,
        ..Default::default()
    }
}

/// A test config with `auth.required`, the given users, and a short
/// failure delay.
pub fn auth_config(users: Vec<UserConfig>) -> Config {
    let mut c = test_config();
    c.auth.required = true;
    c.auth.failure_delay_ms = 200;
    c.auth.users = users;
    c
}

/// Adds all three JWT keys to `c` (the HS256 key written into `dir`).
pub fn jwt_config(c: &mut Config, dir: &Path) {
    let hs = dir.join("hs256.key");
    std::fs::write(&hs, HS_KEY).unwrap();
    c.auth.jwt.hs256_key_file = Some(hs);
    c.auth.jwt.ed25519_public_key_file = Some(data("ed25519.pub.pem"));
    c.auth.jwt.rs256_public_key_file = Some(data("rsa.pub.pem"));
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Signs claims `sub`, `exp` and `spate` = `perms` with `alg`.
pub fn jwt(alg: Algorithm, sub: &str, exp: u64, perms: serde_json::Value) -> String {
    let key = match alg {
        Algorithm::HS256 => EncodingKey::from_secret(HS_KEY),
        Algorithm::EdDSA => {
            EncodingKey::from_ed_pem(&std::fs::read(data("ed25519.pem")).unwrap()).unwrap()
        }
        Algorithm::RS256 => {
            EncodingKey::from_rsa_pem(&std::fs::read(data("rsa.pem")).unwrap()).unwrap()
        }
        a => panic!("no test key for {a:?}"),
    };
    let claims = json!({"sub": sub, "exp": exp, "spate": perms});
    jsonwebtoken::encode(&Header::new(alg), &claims, &key).unwrap()
}

/// Connects and sends HELLO with `token`; returns the client and the
/// server's answer (WELCOME or ERROR).
pub async fn hello(addr: SocketAddr, token: &str) -> (RawClient, Frame) {
    let mut c = RawClient::connect_raw(addr).await;
    c.send(Frame::Hello(Hello {
        version: 1,
        flags: 0,
        client_name: Text::from("auth-test"),
        auth_token: Text::from(token),
    }))
    .await;
    let f = c.recv().await;
    (c, f)
}

/// Connects with `token` and expects WELCOME.
pub async fn login(addr: SocketAddr, token: &str) -> RawClient {
    let (c, f) = hello(addr, token).await;
    assert!(
        matches!(f, Frame::Welcome(_)),
        "expected WELCOME, got {f:?}"
    );
    c
}

/// Connects with `token` and expects a fatal ERROR `code`, then the close.
pub async fn refused(addr: SocketAddr, token: &str, code: spate_proto::ErrorCode) -> String {
    let (mut c, f) = hello(addr, token).await;
    let Frame::Error {
        code: got, message, ..
    } = f
    else {
        panic!("expected ERROR {code}, got {f:?}");
    };
    assert_eq!(got, code as u16, "{message}");
    assert!(c.try_recv().await.is_none(), "the connection should close");
    message.to_string()
}

/// The ERROR frame's (code, reference, ref_kind) or a panic.
pub fn error_of(f: &Frame) -> (u16, u32, Option<spate_proto::RefKind>) {
    match f {
        Frame::Error {
            code,
            reference,
            ref_kind,
            ..
        } => (*code, *reference, *ref_kind),
        f => panic!("expected ERROR, got {f:?}"),
    }
}
