//! Knobs: [`ClientOptions`] for the connection (name, timeouts, the bounds
//! on every internal buffer, reconnection) and [`SubscribeOptions`] for one
//! subscription (the wire options plus the size of its event buffer).
//!
//! Every buffer the client keeps has a limit here; none grows without one.

use std::time::Duration;

use spate_proto::{Policy, Start};

/// How the client reconnects after the connection drops: exponential
/// backoff with jitter, so a restarted broker is not hit by every client at
/// the same instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconnect {
    /// Delay before the first attempt.
    pub initial: Duration,
    /// Largest delay between attempts.
    pub max: Duration,
    /// Factor the delay grows by after each failed attempt.
    pub multiplier: f64,
    /// Give up after this many failed attempts in a row (`None`: never).
    pub max_attempts: Option<u32>,
}

impl Default for Reconnect {
    fn default() -> Reconnect {
        Reconnect {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
            multiplier: 2.0,
            max_attempts: None,
        }
    }
}

/// Options of a [`crate::Client`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Name sent in HELLO; shows in the server's logs and stats.
    pub name: String,
    /// Limit on opening the TCP connection plus the HELLO/WELCOME exchange.
    pub connect_timeout: Duration,
    /// Reconnect policy; `None` ends the client when the connection drops.
    pub reconnect: Option<Reconnect>,
    /// Requests queued from the application to the connection task. When
    /// full, calls wait: this is how a fast publisher is slowed to the
    /// speed of the socket.
    pub request_buffer: usize,
    /// Most requests awaiting a reply (acknowledged publishes, state
    /// operations, subscribes, flushes). When reached, new requests wait.
    pub max_in_flight: usize,
    /// Encoded bytes waiting for the socket above which no more requests
    /// are taken in until the socket drains.
    pub write_buffer: usize,
    /// Largest frame accepted from the server (at least the server's own
    /// `max_frame` plus 64 KiB, the most it may send, is always accepted).
    pub max_incoming_frame: usize,
    /// Send a PING after this long without hearing from the server, and
    /// treat the connection as dead if another interval passes in silence
    /// (`None`: rely on the server's own PINGs and TCP).
    pub keepalive: Option<Duration>,
    /// HELLO's `auth_token` (protocol.md §5.6): `user:secret` or a JWT;
    /// `None` sends none. Asked again on every (re)connection.
    pub token: Option<TokenSource>,
    /// Connect with TLS (feature `tls`); `None`: plain TCP.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::TlsOptions>,
}

/// Where the auth token comes from: a fixed string, or a function asked
/// for a fresh one on every connection (a JWT about to expire is replaced
/// this way: on the server's expiry GOAWAY the client reconnects at once
/// with a new token and resumes its subscriptions).
#[derive(Clone)]
pub struct TokenSource {
    get: std::sync::Arc<dyn Fn() -> String + Send + Sync>,
    refreshes: bool,
}

impl TokenSource {
    /// The same token every time.
    pub fn fixed(token: impl Into<String>) -> TokenSource {
        let t: String = token.into();
        TokenSource {
            get: std::sync::Arc::new(move || t.clone()),
            refreshes: false,
        }
    }

    /// A fresh token from `f` for every connection.
    pub fn refresh(f: impl Fn() -> String + Send + Sync + 'static) -> TokenSource {
        TokenSource {
            get: std::sync::Arc::new(f),
            refreshes: true,
        }
    }

    /// The token for a new connection.
    pub fn token(&self) -> String {
        (self.get)()
    }

    /// True when each connection may get a new token.
    pub fn refreshes(&self) -> bool {
        self.refreshes
    }
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("TokenSource")
            .field("refreshes", &self.refreshes)
            .finish_non_exhaustive()
    }
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            name: format!("spate-client/{}", env!("CARGO_PKG_VERSION")),
            connect_timeout: Duration::from_secs(5),
            reconnect: Some(Reconnect::default()),
            request_buffer: 1024,
            max_in_flight: 1024,
            write_buffer: 256 * 1024,
            max_incoming_frame: 16 * 1024 * 1024,
            keepalive: Some(Duration::from_secs(30)),
            token: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl ClientOptions {
    /// Sets the client name sent in HELLO.
    pub fn name(mut self, name: impl Into<String>) -> ClientOptions {
        self.name = name.into();
        self
    }

    /// Sends `token` (`user:secret` or a JWT) in HELLO.
    pub fn token(mut self, token: impl Into<String>) -> ClientOptions {
        self.token = Some(TokenSource::fixed(token));
        self
    }

    /// Asks `f` for a fresh token on every connection.
    pub fn token_fn(mut self, f: impl Fn() -> String + Send + Sync + 'static) -> ClientOptions {
        self.token = Some(TokenSource::refresh(f));
        self
    }

    /// Connects with TLS (feature `tls`).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::TlsOptions) -> ClientOptions {
        self.tls = Some(tls);
        self
    }

    /// Sets the reconnect policy (`None` disables reconnection).
    pub fn reconnect(mut self, reconnect: Option<Reconnect>) -> ClientOptions {
        self.reconnect = reconnect;
        self
    }
}

/// Options of one subscription. `None` fields leave the choice to the
/// server's configured default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeOptions {
    /// What the server does when this subscription's queue is full.
    pub policy: Option<Policy>,
    /// Server-side queue limit, messages.
    pub queue_msgs: Option<u32>,
    /// Server-side queue limit, bytes.
    pub queue_bytes: Option<u64>,
    /// Most messages per second delivered (beyond it, the policy applies).
    pub max_rate: Option<u32>,
    /// Most messages per MESSAGE_BATCH frame.
    pub max_batch: Option<u16>,
    /// How long the server may wait to fill a batch, microseconds.
    pub linger_us: Option<u32>,
    /// Where the subscription starts (history options need a literal
    /// topic, not a wildcard pattern).
    pub start: Start,
    /// Events buffered in the client for this subscription. When the
    /// application stops consuming and this fills, the client stops
    /// reading the socket, so the broker sees a slow consumer and applies
    /// the policy; nothing piles up in the client.
    pub buffer: usize,
}

impl Default for SubscribeOptions {
    fn default() -> SubscribeOptions {
        SubscribeOptions {
            policy: None,
            queue_msgs: None,
            queue_bytes: None,
            max_rate: None,
            max_batch: None,
            linger_us: None,
            start: Start::New,
            buffer: 1024,
        }
    }
}

impl SubscribeOptions {
    /// Sets the backpressure policy.
    pub fn policy(mut self, policy: Policy) -> SubscribeOptions {
        self.policy = Some(policy);
        self
    }

    /// Sets where the subscription starts.
    pub fn start(mut self, start: Start) -> SubscribeOptions {
        self.start = start;
        self
    }

    /// Sets the client-side event buffer (at least 1).
    pub fn buffer(mut self, events: usize) -> SubscribeOptions {
        self.buffer = events.max(1);
        self
    }

    /// The options block sent in SUBSCRIBE, starting at `start`.
    pub(crate) fn to_wire(&self, start: Start) -> spate_proto::SubscribeOptions {
        spate_proto::SubscribeOptions {
            policy: self.policy,
            queue_msgs: self.queue_msgs,
            queue_bytes: self.queue_bytes,
            max_rate: self.max_rate,
            max_batch: self.max_batch,
            linger_us: self.linger_us,
            start,
            unknown_critical: Vec::new(),
        }
    }
}
