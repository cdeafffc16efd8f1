//! Resume through connection loss, against a real server. A small TCP
//! proxy sits between the subscribing client and the server so the test can
//! cut the connection at any point, keep the client out for a while, or
//! point it at another server; the client must reconnect and continue its
//! stream without loss or duplicates, or say exactly what it could not
//! recover.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use futures::StreamExt;
use spate_client::{
    Client, ClientOptions, Event, GapReason, Notice, Reconnect, SubscribeOptions, Subscription,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// A TCP proxy whose connections can be cut and whose target can change.
struct Proxy {
    addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
}

struct ProxyState {
    target: SocketAddr,
    /// While false, new connections are closed at once.
    up: bool,
    links: Vec<AbortHandle>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ProxyState {
            target,
            up: true,
            links: Vec::new(),
        }));
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let (target, up) = {
                    let s = st.lock().unwrap();
                    (s.target, s.up)
                };
                if !up {
                    continue; // dropping `inbound` closes it
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                st.lock().unwrap().links.push(link.abort_handle());
            }
        });
        Proxy { addr, state }
    }

    /// Cuts every proxied connection.
    fn cut(&self) {
        for l in self.state.lock().unwrap().links.drain(..) {
            l.abort();
        }
    }

    fn set_up(&self, up: bool) {
        self.state.lock().unwrap().up = up;
    }

    fn set_target(&self, target: SocketAddr) {
        self.state.lock().unwrap().target = target;
    }
}

fn resuming_client_options() -> ClientOptions {
    ClientOptions::default().reconnect(Some(Reconnect {
        initial: Duration::from_millis(5),
        max: Duration::from_millis(50),
        multiplier: 2.0,
        max_attempts: None,
    }))
}

async fn next_event(sub: &mut Subscription) -> Event {
    tokio::time::timeout(STEP, sub.next())
        .await
        .expect("no event in time")
        .expect("stream ended")
}

/// Skips notices, returning the next message's seq.
async fn next_seq(sub: &mut Subscription, notices: &mut Vec<Notice>) -> u64 {
    loop {
        match next_event(sub).await {
            Event::Message(m) => return m.seq,
            Event::Notice(n) => notices.push(n),
            Event::Gap(g) => panic!("unexpected gap {g:?}"),
        }
    }
}

#[tokio::test]
async fn a_cut_connection_resumes_with_every_seq_exactly_once() {
    let mut config = test_config();
    config.history.max_msgs = 100_000;
    config.history.max_bytes = 64 * 1024 * 1024;
    let srv = start(config).await;
    let proxy = Proxy::start(srv.addr).await;
    let subscriber = Client::connect(proxy.addr.to_string(), resuming_client_options())
        .await
        .unwrap();
    let mut sub = subscriber
        .subscribe("resume.t", SubscribeOptions::default())
        .await
        .unwrap();

    const N: u64 = 20_000;
    let publisher = Client::connect(srv.addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let publishing = tokio::spawn(async move {
        for i in 1..=N {
            publisher.publish("resume.t", i.to_string()).await.unwrap();
            if i % 1000 == 0 {
                publisher.flush().await.unwrap();
            }
        }
        publisher.flush().await.unwrap();
    });

    // Cut the connection at pseudo-random points while publishing goes on.
    let mut cut_at: Vec<u64> = (0..8).map(|i| 500 + i * 2_311 % N).collect();
    cut_at.sort_unstable();
    let mut notices = Vec::new();
    let mut expected = 1;
    while expected <= N {
        let seq = next_seq(&mut sub, &mut notices).await;
        assert_eq!(seq, expected, "every seq exactly once, in order");
        if cut_at.first() == Some(&seq) {
            cut_at.remove(0);
            proxy.cut();
        }
        expected += 1;
    }
    publishing.await.unwrap();
    let resumed = notices
        .iter()
        .filter(|n| matches!(n, Notice::Resumed { .. }))
        .count();
    assert!(
        resumed >= 1,
        "the client resumed after the cuts: {notices:?}"
    );
    assert!(
        notices
            .iter()
            .all(|n| matches!(n, Notice::Resumed { .. } | Notice::Disconnected { .. })),
        "nothing was lost: {notices:?}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn resuming_beyond_retention_reports_the_exact_loss() {
    let mut config = test_config();
    config.history.max_msgs = 10;
    let srv = start(config).await;
    let proxy = Proxy::start(srv.addr).await;
    let subscriber = Client::connect(proxy.addr.to_string(), resuming_client_options())
        .await
        .unwrap();
    let mut sub = subscriber
        .subscribe("short.t", SubscribeOptions::default())
        .await
        .unwrap();
    let publisher = Client::connect(srv.addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    for i in 1..=3 {
        publisher.publish("short.t", i.to_string()).await.unwrap();
    }
    publisher.flush().await.unwrap();
    let mut notices = Vec::new();
    for seq in 1..=3 {
        assert_eq!(next_seq(&mut sub, &mut notices).await, seq);
    }

    // Keep the subscriber out while 50 more are published: history keeps
    // only the last 10 of them.
    proxy.set_up(false);
    proxy.cut();
    assert!(matches!(
        next_event(&mut sub).await,
        Event::Notice(Notice::Disconnected { .. })
    ));
    for i in 4..=53 {
        publisher.publish("short.t", i.to_string()).await.unwrap();
    }
    publisher.flush().await.unwrap();
    proxy.set_up(true);

    assert_eq!(
        next_event(&mut sub).await,
        Event::Notice(Notice::Truncated {
            requested_seq: 4,
            first_seq: 44
        })
    );
    match next_event(&mut sub).await {
        Event::Gap(g) => {
            assert_eq!(g.reason, GapReason::NotRetained);
            assert_eq!((g.count, g.first_seq, g.last_seq), (40, 4, 43));
        }
        other => panic!("expected the gap, got {other:?}"),
    }
    for seq in 44..=53 {
        assert_eq!(next_seq(&mut sub, &mut notices).await, seq);
    }
    srv.stop().await;
}

#[tokio::test]
async fn a_restarted_server_is_reported_as_a_new_epoch_and_wildcards_as_live() {
    let mut config = test_config();
    config.timeouts.shutdown_drain_ms = 200;
    let first = start(config.clone()).await;
    let proxy = Proxy::start(first.addr).await;
    let subscriber = Client::connect(proxy.addr.to_string(), resuming_client_options())
        .await
        .unwrap();
    let mut literal = subscriber
        .subscribe("restart.a", SubscribeOptions::default())
        .await
        .unwrap();
    let mut wildcard = subscriber
        .subscribe("restart.>", SubscribeOptions::default())
        .await
        .unwrap();
    let old_epoch = literal.granted().epoch;
    let publisher = Client::connect(first.addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    publisher.publish("restart.a", "before").await.unwrap();
    publisher.flush().await.unwrap();
    let mut notices = Vec::new();
    assert_eq!(next_seq(&mut literal, &mut notices).await, 1);
    assert_eq!(next_seq(&mut wildcard, &mut notices).await, 1);

    // Graceful stop: GOAWAY, then the connection closes; the client keeps
    // trying, and the proxy now leads to a fresh server.
    proxy.set_up(false);
    first.stop().await;
    let second = start(config).await;
    proxy.set_target(second.addr);
    proxy.set_up(true);

    let mut seen = Vec::new();
    let new_epoch = loop {
        match next_event(&mut literal).await {
            Event::Notice(Notice::EpochChanged {
                old_epoch: o,
                new_epoch,
            }) => {
                assert_eq!(o, old_epoch);
                break new_epoch;
            }
            Event::Notice(n) => seen.push(n),
            other => panic!("expected notices, got {other:?}"),
        }
    };
    assert_ne!(new_epoch, old_epoch);
    assert!(
        seen.iter()
            .any(|n| matches!(n, Notice::ServerGoingAway { .. })),
        "GOAWAY was surfaced: {seen:?}"
    );
    loop {
        match next_event(&mut wildcard).await {
            Event::Notice(Notice::ResumedLive) => break,
            Event::Notice(_) => {}
            other => panic!("expected notices, got {other:?}"),
        }
    }
    let publisher = Client::connect(second.addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    publisher.publish("restart.a", "after").await.unwrap();
    publisher.flush().await.unwrap();
    assert_eq!(next_seq(&mut literal, &mut notices).await, 1);
    assert_eq!(next_seq(&mut wildcard, &mut notices).await, 1);
    second.stop().await;
}

#[tokio::test]
async fn a_slow_consumer_cut_by_the_server_resumes_without_loss() {
    let mut config = test_config();
    config.history.max_msgs = 100_000;
    config.history.max_bytes = 64 * 1024 * 1024;
    config.queues.block_timeout_ms = 100;
    let srv = start(config).await;
    let subscriber = Client::connect(srv.addr.to_string(), resuming_client_options())
        .await
        .unwrap();
    let options = SubscribeOptions {
        policy: Some(spate_client::Policy::Block),
        queue_msgs: Some(100),
        buffer: 1,
        ..SubscribeOptions::default()
    };
    let mut sub = subscriber.subscribe("slow.t", options).await.unwrap();

    // The application does not consume while 12 MB are published: the
    // client stops reading, the block queue fills, the publisher waits past
    // the block timeout and the server cuts the subscriber (SLOW_CONSUMER).
    // The flush returning proves the cut happened: nothing else could hold
    // all of it.
    const N: u64 = 50_000;
    let publisher = Client::connect(srv.addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let payload = bytes::Bytes::from(vec![b'x'; 256]);
    for _ in 0..N {
        publisher.publish("slow.t", payload.clone()).await.unwrap();
    }
    publisher.flush().await.unwrap();

    let mut notices = Vec::new();
    for expected in 1..=N {
        assert_eq!(next_seq(&mut sub, &mut notices).await, expected);
    }
    assert!(
        notices.iter().any(|n| matches!(n, Notice::Resumed { .. })),
        "the subscriber was cut and resumed: {notices:?}"
    );
    srv.stop().await;
}
