//! Lock order under stress: the sweeper (run back to back, so idle topics
//! are forgotten within milliseconds), `/metrics` and `/v1/stats` scrapes
//! over HTTP, subscribes/unsubscribes and publishes all at once, on a real
//! server. A deadlock fails the test by a deadline instead of hanging it:
//! the runtime is shut down with a timeout and the sweeper thread is never
//! joined blindly.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::*;
use spate::admin::{self, Exporter, StatsSource};
use spate::cli::admin_http as client;
use spate::config::settings::HistoryOverride;
use spate_proto::{Frame, SubscribeOptions, Text};
use tokio::net::TcpListener;

/// How long every actor keeps going.
const RUN: Duration = Duration::from_secs(3);
/// How long the actors may take to finish after `RUN`: far more than any
/// one operation needs, far less than a hang.
const GRACE: Duration = Duration::from_secs(20);
/// How long the sweeper and stats threads may take to notice the stop
/// (one sweep or one walk).
const THREAD_STOP: Duration = Duration::from_secs(5);
/// Distinct topics the traffic cycles through.
const TOPICS: u64 = 40;
/// Publishes per round trip.
const ROUND: u64 = 100;

#[test]
fn sweeper_scrapes_and_traffic_never_deadlock() {
    let stop = Arc::new(AtomicBool::new(false));
    let sweeps = Arc::new(AtomicU64::new(0));
    let walks = Arc::new(AtomicU64::new(0));
    let (sweeper_done_tx, sweeper_done) = mpsc::channel::<()>();
    let (walker_done_tx, walker_done) = mpsc::channel::<()>();

    let scenario = {
        let (stop, sweeps, walks) = (stop.clone(), sweeps.clone(), walks.clone());
        async move {
            let mut cfg = test_config();
            // Topics under `s.` keep no history, so they go idle and are
            // forgotten (the path that removes from the topic map while
            // holding the topic's mutex); `h.` topics keep some history.
            cfg.history.max_msgs = 0;
            cfg.history.overrides.push(HistoryOverride {
                pattern: "h.>".into(),
                max_msgs: 16,
                max_bytes: 64 * 1024,
                max_age_secs: 3_600,
            });
            let srv = start(cfg).await;
            let admin = start_admin(srv.broker.clone()).await;

            // The sweeper, back to back on a thread of its own.
            let broker = srv.broker.clone();
            let stop1 = stop.clone();
            std::thread::spawn(move || {
                while !stop1.load(Ordering::Relaxed) {
                    broker.sweep(Duration::from_millis(1));
                    sweeps.fetch_add(1, Ordering::Relaxed);
                }
                let _ = sweeper_done_tx.send(());
            });

            // And snapshots back to back, in-process, besides the HTTP
            // scrapers: many more walks over the topic map.
            let broker = srv.broker.clone();
            let (stop2, walks2) = (stop.clone(), walks.clone());
            std::thread::spawn(move || {
                while !stop2.load(Ordering::Relaxed) {
                    std::hint::black_box(broker.stats());
                    walks2.fetch_add(1, Ordering::Relaxed);
                }
                let _ = walker_done_tx.send(());
            });

            let until = Instant::now() + RUN;
            let mut actors = Vec::new();
            for p in 0..2u64 {
                actors.push(tokio::spawn(publisher(srv.addr, p, until)));
            }
            actors.push(tokio::spawn(subscriber(srv.addr, until)));
            for path in ["/metrics", "/v1/stats", "/metrics"] {
                actors.push(tokio::spawn(scraper(admin.clone(), path, until)));
            }
            let mut counts = Vec::new();
            for a in actors {
                counts.push(a.await.map_err(|e| format!("actor failed: {e}"))?);
            }

            // Quiet now: the running history total equals the snapshot's.
            let totals = srv.broker.totals().server.history_bytes;
            let snap = srv.broker.stats().server.history_bytes;
            if totals != snap {
                return Err(format!("history_bytes: running {totals}, snapshot {snap}"));
            }
            srv.stop().await;
            Ok::<_, String>(counts)
        }
    };
    // The runtime runs on a thread of its own and the deadline is kept
    // here with std primitives: a deadlock can block every tokio worker,
    // and then no tokio timer would ever fire.
    let (done_tx, done) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let outcome = rt.block_on(scenario);
        rt.shutdown_timeout(Duration::from_secs(1));
        let _ = done_tx.send(outcome);
    });
    let outcome = done.recv_timeout(RUN + GRACE).unwrap_or_else(|_| {
        Err(format!(
            "the traffic did not finish within {:?}: deadlock",
            RUN + GRACE
        ))
    });
    stop.store(true, Ordering::Relaxed);
    let sweeper_ok = sweeper_done.recv_timeout(THREAD_STOP).is_ok();
    let walker_ok = walker_done.recv_timeout(THREAD_STOP).is_ok();
    let counts = outcome.unwrap_or_else(|e| panic!("{e}"));
    assert!(sweeper_ok, "the sweeper thread is stuck: deadlock");
    assert!(walker_ok, "the stats thread is stuck: deadlock");
    let sweeps = sweeps.load(Ordering::Relaxed);
    let walks = walks.load(Ordering::Relaxed);
    eprintln!("sweeps {sweeps}, stats walks {walks}, operations per actor {counts:?}");
    assert!(sweeps > 100, "the sweeper barely ran: {sweeps}");
    assert!(
        counts.iter().all(|n| *n > 0),
        "an actor did nothing: {counts:?}"
    );
}

/// Publishes (some acknowledged, some with state) across the topics until
/// `until`; returns how many round trips it made.
async fn publisher(addr: std::net::SocketAddr, p: u64, until: Instant) -> u64 {
    let mut c = RawClient::connect(addr).await;
    let mut n = 0u64;
    while Instant::now() < until {
        for i in 0..ROUND {
            let k = (n * ROUND + i + p) % TOPICS;
            // Mostly fresh topics, used once: they go idle at once and the
            // sweeper forgets them while the walks are going on.
            let topic = match k % 4 {
                0 => format!("h.{k}"),
                1 => format!("s.{k}"),
                _ => format!("s.{p}.{n}.{i}"),
            };
            c.feed(Frame::Publish(publish(
                0,
                &topic,
                vec![1u8; 32],
                i % 5 == 0,
            )))
            .await;
        }
        c.flush_io().await;
        for f in c.barrier().await {
            assert!(matches!(f, Frame::PubAck { .. }), "unexpected {f:?}");
        }
        n += 1;
    }
    n
}

/// Subscribes and unsubscribes, literal topics and wildcards, until
/// `until`; returns how many cycles it made.
async fn subscriber(addr: std::net::SocketAddr, until: Instant) -> u64 {
    let mut c = RawClient::connect(addr).await;
    let mut n = 0u64;
    while Instant::now() < until {
        let pattern = match n % 3 {
            0 => ">".to_owned(),
            1 => "s.*".to_owned(),
            _ => format!("s.{}", n % TOPICS),
        };
        let sub_id = (n % 1000) as u32 + 1;
        c.send(Frame::Subscribe {
            sub_id,
            pattern: Text::from(pattern.as_str()),
            options: SubscribeOptions::default(),
        })
        .await;
        c.send(Frame::Unsubscribe { sub_id }).await;
        // Deliveries may come in between; the PONG ends the cycle.
        c.barrier().await;
        n += 1;
    }
    n
}

/// GETs `path` until `until`; returns how many answers it got.
async fn scraper(admin: String, path: &'static str, until: Instant) -> u64 {
    let mut n = 0u64;
    while Instant::now() < until {
        let (status, _) = client::get(&admin, path, STEP)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(status, 200, "{path}");
        n += 1;
    }
    n
}

/// Starts the admin listener for `source`; returns its address.
async fn start_admin(source: Arc<dyn StatsSource>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(admin::serve(
        listener,
        source,
        Exporter::new(None),
        std::future::pending(),
    ));
    addr.to_string()
}
