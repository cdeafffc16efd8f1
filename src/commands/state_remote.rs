//! State requests when a shared engine (Redis) holds the state: the same
//! replies as `state.rs`, answered by the engine (compare-and-set atomic
//! across nodes). `state.rs` has already checked permissions and refused
//! writes after GOAWAY.

use spate_proto::Frame;

use super::state::MAX_LIST;
use crate::broker::remote::Remote;
use crate::conn::session::Session;

/// Handles one state request through the engine.
pub async fn apply(s: &mut Session, r: &dyn Remote, frame: Frame) {
    let (request_id, result) = match frame {
        Frame::StatePut {
            request_id,
            topic,
            key,
            condition,
            value,
        } => {
            let f = r.state_write(&topic, &key, condition, Some(value));
            (request_id, f.await.map(Frame::StateReply))
        }
        Frame::StateDel {
            request_id,
            topic,
            key,
            condition,
        } => {
            let f = r.state_write(&topic, &key, condition, None);
            (request_id, f.await.map(Frame::StateReply))
        }
        Frame::StateGet {
            request_id,
            topic,
            key,
        } => (
            request_id,
            r.state_get(&topic, &key).await.map(Frame::StateReply),
        ),
        Frame::StateList {
            request_id,
            topic,
            after,
            limit,
        } => {
            let limit = match limit as usize {
                0 => MAX_LIST,
                n => n.min(MAX_LIST),
            };
            let f = r.state_list(&topic, &after, limit);
            let res = f.await.map(|(entries, more)| Frame::StateListReply {
                request_id,
                more,
                entries,
            });
            (request_id, res)
        }
        _ => return,
    };
    match result {
        Ok(Frame::StateReply(mut rep)) => {
            rep.request_id = request_id;
            s.reply(Frame::StateReply(rep)).await;
        }
        Ok(f) => s.reply(f).await,
        Err(e) => s.reject(request_id, &e).await,
    }
}
