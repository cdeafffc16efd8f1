//! A scripted stand-in for the spate server: a real loopback listener that
//! speaks the protocol through `spate_proto::Codec`, so the client's tests
//! control exactly which frames it sees and check exactly which it sends.

#![allow(dead_code)]

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use spate_client::proto::{
    Codec, Frame, Message, Policy, StartStatus, Subscribed, Text, Welcome, PROTOCOL_VERSION,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Framed;

/// Guard against a hung test; never a synchronisation device.
pub const GUARD: Duration = Duration::from_secs(10);

/// A fake server listening on an ephemeral loopback port.
pub struct FakeServer {
    listener: TcpListener,
    pub addr: String,
    pub welcome: Welcome,
}

impl FakeServer {
    pub async fn start() -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        FakeServer {
            listener,
            addr,
            welcome: Welcome {
                version: PROTOCOL_VERSION,
                server: Text::from("fake"),
                server_id: 42,
                max_frame: 1 << 20,
                max_subscriptions: 100,
                max_topic_len: 256,
                ping_interval_ms: 0,
            },
        }
    }

    /// Accepts one connection and completes the handshake.
    pub async fn accept(&self) -> Peer {
        let (stream, _) = tokio::time::timeout(GUARD, self.listener.accept())
            .await
            .expect("client did not connect")
            .unwrap();
        let mut peer = Peer {
            framed: Framed::new(stream, Codec::default()),
        };
        match peer.recv().await {
            Frame::Hello(h) => assert_eq!(h.version, PROTOCOL_VERSION),
            other => panic!("expected HELLO, got {other:?}"),
        }
        peer.send(Frame::Welcome(self.welcome.clone())).await;
        peer
    }
}

/// The server side of one connection.
pub struct Peer {
    pub framed: Framed<TcpStream, Codec>,
}

impl Peer {
    /// The next frame from the client (panics on EOF or a hang).
    pub async fn recv(&mut self) -> Frame {
        tokio::time::timeout(GUARD, self.framed.next())
            .await
            .expect("client sent nothing")
            .expect("client closed the connection")
            .expect("client sent an invalid frame")
    }

    /// Waits until the client closes the connection.
    pub async fn expect_eof(&mut self) {
        loop {
            match tokio::time::timeout(GUARD, self.framed.next())
                .await
                .expect("client did not close")
            {
                None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            }
        }
    }

    pub async fn send(&mut self, f: Frame) {
        self.framed.send(f).await.unwrap();
    }

    /// Expects a SUBSCRIBE and returns `(sub_id, pattern, options)`.
    pub async fn expect_subscribe(
        &mut self,
    ) -> (u32, String, spate_client::proto::SubscribeOptions) {
        match self.recv().await {
            Frame::Subscribe {
                sub_id,
                pattern,
                options,
            } => (sub_id, pattern.to_string(), options),
            other => panic!("expected SUBSCRIBE, got {other:?}"),
        }
    }

    /// Answers a SUBSCRIBE.
    pub async fn subscribed(
        &mut self,
        sub_id: u32,
        start: StartStatus,
        epoch: u64,
        first_seq: u64,
        last_seq: u64,
    ) {
        self.send(Frame::Subscribed(Subscribed {
            sub_id,
            policy: Policy::DropOldest,
            queue_msgs: 1000,
            queue_bytes: 1 << 20,
            start,
            epoch,
            first_seq,
            last_seq,
        }))
        .await;
    }

    /// Delivers message `seq` of `topic` to `sub_id`.
    pub async fn message(&mut self, sub_id: u32, topic: &str, epoch: u64, seq: u64) {
        self.send(Frame::Message {
            sub_id,
            message: msg(topic, epoch, seq),
        })
        .await;
    }
}

/// A message whose payload is its seq in decimal.
pub fn msg(topic: &str, epoch: u64, seq: u64) -> Message {
    Message {
        epoch,
        seq,
        timestamp_us: 1_700_000_000_000_000 + seq,
        state: None,
        topic: Text::from(topic),
        key: None,
        headers: Vec::new(),
        payload: seq.to_string().into(),
    }
}
