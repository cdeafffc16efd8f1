//! Property test: random interleavings of publishes, subscriptions from a
//! seq, disconnects and resumes, checked against a simple model of what
//! every subscriber must see — each seq exactly once, in order, or an
//! explicit NOT_RETAINED gap where history had already moved on.

mod common;

use common::*;
use proptest::prelude::*;
use spate::config::settings::HistoryOverride;
use spate_proto::{Frame, GapReason, Start, SubscribeOptions};

const RETAIN: u64 = 8;
const TOPICS: usize = 2;

#[derive(Debug, Clone)]
enum Op {
    Publish(usize),
    Subscribe { topic: usize, from: u64 },
    Resume(usize),
    Drop(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..TOPICS).prop_map(Op::Publish),
        2 => (0..TOPICS, 0u64..20).prop_map(|(topic, from)| Op::Subscribe { topic, from }),
        2 => (0usize..6).prop_map(Op::Resume),
        1 => (0usize..6).prop_map(Op::Drop),
    ]
}

/// A subscriber as the model sees it: which seq it must see next.
struct Sub {
    topic: usize,
    client: RawClient,
    next: u64,
    epoch: u64,
}

fn topic(t: usize) -> String {
    format!("model.t{t}")
}

/// Reads until the subscriber has accounted for everything up to `upto`,
/// checking each delivery is exactly the next seq (or an announced gap).
async fn catch_up(s: &mut Sub, upto: u64) {
    while s.next <= upto {
        match s.client.recv_skip_ping().await {
            Frame::Message { message, .. } => {
                assert_eq!(message.seq, s.next, "exactly the next seq");
                s.next += 1;
            }
            Frame::Gap(g) => {
                assert_eq!(g.reason, GapReason::NotRetained);
                assert_eq!(g.first_seq, s.next, "gap starts where delivery stopped");
                assert_eq!(g.count, g.last_seq - g.first_seq + 1);
                s.next = g.last_seq + 1;
            }
            f => panic!("unexpected {f:?}"),
        }
    }
}

async fn subscribe(
    addr: std::net::SocketAddr,
    t: usize,
    from: u64,
    epoch: u64,
    published: u64,
) -> Sub {
    let mut client = RawClient::connect(addr).await;
    let opts = SubscribeOptions {
        start: Start::FromSeq { seq: from, epoch },
        ..Default::default()
    };
    let sub = client.subscribe(1, &topic(t), opts).await;
    assert_eq!(
        sub.last_seq, published,
        "SUBSCRIBED reports the topic's last seq"
    );
    let from = from.max(1);
    // Model: a position beyond the end starts live; otherwise replay starts
    // at `from`, or at the earliest retained seq after a NOT_RETAINED gap.
    let next = if from > published {
        published + 1
    } else {
        from
    };
    Sub {
        topic: t,
        client,
        next,
        epoch: sub.epoch,
    }
}

async fn run(ops: Vec<Op>) {
    let mut cfg = test_config();
    cfg.history.overrides.push(HistoryOverride {
        pattern: "model.>".into(),
        max_msgs: RETAIN as u32,
        max_bytes: 1 << 20,
        max_age_secs: 0,
    });
    let srv = start(cfg).await;
    let mut publisher = RawClient::connect(srv.addr).await;
    let mut published = [0u64; TOPICS];
    let mut subs: Vec<Sub> = Vec::new();
    for op in ops {
        match op {
            Op::Publish(t) => {
                publisher
                    .send(Frame::Publish(publish(0, &topic(t), "x", true)))
                    .await;
                let Frame::PubAck { seq, .. } = publisher.recv().await else {
                    panic!()
                };
                published[t] += 1;
                assert_eq!(seq, published[t], "seqs are assigned 1, 2, 3, …");
            }
            Op::Subscribe { topic: t, from } => {
                subs.push(subscribe(srv.addr, t, from, 0, published[t]).await);
            }
            Op::Resume(i) if i < subs.len() => {
                // Like a reconnecting client: drop the connection, come back
                // from the next seq it has not seen.
                let old = subs.remove(i);
                let next = old.next;
                let (t, epoch) = (old.topic, old.epoch);
                drop(old);
                let mut s = subscribe(srv.addr, t, next, epoch, published[t]).await;
                if next <= published[t] {
                    s.next = next;
                }
                subs.push(s);
            }
            Op::Drop(i) if i < subs.len() => {
                subs.remove(i);
            }
            _ => {}
        }
    }
    for s in subs.iter_mut() {
        let upto = published[s.topic];
        catch_up(s, upto).await;
        assert!(
            s.client.barrier().await.is_empty(),
            "nothing beyond the last publish"
        );
    }
    srv.stop().await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_subscriber_sees_each_seq_once_or_an_announced_gap(ops in prop::collection::vec(op(), 1..60)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(ops));
    }
}
