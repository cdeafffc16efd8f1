//! The real `spate serve` binary as an operator runs it: SIGTERM drains
//! queued messages to a connected subscriber (after GOAWAY) and exits 0,
//! readiness turns 503 and new clients are refused while draining, a
//! second signal exits at once, and systemd hears READY, WATCHDOG and
//! STOPPING over its notify socket.

mod admin_support;
mod common;

use std::os::unix::net::UnixDatagram;

use admin_support::{Daemon, WAIT};
use common::*;
use spate::cli::admin_http as client;
use spate_proto::{Frame, Policy, SubscribeOptions};

const MSG: usize = 64 * 1024;

/// Subscribes a non-reading client to `t` with room for everything, then
/// publishes `n` large messages to `t`. Returns the subscriber.
async fn subscriber_with_backlog(d: &Daemon, n: usize) -> RawClient {
    let mut sub = RawClient::connect_with_window(d.listen, 64 * 1024, "drain-test").await;
    let opts = SubscribeOptions {
        policy: Some(Policy::DropOldest),
        queue_msgs: Some(100_000),
        queue_bytes: Some(128 << 20),
        ..SubscribeOptions::default()
    };
    sub.subscribe(1, "t", opts).await;
    let mut publ = RawClient::connect(d.listen).await;
    let payload = vec![1u8; MSG];
    for _ in 0..n {
        publ.feed(Frame::Publish(publish(0, "t", payload.clone(), false)))
            .await;
    }
    publ.flush_io().await;
    publ.barrier().await;
    sub
}

async fn queued_messages(d: &Daemon) -> u64 {
    let s = client::fetch_stats(&d.admin.to_string(), WAIT)
        .await
        .unwrap();
    s.server.queued_messages
}

#[tokio::test]
async fn sigterm_drains_queued_messages_then_exits_zero() {
    const N: usize = 300;
    let mut d = Daemon::start(&["--shutdown-drain-ms", "30000"], &[]);
    let mut sub = subscriber_with_backlog(&d, N).await;
    let queued = queued_messages(&d).await;
    assert!(
        queued > 0,
        "the broker holds a backlog for the drain to flush"
    );

    d.signal(libc::SIGTERM);
    d.wait_log("shutting down: draining");
    // Draining: not ready, not accepting, but the admin listener still
    // answers so orchestrators can watch.
    let (status, _) = client::get(&d.admin.to_string(), "/readyz", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}; log: {:#?}", d.log()));
    assert_eq!(status, 503);
    assert!(
        tokio::net::TcpStream::connect(d.listen).await.is_err(),
        "new clients are refused"
    );

    // Now read: every message arrives, GOAWAY among them, then the close.
    let (mut got, mut goaway) = (0usize, None);
    while let Some(f) = sub.try_recv().await {
        match f {
            Frame::Message { .. } => got += 1,
            Frame::MessageBatch { messages, .. } => got += messages.len(),
            Frame::GoAway { drain_ms, reason } => goaway = Some((drain_ms, reason.to_string())),
            Frame::Ping(t) => sub.send(Frame::Pong(t)).await,
            other => panic!("unexpected frame while draining: {other:?}"),
        }
    }
    assert_eq!(got, N, "every queued message delivered before the close");
    let (drain_ms, reason) = goaway.expect("GOAWAY received");
    assert_eq!(drain_ms, 30_000);
    assert!(reason.contains("shutting down"), "{reason}");

    let status = d.wait_exit(WAIT);
    assert_eq!(status.code(), Some(0), "clean exit after the drain");
    d.wait_log("spate stopped");
}

#[tokio::test]
async fn a_second_signal_exits_at_once() {
    let mut d = Daemon::start(&["--shutdown-drain-ms", "600000"], &[]);
    // A subscriber that never reads keeps the drain busy for ten minutes.
    let _sub = subscriber_with_backlog(&d, 100).await;
    assert!(queued_messages(&d).await > 0);
    d.signal(libc::SIGTERM);
    d.wait_log("shutting down: draining");
    d.signal(libc::SIGINT);
    let status = d.wait_exit(WAIT);
    assert_eq!(
        status.code(),
        Some(128 + libc::SIGINT),
        "exit at once, non-zero"
    );
    d.wait_log("second signal: exiting without draining");
}

#[tokio::test]
async fn systemd_hears_ready_watchdog_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let recv = || {
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).expect("a notification in time");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let mut d = Daemon::start(
        &[],
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "200000"),
        ],
    );
    let first = recv();
    assert!(
        first.lines().any(|l| l == "READY=1"),
        "first notification is READY: {first:?}"
    );
    assert!(
        first.contains("STATUS=serving clients on 127.0.0.1:"),
        "{first:?}"
    );
    // Listeners are bound by the time READY is sent.
    tokio::net::TcpStream::connect(d.listen)
        .await
        .expect("client listener up");
    client::get_ok(&d.admin.to_string(), "/readyz", WAIT)
        .await
        .expect("admin up");
    assert_eq!(recv().trim_end(), "WATCHDOG=1", "watchdog pings follow");

    d.signal(libc::SIGTERM);
    let stopping = loop {
        let m = recv();
        if m.trim_end() != "WATCHDOG=1" {
            break m;
        }
    };
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");
    assert_eq!(d.wait_exit(WAIT).code(), Some(0));
}
