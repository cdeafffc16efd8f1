//! End-to-end checks of the load generator (crates/spate-bench) against
//! real sockets: an in-process spate server (the spate adapter, over TCP
//! and WebSocket) and the byte forwarder. They assert correctness only
//! (every message accounted for, loss announced), never speed: speed
//! belongs to the benchmarks.

use std::sync::Arc;
use std::time::Duration;

use spate::config::Config;
use spate::server::Server;
use spate_bench::{BenchConfig, BrokerKind, Report, Scenario, SlowMode};
use spate_proto::Policy;

async fn spate_server() -> std::net::SocketAddr {
    let mut cfg = Config::default();
    cfg.server.listen = "127.0.0.1:0".parse().unwrap();
    cfg.server.admin_enabled = false;
    let server = Server::bind(Arc::new(cfg)).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run(std::future::pending()));
    addr
}
fn config(scenario: Scenario, broker: BrokerKind, addr: std::net::SocketAddr) -> BenchConfig {
    let mut c = BenchConfig::new(scenario, broker);
    c.addr = addr;
    c.messages = 3_000;
    c.timeout = Duration::from_secs(30);
    c.idle = Duration::from_secs(3);
    c
}

fn assert_complete(r: &Report) {
    for p in &r.phases {
        assert!(p.errors.is_empty(), "{}: {:?}", p.name, p.errors);
        assert!(!p.truncated, "{} truncated", p.name);
        assert_eq!(p.delivered, p.expected, "{}", p.name);
        assert_eq!((p.lost, p.seq_skipped, p.seq_backwards), (0, 0, 0));
        assert!(p.latency_us.max > 0.0 || p.expected == 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_against_spate() {
    let addr = spate_server().await;
    let mut c = config(Scenario::Fanout, BrokerKind::Spate, addr);
    c.publishers = 2;
    c.subscribers = 3;
    c.payload = 100;
    let r = spate_bench::run(&c, 2).await.unwrap();
    assert_complete(&r);
    assert_eq!(r.phases[0].published, 6_000);
    assert_eq!(r.phases[0].delivered, 18_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_against_spate_over_websocket() {
    let mut cfg = Config::default();
    cfg.server.listen = "127.0.0.1:0".parse().unwrap();
    cfg.server.ws_listen = Some("127.0.0.1:0".parse().unwrap());
    cfg.server.admin_enabled = false;
    let server = Server::bind(Arc::new(cfg)).await.unwrap();
    let addr = server.ws_local_addr().unwrap();
    tokio::spawn(server.run(std::future::pending()));
    let mut c = config(Scenario::Fanout, BrokerKind::Spate, addr);
    c.ws = true;
    c.publishers = 2;
    c.subscribers = 3;
    c.payload = 100;
    let r = spate_bench::run(&c, 2).await.unwrap();
    assert_complete(&r);
    assert_eq!(r.phases[0].delivered, 18_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_topics_and_wildcards_against_spate() {
    let addr = spate_server().await;
    let mut c = config(Scenario::ManyTopics, BrokerKind::Spate, addr);
    c.topics = 200;
    c.connections = 3;
    c.publishers = 2;
    assert_complete(&spate_bench::run(&c, 2).await.unwrap());

    let mut c = config(Scenario::Wildcards, BrokerKind::Spate, addr);
    c.wildcards = 500;
    c.connections = 4;
    let r = spate_bench::run(&c, 2).await.unwrap();
    assert_complete(&r);
    assert_eq!(r.phases[1].subscriptions, 501);
    assert!(r.comparison.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_subscriber_loss_is_accounted_for() {
    let addr = spate_server().await;
    let mut c = config(Scenario::Burst, BrokerKind::Spate, addr);
    c.subscribers = 2;
    c.payload = 1024;
    c.messages = 20_000;
    c.slow = SlowMode::Stall;
    c.sub_options.policy = Some(Policy::DropOldest);
    c.sub_options.queue_msgs = Some(100);
    let r = spate_bench::run(&c, 2).await.unwrap();
    for p in &r.phases {
        // The small queue applies to the fast subscribers too: they may
        // lose messages under a full-speed publisher, but never silently.
        assert!(p.errors.is_empty() && !p.truncated, "{p:?}");
        assert_eq!(p.delivered + p.gaps_reported, p.expected, "{p:?}");
    }
    let slow = r.phases[1]
        .slow
        .as_ref()
        .expect("second phase has the slow one");
    assert!(!slow.disconnected);
    // Never-silent loss: what it did not get, the broker announced.
    assert_eq!(slow.delivered + slow.gaps_reported, slow.expected);
    assert!(
        slow.gaps_reported > 0,
        "a stalled 100-message queue must drop"
    );
    assert_eq!(slow.seq_skipped, slow.gaps_reported);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_through_forwarder() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(spate_bench::forwarder::serve(listener));
    let mut c = config(Scenario::Fanout, BrokerKind::Forwarder, addr);
    c.publishers = 3;
    c.subscribers = 4;
    let r = spate_bench::run(&c, 2).await.unwrap();
    assert_complete(&r);
    assert_eq!(r.phases[0].delivered, 36_000);
}
