//! The admin listener's bearer token (`auth.admin_token`): `/v1/stats`
//! needs it, `/metrics` only with `admin_token_metrics`; `spate stats`
//! sends it from SPATE_ADMIN_TOKEN. And `spate passwd` prints a hash that
//! verifies.

mod auth_support;
mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use spate::admin::{self, Exporter, StatsSource};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Starts the admin listener over `s`'s broker on an ephemeral port.
async fn start_admin(s: &common::TestServer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let source: Arc<dyn StatsSource> = s.broker.clone();
    tokio::spawn(admin::serve(
        listener,
        source,
        Exporter::new(None),
        std::future::pending(),
    ));
    addr
}

/// The HTTP status of GET `path` with an optional bearer token.
async fn status(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut body = String::new();
    tokio::time::timeout(common::STEP, s.read_to_string(&mut body))
        .await
        .unwrap()
        .unwrap();
    (body[9..12].parse().unwrap(), body)
}

#[tokio::test]
async fn stats_need_the_token_metrics_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("admin.token");
    std::fs::write(&f, "t0ken\n").unwrap();
    let mut c = common::test_config();
    c.auth.admin_token_file = Some(f);
    let s = common::start(c.clone()).await;
    let addr = start_admin(&s).await;
    assert_eq!(status(addr, "/v1/stats", None).await.0, 401);
    assert_eq!(status(addr, "/v1/stats", Some("wrong")).await.0, 401);
    assert_eq!(status(addr, "/v1/stats", Some("t0ken")).await.0, 200);
    let (code, body) = status(addr, "/metrics", None).await;
    assert_eq!(code, 200);
    assert!(
        body.contains("spate_auth_failures_total{reason=\"bad_secret\"} 0"),
        "{body}"
    );
    assert_eq!(status(addr, "/healthz", None).await.0, 200);

    // Reloaded with admin_token_metrics: /metrics needs it too.
    c.auth.admin_token_metrics = true;
    spate::auth::reload::apply(&s.broker.auth, &c).unwrap();
    assert_eq!(status(addr, "/metrics", None).await.0, 401);
    assert_eq!(status(addr, "/metrics", Some("t0ken")).await.0, 200);

    // The CLI sends SPATE_ADMIN_TOKEN.
    let mut cmd = common::cli::spate_at(&s.addr.to_string());
    cmd.args(["stats", "--admin", &addr.to_string()]);
    let out = common::cli::run(&mut cmd).await;
    assert_ne!(out.code, Some(0), "without the token: {}", out.stdout);
    let mut cmd = common::cli::spate_at(&s.addr.to_string());
    cmd.args(["stats", "--admin", &addr.to_string()])
        .env("SPATE_ADMIN_TOKEN", "t0ken");
    let out = common::cli::run(&mut cmd).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    s.stop().await;
}

#[tokio::test]
async fn passwd_prints_a_hash_that_verifies_and_the_cli_logs_in_with_token() {
    use std::process::Stdio;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_spate"))
        .args(["passwd"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hunter2-long\n")
        .await
        .unwrap();
    let out = tokio::time::timeout(common::STEP, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(spate::auth::users::verify("hunter2-long", Some(&hash)));
    assert!(!spate::auth::users::verify("hunter2", Some(&hash)));

    // That hash in a config: `spate pub --token` logs in, without it fails.
    let mut u = spate::auth::UserConfig {
        name: "ops".into(),
        secret_hash: Some(hash),
        ..Default::default()
    };
    u.permissions.publish = auth_support::allow(&["x"]);
    let s = common::start(auth_support::auth_config(vec![u])).await;
    let mut cmd = common::cli::spate_at(&s.addr.to_string());
    cmd.args(["pub", "x", "hello"])
        .env("SPATE_TOKEN", "ops:hunter2-long");
    let out = common::cli::run(&mut cmd).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mut cmd = common::cli::spate_at(&s.addr.to_string());
    cmd.args(["pub", "--token", "ops:nope", "x", "hello"]);
    let out = common::cli::run(&mut cmd).await;
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("AUTH_FAILED"), "{}", out.stderr);
    s.stop().await;
}
