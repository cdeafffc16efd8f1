//! Token bucket for a subscription's `max_rate`: delivery beyond the rate
//! leaves messages queued, where the subscription's policy applies.

use std::time::{Duration, Instant};

/// Refills `rate` tokens per second up to a burst of 1/20 s worth (at
/// least one), so the delivered rate stays close to `rate` over any window
/// longer than 50 ms.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket for `rate` messages per second (`rate` > 0).
    pub fn new(rate: u32, now: Instant) -> TokenBucket {
        let rate = f64::from(rate.max(1));
        let burst = (rate / 20.0).max(1.0);
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        self.last = now;
    }

    /// Whole tokens available now.
    pub fn available(&mut self, now: Instant) -> u64 {
        self.refill(now);
        self.tokens.floor() as u64
    }

    /// Spends `n` tokens (callers spend at most [`Self::available`]).
    pub fn take(&mut self, n: u64) {
        self.tokens -= n as f64;
    }

    /// When the next whole token will be available.
    pub fn next_token_at(&self) -> Instant {
        let missing = (1.0 - self.tokens).max(0.0);
        self.last + Duration::from_secs_f64(missing / self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refills_at_rate_and_caps_at_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(100, t0);
        assert_eq!(b.available(t0), 5);
        b.take(5);
        assert_eq!(b.available(t0), 0);
        assert_eq!(b.available(t0 + Duration::from_millis(20)), 2);
        assert_eq!(b.available(t0 + Duration::from_secs(10)), 5);
        b.take(5);
        assert!(b.next_token_at() > t0 + Duration::from_secs(10));
    }
}
