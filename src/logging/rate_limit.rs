//! A per-key rate limit for log events, so a flood of misbehaving clients
//! (garbage bytes, handshake timeouts, slow consumers) costs the log a few
//! lines per second instead of one line per client. Each key (a static
//! event name such as `"conn.decode_error"`) lets at most `per_sec` events
//! through per one-second window; the first event let through after some
//! were held back carries how many (`suppressed = N`).
//!
//! Keys are `&'static str` so their number stays small; past [`MAX_KEYS`]
//! distinct keys the rest share one overflow slot. The lock is only taken
//! on error paths, never per message.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Events per key per second the global [`LIMITER`] lets through.
pub const DEFAULT_PER_SEC: u32 = 10;

/// Distinct keys tracked before they share the overflow slot.
pub const MAX_KEYS: usize = 64;

/// The key events share once [`MAX_KEYS`] are in use.
pub const OVERFLOW_KEY: &str = "other";

/// The limiter [`log_limited!`](crate::log_limited) uses.
pub static LIMITER: RateLimitedLog = RateLimitedLog::new(DEFAULT_PER_SEC);

const WINDOW: Duration = Duration::from_secs(1);

/// Lets at most `per_sec` events per key per second through.
#[derive(Debug)]
pub struct RateLimitedLog {
    per_sec: u32,
    slots: Mutex<Vec<Slot>>,
}

#[derive(Debug)]
struct Slot {
    key: &'static str,
    window_start: Instant,
    passed: u32,
    suppressed: u64,
}

impl RateLimitedLog {
    /// A limiter letting `per_sec` events per key through each second.
    pub const fn new(per_sec: u32) -> RateLimitedLog {
        RateLimitedLog {
            per_sec,
            slots: parking_lot::const_mutex(Vec::new()),
        }
    }

    /// Whether an event for `key` may be logged now: `Some(n)` if so, with
    /// `n` the events held back since the last one let through; `None` if
    /// this one should be dropped.
    pub fn admit(&self, key: &'static str) -> Option<u64> {
        self.admit_at(key, Instant::now())
    }

    /// [`admit`](Self::admit) at a given time (for tests).
    pub fn admit_at(&self, key: &'static str, now: Instant) -> Option<u64> {
        let mut slots = self.slots.lock();
        let i = match slots.iter().position(|s| s.key == key) {
            Some(i) => i,
            None => {
                let key = if slots.len() >= MAX_KEYS - 1 {
                    OVERFLOW_KEY
                } else {
                    key
                };
                match slots.iter().position(|s| s.key == key) {
                    Some(i) => i,
                    None => {
                        slots.push(Slot {
                            key,
                            window_start: now,
                            passed: 0,
                            suppressed: 0,
                        });
                        slots.len() - 1
                    }
                }
            }
        };
        let slot = &mut slots[i];
        if now.saturating_duration_since(slot.window_start) >= WINDOW {
            slot.window_start = now;
            slot.passed = 0;
        }
        if slot.passed < self.per_sec {
            slot.passed += 1;
            Some(std::mem::take(&mut slot.suppressed))
        } else {
            slot.suppressed += 1;
            None
        }
    }
}

/// Logs a tracing event through the global [`LIMITER`] under a static key:
/// `log_limited!(warn, "conn.decode_error", peer = %addr, error = %e, "bad frame")`.
/// When earlier events under the key were held back, the event gets a
/// `suppressed` field with their count.
#[macro_export]
macro_rules! log_limited {
    ($level:ident, $key:expr, $($rest:tt)+) => {
        match $crate::logging::LIMITER.admit($key) {
            Some(0) => ::tracing::$level!($($rest)+),
            Some(suppressed) => ::tracing::$level!(suppressed, $($rest)+),
            None => {}
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lets_n_per_second_through_and_counts_the_rest() {
        let l = RateLimitedLog::new(3);
        let t0 = Instant::now();
        let got: Vec<_> = (0..5).map(|_| l.admit_at("k", t0)).collect();
        assert_eq!(got, [Some(0), Some(0), Some(0), None, None]);
        // Next window: the first event reports the two held back.
        let t1 = t0 + Duration::from_millis(1000);
        assert_eq!(l.admit_at("k", t1), Some(2));
        assert_eq!(l.admit_at("k", t1), Some(0));
    }

    #[test]
    fn keys_are_limited_independently() {
        let l = RateLimitedLog::new(1);
        let t = Instant::now();
        assert_eq!(l.admit_at("a", t), Some(0));
        assert_eq!(l.admit_at("a", t), None);
        assert_eq!(l.admit_at("b", t), Some(0));
    }

    #[test]
    fn too_many_keys_share_the_overflow_slot() {
        let l = RateLimitedLog::new(1);
        let t = Instant::now();
        let keys: Vec<&'static str> = (0..MAX_KEYS + 5)
            .map(|i| &*Box::leak(format!("key{i}").into_boxed_str()))
            .collect();
        let passed = keys.iter().filter(|k| l.admit_at(k, t).is_some()).count();
        // MAX_KEYS - 1 own slots plus one shared slot, one event each.
        assert_eq!(passed, MAX_KEYS);
        assert_eq!(l.slots.lock().len(), MAX_KEYS);
    }

    #[test]
    fn macro_compiles_with_fields_and_message() {
        let peer = "127.0.0.1:1";
        for _ in 0..3 {
            crate::log_limited!(warn, "test.macro", peer = %peer, "bad frame");
        }
    }
}
