//! The `spate pub`, `spate sub` and `spate state` commands as a user runs
//! them: the built binary as child processes, against a real server in
//! this process. Exit statuses, stdout lines and stderr messages are the
//! interface under test.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::cli::{run, spate_at, Output};
use common::*;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// A server retaining `n` messages per topic (the default keeps 128).
async fn start_with_history(n: u32) -> TestServer {
    let mut cfg = test_config();
    cfg.history.max_msgs = n;
    cfg.history.max_bytes = 16 * 1024 * 1024;
    start(cfg).await
}

fn spate(srv: &TestServer) -> Command {
    spate_at(&srv.addr.to_string())
}

/// Pipes `lines` into `spate pub TOPIC` and returns its output.
async fn pub_lines(srv: &TestServer, topic: &str, lines: impl Iterator<Item = String>) -> Output {
    let mut child = spate(srv)
        .args(["pub", topic])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut text = String::new();
    for l in lines {
        text.push_str(&l);
        text.push('\n');
    }
    stdin.write_all(text.as_bytes()).await.unwrap();
    drop(stdin);
    wait(child).await
}

async fn wait(child: Child) -> Output {
    let out = tokio::time::timeout(STEP, child.wait_with_output())
        .await
        .expect("command did not finish")
        .unwrap();
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Waits until the server holds `n` subscriptions (a process subscribed).
async fn subscriptions(srv: &TestServer, n: usize) {
    tokio::time::timeout(STEP, async {
        while srv.broker.subscription_count() != n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the subscriber did not subscribe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_lines_are_published_in_order_and_replayed_by_sub() {
    let srv = start_with_history(1000).await;
    let out = pub_lines(&srv, "hist.lines", (1..=1000).map(|i| i.to_string())).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);

    let out = run(spate(&srv).args([
        "sub",
        "hist.lines",
        "--from",
        "1",
        "--count",
        "1000",
        "--format",
        "json",
    ]))
    .await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1000);
    for (i, v) in lines.iter().enumerate() {
        let n = i as u64 + 1;
        assert_eq!(v["type"], "message");
        assert_eq!(v["topic"], "hist.lines");
        assert_eq!(v["seq"], n);
        assert_eq!(v["payload"], n.to_string());
        assert!(
            v["epoch"].as_str().unwrap().parse::<u64>().unwrap() > 0,
            "epoch is a string"
        );
        assert!(v["timestamp_us"].as_u64().unwrap() > 0);
    }

    let out = run(spate(&srv).args(["sub", "hist.lines", "--last", "2", "--count", "2"])).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "hist.lines 999\nhist.lines 1000\n");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_sub_prints_what_pub_sends() {
    let srv = start_default().await;
    let sub = spate(&srv)
        .args(["sub", "live.>", "--count", "2", "--format", "json"])
        .spawn()
        .unwrap();
    subscriptions(&srv, 1).await;
    let out = run(spate(&srv).args(["pub", "live.a", "hello"])).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let out = run(spate(&srv).args([
        "pub", "live.b", "world", "--key", "k1", "--header", "unit=C",
    ]))
    .await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);

    let out = wait(sub).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["topic"], "live.a");
    assert_eq!(lines[0]["payload"], "hello");
    assert_eq!(lines[0]["key"], Value::Null);
    assert_eq!(lines[1]["key"], "k1");
    assert_eq!(lines[1]["headers"]["unit"], "C");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pub_exits_non_zero_with_the_servers_error() {
    let srv = start_default().await;
    let out = run(spate(&srv).args(["pub", "bad..topic", "x"])).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("INVALID_TOPIC"),
        "stderr: {}",
        out.stderr
    );

    let out = pub_lines(&srv, "also.*.bad", (0..10).map(|i| i.to_string())).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("INVALID_TOPIC"),
        "stderr: {}",
        out.stderr
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_commands_fail_cleanly_without_a_server() {
    let srv = start_default().await;
    let addr = srv.addr.to_string();
    srv.stop().await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spate"));
    cmd.args(["pub", "--server", &addr, "t", "x"]);
    let out = run(&mut cmd).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("cannot connect"),
        "stderr: {}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_commands_print_revisions_and_signal_conflicts() {
    let srv = start_default().await;
    let st = |args: &[&str]| {
        let mut c = spate(&srv);
        c.arg("state").args(args);
        c
    };
    let out = run(&mut st(&["put", "cfg", "mode", "on", "--if-absent"])).await;
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (Some(0), "1\n"),
        "{}",
        out.stderr
    );

    let out = run(&mut st(&["put", "cfg", "mode", "off", "--if-absent"])).await;
    assert_eq!(out.code, Some(3));
    assert!(out.stderr.contains("conflict"), "{}", out.stderr);
    assert!(out.stderr.contains("revision 1"), "{}", out.stderr);

    let out = run(&mut st(&[
        "put",
        "cfg",
        "mode",
        "off",
        "--if-revision",
        "1",
    ]))
    .await;
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (Some(0), "2\n"),
        "{}",
        out.stderr
    );

    let out = run(&mut st(&["get", "cfg", "mode"])).await;
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "off\n"));
    let out = run(&mut st(&["get", "cfg", "mode", "--format", "json"])).await;
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"key":"mode","value":"off","revision":2})
    );

    let out = run(&mut st(&["get", "cfg", "missing"])).await;
    assert_eq!(out.code, Some(4));
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);

    run(&mut st(&["put", "cfg", "alpha", "1"])).await;
    let out = run(&mut st(&["list", "cfg"])).await;
    assert_eq!(out.stdout, "alpha 3 1\nmode 2 off\n");

    let out = run(&mut st(&["del", "cfg", "mode", "--if-revision", "1"])).await;
    assert_eq!(out.code, Some(3));
    let out = run(&mut st(&["del", "cfg", "mode"])).await;
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "4\n"));
    let out = run(&mut st(&["del", "cfg", "mode"])).await;
    assert_eq!(out.code, Some(4));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_json_sub_accounts_for_every_message_with_gaps() {
    let srv = start_default().await;
    let mut sub = spate(&srv)
        .args([
            "sub",
            "burst.>",
            "--policy",
            "drop-oldest",
            "--queue",
            "100",
            "--format",
            "json",
        ])
        .spawn()
        .unwrap();
    subscriptions(&srv, 1).await;
    // Nobody reads the subscriber's stdout while 200,000 messages go out.
    const N: u64 = 200_000;
    let out = pub_lines(&srv, "burst.load", (1..=N).map(|i| i.to_string())).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);

    let mut lines = BufReader::new(sub.stdout.take().unwrap()).lines();
    let (mut delivered, mut lost, mut last_payload) = (0u64, 0u64, String::new());
    while delivered + lost < N {
        let line = tokio::time::timeout(STEP, lines.next_line())
            .await
            .expect("sub stopped printing")
            .unwrap()
            .expect("sub exited");
        let v: Value = serde_json::from_str(&line).unwrap();
        match v["type"].as_str().unwrap() {
            "message" => {
                delivered += 1;
                last_payload = v["payload"].as_str().unwrap().to_string();
            }
            "gap" => {
                assert_eq!(v["reason"], "dropped_oldest");
                assert_eq!(v["subscription"], 1);
                lost += v["count"].as_u64().unwrap();
            }
            other => panic!("unexpected line type {other}: {line}"),
        }
    }
    assert_eq!(delivered + lost, N);
    assert!(lost > 0);
    assert_eq!(last_payload, N.to_string(), "the newest message was kept");
    sub.kill().await.unwrap();
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_exits_quietly_when_its_reader_goes_away() {
    let srv = start_with_history(1000).await;
    let out = pub_lines(&srv, "pipe.t", (1..=500).map(|i| format!("line {i}"))).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let mut sub = spate(&srv)
        .args(["sub", "pipe.t", "--from", "1"])
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(sub.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(STEP, lines.next_line())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.as_deref(), Some("pipe.t line 1"));
    drop(lines); // like `| head -1`
                 // The next message makes the subscriber write into the closed pipe.
    let out = run(spate(&srv).args(["pub", "pipe.t", "more"])).await;
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let mut stderr = String::new();
    let status = tokio::time::timeout(STEP, sub.wait())
        .await
        .unwrap()
        .unwrap();
    tokio::io::AsyncReadExt::read_to_string(&mut sub.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    srv.stop().await;
}

/// `spate bench` as a user runs it, against a live broker: a lossless
/// fan-out and a many-topics run, each reporting every message delivered
/// in its `--json` output (what benches/compare.sh reads).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_reports_every_message_delivered_as_json() {
    let srv = start_default().await;
    let addr = srv.addr.to_string();
    let cases: [&[&str]; 2] = [
        &["fanout", "-S", "3", "-M", "2000", "--policy", "block"],
        &["many-topics", "-T", "50", "-C", "2", "-M", "1000"],
    ];
    for args in cases {
        let out = run(spate(&srv)
            .arg("bench")
            .args(args)
            .args(["--addr", &addr, "--json"]))
        .await;
        assert_eq!(out.code, Some(0), "{args:?}: {}", out.stderr);
        let report: Value = serde_json::from_str(&out.stdout).expect("JSON report");
        let phase = &report["phases"][0];
        assert!(phase["expected"].as_u64().unwrap() > 0, "{phase}");
        assert_eq!(phase["delivered"], phase["expected"], "{args:?}: {phase}");
        assert_eq!(phase["lost"], 0, "{phase}");
        assert!(phase["delivered_rate"].as_f64().unwrap() > 0.0, "{phase}");
    }
}
