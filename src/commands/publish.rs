//! PUBLISH and PUBLISH_BATCH: hand the messages to the broker (a whole run
//! of publishes from one socket read at once), acknowledge if asked, then
//! wait for any `block` queue the publishes overfilled — this is how a
//! lossless subscriber slows exactly the publishers feeding it.

use std::time::Instant;

use spate_proto::{ErrorCode, Frame, PublishRef};

use crate::auth::session::PublishCheck;
use crate::conn::session::Session;

/// A run of consecutive publishes (PUBLISH frames and PUBLISH_BATCH
/// entries), processed in order.
pub async fn apply_many(s: &mut Session, pubs: &[PublishRef<'_>]) {
    if pubs.is_empty() {
        return;
    }
    if !s.auth().publish_unchecked() && !s.is_draining() {
        return apply_checked(s, pubs).await;
    }
    apply_allowed(s, pubs).await;
}

/// The run of a client whose publishes are checked (permissions, its
/// user's publish rate): refused publishes get their ERROR in order
/// between the stretches that are published.
async fn apply_checked(s: &mut Session, pubs: &[PublishRef<'_>]) {
    let mut start = 0;
    for (i, p) in pubs.iter().enumerate() {
        // An invalid topic is the broker's to report (INVALID_TOPIC).
        let max = s.broker().config.limits.max_topic_len as usize;
        if crate::topics::validate_topic(p.topic, max).is_err() {
            continue;
        }
        let (code, why, reason) = match s.auth_mut().check_publish(p.topic) {
            PublishCheck::Allowed => continue,
            PublishCheck::NotAuthorized => (
                ErrorCode::NotAuthorized,
                "not permitted to publish to",
                "publish",
            ),
            PublishCheck::RateLimited => (
                ErrorCode::RateLimited,
                "publish rate of this user exceeded: dropped a publish to",
                "publish_rate",
            ),
        };
        apply_allowed(s, &pubs[start..i]).await;
        start = i + 1;
        s.broker().auth.counters.refused(reason);
        let msg = format!("{why} {}", spate_proto::quote_prefix(p.topic));
        s.queue_reply(&Frame::error(code, p.request_id, msg));
    }
    apply_allowed(s, &pubs[start..]).await;
    s.flush_replies().await;
}

/// Publishes a run that passed the checks.
async fn apply_allowed(s: &mut Session, pubs: &[PublishRef<'_>]) {
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
    // h-storage: a bounded log queue, and acks only once durable.
    // Shared engine (Redis): the engine orders the run (one round trip)
    // and delivers it back to every node's subscribers, this one's too.
    let broker = s.broker().clone();
    let mut results = match broker.remote().cloned() {
        Some(r) => r.publish(pubs).await,
        None => {
            broker.wait_log_room().await;
            s.publish_many(pubs)
        }
    };
    let durable = durable_acks(&broker, pubs, &results).await;
    let mut payload_bytes = 0;
    let (mut accepted, mut acked) = (0, 0);
    for (p, r) in pubs.iter().zip(results.drain(..)) {
        match r {
            Ok(done) => {
                accepted += 1;
                payload_bytes += p.payload.len();
                if p.ack {
                    if let Err(e) = &durable {
                        s.queue_reply(&storage_failed(p.request_id, e));
                        continue;
                    }
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

/// h-storage: under `fsync = "always"`, waits until the acknowledged
/// publishes to persisted topics are on disk (one wait for the run). The
/// whole run is in the log already, so the log's end covers every one of
/// them: the first acknowledged publish to a persisted topic decides.
async fn durable_acks(
    broker: &crate::broker::Broker,
    pubs: &[PublishRef<'_>],
    results: &[Result<crate::broker::Published, crate::broker::BrokerError>],
) -> Result<(), crate::storage::StorageError> {
    let lsn = pubs
        .iter()
        .zip(results)
        .filter(|(p, r)| p.ack && r.is_ok())
        .find_map(|(p, _)| broker.ack_lsn(p.topic));
    match lsn {
        Some(lsn) => broker.wait_durable(lsn).await,
        None => Ok(()),
    }
}

/// The ERROR answering a write that could not be made durable.
pub(crate) fn storage_failed(request_id: u32, e: &crate::storage::StorageError) -> Frame {
    Frame::error(
        ErrorCode::StorageFailed,
        request_id,
        format!("applied and delivered, but not confirmed durable: {e}"),
    )
}
