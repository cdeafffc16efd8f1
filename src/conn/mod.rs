//! One connection's per-connection pieces, below the commands and above
//! the broker: the [`session::Session`] each command works on (the
//! request side), the [`outbox::Outbox`] replies and ready subscriber
//! queues wait in, and the [`writer`] task that drains the outbox into
//! [`batch::WriteBatch`]es and writes them to the connection's byte
//! stream (TCP or WebSocket alike). Nothing here knows how the
//! connection was accepted or which transport it uses.

pub mod batch;
pub mod outbox;
pub mod peer;
pub mod session;
pub mod writer;

pub use outbox::Outbox;
pub use peer::{Peer, Transport};
