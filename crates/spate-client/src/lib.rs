//! # spate-client: an async Rust client for the spate broker
//!
//! [`Client::connect`] opens a connection and spawns the one task that owns
//! the socket. Through a [`Client`] you publish (fire-and-forget, or
//! acknowledged with the seq the server assigned), [`Client::flush`] (a
//! barrier that also reports errors about unacknowledged publishes),
//! subscribe (a [`Subscription`] is a `Stream` of [`Event`]s: messages,
//! [`Gap`]s counting lost messages, and [`Notice`]s), and read and write
//! versioned state with compare-and-set.
//!
//! **Bounded.** Requests reach the connection task over a bounded channel;
//! in-flight requests, the output buffer and every subscription's event
//! buffer have limits ([`ClientOptions`], [`SubscribeOptions::buffer`]).
//! An application that stops consuming stops the client reading the
//! socket, so the broker sees, and handles, a slow consumer. The flip side:
//! while one subscription's buffer is full, no replies are read either, so
//! consume every subscription (or drop it) before awaiting a reply, or give
//! independent consumers their own [`Client`].
//!
//! **Resume.** After the connection drops (or the server sends GOAWAY) the
//! client reconnects with exponential backoff and jitter and re-subscribes.
//! A literal-topic subscription resumes from the seq after the last one it
//! delivered, so the stream continues without loss or duplicates, or says
//! what could not be recovered ([`Notice::Truncated`] plus a [`Gap`],
//! [`Notice::EpochChanged`]). A wildcard subscription resumes live, with
//! [`Notice::ResumedLive`]. Requests made while disconnected fail with
//! [`Error::NotConnected`]; nothing is queued.
//!
//! Internals: `actor.rs` (the connection task's loop), `inbound.rs` and
//! `outbound.rs` (frames in, requests out), `recovery.rs` (connection loss
//! and reconnects), `conn.rs` (one connection), `subs.rs` and `resume.rs`
//! (subscriptions and their resume positions), `backoff.rs`.

#![forbid(unsafe_code)]

mod actor;
mod backoff;
mod client;
mod command;
mod conn;
mod error;
mod event;
mod inbound;
mod options;
mod outbound;
mod publication;
mod recovery;
mod resume;
mod shared;
mod state;
mod subs;
mod subscription;
#[cfg(feature = "tls")]
mod tls;

pub use client::Client;
pub use error::{Error, ServerError, StateError};
pub use event::{Event, Gap, GapReason, Message, Notice, StateChange};
pub use options::{ClientOptions, Reconnect, SubscribeOptions, TokenSource};
pub use publication::{PubAck, Publication};
pub use state::{Condition, StateEntry, StatePage, StateValue};
pub use subscription::Subscription;
#[cfg(feature = "tls")]
pub use tls::TlsOptions;

/// The wire protocol crate, for its types (`Policy`, `Start`, `Text`,
/// `ErrorCode`, …).
pub use spate_proto as proto;
pub use spate_proto::{ErrorCode, Policy, Start, StartStatus, Subscribed, Text, Welcome};
