//! A WebSocket test client (tokio-tungstenite) and a server with its
//! WebSocket listener on, shared by the `server_ws*` tests.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures::{SinkExt, StreamExt};
use spate::broker::Broker;
use spate::config::Config;
use spate::server::Server;
use spate_proto::{Codec, ErrorCode, Frame, Hello, SubscribeOptions, Text};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;
use tokio_util::codec::Decoder;

use crate::common::{test_config, STEP};

/// A server with its WebSocket listener on, running in this process.
pub struct WsServer {
    pub tcp: SocketAddr,
    pub ws: SocketAddr,
    pub broker: Arc<Broker>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

/// Starts a server with [`test_config`] changed by `tune`, the WebSocket
/// listener on an ephemeral port.
pub async fn start_tuned(tune: impl FnOnce(&mut Config)) -> WsServer {
    let mut cfg = test_config();
    cfg.server.ws_listen = Some("127.0.0.1:0".parse().unwrap());
    tune(&mut cfg);
    let server = Server::bind(Arc::new(cfg)).await.expect("bind");
    let (tcp, ws) = (server.local_addr(), server.ws_local_addr().expect("ws on"));
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
    WsServer {
        tcp,
        ws,
        broker,
        stop: Some(tx),
        task,
    }
}

pub async fn start_with(origins: Vec<String>, max_frame: Option<u32>) -> WsServer {
    start_tuned(|cfg| {
        cfg.server.ws_allowed_origins = origins;
        if let Some(m) = max_frame {
            cfg.limits.max_frame_bytes = m;
        }
    })
    .await
}

pub async fn start() -> WsServer {
    start_with(Vec::new(), None).await
}

impl WsServer {
    /// Starts the graceful shutdown without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// Waits for the server to have stopped.
    pub async fn stopped(self, limit: Duration) {
        tokio::time::timeout(limit, self.task)
            .await
            .expect("server stops in time")
            .expect("server task");
    }
}

/// Polls `cond` until it holds; panics after `limit` (server state with
/// no frame to wait for; the deadline is the test).
pub async fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub struct WsClient {
    pub ws: WebSocketStream<TcpStream>,
    pending: VecDeque<Frame>,
    codec: Codec,
    /// The close frame the server sent, once it did.
    pub close: Option<Option<CloseFrame>>,
    pub protocol: Option<String>,
    /// WebSocket pongs received (skipped by `try_recv`).
    pub pongs: usize,
}

pub async fn try_connect(
    addr: SocketAddr,
    origin: Option<&str>,
    protocol: Option<&str>,
) -> Result<WsClient, WsError> {
    let mut req = format!("ws://{addr}/").into_client_request().unwrap();
    if let Some(o) = origin {
        req.headers_mut()
            .insert("origin", HeaderValue::from_str(o).unwrap());
    }
    if let Some(p) = protocol {
        req.headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_str(p).unwrap());
    }
    let tcp = TcpStream::connect(addr).await.expect("connect");
    handshake_on(tcp, req).await
}

/// The client handshake over an already connected socket.
async fn handshake_on(
    tcp: TcpStream,
    req: tokio_tungstenite::tungstenite::handshake::client::Request,
) -> Result<WsClient, WsError> {
    let (ws, resp) = tokio::time::timeout(STEP, tokio_tungstenite::client_async(req, tcp))
        .await
        .expect("handshake in time")?;
    Ok(WsClient {
        ws,
        pending: VecDeque::new(),
        codec: Codec::new(64 * 1024 * 1024),
        close: None,
        pongs: 0,
        protocol: resp
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap().to_owned()),
    })
}

impl WsClient {
    /// Connects with a fixed receive buffer of `bytes` (no autotuning) and
    /// completes HELLO/WELCOME: what the client does not read stays queued
    /// in the broker rather than in kernel buffers.
    pub async fn connect_with_window(addr: SocketAddr, bytes: u32) -> WsClient {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.set_recv_buffer_size(bytes).unwrap();
        let tcp = sock.connect(addr).await.expect("connect");
        let req = format!("ws://{addr}/").into_client_request().unwrap();
        let mut c = handshake_on(tcp, req).await.expect("handshake");
        c.hello().await;
        c
    }

    pub async fn connect(addr: SocketAddr) -> WsClient {
        let mut c = try_connect(addr, None, None).await.expect("handshake");
        c.hello().await;
        c
    }

    pub async fn hello(&mut self) {
        self.send(Frame::Hello(Hello {
            version: 1,
            flags: 0,
            client_name: Text::from("ws-test"),
            auth_token: Text::default(),
        }))
        .await;
        match self.recv().await {
            Frame::Welcome(_) => {}
            f => panic!("expected WELCOME, got {f:?}"),
        }
    }

    pub async fn send_message(&mut self, m: Message) {
        self.ws.send(m).await.expect("send");
    }

    pub async fn send(&mut self, f: Frame) {
        self.send_message(Message::Binary(f.to_bytes())).await;
    }

    /// Sends `frames` in one binary message.
    pub async fn send_all(&mut self, frames: &[Frame]) {
        let mut b = Vec::new();
        for f in frames {
            b.extend_from_slice(&f.to_bytes());
        }
        self.send_message(Message::Binary(b.into())).await;
    }

    /// Next frame, or `None` once the server closed (its close frame is
    /// then in `self.close`). Each message must hold whole frames.
    pub async fn try_recv(&mut self) -> Option<Frame> {
        loop {
            if let Some(f) = self.pending.pop_front() {
                return Some(f);
            }
            if self.close.is_some() {
                return None;
            }
            let m = tokio::time::timeout(STEP, self.ws.next())
                .await
                .expect("no message within the deadline");
            match m {
                Some(Ok(Message::Binary(b))) => {
                    let mut buf = BytesMut::from(&b[..]);
                    while let Some(f) = self.codec.decode(&mut buf).expect("decodable") {
                        self.pending.push_back(f);
                    }
                    assert!(buf.is_empty(), "a frame spans WebSocket messages");
                }
                Some(Ok(Message::Close(c))) => self.close = Some(c),
                Some(Ok(Message::Pong(_))) => self.pongs += 1,
                Some(Ok(Message::Ping(_))) => {}
                Some(Ok(m)) => panic!("unexpected message {m:?}"),
                Some(Err(_)) | None => self.close = Some(None),
            }
        }
    }

    pub async fn recv(&mut self) -> Frame {
        self.try_recv().await.expect("connection closed")
    }

    /// Expects the server to close (after any frames), returning the close code.
    pub async fn expect_close(&mut self) -> u16 {
        while let Some(f) = self.try_recv().await {
            if !matches!(f, Frame::Ping(_)) {
                panic!("expected the close, got {f:?}");
            }
        }
        let code = self
            .close
            .clone()
            .flatten()
            .map(|c| u16::from(c.code))
            .expect("a close frame with a code");
        // Finish the closing handshake; the server then drops the socket.
        let _ = tokio::time::timeout(STEP, async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
        code
    }

    pub async fn expect_error(&mut self, code: ErrorCode) {
        match self.recv().await {
            Frame::Error { code: c, .. } => assert_eq!(c, code as u16),
            f => panic!("expected ERROR {code}, got {f:?}"),
        }
    }

    pub async fn subscribe(&mut self, sub_id: u32, pattern: &str) {
        self.send(Frame::Subscribe {
            sub_id,
            pattern: Text::from(pattern),
            options: SubscribeOptions::default(),
        })
        .await;
        match self.recv().await {
            Frame::Subscribed(_) => {}
            f => panic!("expected SUBSCRIBED, got {f:?}"),
        }
    }
}
