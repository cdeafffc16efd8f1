//! Reloading users and permissions while clients are connected: in
//! process (the function SIGHUP calls) and through a real SIGHUP to the
//! `spate serve` binary.

mod auth_support;
mod common;

use std::process::Stdio;

use auth_support::*;
use spate::auth::PermissionSpec;
use spate_proto::{ErrorCode, Frame, RefKind};
use tokio::io::{AsyncBufReadExt, BufReader};

fn perms(publish: &[&str], subscribe: &[&str]) -> PermissionSpec {
    PermissionSpec {
        publish: allow(publish),
        subscribe: allow(subscribe),
        ..Default::default()
    }
}

#[tokio::test]
async fn reload_ends_lost_subscriptions_grants_new_permissions_and_closes_removed_users() {
    let cfg = auth_config(vec![
        user("app", "pw", perms(&["a.x"], &["a.>", "b.>"])),
        user("gone", "pw", perms(&[">"], &[">"])),
    ]);
    let s = common::start(cfg.clone()).await;
    let mut app = login(s.addr, "app:pw").await;
    let mut gone = login(s.addr, "gone:pw").await;
    app.subscribe(1, "a.>", Default::default()).await;
    app.subscribe(2, "b.>", Default::default()).await;
    app.send(Frame::Publish(common::publish(9, "c.x", "x", true)))
        .await;
    assert_eq!(
        error_of(&app.recv().await).0,
        ErrorCode::NotAuthorized as u16
    );

    let mut next = cfg.clone();
    next.auth.users = vec![
        // Same secret (hash), b.> no longer subscribable, c.x publishable.
        spate::auth::UserConfig {
            permissions: perms(&["a.x", "b.y", "c.x"], &["a.>"]),
            ..cfg.auth.users[0].clone()
        },
    ];
    spate::auth::reload::apply(&s.broker.auth, &next).unwrap();

    let f = app.recv().await;
    assert_eq!(
        error_of(&f),
        (
            ErrorCode::NotAuthorized as u16,
            2,
            Some(RefKind::Subscription)
        )
    );
    app.send(Frame::Publish(common::publish(10, "c.x", "x", true)))
        .await;
    assert!(matches!(
        app.recv().await,
        Frame::PubAck { request_id: 10, .. }
    ));
    // Subscription 1 still delivers; 2 is gone.
    app.publish("a.x", "1").await;
    app.publish("b.y", "2").await;
    assert!(matches!(app.recv().await, Frame::Message { sub_id: 1, .. }));
    let extra = app.barrier().await;
    assert!(extra.is_empty(), "nothing of subscription 2: {extra:?}");

    let (code, _, _) = error_of(&gone.recv().await);
    assert_eq!(code, ErrorCode::AuthFailed as u16);
    assert!(gone.try_recv().await.is_none());
    s.stop().await;
}

#[tokio::test]
async fn a_config_that_fails_to_load_keeps_the_old_one() {
    let s = common::start(auth_config(vec![user("app", "pw", perms(&[">"], &[]))])).await;
    let mut bad = auth_config(vec![]);
    bad.auth.jwt.hs256_key_file = Some("/nonexistent/key".into());
    assert!(spate::auth::reload::apply(&s.broker.auth, &bad).is_err());
    login(s.addr, "app:pw").await;
    s.stop().await;
}

fn toml_for(publish: &str, subscribe: &str, hash: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_enabled = false\n\n\
         [auth]\nrequired = true\nfailure_delay_ms = 50\n\n\
         [[auth.users]]\nname = \"app\"\nsecret_hash = {hash:?}\n\
         permissions.publish = {{ allow = [{publish}] }}\n\
         permissions.subscribe = {{ allow = [{subscribe}] }}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_to_the_binary_reloads_permissions_without_dropping_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spate.toml");
    let hash = spate::auth::users::hash_secret("pw").unwrap();
    std::fs::write(&path, toml_for("\"a.x\"", "\"a.>\", \"b.>\"", &hash)).unwrap();
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_spate"))
        .args(["serve", "--config"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut log = BufReader::new(server.stderr.take().unwrap()).lines();
    let ready = wait_for(&mut log, "spate ready").await;
    let at = ready.find("listen=").unwrap() + 7;
    let addr: std::net::SocketAddr = ready[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();

    let mut app = login(addr, "app:pw").await;
    app.subscribe(1, "a.>", Default::default()).await;
    app.subscribe(2, "b.>", Default::default()).await;

    std::fs::write(&path, toml_for("\"a.x\", \"c.x\"", "\"a.>\"", &hash)).unwrap();
    let pid = server.id().unwrap() as i32;
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    wait_for(&mut log, "reloaded users").await;

    assert_eq!(
        error_of(&app.recv_skip_ping().await),
        (
            ErrorCode::NotAuthorized as u16,
            2,
            Some(RefKind::Subscription)
        )
    );
    app.send(Frame::Publish(common::publish(3, "c.x", "x", true)))
        .await;
    assert!(matches!(
        app.recv_skip_ping().await,
        Frame::PubAck { request_id: 3, .. }
    ));

    // A broken file is refused and the old configuration stays.
    std::fs::write(&path, "[auth\n").unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    wait_for(&mut log, "reload failed").await;
    app.send(Frame::Publish(common::publish(4, "c.x", "x", true)))
        .await;
    assert!(matches!(
        app.recv_skip_ping().await,
        Frame::PubAck { request_id: 4, .. }
    ));
    let _ = server.kill().await;
}

type Log = tokio::io::Lines<BufReader<tokio::process::ChildStderr>>;

/// Reads the server's log until a line contains `needle` (within STEP).
async fn wait_for(log: &mut Log, needle: &str) -> String {
    tokio::time::timeout(common::STEP, async {
        while let Some(line) = log.next_line().await.unwrap() {
            if line.contains(needle) {
                return line;
            }
        }
        panic!("spate serve exited before logging {needle:?}");
    })
    .await
    .expect("log line in time")
}
