//! PUBLISH and PUBLISH_BATCH: hand each message to the broker, acknowledge
//! if asked, then wait for any `block` queue the publish overfilled (this is
//! how a lossless subscriber slows exactly the publishers feeding it).

use std::time::Instant;

use spate_proto::{ErrorCode, Frame, Publish};

use crate::server::session::Session;

/// One PUBLISH.
pub async fn apply(s: &mut Session, p: Publish) {
    s.pace(1).await;
    publish_one(s, &p).await;
    s.wait_blocked().await;
}

/// PUBLISH_BATCH: each entry exactly as a PUBLISH, in order; block waits
/// happen once, after the batch.
pub async fn apply_batch(s: &mut Session, batch: Vec<Publish>) {
    s.pace(batch.len() as u64).await;
    for p in &batch {
        publish_one(s, p).await;
    }
    s.wait_blocked().await;
}

async fn publish_one(s: &mut Session, p: &Publish) {
    if s.draining {
        s.reply(Frame::error(
            ErrorCode::NotAllowed,
            p.request_id,
            "server is shutting down (GOAWAY sent): publish refused",
        ))
        .await;
        return;
    }
    let started = p.ack.then(Instant::now);
    match s.broker.publish(p, &mut s.blocked) {
        Ok(done) => {
            s.count_in(p.payload.len());
            if let Some(t) = started {
                s.reply(Frame::PubAck {
                    request_id: p.request_id,
                    epoch: done.epoch,
                    seq: done.seq,
                    timestamp_us: done.timestamp_us,
                    receivers: done.receivers,
                })
                .await;
                s.record_ack(t);
            }
        }
        Err(e) => s.reject(p.request_id, &e).await,
    }
}
