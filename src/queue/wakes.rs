//! [`Wakes`]: writers to wake once a publish run has been queued.
//!
//! A run (everything one socket read delivered) may put messages into many
//! queues of one connection. Waking that connection's writer at the first
//! one lets it start — on the other core — with one message, write it, and
//! be woken again for the next: many small writes, each a wake-up of the
//! receiving client too. Waking after the whole run lets it write the run
//! in one go ("flush once per read pass").

use std::sync::Arc;

use super::subscriber::Scheduler;

/// Schedulers (connection outboxes) whose writers need a wake-up.
#[derive(Default)]
pub struct Wakes(Vec<Arc<dyn Scheduler>>);

impl Wakes {
    /// Remembers `s` for [`Self::wake_all`]. A scheduler asks for a wake
    /// only for the first queue since its writer last took work, so the
    /// list holds about one entry per connection the run reached.
    pub fn add(&mut self, s: &Arc<dyn Scheduler>) {
        self.0.push(Arc::clone(s));
    }

    /// Wakes every writer collected, and forgets them.
    pub fn wake_all(&mut self) {
        for s in self.0.drain(..) {
            s.wake();
        }
    }
}

impl std::fmt::Debug for Wakes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Wakes({})", self.0.len())
    }
}
