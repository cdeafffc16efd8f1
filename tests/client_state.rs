//! Versioned state through the Rust client against a real server:
//! compare-and-set outcomes, deletes, listing with pagination, a
//! lost-update race resolved by retrying on conflict, and a snapshot
//! subscription.

mod common;

use bytes::Bytes;
use common::*;
use futures::StreamExt;
use spate_client::{
    Client, ClientOptions, Condition, Event, Start, StateChange, StateError, SubscribeOptions,
};

async fn connect(srv: &TestServer) -> Client {
    Client::connect(srv.addr.to_string(), ClientOptions::default())
        .await
        .expect("connect")
}

#[tokio::test]
async fn compare_and_set_put_get_and_delete() {
    let srv = start_default().await;
    let c = connect(&srv).await;
    let r1 = c
        .state_put("cfg", "mode", "a", Condition::IfAbsent)
        .await
        .unwrap();
    match c.state_put("cfg", "mode", "b", Condition::IfAbsent).await {
        Err(StateError::Conflict { revision, value }) => {
            assert_eq!(revision, r1);
            assert_eq!(value, Some(Bytes::from("a")));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let r2 = c
        .state_put("cfg", "mode", "b", Condition::IfRevision(r1))
        .await
        .unwrap();
    assert!(r2 > r1);
    let v = c.state_get("cfg", "mode").await.unwrap().unwrap();
    assert_eq!((v.value, v.revision), (Bytes::from("b"), r2));
    assert!(matches!(
        c.state_del("cfg", "mode", Condition::IfRevision(r1)).await,
        Err(StateError::Conflict { revision, .. }) if revision == r2
    ));
    let r3 = c
        .state_del("cfg", "mode", Condition::IfRevision(r2))
        .await
        .unwrap();
    assert!(r3 > r2);
    assert_eq!(c.state_get("cfg", "mode").await.unwrap(), None);
    assert!(matches!(
        c.state_del("cfg", "mode", Condition::None).await,
        Err(StateError::NotFound)
    ));
    srv.stop().await;
}

#[tokio::test]
async fn listing_pages_through_every_key_in_order() {
    let srv = start_default().await;
    let c = connect(&srv).await;
    for k in ["e", "a", "d", "b", "c"] {
        c.state_put("list.t", k, format!("v{k}"), Condition::None)
            .await
            .unwrap();
    }
    let mut keys = Vec::new();
    let mut after = String::new();
    loop {
        let page = c.state_list("list.t", after.as_str(), 2).await.unwrap();
        assert!(page.entries.len() <= 2);
        keys.extend(page.entries.iter().map(|e| e.key.to_string()));
        match page.entries.last() {
            Some(last) if page.more => after = last.key.to_string(),
            _ => break,
        }
    }
    assert_eq!(keys, ["a", "b", "c", "d", "e"]);
    srv.stop().await;
}

#[tokio::test]
async fn concurrent_increments_never_lose_an_update() {
    let srv = start_default().await;
    const CLIENTS: u64 = 4;
    const EACH: u64 = 25;
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let c = connect(&srv).await;
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0u64;
            for _ in 0..EACH {
                let (mut value, mut revision) = match c.state_get("ctr", "n").await.unwrap() {
                    Some(v) => (parse(&v.value), v.revision),
                    None => (0, 0),
                };
                loop {
                    let cond = Condition::IfRevision(revision);
                    match c.state_put("ctr", "n", (value + 1).to_string(), cond).await {
                        Ok(_) => break,
                        Err(StateError::Conflict {
                            revision: r,
                            value: v,
                        }) => {
                            conflicts += 1;
                            revision = r;
                            value = v.map_or(0, |v| parse(&v));
                        }
                        Err(e) => panic!("{e}"),
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
    let c = connect(&srv).await;
    let v = c.state_get("ctr", "n").await.unwrap().unwrap();
    assert_eq!(parse(&v.value), CLIENTS * EACH);
    // However many conflicts there were, each was retried: none lost an
    // update.
    println!("{conflicts} conflicts retried");
    srv.stop().await;
}

fn parse(b: &[u8]) -> u64 {
    std::str::from_utf8(b).unwrap().parse().unwrap()
}

#[tokio::test]
async fn snapshot_subscription_delivers_state_then_changes() {
    let srv = start_default().await;
    let c = connect(&srv).await;
    c.state_put("snap", "a", "1", Condition::None)
        .await
        .unwrap();
    c.state_put("snap", "b", "2", Condition::None)
        .await
        .unwrap();
    c.state_put("snap", "a", "3", Condition::None)
        .await
        .unwrap();
    let mut sub = c
        .subscribe("snap", SubscribeOptions::default().start(Start::Snapshot))
        .await
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..2 {
        match tokio::time::timeout(STEP, sub.next())
            .await
            .unwrap()
            .unwrap()
        {
            Event::Message(m) => {
                assert_eq!(m.state, Some(StateChange::Put));
                seen.push((m.key.unwrap().to_string(), m.payload));
            }
            other => panic!("expected a snapshot message, got {other:?}"),
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            ("a".to_string(), Bytes::from("3")),
            ("b".to_string(), Bytes::from("2"))
        ]
    );
    c.state_del("snap", "b", Condition::None).await.unwrap();
    match tokio::time::timeout(STEP, sub.next())
        .await
        .unwrap()
        .unwrap()
    {
        Event::Message(m) => {
            assert_eq!(m.state, Some(StateChange::Delete));
            assert_eq!(m.key.as_deref(), Some("b"));
        }
        other => panic!("expected the delete, got {other:?}"),
    }
    srv.stop().await;
}
