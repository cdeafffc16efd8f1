//! Versioned state over real sockets: revisions, compare-and-set conflicts
//! that carry the current value, conditional deletes, listing, the
//! lost-update race, and snapshot subscriptions racing with writers.

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use common::*;
use spate_proto::{
    Condition, Frame, Start, StartStatus, StateChange, StateReply, StateStatus, SubscribeOptions,
    Text,
};

async fn put(
    c: &mut RawClient,
    topic: &str,
    key: &str,
    value: &str,
    condition: Condition,
) -> StateReply {
    c.send(Frame::StatePut {
        request_id: 9,
        topic: Text::from(topic),
        key: Text::from(key),
        condition,
        value: Bytes::copy_from_slice(value.as_bytes()),
    })
    .await;
    match c.recv_skip_ping().await {
        Frame::StateReply(r) => {
            assert_eq!(r.request_id, 9);
            r
        }
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

async fn del(c: &mut RawClient, topic: &str, key: &str, condition: Condition) -> StateReply {
    c.send(Frame::StateDel {
        request_id: 11,
        topic: Text::from(topic),
        key: Text::from(key),
        condition,
    })
    .await;
    match c.recv_skip_ping().await {
        Frame::StateReply(r) => r,
        f => panic!("{f:?}"),
    }
}

#[tokio::test]
async fn put_get_and_compare_and_set() {
    let srv = start_default().await;
    let mut c = RawClient::connect(srv.addr).await;
    let r1 = put(&mut c, "cfg.app", "color", "red", Condition::IfAbsent).await;
    assert_eq!((r1.status, r1.revision), (StateStatus::Ok, 1));
    let g = get(&mut c, "cfg.app", "color").await;
    assert_eq!(
        (g.status, g.revision, g.value.as_deref()),
        (StateStatus::Ok, 1, Some(&b"red"[..]))
    );

    let conflict = put(&mut c, "cfg.app", "color", "blue", Condition::IfAbsent).await;
    assert_eq!(
        (conflict.status, conflict.revision),
        (StateStatus::Conflict, 1)
    );
    assert_eq!(
        conflict.value.as_deref(),
        Some(&b"red"[..]),
        "conflict carries the current value"
    );

    let stale = put(&mut c, "cfg.app", "color", "blue", Condition::IfRevision(7)).await;
    assert_eq!((stale.status, stale.revision), (StateStatus::Conflict, 1));
    let ok = put(&mut c, "cfg.app", "color", "blue", Condition::IfRevision(1)).await;
    assert_eq!((ok.status, ok.revision), (StateStatus::Ok, 2));
    let lww = put(&mut c, "cfg.app", "color", "green", Condition::None).await;
    assert_eq!(lww.revision, 3);

    let d = del(&mut c, "cfg.app", "color", Condition::IfRevision(2)).await;
    assert_eq!((d.status, d.revision), (StateStatus::Conflict, 3));
    let d = del(&mut c, "cfg.app", "color", Condition::IfRevision(3)).await;
    assert_eq!((d.status, d.revision), (StateStatus::Ok, 4));
    assert_eq!(
        get(&mut c, "cfg.app", "color").await.status,
        StateStatus::NotFound
    );
    assert_eq!(
        del(&mut c, "cfg.app", "color", Condition::None)
            .await
            .status,
        StateStatus::NotFound
    );
    assert_eq!(
        get(&mut c, "cfg.none", "x").await.status,
        StateStatus::NotFound
    );

    c.send(Frame::StatePut {
        request_id: 5,
        topic: Text::from("cfg.app"),
        key: Text::from(""),
        condition: Condition::None,
        value: Bytes::new(),
    })
    .await;
    c.expect_error(spate_proto::ErrorCode::InvalidKey, false)
        .await;
    srv.stop().await;
}

#[tokio::test]
async fn state_changes_are_messages_on_the_topic() {
    let srv = start_default().await;
    let mut s = RawClient::connect(srv.addr).await;
    s.subscribe(1, "cfg.msgs", SubscribeOptions::default())
        .await;
    let mut c = RawClient::connect(srv.addr).await;
    put(&mut c, "cfg.msgs", "k", "v1", Condition::None).await;
    del(&mut c, "cfg.msgs", "k", Condition::None).await;
    let Frame::Message { message: m1, .. } = s.recv().await else {
        panic!()
    };
    assert_eq!(
        (m1.seq, m1.state, m1.key.as_deref()),
        (1, Some(StateChange::Put), Some("k"))
    );
    assert_eq!(&m1.payload[..], b"v1");
    let Frame::Message { message: m2, .. } = s.recv().await else {
        panic!()
    };
    assert_eq!(
        (m2.seq, m2.state, m2.payload.len()),
        (2, Some(StateChange::Delete), 0)
    );
    srv.stop().await;
}

#[tokio::test]
async fn list_pages_through_keys_in_order() {
    let srv = start_default().await;
    let mut c = RawClient::connect(srv.addr).await;
    for i in 0..25 {
        put(
            &mut c,
            "cfg.list",
            &format!("key{i:02}"),
            &i.to_string(),
            Condition::None,
        )
        .await;
    }
    let mut after = String::new();
    let mut keys = Vec::new();
    loop {
        c.send(Frame::StateList {
            request_id: 3,
            topic: Text::from("cfg.list"),
            after: Text::from(after.as_str()),
            limit: 10,
        })
        .await;
        let Frame::StateListReply { entries, more, .. } = c.recv().await else {
            panic!()
        };
        assert!(entries.len() <= 10);
        keys.extend(entries.iter().map(|e| e.key.to_string()));
        if !more {
            break;
        }
        after = entries.last().unwrap().key.to_string();
    }
    let want: Vec<String> = (0..25).map(|i| format!("key{i:02}")).collect();
    assert_eq!(keys, want);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_read_modify_write_never_loses_an_update() {
    let srv = start_default().await;
    const CLIENTS: u64 = 8;
    const EACH: u64 = 50;
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let addr = srv.addr;
        tasks.push(tokio::spawn(async move {
            let mut c = RawClient::connect(addr).await;
            let mut conflicts = 0u64;
            for _ in 0..EACH {
                loop {
                    let g = get(&mut c, "race.counter", "n").await;
                    let (cur, cond) = match g.status {
                        StateStatus::Ok => {
                            let v: u64 = std::str::from_utf8(g.value.as_ref().unwrap())
                                .unwrap()
                                .parse()
                                .unwrap();
                            (v, Condition::IfRevision(g.revision))
                        }
                        _ => (0, Condition::IfAbsent),
                    };
                    let r = put(&mut c, "race.counter", "n", &(cur + 1).to_string(), cond).await;
                    match r.status {
                        StateStatus::Ok => break,
                        StateStatus::Conflict => conflicts += 1,
                        s => panic!("{s:?}"),
                    }
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for t in tasks {
        conflicts += t.await.unwrap();
    }
    let mut c = RawClient::connect(srv.addr).await;
    let g = get(&mut c, "race.counter", "n").await;
    assert_eq!(
        g.value.as_deref(),
        Some((CLIENTS * EACH).to_string().as_bytes()),
        "no update lost"
    );
    assert!(conflicts > 0, "contention produced conflicts");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_subscription_racing_with_writers_misses_and_repeats_nothing() {
    let srv = start_default().await;
    let addr = srv.addr;
    let writers: Vec<_> = (0..3)
        .map(|w| {
            tokio::spawn(async move {
                let mut c = RawClient::connect(addr).await;
                for i in 0..300 {
                    let key = format!("k{}", (i * 7 + w) % 20);
                    if i % 13 == 0 {
                        del(&mut c, "snap.t", &key, Condition::None).await;
                    } else {
                        put(&mut c, "snap.t", &key, &format!("{w}-{i}"), Condition::None).await;
                    }
                }
            })
        })
        .collect();
    let mut views = Vec::new();
    for i in 0..5 {
        let mut s = RawClient::connect(srv.addr).await;
        let sub = s
            .subscribe(
                i,
                "snap.t",
                SubscribeOptions {
                    start: Start::Snapshot,
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(sub.start, StartStatus::Snapshot);
        views.push((s, sub));
        tokio::task::yield_now().await;
    }
    for w in writers {
        w.await.unwrap();
    }
    let mut c = RawClient::connect(srv.addr).await;
    let mut truth = BTreeMap::new();
    c.send(Frame::StateList {
        request_id: 1,
        topic: Text::from("snap.t"),
        after: Text::default(),
        limit: 0,
    })
    .await;
    let Frame::StateListReply { entries, .. } = c.recv().await else {
        panic!()
    };
    for e in entries {
        truth.insert(e.key.to_string(), (e.revision, e.value));
    }
    // The topic's final seq (deletes of absent keys publish nothing).
    let final_seq = srv
        .broker
        .existing_topic("snap.t")
        .unwrap()
        .inner
        .lock()
        .seq;
    for (mut s, sub) in views {
        let mut view: BTreeMap<String, (u64, Bytes)> = BTreeMap::new();
        let mut last_live = sub.last_seq;
        let mut seen_seq = std::collections::HashSet::new();
        while last_live < final_seq {
            let Frame::Message { message: m, .. } = s.recv_skip_ping().await else {
                panic!()
            };
            assert!(seen_seq.insert(m.seq), "seq {} delivered twice", m.seq);
            if m.seq > sub.last_seq {
                assert_eq!(
                    m.seq,
                    last_live + 1,
                    "live changes are contiguous after the snapshot"
                );
                last_live = m.seq;
            }
            let key = m.key.unwrap().to_string();
            match m.state {
                Some(StateChange::Put) => view.insert(key, (m.seq, m.payload)),
                Some(StateChange::Delete) => view.remove(&key),
                None => panic!("not a state message"),
            };
        }
        assert_eq!(view, truth, "snapshot + live changes = the server's state");
    }
    srv.stop().await;
}
