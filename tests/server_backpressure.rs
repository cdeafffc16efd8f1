//! Burst absorption over real sockets: for each policy, a subscriber that
//! stops reading while a publisher bursts, next to a fast subscriber on the
//! same topic. Each test checks the policy's exact promise, that every loss
//! is announced (delivered + gap counts = published), that the fast
//! subscriber gets everything in order, and that the server's own
//! accounting never shows a queue over its bounds.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use spate::broker::Broker;
use spate_proto::{ErrorCode, Frame, GapReason, Policy, Publish, SubscribeOptions, Text};

const BURST: u64 = 100_000;
const PAYLOAD: usize = 256;

fn payload(i: u64) -> bytes::Bytes {
    let mut v = i.to_be_bytes().to_vec();
    v.resize(PAYLOAD, 0);
    bytes::Bytes::from(v)
}

/// A subscriber that keeps up: its queue holds the whole burst.
fn fast_opts() -> SubscribeOptions {
    SubscribeOptions {
        queue_msgs: Some(BURST as u32 + 10),
        queue_bytes: Some(256 * 1024 * 1024),
        ..Default::default()
    }
}

fn opts(policy: Policy, queue: u32) -> SubscribeOptions {
    SubscribeOptions {
        policy: Some(policy),
        queue_msgs: Some(queue),
        ..Default::default()
    }
}

/// Samples the largest queue (messages, bytes) the broker reports for the
/// slow subscription (sub id 1) on `pattern` until stopped.
fn watch_queues(
    broker: Arc<Broker>,
    pattern: &'static str,
) -> (Arc<AtomicBool>, Arc<AtomicU64>, Arc<AtomicU64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let (max_msgs, max_bytes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (s, m, b) = (stop.clone(), max_msgs.clone(), max_bytes.clone());
    tokio::spawn(async move {
        while !s.load(Ordering::Relaxed) {
            for c in broker.stats().connections {
                for q in c
                    .subscriptions
                    .iter()
                    .filter(|q| q.pattern == pattern && q.sub_id == 1)
                {
                    m.fetch_max(q.queue_messages, Ordering::Relaxed);
                    b.fetch_max(q.queue_bytes, Ordering::Relaxed);
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    (stop, max_msgs, max_bytes)
}

/// Publishes `n` messages as fast as the socket takes them; each payload
/// starts with its index (8 bytes) and is padded to `PAYLOAD` bytes so the
/// burst is far larger than what kernel socket buffers can hide.
async fn burst(addr: std::net::SocketAddr, topic: &str, n: u64, keys: u64) -> RawClient {
    let mut p = RawClient::connect(addr).await;
    for i in 0..n {
        let key = (keys > 0).then(|| Text::from(format!("k{}", i % keys)));
        p.feed(Frame::Publish(Publish {
            request_id: i as u32,
            ack: false,
            topic: Text::from(topic),
            key,
            headers: Vec::new(),
            payload: payload(i),
        }))
        .await;
    }
    p.flush_io().await;
    p
}

/// Fast subscriber reads everything, in order, with no gaps.
async fn assert_fast_got_everything(fast: &mut RawClient) {
    let t = fast.tally_until(BURST).await;
    assert!(
        t.gaps.is_empty(),
        "fast subscriber lost messages: {:?}",
        t.gaps
    );
    assert!(
        t.seqs.iter().copied().eq(1..=BURST),
        "fast subscriber saw every seq in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_oldest_keeps_the_newest_and_announces_the_rest() {
    let srv = start_default().await;
    let mut slow = RawClient::connect_slow(srv.addr).await;
    slow.subscribe(1, "bp.oldest", opts(Policy::DropOldest, 100))
        .await;
    let mut fast = RawClient::connect(srv.addr).await;
    fast.subscribe(2, "bp.oldest", fast_opts()).await;
    let (stop, max_msgs, _) = watch_queues(srv.broker.clone(), "bp.oldest");
    let fast_reader = tokio::spawn(async move {
        assert_fast_got_everything(&mut fast).await;
    });
    let mut p = burst(srv.addr, "bp.oldest", BURST, 0).await;
    p.barrier().await;
    fast_reader.await.unwrap();
    let t = slow.tally_until(BURST).await;
    stop.store(true, Ordering::Relaxed);
    assert_eq!(t.accounted(), BURST);
    assert_eq!(*t.seqs.last().unwrap(), BURST, "the newest message is kept");
    assert!(t.lost > 0, "the burst overflowed the queue");
    assert!(t.gaps.iter().all(|g| g.reason == GapReason::DroppedOldest));
    assert!(t.seqs.windows(2).all(|w| w[0] < w[1]), "still in seq order");
    assert!(
        max_msgs.load(Ordering::Relaxed) <= 100,
        "queue stayed within 100 messages"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_newest_keeps_the_oldest_and_announces_the_rest() {
    let srv = start_default().await;
    let mut slow = RawClient::connect_slow(srv.addr).await;
    slow.subscribe(1, "bp.newest", opts(Policy::DropNewest, 100))
        .await;
    let mut fast = RawClient::connect(srv.addr).await;
    fast.subscribe(2, "bp.newest", fast_opts()).await;
    let (stop, max_msgs, _) = watch_queues(srv.broker.clone(), "bp.newest");
    let fast_reader = tokio::spawn(async move { assert_fast_got_everything(&mut fast).await });
    let mut p = burst(srv.addr, "bp.newest", BURST, 0).await;
    p.barrier().await;
    fast_reader.await.unwrap();
    let t = slow.tally_until(BURST).await;
    stop.store(true, Ordering::Relaxed);
    assert_eq!(t.accounted(), BURST);
    assert_eq!(t.seqs[0], 1, "the oldest message is kept");
    assert!(t.lost > 0);
    assert!(t.gaps.iter().all(|g| g.reason == GapReason::DroppedNewest));
    assert!(max_msgs.load(Ordering::Relaxed) <= 100);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflate_delivers_the_latest_value_of_every_key() {
    let srv = start_default().await;
    let mut slow = RawClient::connect_slow(srv.addr).await;
    slow.subscribe(1, "bp.conflate", opts(Policy::Conflate, 1000))
        .await;
    let mut fast = RawClient::connect(srv.addr).await;
    fast.subscribe(2, "bp.conflate", fast_opts()).await;
    let fast_reader = tokio::spawn(async move { assert_fast_got_everything(&mut fast).await });
    let mut p = burst(srv.addr, "bp.conflate", BURST, 10).await;
    p.barrier().await;
    fast_reader.await.unwrap();
    let t = slow.tally_until(BURST).await;
    assert_eq!(t.accounted(), BURST);
    assert!(t.gaps.iter().any(|g| g.reason == GapReason::Conflated));
    let mut last = std::collections::HashMap::new();
    for (k, p) in t.keys.iter().zip(&t.payloads) {
        last.insert(
            k.clone().unwrap(),
            u64::from_be_bytes(p[..8].try_into().unwrap()),
        );
    }
    for k in 0..10u64 {
        let want = BURST - 10 + k;
        assert_eq!(
            last[&format!("k{k}")],
            want,
            "final value of k{k} is the latest published"
        );
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_cuts_the_slow_subscriber_with_a_reason_after_its_grace() {
    let mut cfg = test_config();
    cfg.queues.disconnect_grace_ms = 100;
    let srv = start(cfg).await;
    let mut slow = RawClient::connect_slow(srv.addr).await;
    slow.subscribe(3, "bp.disc", opts(Policy::Disconnect, 100))
        .await;
    let mut fast = RawClient::connect(srv.addr).await;
    fast.subscribe(2, "bp.disc", fast_opts()).await;
    // Publish the burst, pausing between rounds until the server reports
    // the slow subscription cut off (after its 100 ms grace).
    let mut p = RawClient::connect(srv.addr).await;
    let mut sent = 0u64;
    while sent < BURST {
        for _ in 0..1000 {
            sent += 1;
            p.feed(Frame::Publish(publish(0, "bp.disc", payload(sent), false)))
                .await;
        }
        p.flush_io().await;
        p.barrier().await;
        if srv.broker.subscription_count() == 1 {
            break; // the slow subscription was cut off
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let fast_reader = tokio::spawn(async move {
        let t = fast.tally_until(sent).await;
        assert!(t.gaps.is_empty() && t.seqs.iter().copied().eq(1..=sent));
    });
    p.barrier().await;
    fast_reader.await.unwrap();
    let mut t = Tally::default();
    loop {
        match slow.try_recv().await {
            Some(Frame::Error {
                code,
                reference,
                message,
                ref_kind,
            }) => {
                assert_eq!(code, ErrorCode::SlowConsumer as u16, "{message}");
                assert_eq!(reference, 3, "the error names the subscription");
                assert_eq!(ref_kind, Some(spate_proto::RefKind::Subscription));
                break;
            }
            Some(f) => assert!(t.record(f)),
            None => panic!("closed without a SLOW_CONSUMER error"),
        }
    }
    assert!(
        slow.try_recv().await.is_none(),
        "connection closed after the error"
    );
    assert!(t.seqs.windows(2).all(|w| w[0] < w[1]));
    assert!(t.lost > 0, "messages were dropped during the grace period");
    drop(slow);
    while srv.broker.stats().server.disconnects["slow_consumer"] != 1 {
        tokio::task::yield_now().await;
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_is_lossless_slows_only_its_publishers_and_ends_in_a_disconnect() {
    let mut cfg = test_config();
    cfg.queues.block_timeout_ms = 60_000;
    let srv = start(cfg).await;
    let mut slow = RawClient::connect_slow(srv.addr).await;
    slow.subscribe(1, "bp.block", opts(Policy::Block, 100))
        .await;
    let (stop, max_msgs, _) = watch_queues(srv.broker.clone(), "bp.block");

    // The publisher feeding the stalled queue gets stuck...
    let addr = srv.addr;
    let feeding = tokio::spawn(async move {
        let mut p = burst(addr, "bp.block", 50_000, 0).await;
        p.barrier().await;
    });
    while srv.broker.counters.publisher_blocks.load(Ordering::Relaxed) == 0 {
        tokio::task::yield_now().await;
    }
    // ...while a publisher to another topic is not slowed at all.
    let mut other_sub = RawClient::connect(srv.addr).await;
    other_sub
        .subscribe(1, "bp.other", SubscribeOptions::default())
        .await;
    let mut other = burst(srv.addr, "bp.other", 10_000, 0).await;
    other.barrier().await;
    assert_eq!(other_sub.tally_until(10_000).await.lost, 0);
    assert!(
        !feeding.is_finished(),
        "the feeding publisher is still held back"
    );

    // Once the subscriber reads, everything arrives: zero loss.
    let t = slow.tally_until(50_000).await;
    feeding.await.unwrap();
    stop.store(true, Ordering::Relaxed);
    assert_eq!(t.lost, 0, "block never loses");
    assert!(t.seqs.iter().copied().eq(1..=50_000));
    // A queue may exceed its limit by at most one read batch (1,024
    // messages) plus one frame per publisher.
    assert!(
        max_msgs.load(Ordering::Relaxed) <= 100 + 1024 + 1,
        "queue peaked at {}",
        max_msgs.load(Ordering::Relaxed)
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_waits_are_bounded_by_a_disconnect() {
    let mut cfg = test_config();
    cfg.queues.block_timeout_ms = 200;
    let srv = start(cfg).await;
    let mut stuck = RawClient::connect_slow(srv.addr).await;
    stuck
        .subscribe(4, "bp.stuck", opts(Policy::Block, 10))
        .await;
    let mut p = burst(srv.addr, "bp.stuck", 50_000, 0).await;
    p.barrier().await; // completes only because the stuck subscriber was cut off
    let mut t = Tally::default();
    loop {
        match stuck.try_recv().await {
            Some(Frame::Error {
                code, reference, ..
            }) => {
                assert_eq!((code, reference), (ErrorCode::SlowConsumer as u16, 4));
                break;
            }
            Some(f) => assert!(t.record(f)),
            None => panic!("closed without SLOW_CONSUMER"),
        }
    }
    assert_eq!(t.lost, 0);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_budget_caps_all_queues_and_losses_are_announced() {
    let mut cfg = test_config();
    cfg.queues.memory_budget_bytes = 2 * 1024 * 1024;
    cfg.queues.guaranteed_bytes = 64 * 1024;
    cfg.history.max_msgs = 0;
    let srv = start(cfg).await;
    let mut slows = Vec::new();
    for _ in 0..3 {
        let mut s = RawClient::connect_slow(srv.addr).await;
        s.subscribe(1, "bp.budget", opts(Policy::DropNewest, 1_000_000))
            .await;
        slows.push(s);
    }
    let mut peak = 0u64;
    let mut p = RawClient::connect(srv.addr).await;
    for round in 0..20u64 {
        for i in 0..1000u64 {
            let n = round * 1000 + i;
            p.feed(Frame::Publish(publish(
                0,
                "bp.budget",
                vec![n as u8; 1000],
                false,
            )))
            .await;
        }
        p.flush_io().await;
        p.barrier().await;
        peak = peak.max(srv.broker.budget.used());
    }
    let limit = 2 * 1024 * 1024 + 3 * 64 * 1024;
    assert!(peak <= limit, "budget use peaked at {peak} > {limit}");
    for s in slows.iter_mut() {
        let t = s.tally_until(20_000).await;
        assert!(
            t.gaps.iter().any(|g| g.reason == GapReason::MemoryBudget),
            "budget losses announced"
        );
        assert_eq!(t.accounted(), 20_000);
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_rate_throttles_delivery() {
    let srv = start_default().await;
    let mut s = RawClient::connect(srv.addr).await;
    let o = SubscribeOptions {
        max_rate: Some(200),
        ..opts(Policy::DropOldest, 10_000)
    };
    s.subscribe(1, "bp.rate", o).await;
    let mut p = burst(srv.addr, "bp.rate", 300, 0).await;
    p.barrier().await;
    let first = s.recv().await;
    let started = Instant::now();
    let mut t = Tally::default();
    t.record(first);
    while t.accounted() < 300 {
        let f = s.recv_skip_ping().await;
        t.record(f);
    }
    let secs = started.elapsed().as_secs_f64();
    // 299 more messages at 200/s with a burst of 10: at least ~1.4 s.
    assert!(secs >= 1.3, "299 messages in {secs:.2}s exceeds 200 msgs/s");
    assert_eq!(t.lost, 0);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflate_plus_max_rate_is_a_live_dashboard_throttle() {
    let srv = start_default().await;
    let mut s = RawClient::connect(srv.addr).await;
    let o = SubscribeOptions {
        max_rate: Some(50),
        ..opts(Policy::Conflate, 1000)
    };
    s.subscribe(1, "bp.dash", o).await;
    let mut p = burst(srv.addr, "bp.dash", 20_000, 5).await;
    p.barrier().await;
    let t = s.tally_until(20_000).await;
    assert!(
        t.seqs.len() < 100,
        "throttled to a handful of updates, got {}",
        t.seqs.len()
    );
    let latest: Vec<u64> = t.payloads[t.payloads.len() - 5..]
        .iter()
        .map(|p| u64::from_be_bytes(p[..8].try_into().unwrap()))
        .collect();
    let mut sorted = latest.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        (20_000 - 5..20_000).collect::<Vec<_>>(),
        "ends on the latest value of every key"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batching_delivers_message_batch_frames() {
    let srv = start_default().await;
    let mut s = RawClient::connect_slow(srv.addr).await;
    let o = SubscribeOptions {
        max_batch: Some(64),
        linger_us: Some(5_000),
        ..opts(Policy::Block, 10_000)
    };
    s.subscribe(1, "bp.batch", o).await;
    let mut p = burst(srv.addr, "bp.batch", 1000, 0).await;
    p.barrier().await;
    let (mut frames, mut t) = (0, Tally::default());
    while t.accounted() < 1000 {
        let f = s.recv_skip_ping().await;
        if let Frame::MessageBatch { messages, .. } = &f {
            assert!(messages.len() <= 64);
        }
        frames += 1;
        t.record(f);
    }
    assert!(t.seqs.iter().copied().eq(1..=1000));
    assert!(frames < 100, "1000 messages came in {frames} frames");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_batch_frame_publishes_every_entry_in_order() {
    let srv = start_default().await;
    let mut s = RawClient::connect(srv.addr).await;
    s.subscribe(1, "bp.pubbatch", SubscribeOptions::default())
        .await;
    let mut p = RawClient::connect(srv.addr).await;
    let entries = (0..100u32)
        .map(|i| publish(i, "bp.pubbatch", i.to_be_bytes().to_vec(), i == 99))
        .collect();
    p.send(Frame::PublishBatch(entries)).await;
    assert!(matches!(
        p.recv().await,
        Frame::PubAck {
            request_id: 99,
            seq: 100,
            ..
        }
    ));
    let t = s.tally_until(100).await;
    assert!(t.seqs.iter().copied().eq(1..=100));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_over_its_rate_limit_is_slowed_not_dropped() {
    let mut cfg = test_config();
    cfg.rate_limits.publish_per_connection = 500;
    let srv = start(cfg).await;
    let mut s = RawClient::connect(srv.addr).await;
    s.subscribe(1, "bp.pubrate", SubscribeOptions::default())
        .await;
    let started = Instant::now();
    let mut p = burst(srv.addr, "bp.pubrate", 400, 0).await;
    p.barrier().await;
    let secs = started.elapsed().as_secs_f64();
    // 400 messages at 500/s with a burst of 25: at least 0.75 s.
    assert!(
        secs >= 0.6,
        "400 messages at 500 msgs/s took only {secs:.2}s"
    );
    let t = s.tally_until(400).await;
    assert_eq!(t.lost, 0, "slowed, never dropped");
    assert!(t.seqs.iter().copied().eq(1..=400));
    srv.stop().await;
}
