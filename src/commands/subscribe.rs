//! SUBSCRIBE: check the connection's limits, then let the broker create the
//! queue (held, with any backlog), remember it, queue SUBSCRIBED with the
//! other replies and only then let the writer drain the queue.

use std::sync::Arc;

use spate_proto::{ErrorCode, Frame, RefKind, SubscribeOptions};

use crate::broker::BrokerError;
use crate::conn::session::Session;
use crate::queue::subscriber::Scheduler;

/// Handles SUBSCRIBE.
pub async fn apply(s: &mut Session, sub_id: u32, pattern: &str, options: &SubscribeOptions) {
    if s.is_draining() {
        s.reply(Frame::error_about(
            ErrorCode::NotAllowed,
            RefKind::Subscription,
            sub_id,
            "server is shutting down (GOAWAY sent): subscribe refused",
        ))
        .await;
        return;
    }
    if !s.auth().may_subscribe(pattern)
        && crate::topics::validate_pattern(pattern, s.broker().config.limits.max_topic_len as usize)
            .is_ok()
    {
        s.broker().auth.counters.refused("subscribe");
        let msg = format!(
            "not permitted to subscribe to {}",
            spate_proto::quote_prefix(pattern)
        );
        s.reply(Frame::error_about(
            ErrorCode::NotAuthorized,
            RefKind::Subscription,
            sub_id,
            msg,
        ))
        .await;
        return;
    }
    let max = s.broker().config.limits.max_subscriptions_per_connection;
    let err = {
        let subs = s.conn().subs.lock();
        if subs.contains_key(&sub_id) {
            Some(BrokerError::DuplicateSubscription(sub_id))
        } else if subs.len() >= max as usize {
            Some(BrokerError::TooManySubscriptions(max))
        } else {
            None
        }
    };
    if let Some(e) = err {
        reject(s, sub_id, &e).await;
        return;
    }
    // Shared engine (Redis): this node receives the pattern, and a literal
    // topic's replica has caught up, before the subscription exists.
    let remote = s.broker().remote().cloned();
    if let Some(r) = &remote {
        if let Err(e) = r.acquire(pattern).await {
            reject(s, sub_id, &e).await;
            return;
        }
    }
    let sched: Arc<dyn Scheduler> = s.outbox().clone();
    let made = s.broker().subscribe_held(sub_id, pattern, options, sched);
    if let (Some(r), Err(_)) = (&remote, &made) {
        r.release(pattern);
    }
    match made {
        Ok((q, subscribed)) => {
            tracing::debug!(conn = s.conn().id, sub_id, pattern, policy = %q.limits.policy, "subscribed");
            s.conn().subs.lock().insert(sub_id, q.clone());
            // SUBSCRIBED travels with the other replies, in request order;
            // only once it is queued may the writer see the queue, so the
            // subscription's deliveries (backlog first) follow it.
            s.reply(Frame::Subscribed(subscribed)).await;
            q.release();
        }
        Err(e) => reject(s, sub_id, &e).await,
    }
}

/// Sends a non-fatal ERROR about subscription `sub_id` (whatever its code,
/// `ref_kind` says the reference is a sub id).
async fn reject(s: &mut Session, sub_id: u32, e: &BrokerError) {
    let f = Frame::error_about(e.code(), RefKind::Subscription, sub_id, e.to_string());
    s.reply(f).await;
}
