//! The server-wide memory budget: one atomic count of the bytes held by all
//! subscriber queues and topic histories, checked before either grows.

use std::sync::atomic::{AtomicU64, Ordering};

/// Shared byte budget. Cheap to consult: one relaxed atomic per reserve.
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    used: AtomicU64,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Budget {
        Budget {
            limit,
            used: AtomicU64::new(0),
        }
    }

    /// Takes `n` bytes if they fit; false (and nothing taken) otherwise.
    pub fn try_reserve(&self, n: u64) -> bool {
        if n == 0 {
            return true;
        }
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            if cur + n > self.limit {
                return false;
            }
            match self.used.compare_exchange_weak(
                cur,
                cur + n,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(v) => cur = v,
            }
        }
    }

    /// Takes `n` bytes even past the limit. Used for a queue's guaranteed
    /// share, which the budget's documentation counts as headroom.
    pub fn force_reserve(&self, n: u64) {
        self.used.fetch_add(n, Ordering::Relaxed);
    }

    /// Gives back `n` bytes. Zero costs nothing: a full history ring that
    /// rotates releases exactly what it takes, once per publish, and a
    /// locked add of zero would still bounce the shared cache line.
    pub fn release(&self, n: u64) {
        if n > 0 {
            self.used.fetch_sub(n, Ordering::Relaxed);
        }
    }

    /// Bytes in use.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// The configured limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// True when nothing more fits.
    pub fn is_exhausted(&self) -> bool {
        self.used() >= self.limit
    }
}
