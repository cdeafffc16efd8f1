//! One file per client request. [`apply`] routes a decoded frame to its
//! command; each command talks to the broker and writes its own reply.

pub mod ping;
pub mod publish;
pub mod state;
pub mod state_remote;
pub mod subscribe;
pub mod unsubscribe;

use spate_proto::{ErrorCode, Frame, PublishRef};

use crate::conn::session::{Fatal, Session};

/// Executes one request. `Err` means the connection must close.
///
/// Publishes are not executed at once but gathered in the session
/// ([`Session::push_pending`]); [`flush`] hands them to the broker together,
/// and runs before any other request so replies keep their order.
pub async fn apply(s: &mut Session, frame: Frame) -> Result<(), Fatal> {
    match frame {
        Frame::Publish(p) => {
            s.push_pending(p);
            return Ok(());
        }
        Frame::PublishBatch(v) => {
            s.extend_pending(v);
            return Ok(());
        }
        _ => flush(s).await,
    }
    #[cfg(feature = "test-hooks")]
    test_hooks(&frame);
    match frame {
        Frame::Publish(_) | Frame::PublishBatch(_) => unreachable!("handled above"),
        Frame::Subscribe {
            sub_id,
            pattern,
            options,
        } => subscribe::apply(s, sub_id, &pattern, &options).await,
        Frame::Unsubscribe { sub_id } => unsubscribe::apply(s, sub_id).await,
        Frame::StatePut { .. }
        | Frame::StateDel { .. }
        | Frame::StateGet { .. }
        | Frame::StateList { .. } => state::apply(s, frame).await,
        Frame::Ping(token) => ping::apply(s, token).await,
        Frame::Pong(_) => {}
        Frame::Hello(_) => {
            return Err(Fatal {
                code: ErrorCode::HelloRequired,
                message: "HELLO may only be sent once, as the first frame".into(),
            })
        }
        other => {
            let op = other.opcode();
            s.reply(Frame::error(
                ErrorCode::UnknownOpcode,
                0,
                format!("opcode 0x{op:02x} is sent by servers, not clients; frame ignored"),
            ))
            .await;
        }
    }
    Ok(())
}

/// Topic that makes SUBSCRIBE panic when the `test-hooks` feature is on.
#[cfg(feature = "test-hooks")]
pub const PANIC_TOPIC: &str = "test-hooks.panic";

/// Test-only faults: SUBSCRIBE to [`PANIC_TOPIC`] panics in the handler.
#[cfg(feature = "test-hooks")]
fn test_hooks(frame: &Frame) {
    if let Frame::Subscribe { pattern, .. } = frame {
        if pattern.as_str() == PANIC_TOPIC {
            panic!("test hook: SUBSCRIBE to {PANIC_TOPIC}");
        }
    }
}

/// Publishes everything gathered so far.
pub async fn flush(s: &mut Session) {
    flush_with(s, std::iter::empty()).await;
}

/// Publishes everything gathered so far and then `more` — publishes that
/// follow them in the stream, read in place from the receive buffer — as
/// one run, collected into one list.
pub async fn flush_with<'a>(s: &mut Session, more: impl IntoIterator<Item = PublishRef<'a>>) {
    let pending = s.take_pending();
    let mut run: Vec<PublishRef<'_>> = pending.iter().map(PublishRef::from).collect();
    for p in more {
        run.push(p);
    }
    publish::apply_many(s, &run).await;
    s.restore_pending(pending);
}
