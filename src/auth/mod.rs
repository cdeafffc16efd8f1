//! Authentication, per-topic permissions and per-user limits.
//!
//! - [`config`]: the `[auth]` section;
//! - [`users`]: Argon2 secret hashes;
//! - [`jwt`]: tokens signed by an application backend;
//! - [`permissions`]: allow/deny topic patterns and how they compare;
//! - [`limits`]: per-IP and per-user connection counts, per-user publish
//!   rate;
//! - [`table`]: the compiled users and keys, and how a HELLO token (or a
//!   client certificate) becomes a [`Principal`];
//! - [`session`]: one connection's principal and its cheap checks;
//! - [`reload`]: applying a new config to the live broker (SIGHUP).
//!
//! The live [`Auth`] hangs off the broker: the current [`AuthTable`]
//! (swapped whole on reload), the connection tracker and the counters.

pub mod config;
pub mod jwt;
pub mod limits;
pub mod metrics;
pub mod permissions;
pub mod reload;
pub mod session;
pub mod table;
pub mod users;
pub mod validate;

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::watch;

pub use config::{AuthConfig, JwtConfig, UserConfig};
pub use permissions::{PermissionSpec, Permissions, RuleSpec, Rules};
pub use table::{AuthFailure, AuthTable, Credential, Principal};

/// Most Argon2 checks running at once.
pub const MAX_HASHING: usize = 4;

/// The live authentication state of a broker.
pub struct Auth {
    table: ArcSwap<AuthTable>,
    /// Bumped on every reload; connections re-check their principal.
    generation: watch::Sender<u64>,
    /// Live connection counts and publish buckets.
    pub tracker: limits::Tracker,
    /// Failures and refusals, for `/metrics`.
    pub counters: metrics::AuthCounters,
    /// Bounds the Argon2 checks running at once (each takes ~19 MiB and a
    /// core for tens of milliseconds): a flood of logins queues here
    /// instead of exhausting memory.
    pub hashing: tokio::sync::Semaphore,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").finish_non_exhaustive()
    }
}

impl Default for Auth {
    fn default() -> Self {
        Auth::new(AuthTable::open())
    }
}

impl Auth {
    /// Live state starting with `table`.
    pub fn new(table: AuthTable) -> Auth {
        Auth {
            table: ArcSwap::from_pointee(table),
            generation: watch::channel(0).0,
            tracker: limits::Tracker::default(),
            counters: metrics::AuthCounters::default(),
            hashing: tokio::sync::Semaphore::new(MAX_HASHING),
        }
    }

    /// The table in force.
    pub fn table(&self) -> Arc<AuthTable> {
        self.table.load_full()
    }

    /// Puts `table` in force and tells every connection to re-check.
    pub fn replace(&self, table: AuthTable) {
        self.table.store(Arc::new(table));
        self.generation.send_modify(|g| *g += 1);
    }

    /// A receiver that changes on every [`Self::replace`].
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }
}
