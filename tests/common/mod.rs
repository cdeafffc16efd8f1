//! Test harness: a real server on an ephemeral loopback port, and a raw
//! protocol client built on the real codec, for black-box tests over TCP.
#![allow(dead_code)]

pub mod cli;
pub mod redis;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use spate::broker::Broker;
use spate::config::Config;
use spate::server::Server;
use spate_proto::{Codec, Frame, Hello, Publish, SubscribeOptions, Subscribed, Text, Welcome};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;

/// How long any single expected event may take before the test fails.
pub const STEP: Duration = Duration::from_secs(10);

/// A server running in this process.
pub struct TestServer {
    /// Client listener address.
    pub addr: SocketAddr,
    /// The broker, to read its own accounting.
    pub broker: Arc<Broker>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

/// Defaults suited to tests: ephemeral port, admin off.
pub fn test_config() -> Config {
    let mut c = Config::default();
    c.server.listen = "127.0.0.1:0".parse().unwrap();
    c.server.admin_enabled = false;
    c
}

/// Starts a server with `config` (its listen address is forced to port 0).
pub async fn start(mut config: Config) -> TestServer {
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind(Arc::new(config)).await.expect("bind");
    let addr = server.local_addr();
    let broker = server.broker();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .run(async {
                let _ = rx.await;
            })
            .await
            .expect("server run");
    });
    TestServer {
        addr,
        broker,
        stop: Some(tx),
        task,
    }
}

/// Starts a server with [`test_config`].
pub async fn start_default() -> TestServer {
    start(test_config()).await
}

impl TestServer {
    /// Graceful shutdown; waits for it to complete.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), &mut self.task)
            .await
            .expect("server stops")
            .expect("server task");
    }
}

/// A client speaking raw frames with the real codec.
pub struct RawClient {
    pub io: Framed<TcpStream, Codec>,
    /// WELCOME, once the handshake is done.
    pub welcome: Option<Welcome>,
}

impl RawClient {
    /// Connects without sending anything.
    pub async fn connect_raw(addr: SocketAddr) -> RawClient {
        let s = TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).unwrap();
        RawClient {
            io: Framed::new(s, Codec::new(64 * 1024 * 1024)),
            welcome: None,
        }
    }

    /// Connects and completes HELLO/WELCOME.
    pub async fn connect(addr: SocketAddr) -> RawClient {
        let mut c = RawClient::connect_raw(addr).await;
        c.hello().await;
        c
    }

    /// Connects with a tiny receive buffer, so that a client that stops
    /// reading backs up into the server's queue quickly instead of into
    /// the kernel.
    pub async fn connect_slow(addr: SocketAddr) -> RawClient {
        RawClient::connect_with_window(addr, 4096, "test").await
    }

    /// Connects with a fixed receive buffer of `bytes` (no autotuning) and
    /// completes HELLO/WELCOME as `name`: what the client does not read
    /// stays queued in the broker rather than in kernel buffers.
    pub async fn connect_with_window(addr: SocketAddr, bytes: u32, name: &str) -> RawClient {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.set_recv_buffer_size(bytes).unwrap();
        let s = sock.connect(addr).await.expect("connect");
        s.set_nodelay(true).unwrap();
        let mut c = RawClient {
            io: Framed::new(s, Codec::new(64 * 1024 * 1024)),
            welcome: None,
        };
        c.hello_as(name).await;
        c
    }

    async fn hello(&mut self) {
        self.hello_as("test").await
    }

    async fn hello_as(&mut self, name: &str) {
        let c = self;
        c.send(Frame::Hello(Hello {
            version: 1,
            flags: 0,
            client_name: Text::from(name),
            auth_token: Text::default(),
        }))
        .await;
        match c.recv().await {
            Frame::Welcome(w) => c.welcome = Some(w),
            f => panic!("expected WELCOME, got {f:?}"),
        }
    }

    /// Sends one frame.
    pub async fn send(&mut self, f: Frame) {
        self.io.send(f).await.expect("send");
    }

    /// Queues frames without flushing (for pipelining).
    pub async fn feed(&mut self, f: Frame) {
        self.io.feed(f).await.expect("feed");
    }

    /// Flushes fed frames.
    pub async fn flush_io(&mut self) {
        self.io.flush().await.expect("flush");
    }

    /// Writes raw bytes.
    pub async fn send_bytes(&mut self, b: &[u8]) {
        self.io.get_mut().write_all(b).await.expect("write");
    }

    /// Next frame; panics on EOF, error or timeout.
    pub async fn recv(&mut self) -> Frame {
        match self.try_recv().await {
            Some(f) => f,
            None => panic!("connection closed while a frame was expected"),
        }
    }

    /// Next frame, or `None` at EOF / connection reset.
    pub async fn try_recv(&mut self) -> Option<Frame> {
        match tokio::time::timeout(STEP, self.io.next()).await {
            Err(_) => panic!("no frame within {STEP:?}"),
            Ok(None) => None,
            Ok(Some(Err(spate_proto::CodecError::Io(_)))) => None,
            Ok(Some(Err(e))) => panic!("undecodable frame from server: {e}"),
            Ok(Some(Ok(f))) => Some(f),
        }
    }

    /// Next frame that is not a server PING (answering those).
    pub async fn recv_skip_ping(&mut self) -> Frame {
        loop {
            match self.recv().await {
                Frame::Ping(t) => self.send(Frame::Pong(t)).await,
                f => return f,
            }
        }
    }

    /// Expects an ERROR with `code`, then (if `fatal`) the connection to close.
    pub async fn expect_error(&mut self, code: spate_proto::ErrorCode, fatal: bool) -> String {
        let msg = match self.recv().await {
            Frame::Error {
                code: c, message, ..
            } => {
                assert_eq!(c, code as u16, "error code (message: {message})");
                message.to_string()
            }
            f => panic!("expected ERROR {code}, got {f:?}"),
        };
        if fatal {
            assert!(
                self.try_recv().await.is_none(),
                "connection should close after a fatal error"
            );
        }
        msg
    }

    /// Subscribes and returns SUBSCRIBED.
    pub async fn subscribe(
        &mut self,
        sub_id: u32,
        pattern: &str,
        options: SubscribeOptions,
    ) -> Subscribed {
        self.send(Frame::Subscribe {
            sub_id,
            pattern: Text::from(pattern),
            options,
        })
        .await;
        match self.recv().await {
            Frame::Subscribed(s) => s,
            f => panic!("expected SUBSCRIBED, got {f:?}"),
        }
    }

    /// Fire-and-forget publish.
    pub async fn publish(&mut self, topic: &str, payload: impl Into<Bytes>) {
        self.send(Frame::Publish(publish(0, topic, payload, false)))
            .await;
    }

    /// PING/PONG round trip: everything sent before has been processed.
    /// Frames arriving before the PONG are returned.
    pub async fn barrier(&mut self) -> Vec<Frame> {
        let token = rand_token();
        self.send(Frame::Ping(token)).await;
        let mut before = Vec::new();
        loop {
            match self.recv().await {
                Frame::Pong(t) if t == token => return before,
                f => before.push(f),
            }
        }
    }
}

fn rand_token() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed) | (1 << 40)
}

/// Builds a PUBLISH.
pub fn publish(request_id: u32, topic: &str, payload: impl Into<Bytes>, ack: bool) -> Publish {
    Publish {
        request_id,
        ack,
        topic: Text::from(topic),
        key: None,
        headers: Vec::new(),
        payload: payload.into(),
    }
}

/// What a subscription received, tallied.
#[derive(Debug, Default)]
pub struct Tally {
    /// Seqs of delivered messages, in arrival order.
    pub seqs: Vec<u64>,
    /// Payloads, in arrival order.
    pub payloads: Vec<Bytes>,
    /// Keys, in arrival order.
    pub keys: Vec<Option<String>>,
    /// GAP frames, in arrival order.
    pub gaps: Vec<spate_proto::Gap>,
    /// Sum of GAP counts.
    pub lost: u64,
}

impl Tally {
    /// Delivered plus announced lost.
    pub fn accounted(&self) -> u64 {
        self.seqs.len() as u64 + self.lost
    }

    /// Records one frame; returns false for frames that are not deliveries.
    pub fn record(&mut self, f: Frame) -> bool {
        match f {
            Frame::Message { message, .. } => self.msg(message),
            Frame::MessageBatch { messages, .. } => messages.into_iter().for_each(|m| self.msg(m)),
            Frame::Gap(g) => {
                self.lost += g.count;
                self.gaps.push(g);
            }
            _ => return false,
        }
        true
    }

    fn msg(&mut self, m: spate_proto::Message) {
        self.seqs.push(m.seq);
        self.keys.push(m.key.map(|k| k.to_string()));
        self.payloads.push(m.payload);
    }
}

impl RawClient {
    /// Reads deliveries until `total` messages are accounted for
    /// (delivered + announced lost).
    pub async fn tally_until(&mut self, total: u64) -> Tally {
        let mut t = Tally::default();
        while t.accounted() < total {
            let f = self.recv_skip_ping().await;
            assert!(t.record(f.clone()), "unexpected frame {f:?}");
        }
        t
    }
}
