//! `spate bench --ws` as a user runs it: the built binary's load generator
//! over WebSocket against a spate server's WebSocket listener, and against
//! nats-server's `websocket` listener when nats-server is installed (with
//! `SPATE_REQUIRE_NATS=1`, as scripts/test-all.sh sets, its absence fails
//! the test instead of skipping it). Every message must arrive.

mod common;

use std::process::Stdio;
use std::sync::Arc;

use common::cli::{run, spate_at};
use common::{test_config, STEP};
use serde_json::Value;
use spate::server::Server;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Runs `spate bench fanout` over WebSocket against `addr` as `broker` and
/// checks its JSON report: every message of 2 subscribers delivered.
async fn fanout_over_ws(broker: &str, addr: &str) {
    let out = run(spate_at("127.0.0.1:1").args([
        "bench", "fanout", "--broker", broker, "--ws", "--addr", addr, "-S", "2", "-M", "2000",
        "--json",
    ]))
    .await;
    assert_eq!(out.code, Some(0), "{broker}: {}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).expect("JSON report");
    assert_eq!(report["config"]["ws"], true, "{report}");
    let phase = &report["phases"][0];
    assert_eq!(phase["expected"], 4000, "{phase}");
    assert_eq!(phase["delivered"], 4000, "{broker}: {phase}");
    assert_eq!(phase["lost"], 0, "{phase}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_over_websocket_against_spate() {
    let mut cfg = test_config();
    cfg.server.ws_listen = Some("127.0.0.1:0".parse().unwrap());
    let server = Server::bind(Arc::new(cfg)).await.unwrap();
    let ws = server.ws_local_addr().unwrap();
    let task = tokio::spawn(server.run(std::future::pending()));
    fanout_over_ws("spate", &ws.to_string()).await;
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_over_websocket_against_nats() {
    if which("nats-server").is_none() {
        assert!(
            std::env::var("SPATE_REQUIRE_NATS").as_deref() != Ok("1"),
            "SPATE_REQUIRE_NATS=1 but nats-server is not on PATH"
        );
        eprintln!("skipped: nats-server is not on PATH (apt-get install nats-server)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nats.conf");
    // Port -1: nats-server picks free ports and logs them.
    std::fs::write(
        &conf,
        "listen: \"127.0.0.1:-1\"\nwebsocket {\n  listen: \"127.0.0.1:-1\"\n  no_tls: true\n}\n",
    )
    .unwrap();
    let mut nats = Command::new("nats-server")
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start nats-server");
    let mut log = BufReader::new(nats.stderr.take().unwrap()).lines();
    let marker = "Listening for websocket clients on ws://";
    let addr = tokio::time::timeout(STEP, async {
        while let Some(line) = log.next_line().await.unwrap() {
            if let Some(at) = line.find(marker) {
                return line[at + marker.len()..].trim().to_string();
            }
        }
        panic!("nats-server exited before listening for WebSocket clients");
    })
    .await
    .expect("nats-server did not report its WebSocket port");
    // Keep draining its log so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = log.next_line().await {} });
    fanout_over_ws("nats", &addr).await;
    nats.kill().await.unwrap();
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}
