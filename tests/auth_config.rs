//! The `[auth]` section through the binary: `spate config check` reports
//! bad users, hashes, patterns and key files; `spate serve` warns loudly
//! when auth is off on a listener that is not loopback, and not otherwise.

mod common;

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn config_check_reports_auth_problems() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[auth]\nrequired = true\n\n[auth.jwt]\nhs256_key_file = \"/nonexistent/k\"\n\n\
         [[auth.users]]\nname = \"a:b\"\nsecret_hash = \"plaintext\"\n\
         permissions.publish = { allow = [\"orders.>.eu\"] }\n",
    )
    .unwrap();
    let mut cmd = common::cli::spate_at("127.0.0.1:1");
    cmd.args(["config", "check"]).arg(&bad);
    let out = common::cli::run(&mut cmd).await;
    assert_ne!(out.code, Some(0));
    let text = format!("{}{}", out.stdout, out.stderr);
    for field in [
        "auth.users[0].name",
        "auth.users[0].secret_hash",
        "auth.users[0].permissions.publish",
        "auth.jwt.hs256_key_file",
    ] {
        assert!(text.contains(field), "{field} not reported:\n{text}");
    }

    let good = dir.path().join("good.toml");
    let hash = spate::auth::users::hash_secret("pw").unwrap();
    std::fs::write(
        &good,
        format!(
            "[auth]\nrequired = true\n\n[[auth.users]]\nname = \"a\"\nsecret_hash = {hash:?}\n\
             permissions.publish = {{ allow = [\"orders.>\"] }}\n"
        ),
    )
    .unwrap();
    let mut cmd = common::cli::spate_at("127.0.0.1:1");
    cmd.args(["config", "check"]).arg(&good);
    let out = common::cli::run(&mut cmd).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
}

/// Starts `spate serve` with `args`, returns its log up to "spate ready".
async fn log_until_ready(args: &[&str]) -> String {
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_spate"))
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut log = BufReader::new(server.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    tokio::time::timeout(common::STEP, async {
        while let Some(line) = log.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("spate ready") {
                return;
            }
        }
        panic!("spate serve exited:\n{seen}");
    })
    .await
    .expect("ready in time");
    let _ = server.kill().await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_broker_on_a_public_listener_warns_loudly() {
    let log = log_until_ready(&["--listen", "0.0.0.0:0", "--no-admin"]).await;
    assert!(log.contains("AUTHENTICATION IS OFF"), "{log}");
    let log = log_until_ready(&["--listen", "127.0.0.1:0", "--no-admin"]).await;
    assert!(!log.contains("AUTHENTICATION IS OFF"), "{log}");
}
