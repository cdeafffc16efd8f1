//! One connection's authentication state: its [`Principal`], the slots it
//! holds in the per-IP and per-user counts, and the cheap per-request
//! checks. The publish check has a fast path (a principal allowed to
//! publish everywhere without a rate limit costs one branch) and remembers
//! its last topic's decision, so a run of publishes to one topic is
//! checked once.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::time::Instant;

use super::limits::{self, IpSlot, UserSlot};
use super::table::Principal;
use crate::queue::rate::TokenBucket;

/// What a publish check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishCheck {
    /// Go ahead.
    Allowed,
    /// The topic is not permitted: NOT_AUTHORIZED.
    NotAuthorized,
    /// The user's publish rate is spent: RATE_LIMITED.
    RateLimited,
}

/// Something the connection must act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthEvent {
    /// The auth table was reloaded: check the principal and subscriptions.
    Reloaded,
    /// The token expires soon: send GOAWAY.
    ExpiresSoon,
    /// The token has expired: close with TOKEN_EXPIRED.
    Expired,
}

/// Authentication state of one connection.
pub struct SessionAuth {
    principal: Principal,
    generation: watch::Receiver<u64>,
    _ip: Option<IpSlot>,
    user: Option<UserSlot>,
    bucket: Option<Arc<Mutex<TokenBucket>>>,
    last_topic: Option<(Box<str>, bool)>,
    notice: Duration,
    notice_sent: bool,
}

impl std::fmt::Debug for SessionAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionAuth")
            .field("user", &self.principal.user)
            .finish_non_exhaustive()
    }
}

impl SessionAuth {
    /// State for an authenticated connection.
    pub fn new(
        principal: Principal,
        generation: watch::Receiver<u64>,
        ip: Option<IpSlot>,
        user: Option<UserSlot>,
        notice: Duration,
    ) -> SessionAuth {
        let bucket = user.as_ref().and_then(|u| u.bucket.clone());
        SessionAuth {
            principal,
            generation,
            _ip: ip,
            user,
            bucket,
            last_topic: None,
            notice,
            notice_sent: false,
        }
    }

    /// Anonymous, allowed everything, never reloaded (unit tests and tools
    /// that build a session by hand).
    pub fn unrestricted() -> SessionAuth {
        let p = super::AuthTable::open()
            .authenticate("", None)
            .expect("open table admits anonymous");
        SessionAuth::new(p, watch::channel(0).1, None, None, Duration::ZERO)
    }

    /// Who this connection is.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// Replaces the principal after a reload (new permissions, limits).
    pub fn set_principal(&mut self, p: Principal, notice: Duration) {
        if p.publish_per_sec == 0 {
            self.bucket = None;
        } else if self.bucket.is_none() {
            self.bucket = self
                .user
                .as_ref()
                .and_then(|u| u.bucket.clone())
                .or_else(|| {
                    Some(Arc::new(Mutex::new(TokenBucket::new(
                        p.publish_per_sec,
                        std::time::Instant::now(),
                    ))))
                });
        }
        self.principal = p;
        self.notice = notice;
        self.last_topic = None;
    }

    /// True when every publish is allowed without a check (the fast path).
    pub fn publish_unchecked(&self) -> bool {
        self.bucket.is_none() && self.principal.perms.publish.permits_everything()
    }

    /// Checks one publish to `topic` (and spends a token of the user's
    /// publish rate if it is allowed).
    pub fn check_publish(&mut self, topic: &str) -> PublishCheck {
        let allowed = match &self.last_topic {
            Some((t, ok)) if &**t == topic => *ok,
            _ => {
                let ok = self.principal.perms.publish.permits_topic(topic);
                self.last_topic = Some((topic.into(), ok));
                ok
            }
        };
        if !allowed {
            return PublishCheck::NotAuthorized;
        }
        match &self.bucket {
            Some(b) if !limits::try_take(b) => PublishCheck::RateLimited,
            _ => PublishCheck::Allowed,
        }
    }

    /// Whether a subscription to `pattern` is permitted.
    pub fn may_subscribe(&self, pattern: &str) -> bool {
        self.principal.perms.subscribe.permits_pattern(pattern)
    }

    /// Whether a state read (`write` false) or write on `topic` is permitted.
    pub fn may_state(&self, topic: &str, write: bool) -> bool {
        let p = &self.principal.perms;
        if write {
            p.state_write.permits_topic(topic)
        } else {
            p.state_read.permits_topic(topic)
        }
    }

    /// Time left before the token expires (`None`: no expiry).
    pub fn time_left(&self) -> Option<Duration> {
        self.principal.expires_at.map(|e| {
            e.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        })
    }

    /// Marks the expiry notice as sent.
    pub fn notice_sent(&mut self) {
        self.notice_sent = true;
    }

    /// Waits for the next event (cancel-safe: use it in a `select!`).
    pub async fn next_event(&mut self) -> AuthEvent {
        let deadline = self.time_left().map(|left| {
            if self.notice_sent {
                (Instant::now() + left, AuthEvent::Expired)
            } else {
                let at = left.saturating_sub(self.notice);
                (Instant::now() + at, AuthEvent::ExpiresSoon)
            }
        });
        let timer = async move {
            match deadline {
                Some((at, ev)) => {
                    tokio::time::sleep_until(at).await;
                    ev
                }
                None => std::future::pending().await,
            }
        };
        tokio::pin!(timer);
        tokio::select! {
            r = self.generation.changed() => match r {
                Ok(()) => AuthEvent::Reloaded,
                // The broker is gone; only the timer matters now.
                Err(_) => (&mut timer).await,
            },
            ev = &mut timer => ev,
        }
    }
}
