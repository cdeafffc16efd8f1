//! Several spate nodes on one real redis-server (`[engine] kind = "redis"`):
//! one order per topic across nodes, compare-and-set across nodes, resume
//! on another node, a Redis restart, and holes filled from the stream or
//! announced as GAPs. Skipped with a notice when redis-server is missing
//! (failed when SPATE_REQUIRE_REDIS=1).

mod common;

use std::collections::HashMap;

use bytes::Bytes;
use common::redis::{available, RedisServer};
use common::{publish, start, RawClient, Tally, TestServer};
use spate_proto::{
    Condition, ErrorCode, Frame, Start, StartStatus, StateReply, StateStatus, SubscribeOptions,
    Text,
};

async fn nodes(r: &RedisServer, n: usize) -> Vec<TestServer> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(start(r.node_config()).await);
    }
    v
}

/// Publishes `payloads` to `topic` with acks; returns (payload, epoch, seq)
/// per PUB_ACK.
async fn publish_acked(
    c: &mut RawClient,
    topic: &str,
    payloads: &[String],
) -> Vec<(String, u64, u64)> {
    for (i, p) in payloads.iter().enumerate() {
        c.feed(Frame::Publish(publish(
            i as u32 + 1,
            topic,
            p.clone(),
            true,
        )))
        .await;
    }
    c.flush_io().await;
    let mut out = Vec::new();
    while out.len() < payloads.len() {
        match c.recv_skip_ping().await {
            Frame::PubAck {
                request_id,
                epoch,
                seq,
                ..
            } => out.push((payloads[request_id as usize - 1].clone(), epoch, seq)),
            f => panic!("expected PUB_ACK, got {f:?}"),
        }
    }
    out
}

/// Messages (epoch, seq, payload) until `n` messages or GAP-counted
/// losses are accounted for; also the tally.
async fn receive(c: &mut RawClient, n: u64) -> (Vec<(u64, u64, String)>, Tally) {
    let mut msgs = Vec::new();
    let mut t = Tally::default();
    while t.accounted() < n {
        let f = c.recv_skip_ping().await;
        match &f {
            Frame::Message { message: m, .. } => {
                msgs.push((m.epoch, m.seq, String::from_utf8_lossy(&m.payload).into()))
            }
            Frame::MessageBatch { messages, .. } => {
                for m in messages {
                    msgs.push((m.epoch, m.seq, String::from_utf8_lossy(&m.payload).into()));
                }
            }
            _ => {}
        }
        assert!(t.record(f.clone()), "unexpected frame {f:?}");
    }
    (msgs, t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_on_three_nodes_reach_every_node_in_one_order() {
    if !available() {
        return;
    }
    let redis = RedisServer::start().await;
    let ns = nodes(&redis, 3).await;
    let mut sub_b = RawClient::connect(ns[1].addr).await;
    let sb = sub_b
        .subscribe(1, "orders.eu", SubscribeOptions::default())
        .await;
    let mut sub_c = RawClient::connect(ns[2].addr).await;
    let sc = sub_c
        .subscribe(1, "orders.eu", SubscribeOptions::default())
        .await;
    let mut wild_c = RawClient::connect(ns[2].addr).await;
    wild_c
        .subscribe(1, "orders.>", SubscribeOptions::default())
        .await;
    assert_eq!(sb.epoch, sc.epoch, "both nodes report Redis' epoch");

    const N: usize = 40;
    let mut tasks = Vec::new();
    for (i, n) in ns.iter().enumerate() {
        let addr = n.addr;
        tasks.push(tokio::spawn(async move {
            let mut c = RawClient::connect(addr).await;
            let ps: Vec<String> = (0..N).map(|k| format!("n{i}-{k:03}")).collect();
            publish_acked(&mut c, "orders.eu", &ps).await
        }));
    }
    let mut acked = HashMap::new();
    for t in tasks {
        for (p, epoch, seq) in t.await.unwrap() {
            assert_eq!(epoch, sb.epoch);
            assert!(acked.insert(seq, p).is_none(), "seq {seq} acked twice");
        }
    }
    let total = 3 * N as u64;
    let want: Vec<u64> = (1..=total).collect();
    let mut keys: Vec<u64> = acked.keys().copied().collect();
    keys.sort_unstable();
    assert_eq!(keys, want, "the acks hand out seqs 1..{total}, each once");

    let mut seen = Vec::new();
    for c in [&mut sub_b, &mut sub_c, &mut wild_c] {
        let (msgs, t) = receive(c, total).await;
        assert_eq!(t.lost, 0);
        let seqs: Vec<u64> = msgs.iter().map(|m| m.1).collect();
        assert_eq!(seqs, want, "every subscriber sees seqs 1..{total} in order");
        for (_, seq, p) in &msgs {
            assert_eq!(&acked[seq], p, "seq {seq} carries the payload acked for it");
        }
        seen.push(msgs);
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0], seen[2]);
    // Each publisher's messages keep its order.
    for i in 0..3 {
        let mine: Vec<&String> = seen[0]
            .iter()
            .map(|m| &m.2)
            .filter(|p| p.starts_with(&format!("n{i}-")))
            .collect();
        let mut sorted = mine.clone();
        sorted.sort();
        assert_eq!(mine, sorted);
    }
}

async fn state_call(c: &mut RawClient, f: Frame) -> StateReply {
    c.send(f).await;
    match c.recv_skip_ping().await {
        Frame::StateReply(r) => r,
        f => panic!("expected STATE_REPLY, got {f:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cas_race_across_three_nodes_ends_exact() {
    if !available() {
        return;
    }
    let redis = RedisServer::start().await;
    let ns = nodes(&redis, 3).await;
    let mut watch = RawClient::connect(ns[0].addr).await;
    watch
        .subscribe(1, "counter", SubscribeOptions::default())
        .await;

    const WRITERS_PER_NODE: usize = 2;
    const INCREMENTS: u64 = 10;
    let mut tasks = Vec::new();
    for n in &ns {
        for _ in 0..WRITERS_PER_NODE {
            let addr = n.addr;
            tasks.push(tokio::spawn(async move {
                let mut c = RawClient::connect(addr).await;
                let get = Frame::StateGet {
                    request_id: 1,
                    topic: Text::from("counter"),
                    key: Text::from("n"),
                };
                let r = state_call(&mut c, get).await;
                let (mut rev, mut val) = match r.status {
                    StateStatus::Ok => (r.revision, r.value.unwrap()),
                    _ => (0, Bytes::from_static(b"0")),
                };
                let mut revisions = Vec::new();
                let mut conflicts = 0u64;
                let mut done = 0;
                while done < INCREMENTS {
                    assert!(conflicts < 10_000, "CAS loop does not converge");
                    let n: u64 = std::str::from_utf8(&val).unwrap().parse().unwrap();
                    let next = Bytes::from((n + 1).to_string());
                    let put = Frame::StatePut {
                        request_id: 2,
                        topic: Text::from("counter"),
                        key: Text::from("n"),
                        condition: Condition::IfRevision(rev),
                        value: next.clone(),
                    };
                    let r = state_call(&mut c, put).await;
                    match r.status {
                        StateStatus::Ok => {
                            revisions.push(r.revision);
                            rev = r.revision;
                            val = next;
                            done += 1;
                        }
                        StateStatus::Conflict => {
                            conflicts += 1;
                            rev = r.revision;
                            val = r.value.unwrap_or(Bytes::from_static(b"0"));
                        }
                        s => panic!("unexpected status {s:?}"),
                    }
                }
                revisions
            }));
        }
    }
    let mut revisions = Vec::new();
    for t in tasks {
        revisions.extend(t.await.unwrap());
    }
    let total = 3 * WRITERS_PER_NODE as u64 * INCREMENTS;
    revisions.sort_unstable();
    assert_eq!(
        revisions,
        (1..=total).collect::<Vec<_>>(),
        "each write got its own revision"
    );

    // Every node reads the exact total.
    for n in &ns {
        let mut c = RawClient::connect(n.addr).await;
        let get = Frame::StateGet {
            request_id: 9,
            topic: Text::from("counter"),
            key: Text::from("n"),
        };
        let r = state_call(&mut c, get).await;
        assert_eq!(r.status, StateStatus::Ok);
        assert_eq!(r.revision, total);
        assert_eq!(r.value.as_deref(), Some(total.to_string().as_bytes()));
    }
    // The writes were published in revision order, values counting up.
    let (msgs, t) = receive(&mut watch, total).await;
    assert_eq!(t.lost, 0);
    let values: Vec<String> = msgs.iter().map(|m| m.2.clone()).collect();
    let want: Vec<String> = (1..=total).map(|v| v.to_string()).collect();
    assert_eq!(values, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_a_stopped_node_resumes_on_another() {
    if !available() {
        return;
    }
    let redis = RedisServer::start().await;
    // Node A is a process of its own, to be killed; B and C run here.
    let (mut node_a, addr_a) = redis.spawn_node().await;
    let ns = nodes(&redis, 2).await;
    let mut publisher = RawClient::connect(ns[0].addr).await;
    let mut sub = RawClient::connect(addr_a).await;
    sub.subscribe(1, "feed", SubscribeOptions::default()).await;

    let batch = |r: std::ops::Range<u32>| r.map(|k| format!("m{k:03}")).collect::<Vec<_>>();
    publish_acked(&mut publisher, "feed", &batch(1..21)).await;
    let (first, _) = receive(&mut sub, 20).await;
    let (epoch, last) = (first[19].0, first[19].1);
    assert_eq!(last, 20);

    // Node A is killed (SIGKILL); publishing goes on meanwhile.
    node_a.kill().await.unwrap();
    assert!(
        sub.try_recv().await.is_none(),
        "node A's connection is gone"
    );
    publish_acked(&mut publisher, "feed", &batch(21..41)).await;

    // Resume on node C from the next seq.
    let mut sub = RawClient::connect(ns[1].addr).await;
    let opts = SubscribeOptions {
        start: Start::FromSeq {
            seq: last + 1,
            epoch,
        },
        ..SubscribeOptions::default()
    };
    let s = sub.subscribe(1, "feed", opts).await;
    assert_eq!(s.start, StartStatus::Replay);
    assert_eq!((s.epoch, s.first_seq, s.last_seq), (epoch, 21, 40));
    publish_acked(&mut publisher, "feed", &batch(41..51)).await;
    let (rest, t) = receive(&mut sub, 30).await;
    assert_eq!(t.lost, 0);
    let seqs: Vec<u64> = rest.iter().map(|m| m.1).collect();
    assert_eq!(seqs, (21..=50).collect::<Vec<_>>(), "no loss, no duplicate");
    let payloads: Vec<String> = rest.iter().map(|m| m.2.clone()).collect();
    assert_eq!(payloads, batch(21..51));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_is_refused_honestly_and_recovered() {
    if !available() {
        return;
    }
    let mut redis = RedisServer::start().await;
    let ns = nodes(&redis, 2).await;
    let mut publisher = RawClient::connect(ns[0].addr).await;
    let mut sub = RawClient::connect(ns[1].addr).await;
    sub.subscribe(1, "t", SubscribeOptions::default()).await;
    let before: Vec<String> = (0..5).map(|k| format!("before{k}")).collect();
    publish_acked(&mut publisher, "t", &before).await;
    let (got, _) = receive(&mut sub, 5).await;
    let old_epoch = got[0].0;

    redis.kill().await;
    publisher
        .send(Frame::Publish(publish(7, "t", "lost?", true)))
        .await;
    publisher
        .expect_error(ErrorCode::EngineUnavailable, false)
        .await;
    // Subscriptions and state need the engine too: refused, not faked.
    publisher
        .send(Frame::Subscribe {
            sub_id: 3,
            pattern: Text::from("other"),
            options: SubscribeOptions::default(),
        })
        .await;
    publisher
        .expect_error(ErrorCode::EngineUnavailable, false)
        .await;
    publisher
        .send(Frame::StateGet {
            request_id: 4,
            topic: Text::from("t"),
            key: Text::from("k"),
        })
        .await;
    publisher
        .expect_error(ErrorCode::EngineUnavailable, false)
        .await;

    redis.restart().await;
    // The first publish the engine takes again (bounded retries, each
    // waits for its answer).
    let mut acked = Vec::new();
    for attempt in 0..200 {
        let p = format!("after{attempt}");
        publisher
            .send(Frame::Publish(publish(8, "t", p.clone(), true)))
            .await;
        match publisher.recv_skip_ping().await {
            Frame::PubAck { epoch, seq, .. } => {
                acked.push((epoch, seq, p));
                break;
            }
            Frame::Error { code, .. } => assert_eq!(code, ErrorCode::EngineUnavailable as u16),
            f => panic!("unexpected {f:?}"),
        }
    }
    assert_eq!(acked.len(), 1, "the engine came back");
    let more: Vec<String> = (0..4).map(|k| format!("later{k}")).collect();
    for (p, e, s) in publish_acked(&mut publisher, "t", &more).await {
        acked.push((e, s, p));
    }
    let new_epoch = acked[0].0;
    assert_ne!(new_epoch, old_epoch, "Redis lost the topic: a new epoch");
    assert_eq!(
        acked.iter().map(|a| a.1).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );

    // The subscriber gets exactly what was acknowledged after the
    // restart, in order: the refused publish is not invented.
    let (after, t) = receive(&mut sub, 5).await;
    assert_eq!(t.lost, 0);
    assert_eq!(after, acked);
    let extra = sub.barrier().await;
    assert!(extra.is_empty(), "nothing else delivered: {extra:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holes_are_filled_from_the_stream_or_announced_as_gaps() {
    if !available() {
        return;
    }
    let redis = RedisServer::start().await;
    let ns = nodes(&redis, 2).await;
    let mut publisher = RawClient::connect(ns[0].addr).await;
    let mut sub = RawClient::connect(ns[1].addr).await;
    sub.subscribe(1, "h", SubscribeOptions::default()).await;
    publish_acked(&mut publisher, "h", &["one".into()]).await;
    let (got, _) = receive(&mut sub, 1).await;
    assert_eq!(got[0].1, 1);

    // Seqs 2 and 3 are taken in Redis but neither published nor retained:
    // lost for good, so a GAP.
    let mut r = redis.conn().await;
    let _: i64 = redis::cmd("HINCRBY")
        .arg("spate:m:h")
        .arg("seq")
        .arg(2)
        .query_async(&mut r)
        .await
        .unwrap();
    publish_acked(&mut publisher, "h", &["four".into()]).await;
    let gap = sub.recv_skip_ping().await;
    match gap {
        Frame::Gap(g) => assert_eq!((g.count, g.first_seq, g.last_seq), (2, 2, 3)),
        f => panic!("expected GAP, got {f:?}"),
    }
    let (got, _) = receive(&mut sub, 1).await;
    assert_eq!((got[0].1, got[0].2.as_str()), (4, "four"));

    // Seq 5 is retained in the stream but this node never got it from the
    // channel: it is fetched, no GAP.
    let _: i64 = redis::cmd("HINCRBY")
        .arg("spate:m:h")
        .arg("seq")
        .arg(1)
        .query_async(&mut r)
        .await
        .unwrap();
    let blob = spate::engine::redis::codec::encode(None, None, &[], b"five");
    let _: String = redis::cmd("XADD")
        .arg("spate:s:h")
        .arg("5-1")
        .arg("t")
        .arg(1)
        .arg("d")
        .arg(blob)
        .query_async(&mut r)
        .await
        .unwrap();
    publish_acked(&mut publisher, "h", &["six".into()]).await;
    let (got, t) = receive(&mut sub, 2).await;
    assert_eq!(t.lost, 0);
    let got: Vec<(u64, &str)> = got.iter().map(|m| (m.1, m.2.as_str())).collect();
    assert_eq!(got, [(5, "five"), (6, "six")]);

    // The node's subscriber connection is cut; what is published while it
    // reconnects is caught up from the stream: no loss, no duplicate.
    let _: redis::Value = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut r)
        .await
        .unwrap();
    let ps: Vec<String> = (7..17).map(|k| format!("m{k}")).collect();
    publish_acked(&mut publisher, "h", &ps).await;
    let (got, t) = receive(&mut sub, 10).await;
    assert_eq!(t.lost, 0);
    assert_eq!(
        got.iter().map(|m| m.1).collect::<Vec<_>>(),
        (7..17).collect::<Vec<_>>()
    );
}
