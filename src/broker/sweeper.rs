//! Once a second: per-topic message rates, history expiry by age, and
//! forgetting topics nobody uses (no subscribers, history or state for a
//! minute), so the topic map stays bounded by what is in use.

use std::sync::Arc;
use std::time::Duration;

use super::{now_us, Broker};

/// Sweeps between a topic going idle and it being forgotten.
const IDLE_SWEEPS_BEFORE_FORGET: u32 = 60;

impl Broker {
    /// One sweep over all topics; `dt` is the time since the last one.
    pub fn sweep(&self, dt: Duration) {
        let now = now_us();
        let mut forget = Vec::new();
        // No map guard is held while a topic is locked (lock order: see
        // the module doc of `broker`).
        for t in self.topic_list() {
            let mut inner = t.inner.lock();
            let delta = inner.seq - inner.rate_seq;
            inner.rate_seq = inner.seq;
            t.set_rate(delta as f64 / dt.as_secs_f64().max(1e-3));
            let before = inner.history.bytes();
            inner.history.expire(now, &self.budget);
            self.counters.history_changed(before, inner.history.bytes());
            self.refresh_matches(&t, &mut inner);
            let idle = delta == 0
                && inner.history.is_empty()
                && inner.state.is_empty()
                && inner.persist.is_none()
                && inner.matches.iter().all(|q| q.is_closed());
            inner.idle_sweeps = if idle { inner.idle_sweeps + 1 } else { 0 };
            if inner.idle_sweeps >= IDLE_SWEEPS_BEFORE_FORGET {
                drop(inner);
                forget.push(t);
            }
        }
        for t in forget {
            let mut inner = t.inner.lock();
            if inner.idle_sweeps >= IDLE_SWEEPS_BEFORE_FORGET && !inner.retired {
                inner.retired = true;
                let before = inner.history.bytes();
                inner.history.clear(&self.budget);
                self.counters.history_changed(before, 0);
                // Topic mutex, then a map guard that is a leaf: allowed.
                self.topics.remove_if(&*t.name, |_, v| Arc::ptr_eq(v, &t));
            }
        }
    }

    /// Runs [`Broker::sweep`] every second until the broker is dropped by
    /// everyone else.
    pub async fn run_sweeper(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = tokio::time::Instant::now();
        loop {
            tick.tick().await;
            if Arc::strong_count(&self) == 1 {
                return;
            }
            let now = tokio::time::Instant::now();
            self.sweep(now - last);
            last = now;
        }
    }
}
