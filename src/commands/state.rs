//! STATE_PUT, STATE_DEL, STATE_GET, STATE_LIST: versioned key/value state
//! with compare-and-set, answered with STATE_REPLY / STATE_LIST_REPLY.

use spate_proto::{ErrorCode, Frame};

use crate::conn::session::Session;

/// Most entries one STATE_LIST_REPLY carries.
pub(crate) const MAX_LIST: usize = 10_000;

/// Handles one state request.
pub async fn apply(s: &mut Session, frame: Frame) {
    let broker = s.broker().clone();
    let (write, request_id, topic) = match &frame {
        Frame::StatePut {
            request_id, topic, ..
        }
        | Frame::StateDel {
            request_id, topic, ..
        } => (true, *request_id, topic),
        Frame::StateGet {
            request_id, topic, ..
        }
        | Frame::StateList {
            request_id, topic, ..
        } => (false, *request_id, topic),
        _ => return,
    };
    let max = broker.config.limits.max_topic_len as usize;
    if !s.auth().may_state(topic, write) && crate::topics::validate_topic(topic, max).is_ok() {
        broker.auth.counters.refused("state");
        let what = if write { "write" } else { "read" };
        let msg = format!(
            "not permitted to {what} state of {}",
            spate_proto::quote_prefix(topic)
        );
        s.reply(Frame::error(ErrorCode::NotAuthorized, request_id, msg))
            .await;
        return;
    }
    if write && s.is_draining() {
        return refuse(s, request_id).await;
    }
    // Shared engine (Redis): state lives there (commands/state_remote.rs).
    if let Some(r) = broker.remote().cloned() {
        return super::state_remote::apply(s, &*r, frame).await;
    }
    let (request_id, result) = match &frame {
        Frame::StatePut {
            request_id,
            topic,
            key,
            condition,
            value,
        } => {
            let r = broker.state_put(topic, key, *condition, value, s.blocked_mut());
            (*request_id, r.map(Frame::StateReply))
        }
        Frame::StateDel {
            request_id,
            topic,
            key,
            condition,
        } => {
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
            // h-storage: a persisted write is answered once durable.
            if let (
                spate_proto::StateStatus::Ok,
                Frame::StatePut { topic, .. } | Frame::StateDel { topic, .. },
            ) = (r.status, &frame)
            {
                if let Some(lsn) = broker.ack_lsn(topic) {
                    if let Err(e) = broker.wait_durable(lsn).await {
                        s.reply(super::publish::storage_failed(request_id, &e))
                            .await;
                        s.wait_blocked().await;
                        return;
                    }
                }
            }
            s.reply(Frame::StateReply(r)).await;
        }
        Ok(f) => s.reply(f).await,
        Err(e) => s.reject(request_id, &e).await,
    }
    s.wait_blocked().await;
}

async fn refuse(s: &mut Session, request_id: u32) {
    s.reply(Frame::error(
        ErrorCode::NotAllowed,
        request_id,
        "server is shutting down (GOAWAY sent): state change refused",
    ))
    .await;
}
