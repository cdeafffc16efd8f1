//! One file per client request. [`apply`] routes a decoded frame to its
//! command; each command talks to the broker and writes its own reply.

pub mod ping;
pub mod publish;
pub mod state;
pub mod subscribe;
pub mod unsubscribe;

use spate_proto::{ErrorCode, Frame};

use crate::server::session::{Fatal, Session};

/// Executes one request. `Err` means the connection must close.
pub async fn apply(s: &mut Session, frame: Frame) -> Result<(), Fatal> {
    match frame {
        Frame::Publish(p) => publish::apply(s, p).await,
        Frame::PublishBatch(v) => publish::apply_batch(s, v).await,
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
