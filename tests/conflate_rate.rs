//! `conflate` with `MAX_RATE` over real sockets: keys take turns, so every
//! key stays fresh at the granted rate however the publishes interleave
//! (protocol.md §10.4), and every replaced value is still accounted for.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;
use spate_proto::{Frame, Policy, SubscribeOptions, Text};

const KEYS: [&str; 3] = ["usd", "gbp", "jpy"];
/// Publish rounds: each publishes every key once, 10 ms apart (100/s per key).
const ROUNDS: u32 = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_conflate_cycles_through_the_keys() {
    tokio::time::timeout(Duration::from_secs(30), run())
        .await
        .expect("test took too long");
}

async fn run() {
    let srv = start_default().await;
    let mut sub = RawClient::connect(srv.addr).await;
    let opts = SubscribeOptions {
        policy: Some(Policy::Conflate),
        max_rate: Some(10),
        ..SubscribeOptions::default()
    };
    sub.subscribe(1, "px.t", opts).await;

    let addr = srv.addr;
    let mut publisher = tokio::spawn(async move {
        let mut p = RawClient::connect(addr).await;
        let t0 = tokio::time::Instant::now();
        for round in 0..ROUNDS {
            for k in KEYS {
                let mut m = publish(0, "px.t", format!("{k}-{round}"), false);
                m.key = Some(Text::from(k));
                p.send(Frame::Publish(m)).await;
            }
            // Pacing (creates the publish rate; waits for nothing).
            tokio::time::sleep_until(t0 + Duration::from_millis(10) * (round + 1)).await;
        }
        p.barrier().await;
        t0.elapsed()
    });

    let started = Instant::now();
    let mut tally = Tally::default();
    let mut during: HashMap<String, u32> = HashMap::new();
    let mut last_seq: HashMap<String, u64> = HashMap::new();
    let mut latest: HashMap<String, String> = HashMap::new();
    let mut published_for = None;
    loop {
        if published_for.is_none() && publisher.is_finished() {
            published_for = Some((&mut publisher).await.unwrap());
            continue;
        }
        let done = KEYS
            .iter()
            .all(|k| latest.get(*k).map(String::as_str) == Some(&format!("{k}-{}", ROUNDS - 1)));
        if published_for.is_some() && done {
            break;
        }
        let f = match tokio::time::timeout(Duration::from_millis(200), sub.recv_skip_ping()).await {
            Ok(f) => f,
            Err(_) => {
                assert!(
                    published_for.is_none() || started.elapsed() < Duration::from_secs(25),
                    "the latest values never arrived: {latest:?}"
                );
                continue;
            }
        };
        let before = tally.seqs.len();
        assert!(tally.record(f.clone()), "unexpected frame {f:?}");
        if tally.seqs.len() == before {
            continue;
        }
        let key = tally.keys.last().unwrap().clone().expect("keyed message");
        let seq = *tally.seqs.last().unwrap();
        let prev = last_seq.insert(key.clone(), seq).unwrap_or(0);
        assert!(seq > prev, "{key}: seq {seq} after {prev}");
        latest.insert(
            key.clone(),
            String::from_utf8(tally.payloads.last().unwrap().to_vec()).unwrap(),
        );
        if published_for.is_none() {
            *during.entry(key).or_default() += 1;
        }
    }
    let took = published_for.unwrap();
    let counts: Vec<u32> = KEYS
        .iter()
        .map(|k| during.get(*k).copied().unwrap_or(0))
        .collect();
    let total: u32 = counts.iter().sum();
    let (min, max) = (*counts.iter().min().unwrap(), *counts.iter().max().unwrap());
    assert!(
        min >= 8 && max - min <= 1,
        "keys must take turns: {counts:?} in {took:?}"
    );
    // At most the granted rate (plus the one-token burst and one in flight).
    assert!(
        f64::from(total) <= took.as_secs_f64() * 10.0 + 3.0,
        "{total} deliveries in {took:?} at max-rate 10"
    );
    // Every value is delivered or reported replaced, exactly once.
    assert_eq!(
        tally.accounted(),
        u64::from(ROUNDS) * 3,
        "{:?}",
        tally.gaps.len()
    );
    srv.stop().await;
}
