//! # spate
//!
//! A standalone pub/sub broker. The module tree follows a message's path:
//!
//! - [`server`]: the TCP and WebSocket listeners, the connection loop
//!   (handshake, reading frames; generic over the byte stream), graceful
//!   shutdown; [`tls`]: the TLS and `wss` transport beside it.
//! - [`auth`]: who a client is (users, JWTs, client certificates), what it
//!   may touch (per-topic permissions) and how much (per-user limits).
//! - [`commands`]: one file per client request (publish, subscribe, state…).
//! - [`conn`]: per-connection state below the commands: the session, the
//!   outbox and the writer task.
//! - [`broker`]: shared state: topics (seq, epoch, history, state), the
//!   subscription index, the memory budget, counters.
//! - [`storage`]: the on-disk log that makes the memory engine's state,
//!   history and epochs survive a restart; [`engine`]: the Redis engine
//!   that makes several nodes one broker.
//! - [`topics`]: topic-name rules and the wildcard subscription trie.
//! - [`queue`]: the per-subscription bounded queue and its backpressure
//!   policies, gap bookkeeping, rate limiting and batching.
//! - [`config`], [`logging`], [`admin`], [`stats`]: operating it.
//! - [`cli`]: the `spate` command line (`spate bench` runs the load
//!   generator, crates/spate-bench).
//!
//! ARCHITECTURE.md follows one message from a publisher's socket to every
//! subscriber's socket through these files.

#![forbid(unsafe_code)]

pub mod admin;
pub mod auth;
pub mod broker;
pub mod cli;
pub mod commands;
pub mod config;
pub mod conn;
pub mod engine;
pub mod logging;
pub mod queue;
pub mod server;
pub mod stats;
pub mod storage;
pub mod tls;
pub mod topics;
