//! The server-wide memory budget: one atomic count of the bytes held by all
//! subscriber queues and topic histories, checked before either grows. The
//! hot paths pay it through a [`Credit`], a run's local slice of it.

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
            let next = match cur.checked_add(n) {
                Some(next) if next <= self.limit => next,
                _ => return false,
            };
            match self
                .used
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
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

/// Bytes a [`Credit`] takes from the shared count beyond what it needs, so
/// the next messages of the run are paid for locally.
const CREDIT_CHUNK: u64 = 64 * 1024;

/// A slice of the [`Budget`] held by one task for one short run of work (a
/// publish run, a writer round), never across an `.await`. It reserves from
/// the shared count in chunks and keeps what it is given back, so that
/// count — one cache line that every core writes — is touched about once
/// per run instead of once per message and queue. It never holds more than
/// two chunks beyond what it has spent, and gives everything back when the
/// run settles (or the credit is dropped), so the budget stays exact
/// between runs.
#[derive(Debug)]
pub struct Credit<'a> {
    budget: &'a Budget,
    held: u64,
}

impl<'a> Credit<'a> {
    /// An empty credit drawing on `budget`.
    pub fn new(budget: &'a Budget) -> Credit<'a> {
        Credit { budget, held: 0 }
    }

    /// Takes `n` bytes if they fit; false (and nothing taken) otherwise.
    /// Near the limit it asks the budget for exactly what it lacks, so a
    /// credit never makes a reservation fail that would otherwise fit.
    pub fn try_reserve(&mut self, n: u64) -> bool {
        if n <= self.held {
            self.held -= n;
            return true;
        }
        let lacking = n - self.held;
        if self.budget.try_reserve(lacking + CREDIT_CHUNK) {
            self.held = CREDIT_CHUNK;
            true
        } else if self.budget.try_reserve(lacking) {
            self.held = 0;
            true
        } else {
            false
        }
    }

    /// Gives back `n` bytes, kept for this run's next reservations.
    pub fn release(&mut self, n: u64) {
        self.held += n;
        if self.held > 2 * CREDIT_CHUNK {
            self.budget.release(self.held - CREDIT_CHUNK);
            self.held = CREDIT_CHUNK;
        }
    }

    /// Returns everything held to the budget.
    pub fn settle(&mut self) {
        self.budget.release(std::mem::take(&mut self.held));
    }
}

impl Drop for Credit<'_> {
    fn drop(&mut self) {
        self.settle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_takes_chunks_and_settles_exactly() {
        let budget = Budget::new(1 << 20);
        let mut c = Credit::new(&budget);
        assert!(c.try_reserve(100));
        assert_eq!(budget.used(), 100 + CREDIT_CHUNK, "one chunk ahead");
        assert!(c.try_reserve(100));
        assert_eq!(budget.used(), 100 + CREDIT_CHUNK, "paid locally");
        c.release(50);
        c.settle();
        assert_eq!(budget.used(), 150, "exactly what is still spent");
        assert!(c.try_reserve(4 * CREDIT_CHUNK));
        c.release(4 * CREDIT_CHUNK);
        assert!(
            budget.used() <= 150 + 2 * CREDIT_CHUNK,
            "a large refund is not held back"
        );
        c.release(150);
        drop(c);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn credit_near_the_limit_takes_exactly_what_fits() {
        let budget = Budget::new(1000);
        let mut c = Credit::new(&budget);
        assert!(c.try_reserve(900), "no room for a chunk, but 900 fits");
        assert!(!c.try_reserve(200), "past the limit");
        assert!(c.try_reserve(100));
        assert_eq!(budget.used(), 1000);
        c.release(1000);
        drop(c);
        assert_eq!(budget.used(), 0);
    }
}
