//! UNSUBSCRIBE: end the subscription, drop what it had queued, confirm with
//! UNSUBSCRIBED (after which nothing of it is sent).

use spate_proto::Frame;

use crate::broker::BrokerError;
use crate::conn::session::Session;

/// Handles UNSUBSCRIBE.
pub async fn apply(s: &mut Session, sub_id: u32) {
    let q = s.conn().subs.lock().remove(&sub_id);
    match q {
        Some(q) => {
            s.broker().unsubscribe(&q);
            s.reply(Frame::Unsubscribed { sub_id }).await;
        }
        None => {
            s.reject(sub_id, &BrokerError::UnknownSubscription(sub_id))
                .await
        }
    }
}
