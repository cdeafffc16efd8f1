//! PUBLISH and PUBLISH_BATCH: hand the messages to the broker (a whole run
//! of publishes from one socket read at once), acknowledge if asked, then
//! wait for any `block` queue the publishes overfilled — this is how a
//! lossless subscriber slows exactly the publishers feeding it.

use std::time::Instant;

use spate_proto::{ErrorCode, Frame, PublishRef};

use crate::conn::session::Session;

/// A run of consecutive publishes (PUBLISH frames and PUBLISH_BATCH
/// entries), processed in order.
pub async fn apply_many(s: &mut Session, pubs: &[PublishRef<'_>]) {
    if pubs.is_empty() {
        return;
    }
    s.pace(pubs.len() as u64).await;
    if s.is_draining() {
        for p in pubs {
            s.queue_reply(&Frame::error(
                ErrorCode::NotAllowed,
                p.request_id,
                "server is shutting down (GOAWAY sent): publish refused",
            ));
        }
        s.flush_replies().await;
        return;
    }
    let started = pubs.iter().any(|p| p.ack).then(Instant::now);
    // Shared engine (Redis): the engine orders the run (one round trip)
    // and delivers it back to every node's subscribers, this one's too.
    let mut results = match s.broker().remote().cloned() {
        Some(r) => r.publish(pubs).await,
        None => s.publish_many(pubs),
    };
    let mut payload_bytes = 0;
    let (mut accepted, mut acked) = (0, 0);
    for (p, r) in pubs.iter().zip(results.drain(..)) {
        match r {
            Ok(done) => {
                accepted += 1;
                payload_bytes += p.payload.len();
                if p.ack {
                    acked += 1;
                    s.queue_reply(&Frame::PubAck {
                        request_id: p.request_id,
                        epoch: done.epoch,
                        seq: done.seq,
                        timestamp_us: done.timestamp_us,
                        receivers: done.receivers,
                    });
                }
            }
            Err(e) => s.queue_reject(p.request_id, &e),
        }
    }
    s.recycle_results(results);
    s.count_in(accepted, payload_bytes);
    if let Some(t) = started {
        s.record_acks(t, acked);
    }
    s.flush_replies().await;
    s.wait_blocked().await;
}
