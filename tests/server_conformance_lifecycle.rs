//! Connection lifecycle as protocol.md promises it (§5.2, §5.5, §10.2,
//! §13.1): policies that end a connection do so on time even when nothing
//! more happens, a connection never ends inside a frame, and every way a
//! connection ends releases what it held.

mod common;

use std::time::{Duration, Instant};

use common::*;
use spate_proto::{ErrorCode, Frame, Policy, SubscribeOptions};

/// Polls `cond` until it holds; panics after `limit`. For server state
/// that has no frame to wait for (the poll interval is not a sleep that
/// waits for something to have happened: the deadline is the test).
async fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

fn opts(policy: Policy, queue: u32) -> SubscribeOptions {
    SubscribeOptions {
        policy: Some(policy),
        queue_msgs: Some(queue),
        ..Default::default()
    }
}

/// Sends `n` messages of 200 bytes without acks.
async fn burst(p: &mut RawClient, topic: &str, n: u32) {
    for _ in 0..n {
        p.feed(Frame::Publish(publish(0, topic, vec![7u8; 200], false)))
            .await;
    }
    p.flush_io().await;
}

/// Reads the rest of a killed connection: whole frames only, then the
/// ERROR with `code` about `reference`, then the end of the stream.
/// Returns the deliveries tallied before the ERROR.
async fn read_to_error(c: &mut RawClient, code: ErrorCode, reference: u32) -> Tally {
    let mut t = Tally::default();
    loop {
        let next = tokio::time::timeout(STEP, futures::StreamExt::next(&mut c.io))
            .await
            .expect("a frame");
        match next.map(|r| r.expect("whole frames, no reset")) {
            Some(Frame::Error {
                code: got,
                reference: r,
                message,
                ..
            }) => {
                assert_eq!((got, r), (code as u16, reference), "{message}");
                break;
            }
            Some(Frame::Ping(_)) => {}
            Some(f) => assert!(t.record(f.clone()), "unexpected {f:?}"),
            None => panic!("the stream ended without ERROR {code}"),
        }
    }
    // A clean end: no reset, no partial frame (either would be an error).
    let end = tokio::time::timeout(STEP, futures::StreamExt::next(&mut c.io))
        .await
        .expect("the connection closes after the ERROR");
    assert!(end.is_none(), "the stream did not end cleanly: {end:?}");
    t
}

/// Publishes 1 KiB messages to `topic` in paced rounds (each one waits
/// for the server to have handled it) until every (stalled) subscription
/// to it holds `full` messages and its writer took nothing from it for
/// 200 ms of rounds: their subscribers' kernel buffers are full and their
/// writers are stuck. Bounded in rounds.
async fn fill_until_stuck(srv: &TestServer, p: &mut RawClient, topic: &str, full: u64) {
    let mut before: Vec<u64> = Vec::new();
    let mut stuck_since: Option<Instant> = None;
    for _ in 0..2_000 {
        for _ in 0..100 {
            p.feed(Frame::Publish(publish(0, topic, vec![7u8; 1024], false)))
                .await;
        }
        p.flush_io().await;
        p.barrier().await;
        let subs: Vec<(u64, u64)> = srv
            .broker
            .stats()
            .connections
            .iter()
            .flat_map(|c| c.subscriptions.iter())
            .filter(|q| q.pattern == topic)
            .map(|q| (q.queue_messages, q.delivered))
            .collect();
        let delivered: Vec<u64> = subs.iter().map(|s| s.1).collect();
        if subs.iter().all(|s| s.0 >= full) && delivered == before {
            // No progress over rounds spanning 200 ms, not just one round
            // in which a busy machine did not run the writer.
            let since = *stuck_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= Duration::from_millis(200) {
                return;
            }
        } else {
            stuck_since = None;
        }
        before = delivered;
    }
    panic!("the stalled subscribers' queues never stayed full");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_fires_on_a_timer_while_the_queue_stays_full() {
    let mut cfg = test_config();
    cfg.queues.disconnect_grace_ms = 800;
    let srv = start(cfg).await;
    let mut slow = RawClient::connect_with_window(srv.addr, 4096, "stalled").await;
    slow.subscribe(1, "lc.disc", opts(Policy::Disconnect, 50))
        .await;
    let mut p = RawClient::connect(srv.addr).await;
    fill_until_stuck(&srv, &mut p, "lc.disc", 50).await;
    // A burst on top, then silence: nothing is published, the subscriber
    // does not read. The queue stays full, so the grace must end it.
    burst(&mut p, "lc.disc", 20_000).await;
    p.barrier().await;
    let waited = wait_for("slow subscriber cut off", Duration::from_secs(4), || {
        srv.broker.subscription_count() == 0
    })
    .await;
    eprintln!("cut off {waited:?} after the burst");
    let t = read_to_error(&mut slow, ErrorCode::SlowConsumer, 1).await;
    assert!(
        t.lost > 0,
        "the full queue rejected messages during the grace"
    );
    drop(slow);
    wait_for("connection closed", Duration::from_secs(10), || {
        srv.broker.stats().server.disconnects["slow_consumer"] == 1
    })
    .await;
    srv.stop().await;
}

/// Sends PING every 300 ms until `stop` (a client that stops reading to
/// push back keeps its connection alive this way, protocol.md §5.2),
/// without reading anything.
fn keep_alive_without_reading(
    mut sink: futures::stream::SplitSink<
        tokio_util::codec::Framed<tokio::net::TcpStream, spate_proto::Codec>,
        Frame,
    >,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> tokio::task::JoinHandle<
    futures::stream::SplitSink<
        tokio_util::codec::Framed<tokio::net::TcpStream, spate_proto::Codec>,
        Frame,
    >,
> {
    use futures::SinkExt;
    tokio::spawn(async move {
        tokio::pin!(stop);
        for token in 1..=100u64 {
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(Duration::from_millis(300)) => {
                    if sink.send(Frame::Ping(token)).await.is_err() {
                        break;
                    }
                }
            }
        }
        sink
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_timeout_never_cuts_a_frame_in_half() {
    use futures::StreamExt;
    let mut cfg = test_config();
    cfg.queues.block_timeout_ms = 1_000;
    let srv = start(cfg).await;
    let mut slow = RawClient::connect_with_window(srv.addr, 4096, "stalled").await;
    slow.subscribe(1, "lc.block", opts(Policy::Block, 100))
        .await;
    let (sink, mut stream) = slow.io.split();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let pinger = keep_alive_without_reading(sink, stop_rx);
    let mut p = RawClient::connect(srv.addr).await;
    for _ in 0..20_000 {
        p.feed(Frame::Publish(publish(
            0,
            "lc.block",
            vec![5u8; 249 - 30],
            false,
        )))
        .await;
    }
    p.flush_io().await;
    wait_for(
        "block timeout cuts the subscriber",
        Duration::from_secs(10),
        || srv.broker.subscription_count() == 0,
    )
    .await;
    // Stay stalled a little longer (still pinging), then read everything.
    let _ = tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = stop_tx.send(());
    let _sink = pinger.await.unwrap();
    let mut t = Tally::default();
    loop {
        match tokio::time::timeout(STEP, stream.next())
            .await
            .expect("a frame")
        {
            Some(Ok(Frame::Error {
                code, reference, ..
            })) => {
                assert_eq!((code, reference), (ErrorCode::SlowConsumer as u16, 1));
                break;
            }
            Some(Ok(f)) => assert!(t.record(f.clone()) || matches!(f, Frame::Pong(_)), "{f:?}"),
            Some(Err(e)) => panic!("the stream broke after {} messages: {e}", t.seqs.len()),
            None => panic!(
                "the stream ended without ERROR after {} messages",
                t.seqs.len()
            ),
        }
    }
    assert_eq!(t.lost, 0, "block never loses");
    assert!(
        tokio::time::timeout(STEP, stream.next())
            .await
            .expect("EOF")
            .is_none(),
        "the connection closes cleanly after the ERROR"
    );
    p.barrier().await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_still_cleans_up_its_connection() {
    let srv = start_default().await;
    let mut bystander = RawClient::connect(srv.addr).await;
    for i in 0..3u32 {
        let mut c = RawClient::connect(srv.addr).await;
        c.subscribe(1, "lc.panic", SubscribeOptions::default())
            .await;
        c.send(Frame::Subscribe {
            sub_id: 2,
            pattern: spate_proto::Text::from(spate::commands::PANIC_TOPIC),
            options: SubscribeOptions::default(),
        })
        .await;
        let msg = c.expect_error(ErrorCode::Internal, true).await;
        assert!(msg.contains("internal"), "try {i}: {msg}");
    }
    // Only the bystander is left, and it is unaffected.
    wait_for(
        "panicked connections cleaned up",
        Duration::from_secs(5),
        || srv.broker.connection_count() == 1 && srv.broker.subscription_count() == 0,
    )
    .await;
    bystander.barrier().await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_releases_its_permit_in_bounded_time() {
    let mut cfg = test_config();
    cfg.limits.max_connections = 2;
    let srv = start(cfg).await;
    let mut slow = RawClient::connect_with_window(srv.addr, 4096, "stalled").await;
    slow.subscribe(1, "lc.permit", opts(Policy::DropNewest, 100))
        .await;
    let mut p = RawClient::connect(srv.addr).await;
    fill_until_stuck(&srv, &mut p, "lc.permit", 100).await;
    drop(p);
    // The stalled client closes its sending side but never reads again:
    // the server's writer stays stuck on it.
    tokio::io::AsyncWriteExt::shutdown(slow.io.get_mut())
        .await
        .unwrap();
    let took = wait_for("stalled connection closed", Duration::from_secs(9), || {
        srv.broker.connection_count() == 0
    })
    .await;
    assert!(took < Duration::from_secs(7), "closed only after {took:?}");
    // Its permit is free again: two new clients fit.
    let mut a = RawClient::connect(srv.addr).await;
    let mut b = RawClient::connect(srv.addr).await;
    a.barrier().await;
    b.barrier().await;
    drop(slow);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_a_stuck_client_keeps_to_the_drain_deadline() {
    let mut cfg = test_config();
    cfg.timeouts.shutdown_drain_ms = 1_000;
    let srv = start(cfg).await;
    let mut slow = RawClient::connect_with_window(srv.addr, 4096, "stalled").await;
    slow.subscribe(1, "lc.stop", opts(Policy::DropNewest, 100))
        .await;
    let mut p = RawClient::connect(srv.addr).await;
    fill_until_stuck(&srv, &mut p, "lc.stop", 100).await;
    let started = Instant::now();
    srv.stop().await;
    let took = started.elapsed();
    // protocol.md §5.4: drain deadline + at most 1 s.
    assert!(
        took < Duration::from_millis(1_000 + 1_000),
        "shutdown took {took:?} against a 1 s drain"
    );
    assert!(
        took >= Duration::from_millis(900),
        "{took:?}: drained too early"
    );
    drop(slow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_timeout_ends_after_whole_frames_with_its_error() {
    let mut cfg = test_config();
    cfg.timeouts.ping_interval_ms = 0;
    cfg.timeouts.ping_timeout_ms = 1_000;
    let srv = start(cfg).await;
    let mut c = RawClient::connect(srv.addr).await;
    c.subscribe(1, "lc.idle", SubscribeOptions::default()).await;
    let mut p = RawClient::connect(srv.addr).await;
    burst(&mut p, "lc.idle", 100).await;
    p.barrier().await;
    // `c` now stays silent: deliveries, then IDLE_TIMEOUT, then the end.
    let t = read_to_error(&mut c, ErrorCode::IdleTimeout, 0).await;
    assert_eq!(t.seqs.len(), 100);
    srv.stop().await;
}

/// protocol.md §5.2: a subscriber that stops reading to push back keeps its
/// connection with its own PINGs (any frame resets the idle timer), and a
/// publisher held back by `block` is not idle-timed-out while the server
/// does not read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_clients_are_not_idle_timed_out() {
    use futures::StreamExt;
    let mut cfg = test_config();
    cfg.timeouts.ping_interval_ms = 0;
    cfg.timeouts.ping_timeout_ms = 1_000;
    cfg.queues.block_timeout_ms = 2_500;
    let srv = start(cfg).await;
    let mut slow = RawClient::connect_with_window(srv.addr, 4096, "paused").await;
    slow.subscribe(1, "lc.paused", opts(Policy::Block, 10))
        .await;
    let (sink, mut stream) = slow.io.split();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let pinger = keep_alive_without_reading(sink, stop_rx);
    let mut p = RawClient::connect(srv.addr).await;
    let started = Instant::now();
    for _ in 0..20_000 {
        p.feed(Frame::Publish(publish(
            0,
            "lc.paused",
            vec![1u8; 200],
            false,
        )))
        .await;
    }
    p.flush_io().await;
    // The publisher is held back until the block timeout cuts the paused
    // subscriber off (2.5 s, longer than the 1 s idle timeout); its PING,
    // read only then, is answered: it was not timed out meanwhile.
    let token = 77;
    p.send(Frame::Ping(token)).await;
    loop {
        match p.recv().await {
            Frame::Pong(t) if t == token => break,
            Frame::Error { code, message, .. } => panic!("publisher got ERROR {code}: {message}"),
            _ => {}
        }
    }
    assert!(
        started.elapsed() >= Duration::from_millis(2_000),
        "the publisher was held back for the block timeout"
    );
    // The paused subscriber was cut off by its block timeout, not timed
    // out for idleness: its PINGs kept it alive.
    let _ = stop_tx.send(());
    let _sink = pinger.await.unwrap();
    loop {
        match tokio::time::timeout(STEP, stream.next())
            .await
            .expect("a frame")
        {
            Some(Ok(Frame::Error { code, .. })) => {
                assert_eq!(code, ErrorCode::SlowConsumer as u16);
                break;
            }
            Some(Ok(_)) => {}
            other => panic!("no ERROR: {other:?}"),
        }
    }
    srv.stop().await;
}

/// protocol.md §10.2: the block timeout is per wait — one run of publishes
/// that overfills two stalled `block` queues waits one timeout, not one
/// per queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_block_timeout_is_per_wait_not_per_queue() {
    let mut cfg = test_config();
    cfg.queues.block_timeout_ms = 1_000;
    let srv = start(cfg).await;
    let mut a = RawClient::connect_with_window(srv.addr, 4096, "stalled-a").await;
    a.subscribe(1, "lc.wait.a", opts(Policy::Block, 10)).await;
    a.subscribe(2, "lc.wait.fill", opts(Policy::DropNewest, 10))
        .await;
    let mut b = RawClient::connect_with_window(srv.addr, 4096, "stalled-b").await;
    b.subscribe(1, "lc.wait.b", opts(Policy::Block, 10)).await;
    b.subscribe(2, "lc.wait.fill", opts(Policy::DropNewest, 10))
        .await;
    let mut p = RawClient::connect(srv.addr).await;
    // Both subscribers' sockets full first, without blocking anyone.
    fill_until_stuck(&srv, &mut p, "lc.wait.fill", 10).await;
    let started = Instant::now();
    for i in 0..40 {
        let topic = if i % 2 == 0 { "lc.wait.a" } else { "lc.wait.b" };
        p.feed(Frame::Publish(publish(0, topic, vec![1u8; 100], false)))
            .await;
    }
    p.feed(Frame::Ping(5)).await;
    p.flush_io().await;
    assert!(matches!(p.recv().await, Frame::Pong(5)));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(1_700),
        "the publisher waited {took:?} for a 1 s block timeout"
    );
    wait_for("both cut off", Duration::from_secs(5), || {
        srv.broker.subscription_count() == 0
    })
    .await;
    drop((a, b));
    srv.stop().await;
}

/// protocol.md §10.2: the `disconnect` grace period ends once the
/// subscriber catches up (its queue written out and below its limits): a
/// subscriber that was full for less than the grace and then reads again
/// is not cut off later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disconnect_grace_resets_when_the_subscriber_catches_up() {
    let mut cfg = test_config();
    cfg.queues.disconnect_grace_ms = 1_000;
    let srv = start(cfg).await;
    let mut slow = RawClient::connect_with_window(srv.addr, 4096, "recovers").await;
    slow.subscribe(1, "lc.reset", opts(Policy::Disconnect, 50))
        .await;
    let mut p = RawClient::connect(srv.addr).await;
    fill_until_stuck(&srv, &mut p, "lc.reset", 50).await;
    // Full now; it reads everything before the grace ends...
    let published = srv.broker.stats().server.messages_in;
    let mut tally = Tally::default();
    for f in slow.barrier().await {
        assert!(tally.record(f));
    }
    while tally.accounted() < published {
        let f = slow.recv().await;
        assert!(tally.record(f));
    }
    assert_eq!(tally.accounted(), published, "caught up");
    // ...and stays connected well past the grace of its first full period.
    let _ = tokio::time::sleep(Duration::from_millis(1_500)).await;
    slow.barrier().await;
    assert_eq!(srv.broker.subscription_count(), 1);
    srv.stop().await;
}
