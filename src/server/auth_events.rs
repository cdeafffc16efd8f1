//! Authentication at the handshake and while connected: turning HELLO's
//! token into the session's [`SessionAuth`] (or a delayed, counted, logged
//! refusal), and acting on reloads and token expiry (protocol.md §5.6).

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use spate_proto::{ErrorCode, Frame, RefKind, Text};

use crate::auth::limits::IpSlot;
use crate::auth::session::{AuthEvent, SessionAuth};
use crate::auth::AuthTable;
use crate::broker::{Broker, DisconnectReason};
use crate::conn::session::Session;
use crate::conn::Peer;

/// A refusal before WELCOME: the fatal code and its text.
pub type Refusal = (ErrorCode, String);

/// Takes the connection's slot of its source IP address.
pub fn admit_ip(broker: &Broker, peer: &Peer) -> Result<Option<IpSlot>, Refusal> {
    let max = broker.auth.table().max_connections_per_ip;
    if max == 0 {
        return Ok(None);
    }
    match broker.auth.tracker.connect_ip(peer.addr.ip(), max) {
        Some(slot) => Ok(Some(slot)),
        None => {
            broker.auth.counters.refused("ip_connections");
            Err((
                ErrorCode::TooManyConnectionsFromIp,
                format!(
                    "this address already has {max} connections (limits.max_connections_per_ip)"
                ),
            ))
        }
    }
}

/// Authenticates HELLO's `token` (within `deadline`) and takes the user's
/// connection slot. A failure is counted, logged (rate-limited, with the
/// peer address) and answered only after the configured delay.
pub async fn authenticate(
    broker: &Arc<Broker>,
    peer: &Peer,
    token: String,
    ip: Option<IpSlot>,
    deadline: Duration,
) -> Result<SessionAuth, Refusal> {
    let table = broker.auth.table();
    let cert = peer.cert_identity.clone();
    let result = if AuthTable::needs_hashing(&token) {
        let t = table.clone();
        let hashed = async {
            let _permit = broker.auth.hashing.acquire().await;
            tokio::task::spawn_blocking(move || t.authenticate(&token, cert.as_deref())).await
        };
        match tokio::time::timeout(deadline, hashed).await {
            Ok(Ok(r)) => r,
            _ => {
                return Err((
                    ErrorCode::AuthFailed,
                    "authentication could not be checked in time".into(),
                ))
            }
        }
    } else {
        table.authenticate(&token, cert.as_deref())
    };
    let principal = match result {
        Ok(p) => p,
        Err(f) => {
            broker.auth.counters.failed(f.reason);
            crate::log_limited!(warn, "auth.failed", %peer, reason = f.reason, "authentication failed");
            let d = table.failure_delay;
            let jitter = rand::thread_rng().gen_range(0.8..=1.2);
            tokio::time::sleep(d.mul_f64(jitter)).await;
            let code = if f.is_expired() {
                ErrorCode::TokenExpired
            } else {
                ErrorCode::AuthFailed
            };
            return Err((code, f.message));
        }
    };
    let user = match &principal.user {
        Some(u) => {
            match broker.auth.tracker.connect_user(
                u,
                principal.max_connections,
                principal.publish_per_sec,
            ) {
                Some(slot) => Some(slot),
                None => {
                    broker.auth.counters.refused("user_connections");
                    return Err((
                        ErrorCode::TooManyUserConnections,
                        format!("user already has {} connections", principal.max_connections),
                    ));
                }
            }
        }
        None => None,
    };
    Ok(SessionAuth::new(
        principal,
        broker.auth.watch(),
        ip,
        user,
        table.expiry_notice,
    ))
}

/// Acts on a reload or the token's expiry; returns why the connection must
/// end, if it must.
pub async fn on_event(s: &mut Session, ev: AuthEvent) -> Option<DisconnectReason> {
    match ev {
        AuthEvent::Reloaded => reloaded(s).await,
        AuthEvent::ExpiresSoon => {
            let left = s.auth().time_left().unwrap_or(Duration::ZERO);
            s.auth_mut().notice_sent();
            s.outbox().send_now(&Frame::GoAway {
                drain_ms: left.as_millis().min(u32::MAX as u128) as u32,
                reason: Text::from(format!(
                    "auth token expires in {} s: reconnect with a fresh token",
                    left.as_secs()
                )),
            });
            None
        }
        AuthEvent::Expired => {
            crate::log_limited!(
                info,
                "auth.expired",
                conn = s.conn().id,
                "token expired: closing the connection"
            );
            s.outbox().kill_with(
                Frame::error(
                    ErrorCode::TokenExpired,
                    0,
                    "auth token expired: reconnect with a fresh token",
                )
                .to_bytes(),
            );
            Some(DisconnectReason::Timeout)
        }
    }
}

/// A reload: the same credential must still be accepted; subscriptions
/// no longer permitted end with ERROR NOT_AUTHORIZED (ref_kind 2).
async fn reloaded(s: &mut Session) -> Option<DisconnectReason> {
    let table = s.broker().auth.table();
    let p = match table.reauthorize(s.auth().principal()) {
        Ok(p) => p,
        Err(f) => {
            s.broker().auth.counters.failed(f.reason);
            crate::log_limited!(
                warn,
                "auth.reload.close",
                conn = s.conn().id,
                reason = f.reason,
                "credentials no longer accepted after reload: closing"
            );
            let code = if f.is_expired() {
                ErrorCode::TokenExpired
            } else {
                ErrorCode::AuthFailed
            };
            s.outbox()
                .kill_with(Frame::error(code, 0, f.message).to_bytes());
            return Some(DisconnectReason::ProtocolError);
        }
    };
    s.auth_mut().set_principal(p, table.expiry_notice);
    let lost: Vec<(u32, Arc<crate::queue::SubscriberQueue>)> = {
        let subs = s.conn().subs.lock();
        subs.iter()
            .filter(|(_, q)| !s.auth().may_subscribe(&q.pattern))
            .map(|(id, q)| (*id, q.clone()))
            .collect()
    };
    for (sub_id, q) in lost {
        s.conn().subs.lock().remove(&sub_id);
        s.broker().unsubscribe(&q);
        s.broker().auth.counters.refused("subscribe");
        s.queue_reply(&Frame::error_about(
            ErrorCode::NotAuthorized,
            RefKind::Subscription,
            sub_id,
            format!(
                "subscription to {} is no longer permitted (configuration reloaded): ended",
                spate_proto::quote_prefix(&q.pattern)
            ),
        ));
    }
    s.flush_replies().await;
    None
}
