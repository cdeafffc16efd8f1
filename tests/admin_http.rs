//! The admin HTTP listener over a real broker: `/metrics` scraped after a
//! pub/sub run shows counters equal to the traffic, `/v1/stats` shows a
//! slow subscriber's full queue and its drops, and the health endpoints
//! answer as documented.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use spate::admin::{self, Exporter, StatsSource};
use spate::cli::admin_http as client;
use spate::stats::StatsSnapshot;
use spate_proto::{Frame, Policy, SubscribeOptions};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const T: Duration = Duration::from_secs(10);

/// Starts the admin listener for `source` on an ephemeral port.
async fn start_admin(
    source: Arc<dyn StatsSource>,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let exporter = Exporter::new(admin::install_global());
    let task = tokio::spawn(admin::serve(listener, source, exporter, async {
        let _ = rx.await;
    }));
    (addr, tx, task)
}

/// `/metrics` as `series -> value` (series with labels, as printed).
async fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let (status, body) = client::get(&addr.to_string(), "/metrics", T).await.unwrap();
    assert_eq!(status, 200);
    let text = String::from_utf8(body.to_vec()).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').expect("series value");
            (k.to_owned(), v.parse::<f64>().expect("numeric value"))
        })
        .collect()
}

fn messages_in(f: &Frame) -> usize {
    match f {
        Frame::Message { .. } => 1,
        Frame::MessageBatch { messages, .. } => messages.len(),
        _ => 0,
    }
}

#[tokio::test]
async fn metrics_match_the_traffic() {
    const N: usize = 100;
    const PAYLOAD: &[u8] = b"0123456789";
    let srv = start_default().await;
    let (admin_addr, _stop, _task) = start_admin(srv.broker.clone()).await;

    let mut sub = RawClient::connect(srv.addr).await;
    sub.subscribe(1, "orders.>", SubscribeOptions::default())
        .await;
    let mut publ = RawClient::connect(srv.addr).await;
    for i in 0..N {
        publ.feed(Frame::Publish(publish(
            i as u32 + 1,
            "orders.eu",
            PAYLOAD,
            true,
        )))
        .await;
    }
    publ.flush_io().await;
    for _ in 0..N {
        assert!(matches!(publ.recv().await, Frame::PubAck { .. }));
    }
    let mut got = 0;
    while got < N {
        got += messages_in(&sub.recv().await);
    }
    assert_eq!(got, N);
    // Two round trips: the writer counts a batch's bytes after writing it,
    // so once the second PONG arrives every earlier batch is counted.
    sub.barrier().await;
    sub.barrier().await;

    let m = scrape(admin_addr).await;
    let v = |k: &str| {
        *m.get(k)
            .unwrap_or_else(|| panic!("no series {k} in {m:#?}"))
    };
    assert_eq!(v("spate_messages_in_total"), N as f64);
    assert_eq!(v("spate_bytes_in_total"), (N * PAYLOAD.len()) as f64);
    assert_eq!(v("spate_messages_out_total"), N as f64);
    assert!(v("spate_bytes_out_total") >= (N * PAYLOAD.len()) as f64);
    assert_eq!(v("spate_connections"), 2.0);
    assert_eq!(v("spate_subscriptions"), 1.0);
    assert_eq!(v("spate_topics"), 1.0);
    assert_eq!(v("spate_queued_messages"), 0.0);
    assert_eq!(v("spate_accepting"), 1.0);
    assert_eq!(
        v("spate_lost_messages_total{reason=\"dropped_oldest\"}"),
        0.0
    );
    assert_eq!(
        v("spate_subscriptions_by_policy{policy=\"drop-oldest\"}"),
        1.0
    );
    assert_eq!(v("spate_publish_ack_latency_seconds_count"), N as f64);
    assert_eq!(
        v("spate_publish_ack_latency_seconds_bucket{le=\"+Inf\"}"),
        N as f64
    );
    assert!(v("spate_memory_budget_bytes") > 0.0);

    // Counters keep counting across scrapes.
    publ.publish("orders.us", PAYLOAD).await;
    publ.barrier().await;
    assert_eq!(
        scrape(admin_addr).await["spate_messages_in_total"],
        N as f64 + 1.0
    );
    srv.stop().await;
}

/// Upper bound on what loopback sockets can buffer between a writer and
/// a reader that does not read: the kernel's largest send buffer plus the
/// reader's fixed window, with room to spare.
fn socket_capacity_bound() -> usize {
    let wmem_max = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2)?.parse::<usize>().ok())
        .unwrap_or(16 << 20);
    2 * wmem_max + (8 << 20)
}

#[tokio::test]
async fn stats_show_a_slow_subscribers_queue_and_drops() {
    const QUEUE: u32 = 5;
    const MSG: usize = 64 * 1024;
    const ROUND: usize = 16;
    let srv = start_default().await;
    let (admin_addr, _stop, _task) = start_admin(srv.broker.clone()).await;
    let admin = admin_addr.to_string();

    // A subscriber that never reads, with a five-message drop-oldest queue.
    let mut slow = RawClient::connect_with_window(srv.addr, 64 * 1024, "slowpoke").await;
    let opts = SubscribeOptions {
        policy: Some(Policy::DropOldest),
        queue_msgs: Some(QUEUE),
        ..SubscribeOptions::default()
    };
    slow.subscribe(9, "ticks", opts).await;

    // Publish in rounds until the socket is full and the queue with it:
    // then the broker must show a full queue and count the drops.
    let mut publ = RawClient::connect(srv.addr).await;
    let payload = vec![7u8; MSG];
    let max_rounds = socket_capacity_bound() / (ROUND * MSG) + 1;
    let mut published = 0u64;
    let mut seen = None;
    for _ in 0..max_rounds {
        for _ in 0..ROUND {
            publ.feed(Frame::Publish(publish(0, "ticks", payload.clone(), false)))
                .await;
        }
        publ.flush_io().await;
        publ.barrier().await;
        published += ROUND as u64;
        let s = client::fetch_stats(&admin, T).await.unwrap();
        let sub = s
            .connections
            .iter()
            .flat_map(|c| &c.subscriptions)
            .find(|x| x.sub_id == 9)
            .expect("slow subscription listed")
            .clone();
        if sub.queue_messages == u64::from(QUEUE) {
            seen = Some((s, sub));
            break;
        }
    }
    let (s, sub) =
        seen.unwrap_or_else(|| panic!("queue never showed full after {published} messages"));
    assert_eq!(sub.pattern, "ticks");
    assert_eq!(sub.policy, "drop-oldest");
    assert_eq!(sub.queue_limit_messages, u64::from(QUEUE));
    assert!(sub.queue_bytes >= u64::from(QUEUE) * MSG as u64, "{sub:?}");
    let lost = sub.lost.get("dropped_oldest").copied().unwrap_or(0);
    assert!(lost > 0, "drops counted: {sub:?}");
    assert!(sub.gap_notices <= lost, "{sub:?}");
    assert!(
        sub.delivered + lost + sub.queue_messages <= published,
        "{sub:?}"
    );
    assert_eq!(s.server.messages_in, published);
    assert_eq!(s.server.queued_messages, u64::from(QUEUE));
    assert_eq!(s.server.lost_messages["dropped_oldest"], lost);
    let slow_conn = s
        .connections
        .iter()
        .find(|c| c.client_name == "slowpoke")
        .unwrap();
    assert_eq!(slow_conn.subscriptions.len(), 1);
    let topic = s
        .topics
        .iter()
        .find(|t| t.name == "ticks")
        .expect("topic listed");
    assert_eq!(topic.seq, published);
    assert_eq!(topic.subscribers, 1);

    // The same story on /metrics, scraped a moment later (counters only
    // grow; the queue can only have stayed full or drained a little).
    let m = scrape(admin_addr).await;
    assert!(m["spate_lost_messages_total{reason=\"dropped_oldest\"}"] >= lost as f64);
    assert!(m["spate_queued_messages"] <= f64::from(QUEUE));
    assert_eq!(m["spate_messages_in_total"], published as f64);

    // And in the `spate stats` summary.
    let text = spate::cli::stats_report::render(&s, None, 10);
    assert!(text.contains("SLOWEST SUBSCRIBERS"), "{text}");
    assert!(text.contains("100%"), "{text}");
    assert!(text.contains("slowpoke"), "{text}");
    drop(slow);
    srv.stop().await;
}

/// A stats source whose readiness the test controls.
struct Fake {
    accepting: AtomicBool,
}

impl StatsSource for Fake {
    fn stats(&self) -> StatsSnapshot {
        let mut s = StatsSnapshot::default();
        s.server.version = "test".into();
        s.server.accepting = self.accepting.load(Ordering::Relaxed);
        s
    }
    fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::Relaxed)
    }
}

#[tokio::test]
async fn health_readiness_and_unknown_paths() {
    let fake = Arc::new(Fake {
        accepting: AtomicBool::new(true),
    });
    let (addr, stop, task) = start_admin(fake.clone()).await;
    let a = addr.to_string();
    let get = |p: &'static str| {
        let a = a.clone();
        async move { client::get(&a, p, T).await.unwrap() }
    };
    assert_eq!(get("/healthz").await.0, 200);
    assert_eq!(
        get("/readyz").await,
        (200.try_into().unwrap(), "ready\n".into())
    );
    fake.accepting.store(false, Ordering::Relaxed);
    assert_eq!(get("/readyz").await.0, 503);
    assert_eq!(get("/healthz").await.0, 200, "alive while shutting down");
    let (status, body) = get("/nope").await;
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("/metrics"));
    let s = client::fetch_stats(&a, T).await.unwrap();
    assert_eq!(s.server.version, "test");
    assert!(!s.server.accepting);
    let (_, metrics) = get("/metrics").await;
    assert!(String::from_utf8_lossy(&metrics).contains("spate_accepting 0"));

    // Shutdown ends the server and closes the listener.
    stop.send(()).unwrap();
    tokio::time::timeout(T, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let e = client::get(&a, "/healthz", T).await.unwrap_err();
    assert!(matches!(e, client::ClientError::Connect { .. }), "{e}");
}
