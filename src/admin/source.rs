//! What the admin listener needs from the broker, as a trait: a stats
//! snapshot, the running totals for `/metrics`, and whether new clients
//! are accepted. The broker implements
//! it; tests can hand the admin listener a fixed snapshot instead.

use crate::stats::{StatsSnapshot, Totals};

/// A source of broker statistics for `/metrics`, `/readyz` and `/v1/stats`.
pub trait StatsSource: Send + Sync + 'static {
    /// A point-in-time picture of the broker. May walk every topic and
    /// connection, so the admin listener calls it off the async workers.
    fn stats(&self) -> StatsSnapshot;

    /// The server-wide figures `/metrics` exports. Cheaper than
    /// [`StatsSource::stats`] for the broker (no topic is locked); by
    /// default derived from a snapshot.
    fn totals(&self) -> Totals {
        Totals::from(&self.stats())
    }

    /// Whether the server accepts new clients (false while shutting down).
    fn is_accepting(&self) -> bool;

    /// Whether a request with this bearer token may read `/v1/stats`
    /// (`metrics` false) or `/metrics` (`metrics` true). By default
    /// everything is open.
    fn admin_allows(&self, bearer: Option<&str>, metrics: bool) -> bool {
        let _ = (bearer, metrics);
        true
    }
}

impl StatsSource for crate::broker::Broker {
    fn stats(&self) -> StatsSnapshot {
        crate::broker::Broker::stats(self)
    }

    fn totals(&self) -> Totals {
        crate::broker::Broker::totals(self)
    }

    fn is_accepting(&self) -> bool {
        crate::broker::Broker::is_accepting(self)
    }

    fn admin_allows(&self, bearer: Option<&str>, metrics: bool) -> bool {
        let t = self.auth.table();
        if metrics && !t.admin_token_metrics {
            return true;
        }
        t.admin_allows(bearer)
    }
}
