//! Durability over real sockets (`[storage]`): a restart on the same
//! directory keeps state revisions, history and epochs, resumes without a
//! gap, cuts a torn tail (and counts it), refuses to start over a corrupt
//! middle segment, and every fsync policy works.

mod common;

use std::path::Path;

use bytes::Bytes;
use common::*;
use spate::config::storage::{FsyncPolicy, PersistRule};
use spate::config::Config;
use spate_proto::{
    Condition, Frame, Start, StartStatus, StateReply, StateStatus, SubscribeOptions, Text,
};

fn storage_config(dir: &Path, fsync: FsyncPolicy) -> Config {
    let mut c = test_config();
    c.storage.dir = Some(dir.to_owned());
    c.storage.fsync = fsync;
    c.storage.segment_bytes = 4096;
    c.storage.persist = vec![
        PersistRule {
            pattern: "hist.>".into(),
            state: true,
            history: true,
        },
        PersistRule {
            pattern: "cfg.>".into(),
            state: true,
            history: false,
        },
    ];
    c
}

async fn put(
    c: &mut RawClient,
    topic: &str,
    key: &str,
    value: &str,
    cond: Condition,
) -> StateReply {
    c.send(Frame::StatePut {
        request_id: 9,
        topic: Text::from(topic),
        key: Text::from(key),
        condition: cond,
        value: Bytes::copy_from_slice(value.as_bytes()),
    })
    .await;
    match c.recv_skip_ping().await {
        Frame::StateReply(r) => r,
        f => panic!("{f:?}"),
    }
}

async fn get(c: &mut RawClient, topic: &str, key: &str) -> StateReply {
    c.send(Frame::StateGet {
        request_id: 10,
        topic: Text::from(topic),
        key: Text::from(key),
    })
    .await;
    match c.recv_skip_ping().await {
        Frame::StateReply(r) => r,
        f => panic!("{f:?}"),
    }
}

/// Publishes `n` acked messages `m{i}`; returns (epoch, last seq).
async fn publish_acked(c: &mut RawClient, topic: &str, from: u64, n: u64) -> (u64, u64) {
    let mut last = (0, 0);
    for i in from..from + n {
        c.send(Frame::Publish(publish(
            i as u32,
            topic,
            format!("m{i}"),
            true,
        )))
        .await;
        match c.recv_skip_ping().await {
            Frame::PubAck { epoch, seq, .. } => last = (epoch, seq),
            f => panic!("{f:?}"),
        }
    }
    last
}

fn from(seq: u64, epoch: u64) -> SubscribeOptions {
    SubscribeOptions {
        start: Start::FromSeq { seq, epoch },
        ..Default::default()
    }
}

#[tokio::test]
async fn a_clean_restart_keeps_revisions_history_and_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = storage_config(dir.path(), FsyncPolicy::Interval);
    let srv = start(cfg.clone()).await;
    let mut c = RawClient::connect(srv.addr).await;
    assert_eq!(
        put(&mut c, "cfg.app", "color", "red", Condition::None)
            .await
            .revision,
        1
    );
    assert_eq!(
        put(&mut c, "cfg.app", "color", "blue", Condition::IfRevision(1))
            .await
            .revision,
        2
    );
    assert_eq!(
        put(&mut c, "cfg.app", "size", "xl", Condition::None)
            .await
            .revision,
        3
    );
    let (epoch, last) = publish_acked(&mut c, "hist.a", 0, 10).await;
    assert_eq!(last, 10);
    // A topic no rule names stays in memory.
    let (mem_epoch, _) = publish_acked(&mut c, "mem.a", 0, 1).await;
    drop(c);
    srv.stop().await;

    let srv = start(cfg).await;
    let mut c = RawClient::connect(srv.addr).await;
    let r = get(&mut c, "cfg.app", "color").await;
    assert_eq!((r.status, r.revision), (StateStatus::Ok, 2));
    assert_eq!(r.value.as_deref(), Some(&b"blue"[..]));
    // The revision continues where it stopped: no gap after a clean stop,
    // and compare-and-set against the old revision still works.
    let r = put(
        &mut c,
        "cfg.app",
        "color",
        "green",
        Condition::IfRevision(2),
    )
    .await;
    assert_eq!((r.status, r.revision), (StateStatus::Ok, 4));
    // Resume across the restart: same epoch, replay of all ten, no gap.
    let mut s = RawClient::connect(srv.addr).await;
    let sub = s.subscribe(1, "hist.a", from(4, epoch)).await;
    assert_eq!(sub.start, StartStatus::Replay);
    assert_eq!((sub.epoch, sub.first_seq, sub.last_seq), (epoch, 4, 10));
    let (e2, seq) = publish_acked(&mut c, "hist.a", 10, 1).await;
    assert_eq!((e2, seq), (epoch, 11));
    let t = s.tally_until(8).await;
    assert!(t.seqs.iter().copied().eq(4..=11), "{:?}", t.seqs);
    assert_eq!(&t.payloads[0][..], b"m3");
    assert_eq!(&t.payloads[7][..], b"m10");
    let (mem_epoch2, mem_seq) = publish_acked(&mut c, "mem.a", 0, 1).await;
    assert_ne!(mem_epoch2, mem_epoch, "an in-memory topic starts over");
    assert_eq!(mem_seq, 1);
    srv.stop().await;
}

#[tokio::test]
async fn every_fsync_policy_persists_across_a_clean_restart() {
    for policy in [
        FsyncPolicy::Always,
        FsyncPolicy::Interval,
        FsyncPolicy::Never,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = storage_config(dir.path(), policy);
        let srv = start(cfg.clone()).await;
        let mut c = RawClient::connect(srv.addr).await;
        for i in 0..20 {
            let r = put(&mut c, "cfg.p", "n", &i.to_string(), Condition::None).await;
            assert_eq!(r.status, StateStatus::Ok);
        }
        drop(c);
        srv.stop().await;
        let srv = start(cfg).await;
        let mut c = RawClient::connect(srv.addr).await;
        let r = get(&mut c, "cfg.p", "n").await;
        assert_eq!(
            (r.revision, r.value.as_deref()),
            (20, Some(&b"19"[..])),
            "{policy:?}"
        );
        srv.stop().await;
    }
}

/// The last segment file in `dir`.
fn last_segment(dir: &Path) -> std::path::PathBuf {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v.pop().unwrap()
}

#[tokio::test]
async fn a_torn_tail_is_cut_counted_and_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = storage_config(dir.path(), FsyncPolicy::Always);
    let srv = start(cfg.clone()).await;
    let mut c = RawClient::connect(srv.addr).await;
    put(&mut c, "cfg.t", "k", "kept", Condition::None).await;
    drop(c);
    srv.stop().await;
    // A record whose write was cut short: a header promising 100 bytes,
    // then only 10 of them.
    let seg = last_segment(dir.path());
    let good_len = std::fs::metadata(&seg).unwrap().len();
    let mut torn = Vec::new();
    torn.extend_from_slice(&100u32.to_le_bytes());
    torn.extend_from_slice(&0xdead_beefu32.to_le_bytes());
    torn.push(3);
    torn.extend_from_slice(&[7u8; 10]);
    let mut all = std::fs::read(&seg).unwrap();
    all.extend_from_slice(&torn);
    std::fs::write(&seg, &all).unwrap();

    let srv = start(cfg.clone()).await;
    let st = srv.broker.storage().expect("storage on");
    assert_eq!(st.torn_at_open, 1, "the torn record is counted");
    assert_eq!(
        std::fs::metadata(&seg).unwrap().len(),
        good_len,
        "and cut off"
    );
    let mut c = RawClient::connect(srv.addr).await;
    let r = get(&mut c, "cfg.t", "k").await;
    assert_eq!(r.value.as_deref(), Some(&b"kept"[..]));
    assert_eq!(
        put(&mut c, "cfg.t", "k", "next", Condition::IfRevision(1))
            .await
            .revision,
        2
    );
    drop(c);
    srv.stop().await;
    // The next start sees an intact log.
    let srv = start(cfg).await;
    assert_eq!(srv.broker.storage().unwrap().torn_at_open, 0);
    srv.stop().await;
}

/// A server with enough state writes to fill several segments.
async fn fill_segments(cfg: &Config) {
    let srv = start(cfg.clone()).await;
    let mut c = RawClient::connect(srv.addr).await;
    let big = "v".repeat(700);
    for i in 0..30 {
        put(&mut c, "cfg.big", &format!("k{i}"), &big, Condition::None).await;
    }
    drop(c);
    srv.stop().await;
}

#[tokio::test]
async fn a_corrupt_middle_segment_stops_the_start_then_check_and_repair() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = storage_config(dir.path(), FsyncPolicy::Interval);
    fill_segments(&cfg).await;
    let mut segs: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segs.sort();
    assert!(segs.len() >= 3, "several segments: {segs:?}");
    // Flip one byte inside the second record of the first segment.
    let first = &segs[0];
    let mut b = std::fs::read(first).unwrap();
    let at = b.len() / 2;
    b[at] ^= 0xff;
    std::fs::write(first, &b).unwrap();

    let err = spate::server::Server::bind(std::sync::Arc::new(cfg.clone()))
        .await
        .err()
        .expect("the start must fail");
    let text = err.to_string();
    assert!(
        text.contains(&first.display().to_string()) && text.contains("offset"),
        "the error names file and offset: {text}"
    );

    let dir_s = dir.path().display().to_string();
    let out = cli::run(cli::spate_at("127.0.0.1:1").args(["storage", "check", &dir_s])).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stdout.contains("BAD at byte offset"), "{}", out.stdout);
    let out = cli::run(cli::spate_at("127.0.0.1:1").args(["storage", "repair", &dir_s])).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("truncating") && out.stdout.contains("deleting"),
        "{}",
        out.stdout
    );
    let out = cli::run(cli::spate_at("127.0.0.1:1").args(["storage", "check", &dir_s])).await;
    assert_eq!(out.code, Some(0), "{}", out.stdout);

    // It starts again, with what came before the damage.
    let srv = start(cfg).await;
    let mut c = RawClient::connect(srv.addr).await;
    let r = get(&mut c, "cfg.big", "k0").await;
    assert_eq!(r.status, StateStatus::Ok);
    srv.stop().await;
}

fn files_with(dir: &Path, ext: &str) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == ext)
        })
        .count()
}

#[tokio::test]
async fn compaction_keeps_the_latest_state_and_retained_history_and_drops_old_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = storage_config(dir.path(), FsyncPolicy::Never);
    cfg.history.max_msgs = 5;
    let srv = start(cfg.clone()).await;
    let mut c = RawClient::connect(srv.addr).await;
    let big = "v".repeat(500);
    for i in 0..100 {
        put(
            &mut c,
            "cfg.c",
            &format!("k{}", i % 3),
            &format!("{i}{big}"),
            Condition::None,
        )
        .await;
    }
    put(&mut c, "cfg.c", "gone", "x", Condition::None).await;
    c.send(Frame::StateDel {
        request_id: 3,
        topic: Text::from("cfg.c"),
        key: Text::from("gone"),
        condition: Condition::None,
    })
    .await;
    c.recv().await;
    let (epoch, _) = publish_acked(&mut c, "hist.c", 0, 20).await;
    // (The background compactor may already have run meanwhile.)
    let before = files_with(dir.path(), "seg") + files_with(dir.path(), "snap");
    let broker = srv.broker.clone();
    let done = tokio::task::spawn_blocking(move || broker.compact_storage())
        .await
        .unwrap()
        .expect("storage on")
        .expect("compaction");
    assert_eq!(files_with(dir.path(), "snap"), 1);
    assert_eq!(
        files_with(dir.path(), "seg"),
        1,
        "only the segment after the snapshot"
    );
    assert!(
        done.deleted + 1 >= before,
        "{done:?}, {before} files before"
    );
    // Writes after the compaction land in the new segment.
    let r = put(&mut c, "cfg.c", "k0", "after", Condition::None).await;
    assert_eq!(r.revision, 103);
    drop(c);
    srv.stop().await;

    let srv = start(cfg).await;
    let mut c = RawClient::connect(srv.addr).await;
    assert_eq!(
        get(&mut c, "cfg.c", "k0").await.value.as_deref(),
        Some(&b"after"[..])
    );
    let r = get(&mut c, "cfg.c", "k1").await;
    assert_eq!(r.revision, 98, "latest revision of k1 (i = 97)");
    assert!(r.value.unwrap().starts_with(b"97"));
    assert_eq!(
        get(&mut c, "cfg.c", "gone").await.status,
        StateStatus::NotFound
    );
    let mut s = RawClient::connect(srv.addr).await;
    let sub = s.subscribe(1, "hist.c", from(1, epoch)).await;
    assert_eq!(sub.epoch, epoch);
    assert_eq!(
        sub.start,
        StartStatus::Truncated,
        "history beyond retention is gone"
    );
    assert_eq!((sub.first_seq, sub.last_seq), (16, 20));
    let r = put(&mut c, "cfg.c", "k2", "next", Condition::None).await;
    assert_eq!(r.revision, 104, "no gap after a clean stop");
    srv.stop().await;
}
