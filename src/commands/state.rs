//! STATE_PUT, STATE_DEL, STATE_GET, STATE_LIST: versioned key/value state
//! with compare-and-set, answered with STATE_REPLY / STATE_LIST_REPLY.

use spate_proto::{ErrorCode, Frame};

use crate::conn::session::Session;

/// Most entries one STATE_LIST_REPLY carries.
pub(crate) const MAX_LIST: usize = 10_000;

/// Handles one state request.
pub async fn apply(s: &mut Session, frame: Frame) {
    // Shared engine (Redis): state lives there (commands/state_remote.rs).
    if let Some(r) = s.broker().remote().cloned() {
        return super::state_remote::apply(s, &*r, frame).await;
    }
    let broker = s.broker().clone();
    let (request_id, result) = match &frame {
        Frame::StatePut {
            request_id,
            topic,
            key,
            condition,
            value,
        } => {
            if s.is_draining() {
                return refuse(s, *request_id).await;
            }
            let r = broker.state_put(topic, key, *condition, value, s.blocked_mut());
            (*request_id, r.map(Frame::StateReply))
        }
        Frame::StateDel {
            request_id,
            topic,
            key,
            condition,
        } => {
            if s.is_draining() {
                return refuse(s, *request_id).await;
            }
            let r = broker.state_del(topic, key, *condition, s.blocked_mut());
            (*request_id, r.map(Frame::StateReply))
        }
        Frame::StateGet {
            request_id,
            topic,
            key,
        } => (
            *request_id,
            broker.state_get(topic, key).map(Frame::StateReply),
        ),
        Frame::StateList {
            request_id,
            topic,
            after,
            limit,
        } => {
            let max_bytes = broker.config.limits.max_frame_bytes as usize / 2;
            let limit = match *limit as usize {
                0 => MAX_LIST,
                n => n.min(MAX_LIST),
            };
            let r = broker
                .state_list(topic, after, limit, max_bytes)
                .map(|(entries, more)| Frame::StateListReply {
                    request_id: *request_id,
                    more,
                    entries,
                });
            (*request_id, r)
        }
        _ => return,
    };
    match result {
        Ok(Frame::StateReply(mut r)) => {
            r.request_id = request_id;
            s.reply(Frame::StateReply(r)).await;
        }
        Ok(f) => s.reply(f).await,
        Err(e) => s.reject(request_id, &e).await,
    }
    s.wait_blocked().await;
}

pub(crate) async fn refuse(s: &mut Session, request_id: u32) {
    s.reply(Frame::error(
        ErrorCode::NotAllowed,
        request_id,
        "server is shutting down (GOAWAY sent): state change refused",
    ))
    .await;
}
