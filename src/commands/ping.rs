//! PING → PONG. Replies travel the same ordered path as every other reply,
//! so a client's PING is answered only after everything it sent before has
//! been processed: a flush barrier.

use spate_proto::Frame;

use crate::conn::session::Session;

/// Answers a client PING.
pub async fn apply(s: &mut Session, token: u64) {
    s.reply(Frame::Pong(token)).await;
}
