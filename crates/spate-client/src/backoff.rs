//! Reconnect delays: exponential growth capped at a maximum, with "equal
//! jitter" (half the delay fixed, half random) so that clients dropped by
//! the same broker restart spread their reconnects out instead of arriving
//! together.

use std::time::Duration;

use rand::Rng;

use crate::options::Reconnect;

/// Yields the delay before each reconnect attempt; `None` once the policy's
/// attempt limit is reached.
#[derive(Debug)]
pub(crate) struct Backoff {
    policy: Reconnect,
    attempt: u32,
    next: Duration,
}

impl Backoff {
    /// A fresh sequence, starting at the policy's initial delay.
    pub(crate) fn new(policy: Reconnect) -> Backoff {
        let next = policy.initial;
        Backoff {
            policy,
            attempt: 0,
            next,
        }
    }

    /// Attempts made so far.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next attempt, or `None` to give up.
    pub(crate) fn next_delay(&mut self, rng: &mut impl Rng) -> Option<Duration> {
        if self
            .policy
            .max_attempts
            .is_some_and(|max| self.attempt >= max)
        {
            return None;
        }
        self.attempt += 1;
        let base = self.next.min(self.policy.max);
        let grown = base.as_secs_f64() * self.policy.multiplier.max(1.0);
        self.next = Duration::from_secs_f64(grown.min(self.policy.max.as_secs_f64()));
        let half = base / 2;
        let jitter = if half.is_zero() {
            Duration::ZERO
        } else {
            Duration::from_nanos(rng.gen_range(0..=half.as_nanos() as u64))
        };
        Some(half + jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn policy(max_attempts: Option<u32>) -> Reconnect {
        Reconnect {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(800),
            multiplier: 2.0,
            max_attempts,
        }
    }

    #[test]
    fn grows_exponentially_within_jitter_and_caps() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut b = Backoff::new(policy(None));
        let bases = [100u64, 200, 400, 800, 800, 800];
        for base in bases {
            let d = b.next_delay(&mut rng).unwrap();
            let base = Duration::from_millis(base);
            assert!(
                d >= base / 2 && d <= base,
                "{d:?} outside [{:?}, {base:?}]",
                base / 2
            );
        }
        assert_eq!(b.attempts(), 6);
    }

    #[test]
    fn jitter_varies() {
        let mut rng = StdRng::seed_from_u64(1);
        let delays: Vec<_> = (0..20)
            .map(|_| Backoff::new(policy(None)).next_delay(&mut rng).unwrap())
            .collect();
        assert!(delays.iter().any(|d| *d != delays[0]));
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut b = Backoff::new(policy(Some(2)));
        assert!(b.next_delay(&mut rng).is_some());
        assert!(b.next_delay(&mut rng).is_some());
        assert!(b.next_delay(&mut rng).is_none());
    }
}
