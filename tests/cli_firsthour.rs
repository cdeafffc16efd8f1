//! What a new user trips over in the first hour (issue #14), through the
//! built binary against a real server: error messages that say each cause
//! once and what to do, addresses as users type them, flags named in
//! errors, keys in text output, ids that survive JSON, and `ping`, `info`,
//! `pub --ack`.

mod common;

use std::process::Stdio;

use common::cli::{run, spate_at};
use common::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::process::Command;

fn spate(srv: &TestServer) -> Command {
    spate_at(&srv.addr.to_string())
}

/// A loopback port nothing listens on.
async fn dead_addr() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap().to_string();
    drop(l);
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_connect_is_said_once_with_a_hint() {
    let addr = dead_addr().await;
    let expected = format!(
        "spate: cannot connect to {addr}: Connection refused (os error 111)\n\
         hint: is `spate serve` running on {addr}? (choose another broker with --server or SPATE_SERVER)\n"
    );
    let cases: [&[&str]; 4] = [
        &["pub", "t", "x"],
        &["sub", "t", "--no-reconnect"],
        &["state", "get", "t", "k"],
        &["ping", "-c", "1"],
    ];
    for args in cases {
        let out = run(spate_at(&addr).args(args)).await;
        assert_eq!(out.code, Some(1), "{args:?}");
        assert_eq!(out.stderr, expected, "{args:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_is_said_once() {
    let srv = start_default().await;
    let out = run(spate(&srv).args(["pub", "orders.*", "x"])).await;
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.stderr,
        "spate: server error INVALID_TOPIC (201): invalid topic \"orders.*\": wildcards `*` and `>` \
         are only allowed in subscription patterns, not in a published topic\n"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_names_resolve() {
    let srv = start_default().await;
    let addr = format!("localhost:{}", srv.addr.port());
    let out = run(spate_at(&addr).args(["pub", "--ack", "t", "x"])).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "1\n");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_server_is_recognised() {
    // Answers whatever it is sent like an HTTP server does to garbage.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let http = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf).await;
        let _ = s
            .write_all(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await;
    });
    let out = run(spate_at(&addr).args(["pub", "t", "x"])).await;
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.stderr,
        format!(
            "spate: protocol error: {addr} is an HTTP server (the admin port?), not a spate client listener\n"
        )
    );
    http.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_admin_port_says_how_to_avoid_it() {
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = taken.local_addr().unwrap().to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spate"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--admin-listen", &admin])
        .env_remove("SPATE_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = run(&mut cmd).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("cannot listen on {admin}"))
            && out.stderr.contains("--admin-listen")
            && out.stderr.contains("--no-admin"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_errors_name_the_flags() {
    let srv = start_default().await;
    for (flag, args) in [
        ("--from", &["sub", "orders.*", "--from", "1"][..]),
        ("--last", &["sub", "orders.>", "--last", "3"][..]),
        ("--snapshot", &["sub", "cfg.*", "--snapshot"][..]),
    ] {
        let out = run(spate(&srv).args(args)).await;
        assert_eq!(out.code, Some(1), "{args:?}");
        assert!(
            out.stderr
                .starts_with(&format!("spate: {flag} needs a literal topic")),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("LAST_N"), "{}", out.stderr);
    }
    for flag in ["--queue", "--queue-bytes", "--max-batch"] {
        let out = run(spate(&srv).args(["sub", "t", flag, "0"])).await;
        assert_eq!(out.code, Some(2), "{flag}");
        assert!(out.stderr.contains(flag), "{}", out.stderr);
        assert!(!out.stderr.contains("queue_msgs"), "{}", out.stderr);
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_output_shows_keys_and_deletes() {
    let srv = start_default().await;
    for args in [
        &["state", "put", "cfg.app", "color", "blue"][..],
        &["state", "del", "cfg.app", "color"][..],
        &["pub", "cfg.app", "plain"][..],
    ] {
        let out = run(spate(&srv).args(args)).await;
        assert_eq!(out.code, Some(0), "{args:?}: {}", out.stderr);
    }
    let out = run(spate(&srv).args(["sub", "cfg.app", "--from", "1", "-n", "3"])).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "cfg.app color=blue\ncfg.app color (deleted)\ncfg.app plain\n"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epochs_are_json_strings_that_can_be_passed_back() {
    let srv = start_default().await;
    for p in ["a", "b", "c"] {
        let out = run(spate(&srv).args(["pub", "hist.a", p])).await;
        assert_eq!(out.code, Some(0), "{}", out.stderr);
    }
    let out =
        run(spate(&srv).args(["sub", "hist.a", "--from", "1", "-n", "1", "-f", "json"])).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let epoch = v["epoch"].as_str().expect("epoch is a string").to_owned();
    epoch.parse::<u64>().expect("a decimal u64");
    assert_eq!(v["seq"], 1, "counts stay numbers");
    for given in [epoch.clone(), format!("\"{epoch}\"")] {
        let out = run(spate(&srv).args([
            "sub", "hist.a", "--from", "2", "--epoch", &given, "-n", "2", "-f", "json",
        ]))
        .await;
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        let lines: Vec<Value> = out
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines.len(),
            2,
            "no notice, just the messages: {}",
            out.stdout
        );
        assert_eq!(
            (lines[0]["payload"].as_str(), lines[1]["payload"].as_str()),
            (Some("b"), Some("c"))
        );
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pub_ack_prints_each_seq() {
    let srv = start_default().await;
    let out = run(spate(&srv).args(["pub", "--ack", "acks", "x"])).await;
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (Some(0), "1\n"),
        "{}",
        out.stderr
    );
    let mut child = spate(&srv)
        .args(["pub", "--ack", "acks"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"a\nb\n").await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(STEP, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2\n3\n");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_prints_each_round_trip() {
    let srv = start_default().await;
    let out = run(spate(&srv).args(["ping", "-c", "3", "-i", "0"])).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let pongs: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("PONG from"))
        .collect();
    assert_eq!(pongs.len(), 3, "{}", out.stdout);
    assert!(
        pongs[2].contains("seq=3 time=") && pongs[2].ends_with(" ms"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("3 pings, rtt min/avg/max = "),
        "{}",
        out.stdout
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_shows_the_welcome_and_says_when_admin_is_missing() {
    let srv = start_default().await;
    let admin = dead_addr().await;
    let out = run(spate(&srv).args(["info", "--admin", &admin])).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("server_id:         {}\n", srv.broker.server_id)),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("admin:             not reachable"),
        "{}",
        out.stdout
    );
    let out = run(spate(&srv).args(["info", "--admin", &admin, "-f", "json"])).await;
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["server_id"], srv.broker.server_id.to_string());
    assert!(v["max_frame"].as_u64().unwrap() > 0);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_uses_spate_server() {
    let srv = start_default().await;
    let out = run(spate(&srv).args(["bench", "fanout", "-S", "1", "-M", "200"])).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    // The table's first line names the address used (another broker may
    // well listen on the default port on a test machine).
    assert!(
        out.stdout.contains(&format!(" at {}:", srv.addr)),
        "{}",
        out.stdout
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_output_is_a_normal_end() {
    let srv = start_default().await;
    let admin = dead_addr().await;
    for args in [
        &["info", "--admin", admin.as_str()][..],
        &["ping", "-c", "3", "-i", "0"][..],
    ] {
        let mut child = spate(&srv).args(args).spawn().unwrap();
        // Close our end of its stdout before it writes: like `| head -0`.
        drop(child.stdout.take());
        let out = tokio::time::timeout(STEP, child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
    srv.stop().await;
}
