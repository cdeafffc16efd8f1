//! Order and recovery over real sockets: per-topic sequence numbers,
//! replay from a seq or the last N, the atomic switch from history to live,
//! and the explicit notices when history cannot fill a gap.

mod common;

use common::*;
use spate::config::settings::HistoryOverride;
use spate_proto::{Frame, GapReason, Start, StartStatus, SubscribeOptions};

fn from(seq: u64, epoch: u64) -> SubscribeOptions {
    SubscribeOptions {
        start: Start::FromSeq { seq, epoch },
        ..Default::default()
    }
}

async fn publish_n(addr: std::net::SocketAddr, topic: &str, n: u64) -> u64 {
    let mut p = RawClient::connect(addr).await;
    let mut epoch = 0;
    for i in 0..n {
        p.send(Frame::Publish(publish(
            i as u32,
            topic,
            format!("m{i}"),
            true,
        )))
        .await;
        let Frame::PubAck { epoch: e, .. } = p.recv().await else {
            panic!()
        };
        epoch = e;
    }
    epoch
}

#[tokio::test]
async fn replay_from_a_seq_then_live_without_gap_or_duplicate() {
    let srv = start_default().await;
    let epoch = publish_n(srv.addr, "hist.a", 10).await;
    let mut s = RawClient::connect(srv.addr).await;
    let sub = s.subscribe(1, "hist.a", from(3, epoch)).await;
    assert_eq!(sub.start, StartStatus::Replay);
    assert_eq!((sub.epoch, sub.first_seq, sub.last_seq), (epoch, 3, 10));
    publish_n(srv.addr, "hist.a", 2).await;
    let t = s.tally_until(10).await;
    assert!(t.seqs.iter().copied().eq(3..=12), "{:?}", t.seqs);
    assert_eq!(&t.payloads[0][..], b"m2");
    srv.stop().await;
}

#[tokio::test]
async fn last_n_replays_the_tail() {
    let srv = start_default().await;
    publish_n(srv.addr, "hist.b", 10).await;
    let mut s = RawClient::connect(srv.addr).await;
    let sub = s
        .subscribe(
            1,
            "hist.b",
            SubscribeOptions {
                start: Start::LastN(3),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        (sub.start, sub.first_seq, sub.last_seq),
        (StartStatus::Replay, 8, 10)
    );
    assert!(s.tally_until(3).await.seqs.iter().copied().eq(8..=10));
    srv.stop().await;
}

#[tokio::test]
async fn a_position_no_longer_retained_is_announced_not_skipped() {
    let mut cfg = test_config();
    cfg.history.overrides.push(HistoryOverride {
        pattern: "short.>".into(),
        max_msgs: 5,
        max_bytes: 1 << 20,
        max_age_secs: 0,
    });
    let srv = start(cfg).await;
    let epoch = publish_n(srv.addr, "short.h", 10).await;
    let mut s = RawClient::connect(srv.addr).await;
    let sub = s.subscribe(1, "short.h", from(2, epoch)).await;
    assert_eq!(
        (sub.start, sub.first_seq, sub.last_seq),
        (StartStatus::Truncated, 6, 10)
    );
    match s.recv().await {
        Frame::Gap(g) => {
            assert_eq!(g.reason, GapReason::NotRetained);
            assert_eq!(
                (g.count, g.first_seq, g.last_seq, g.topic.as_str()),
                (4, 2, 5, "short.h")
            );
        }
        f => panic!("expected GAP first, got {f:?}"),
    }
    assert!(s.tally_until(5).await.seqs.iter().copied().eq(6..=10));
    srv.stop().await;
}

#[tokio::test]
async fn a_stale_epoch_gets_the_new_epochs_history_and_a_notice() {
    let srv = start_default().await;
    let epoch = publish_n(srv.addr, "hist.e", 4).await;
    let mut s = RawClient::connect(srv.addr).await;
    let sub = s.subscribe(1, "hist.e", from(3, epoch ^ 0xdead)).await;
    assert_eq!(sub.start, StartStatus::EpochChanged);
    assert_eq!((sub.epoch, sub.first_seq), (epoch, 1));
    assert!(s.tally_until(4).await.seqs.iter().copied().eq(1..=4));
    srv.stop().await;
}

#[tokio::test]
async fn nothing_to_replay_when_already_up_to_date() {
    let srv = start_default().await;
    let epoch = publish_n(srv.addr, "hist.u", 4).await;
    let mut s = RawClient::connect(srv.addr).await;
    let sub = s.subscribe(1, "hist.u", from(5, epoch)).await;
    assert_eq!((sub.start, sub.last_seq), (StartStatus::Live, 4));
    assert!(s.barrier().await.is_empty());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_races_with_live_publishing_without_gap_or_duplicate() {
    let mut cfg = test_config();
    cfg.history.max_msgs = 1000; // retain the whole run
    let srv = start(cfg).await;
    let addr = srv.addr;
    let publisher = tokio::spawn(async move {
        let mut p = RawClient::connect(addr).await;
        for i in 0..800u32 {
            p.feed(Frame::Publish(publish(i, "hist.race", "x", false)))
                .await;
            if i % 50 == 0 {
                p.flush_io().await;
            }
        }
        p.flush_io().await;
        p.barrier().await;
    });
    let mut subs = Vec::new();
    for i in 0..8 {
        let mut s = RawClient::connect(srv.addr).await;
        let sub = s.subscribe(i, "hist.race", from(1, 0)).await;
        subs.push((s, sub));
        tokio::task::yield_now().await;
    }
    publisher.await.unwrap();
    for (mut s, sub) in subs {
        assert!(matches!(sub.start, StartStatus::Replay | StartStatus::Live));
        let t = s.tally_until(800).await;
        assert!(
            t.seqs.iter().copied().eq(1..=800),
            "contiguous, no duplicate (start {:?})",
            sub.start
        );
    }
    srv.stop().await;
}

#[tokio::test]
async fn wildcard_subscriptions_cannot_replay() {
    let srv = start_default().await;
    let mut s = RawClient::connect(srv.addr).await;
    s.send(Frame::Subscribe {
        sub_id: 1,
        pattern: "hist.*".into(),
        options: from(1, 0),
    })
    .await;
    s.expect_error(spate_proto::ErrorCode::InvalidOption, false)
        .await;
    srv.stop().await;
}
