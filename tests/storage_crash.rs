//! Crash test (`fsync = "always"`): the real broker is killed with SIGKILL
//! at random points while CAS writers increment a counter and publishers
//! publish with acks; after each restart on the same directory:
//!
//! - every acknowledged state write is there (the counter's revision and
//!   value are at least the last acknowledged ones);
//! - no revision goes backwards and no seq is reused (the first write after
//!   the restart gets a revision/seq above every one anybody saw);
//! - the topic keeps its epoch, and a subscriber resuming with `FROM_SEQ`
//!   gets every acknowledged message with its payload (skipped seqs are
//!   announced by GAP).
//!
//! `CRASH_KILLS` sets the number of kills (default 3; scripts/crash-test.sh
//! runs 50).

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use rand::Rng;
use spate_proto::{Condition, Frame, Start, StartStatus, StateStatus, SubscribeOptions, Text};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const TOPIC: &str = "crash.pub";
const STATE: &str = "crash.cas";
const WRITERS: usize = 2;
const PUBLISHERS: usize = 2;
const WINDOW: usize = 16;

fn write_config(dir: &Path) -> std::path::PathBuf {
    let cfg = format!(
        r#"[server]
admin_enabled = false
[log]
level = "warn"
[history]
max_msgs = 1000000
max_bytes = 1073741824
max_age_secs = 0
[storage]
dir = "{}"
fsync = "always"
segment_bytes = 16384
[[storage.persist]]
pattern = "crash.>"
state = true
history = true
"#,
        dir.join("data").display()
    );
    let path = dir.join("spate.toml");
    std::fs::write(&path, cfg).unwrap();
    path
}

/// Starts the broker on an ephemeral port; returns it and its address.
async fn spawn(config: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spate"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "info",
            "--config",
        ])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn spate serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = tokio::time::timeout(STEP, async {
        while let Some(l) = lines.next_line().await.unwrap() {
            if let Some(rest) = l.split("spate ready listen=").nth(1) {
                return rest.split_whitespace().next().unwrap().parse().unwrap();
            }
            assert!(!l.contains("ERROR"), "server failed: {l}");
        }
        panic!("server exited before it was ready");
    })
    .await
    .expect("server ready in time");
    // Keep draining its output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
}

/// What the load saw before the kill.
#[derive(Default)]
struct Seen {
    /// Acknowledged publishes: seq → payload.
    acked: BTreeMap<u64, Bytes>,
    /// Acknowledged counter writes: revision → value.
    acked_revs: BTreeMap<u64, u64>,
    /// Highest seq/revision anybody saw (acks, conflicts, deliveries).
    max_seen: u64,
    epoch: u64,
}

/// A CAS writer: read, increment, write `IF_REVISION`, until the server dies.
async fn cas_writer(addr: SocketAddr) -> Seen {
    let mut seen = Seen::default();
    let mut c = RawClient::connect(addr).await;
    let (mut rev, mut val) = (0u64, 0u64);
    c.send(Frame::StateGet {
        request_id: 1,
        topic: Text::from(STATE),
        key: Text::from("n"),
    })
    .await;
    if let Some(Frame::StateReply(r)) = c.try_recv().await {
        rev = r.revision;
        val = r
            .value
            .map_or(0, |v| std::str::from_utf8(&v).unwrap().parse().unwrap());
    }
    loop {
        let next = val + 1;
        let sent =
            c.io.send_frame_or_eof(Frame::StatePut {
                request_id: 2,
                topic: Text::from(STATE),
                key: Text::from("n"),
                condition: Condition::IfRevision(rev),
                value: Bytes::from(next.to_string()),
            })
            .await;
        if !sent {
            return seen;
        }
        match c.try_recv().await {
            Some(Frame::StateReply(r)) if r.status == StateStatus::Ok => {
                seen.acked_revs.insert(r.revision, next);
                seen.max_seen = seen.max_seen.max(r.revision);
                (rev, val) = (r.revision, next);
            }
            Some(Frame::StateReply(r)) => {
                assert_eq!(r.status, StateStatus::Conflict);
                seen.max_seen = seen.max_seen.max(r.revision);
                rev = r.revision;
                val = r
                    .value
                    .map_or(0, |v| std::str::from_utf8(&v).unwrap().parse().unwrap());
            }
            Some(f) => panic!("unexpected {f:?}"),
            None => return seen,
        }
    }
}

/// An acked publisher with a window of `WINDOW` outstanding publishes.
async fn publisher(addr: SocketAddr, id: usize, round: usize) -> Seen {
    let mut seen = Seen::default();
    let mut c = RawClient::connect(addr).await;
    let mut payloads: BTreeMap<u32, Bytes> = BTreeMap::new();
    let mut n: u32 = 0;
    loop {
        while payloads.len() < WINDOW {
            n += 1;
            let p = Bytes::from(format!("r{round}-p{id}-{n}"));
            payloads.insert(n, p.clone());
            if !c
                .io
                .send_frame_or_eof(Frame::Publish(publish(n, TOPIC, p, true)))
                .await
            {
                return seen;
            }
        }
        match c.try_recv().await {
            Some(Frame::PubAck {
                request_id,
                epoch,
                seq,
                ..
            }) => {
                let p = payloads.remove(&request_id).expect("ack of a sent publish");
                seen.acked.insert(seq, p);
                seen.max_seen = seen.max_seen.max(seq);
                seen.epoch = epoch;
            }
            Some(f) => panic!("unexpected {f:?}"),
            None => return seen,
        }
    }
}

/// A live subscriber: the highest seq delivered before the kill.
async fn watcher(addr: SocketAddr) -> u64 {
    let mut c = RawClient::connect(addr).await;
    c.subscribe(1, TOPIC, SubscribeOptions::default()).await;
    let mut max = 0;
    while let Some(f) = c.try_recv().await {
        if let Frame::Message { message, .. } = f {
            max = max.max(message.seq);
        }
    }
    max
}

/// Extension: send that reports a closed connection instead of panicking.
trait SendOrEof {
    async fn send_frame_or_eof(&mut self, f: Frame) -> bool;
}

impl SendOrEof for tokio_util::codec::Framed<tokio::net::TcpStream, spate_proto::Codec> {
    async fn send_frame_or_eof(&mut self, f: Frame) -> bool {
        use futures::SinkExt;
        self.send(f).await.is_ok()
    }
}

/// Checks the invariants on a freshly restarted server.
async fn verify(addr: SocketAddr, all: &Seen, last_round: &Seen) -> u64 {
    let mut c = RawClient::connect(addr).await;
    // Acknowledged state is there; the revision did not go back.
    c.send(Frame::StateGet {
        request_id: 1,
        topic: Text::from(STATE),
        key: Text::from("n"),
    })
    .await;
    let Frame::StateReply(r) = c.recv().await else {
        panic!()
    };
    if let Some((&rev, &val)) = all.acked_revs.last_key_value() {
        assert!(
            r.revision >= rev,
            "acked revision {rev} lost: now {}",
            r.revision
        );
        let now: u64 = std::str::from_utf8(r.value.as_deref().unwrap())
            .unwrap()
            .parse()
            .unwrap();
        assert!(now >= val, "acked value {val} lost: now {now}");
        if r.revision == rev {
            assert_eq!(now, val);
        }
    }
    // Resume: same epoch, every acknowledged message of the last round.
    if let Some((&first, _)) = last_round.acked.first_key_value() {
        let mut s = RawClient::connect(addr).await;
        let sub = s
            .subscribe(
                1,
                TOPIC,
                SubscribeOptions {
                    start: Start::FromSeq {
                        seq: first,
                        epoch: all.epoch,
                    },
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(sub.epoch, all.epoch, "the epoch survived the crash");
        assert_eq!(sub.start, StartStatus::Replay, "{sub:?}");
        let (&last, _) = last_round.acked.last_key_value().unwrap();
        let mut got = BTreeMap::new();
        let mut covered = first - 1;
        while covered < last {
            match s.recv().await {
                Frame::Message { message, .. } => {
                    assert!(message.seq > covered, "order");
                    covered = message.seq;
                    got.insert(message.seq, message.payload);
                }
                Frame::Gap(g) => covered = covered.max(g.last_seq),
                f => panic!("unexpected {f:?}"),
            }
        }
        for (seq, p) in &last_round.acked {
            assert_eq!(
                got.get(seq),
                Some(p),
                "acked seq {seq} not replayed as acked"
            );
        }
    }
    // No seq or revision reused: the next write is above all ever seen.
    c.send(Frame::Publish(publish(7, TOPIC, "probe", true)))
        .await;
    let Frame::PubAck { seq, epoch, .. } = c.recv().await else {
        panic!()
    };
    assert!(
        seq > all.max_seen,
        "seq {seq} reused (seen up to {})",
        all.max_seen
    );
    if all.epoch != 0 {
        assert_eq!(epoch, all.epoch);
    }
    seq
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_write() {
    let kills: usize = std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path());
    let mut all = Seen::default();
    let mut last_round = Seen::default();
    let mut rng = rand::thread_rng();
    for round in 0..=kills {
        let (mut child, addr) = spawn(&config).await;
        let probe = verify(addr, &all, &last_round).await;
        all.max_seen = all.max_seen.max(probe);
        if round == kills {
            break;
        }
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..WRITERS {
            tasks.spawn(cas_writer(addr));
        }
        for id in 0..PUBLISHERS {
            tasks.spawn(publisher(addr, id, round));
        }
        let watch = tokio::spawn(watcher(addr));
        // A sleep to create the condition (a kill at a random point), not
        // to wait for anything.
        tokio::time::sleep(Duration::from_millis(rng.gen_range(50..400))).await;
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        last_round = Seen::default();
        while let Some(r) = tasks.join_next().await {
            let s = r.unwrap();
            last_round.acked.extend(s.acked);
            last_round.acked_revs.extend(s.acked_revs);
            last_round.max_seen = last_round.max_seen.max(s.max_seen);
            if s.epoch != 0 {
                assert!(
                    all.epoch == 0 || all.epoch == s.epoch,
                    "epoch changed under load"
                );
                all.epoch = s.epoch;
            }
        }
        let watched = watch.await.unwrap();
        all.max_seen = all.max_seen.max(last_round.max_seen).max(watched);
        all.acked_revs.extend(last_round.acked_revs.clone());
        eprintln!(
            "round {round}: {} acked publishes, {} acked CAS writes, max seq seen {}",
            last_round.acked.len(),
            last_round.acked_revs.len(),
            all.max_seen
        );
    }
}
